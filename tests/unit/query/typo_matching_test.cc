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
      {"vlookp", S::kLatin, {"vlookup", "vlook", "lvookp", "vlookq"}, {"vlookp", "hlookup", "vlook1"}},  // insert, delete, swap, sub; 2 edits, digits no
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
  // The scope holds the words of `scope_df`, in that many chunks each. Counts the lookups.
  AnalyzedQuery Run(const std::string& text, const std::map<std::string, std::size_t>& scope_df) {
    AnalyzedQuery q = AnalyzeQuery(text, rules_, analyzer_);
    auto df = [&](const std::string& t) {
      auto it = scope_df.find(t);
      return it == scope_df.end() ? std::size_t{0} : it->second;
    };
    const ScopeVocabulary scope{[&](const std::vector<std::string>& terms) {
                                  has_calls_ += 1;
                                  std::vector<bool> out;
                                  for (const std::string& t : terms) out.push_back(df(t) > 0);
                                  return out;
                                },
                                [&](const std::vector<std::string>& terms) {
                                  count_calls_ += 1;
                                  std::vector<std::size_t> out;
                                  for (const std::string& t : terms) out.push_back(df(t));
                                  return out;
                                }};
    AddTypoMatches(rules_, analyzer_, scope, &q);
    return q;
  }
  std::map<std::string, float> Weights(const AnalyzedQuery& q) {
    std::map<std::string, float> w;
    for (std::size_t i = 0; i < q.terms.size(); ++i) w[q.terms[i]] = q.term_weights[i];
    return w;
  }

  QueryRules rules_;
  analysis::Analyzer analyzer_;
  int has_calls_ = 0, count_calls_ = 0;
};

TEST_F(AddTypoMatchesTest, AnUnknownWordMeetsTheScopesMostFrequentNeighbourAtTheTypoWeight) {
  const AnalyzedQuery q = Run("vlookp 함수", {{"vlookup", 3}, {"vlook", 9}, {"함수", 50}});
  ASSERT_EQ(q.fuzzy.size(), 1u);
  EXPECT_EQ(q.fuzzy[0].from, "vlookp");
  EXPECT_EQ(q.fuzzy[0].to, "vlook");  // the more frequent of the two neighbours the scope has
  auto w = Weights(q);
  // The written word stays at its full weight (a Latin word beside 함수 weighs 함수's four terms);
  // its typo match weighs typo_weight of that.
  EXPECT_FLOAT_EQ(w["vlookp"], 4.0f);
  EXPECT_FLOAT_EQ(w["vlook"], rules_.typo_weight * 4.0f);
  EXPECT_LT(rules_.typo_weight, 1.0f);
  EXPECT_EQ(q.own_terms, 5u);  // vlookp, 함수 + its three n-grams; vlook is not the query's own
  EXPECT_EQ(q.terms.size(), q.term_weights.size());
  EXPECT_TRUE(Has(q.highlight, "vlook"));
}

TEST_F(AddTypoMatchesTest, AnIdentifierIsTriedByItsLatinPieces) {
  const AnalyzedQuery q = Run("vlookp_2 함수", {{"vlookup", 3}, {"2", 5}, {"함수", 50}});
  ASSERT_EQ(q.fuzzy.size(), 1u);
  EXPECT_EQ(q.fuzzy[0].from, "vlookp");
  EXPECT_EQ(q.fuzzy[0].to, "vlookup");
  // vlookp_2 weighs 함수's four terms on its whole form; its pieces vlookp and 2 share a quarter.
  EXPECT_FLOAT_EQ(Weights(q)["vlookp_2"], 4.0f);
  EXPECT_FLOAT_EQ(Weights(q)["vlookup"], rules_.typo_weight * 0.5f);
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
  rules_.stopwords = {"waht"};
  EXPECT_TRUE(Run("waht excel", {{"excel", 1}, {"what", 5}}).fuzzy.empty());
  rules_.stopwords.clear();
  EXPECT_EQ(Run("waht excel", {{"excel", 1}, {"what", 5}}).fuzzy.size(), 1u);  // (else it would be)
}

TEST_F(AddTypoMatchesTest, AKnownQueryCostsOnePresenceCheckAndLongOrManyWordsAreNotExpanded) {
  // Every word known: one batch of presence checks, no neighbour is counted.
  EXPECT_TRUE(Run("excel 피벗 테이블", {{"excel", 1}, {"피벗", 2}, {"테이블", 3}}).fuzzy.empty());
  EXPECT_EQ(has_calls_, 1);
  EXPECT_EQ(count_calls_, 0);
  // Words past the length bounds have no neighbours at all (a long word would have thousands).
  EXPECT_TRUE(OneEditVariants(std::string(21, 'a'), analysis::Script::kLatin).empty());
  EXPECT_FALSE(OneEditVariants(std::string(20, 'a'), analysis::Script::kLatin).empty());
  EXPECT_TRUE(OneEditVariants("가나다라마바사아자", analysis::Script::kHangul).empty());  // 9 syllables
  EXPECT_FALSE(OneEditVariants("가나다라마바사아", analysis::Script::kHangul).empty());    // 8
  // At most kMaxTypoWords unknown words of one query are expanded.
  count_calls_ = 0;
  Run("alpha bravo charlie delta echos", {{"alphas", 1}});
  EXPECT_EQ(count_calls_, static_cast<int>(kMaxTypoWords));
}

}  // namespace
}  // namespace tide::query
