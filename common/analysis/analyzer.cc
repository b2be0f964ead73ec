#include "common/analysis/analyzer.h"

#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include <array>
#include <cassert>
#include <cstdint>
#include <limits>
#include <utility>

#include "common/analysis/normalizer.h"

namespace tide::analysis {
namespace {

constexpr std::size_t kMaxTextBytes = std::numeric_limits<std::int32_t>::max();

// ---- Code points ------------------------------------------------------------------------

// One view per code point; an ill-formed sequence stays one unit, so a multi-byte character
// is never split.
std::vector<std::string_view> CodePoints(std::string_view text) {
  std::vector<std::string_view> out;
  const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
  const auto length = static_cast<std::int32_t>(text.size());
  std::int32_t i = 0;
  while (i < length) {
    const std::int32_t start = i;
    U8_FWD_1(s, i, length);
    out.push_back(text.substr(start, i - start));
  }
  return out;
}

int CountCodePoints(std::string_view text) {
  const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
  const auto length = static_cast<std::int32_t>(text.size());
  int count = 0;
  for (std::int32_t i = 0; i < length; ++count) U8_FWD_1(s, i, length);
  return count;
}

// REQUIRES: !text.empty().
UChar32 LastCodePoint(std::string_view text) {
  const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
  auto i = static_cast<std::int32_t>(text.size());
  UChar32 c;
  U8_PREV(s, 0, i, c);
  return c;
}

// ---- Word splitting -----------------------------------------------------------------------

enum class CharClass { kSeparator, kMark, kWord };

// A combining mark (accent, vowel sign) extends the word it follows; it never starts one.
CharClass ClassifyThroughIcu(UChar32 c, Script* script) {
  if (c < 0) return CharClass::kSeparator;  // ill-formed UTF-8
  if (u_isdigit(c)) {
    *script = Script::kDigit;
    return CharClass::kWord;
  }
  const bool is_mark = (U_GET_GC_MASK(c) & U_GC_M_MASK) != 0;
  if (!is_mark && !u_hasBinaryProperty(c, UCHAR_ALPHABETIC)) return CharClass::kSeparator;
  UErrorCode status = U_ZERO_ERROR;
  switch (uscript_getScript(c, &status)) {
    case USCRIPT_HANGUL:
      *script = Script::kHangul;
      return CharClass::kWord;
    case USCRIPT_LATIN:
      *script = Script::kLatin;
      return CharClass::kWord;
    case USCRIPT_HAN:
      *script = Script::kHan;
      return CharClass::kWord;
    case USCRIPT_INHERITED:
      return CharClass::kMark;
    default:
      if (is_mark) return CharClass::kMark;
      *script = Script::kOther;
      return CharClass::kWord;
  }
}

// Classify() of ASCII and the precomposed Hangul syllables (most of what is indexed) looked up
// instead of asked of ICU each time. The answers are ICU's, taken once per process, so they
// are the same.
CharClass Classify(UChar32 c, Script* script) {
  struct Class {
    CharClass char_class = CharClass::kSeparator;
    Script script = Script::kOther;
  };
  static const std::array<Class, 0x80> kAscii = [] {
    std::array<Class, 0x80> table;
    for (UChar32 a = 0; a < 0x80; ++a) table[a].char_class = ClassifyThroughIcu(a, &table[a].script);
    return table;
  }();
  static const bool kSyllablesAreHangulWords = [] {
    for (UChar32 h = 0xAC00; h <= 0xD7A3; ++h) {
      Script syllable = Script::kOther;
      if (ClassifyThroughIcu(h, &syllable) != CharClass::kWord || syllable != Script::kHangul) return false;
    }
    return true;
  }();
  if (c >= 0 && c < 0x80) {
    if (kAscii[c].char_class == CharClass::kWord) *script = kAscii[c].script;
    return kAscii[c].char_class;
  }
  if (c >= 0xAC00 && c <= 0xD7A3 && kSyllablesAreHangulWords) {
    *script = Script::kHangul;
    return CharClass::kWord;
  }
  return ClassifyThroughIcu(c, script);
}

// ---- Korean endings ---------------------------------------------------------------------

// Which final consonant (받침) the syllable before an ending must have. Korean particles come
// in pairs chosen by that consonant (책은/나는, 책이/나가, 책을/나를, 책과/나와, 책으로/나로,
// 서울로), so the "wrong" member of a pair at the end of a word is almost always part of the
// noun itself: 사과 (no 받침 before 과), 마을 and 가을 (none before 을), 나이, 경로, 국가.
enum class Attach {
  kAny,
  kAfterConsonant,     // previous syllable has a final consonant
  kAfterVowel,         // previous syllable has none
  kAfterVowelOrRieul,  // none, or ㄹ (서울로)
};

struct Ending {
  std::string_view text;
  Attach attach;
  int min_stem;  // syllables that must remain
};

constexpr Attach kC = Attach::kAfterConsonant;
constexpr Attach kV = Attach::kAfterVowel;
constexpr Attach kVL = Attach::kAfterVowelOrRieul;
constexpr Attach kAny = Attach::kAny;

// Longest match wins; an ending that fails its guard yields to a shorter one. Combinations
// (에서+는, 들+에게) need no entries of their own: StripParticle strips up to kMaxRounds times.
constexpr std::array kEndings = {
    // Topic, subject, object, comitative, instrumental and quoting particles: allomorph pairs.
    Ending{"은", kC, 1},
    Ending{"는", kV, 1},
    Ending{"이", kC, 1},
    Ending{"가", kV, 1},
    Ending{"을", kC, 1},
    Ending{"를", kV, 1},
    Ending{"과", kC, 1},
    Ending{"와", kV, 1},
    Ending{"으로", kC, 1},
    Ending{"로", kVL, 1},
    Ending{"으로서", kC, 1},
    Ending{"로서", kVL, 1},
    Ending{"으로써", kC, 1},
    Ending{"로써", kVL, 1},
    Ending{"이나", kC, 1},
    Ending{"이며", kC, 1},
    Ending{"이랑", kC, 1},
    Ending{"이라고", kC, 1},
    Ending{"라고", kV, 1},
    Ending{"이라는", kC, 1},
    Ending{"라는", kV, 1},
    // Copula 이다 after a noun. The bare vowel-final forms (학교다, 학교고) are left alone:
    // "다" and "고" end too many nouns (바다, 사고).
    Ending{"이다", kAny, 1},
    Ending{"입니다", kAny, 1},
    Ending{"이고", kC, 1},
    Ending{"이면", kC, 1},
    Ending{"이에요", kC, 1},
    Ending{"예요", kV, 1},
    Ending{"이었다", kC, 1},
    Ending{"였다", kV, 1},
    Ending{"이었습니다", kC, 1},
    Ending{"였습니다", kV, 1},
    // Particles without an allomorph. One-syllable ones that also end many Sino-Korean
    // nouns (회의, 정도, 불만, 함께) need a two-syllable stem; that costs 책의/물도, which
    // still match through the bigram terms.
    Ending{"의", kAny, 2},
    Ending{"도", kAny, 2},
    Ending{"만", kAny, 2},
    Ending{"께", kAny, 2},
    Ending{"뿐", kAny, 2},
    Ending{"에", kAny, 1},
    Ending{"에서", kAny, 1},
    Ending{"에게", kAny, 1},
    Ending{"에게서", kAny, 1},
    Ending{"께서", kAny, 1},
    Ending{"한테", kAny, 1},
    Ending{"한테서", kAny, 1},
    Ending{"까지", kAny, 1},
    Ending{"부터", kAny, 1},
    Ending{"보다", kAny, 1},
    Ending{"처럼", kAny, 1},
    Ending{"마다", kAny, 1},
    Ending{"조차", kAny, 1},
    Ending{"마저", kAny, 1},
    Ending{"밖에", kAny, 1},
    // Plural marker: 사람들 -> 사람 (then 사람들에게 -> 사람들 -> 사람).
    Ending{"들", kAny, 1},
    // 하다 after a verbal noun (설정하다, 중요한). The multi-syllable forms almost never end a
    // noun; the one-syllable forms do (제한, 역할, 이해, 우편함) and so need a two-syllable stem.
    // Verb stems themselves are not lemmatised: 만드는 -> 만드, 만들기 stays.
    Ending{"하다", kAny, 1},
    Ending{"한다", kAny, 1},
    Ending{"합니다", kAny, 1},
    Ending{"하는", kAny, 1},
    Ending{"하기", kAny, 1},
    Ending{"하고", kAny, 1},
    Ending{"하여", kAny, 1},
    Ending{"해서", kAny, 1},
    Ending{"하면", kAny, 1},
    Ending{"하지", kAny, 1},
    Ending{"하게", kAny, 1},
    Ending{"하세요", kAny, 1},
    Ending{"하십시오", kAny, 1},
    Ending{"하려면", kAny, 1},
    Ending{"하도록", kAny, 1},
    Ending{"하던", kAny, 1},
    Ending{"하며", kAny, 1},
    Ending{"해야", kAny, 1},
    Ending{"해요", kAny, 1},
    Ending{"했다", kAny, 1},
    Ending{"했던", kAny, 1},
    Ending{"했습니다", kAny, 1},
    Ending{"하였다", kAny, 1},
    Ending{"하였습니다", kAny, 1},
    Ending{"한", kAny, 2},
    Ending{"할", kAny, 2},
    Ending{"함", kAny, 2},
    Ending{"해", kAny, 2},
    // 되다, the passive of the same nouns (설정된 -> 설정).
    Ending{"되다", kAny, 1},
    Ending{"된다", kAny, 1},
    Ending{"됩니다", kAny, 1},
    Ending{"되는", kAny, 1},
    Ending{"되기", kAny, 1},
    Ending{"되고", kAny, 1},
    Ending{"되어", kAny, 1},
    Ending{"되면", kAny, 1},
    Ending{"되지", kAny, 1},
    Ending{"되었다", kAny, 1},
    Ending{"됐다", kAny, 1},
    Ending{"되었습니다", kAny, 1},
    Ending{"됐습니다", kAny, 1},
    Ending{"된", kAny, 2},
    Ending{"될", kAny, 2},
    Ending{"됨", kAny, 2},
};

// Frequent nouns whose last syllable passes the guards above as an ending (고양+이, 결+과,
// 추+가, 도+로) or that would be cut by 이다 (아이다). No ending may cut into one of these
// when the word starts with it. A guard, not a dictionary: the bigram terms carry recall.
constexpr std::array<std::string_view, 36> kProtectedNouns = {
    "고양이", "호랑이", "원숭이", "어린이", "젊은이", "늙은이", "지팡이", "종이",
    "놀이",   "길이",   "높이",   "깊이",   "넓이",   "먹이",   "아이",   "나이",
    "오이",   "사이",   "추가",   "휴가",   "결과",   "성과",   "통과",   "학과",
    "도로",   "미로",   "무제한", "우편함", "지중해",
    // Loanwords ending in 로, frequent in software text (매크로 is not 매크 + 로).
    "매크로", "마이크로", "프로", "제로", "메트로", "레트로", "히어로",
};

constexpr int kMaxRounds = 3;

bool IsHangulSyllable(UChar32 c) { return c >= 0xAC00 && c <= 0xD7A3; }

bool AttachOk(Attach attach, std::string_view stem) {
  if (attach == Attach::kAny) return true;
  const UChar32 last = LastCodePoint(stem);
  if (!IsHangulSyllable(last)) return false;
  const int final_consonant = (last - 0xAC00) % 28;  // 0 = none, 8 = ㄹ
  switch (attach) {
    case Attach::kAfterConsonant:
      return final_consonant != 0;
    case Attach::kAfterVowel:
      return final_consonant == 0;
    case Attach::kAfterVowelOrRieul:
      return final_consonant == 0 || final_consonant == 8;
    case Attach::kAny:
      break;
  }
  return true;
}

// True if cutting `word` to its first `keep` bytes would cut into a protected noun.
bool CutsProtectedNoun(std::string_view word, std::size_t keep) {
  for (std::string_view noun : kProtectedNouns) {
    if (noun.size() > keep && word.starts_with(noun)) return true;
  }
  return false;
}

// ---- Identifiers -------------------------------------------------------------------------

constexpr std::size_t kMaxConnectorRun = 3;

// True if `gap` (the text between two words) is empty or 1-3 identifier connectors.
bool IsConnectorGap(std::string_view gap) {
  if (gap.size() > kMaxConnectorRun) return false;
  for (char c : gap) {
    if (std::string_view("-_./:@\\").find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool IsAsciiUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAsciiLower(char c) { return c >= 'a' && c <= 'z'; }
char AsciiLower(char c) { return IsAsciiUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

CaseSplits CaseSplits::Of(std::string_view raw) {
  CaseSplits out;
  std::size_t i = 0;
  while (i < raw.size()) {
    if (!IsAsciiUpper(raw[i]) && !IsAsciiLower(raw[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < raw.size() && (IsAsciiUpper(raw[end]) || IsAsciiLower(raw[end]))) ++end;
    const std::string_view word = raw.substr(i, end - i);
    i = end;
    if (word.size() > kMaxWordLetters) continue;
    std::vector<std::string> parts(1);
    for (std::size_t k = 0; k < word.size(); ++k) {
      const bool boundary =
          k > 0 && IsAsciiUpper(word[k]) &&
          (IsAsciiLower(word[k - 1]) || (IsAsciiUpper(word[k - 1]) && k + 1 < word.size() && IsAsciiLower(word[k + 1])));
      if (boundary) parts.emplace_back();
      parts.back() += AsciiLower(word[k]);
    }
    if (parts.size() < 2) continue;
    std::string lower;
    for (const std::string& p : parts) lower += p;
    out.splits_.try_emplace(std::move(lower), std::move(parts));
  }
  return out;
}

const std::vector<std::string>* CaseSplits::Find(std::string_view lower_word) const {
  auto it = splits_.find(lower_word);
  return it == splits_.end() ? nullptr : &it->second;
}

Analyzer::Analyzer() : Analyzer(Options{}) {}

Analyzer::Analyzer(Options options) : options_(options) {}

std::vector<Word> Analyzer::Words(std::string_view normalized) const {
  assert(normalized.size() <= kMaxTextBytes);
  if (normalized.size() > kMaxTextBytes) normalized = normalized.substr(0, kMaxTextBytes);

  std::vector<Word> words;
  const auto* s = reinterpret_cast<const std::uint8_t*>(normalized.data());
  const auto length = static_cast<std::int32_t>(normalized.size());
  bool in_word = false;
  Script current = Script::kOther;
  std::int32_t begin = 0;
  auto close = [&](std::int32_t end) {
    if (!in_word) return;
    words.push_back(Word{std::string(normalized.substr(begin, end - begin)), current,
                         static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end)});
    in_word = false;
  };

  std::int32_t i = 0;
  while (i < length) {
    const std::int32_t start = i;
    UChar32 c;
    U8_NEXT(s, i, length, c);
    Script script = Script::kOther;
    switch (Classify(c, &script)) {
      case CharClass::kSeparator:
        close(start);
        break;
      case CharClass::kMark:
        break;  // extends an open word; a mark with nothing before it is dropped
      case CharClass::kWord:
        if (in_word && script == current) break;
        close(start);
        in_word = true;
        current = script;
        begin = start;
        break;
    }
  }
  close(length);
  return words;
}

std::vector<Word> Analyzer::Tokens(std::string_view normalized) const {
  std::vector<Word> words = Words(normalized);
  std::vector<Word> tokens;
  tokens.reserve(words.size());
  auto joinable = [](const Word& w) { return w.script == Script::kLatin || w.script == Script::kDigit; };
  for (Word& w : words) {
    if (!tokens.empty() && joinable(w)) {
      Word& last = tokens.back();
      if (joinable(last) && last.pieces < kMaxIdentifierPieces && w.end - last.begin <= kMaxIdentifierBytes &&
          IsConnectorGap(normalized.substr(last.end, w.begin - last.end))) {
        last.end = w.end;
        last.text = std::string(normalized.substr(last.begin, last.end - last.begin));
        if (w.script == Script::kLatin) last.script = Script::kLatin;
        ++last.pieces;
        continue;
      }
    }
    tokens.push_back(std::move(w));
  }
  return tokens;
}

void Analyzer::AppendTerms(const Word& token, const CaseSplits& case_splits, std::vector<std::string>* out) const {
  switch (token.script) {
    case Script::kHan:
      for (std::string_view ch : CodePoints(token.text)) out->emplace_back(ch);
      break;
    case Script::kHangul: {
      out->emplace_back(options_.strip_particles ? StripParticle(token.text) : std::string_view(token.text));
      if (!options_.hangul_bigrams) break;
      // Unigrams then bigrams, all '#'-prefixed: "#x" and "#xy" differ in length, so the
      // two kinds never collide, and a one-syllable word's unigram is the "#w" it always had.
      const std::vector<std::string_view> chars = CodePoints(token.text);
      for (std::string_view ch : chars) out->push_back("#" + std::string(ch));
      for (std::size_t k = 0; k + 1 < chars.size(); ++k) {
        // Adjacent views of the same string, so the pair is one contiguous range.
        const std::size_t pair_bytes = chars[k].size() + chars[k + 1].size();
        std::string term = "#";
        term.append(chars[k].data(), pair_bytes);
        out->push_back(std::move(term));
      }
      break;
    }
    case Script::kLatin:
    case Script::kDigit:
    case Script::kOther: {
      auto word_terms = [&](const std::string& word) {
        out->push_back(word);
        if (const std::vector<std::string>* parts = case_splits.Find(word)) {
          out->insert(out->end(), parts->begin(), parts->end());
        }
      };
      if (token.pieces <= 1) {
        word_terms(token.text);
        break;
      }
      for (const Word& piece : Words(token.text)) word_terms(piece.text);
      out->push_back(token.text);
      break;
    }
  }
}

std::vector<std::string> Analyzer::Terms(std::string_view text) const {
  const std::string normalized = Normalize(text);
  const CaseSplits case_splits = CaseSplits::Of(text);
  std::vector<std::string> terms;
  for (const Word& token : Tokens(normalized)) AppendTerms(token, case_splits, &terms);
  return terms;
}

std::string Analyzer::SchemeId() const {
  return "tide-terms-v" + std::to_string(kTermSchemeVersion) +
         (options_.hangul_bigrams ? "+ngrams" : "") + (options_.strip_particles ? "+stems" : "");
}

std::string_view Analyzer::StripParticle(std::string_view hangul_word) const {
  std::string_view stem = hangul_word;
  for (int round = 0; round < kMaxRounds; ++round) {
    const Ending* best = nullptr;
    for (const Ending& ending : kEndings) {
      // `>=` keeps at least one code point: a bare particle ("은") is a word, not an ending.
      if (ending.text.size() >= stem.size() || !stem.ends_with(ending.text)) continue;
      if (best != nullptr && best->text.size() >= ending.text.size()) continue;
      const std::string_view rest = stem.substr(0, stem.size() - ending.text.size());
      if (CountCodePoints(rest) < ending.min_stem || !AttachOk(ending.attach, rest) ||
          CutsProtectedNoun(stem, rest.size())) {
        continue;
      }
      best = &ending;
    }
    if (best == nullptr) break;
    stem.remove_suffix(best->text.size());
  }
  return stem;
}

}  // namespace tide::analysis
