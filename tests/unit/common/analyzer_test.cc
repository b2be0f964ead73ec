#include "common/analysis/analyzer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/analysis/normalizer.h"

namespace tide::analysis {
namespace {

struct NormalizeCase {
  std::string input;
  std::string expected;
};

TEST(NormalizerTest, MapsCompatibilityFormsCaseAndSpacingToCanonicalText) {
  const std::vector<NormalizeCase> cases = {
      {"ＡＢＣ  Ｄ\t", "abc d"},
      {"", ""},
      {"   ", ""},
      {"  Hello   World  ", "hello world"},
      {"line1\nline2\r\n\tline3", "line1 line2 line3"},
      {"\u3000전각\u3000공백\u00A0끝", "전각 공백 끝"},  // ideographic space, NBSP
      {"ÉCOLE Straße", "école strasse"},                 // full case folding
      {"\uFB01le", "file"},                              // ﬁ ligature
      {"ｶﾀｶﾅ", "カタカナ"},                              // half-width katakana
      {"①②", "12"},                                      // circled digits
      {"\u3260", "\u1100"},                              // circled ㉠ (So) -> jamo letter
      {"\u1100\u1161\u11AB", "간"},                      // conjoining jamo compose
      {"cafe\u0301", "café"},                            // combining accent composes
      {"x\u00ADy", "xy"},                                // soft hyphen disappears
  };
  for (const NormalizeCase& c : cases) {
    EXPECT_EQ(Normalize(c.input), c.expected) << "input: " << c.input;
  }
}

TEST(NormalizerTest, TurnsEmojiSymbolsAndControlsIntoSpaces) {
  const std::vector<NormalizeCase> cases = {
      {"서울😀부산", "서울 부산"},
      {"👍🏽 좋아요", "좋아요"},         // skin-tone modifier
      {"\u2764\uFE0F사랑", "사랑"},             // ❤️ with variation selector
      {"👨\u200D👩\u200D👧 family", "family"},     // ZWJ sequence
      {"a\u200Db", "a b"},                      // ZWJ between letters
      {"a\u200Bb", "a b"},                      // zero width space
      {"1\uFE0F\u20E3 one", "1 one"},           // keycap
      {"\U0001F1F0\U0001F1F7 korea", "korea"},  // flag (regional indicators)
      {"a\x01"
       "b\x7F"
       "c",
       "a b c"},            // C0 control and DEL
      {"a\uE000b", "a b"},  // private use
      {"a\u2605b", "a b"},  // ★ is So
  };
  for (const NormalizeCase& c : cases) {
    EXPECT_EQ(Normalize(c.input), c.expected) << "input: " << c.input;
  }
}

TEST(NormalizerTest, ReplacesInvalidUtf8WithSpaces) {
  EXPECT_EQ(Normalize("\xFF\xFE"
                      "abc"),
            "abc");
  EXPECT_EQ(Normalize("ab\xC3"), "ab");               // truncated sequence
  EXPECT_EQ(Normalize("서\xED\xA0\x80울"), "서 울");  // encoded surrogate
}

TEST(NormalizerTest, IsIdempotent) {
  for (std::string_view s : {"ＡＢＣ  Ｄ\t", "서울😀부산에서", "ÉCOLE\u3000Straße", "①x\u200Dy"}) {
    const std::string once = Normalize(s);
    EXPECT_EQ(Normalize(once), once);
  }
}

// Normalize() takes a path without ICU for text of ASCII and precomposed Hangul syllables
// only; on every input it must give what ICU's path gives. Random texts over pieces that sit
// in that set, at its edges, or beside it in ways that change the result (a syllable then a
// conjoining jamo composes; a letter then a combining mark; invalid and truncated UTF-8).
TEST(NormalizerTest, TheAsciiAndHangulPathEqualsTheIcuPathOnEveryInput) {
  std::vector<std::string> pieces = {"가", "각", "힣", "서울", "에서", "\uABFF", "\uD7B0", "\u11A8",
                                     "\u1100", "\u1161", "\u0301", "Ａ", "\u00A0", "\u3000",
                                     "\u200B", "é", "\xED", "\xEA\xB0", "\xED\xA0\x80", "\xC3"};
  for (int b = 0; b < 0x80; ++b) pieces.emplace_back(1, static_cast<char>(b));
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> piece(0, pieces.size() - 1), length(0, 12);
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (std::size_t n = length(rng); n > 0; --n) text += pieces[piece(rng)];
    ASSERT_EQ(Normalize(text), NormalizeThroughIcu(text)) << "input bytes: " << testing::PrintToString(text);
  }
  EXPECT_EQ(Normalize("가\u11A8 Hello\tWORLD\x7f 서울  "), "각 hello world 서울");
  EXPECT_EQ(Normalize("  Tide\nSearch  검색 "), "tide search 검색");
}

std::string Describe(const std::vector<Word>& words) {
  std::string out;
  for (const Word& w : words) {
    const char* script = "?";
    switch (w.script) {
      case Script::kHangul:
        script = "hangul";
        break;
      case Script::kLatin:
        script = "latin";
        break;
      case Script::kDigit:
        script = "digit";
        break;
      case Script::kHan:
        script = "han";
        break;
      case Script::kOther:
        script = "other";
        break;
    }
    out +=
        w.text + "/" + script + "[" + std::to_string(w.begin) + "," + std::to_string(w.end) + ") ";
  }
  return out;
}

TEST(AnalyzerTest, WordsSplitWhereTheScriptChangesWithByteOffsets) {
  const Analyzer analyzer;
  const std::vector<NormalizeCase> cases = {
      {"excel파일", "excel/latin[0,5) 파일/hangul[5,11) "},
      {"2024년 3월", "2024/digit[0,4) 년/hangul[4,7) 3/digit[8,9) 월/hangul[9,12) "},
      {"漢字와 한글", "漢字/han[0,6) 와/hangul[6,9) 한글/hangul[10,16) "},
      {"hello, world!", "hello/latin[0,5) world/latin[7,12) "},
      {"mp3 파일", "mp/latin[0,2) 3/digit[2,3) 파일/hangul[4,10) "},
      {"привет мир", "привет/other[0,12) мир/other[13,19) "},
      {"cafe\u0301 x", "cafe\u0301/latin[0,6) x/latin[7,8) "},  // mark stays in its word
      {"ab\xFF"
       "cd",
       "ab/latin[0,2) cd/latin[3,5) "},  // invalid byte separates
      {"", ""},
      {"... !!", ""},
  };
  for (const NormalizeCase& c : cases) {
    EXPECT_EQ(Describe(analyzer.Words(c.input)), c.expected) << "input: " << c.input;
  }
}

TEST(AnalyzerTest, WordOffsetsPointBackIntoTheNormalizedText) {
  const Analyzer analyzer;
  const std::string normalized =
      Normalize("TideSearch는 2024년에 ＥＸＣＥＬ파일을 漢字로 검색합니다!");
  const std::vector<Word> words = analyzer.Words(normalized);
  ASSERT_EQ(words.size(), 9u);  // tidesearch 는 2024 년에 excel 파일을 漢字 로 검색합니다
  for (const Word& w : words) {
    ASSERT_LE(w.end, normalized.size());
    EXPECT_EQ(normalized.substr(w.begin, w.end - w.begin), w.text);
  }
}

struct StripCase {
  std::string word;
  std::string stem;
};

TEST(AnalyzerTest, StripParticleRemovesTrailingParticlesAndEndings) {
  const Analyzer analyzer;
  const std::vector<StripCase> cases = {
      {"서울은", "서울"},     {"서울에서", "서울"},   {"서울의", "서울"},
      {"서울로", "서울"},     {"서울이다", "서울"},   {"서울이", "서울"},
      {"서울을", "서울"},     {"서울과", "서울"},     {"서울까지", "서울"},
      {"서울에서는", "서울"}, {"서울입니다", "서울"}, {"학교를", "학교"},
      {"학교로", "학교"},     {"책은", "책"},         {"나는", "나"},
      {"설정하는", "설정"},   {"설정하기", "설정"},   {"설정했다", "설정"},
      {"설정합니다", "설정"}, {"설정된", "설정"},     {"중요한", "중요"},
      {"사람들에게", "사람"}, {"고양이는", "고양이"}, {"결과를", "결과"},
      {"추가로", "추가"},     {"아이들은", "아이"},   {"대한민국에서의", "대한민국"},
  };
  for (const StripCase& c : cases) {
    EXPECT_EQ(analyzer.StripParticle(c.word), c.stem) << "word: " << c.word;
  }
}

TEST(AnalyzerTest, StripParticleKeepsNounsThatOnlyLookLikeParticles) {
  const Analyzer analyzer;
  const std::vector<std::string> keep = {
      // A bare particle or ending is a word of its own, never an empty stem.
      "은",
      "이",
      "의",
      "에서",
      "에게",
      "하다",
      "들",
      // Wrong allomorph for the preceding syllable: the syllable belongs to the noun.
      "사과",
      "마을",
      "가을",
      "나이",
      "경로",
      "국가",
      "서울는",
      // One-syllable endings that need a two-syllable stem.
      "회의",
      "정도",
      "불만",
      "제한",
      "역할",
      "함께",
      "이해",
      // Protected nouns.
      "고양이",
      "결과",
      "추가",
      "도로",
      // Nothing to strip.
      "평양식왕만두",
      "맛집",
  };
  for (const std::string& word : keep) {
    EXPECT_EQ(analyzer.StripParticle(word), word) << "word: " << word;
  }
}

TEST(AnalyzerTest, StripParticleReturnsAPrefixOfItsInput) {
  const Analyzer analyzer;
  const std::string word = "서울에서";
  const std::string_view stem = analyzer.StripParticle(word);
  EXPECT_EQ(stem.data(), word.data());
  EXPECT_EQ(stem.size(), std::string_view("서울").size());
}

using Terms = std::vector<std::string>;

TEST(AnalyzerTest, TermsAreStemsPlusHashUnigramsAndBigramsForHangul) {
  const Analyzer analyzer;
  EXPECT_EQ(analyzer.Terms("서울에서"),
            (Terms{"서울", "#서", "#울", "#에", "#서", "#서울", "#울에", "#에서"}));
  EXPECT_EQ(analyzer.Terms("책"), (Terms{"책", "#책"}));
  EXPECT_EQ(analyzer.Terms("Excel파일 2024년"),
            (Terms{"excel", "파일", "#파", "#일", "#파일", "2024", "년", "#년"}));
  EXPECT_EQ(analyzer.Terms("漢字"), (Terms{"漢", "字"}));
  EXPECT_EQ(analyzer.Terms("ＥＸＣＥＬ, Pivot!"), (Terms{"excel", "pivot"}));
  EXPECT_TRUE(analyzer.Terms("😀 !!! ...").empty());
}

TEST(AnalyzerTest, TermsKeepDuplicatesInOrderOfAppearance) {
  const Analyzer analyzer;
  EXPECT_EQ(analyzer.Terms("a 서울 a"), (Terms{"a", "서울", "#서", "#울", "#서울", "a"}));
}

TEST(AnalyzerTest, OptionsDisableStemmingAndBigrams) {
  const Analyzer no_strip(Analyzer::Options{.hangul_bigrams = true, .strip_particles = false});
  EXPECT_EQ(no_strip.Terms("서울에서"),
            (Terms{"서울에서", "#서", "#울", "#에", "#서", "#서울", "#울에", "#에서"}));
  const Analyzer no_bigrams(Analyzer::Options{.hangul_bigrams = false, .strip_particles = true});
  EXPECT_EQ(no_bigrams.Terms("서울에서 책"), (Terms{"서울", "책"}));
}

TEST(AnalyzerTest, ParticleVariantsShareTheStemTerm) {
  const Analyzer analyzer;
  for (std::string_view text : {"서울은", "서울에서", "서울의", "서울로", "서울이다"}) {
    const Terms terms = analyzer.Terms(text);
    EXPECT_NE(std::find(terms.begin(), terms.end(), "서울"), terms.end()) << text;
  }
}

std::set<std::string> Ngrams(const Terms& terms) {
  std::set<std::string> out;
  for (const std::string& t : terms) {
    if (!t.empty() && t[0] == '#') out.insert(t);
  }
  return out;
}

// "#" plus one Hangul syllable (3 UTF-8 bytes) is a unigram; plus two, a bigram.
std::set<std::string> OfLength(const std::set<std::string>& ngrams, std::size_t syllables) {
  std::set<std::string> out;
  for (const std::string& t : ngrams) {
    if (t.size() == 1 + 3 * syllables) out.insert(t);
  }
  return out;
}

TEST(AnalyzerTest, SpacingVariantsShareUnigramsAndBigrams) {
  const Analyzer analyzer;
  const std::set<std::string> joined = Ngrams(analyzer.Terms("평양식왕만두"));
  const std::set<std::string> spaced = Ngrams(analyzer.Terms("평양식 왕만두"));
  EXPECT_EQ(OfLength(joined, 1), OfLength(spaced, 1));  // every syllable
  std::vector<std::string> shared;
  const std::set<std::string> joined2 = OfLength(joined, 2), spaced2 = OfLength(spaced, 2);
  std::set_intersection(joined2.begin(), joined2.end(), spaced2.begin(), spaced2.end(),
                        std::back_inserter(shared));
  EXPECT_EQ(shared, (std::vector<std::string>{"#만두", "#양식", "#왕만", "#평양"}));
}

// Conjugated predicates and their adnominal forms do not share a stem term (StripParticle
// does not lemmatise verbs), but they share the syllables of the root.
TEST(AnalyzerTest, ConjugatedFormsShareUnigrams) {
  const Analyzer analyzer;
  struct Case {
    std::string_view a, b;
    std::vector<std::string> shared;  // at least these
  };
  for (const Case& c : std::vector<Case>{
           {"머물렀습니다", "머무는", {"#머"}},
           {"깨끗합니다", "깨끗한", {"#깨", "#끗", "#깨끗"}},
           {"묵기에", "묶기에", {"#기", "#에", "#기에"}},  // a typo in one jamo
       }) {
    const std::set<std::string> a = Ngrams(analyzer.Terms(c.a)), b = Ngrams(analyzer.Terms(c.b));
    for (const std::string& t : c.shared) {
      EXPECT_TRUE(a.contains(t) && b.contains(t)) << c.a << " / " << c.b << " should share " << t;
    }
  }
}

// Issue 13: identifiers are found by their exact form and by their parts.
TEST(AnalyzerTest, IdentifiersGiveTheirPiecesThenTheirWholeForm) {
  const Analyzer analyzer;
  struct Case {
    std::string_view text;
    Terms terms;
  };
  for (const Case& c : std::vector<Case>{
           {"ISO-9001", {"iso", "9001", "iso-9001"}},
           {"iso9001", {"iso", "9001", "iso9001"}},  // a letter-digit change joins too
           {"snake_case", {"snake", "case", "snake_case"}},
           {"v1.2", {"v", "1", "2", "v1.2"}},
           {"v1.2.", {"v", "1", "2", "v1.2"}},  // a connector at the end is not part of it
           {"(3.14)", {"3", "14", "3.14"}},
           {"e-mail", {"e", "mail", "e-mail"}},
           {"report_2024-final.xlsx", {"report", "2024", "final", "xlsx", "report_2024-final.xlsx"}},
           {"https://help.example.org/calc", {"https", "help", "example", "org", "calc", "https://help.example.org/calc"}},
           {"C:\\docs\\a.txt", {"c", "docs", "a", "txt", "c:\\docs\\a.txt"}},
           {"ＩＳＯ－９００１", {"iso", "9001", "iso-9001"}},  // full-width forms normalise first
           // Not identifiers: spaces, a run of more than three connectors, other connectors.
           {"iso - 9001", {"iso", "9001"}},
           {"a....b", {"a", "b"}},
           {"a,b c+d", {"a", "b", "c", "d"}},
           // Hangul ends an identifier; its own terms follow.
           {"ISO-9001인증", {"iso", "9001", "iso-9001", "인증", "#인", "#증", "#인증"}},
           {"Excel EXCEL excel", {"excel", "excel", "excel"}},
       }) {
    EXPECT_EQ(analyzer.Terms(c.text), c.terms) << c.text;
  }
}

TEST(AnalyzerTest, CamelCaseWordsGiveTheWordThenItsParts) {
  const Analyzer analyzer;
  struct Case {
    std::string_view text;
    Terms terms;
  };
  for (const Case& c : std::vector<Case>{
           {"getUserName", {"getusername", "get", "user", "name"}},
           {"XMLHttpRequest", {"xmlhttprequest", "xml", "http", "request"}},
           {"LibreOffice 설치", {"libreoffice", "libre", "office", "설치", "#설", "#치", "#설치"}},
           {"my_getUser", {"my", "getuser", "get", "user", "my_getuser"}},
           {"getUser getuser", {"getuser", "get", "user", "getuser", "get", "user"}},  // by value
           {"HTML html Html", {"html", "html", "html"}},
       }) {
    EXPECT_EQ(analyzer.Terms(c.text), c.terms) << c.text;
  }
  // Runs longer than kMaxWordLetters are not split.
  std::string long_word;
  while (long_word.size() <= CaseSplits::kMaxWordLetters) long_word += "aB";
  EXPECT_EQ(CaseSplits::Of(long_word).Find(analysis::Normalize(long_word)), nullptr);
  EXPECT_NE(CaseSplits::Of("aBc").Find("abc"), nullptr);
}

TEST(AnalyzerTest, TokensJoinAtMostSoManyPiecesAndBytes) {
  const Analyzer analyzer;
  const std::string normalized = "see iso-9001 now";
  const std::vector<Word> tokens = analyzer.Tokens(normalized);
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[1].text, "iso-9001");
  EXPECT_EQ(tokens[1].pieces, 2u);
  EXPECT_EQ(tokens[1].script, Script::kLatin);
  EXPECT_EQ(normalized.substr(tokens[1].begin, tokens[1].end - tokens[1].begin), "iso-9001");
  EXPECT_EQ(analyzer.Tokens("2024-01-05")[0].script, Script::kDigit);

