#include "query/search_api.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/embedding/hash_embedder.h"
#include "tests/testutil/temp_dir.h"

namespace tide::query {
namespace {

// The API on a daemon with no store yet: request validation must answer before readiness.
class SearchApiTest : public ::testing::Test {
 protected:
  SearchApiTest()
      : follower_(Follower::Options{dir_.path(), dir_.path() / "secondary", std::chrono::milliseconds(50),
                                    index::IndexSet::Options{embedder_.model_id(), {}, {}, 4096, 64}}),
        rules_(std::move(*QueryRulesWatcher::Start({}, std::chrono::seconds(60)))),
        searcher_(&follower_, &embedder_, rules_.get(), {}),
        api_(&follower_, &searcher_, {}, &metrics_) {}

  http::HttpResponse Post(const std::string& body) {
    http::HttpRequest r;
    r.method = "POST";
    r.path = r.target = "/v1/search";
    r.body = body;
    return api_.Handle(r);
  }

  testutil::TempDir dir_;
  embedding::HashEmbedder embedder_;
  MetricsRegistry metrics_;
  Follower follower_;
  std::unique_ptr<QueryRulesWatcher> rules_;
  Searcher searcher_;
  SearchApi api_;
};

struct BadRequest {
  const char* name;
  std::string body;
  int status;
  const char* says;
};

TEST_F(SearchApiTest, EveryMalformedRequestGetsA4xxThatSaysWhatIsWrong) {
  const std::string scope = R"("container_ids":["a"])";
  const std::vector<BadRequest> cases = {
      {"not json", "{nope", 400, "not valid JSON"},
      {"array body", "[1,2]", 400, "JSON object"},
      {"no query", "{" + scope + "}", 400, "'query'"},
      {"query wrong type", R"({"query":7,)" + scope + "}", 400, "'query'"},
      {"empty query", R"({"query":"   ",)" + scope + "}", 400, "must not be empty"},
      {"huge query", R"({"query":")" + std::string(5000, 'x') + "\"," + scope + "}", 400, "limit"},
      {"missing scope", R"({"query":"x"})", 403, "container_ids"},
      {"empty scope", R"({"query":"x","container_ids":[]})", 403, "empty"},
      {"scope wrong type", R"({"query":"x","container_ids":"a"})", 400, "array"},
      {"scope of numbers", R"({"query":"x","container_ids":[1]})", 400, "strings"},
      {"huge k", R"({"query":"x",)" + scope + R"(,"k":100000})", 400, "'k'"},
      {"zero k", R"({"query":"x",)" + scope + R"(,"k":0})", 400, "'k'"},
      {"k as string", R"({"query":"x",)" + scope + R"(,"k":"10"})", 400, "integer"},
      {"bad mode", R"({"query":"x",)" + scope + R"(,"mode":"magic"})", 400, "'mode'"},
      {"bad search type", R"({"query":"x",)" + scope + R"(,"search_type":"fast"})", 400, "'search_type'"},
      {"bad group_by", R"({"query":"x",)" + scope + R"(,"group_by":"page"})", 400, "'group_by'"},
      {"bad weights", R"({"query":"x",)" + scope + R"(,"weights":{"vector":-1}})", 400, "weights.vector"},
      {"unknown weight", R"({"query":"x",)" + scope + R"(,"weights":{"bm25":1}})", 400, "unknown weight"},
      {"zero weights", R"({"query":"x",)" + scope + R"(,"weights":{"vector":0}})", 400, "positive"},
      {"bad threshold", R"({"query":"x",)" + scope + R"(,"threshold":7})", 400, "'threshold'"},
      {"unknown field", R"({"query":"x",)" + scope + R"(,"size":3})", 400, "unknown field 'size'"},
  };
  for (const BadRequest& c : cases) {
    http::HttpResponse r = Post(c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << c.name;
    EXPECT_EQ(j["status"], c.status) << c.name;
    EXPECT_NE(j["error"]["reason"].get<std::string>().find(c.says), std::string::npos)
        << c.name << ": " << j["error"]["reason"];
  }
}

TEST_F(SearchApiTest, RoutesMethodsReadinessAndAnalyze) {
  http::HttpRequest r;
  r.method = "GET";
  r.path = "/nope";
  EXPECT_EQ(api_.Handle(r).status, 404);
  r.path = "/v1/search";
  EXPECT_EQ(api_.Handle(r).status, 405);
  r.path = "/healthz";
  EXPECT_EQ(api_.Handle(r).status, 200);
  r.path = "/readyz";
  EXPECT_EQ(api_.Handle(r).status, 503);  // no store yet
  EXPECT_EQ(Post(R"({"query":"x","container_ids":["a"]})").status, 503);
  r.path = "/v1/analyze";
  EXPECT_EQ(api_.Handle(r).status, 400);
  r.query_params = {{"text", "서울에서 맛집 찾아줘"}};
  http::HttpResponse analyzed = api_.Handle(r);
  ASSERT_EQ(analyzed.status, 200);
  nlohmann::json j = nlohmann::json::parse(analyzed.body);
  EXPECT_EQ(j["language"], "ko");
  EXPECT_EQ(j["words"][0]["key"], "서울");
  r.path = "/metrics";
  http::HttpResponse metrics = api_.Handle(r);
  EXPECT_NE(metrics.body.find("tide_query_requests_total{route=\"/v1/search\",status=\"405\"} 1"), std::string::npos)
      << metrics.body;
}

}  // namespace
}  // namespace tide::query
