#include "tests/bench/ann_metrics.h"

#include <gtest/gtest.h>

#include <vector>

namespace tide::bench {
namespace {

TEST(AnnMetricsTest, InnerProductMatchesTheDefinitionForAnyLength) {
  std::vector<float> a, b;
  for (int i = 0; i < 19; ++i) {
    a.push_back(static_cast<float>(i));
    b.push_back(i % 2 == 0 ? 1.0f : -1.0f);
  }
  // 0 - 1 + 2 - 3 + ... + 18 = 9 (nine pairs of -1, then 18).
  EXPECT_FLOAT_EQ(InnerProduct(a.data(), b.data(), a.size()), 9.0f);
  EXPECT_FLOAT_EQ(InnerProduct(a.data(), b.data(), 3), 1.0f);
}

TEST(AnnMetricsTest, ExactTopKIsBestFirstAmongThePermittedLabels) {
  // Four 2-d rows; labels 1..4 are rows 0..3.
  const std::vector<float> rows = {1, 0,  0, 1,  0.6f, 0.8f,  -1, 0};
  const float query[2] = {1, 0};
  const std::vector<std::uint64_t> all = {1, 2, 3, 4};
  std::vector<Neighbor> top = ExactTopK(query, rows.data(), 2, all, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].label, 1u);
  EXPECT_EQ(top[1].label, 3u);
  EXPECT_FLOAT_EQ(top[1].score, 0.6f);

  const std::vector<std::uint64_t> some = {2, 4};
  top = ExactTopK(query, rows.data(), 2, some, 10);  // k above the permitted count
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].label, 2u);
  EXPECT_EQ(top[1].label, 4u);
  EXPECT_TRUE(ExactTopK(query, rows.data(), 2, all, 0).empty());
}

TEST(AnnMetricsTest, ExactTopKBreaksTiesByLabel) {
  const std::vector<float> rows = {1, 0,  1, 0,  1, 0};
  const float query[2] = {1, 0};
  const std::vector<std::uint64_t> labels = {3, 1, 2};
  std::vector<Neighbor> top = ExactTopK(query, rows.data(), 2, labels, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].label, 1u);
  EXPECT_EQ(top[1].label, 2u);
}

TEST(AnnMetricsTest, ExactTopKManyEqualsOneQueryAtATime) {
  // Five 3-d rows, three queries.
  const std::vector<float> rows = {1, 0, 0,  0, 1, 0,  0, 0, 1,  0.5f, 0.5f, 0,  -1, 0, 0};
  const std::vector<float> queries = {1, 0, 0,  0, 0.2f, 1,  0.3f, 0.3f, 0.3f};
  const std::vector<std::uint64_t> labels = {1, 2, 3, 4, 5};
  const auto many = ExactTopKMany(queries.data(), 3, rows.data(), 3, labels, 2);
  ASSERT_EQ(many.size(), 3u);
  for (std::size_t q = 0; q < 3; ++q) {
    const auto one = ExactTopK(queries.data() + q * 3, rows.data(), 3, labels, 2);
    ASSERT_EQ(many[q].size(), one.size());
    for (std::size_t i = 0; i < one.size(); ++i) {
      EXPECT_EQ(many[q][i].label, one[i].label);
      EXPECT_FLOAT_EQ(many[q][i].score, one[i].score);
    }
  }
  EXPECT_EQ(many[1][0].label, 3u);
}

TEST(AnnMetricsTest, RecallCountsTrueNeighboursAndTiesOfTheKthScore) {
  const std::vector<Neighbor> exact = {{1, 0.9f}, {2, 0.8f}, {3, 0.7f}};
  EXPECT_DOUBLE_EQ(AnnRecallAtK(exact, exact, 3), 1.0);
  // One miss of three.
  const std::vector<Neighbor> one_miss = {{1, 0.9f}, {2, 0.8f}, {9, 0.1f}};
  EXPECT_DOUBLE_EQ(AnnRecallAtK(one_miss, exact, 3), 2.0 / 3.0);
  // Label 7 scores exactly the 3rd exact score: a tie, not a miss.
  const std::vector<Neighbor> tie = {{1, 0.9f}, {2, 0.8f}, {7, 0.7f}};
  EXPECT_DOUBLE_EQ(AnnRecallAtK(tie, exact, 3), 1.0);
  // A repeated label counts once.
  const std::vector<Neighbor> repeated = {{1, 0.9f}, {1, 0.9f}, {2, 0.8f}};
  EXPECT_DOUBLE_EQ(AnnRecallAtK(repeated, exact, 3), 2.0 / 3.0);
  // Only the first k answers count; a short answer loses what it lacks.
  EXPECT_DOUBLE_EQ(AnnRecallAtK(exact, exact, 1), 1.0);
  const std::vector<Neighbor> short_answer = {{2, 0.8f}};
  EXPECT_DOUBLE_EQ(AnnRecallAtK(short_answer, exact, 3), 1.0 / 3.0);
}

TEST(AnnMetricsTest, RecallWithFewerPermittedThanKAsksForAllOfThem) {
  const std::vector<Neighbor> exact = {{5, 0.2f}};
  EXPECT_DOUBLE_EQ(AnnRecallAtK(exact, exact, 10), 1.0);
  EXPECT_DOUBLE_EQ(AnnRecallAtK({}, exact, 10), 0.0);
  EXPECT_DOUBLE_EQ(AnnRecallAtK({}, {}, 10), 1.0);  // nothing permitted, nothing to find
}

}  // namespace
}  // namespace tide::bench
