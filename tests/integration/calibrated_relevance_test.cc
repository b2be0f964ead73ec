// Issue 13: each hit carries a calibrated relevance computed from its own evidence, and
// min_relevance drops the hits below it (query/calibration.h).

#include <cmath>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "common/embedding/hash_embedder.h"
#include "common/storage/store.h"
#include "ingest/applier.h"
#include "common/metrics.h"
#include "query/search_api.h"
#include "query/searcher.h"
#include "query/served_shards.h"
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
    shards_ = std::make_unique<ServedShards>(follower_.get());
    searcher_ = std::make_unique<Searcher>(shards_.get(), &embedder_, rules_.get(), Searcher::Options{});
    ASSERT_TRUE(follower_->WaitForSeqForTest(1, std::chrono::seconds(30)));
  }

  testutil::TempDir dir_;
  embedding::HashEmbedder embedder_;
  std::unique_ptr<QueryRulesWatcher> rules_;
  std::unique_ptr<Follower> follower_;
  std::unique_ptr<ServedShards> shards_;
  std::unique_ptr<Searcher> searcher_;
};

TEST_F(CalibratedRelevanceTest, EachHitsRelevanceComesFromItsOwnEvidenceAndMinRelevanceDropsTheRest) {
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

  // Overriding the fusion or the weights the calibration was fitted with: no relevance, and a
  // bar that cannot be checked keeps everything out, saying why.
  req.fusion = Fusion::kRrf;
  req.min_relevance = 0.01f;
  auto refused = searcher_->Search(req);
  ASSERT_TRUE(refused.ok());
  EXPECT_TRUE(refused->hits.empty());
  EXPECT_NE(refused->relevance_unavailable.find("fusion and weights"), std::string::npos) << refused->relevance_unavailable;
  req.min_relevance.reset();
  auto overridden = searcher_->Search(req);
  ASSERT_TRUE(overridden.ok());
  ASSERT_FALSE(overridden->hits.empty());
  EXPECT_FALSE(overridden->hits[0].relevance.has_value());
  req.fusion.reset();

  // Without a fit for the mode, hits carry no relevance, and a bar keeps everything out.
  req.mode = SearchMode::kHybrid;
  auto hybrid = searcher_->Search(req);
  ASSERT_TRUE(hybrid.ok());
  ASSERT_FALSE(hybrid->hits.empty());
  EXPECT_FALSE(hybrid->hits[0].relevance.has_value());
  EXPECT_FLOAT_EQ(hybrid->min_relevance, 0.0f);
  EXPECT_TRUE(hybrid->relevance_unavailable.empty());
  req.min_relevance = 0.01f;
  auto uncalibrated = searcher_->Search(req);
  ASSERT_TRUE(uncalibrated.ok());
  EXPECT_TRUE(uncalibrated->hits.empty());
  EXPECT_NE(uncalibrated->relevance_unavailable.find("no calibration for this embedder and mode 'hybrid'"),
            std::string::npos) << uncalibrated->relevance_unavailable;
}

// Over HTTP: relevance and its evidence are in every hit, and a bar that cannot be checked
// answers nothing and says why, on /v1/search and /v1/context alike.
TEST_F(CalibratedRelevanceTest, TheApiShowsRelevanceAndAnswersNothingToABarItCannotCheck) {
  Authorizer authorizer({{"all", "calibrated-relevance-test-key", {"*"}}}, {});
  MetricsRegistry metrics;
  SearchApi api(shards_.get(), searcher_.get(), &authorizer, {}, &metrics);
  auto post = [&](const std::string& path, const std::string& body) {
    http::HttpRequest r;
    r.method = "POST";
    r.path = r.target = path;
    r.body = body;
    r.headers = {{"authorization", "Bearer calibrated-relevance-test-key"}};
    return api.Handle(r);
  };
  const http::HttpResponse ok =
      post("/v1/search", R"({"query":"연차 휴가","container_ids":["hr"],"mode":"keyword","min_relevance":0.01})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  const nlohmann::json j = nlohmann::json::parse(ok.body);
  EXPECT_FLOAT_EQ(j["min_relevance"].get<float>(), 0.01f);
  ASSERT_FALSE(j["hits"].empty());
  for (const auto& hit : j["hits"]) {
    EXPECT_GT(hit["relevance"].get<double>(), 0.01) << hit.dump();
    EXPECT_TRUE(hit["explain"]["relevance"].contains("coverage")) << hit.dump();
  }
  for (const std::string path : {"/v1/search", "/v1/context"}) {
    const http::HttpResponse r = post(path, R"({"query":"연차 휴가","container_ids":["hr"],"min_relevance":0.01})");
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    const nlohmann::json body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body.value("relevance_unavailable", ""), "the rules file has no calibration for this embedder and mode 'hybrid'")
        << path << ": " << r.body;
    EXPECT_TRUE(body.contains("hits") ? body["hits"].empty() : body["citations"].empty()) << path << ": " << r.body;
  }
}

}  // namespace
}  // namespace tide::query
