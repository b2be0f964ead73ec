#include "query/query_pipeline.h"

#include <algorithm>
#include <set>

#include "common/analysis/normalizer.h"

namespace tide::query {
namespace {

Language DetectLanguage(const std::vector<analysis::Word>& words) {
  std::size_t hangul = 0, latin = 0;
  for (const analysis::Word& w : words) {
    // Count characters, not words: one long English word in a Korean sentence is still mixed.
    std::size_t chars = 0;
    for (char c : w.text) chars += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
    if (w.script == analysis::Script::kHangul) hangul += chars;
    if (w.script == analysis::Script::kLatin) latin += chars;
  }
  if (hangul + latin == 0) return Language::kNone;
  const double ko = static_cast<double>(hangul) / static_cast<double>(hangul + latin);
  if (ko >= 0.8) return Language::kKorean;
  if (ko <= 0.2) return Language::kEnglish;
  return Language::kMixed;
}

void AppendTerms(const analysis::Analyzer& analyzer, std::string_view text, std::vector<std::string>* out) {
  std::vector<std::string> terms = analyzer.Terms(text);
  out->insert(out->end(), std::make_move_iterator(terms.begin()), std::make_move_iterator(terms.end()));
}

}  // namespace

const char* LanguageName(Language language) {
  switch (language) {
    case Language::kKorean: return "ko";
    case Language::kEnglish: return "en";
    case Language::kMixed: return "mixed";
    case Language::kNone: return "none";
  }
  return "none";
}

AnalyzedQuery AnalyzeQuery(std::string_view text, const QueryRules& rules, const analysis::Analyzer& analyzer) {
  AnalyzedQuery q;
  q.normalized = analysis::Normalize(text);
  std::vector<analysis::Word> words = analyzer.Words(q.normalized);
  q.language = DetectLanguage(words);
  q.intent = rules.Classify(q.normalized, words.size());

  std::size_t kept = 0;
  for (analysis::Word& w : words) {
    AnalyzedQuery::QueryWord qw;
    qw.key = std::string(w.script == analysis::Script::kHangul ? analyzer.StripParticle(w.text)
                                                               : std::string_view(w.text));
    qw.stopword = rules.stopwords.contains(qw.key) || rules.stopwords.contains(w.text);
    qw.script = w.script;
    qw.text = std::move(w.text);
    kept += qw.stopword ? 0 : 1;
    q.words.push_back(std::move(qw));
  }
  // A query of nothing but stopwords ("어떻게 하나요") still means something: keep them all.
  const bool keep_stopwords = kept == 0;
  for (const AnalyzedQuery::QueryWord& w : q.words) {
    if (w.stopword && !keep_stopwords) continue;
    AppendTerms(analyzer, w.text, &q.terms);
    if (!q.embedding_text.empty()) q.embedding_text += ' ';
    q.embedding_text += w.text;
    q.highlight.push_back(w.key);
    auto syn = rules.synonyms.find(w.key);
    if (syn == rules.synonyms.end()) continue;
    for (const std::string& s : syn->second) {
      if (std::find(q.synonyms.begin(), q.synonyms.end(), s) != q.synonyms.end()) continue;
      // Synonyms widen the keyword queries only: the vector query stays what the user
      // wrote, so a loose synonym cannot pull the whole query toward another topic.
      q.synonyms.push_back(s);
      q.highlight.push_back(s);
    }
  }
  // The query's own terms weigh 1 each (repeats count); a synonym's terms weigh less, once
  // each, and not at all where the query has the term itself (서식 -> format must not outvote 서식).
  q.term_weights.assign(q.terms.size(), 1.0f);
  const std::set<std::string> own(q.terms.begin(), q.terms.end());
  std::set<std::string> added;
  for (const std::string& s : q.synonyms) {
    std::vector<std::string> terms;
    AppendTerms(analyzer, s, &terms);
    for (std::string& t : terms) {
      if (own.contains(t) || !added.insert(t).second) continue;
      q.terms.push_back(std::move(t));
      q.term_weights.push_back(rules.synonym_weight);
    }
  }
  return q;
}

}  // namespace tide::query
