// Issue 13: each hit carries a calibrated relevance computed from its own evidence, and
// min_relevance drops the hits below it (query/calibration.h).

#include <cmath>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>

#include "common/embedding/hash_embedder.h"
#include "common/storage/store.h"
#include "ingest/applier.h"
#include "query/searcher.h"
#include "tests/testutil/temp_dir.h"

namespace tide::query {
namespace {

class CalibratedRelevanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      auto store = storage::Store::OpenPrimary(dir_.path() / "store", {.sync_writes = false});
      ASSERT_TRUE(store.ok());
      ingest::Applier applier(store->get(), &embedder_, {});
      ASSERT_TRUE(applier.Init().ok());
      std::vector<ingest::BatchItem> batch;
      auto add = [&](const std::string& id, const std::string& title, const std::string& text) {
        ingest::Event e;
        e.container_id = "hr";
        e.doc_id = id;
        e.version = 1;
        e.title = title;
        e.text = text;
        batch.push_back({"t", 0, static_cast<std::int64_t>(batch.size()), e});
      };
      add("leave", "휴가 규정", "연차 휴가는 입사 후 1년이 지나면 15일이 주어집니다. 연차 휴가 신청은 인사 시스템에서 합니다.");
      add("travel", "출장 규정", "출장 신청은 일주일 전에 합니다. 휴가 중 출장은 없습니다.");
      add("meal", "식대", "점심 식대는 월 20만 원입니다.");
      ASSERT_TRUE(applier.ApplyBatch(batch).ok());
    }
    // Relevance rises with coverage only, so the test can tell hits apart by what they hold.
    const auto rules_path = dir_.path() / "rules.json";
    std::ofstream(rules_path) << R"({"calibration": {"hash": {"keyword": {"intercept": -3, "score": 0, "coverage": 6,
                                     "cosine": 0, "reciprocal_rank": 0, "fitted_on": "this test"}}}})";
    auto rules = QueryRulesWatcher::Start({rules_path, {}, {}, {}}, std::chrono::seconds(60));
    ASSERT_TRUE(rules.ok()) << rules.status().ToString();
    rules_ = std::move(*rules);
    follower_ = std::make_unique<Follower>(
        Follower::Options{dir_.path(), dir_.path() / "secondary", std::chrono::milliseconds(10),
                          index::IndexSet::Options{embedder_.model_id(), {}, {}, 4096, 64}});
    searcher_ = std::make_unique<Searcher>(follower_.get(), &embedder_, rules_.get(), Searcher::Options{});
    ASSERT_TRUE(follower_->WaitForSeqForTest(1, std::chrono::seconds(30)));
  }

  testutil::TempDir dir_;
  embedding::HashEmbedder embedder_;
  std::unique_ptr<QueryRulesWatcher> rules_;
  std::unique_ptr<Follower> follower_;
  std::unique_ptr<Searcher> searcher_;
};

TEST_F(CalibratedRelevanceTest, EachHitsRelevanceComesFromItsOwnEvidenceAndMinRelevanceDropsTheRest) {
  EXPECT_TRUE(searcher_->Calibrated(SearchMode::kKeyword));
  EXPECT_FALSE(searcher_->Calibrated(SearchMode::kHybrid));  // no fit for that mode: no relevance

  SearchRequest req;
  req.query = "연차 휴가 신청";
  req.container_ids = {"hr"};
  req.mode = SearchMode::kKeyword;
  auto all = searcher_->Search(req);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->hits.size(), 2u);  // leave and travel; meal holds none of the words
  EXPECT_FLOAT_EQ(all->min_relevance, 0.0f);
  const SearchHit& leave = all->hits[0];
  const SearchHit& travel = all->hits[1];
  EXPECT_EQ(leave.doc_id, "leave");
  // leave holds every term of the query; travel holds 휴가 and 신청 but not 연차.
  EXPECT_DOUBLE_EQ(leave.evidence.coverage, 1.0);
  EXPECT_GT(travel.evidence.coverage, 0.3);
  EXPECT_LT(travel.evidence.coverage, 1.0);
  EXPECT_DOUBLE_EQ(leave.evidence.reciprocal_rank, 1.0);
  EXPECT_DOUBLE_EQ(travel.evidence.reciprocal_rank, 0.5);
  EXPECT_DOUBLE_EQ(leave.evidence.cosine, 0.0);  // keyword mode: no vector list
  for (const SearchHit& h : all->hits) {
    ASSERT_TRUE(h.relevance.has_value()) << h.doc_id;
    EXPECT_NEAR(*h.relevance, 1 / (1 + std::exp(-(-3 + 6 * h.evidence.coverage))), 1e-6) << h.doc_id;
  }
  ASSERT_GT(*leave.relevance, *travel.relevance);

  // A bar between the two keeps leave only; a bar above both keeps nothing.
  req.min_relevance = (*leave.relevance + *travel.relevance) / 2;
  auto some = searcher_->Search(req);
  ASSERT_TRUE(some.ok());
  ASSERT_EQ(some->hits.size(), 1u);
  EXPECT_EQ(some->hits[0].doc_id, "leave");
  EXPECT_FLOAT_EQ(some->min_relevance, *req.min_relevance);
  req.min_relevance = 0.999f;
  auto none = searcher_->Search(req);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->hits.empty());

  // Without a fit for the mode, hits carry no relevance and nothing is dropped.
  req.mode = SearchMode::kHybrid;
  req.min_relevance.reset();
  auto hybrid = searcher_->Search(req);
  ASSERT_TRUE(hybrid.ok());
  ASSERT_FALSE(hybrid->hits.empty());
  EXPECT_FALSE(hybrid->hits[0].relevance.has_value());
}

}  // namespace
}  // namespace tide::query
