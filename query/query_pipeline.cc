#include "query/query_pipeline.h"

#include <algorithm>
#include <set>

#include "common/analysis/normalizer.h"
#include "common/utf8.h"

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

void AppendTextTerms(const analysis::Analyzer& analyzer, std::string_view text, std::vector<std::string>* out) {
  std::vector<std::string> terms = analyzer.Terms(text);
  out->insert(out->end(), std::make_move_iterator(terms.begin()), std::make_move_iterator(terms.end()));
}

// What the pieces of an identifier or camelCase query word weigh together, as a share of the
// word's weight (the whole form weighs all of it). Chosen on the judged help set's tune half
// among five settings (decisions/0012's addendum).
constexpr float kPiecesShare = 0.25f;

// One word with the spelling rules applied (QueryRules::SpellingFix says where each matches),
// scanning left to right; a replacement is not scanned again.
std::string CorrectWord(const std::string& word, const std::vector<QueryRules::SpellingFix>& fixes) {
  using Where = QueryRules::SpellingFix::Where;
  for (const QueryRules::SpellingFix& f : fixes) {
    if (f.where == Where::kWholeWord && f.wrong == word) return f.right;
  }
  std::string out;
  std::size_t i = 0;
  while (i < word.size()) {
    const QueryRules::SpellingFix* hit = nullptr;
    for (const QueryRules::SpellingFix& f : fixes) {
      const bool here = f.where == Where::kAnywhere || (f.where == Where::kWordStart && i == 0);
      if (here && word.compare(i, f.wrong.size(), f.wrong) == 0) {
        hit = &f;
        break;  // longest first
      }
    }
    if (hit != nullptr) {
      out += hit->right;
      i += hit->wrong.size();
      continue;
    }
    const std::size_t next = utf8::Forward(word, i, 1);
    out.append(word, i, next - i);
    i = next;
  }
  return out;
}

// The normalised query with every word corrected; `corrections` hears each word changed.
std::string CorrectSpelling(const std::string& normalized, const std::vector<analysis::Word>& words,
                            const std::vector<QueryRules::SpellingFix>& fixes,
                            std::vector<AnalyzedQuery::Correction>* corrections) {
  std::string out;
  std::size_t copied = 0;
  for (const analysis::Word& w : words) {
    std::string fixed = CorrectWord(w.text, fixes);
    if (fixed == w.text) continue;
    out.append(normalized, copied, w.begin - copied);
    out += fixed;
    copied = w.end;
    corrections->push_back({w.text, std::move(fixed)});
  }
  out.append(normalized, copied, std::string::npos);
  return out;
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
  // Tokens: an identifier ("iso-9001", "snake_case") is one query word.
  std::vector<analysis::Word> words = analyzer.Tokens(q.normalized);
  if (!rules.spelling.empty()) {
    q.normalized = CorrectSpelling(q.normalized, words, rules.spelling, &q.corrections);
    if (!q.corrections.empty()) words = analyzer.Tokens(q.normalized);
  }
  const analysis::CaseSplits case_splits = analysis::CaseSplits::Of(text);
  q.language = DetectLanguage(analyzer.Words(q.normalized));
  q.intent = rules.Classify(q.normalized, words.size());

  std::size_t kept = 0;
  for (analysis::Word& w : words) {
    AnalyzedQuery::QueryWord qw;
    qw.key = std::string(w.script == analysis::Script::kHangul ? analyzer.StripParticle(w.text)
                                                               : std::string_view(w.text));
    qw.stopword = rules.stopwords.contains(qw.key) || rules.stopwords.contains(w.text);
    qw.script = w.script;
    qw.pieces = w.pieces;
    qw.text = std::move(w.text);
    kept += qw.stopword ? 0 : 1;
    q.words.push_back(std::move(qw));
  }
  // A query of nothing but stopwords ("어떻게 하나요") still means something: keep them all.
  const bool keep_stopwords = kept == 0;
  // Each kept word's share of q.terms, for the weights below.
  std::vector<std::pair<const AnalyzedQuery::QueryWord*, std::size_t>> word_terms;
  for (const AnalyzedQuery::QueryWord& w : q.words) {
    if (w.stopword && !keep_stopwords) continue;
    const std::size_t before = q.terms.size();
    analyzer.AppendTerms(analysis::Word{w.text, w.script, 0, 0, w.pieces}, case_splits, &q.terms);
    word_terms.emplace_back(&w, q.terms.size() - before);
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
  // The query's own terms weigh 1 each (repeats count), except that every word weighs alike
  // whatever its script: a Hangul word gives its stem and n-grams (about six terms for three
  // syllables), a Latin word, a number or a code one term, which beside them would count for a
  // sixth of a word ("LibreLogo 거북이 그래픽", "JDBC 드라이버"). Such a word weighs the mean
  // number of terms of the query's Hangul words (at least 1): all of it on its one term, or, for
  // an identifier or a camelCase word, on its whole form, its pieces adding kPiecesShare of it
  // (docs/decisions/0012).
  q.own_terms = q.terms.size();
  q.term_weights.assign(q.terms.size(), 1.0f);
  {
    std::size_t hangul_words = 0, hangul_terms = 0;
    for (const auto& [w, n] : word_terms) {
      if (w->script == analysis::Script::kHangul) {
        ++hangul_words;
        hangul_terms += n;
      }
    }
    const float word_weight =
        hangul_words == 0 ? 1.0f : std::max(1.0f, static_cast<float>(hangul_terms) / static_cast<float>(hangul_words));
    std::size_t at = 0;
    for (const auto& [w, n] : word_terms) {
      const std::size_t begin = at;
      at += n;
      if (w->script == analysis::Script::kHangul || n == 0) continue;  // 1 each
      const auto weights = q.term_weights.begin() + static_cast<std::ptrdiff_t>(begin);
      const auto terms = q.terms.begin() + static_cast<std::ptrdiff_t>(begin);
      const auto whole = std::find(terms, terms + static_cast<std::ptrdiff_t>(n), w->text);
      if (n > 1 && whole != terms + static_cast<std::ptrdiff_t>(n)) {
        // An identifier or a camelCase word: the form as written is the word; its pieces,
        // there to match other spellings (ISO 9001, get_user_name), share kPiecesShare of it.
        std::fill_n(weights, n, kPiecesShare * word_weight / static_cast<float>(n - 1));
        weights[whole - terms] = word_weight;
      } else {
        std::fill_n(weights, n, std::max(1.0f, word_weight / static_cast<float>(n)));
      }
    }
  }
  const std::set<std::string> own(q.terms.begin(), q.terms.end());
  std::set<std::string> added;
  for (const std::string& s : q.synonyms) {
    std::vector<std::string> terms;
    AppendTextTerms(analyzer, s, &terms);
    for (std::string& t : terms) {
      if (own.contains(t) || !added.insert(t).second) continue;
      q.terms.push_back(std::move(t));
      q.term_weights.push_back(rules.synonym_weight);
    }
  }
  return q;
}

}  // namespace tide::query
