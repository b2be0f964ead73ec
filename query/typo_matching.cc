#include "query/typo_matching.h"

#include <algorithm>
#include <cstdint>
#include <set>

#include "common/utf8.h"  // ICU's U8_ macros

namespace tide::query {
namespace {

constexpr char32_t kFirstSyllable = 0xAC00;  // 가
constexpr char32_t kLastSyllable = 0xD7A3;   // 힣
constexpr int kInitials = 19, kVowels = 21, kFinals = 28;
constexpr std::size_t kMinLatin = 4, kMaxLatin = 20, kMinHangulSyllables = 2, kMaxHangulSyllables = 8;

// Code points of a word the analyzer produced (valid UTF-8 by construction), and back.
std::u32string Decode(std::string_view s) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto length = static_cast<std::int32_t>(s.size());
  std::u32string out;
  for (std::int32_t i = 0; i < length;) {
    UChar32 c;
    U8_NEXT(bytes, i, length, c);
    out.push_back(static_cast<char32_t>(c));
  }
  return out;
}

std::string Encode(const std::u32string& s) {
  std::string out(s.size() * U8_MAX_LENGTH, '\0');
  auto* bytes = reinterpret_cast<std::uint8_t*>(out.data());
  std::size_t at = 0;
  for (char32_t c : s) U8_APPEND_UNSAFE(bytes, at, static_cast<UChar32>(c));
  out.resize(at);
  return out;
}

bool IsSyllable(char32_t c) { return c >= kFirstSyllable && c <= kLastSyllable; }

void LatinVariants(const std::string& w, std::vector<std::string>* out) {
  // Letters only: Matchable() turns away identifiers (digits, connectors) and other scripts.
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz";
  for (std::size_t i = 0; i < w.size(); ++i) {
    out->push_back(w.substr(0, i) + w.substr(i + 1));                                  // deletion
    if (i + 1 < w.size()) out->push_back(w.substr(0, i) + w[i + 1] + w[i] + w.substr(i + 2));  // swap
    for (char c : kAlphabet) {
      if (c != w[i]) out->push_back(w.substr(0, i) + c + w.substr(i + 1));             // substitution
    }
  }
  for (std::size_t i = 0; i <= w.size(); ++i) {
    for (char c : kAlphabet) out->push_back(w.substr(0, i) + c + w.substr(i));        // insertion
  }
}

void HangulVariants(const std::u32string& w, std::vector<std::string>* out) {
  for (std::size_t i = 0; i < w.size(); ++i) {
    const char32_t offset = w[i] - kFirstSyllable;
    const int initial = static_cast<int>(offset / (kVowels * kFinals));
    const int vowel = static_cast<int>(offset / kFinals % kVowels);
    const int final = static_cast<int>(offset % kFinals);
    auto with = [&](int l, int v, int t) {
      std::u32string s = w;
      s[i] = kFirstSyllable + static_cast<char32_t>((l * kVowels + v) * kFinals + t);
      out->push_back(Encode(s));
    };
    for (int l = 0; l < kInitials; ++l) if (l != initial) with(l, vowel, final);
    for (int v = 0; v < kVowels; ++v) if (v != vowel) with(initial, v, final);
    for (int t = 0; t < kFinals; ++t) if (t != final) with(initial, vowel, t);
    if (i + 1 < w.size() && w[i] != w[i + 1]) {
      std::u32string s = w;
      std::swap(s[i], s[i + 1]);
      out->push_back(Encode(s));
    }
    if (w.size() >= kMinHangulSyllables + 1) out->push_back(Encode(w.substr(0, i) + w.substr(i + 1)));
  }
}

// Whether the rules of the header match `word` at all (script, letters, length).
bool Matchable(std::string_view word, analysis::Script script) {
  if (script == analysis::Script::kLatin) {
    return word.size() >= kMinLatin && word.size() <= kMaxLatin &&
           std::all_of(word.begin(), word.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  }
  if (script != analysis::Script::kHangul || word.size() > 3 * kMaxHangulSyllables) return false;
  const std::u32string w = Decode(word);
  return w.size() >= kMinHangulSyllables && std::all_of(w.begin(), w.end(), IsSyllable);
}

}  // namespace

std::vector<std::string> OneEditVariants(std::string_view word, analysis::Script script) {
  if (!Matchable(word, script)) return {};
  std::vector<std::string> raw;
  if (script == analysis::Script::kLatin) {
    LatinVariants(std::string(word), &raw);
  } else {
    HangulVariants(Decode(word), &raw);
  }
  // Distinct, in the order generated, without the word itself.
  std::vector<std::string> out;
  std::set<std::string> seen{std::string(word)};
  for (std::string& v : raw) {
    if (seen.insert(v).second) out.push_back(std::move(v));
  }
  return out;
}

void AddTypoMatches(const QueryRules& rules, const analysis::Analyzer& analyzer, const ScopeVocabulary& scope,
                    AnalyzedQuery* q) {
  // The kept words the rules could match, each asked about once.
  std::vector<std::string> keys;
  std::vector<analysis::Script> scripts;
  {
    const bool keep_stopwords = std::all_of(q->words.begin(), q->words.end(), [](const auto& w) { return w.stopword; });
    std::set<std::string> asked;
    auto consider = [&](const std::string& key, analysis::Script script) {
      if (!asked.insert(key).second || !Matchable(key, script)) return;
      keys.push_back(key);
      scripts.push_back(script);
    };
    for (const AnalyzedQuery::QueryWord& w : q->words) {
      if (w.stopword && !keep_stopwords) continue;
      if (w.pieces <= 1) {
        consider(w.key, w.script);
        continue;
      }
      // An identifier ("redcanery77", "vlookp_2") is tried by its pieces: they are its terms.
      for (const analysis::Word& piece : analyzer.Words(w.text)) consider(piece.text, piece.script);
    }
  }
  if (keys.empty()) return;
  const std::vector<bool> known = scope.has(keys);
  std::set<std::string> have(q->terms.begin(), q->terms.end());
  std::size_t tried = 0;
  for (std::size_t k = 0; k < keys.size() && tried < kMaxTypoWords; ++k) {
    if (known.at(k)) continue;
    const std::string& key = keys[k];
    const std::vector<std::string> variants = OneEditVariants(key, scripts[k]);
    if (variants.empty()) continue;
    ++tried;
    const std::vector<std::size_t> counts = scope.count(variants);
    std::size_t best = variants.size();
    for (std::size_t i = 0; i < variants.size(); ++i) {
      if (counts.at(i) > 0 && (best == variants.size() || counts[i] > counts[best])) best = i;
    }
    if (best == variants.size()) continue;
    // What the written word's own terms weigh (a Latin word beside Hangul ones weighs more).
    float written = 1.0f;
    for (std::size_t i = 0; i < q->own_terms && i < q->terms.size(); ++i) {
      if (q->terms[i] == key) {
        written = q->term_weights[i];
        break;
      }
    }
    q->fuzzy.push_back({key, variants[best]});
    q->highlight.push_back(variants[best]);
    for (std::string& t : analyzer.Terms(variants[best])) {
      if (!have.insert(t).second) continue;
      q->terms.push_back(std::move(t));
      q->term_weights.push_back(rules.typo_weight * written);
    }
  }
}

}  // namespace tide::query