  std::string many;  // 40 one-letter pieces
  for (int i = 0; i < 40; ++i) many += i == 0 ? "a" : "-a";
  std::size_t pieces = 0;
  for (const Word& t : analyzer.Tokens(many)) {
    EXPECT_LE(t.pieces, Analyzer::kMaxIdentifierPieces);
    pieces += t.pieces;
  }
  EXPECT_EQ(pieces, 40u);  // every piece is in some token

  std::string wide;  // 30 five-letter pieces: 179 bytes
  for (int i = 0; i < 30; ++i) wide += i == 0 ? "abcde" : "_abcde";
  const std::vector<Word> wide_tokens = analyzer.Tokens(wide);
  EXPECT_GE(wide_tokens.size(), 2u);  // cut: one token would be 179 bytes
  std::size_t wide_pieces = 0;
  for (const Word& t : wide_tokens) {
    EXPECT_LE(t.text.size(), Analyzer::kMaxIdentifierBytes);
    wide_pieces += t.pieces;
  }
  EXPECT_EQ(wide_pieces, 30u);
}

TEST(AnalyzerTest, SchemeIdNamesTheVersionAndOptions) {
  EXPECT_EQ(Analyzer().SchemeId(), "tide-terms-v3+ngrams+stems");
  EXPECT_EQ(Analyzer(Analyzer::Options{.hangul_bigrams = false, .strip_particles = true}).SchemeId(),
            "tide-terms-v3+stems");
  EXPECT_NE(Analyzer(Analyzer::Options{.hangul_bigrams = true, .strip_particles = false}).SchemeId(),
            Analyzer().SchemeId());
}

}  // namespace
}  // namespace tide::analysis
