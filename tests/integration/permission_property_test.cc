// Permission property: two containers hold near-duplicate documents, each with canary words
// of its own. Thousands of randomized requests scoped to one of them — every mode, fusion,
// grouping, k, search type, endpoint and way of naming the scope — must never return an id,
// snippet, title, citation, typo match or canary of the other, nor its counts. The result cache is on,
// and requests repeat, so answers served from it are held to the same property.

#include <random>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/embedding/hash_embedder.h"
#include "common/storage/store.h"
#include "ingest/applier.h"
#include "query/search_api.h"
#include "query/served_shards.h"
#include "tests/testutil/temp_dir.h"

namespace tide::query {
namespace {

using nlohmann::json;

constexpr const char* kKey = "property-test-key-all-containers";
constexpr const char* kRedKey = "property-test-key-red-only-xx";
constexpr const char* kAdminKey = "property-test-key-admin-red-only";

// Canary words: unique, searchable, and never to be seen outside their container.
const std::vector<std::string> kRedCanaries = {"홍당무암호", "redcanary77", "적색비밀"};
const std::vector<std::string> kBlueCanaries = {"청색비밀", "bluecanary42", "파란암호문"};

ingest::Event Doc(const std::string& container, int i, const std::vector<std::string>& canaries) {
  ingest::Event e;
  e.container_id = container;
  e.doc_id = container + "-doc-" + std::to_string(i);
  e.version = 1;
  e.title = "연차 휴가 규정 " + std::to_string(i);
  e.metadata_json = json{{"tags", {"휴가", canaries[i % canaries.size()]}}}.dump();
  e.text = "# 휴가\n\n연차 휴가는 입사 후 1년이 지나면 15일이 주어집니다. 문서 번호 " + std::to_string(i) +
           ".\n\n신청은 인사 시스템에서 합니다. 비밀 표식 " + canaries[i % canaries.size()] + " 입니다.";
  return e;
}

class PermissionPropertyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      auto store = storage::Store::OpenPrimary(dir_.path() / "store", {.sync_writes = false});
      ASSERT_TRUE(store.ok());
      ingest::Applier applier(store->get(), &embedder_, {});
      ASSERT_TRUE(applier.Init().ok());
      std::vector<ingest::BatchItem> batch;
      std::int64_t offset = 0;
      for (int i = 0; i < 40; ++i) {
        batch.push_back({"t", 0, offset++, Doc("red", i, kRedCanaries)});
        batch.push_back({"t", 0, offset++, Doc("blue", i, kBlueCanaries)});
      }
      ASSERT_TRUE(applier.ApplyBatch(batch).ok());
    }
    follower_ = std::make_unique<Follower>(Follower::Options{
        dir_.path(), dir_.path() / "secondary", std::chrono::milliseconds(10),
        index::IndexSet::Options{embedder_.model_id(), {.dim = embedder_.dimension()}, {}, 16, 64}});
    ASSERT_TRUE(follower_->WaitForSeqForTest(1, std::chrono::seconds(30)));
    rules_ = std::move(*QueryRulesWatcher::Start({}, std::chrono::seconds(60)));
    shards_ = std::make_unique<ServedShards>(follower_.get());
    // The lists run at once, as in the daemon (search.list_threads): no leak through them either.
    shards_->UseListPool(&list_pool_);
    searcher_ = std::make_unique<Searcher>(shards_.get(), &embedder_, rules_.get(), Searcher::Options{});
    authorizer_ = std::make_unique<Authorizer>(
        std::vector<Authorizer::ApiKey>{
            {"all", kKey, {"*"}}, {"red", kRedKey, {"red"}}, {"ops", kAdminKey, {"red"}, /*admin=*/true}},
        std::map<std::string, std::vector<std::string>>{{"rita", {"red"}}});
    api_ = std::make_unique<SearchApi>(shards_.get(), searcher_.get(), authorizer_.get(), SearchApi::Limits{},
                                       &metrics_, /*result_cache_entries=*/256);
  }

  http::HttpResponse Call(const std::string& path, const json& body, const std::string& key) {
    http::HttpRequest r;
    r.method = "POST";
    r.path = r.target = path;
    r.body = body.dump();
    r.headers = {{"authorization", "Bearer " + key}};
    return api_->Handle(r);
  }

  http::HttpResponse Get(const std::string& path, const std::string& param, const std::string& value,
                         const std::string& key) {
    http::HttpRequest r;
    r.method = "GET";
    r.path = path;
    r.target = path + "?" + param + "=" + value;
    r.query_params = {{param, value}};
    r.headers = {{"authorization", "Bearer " + key}};
    return api_->Handle(r);
  }

  testutil::TempDir dir_;
  embedding::HashEmbedder embedder_{embedding::HashEmbedder::Options{128}};
  MetricsRegistry metrics_;
  std::unique_ptr<Follower> follower_;
  ForkJoinPool list_pool_{1};  // outlives shards_
  std::unique_ptr<ServedShards> shards_;
  std::unique_ptr<QueryRulesWatcher> rules_;
  std::unique_ptr<Searcher> searcher_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<SearchApi> api_;
};

