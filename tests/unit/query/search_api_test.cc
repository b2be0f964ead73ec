#include "query/search_api.h"

#include <cstring>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/embedding/hash_embedder.h"
#include "query/served_shards.h"
#include "query/shard_api.h"
#include "query/shard_wire.h"
#include "tests/testutil/temp_dir.h"

namespace tide::query {
namespace {

// The API on a daemon with no store yet: request validation must answer before readiness.
class SearchApiTest : public ::testing::Test {
 protected:
  SearchApiTest()
      : follower_(Follower::Options{dir_.path(), dir_.path() / "secondary", std::chrono::milliseconds(50),
                                    index::IndexSet::Options{embedder_.model_id(), {}, {}, 4096, 64}}),
        shards_(&follower_),
        rules_(std::move(*QueryRulesWatcher::Start({}, std::chrono::seconds(60)))),
        searcher_(&shards_, &embedder_, rules_.get(), {}),
        authorizer_({{"all", std::string(kKey), {"*"}},
                     {"hr-only", std::string(kHrKey), {"hr"}},
                     {"ops", std::string(kAdminKey), {"hr"}, /*admin=*/true},
                     {"slow", std::string(kLimitedKey), {"hr"}, false, {/*per_second=*/0.5, /*burst=*/2}},
                     {"router", std::string(kRouterKey), {"*"}, /*admin=*/true}},
                    {{"alice", {"hr", "eng"}}, {"bob", {"eng"}}, {"nobody", {}}}),
        api_(&shards_, &searcher_, &authorizer_, {}, &metrics_) {}

  static constexpr std::string_view kKey = "unit-test-key-all-containers";
  static constexpr std::string_view kHrKey = "unit-test-key-hr-container";
  static constexpr std::string_view kAdminKey = "unit-test-key-admin-role";
  static constexpr std::string_view kLimitedKey = "unit-test-key-rate-limited";
  static constexpr std::string_view kRouterKey = "unit-test-key-admin-every-container";

  http::HttpResponse Call(const std::string& method, const std::string& path, const std::string& body,
                          std::string_view key) {
    http::HttpRequest r;
    r.method = method;
    r.path = r.target = path;
    r.body = body;
    r.headers = {{"authorization", "Bearer " + std::string(key)}};
    return api_.Handle(r);
  }

  http::HttpResponse Post(const std::string& body, std::string_view key = kKey) {
    http::HttpRequest r;
    r.method = "POST";
    r.path = r.target = "/v1/search";
    r.body = body;
    r.headers = {{"authorization", "Bearer " + std::string(key)}};
    return api_.Handle(r);
  }

