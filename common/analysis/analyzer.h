#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tide::analysis {

// The writing system of a word. Scripts the engine treats specially get their own value;
// everything else (Cyrillic, Greek, kana, Thai, ...) is kOther.
enum class Script { kHangul, kLatin, kDigit, kHan, kOther };

// One word of normalized text. `begin`/`end` are byte offsets into that text, so
// `text == normalized.substr(begin, end - begin)`.
struct Word {
  std::string text;
  Script script;
  std::uint32_t begin;
  std::uint32_t end;
  // Analyzer::Tokens() only: how many words of Words() this token joins; 2 or more for an
  // identifier ("iso-9001", "snake_case", "v1.2").
  std::uint32_t pieces = 1;
};

// The camelCase words of RAW text, since Normalize() folds the case they are split by:
// "getUserName" -> "getusername" = "get" + "user" + "name", "XMLHttpRequest" -> "xml" + "http" +
// "request", "LibreOffice" -> "libre" + "office". A word is a maximal run of ASCII letters (at
// most kMaxWordLetters) with at least one boundary: lower case then upper case, or an upper case
// letter that starts a lower-case run after another upper case one. Words without one ("excel",
// "EXCEL", "Excel") have no entry.
class CaseSplits {
 public:
  static constexpr std::size_t kMaxWordLetters = 64;

  static CaseSplits Of(std::string_view raw);

  // The parts of a lower-cased word, or nullptr when the raw text had no camelCase word that
  // lower-cases to it.
  const std::vector<std::string>* Find(std::string_view lower_word) const;

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> splits_;
};

// Turns text into index/query terms. There is exactly one analyzer configuration per index:
// the same Options must be used when documents are indexed and when queries are analyzed,
// otherwise terms do not line up.
//
// Term scheme (Terms()):
//   * Latin, digit and other-script words: the word itself ("excel", "2024", "привет").
//     No stemming: simple and predictable.
//   * Hangul word w: its stem StripParticle(w) (only the stem, not also w), plus, when
//     `hangul_bigrams`, the code-point unigrams and then the code-point bigrams of the *full*
//     word w, each prefixed with '#': "서울에서" -> "서울", "#서", "#울", "#에", "#서", "#서울",
//     "#울에", "#에서". A one-syllable word w yields w and "#w". The n-grams make spacing
//     variants, unknown particles, conjugated predicates and small typos still match
//     ("평양식왕만두" and "평양식 왕만두" share "#평양", "#양식", "#왕만", "#만두"; 깨끗합니다
//     and 깨끗한 share "#깨", "#끗", "#깨끗"). The unigrams are what carries a paraphrase whose
//     words share single syllables only (머물렀습니다 / 머무는); BM25's IDF keeps the common ones
//     (#다, #니) cheap. Bigrams cross into particles and endings on purpose: measured on
//     klue-nli-retrieval, bigrams of the stem only scored lower (tests/bench/klue_reading.md).
//     '#' cannot occur inside a word, so n-gram terms never collide with word terms, and "#x"
//     (one code point) never collides with "#xy" (two).
//   * Han word: each character is a term (no dictionary segmentation).
//   * Identifier (Tokens()): Latin and digit words joined by nothing ("iso9001", "v2") or by
//     one to three of - _ . / : @ \ with no space ("iso-9001", "snake_case", "v1.2",
//     "report_2024-final.xlsx", "https://a.b/c"): each piece's terms, then the whole form
//     ("iso", "9001", "iso-9001"), so the exact form ranks first and every part still matches.
//     The whole form contains a connector or a letter-digit change, so it never collides with
//     a word term.
//   * camelCase words (CaseSplits): the word, then its parts ("getusername", "get", "user",
//     "name"), whether alone or a piece of an identifier.
//   Order is order of appearance; duplicates are kept so callers can count term frequency.
//
// Thread-safe: all methods are const and the object holds no mutable state.
class Analyzer {
 public:
  // Bump whenever Terms() changes for any input (the scheme above, StripParticle's endings,
  // Words()). Index snapshots record SchemeId(); one written under another scheme is not
  // loaded, so the index is rebuilt from the store instead of mixing term schemes.
  //   1: stems + '#' bigrams of the full word.
  //   2: stems + '#' unigrams and bigrams of the full word.
  //   3: identifiers' whole forms and camelCase parts.
  static constexpr int kTermSchemeVersion = 3;

  // Bounds on an identifier: longer runs of pieces are cut into several identifiers.
  static constexpr std::uint32_t kMaxIdentifierPieces = 16;
  static constexpr std::size_t kMaxIdentifierBytes = 128;

  struct Options {
    bool hangul_bigrams = true;   // emit "#x" unigrams and "#xy" bigrams for Hangul words
    bool strip_particles = true;  // emit StripParticle(w) instead of w for Hangul words
  };

  Analyzer();
  explicit Analyzer(Options options);

  const Options& options() const { return options_; }
  // Identifies the term scheme: kTermSchemeVersion and the Options ("tide-terms-v2+ngrams+stems").
  std::string SchemeId() const;

  // Splits NORMALIZED text (see Normalize()) into words: maximal runs of letters, digits and
  // combining marks, split again wherever the Script changes ("excel파일" -> "excel", "파일";
  // "2024년" -> "2024", "년"). Everything else separates words. Invalid UTF-8 separates too.
  // REQUIRES: normalized.size() < 4 GiB.
  std::vector<Word> Words(std::string_view normalized) const;

  // Words() with identifiers joined: a run of Latin and digit words, each next to the last or
  // separated from it by 1-3 connector characters (- _ . / : @ \), becomes one token with
  // script kLatin (kDigit if it has no letters) and `pieces` the number of words joined. At
  // most kMaxIdentifierPieces words and kMaxIdentifierBytes bytes make one token. A connector at
  // either end is not part of the token ("v1.2." -> "v1.2"). Every other word is a token as is.
  std::vector<Word> Tokens(std::string_view normalized) const;

  // Index/query terms for RAW text: normalizes, splits into Tokens and applies the scheme above.
  std::vector<std::string> Terms(std::string_view text) const;

  // The terms of one token of Tokens(), appended to `out`; `case_splits` comes from the raw text
  // the token was normalized from. Terms(text) is this for each token of Normalize(text).
  void AppendTerms(const Word& token, const CaseSplits& case_splits, std::vector<std::string>* out) const;

  // Strips trailing Korean particles and noun-attached 하다/되다 endings from a Hangul word and
  // returns the remaining prefix of `hangul_word`: 서울은/서울에서/서울의/서울로/서울이다 -> 서울,
  // 설정하는/설정했습니다 -> 설정, 사람들에게 -> 사람. Up to three endings are stripped
  // (사람들에게는). Never returns fewer than one syllable ("은" stays "은"). Ambiguous
  // endings are guarded (see analyzer.cc): 이/가, 은/는, 을/를, 과/와, 으로/로 only strip after
  // the matching final consonant (so 사과, 마을, 나이 stay whole), 의/도/만/한/할 need a
  // two-syllable stem (회의, 정도, 제한, 역할 stay whole), and a short list of common nouns
  // (고양이, 결과, 추가, ...) is never cut. Applies regardless of Options::strip_particles.
  std::string_view StripParticle(std::string_view hangul_word) const;

 private:
  Options options_;
};

}  // namespace tide::analysis