TEST_F(PermissionPropertyTest, NothingOfTheOtherContainerEverLeaks) {
  std::mt19937 rng(42);
  auto pick = [&](const auto& options) { return options[rng() % options.size()]; };
  const std::vector<std::string> queries = {"연차 휴가", "휴가 신청", "비밀 표식", "인사 시스템 15일", "문서 번호 7",
                                            "홍당무암호", "청색비밀", "redcanary77", "bluecanary42", "적색비밀 파란암호문",
                                            "휴가 규정 12", "blue", "red",
                                            // One edit from a canary: typo matching must find the
                                            // neighbour in the permitted container only.
                                            "redcanery77", "bluecanory42", "홍당무암효", "청색비빌"};
  const std::vector<std::string> modes = {"hybrid", "vector", "keyword"};
  const std::vector<std::string> fusions = {"rrf", "linear"};
  const std::vector<std::string> groups = {"chunk", "document"};
  const std::vector<std::string> types = {"general", "rag"};
  int responses = 0, with_hits = 0, cached = 0;
  struct Previous {
    bool red;
    json body;
    std::string key;
  };
  std::optional<Previous> previous;
  for (int i = 0; i < 3000; ++i) {
    // Every fourth search repeats the previous one exactly, so that the result cache answers.
    const bool repeat = previous && i % 4 == 0;
    const bool red = repeat ? previous->red : rng() % 2 == 0;  // the permitted side of this request
    const std::string mine = red ? "red" : "blue";
    const std::vector<std::string>& theirs = red ? kBlueCanaries : kRedCanaries;
    json body = {{"query", pick(queries)}, {"k", 1 + static_cast<int>(rng() % 60)}};
    std::string key = kKey;
    switch (rng() % 3) {
      case 0: body["container_ids"] = {mine}; break;
      case 1: body["container_ids"] = {mine, "no-such-container"}; break;
      default:
        if (red) {
          body["principal"] = "rita";
        } else {
          body["container_ids"] = {mine};
        }
    }
    // The red-only key, where the request names nothing outside red (else it is a 403,
    // checked at the end).
    const bool names_unknown = body.contains("container_ids") && body["container_ids"].size() > 1;
    if (red && !names_unknown && rng() % 2 == 0) key = kRedKey;
    const bool context = !repeat && rng() % 5 == 0;
    if (context) {
      body["max_chars"] = 200 + static_cast<int>(rng() % 3000);
      body["neighbors"] = static_cast<int>(rng() % 3);
    } else {
      body["mode"] = pick(modes);
      body["fusion"] = pick(fusions);
      body["group_by"] = pick(groups);
      body["search_type"] = pick(types);
      if (rng() % 3 == 0) body["threshold"] = 0.0;
      // Metadata filters narrow the scope; they must never widen it.
      switch (rng() % 6) {
        case 0: body["filter"] = {{"tags", {"휴가"}}}; break;
        case 1: body["filter"] = {{"tags", theirs}}; break;  // the other side's canary tags
        case 2: body["filter"] = {{"created_at", {{"gte", "2020-01-01"}}}}; break;
        default: break;
      }
    }
    if (i % 10 == 0) {
      // Counts: only the permitted container's.
      http::HttpResponse stats = body.contains("principal") ? Get("/v1/stats", "principal", "rita", key)
                                                            : Get("/v1/stats", "container_ids", mine, key);
      ASSERT_EQ(stats.status, 200) << stats.body;
      json st = json::parse(stats.body);
      ASSERT_EQ(st["containers"].size(), 1u) << stats.body;
      ASSERT_TRUE(st["containers"].contains(mine)) << stats.body;
      ASSERT_EQ(st["chunks"], st["containers"][mine]["chunks"]) << stats.body;
      ASSERT_FALSE(st.contains("index")) << stats.body;  // index-wide figures span both containers
    }
    if (repeat) {
      body = previous->body;
      key = previous->key;
    } else if (!context) {
      previous = Previous{red, body, key};
    }
    http::HttpResponse r = Call(context ? "/v1/context" : "/v1/search", body, key);
    ASSERT_EQ(r.status, 200) << body.dump() << " -> " << r.body;
    ++responses;
    // Everything the indexes contributed (the echoed query is the caller's own text).
    json j = json::parse(r.body);
    const json& hits = context ? j["citations"] : j["hits"];
    // The typo matches come from the index too (the rest of the echoed query is the caller's).
    const json fuzzy = j.contains("query") ? j["query"].value("fuzzy", json::array()) : json::array();
    const std::string payload = hits.dump() + (context ? j["context"].dump() : std::string()) + fuzzy.dump();
    for (const std::string& canary : theirs) {
      ASSERT_EQ(payload.find(canary), std::string::npos) << "canary of the other container leaked: " << body.dump();
    }
    const std::string other = red ? "blue" : "red";
    ASSERT_EQ(payload.find("\"" + other + "\""), std::string::npos) << body.dump();
    ASSERT_EQ(payload.find(other + "-doc-"), std::string::npos) << body.dump();
    with_hits += hits.empty() ? 0 : 1;
    cached += j.value("cached", false) ? 1 : 0;
    for (const json& h : hits) ASSERT_EQ(h["container_id"], mine);
  }
  EXPECT_EQ(responses, 3000);
  // The property was tested on real answers, not empty ones (a third of the searches carry a
  // filter that empties them on purpose: the other side's tags, a date no document has).
  EXPECT_GT(with_hits, 1500);
  EXPECT_GT(cached, 500);       // and on answers from the result cache

  // A typo of a canary finds it in its own container, and nothing in the other.
  for (const auto& [typo, canary, owner, other] :
       std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"redcanery77", "redcanary", "red", "blue"}, {"청색비빌", "청색비밀", "blue", "red"}}) {
    json own = json::parse(Call("/v1/search", {{"query", typo}, {"container_ids", {owner}}, {"mode", "keyword"}}, kKey).body);
    ASSERT_EQ(own["query"]["fuzzy"].size(), 1u) << own.dump();
    EXPECT_EQ(own["query"]["fuzzy"][0]["to"], canary);
    EXPECT_FALSE(own["hits"].empty());
    json theirs = json::parse(Call("/v1/search", {{"query", typo}, {"container_ids", {other}}, {"mode", "keyword"}}, kKey).body);
    EXPECT_TRUE(theirs["query"]["fuzzy"].empty()) << theirs.dump();
  }

  // The red-only key can never reach blue, however it asks.
  EXPECT_EQ(Call("/v1/search", {{"query", "청색비밀"}, {"container_ids", {"blue"}}}, kRedKey).status, 403);
  EXPECT_EQ(Call("/v1/context", {{"query", "청색비밀"}, {"container_ids", {"red", "blue"}}}, kRedKey).status, 403);
}

