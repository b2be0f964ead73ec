#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/analysis/analyzer.h"
#include "query/intent.h"
#include "query/query_rules.h"

namespace tide::query {

enum class Language { kKorean, kEnglish, kMixed, kNone };
const char* LanguageName(Language language);

// One query, analysed once for every retriever: the single pipeline behind /v1/search,
// /v1/analyze and the RAG context.
struct AnalyzedQuery {
  struct QueryWord {
    std::string text;  // as it appears in the normalised query
    std::string key;   // particle-stripped (Hangul) form used for stopwords and synonyms
    analysis::Script script;
    std::uint32_t pieces = 1;  // 2 or more for an identifier (analysis::Analyzer::Tokens)
    bool stopword = false;
  };
  std::string normalized;               // NFKC, case-folded, emoji/control removed, spaces
                                        // collapsed, spelling corrected
  struct Correction {
    std::string from;  // a word as written (normalised)
    std::string to;    // what the spelling rules made of it
  };
  std::vector<Correction> corrections;  // words the spelling rules changed, in query order
  Language language = Language::kNone;
  IntentGuess intent;
  std::vector<QueryWord> words;
  std::vector<std::string> synonyms;    // keys added by synonym expansion
  std::vector<Correction> fuzzy;        // typo matches a search made in its scope
                                        // (query/typo_matching.h): word -> the scope's word
  std::vector<std::string> terms;       // keyword and full-text query terms (analyzer terms of
                                        // the kept words, then of their synonyms, then of typo
                                        // matches)
  std::size_t own_terms = 0;            // the first own_terms entries of `terms` are the kept
                                        // words' own
  std::vector<float> term_weights;      // one per entry of `terms`: 1 for the query's own terms,
                                        // rules.synonym_weight for a synonym's (each distinct
                                        // term once, and none the query has itself)
  std::string embedding_text;           // what the vector retriever embeds: the kept words
  std::vector<std::string> highlight;   // words to mark in snippets
};

// Normalise -> correct spelling -> detect language -> classify intent -> split into words -> drop stopwords (all
// of them only if nothing else is left) -> expand synonyms -> terms with the shared analyzer.
AnalyzedQuery AnalyzeQuery(std::string_view text, const QueryRules& rules, const analysis::Analyzer& analyzer);

}  // namespace tide::query
