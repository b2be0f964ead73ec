#include "tests/bench/ranking_metrics.h"

#include <gtest/gtest.h>

namespace tide::bench {
namespace {

using Ids = std::vector<std::string>;
using Rel = std::set<std::string>;

TEST(RankingMetricsTest, RecallCountsRelevantIdsInTheFirstK) {
  const Ids ranked = {"a", "b", "c", "d"};
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, Rel{"a"}, 1), 1.0);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, Rel{"c"}, 1), 0.0);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, Rel{"c"}, 3), 1.0);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, Rel{"b", "d"}, 2), 0.5);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, Rel{"b", "d"}, 4), 1.0);
  // A relevant id that was never retrieved keeps recall below 1 at any k.
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, Rel{"a", "z"}, 10), 0.5);
}

TEST(RankingMetricsTest, RecallEdgeCases) {
  EXPECT_DOUBLE_EQ(RecallAtK(Ids{}, Rel{"a"}, 10), 0.0);
  EXPECT_DOUBLE_EQ(RecallAtK(Ids{"a"}, Rel{}, 10), 0.0);
  EXPECT_DOUBLE_EQ(RecallAtK(Ids{"a"}, Rel{"a"}, 0), 0.0);
  // k beyond the list: the whole list counts.
  EXPECT_DOUBLE_EQ(RecallAtK(Ids{"x", "a"}, Rel{"a"}, 100), 1.0);
  // A duplicate in the ranking is not counted twice.
  EXPECT_DOUBLE_EQ(RecallAtK(Ids{"a", "a"}, Rel{"a", "b"}, 2), 0.5);
}

TEST(RankingMetricsTest, ReciprocalRankIsOneOverTheFirstRelevantRank) {
  const Ids ranked = {"a", "b", "c", "d"};
  EXPECT_DOUBLE_EQ(ReciprocalRankAtK(ranked, Rel{"a"}, 10), 1.0);
  EXPECT_DOUBLE_EQ(ReciprocalRankAtK(ranked, Rel{"b"}, 10), 0.5);
  EXPECT_DOUBLE_EQ(ReciprocalRankAtK(ranked, Rel{"d"}, 10), 0.25);
  // Only the first relevant hit counts.
  EXPECT_DOUBLE_EQ(ReciprocalRankAtK(ranked, Rel{"c", "b"}, 10), 0.5);
  // Beyond the cut-off: 0.
  EXPECT_DOUBLE_EQ(ReciprocalRankAtK(ranked, Rel{"d"}, 3), 0.0);
  EXPECT_DOUBLE_EQ(ReciprocalRankAtK(ranked, Rel{"z"}, 10), 0.0);
  EXPECT_DOUBLE_EQ(ReciprocalRankAtK(Ids{}, Rel{"a"}, 10), 0.0);
  EXPECT_DOUBLE_EQ(ReciprocalRankAtK(ranked, Rel{}, 10), 0.0);
}

TEST(RankingMetricsTest, SummaryAveragesOverQueries) {
  RankingSummary s;
  s.Add(Ids{"a", "b"}, Rel{"a"});                                             // rank 1
  s.Add(Ids{"x", "y", "b"}, Rel{"b"});                                        // rank 3
  s.Add(Ids{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "c"}, Rel{"c"});  // rank 11
  s.Add(Ids{}, Rel{"d"});                                                     // not found
  const RankingSummary m = s.Mean();
  EXPECT_EQ(m.queries, 4u);
  EXPECT_DOUBLE_EQ(m.recall_1, 0.25);
  EXPECT_DOUBLE_EQ(m.recall_5, 0.5);
  EXPECT_DOUBLE_EQ(m.recall_10, 0.5);
  EXPECT_DOUBLE_EQ(m.mrr_10, (1.0 + 1.0 / 3.0) / 4.0);
}

TEST(RankingMetricsTest, EmptySummaryIsZero) {
  const RankingSummary m = RankingSummary{}.Mean();
  EXPECT_EQ(m.queries, 0u);
  EXPECT_DOUBLE_EQ(m.mrr_10, 0.0);
  EXPECT_DOUBLE_EQ(m.recall_10, 0.0);
}

}  // namespace
}  // namespace tide::bench
