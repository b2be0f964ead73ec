#include "query/typo_matching.h"

#include <algorithm>
#include <map>

#include <gtest/gtest.h>

namespace tide::query {
namespace {

bool Has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// Issue 13: which words count as one edit away, Korean and English.
TEST(TypoMatchingTest, OneEditVariantsAreBoundedAndScriptAware) {
  struct Case {
    const char* word;
    analysis::Script script;
    std::vector<std::string> includes;  // must be among the variants
    std::vector<std::string> excludes;  // must not be
  };
  using S = analysis::Script;
  const std::vector<Case> cases = {
      {"vlookp", S::kLatin, {"vlookup", "vlook", "lvookp", "vlookq"}, {"vlookp", "hlookup"}},  // insert, delete, swap, sub; 2 edits no
      {"excle", S::kLatin, {"excel"}, {"excle"}},
      {"pivto", S::kLatin, {"pivot"}, {}},
      {"피봇", S::kHangul, {"피벗", "비봇", "피보", "봇피"}, {"피봇", "피벗트"}},  // vowel, initial, final, swap
      {"셀병합", S::kHangul, {"셀병", "셀합", "셀병함"}, {}},                    // drop a syllable (3+), final
      {"테이블", S::kHangul, {"테이볼"}, {"테이블"}},
  };
  for (const Case& c : cases) {
    const std::vector<std::string> v = OneEditVariants(c.word, c.script);
    for (const std::string& s : c.includes) EXPECT_TRUE(Has(v, s)) << c.word << " -> " << s;
    for (const std::string& s : c.excludes) EXPECT_FALSE(Has(v, s)) << c.word << " -/-> " << s;
    std::vector<std::string> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << c.word << ": duplicates";
  }
  // Too short, or not plain letters of a matched script: never fuzzy.
  EXPECT_TRUE(OneEditVariants("sql", S::kLatin).empty());
  EXPECT_TRUE(OneEditVariants("셀", S::kHangul).empty());
  EXPECT_TRUE(OneEditVariants("2024", S::kDigit).empty());
  EXPECT_TRUE(OneEditVariants("日本語", S::kHan).empty());
  EXPECT_TRUE(OneEditVariants("café", S::kLatin).empty());
  // A two-syllable stem is not shortened to one syllable (too loose).
  EXPECT_FALSE(Has(OneEditVariants("피봇", S::kHangul), "피"));
}

class AddTypoMatchesTest : public ::testing::Test {
 protected:
  AnalyzedQuery Run(const std::string& text, const std::map<std::string, std::size_t>& scope_df) {
    AnalyzedQuery q = AnalyzeQuery(text, rules_, analyzer_);
    AddTypoMatches(rules_, analyzer_,
                   [&](const std::vector<std::string>& terms) {
                     std::vector<std::size_t> out;
                     for (const std::string& t : terms) {
                       auto it = scope_df.find(t);
                       out.push_back(it == scope_df.end() ? 0 : it->second);
                     }
                     return out;
                   },
                   &q);
    return q;
  }
  std::map<std::string, float> Weights(const AnalyzedQuery& q) {
    std::map<std::string, float> w;
    for (std::size_t i = 0; i < q.terms.size(); ++i) w[q.terms[i]] = q.term_weights[i];
    return w;
  }

  QueryRules rules_;
  analysis::Analyzer analyzer_;
};

TEST_F(AddTypoMatchesTest, AnUnknownWordMeetsTheScopesMostFrequentNeighbourAtTheTypoWeight) {
  const AnalyzedQuery q = Run("vlookp 함수", {{"vlookup", 3}, {"vlook", 9}, {"함수", 50}});
  ASSERT_EQ(q.fuzzy.size(), 1u);
  EXPECT_EQ(q.fuzzy[0].from, "vlookp");
  EXPECT_EQ(q.fuzzy[0].to, "vlook");  // the more frequent of the two neighbours the scope has
  auto w = Weights(q);
  EXPECT_GE(w["vlookp"], 1.0f);  // the written word stays, at its full weight
  EXPECT_FLOAT_EQ(w["vlook"], rules_.typo_weight);
  EXPECT_LT(rules_.typo_weight, 1.0f);
  EXPECT_EQ(q.terms.size(), q.term_weights.size());
  EXPECT_TRUE(Has(q.highlight, "vlook"));
}

TEST_F(AddTypoMatchesTest, KoreanTyposAddOnlyTheTermsTheQueryLacks) {
  const AnalyzedQuery q = Run("피봇 테이블", {{"피벗", 12}, {"테이블", 40}});
  ASSERT_EQ(q.fuzzy.size(), 1u);
  EXPECT_EQ(q.fuzzy[0].to, "피벗");
  auto w = Weights(q);
  EXPECT_FLOAT_EQ(w["피벗"], rules_.typo_weight);
  EXPECT_FLOAT_EQ(w["#벗"], rules_.typo_weight);
  EXPECT_FLOAT_EQ(w["#피"], 1.0f);  // shared with the written word: keeps the query's own weight
  EXPECT_EQ(std::count(q.terms.begin(), q.terms.end(), "#피"), 1);
}

TEST_F(AddTypoMatchesTest, KnownWordsStopwordsAndUnmatchableWordsAreLeftAlone) {
  // The scope has the word: no typo match, even though a neighbour is more frequent.
  EXPECT_TRUE(Run("excel", {{"excel", 1}, {"excels", 100}}).fuzzy.empty());
  // Nothing within one edit in the scope.
  EXPECT_TRUE(Run("zzzzqq", {{"excel", 1}}).fuzzy.empty());
  // Stopwords are not matched.
  rules_.stopwords = {"hwo"};
  EXPECT_TRUE(Run("hwo excel", {{"excel", 1}, {"how", 5}}).fuzzy.empty());
}

}  // namespace
}  // namespace tide::query