  testutil::TempDir dir_;
  embedding::HashEmbedder embedder_;
  MetricsRegistry metrics_;
  Follower follower_;
  ServedShards shards_;
  std::unique_ptr<QueryRulesWatcher> rules_;
  Searcher searcher_;
  Authorizer authorizer_;
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
      {"not utf-8", "{\"query\":\"\xff\"," + scope + "}", 400, "not valid UTF-8"},
      {"overlong utf-8", "{\"query\":\"\xc0\xaf\"," + scope + "}", 400, "not valid UTF-8"},
      {"surrogate", "{\"query\":\"\xed\xa0\x80\"," + scope + "}", 400, "not valid UTF-8"},
      {"array body", "[1,2]", 400, "JSON object"},
      {"no query", "{" + scope + "}", 400, "'query'"},
      {"query wrong type", R"({"query":7,)" + scope + "}", 400, "'query'"},
      {"empty query", R"({"query":"   ",)" + scope + "}", 400, "must not be empty"},
      {"huge query", R"({"query":")" + std::string(5000, 'x') + "\"," + scope + "}", 400, "limit"},
      {"missing scope", R"({"query":"x"})", 403, "container_ids"},
      {"principal wrong type", R"({"query":"x","principal":5})", 400, "'principal'"},
      {"empty scope", R"({"query":"x","container_ids":[]})", 403, "empty"},
      {"scope wrong type", R"({"query":"x","container_ids":"a"})", 400, "array"},
      {"scope of numbers", R"({"query":"x","container_ids":[1]})", 400, "strings"},
      {"huge k", R"({"query":"x",)" + scope + R"(,"k":100000})", 400, "'k'"},
      {"zero k", R"({"query":"x",)" + scope + R"(,"k":0})", 400, "'k'"},
      {"k as string", R"({"query":"x",)" + scope + R"(,"k":"10"})", 400, "integer"},
      {"bad mode", R"({"query":"x",)" + scope + R"(,"mode":"magic"})", 400, "'mode' must be one of hybrid, vector, keyword"},
      {"bad search type", R"({"query":"x",)" + scope + R"(,"search_type":"fast"})", 400, "'search_type' must be one of general, rag"},
      {"bad group_by", R"({"query":"x",)" + scope + R"(,"group_by":"page"})", 400, "'group_by' must be one of chunk, document"},
      {"bad weights", R"({"query":"x",)" + scope + R"(,"weights":{"vector":-1}})", 400, "weights.vector"},
      {"unknown weight", R"({"query":"x",)" + scope + R"(,"weights":{"bm25":1}})", 400, "unknown weight"},
      {"zero weights", R"({"query":"x",)" + scope + R"(,"weights":{"vector":0}})", 400, "positive"},
      {"form feed query", R"({"query":"\f\u000b",)" + scope + "}", 400, "'query' must not be empty"},
      {"bad fusion", R"({"query":"x",)" + scope + R"(,"fusion":"borda"})", 400, "'fusion' must be one of rrf, linear"},
      {"bad threshold", R"({"query":"x",)" + scope + R"(,"threshold":7})", 400, "'threshold'"},
      {"bad min_relevance", R"({"query":"x",)" + scope + R"(,"min_relevance":1.5})", 400, "'min_relevance' must be a number between 0 and 1"},
      {"zero timeout", R"({"query":"x",)" + scope + R"(,"timeout_ms":0})", 400,
       "'timeout_ms' must be an integer between 1 and 60000 (search.max_timeout_ms)"},
      {"timeout over the limit", R"({"query":"x",)" + scope + R"(,"timeout_ms":60001})", 400, "'timeout_ms'"},
      {"timeout as text", R"({"query":"x",)" + scope + R"(,"timeout_ms":"1s"})", 400, "'timeout_ms'"},
      {"unknown field", R"({"query":"x",)" + scope + R"(,"size":3})", 400, "unknown field 'size'"},
      {"filter not object", R"({"query":"x",)" + scope + R"(,"filter":["a"]})", 400, "'filter'"},
      {"unknown filter", R"({"query":"x",)" + scope + R"(,"filter":{"author":"kim"}})", 400, "unknown filter 'author'"},
      {"doc_type number", R"({"query":"x",)" + scope + R"(,"filter":{"doc_type":3}})", 400, "filter.doc_type"},
      {"empty tags", R"({"query":"x",)" + scope + R"(,"filter":{"tags":[]}})", 400, "filter.tags"},
      {"bad date", R"({"query":"x",)" + scope + R"(,"filter":{"created_at":{"gte":"last week"}}})", 400,
       "filter.created_at.gte"},
      {"bad range op", R"({"query":"x",)" + scope + R"(,"filter":{"updated_at":{"after":"2025-01-01"}}})", 400,
       "filter.updated_at.after"},
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

// Schemathesis found a positive weight below float's range (5e-324) read as 0 and refused as
// "at least one weight must be positive": every weight above 0 counts as above 0.
TEST_F(SearchApiTest, ATinyPositiveWeightIsStillPositive) {
  http::HttpResponse r = Post(R"({"query":"x","container_ids":["a"],"weights":{"fulltext":5e-324}})");
  EXPECT_NE(r.status, 400) << r.body;
}

TEST_F(SearchApiTest, DeniesByDefault) {
  http::HttpRequest r;
  r.method = "GET";
  r.path = "/readyz";
  EXPECT_EQ(api_.Handle(r).status, 401);  // no key
  r.headers = {{"authorization", "Bearer not-a-key-at-all-xxxx"}};
  EXPECT_EQ(api_.Handle(r).status, 401);
  r.path = "/healthz";
  EXPECT_EQ(api_.Handle(r).status, 200);  // the one open route
  struct Case {
    std::string body;
    std::string_view key;
    int status;
    const char* says;
  };
  const std::vector<Case> cases = {
      {R"({"query":"x","container_ids":["eng"]})", kHrKey, 403, "outside this API key's scope"},
      {R"({"query":"x","container_ids":["hr","eng"]})", kHrKey, 403, "'eng'"},
      {R"({"query":"x","principal":"mallory"})", kKey, 403, "may not read the requested containers"},
      {R"({"query":"x","principal":"nobody"})", kKey, 403, "may not read the requested containers"},
      {R"({"query":"x","principal":"alice","container_ids":["ops"]})", kKey, 403, "may not read the requested containers"},
      {R"({"query":"x","principal":""})", kKey, 400, "'principal'"},
  };
  for (const Case& c : cases) {
    http::HttpResponse res = Post(c.body, c.key);
    EXPECT_EQ(res.status, c.status) << c.body << ": " << res.body;
    EXPECT_NE(res.body.find(c.says), std::string::npos) << c.body << ": " << res.body;
  }
  // Unknown, granted nothing, granted only outside the key's scope, granted other containers:
  // one answer, byte for byte, so a caller learns nothing about who exists.
  auto denial = [&](const std::string& principal, const std::string& containers, std::string_view key) {
    std::string body = R"({"query":"x","principal":")" + principal + R"(")" + containers + "}";
    std::string answer = Post(body, key).body;
    std::size_t at = answer.find(principal);
    if (at != std::string::npos) answer.replace(at, principal.size(), "<p>");
    return answer;
  };
  const std::string unknown = denial("mallory", "", kHrKey);
  EXPECT_NE(unknown.find("403"), std::string::npos) << unknown;
  EXPECT_EQ(denial("nobody", "", kHrKey), unknown);
  EXPECT_EQ(denial("bob", "", kHrKey), unknown);  // bob's only grant, eng, is outside hr-only
  EXPECT_EQ(denial("mallory", R"(,"container_ids":["hr"])", kHrKey), unknown);
  EXPECT_EQ(denial("bob", R"(,"container_ids":["hr"])", kHrKey), unknown);
  // Allowed scopes get past authorization (and find the daemon not ready yet).
  EXPECT_EQ(Post(R"({"query":"x","principal":"alice"})", kHrKey).status, 503);
  EXPECT_EQ(Post(R"({"query":"x","container_ids":["hr"]})", kHrKey).status, 503);
}

TEST_F(SearchApiTest, AuthorizerScopesNarrowToTheKey) {
  const Authorizer::ApiKey* hr = authorizer_.Authenticate("", kHrKey);
  ASSERT_NE(hr, nullptr);
  EXPECT_EQ(hr->name, "hr-only");
  EXPECT_EQ(authorizer_.Authenticate("Bearer " + std::string(kKey), "")->name, "all");
  EXPECT_EQ(authorizer_.Authenticate("Basic " + std::string(kKey), ""), nullptr);
  auto scope = authorizer_.Scope(*hr, {}, std::string("alice"));
  ASSERT_TRUE(scope.ok());
  EXPECT_EQ(*scope, std::vector<std::string>{"hr"});  // alice's eng is outside the key
}

TEST_F(SearchApiTest, EventFedGrantsOverrideTheFileAndRevocationsDeny) {
  const Authorizer::ApiKey* all = authorizer_.Authenticate("", kKey);
  ASSERT_NE(all, nullptr);
  std::map<std::string, std::vector<std::string>> store = {{"alice", {"ops"}}, {"revoked", {}}};
  Authorizer::AclLookup lookup = [&](const std::string& p) -> Result<std::optional<std::vector<std::string>>> {
    auto it = store.find(p);
    if (it == store.end()) return std::optional<std::vector<std::string>>();
    return std::optional<std::vector<std::string>>(it->second);
  };
  auto alice = authorizer_.Scope(*all, {}, std::string("alice"), lookup);
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(*alice, std::vector<std::string>{"ops"});  // the store's grant, not the file's hr/eng
  store["alice"] = {};                                   // acl.delete
  auto revoked = authorizer_.Scope(*all, {}, std::string("alice"), lookup);
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.status().code(), Status::Code::kPermissionDenied);
  store.erase("alice");  // never fed by events: the file decides
  auto from_file = authorizer_.Scope(*all, {}, std::string("alice"), lookup);
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(*from_file, (std::vector<std::string>{"eng", "hr"}));
  Authorizer::AclLookup broken = [](const std::string&) -> Result<std::optional<std::vector<std::string>>> {
    return Status::Unavailable("store read failed");
  };
  auto failed = authorizer_.Scope(*all, {}, std::string("alice"), broken);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Status::Code::kUnavailable);  // the API answers 503, not 403
}