// Issue 16: figures over the whole index go to admin keys only. A search key that may read
// every container still sees the containers' own counts, never the index block.
// The lists run at once on the list pool answer exactly what they answer one after another.
TEST_F(PermissionPropertyTest, ListsRunAtOnceAnswerAsListsRunInTurn) {
  MetricsRegistry metrics;
  SearchApi uncached(shards_.get(), searcher_.get(), authorizer_.get(), SearchApi::Limits{}, &metrics,
                     /*result_cache_entries=*/0);
  auto hits = [&](const json& body) {
    http::HttpRequest r;
    r.method = "POST";
    r.path = r.target = "/v1/search";
    r.body = body.dump();
    r.headers = {{"authorization", "Bearer " + std::string(kKey)}};
    const http::HttpResponse response = uncached.Handle(r);
    EXPECT_EQ(response.status, 200) << response.body;
    return json::parse(response.body)["hits"];
  };
  int compared = 0;
  for (const char* query : {"연차 휴가", "휴가 신청 인사 시스템", "비밀 표식 redcanary77", "문서 번호 7"}) {
    for (const char* mode : {"hybrid", "keyword"}) {
      const json body = {{"query", query}, {"container_ids", {"red", "blue"}}, {"k", 10}, {"mode", mode}};
      shards_->UseListPool(nullptr);
      const json in_turn = hits(body);
      shards_->UseListPool(&list_pool_);
      const json at_once = hits(body);
      EXPECT_FALSE(at_once.empty()) << query << " " << mode;
      EXPECT_EQ(at_once, in_turn) << query << " " << mode;
      compared += static_cast<int>(at_once.size());
    }
  }
  EXPECT_GT(compared, 40);
}

TEST_F(PermissionPropertyTest, IndexWideStatsNeedAnAdminKey) {
  auto stats = [&](const std::string& key) {
    http::HttpRequest r;
    r.method = "GET";
    r.path = r.target = "/v1/stats";
    r.headers = {{"authorization", "Bearer " + key}};
    http::HttpResponse res = api_->Handle(r);
    EXPECT_EQ(res.status, 200) << res.body;
    return json::parse(res.body);
  };
  const json all = stats(kKey);
  EXPECT_EQ(all["containers"].size(), 2u) << all;
  EXPECT_FALSE(all.contains("index")) << all;
  const json admin = stats(kAdminKey);
  ASSERT_TRUE(admin.contains("index")) << admin;
  EXPECT_EQ(admin["index"]["containers"], 2);
  EXPECT_EQ(admin["index"]["chunks"], all["chunks"]);
  EXPECT_EQ(admin["index"]["sealed_vector_segments"], 0);  // far below hnsw.segment_max_chunks
  EXPECT_EQ(admin["containers"].size(), 1u) << admin;  // its own scope: red
  // Narrowed to some containers, not even an admin key gets index-wide figures.
  http::HttpResponse narrowed = Get("/v1/stats", "container_ids", "red", kAdminKey);
  EXPECT_FALSE(json::parse(narrowed.body).contains("index")) << narrowed.body;
}

}  // namespace
}  // namespace tide::query
