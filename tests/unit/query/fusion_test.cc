#include "query/fusion.h"

#include <gtest/gtest.h>

namespace tide::query {
namespace {

RankedList List(float weight, std::vector<Candidate> candidates) { return {weight, std::move(candidates)}; }

std::vector<std::uint64_t> Labels(const std::vector<FusedCandidate>& fused) {
  std::vector<std::uint64_t> out;
  for (const FusedCandidate& f : fused) out.push_back(f.label);
  return out;
}

TEST(FusionTest, TiedScoresShareTheBestRankOfTheirGroup) {
  EXPECT_EQ(SharedRanks({{1, 9}, {2, 7}, {3, 7}, {4, 5}, {5, 5}, {6, 5}, {7, 1}}),
            (std::vector<std::size_t>{1, 2, 2, 4, 4, 4, 7}));
  EXPECT_TRUE(SharedRanks({}).empty());
}

// Weights are floats (0.6f is not 0.6), hence NEAR on fused scores.
TEST(FusionTest, WeightedRrfScoresAndOrderOnHandBuiltLists) {
  // vector: a, b, c; fulltext: c, a. k = 60, weights 0.6 / 0.4.
  std::array<RankedList, kRetrievers> lists = {List(0.6f, {{1, 0.9f}, {2, 0.8f}, {3, 0.7f}}), RankedList{},
                                               List(0.4f, {{3, 12.0f}, {1, 11.0f}})};
  const auto fused = Fuse(lists, {Fusion::kRrf, 60});
  const double best = 0.6 / 61 + 0.4 / 61;
  ASSERT_EQ(Labels(fused), (std::vector<std::uint64_t>{1, 3, 2}));
  EXPECT_NEAR(fused[0].score, (0.6 / 61 + 0.4 / 62) / best, 1e-6);
  EXPECT_NEAR(fused[1].score, (0.6 / 63 + 0.4 / 61) / best, 1e-6);
  EXPECT_NEAR(fused[2].score, (0.6 / 62) / best, 1e-6);
  EXPECT_EQ(fused[1].lists[0].rank, 3u);
  EXPECT_EQ(fused[1].lists[2].rank, 1u);
  EXPECT_EQ(fused[2].lists[2].rank, 0u);  // absent from full-text
  EXPECT_DOUBLE_EQ(fused[2].lists[0].normalized, 1.0 / 62);
}

TEST(FusionTest, TiesInOneListAreNotReorderedByListOrder) {
  // Three chunks of one document tie in the title list. Whatever order the list holds them in,
  // they get the same title contribution, so the body list alone orders them.
  for (const std::vector<std::uint64_t>& order : {std::vector<std::uint64_t>{7, 8, 9}, {9, 7, 8}, {8, 9, 7}}) {
    RankedList title{0.5f, {}};
    for (std::uint64_t label : order) title.candidates.push_back({label, 4.25f});
    std::array<RankedList, kRetrievers> lists = {RankedList{}, title,
                                                 List(0.5f, {{9, 3.0f}, {8, 2.0f}, {7, 1.0f}})};
    for (Fusion method : {Fusion::kRrf, Fusion::kLinear}) {
      EXPECT_EQ(Labels(Fuse(lists, {method, 60})), (std::vector<std::uint64_t>{9, 8, 7}))
          << FusionName(method) << " with the title list in order " << order[0] << order[1] << order[2];
    }
  }
}

TEST(FusionTest, EqualFusedScoresAreOrderedByLabel) {
  std::array<RankedList, kRetrievers> lists = {List(1.0f, {{42, 0.5f}, {7, 0.5f}, {19, 0.5f}}), RankedList{},
                                               RankedList{}};
  EXPECT_EQ(Labels(Fuse(lists, {Fusion::kRrf, 60})), (std::vector<std::uint64_t>{7, 19, 42}));
  EXPECT_EQ(Labels(Fuse(lists, {Fusion::kLinear, 60})), (std::vector<std::uint64_t>{7, 19, 42}));
}

TEST(FusionTest, NormalisedLinearScoresWithCredit) {
  // vector cosines 0.9 .. 0.5; title BM25 8 (credit 1) and 4 (credit 0.5); body one hit.
  std::array<RankedList, kRetrievers> lists = {
      List(0.5f, {{1, 0.9f}, {2, 0.7f}, {3, 0.5f}}),
      List(0.3f, {{2, 8.0f, 1.0f}, {3, 4.0f, 0.5f}}),
      List(0.2f, {{3, 2.0f}}),
  };
  const auto fused = Fuse(lists, {Fusion::kLinear, 60});
  // 1: 0.5*1; 2: 0.5*0.5 + 0.3*1; 3: 0.5*0 + 0.3*0.5*0 + 0.2*1 (a one-hit list gives 1).
  ASSERT_EQ(Labels(fused), (std::vector<std::uint64_t>{2, 1, 3}));
  EXPECT_NEAR(fused[0].score, 0.55, 1e-6);
  EXPECT_NEAR(fused[1].score, 0.5, 1e-6);
  EXPECT_NEAR(fused[2].score, 0.2, 1e-12);
  EXPECT_DOUBLE_EQ(fused[0].lists[1].normalized, 1.0);
  EXPECT_DOUBLE_EQ(fused[2].lists[1].normalized, 0.0);
}

TEST(FusionTest, MissingListsStillCountInTheBestPossibleScore) {
  // The title list had a weight but found nothing: first everywhere else is not a perfect 1.
  std::array<RankedList, kRetrievers> lists = {List(0.5f, {{1, 0.9f}}), List(0.3f, {}), List(0.2f, {{1, 5.0f}})};
  EXPECT_NEAR(Fuse(lists, {Fusion::kRrf, 60})[0].score, 0.7, 1e-6);
  EXPECT_NEAR(Fuse(lists, {Fusion::kLinear, 60})[0].score, 0.7, 1e-6);
  // A list without weight takes no part at all.
  lists[1].weight = 0;
  EXPECT_NEAR(Fuse(lists, {Fusion::kRrf, 60})[0].score, 1.0, 1e-6);
  // No lists: nothing.
  EXPECT_TRUE(Fuse({}, {Fusion::kRrf, 60}).empty());
}

TEST(FusionTest, AnExactTitleMatchCountsInFullHoweverLongTheQuestion) {
  // A twelve-term question whose title is four of its terms: the old coordination factor gave
  // 4/12; the title is covered in full.
  EXPECT_FLOAT_EQ(TitleCoverage(4, 12, 4), 1.0f);
  // A title with a repeated n-gram (five terms, four distinct, all matched): nearly full.
  EXPECT_FLOAT_EQ(TitleCoverage(4, 12, 5), 0.8f);
  // A long title sharing one term with a short query: the query's share decides.
  EXPECT_FLOAT_EQ(TitleCoverage(1, 2, 20), 0.5f);
  EXPECT_FLOAT_EQ(TitleCoverage(0, 3, 4), 0.0f);
  EXPECT_FLOAT_EQ(TitleCoverage(0, 0, 4), 1.0f);
}

}  // namespace
}  // namespace tide::query