TEST_F(SearchApiTest, RoutesMethodsReadinessAndAnalyze) {
  http::HttpRequest r;
  r.method = "GET";
  r.headers = {{"authorization", "Bearer " + std::string(kKey)}};
  r.path = "/nope";
  EXPECT_EQ(api_.Handle(r).status, 404);
  r.path = "/v1/search";
  http::HttpResponse wrong_method = api_.Handle(r);
  EXPECT_EQ(wrong_method.status, 405);
  // RFC 9110: a 405 names the methods the path takes (schemathesis found it missing).
  EXPECT_EQ(wrong_method.headers, (std::vector<std::pair<std::string, std::string>>{{"Allow", "POST"}}));
  r.method = "POST";
  r.path = "/readyz";
  EXPECT_EQ(api_.Handle(r).headers, (std::vector<std::pair<std::string, std::string>>{{"Allow", "GET"}}));
  r.method = "GET";
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
  r.headers = {{"authorization", "Bearer " + std::string(kAdminKey)}};
  http::HttpResponse metrics = api_.Handle(r);
  EXPECT_NE(metrics.body.find("tide_query_requests_total{route=\"/v1/search\",status=\"405\"} 1"), std::string::npos)
      << metrics.body;
}

// Issue 16: /metrics describes every container's traffic, so it takes the admin role; a key
// that may search everything is still only a search key.
TEST_F(SearchApiTest, MetricsNeedAnAdminKey) {
  http::HttpRequest r;
  r.method = "GET";
  r.path = "/metrics";
  for (std::string_view key : {kKey, kHrKey}) {
    r.headers = {{"authorization", "Bearer " + std::string(key)}};
    http::HttpResponse res = api_.Handle(r);
    EXPECT_EQ(res.status, 403) << key;
    EXPECT_NE(res.body.find("role \\\"admin\\\""), std::string::npos) << res.body;
    EXPECT_EQ(res.body.find("tide_query"), std::string::npos) << res.body;
  }
  r.headers = {{"authorization", "Bearer " + std::string(kAdminKey)}};
  http::HttpResponse res = api_.Handle(r);
  EXPECT_EQ(res.status, 200);
  EXPECT_NE(res.body.find("tide_query_requests_total{route=\"/metrics\",status=\"403\"} 2"), std::string::npos)
      << res.body;
  // The admin role widens no search: this admin key is confined to hr.
  EXPECT_EQ(Post(R"({"query":"x","container_ids":["eng"]})", kAdminKey).status, 403);
}

