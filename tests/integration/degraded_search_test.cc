// When the query embedder's provider is down, search answers from the keyword retrievers and
// says so, instead of failing.

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/embedding/openai_embedder.h"
#include "common/http/http_server.h"
#include "common/storage/store.h"
#include "ingest/applier.h"
#include "query/searcher.h"
#include "query/served_shards.h"
#include "tests/testutil/temp_dir.h"

namespace tide::query {
namespace {

class SwitchableProvider {
 public:
  http::HttpResponse Handle(const http::HttpRequest& r) {
    if (down_) return http::JsonError(503, "unavailable", "the provider is down");
    // A provider that answers late (an overloaded GPU box): the caller's deadline must not wait.
    if (const int ms = delay_ms_.load(); ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    nlohmann::json req = nlohmann::json::parse(r.body, nullptr, false);
    nlohmann::json data = nlohmann::json::array();
    int i = 0;
    for (const auto& text : req["input"]) {
      std::vector<float> v(8, 0.05f);
      for (char c : text.get<std::string>()) v[static_cast<unsigned char>(c) % 8] += 1.0f;
      data.push_back({{"index", i++}, {"embedding", v}});
    }
    return {200, "application/json", nlohmann::json{{"data", data}}.dump(), {}};
  }
  std::atomic<bool> down_{false};
  std::atomic<int> delay_ms_{0};
};

// One document indexed through the fake provider; Start() gives a searcher that embeds its
// queries through it with the given embedder options.
class DegradedSearchTest : public ::testing::Test {
 protected:
  void Start(embedding::OpenAiEmbedder::Options eo) {
    auto server = http::HttpServer::Start({}, [this](const http::HttpRequest& r) { return provider_.Handle(r); });
    ASSERT_TRUE(server.ok());
    server_ = std::move(*server);
    eo.base_url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1";
    eo.model = "fake";
    eo.dimension = 8;
    auto embedder = embedding::OpenAiEmbedder::Create(eo);
    ASSERT_TRUE(embedder.ok()) << embedder.status().ToString();
    embedder_ = std::move(*embedder);
    {
      auto store = storage::Store::OpenPrimary(dir_.path() / "store", {.sync_writes = false});
      ASSERT_TRUE(store.ok());
      ingest::Applier applier(store->get(), embedder_.get(), {});
      ASSERT_TRUE(applier.Init().ok());
      ingest::Event e;
      e.container_id = "hr";
      e.doc_id = "leave";
      e.version = 1;
      e.title = "휴가 규정";
      e.text = "연차 휴가는 입사 후 1년이 지나면 15일이 주어집니다.";
      ASSERT_TRUE(applier.ApplyBatch({{"t", 0, 0, e}}).ok());
    }
    follower_ = std::make_unique<Follower>(
        Follower::Options{dir_.path(), dir_.path() / "secondary", std::chrono::milliseconds(10),
                          index::IndexSet::Options{embedder_->model_id(), {.dim = 8}, {}, 4096, 64}});
    auto rules = QueryRulesWatcher::Start({}, std::chrono::seconds(60));
    ASSERT_TRUE(rules.ok());
    rules_ = std::move(*rules);
    shards_ = std::make_unique<ServedShards>(follower_.get());
    searcher_ = std::make_unique<Searcher>(shards_.get(), embedder_.get(), rules_.get(), Searcher::Options{});
    ASSERT_TRUE(follower_->WaitForSeqForTest(1, std::chrono::seconds(30)));
  }

