#pragma once

// Typo tolerance for keyword search (issue 13): a query word that no chunk in the request's
// scope has is matched to the most frequent word of the scope one edit away, whose terms then
// join the BM25 query at a lower weight than the query's own (rules.typo_weight).
//
// "One edit" is a bounded, script-aware distance:
//   * Latin words of 4 to 20 letters: one deletion, insertion, substitution (a-z) or
//     transposition of adjacent letters (Damerau-Levenshtein 1), as Elasticsearch's
//     `fuzziness` allows for words of that length;
//   * Hangul stems of 2 to 8 syllables: one jamo of one syllable replaced (initial, vowel or
//     final consonant: 피봇 -> 피벗, 셀렉 -> 셀럭), two adjacent syllables swapped, or one
//     syllable dropped from a stem of 3 or more.
// An identifier ("redcanery77", "vlookp_2") is tried by its Latin pieces. Shorter or longer
// words, digits and other scripts are never matched this way, and at most
// kMaxTypoWords unknown words of a query are (a word of n letters has about 54n neighbours, and
// each is looked up). Statistics come from the request's scope only, so which word a typo
// becomes says nothing about other containers.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/analysis/analyzer.h"
#include "query/query_pipeline.h"
#include "query/query_rules.h"

namespace tide::query {

// Every distinct word one edit (above) from `word`, `word` itself excluded; empty for words
// the rules above do not match.
std::vector<std::string> OneEditVariants(std::string_view word, analysis::Script script);

inline constexpr std::size_t kMaxTypoWords = 3;

// What the request's scope holds, asked in batches of terms.
struct ScopeVocabulary {
  // Whether any chunk of the scope has each term (cheap: asked for every kept word).
  std::function<std::vector<bool>(const std::vector<std::string>& terms)> has;
  // How many chunks of the scope have each term (asked for the neighbours of unknown words).
  std::function<std::vector<std::size_t>(const std::vector<std::string>& terms)> count;
};

// Adds to `q` (q.fuzzy, q.terms, q.term_weights, q.highlight) the typo matches of its kept
// words that the scope does not have: each such word's best variant (most chunks, then the
// first generated), its analyzer terms that the query does not already have, each weighing
// rules.typo_weight times what the written word's terms weigh. A word the scope has, or with
// no variant the scope has, is left alone.
void AddTypoMatches(const QueryRules& rules, const analysis::Analyzer& analyzer, const ScopeVocabulary& scope,
                    AnalyzedQuery* q);

}  // namespace tide::query