// Issue 16: the search console is three static files served without a key (they hold no
// data), locked down by headers; anything else under /console is a 404, and it can be turned off.
TEST_F(SearchApiTest, TheConsoleIsStaticLockedDownAndCanBeTurnedOff) {
  http::HttpRequest r;
  r.method = "GET";
  for (const char* path : {"/console", "/console/", "/console/index.html"}) {
    r.path = path;
    http::HttpResponse page = api_.Handle(r);
    ASSERT_EQ(page.status, 200) << path;
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("<script src=\"/console/console.js\""), std::string::npos);
    std::map<std::string, std::string> headers(page.headers.begin(), page.headers.end());
    EXPECT_NE(headers["Content-Security-Policy"].find("script-src 'self'"), std::string::npos);
    EXPECT_NE(headers["Content-Security-Policy"].find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(headers["X-Content-Type-Options"], "nosniff");
  }
  r.path = "/console/console.js";
  http::HttpResponse script = api_.Handle(r);
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(script.body.find("/v1/search"), std::string::npos);
  r.path = "/console/console.css";
  EXPECT_EQ(api_.Handle(r).content_type, "text/css; charset=utf-8");
  r.path = "/console/../metrics";
  EXPECT_EQ(api_.Handle(r).status, 404);
  r.path = "/console";
  r.method = "POST";
  EXPECT_EQ(api_.Handle(r).status, 405);

  SearchApi::Limits off;
  off.console = false;
  SearchApi without(&shards_, &searcher_, &authorizer_, off, &metrics_);
  r.method = "GET";
  r.headers = {{"authorization", "Bearer " + std::string(kKey)}};
  EXPECT_EQ(without.Handle(r).status, 404);
}