  testutil::TempDir dir_;
  SwitchableProvider provider_;
  std::unique_ptr<http::HttpServer> server_;
  std::unique_ptr<embedding::Embedder> embedder_;
  std::unique_ptr<Follower> follower_;
  std::unique_ptr<ServedShards> shards_;
  std::unique_ptr<QueryRulesWatcher> rules_;
  std::unique_ptr<Searcher> searcher_;
};

TEST_F(DegradedSearchTest, EmbedderOutageFallsBackToKeywordRetrieversAndSaysSo) {
  embedding::OpenAiEmbedder::Options eo;
  eo.max_attempts = 1;
  Start(eo);
  if (HasFatalFailure()) return;
  Searcher& searcher = *searcher_;
  SwitchableProvider& provider = provider_;

  SearchRequest req;
  req.query = "연차 휴가";
  req.container_ids = {"hr"};
  auto healthy = searcher.Search(req);
  ASSERT_TRUE(healthy.ok()) << healthy.status().ToString();
  EXPECT_FALSE(healthy->degraded);
  ASSERT_FALSE(healthy->hits.empty());
  EXPECT_GT(healthy->hits[0].vector.rank, 0u);

  provider.down_ = true;
  auto degraded = searcher.Search(req);
  ASSERT_TRUE(degraded.ok()) << degraded.status().ToString();
  EXPECT_TRUE(degraded->degraded);
  EXPECT_NE(degraded->degraded_reason.find("embedding"), std::string::npos);
  ASSERT_FALSE(degraded->hits.empty());
  EXPECT_EQ(degraded->hits[0].doc_id, "leave");
  EXPECT_EQ(degraded->hits[0].vector.rank, 0u);
  EXPECT_FLOAT_EQ(degraded->weights.vector, 0.0f);

  req.mode = SearchMode::kVector;  // nothing to fall back to
  auto vector_only = searcher.Search(req);
  ASSERT_FALSE(vector_only.ok());
  EXPECT_EQ(vector_only.status().code(), Status::Code::kUnavailable);
}

// A slow provider and a search deadline: the query embedding gets 80% of the time left (its
// request timeout is cut to that, with no retry past it), and the keyword retrievers answer
// in time, flagged timed_out and degraded. Vector mode answers in time with no hits.
TEST_F(DegradedSearchTest, ASlowEmbedderIsCutAtTheSearchDeadlineAndKeywordsStillAnswer) {
  embedding::OpenAiEmbedder::Options eo;
  eo.timeout = std::chrono::seconds(20);  // the provider's own limits are far off
  eo.max_attempts = 5;
  Start(eo);
  if (HasFatalFailure()) return;
  Searcher& searcher = *searcher_;
  SwitchableProvider& provider = provider_;

  provider.delay_ms_ = 4000;
  SearchRequest req;
  req.query = "연차 휴가";
  req.container_ids = {"hr"};
  const auto start = std::chrono::steady_clock::now();
  req.deadline = start + std::chrono::milliseconds(500);
  auto cut = searcher.Search(req);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(cut.ok()) << cut.status().ToString();
  // Not the provider's 4 s (nor 5 attempts of it): the deadline's. The margin is for a loaded
  // machine, not a measurement.
  EXPECT_LT(took, std::chrono::milliseconds(2500));
  EXPECT_TRUE(cut->timed_out);
  EXPECT_TRUE(cut->degraded);
  EXPECT_NE(cut->degraded_reason.find("timed out"), std::string::npos) << cut->degraded_reason;
  ASSERT_FALSE(cut->hits.empty());
  EXPECT_EQ(cut->hits[0].doc_id, "leave");
  EXPECT_EQ(cut->hits[0].vector.rank, 0u);

  req.mode = SearchMode::kVector;
  req.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  auto vector_only = searcher.Search(req);
  ASSERT_TRUE(vector_only.ok()) << vector_only.status().ToString();
  EXPECT_TRUE(vector_only->timed_out);
  EXPECT_TRUE(vector_only->hits.empty());

  // With time enough, the same provider answers and nothing is cut.
  provider.delay_ms_ = 50;
  req.mode = SearchMode::kHybrid;
  req.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto whole = searcher.Search(req);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_FALSE(whole->timed_out);
  EXPECT_FALSE(whole->degraded);
  ASSERT_FALSE(whole->hits.empty());
  EXPECT_GT(whole->hits[0].vector.rank, 0u);
}

}  // namespace
}  // namespace tide::query