// Issue 16: a key over its rate limit gets 429 with Retry-After, on every route but /healthz;
// other keys go on.
TEST_F(SearchApiTest, AKeyOverItsRateLimitGets429WithRetryAfter) {
  const std::string body = R"({"query":"x","container_ids":["hr"]})";
  EXPECT_EQ(Post(body, kLimitedKey).status, 503);  // the burst of 2: past the limiter (not ready)
  EXPECT_EQ(Post(body, kLimitedKey).status, 503);
  http::HttpResponse limited = Post(body, kLimitedKey);
  EXPECT_EQ(limited.status, 429);
  nlohmann::json j = nlohmann::json::parse(limited.body);
  EXPECT_EQ(j["error"]["type"], "too_many_requests");
  EXPECT_NE(j["error"]["reason"].get<std::string>().find("'slow' is over its rate limit of 0.5 requests per second"),
            std::string::npos) << limited.body;
  std::string retry_after;
  for (const auto& [name, value] : limited.headers) {
    if (name == "Retry-After") retry_after = value;
  }
  EXPECT_EQ(retry_after, "2");  // one token at 0.5 per second
  EXPECT_EQ(Post(body, kHrKey).status, 503);  // another key is not held back
  http::HttpRequest health;
  health.method = "GET";
  health.path = "/healthz";
  health.headers = {{"authorization", "Bearer " + std::string(kLimitedKey)}};
  EXPECT_EQ(api_.Handle(health).status, 200);
}

TEST(AuthorizerLoadTest, RolesAreSearchByDefaultOrAdminAndNothingElse) {
  testutil::TempDir dir;
  const auto file = dir.path() / "keys.json";
  std::ofstream(file) << R"({"keys": [{"name": "rag", "key": "rag-key-0123456789", "containers": ["hr"]},
                                      {"name": "ops", "key": "ops-key-0123456789", "containers": [], "role": "admin"}]})";
  Result<std::unique_ptr<Authorizer>> auth = Authorizer::Load(file, "");
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  ASSERT_NE((*auth)->Authenticate("Bearer rag-key-0123456789", ""), nullptr);
  EXPECT_FALSE((*auth)->Authenticate("Bearer rag-key-0123456789", "")->admin);
  ASSERT_NE((*auth)->Authenticate("Bearer ops-key-0123456789", ""), nullptr);
  EXPECT_TRUE((*auth)->Authenticate("Bearer ops-key-0123456789", "")->admin);
  EXPECT_EQ((*auth)->Authenticate("Bearer rag-key-0123456789", "")->rate_limit.per_second, 0);  // unlimited
  std::ofstream(file) << R"({"keys": [{"name": "r", "key": "r-key-0123456789ab", "containers": ["*"],
                                       "rate_limit": {"requests_per_second": 20}}]})";
  auth = Authorizer::Load(file, "");
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  EXPECT_EQ((*auth)->Authenticate("Bearer r-key-0123456789ab", "")->rate_limit.per_second, 20);
  EXPECT_EQ((*auth)->Authenticate("Bearer r-key-0123456789ab", "")->rate_limit.burst, 20);  // defaults to the rate
  std::ofstream(file) << R"({"keys": [{"name": "r", "key": "r-key-0123456789ab", "containers": ["*"],
                                       "rate_limit": {"requests_per_second": 0}}]})";
  EXPECT_FALSE(Authorizer::Load(file, "").ok());
  std::ofstream(file) << R"({"keys": [{"name": "x", "key": "x-key-0123456789ab", "containers": ["*"], "role": "root"}]})";
  auth = Authorizer::Load(file, "");
  ASSERT_FALSE(auth.ok());
  EXPECT_NE(auth.status().message().find("role must be \"search\" or \"admin\", got \"root\""), std::string::npos)
      << auth.status().ToString();
}

// The shard API returns any container's lists and records: only a router's key (admin, every
// container) reaches it, a daemon without shards of its own has none, and a bad step or body
// says what is wrong.
TEST_F(SearchApiTest, TheShardApiIsForARoutersKeyAndSaysWhatIsWrong) {
  const std::string body = ToWire({{"shards", {0}}, {"containers", {"hr"}}, {"terms", {"a"}}, {"want", "df"}});
  // Without a shard API (a router itself): 404 for the router's key, 403 before that for others.
  EXPECT_EQ(Call("POST", "/v1/shards/terms", body, kRouterKey).status, 404);
  for (std::string_view key : {kKey, kHrKey, kAdminKey}) {
    const http::HttpResponse r = Call("POST", "/v1/shards/terms", body, key);
    EXPECT_EQ(r.status, 403) << key;
    EXPECT_NE(r.body.find("admin"), std::string::npos) << r.body;
  }
  ShardApi shard_api(&shards_, &metrics_);
  api_.ServeShardApi(&shard_api);
  for (std::string_view key : {kKey, kHrKey, kAdminKey}) {
    EXPECT_EQ(Call("POST", "/v1/shards/terms", body, key).status, 403) << key;
  }
  EXPECT_EQ(Call("POST", "/v1/shards/nope", body, kRouterKey).status, 404);
  EXPECT_EQ(Call("GET", "/v1/shards/terms", body, kRouterKey).status, 405);
  const http::HttpResponse not_cbor = Call("POST", "/v1/shards/terms", "{\"shards\":[0]}", kRouterKey);
  EXPECT_EQ(not_cbor.status, 400);
  EXPECT_NE(not_cbor.body.find("CBOR"), std::string::npos) << not_cbor.body;
  const http::HttpResponse no_shards = Call("POST", "/v1/shards/terms", ToWire({{"terms", {"a"}}}), kRouterKey);
  EXPECT_EQ(no_shards.status, 400);
  EXPECT_NE(no_shards.body.find("shards"), std::string::npos) << no_shards.body;
  // A shard not served here (the store has not even been made): 503, for the router to try
  // another copy.
  const http::HttpResponse missing = Call("POST", "/v1/shards/terms", ToWire({{"shards", {7}}, {"terms", {"a"}}, {"want", "df"}}), kRouterKey);
  EXPECT_EQ(missing.status, 503);
  EXPECT_NE(missing.body.find("shard 7 is not served here"), std::string::npos) << missing.body;
  EXPECT_EQ(Call("POST", "/v1/shards/terms", body, kRouterKey).status, 503);  // shard 0 still loading
  // The shard map answers JSON to a person (GET) and CBOR to a router (POST).
  const http::HttpResponse map = Call("GET", "/v1/shards", "", kRouterKey);
  ASSERT_EQ(map.status, 200) << map.body;
  const nlohmann::json shards = nlohmann::json::parse(map.body);
  EXPECT_TRUE(shards["partition_count"].is_null());
  EXPECT_EQ(shards["shards"]["0"]["ready"], false);
  const http::HttpResponse wire = Call("POST", "/v1/shards", "", kRouterKey);
  ASSERT_EQ(wire.status, 200);
  Result<nlohmann::json> decoded = FromWire(wire.body);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, shards);
}

// What crosses between router and nodes comes back exactly: floats bit for bit, filters and
// statistics whole.
TEST(ShardWireTest, ListsStatisticsAndFiltersRoundTripExactly) {
  const std::vector<index::VectorHit> vector = {{(std::uint64_t{3} << 48) | 17, 0.1f}, {5, 1.0f / 3.0f}, {6, -2.5e-8f}};
  Result<nlohmann::json> v = FromWire(ToWire({{"hits", VectorHitsToWire(vector)}}));
  ASSERT_TRUE(v.ok());
  const std::vector<index::VectorHit> back = VectorHitsFromWire(v->at("hits"));
  ASSERT_EQ(back.size(), vector.size());
  for (std::size_t i = 0; i < vector.size(); ++i) {
    EXPECT_EQ(back[i].label, vector[i].label);
    EXPECT_EQ(std::memcmp(&back[i].score, &vector[i].score, sizeof(float)), 0) << i;
  }
  const std::vector<std::string> terms = {"표", "#테이", "피벗"};
  const std::vector<index::KeywordHit> keyword = {{9, 12.345678f, {"피벗", "#테이"}, 31}, {10, 1.5f, {}, 0}};
  Result<nlohmann::json> k = FromWire(ToWire({{"hits", KeywordHitsToWire(keyword, terms)}}));
  ASSERT_TRUE(k.ok());
  const std::vector<index::KeywordHit> kback = KeywordHitsFromWire(k->at("hits"), terms);
  ASSERT_EQ(kback.size(), 2u);
  EXPECT_EQ(kback[0].score, keyword[0].score);
  EXPECT_EQ(kback[0].matched_terms, keyword[0].matched_terms);
  EXPECT_EQ(kback[0].field_length, 31u);
  EXPECT_EQ(kback[1].label, 10u);
  EXPECT_TRUE(kback[1].matched_terms.empty());
  // A matched term the request did not have cannot be sent; a cut column is refused.
  EXPECT_THROW(KeywordHitsToWire({{1, 1.0f, {"없는"}, 1}}, terms), std::invalid_argument);
  nlohmann::json cut = k->at("hits");
  cut["matched"] = nlohmann::json::binary({2, 0});
  EXPECT_THROW(KeywordHitsFromWire(cut, terms), std::invalid_argument);
  const std::vector<float> query = {0.25f, -1.0f / 7.0f};
  EXPECT_EQ(FloatsFromWire(FromWire(ToWire({{"v", FloatsToWire(query)}}))->at("v")), query);
  index::KeywordStatistics stats;
  stats.chunks = 1234;
  stats.total_length = 98765.0;
  stats.df = {{"피벗", 7}, {"표", 0.5}};
  Result<nlohmann::json> st = FromWire(ToWire(StatisticsToWire(stats)));
  ASSERT_TRUE(st.ok());
  const index::KeywordStatistics sback = StatisticsFromWire(*st);
  EXPECT_EQ(sback.chunks, stats.chunks);
  EXPECT_EQ(sback.total_length, stats.total_length);
  EXPECT_EQ(sback.df, stats.df);
  index::MetadataFilter filter;
  filter.doc_types = {"manual"};
  filter.tags = {"보안", "hr"};
  filter.created_min = 1700000000000;
  filter.updated_max = -5;
  Result<nlohmann::json> f = FromWire(ToWire({{"filter", FilterToWire(filter)}}));
  ASSERT_TRUE(f.ok());
  const index::MetadataFilter fback = FilterFromWire(f->at("filter"));
  EXPECT_EQ(fback.doc_types, filter.doc_types);
  EXPECT_EQ(fback.tags, filter.tags);
  EXPECT_EQ(fback.created_min, filter.created_min);
  EXPECT_FALSE(fback.created_max);
  EXPECT_EQ(fback.updated_max, filter.updated_max);
  EXPECT_FALSE(FromWire("not cbor").ok());
}

}  // namespace
}  // namespace tide::query
