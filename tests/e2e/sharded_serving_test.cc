// Issue 15, serving per-partition shards: a tide-query over a per-partition worker's shards
// (shards = per_partition) answers as a tide-query over one store built from the same topic.
// Separate processes: the dev broker, two workers (one per layout), two daemons.

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/placement.h"
#include "tests/testutil/http_client.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace tide {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using testutil::Process;
using testutil::WaitFor;

const std::string kBin = TIDE_BIN_DIR;
const std::string kSource = TIDE_SOURCE_DIR;
const std::string kKey = "e2e-key-for-every-container";
constexpr int kContainers = 12;
constexpr int kDocsPerContainer = 20;

// Words shared by every container, so that BM25 statistics differ from shard to shard.
const std::vector<std::string>& Words() {
  static const std::vector<std::string> words = {
      "피벗", "테이블", "서식", "매크로", "보안", "차트", "함수", "셀", "병합", "정렬", "필터", "인쇄",
      "페이지", "머리글", "바닥글", "수식", "참조", "이름", "범위", "데이터", "유효성", "조건부", "색상", "글꼴",
      "문서", "저장", "암호", "공유", "검토", "메모", "표", "그림", "슬라이드", "발표", "전환", "효과"};
  return words;
}

std::vector<json> Corpus() {
  std::mt19937 rng(15);
  std::vector<double> weights;
  for (std::size_t r = 1; r <= Words().size(); ++r) weights.push_back(1.0 / static_cast<double>(r));
  std::discrete_distribution<std::size_t> word(weights.begin(), weights.end());
  auto sentence = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += (i ? " " : "") + Words()[word(rng)];
    return s + ".";
  };
  std::vector<json> events;
  for (int c = 0; c < kContainers; ++c) {
    // Containers of different sizes: the per-shard statistics are far from the whole's.
    for (int d = 0; d < kDocsPerContainer * (1 + c % 3); ++d) {
      events.push_back({{"schema_version", 1},
                        {"type", "document.upsert"},
                        {"container_id", "team-" + std::to_string(c)},
                        {"doc_id", "doc-" + std::to_string(d)},
                        {"version", 1},
                        {"title", sentence(3)},
                        {"text", sentence(12) + " " + sentence(10)}});
    }
  }
  return events;
}

// The corpus with principals' containers, each record on its principal's partition: one shard
// holds it.
std::vector<json> WithAcl(std::vector<json> events) {
  events.push_back({{"schema_version", 1}, {"type", "acl.upsert"}, {"principal", "kim"}, {"version", 1},
                    {"containers", {"team-4", "team-9"}}});
  events.push_back({{"schema_version", 1}, {"type", "acl.upsert"}, {"principal", "lee"}, {"version", 1},
                    {"containers", {"team-1"}}});
  return events;
}

const std::vector<std::string>& Queries() {
  static const std::vector<std::string> queries = {"피벗 테이블",       "매크로 보안 설정",   "조건부 서식 색상",
                                                   "인쇄 머리글 바닥글", "차트 데이터 범위", "슬라이드 전환 효과",
                                                   "암호"};
  return queries;
}

std::vector<std::string> AllTeams() {
  std::vector<std::string> all;
  for (int c = 0; c < kContainers; ++c) all.push_back("team-" + std::to_string(c));
  return all;
}

class ShardedServingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testutil::StartDevBroker(kBin + "/ingest/tidectl", dir_.path(), 4, &brokers_);
    ASSERT_FALSE(brokers_.empty()) << broker_->Log();
    std::ofstream(dir_.path() / "keys.json")
        << json{{"keys", {{{"name", "all"}, {"key", kKey}, {"containers", {"*"}}, {"role", "admin"}}}}}.dump();
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const char* name : {"sharded-ingest", "single-ingest", "sharded-query", "single-query", "node-a", "node-b",
                               "node-c", "router"}) {
        Result<std::string> log = ReadFile(dir_.path() / (std::string(name) + ".log"));
        std::cerr << "--- " << name << " ---\n" << (log ? log->substr(log->size() > 4000 ? log->size() - 4000 : 0) : "");
      }
    }
  }

  std::unique_ptr<Process> StartIngest(const std::string& name, const std::string& layout) {
    return std::make_unique<Process>(
        std::vector<std::string>{kBin + "/ingest/tide-ingest", "--config", kSource + "/configs/ingest.conf",
                                 "--data_dir", (dir_.path() / name).string(), "--kafka.brokers", brokers_,
                                 "--kafka.group_id", "group-" + name, "--shards", layout, "--snapshot.interval_s",
                                 "1", "--metrics.port", "-1"},
        dir_.path() / (name + "-ingest.log"));
  }

  std::unique_ptr<Process> StartQuery(const std::string& name, const std::string& layout, std::uint16_t* port) {
    return StartDaemon(name + "-query", {"--data_dir", (dir_.path() / name).string(), "--shards", layout}, port);
  }

  // A tide-query named `name` (its log and port file) with `args` after the common ones.
  std::unique_ptr<Process> StartDaemon(const std::string& name, const std::vector<std::string>& args,
                                       std::uint16_t* port) {
    const auto port_file = dir_.path() / (name + ".port");
    std::vector<std::string> argv = {kBin + "/query/tide-query", "--config", kSource + "/configs/query.conf",
                                     "--http.port", "0", "--http.port_file", port_file.string(),
                                     "--follow.interval_ms", "50", "--auth.api_keys_file",
                                     (dir_.path() / "keys.json").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto query = std::make_unique<Process>(argv, dir_.path() / (name + ".log"));
    EXPECT_TRUE(WaitFor([&] { return std::filesystem::exists(port_file); }, seconds(20))) << query->Log();
    Result<std::string> text = ReadFile(port_file);
    *port = text ? static_cast<std::uint16_t>(std::stoi(*text)) : 0;
    return query;
  }

  json Post(std::uint16_t port, const std::string& path, const json& body) {
    auto r = testutil::HttpRequestLoopback(port, "POST", path, body.dump(), kKey);
    EXPECT_EQ(r.status, 200) << path << " " << body.dump() << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  // Chunks the daemon can search in every container.
  std::int64_t Chunks(std::uint16_t port) {
    auto r = testutil::HttpRequestLoopback(port, "GET", "/v1/stats", "", kKey);
    if (r.status != 200) return -1;
    json stats = json::parse(r.body, nullptr, false);
    return stats.is_object() ? stats.value("chunks", std::int64_t{-1}) : -1;
  }

  // Publishes `events` with tidectl (placed by container, as a producer must).
  void Publish(const std::vector<json>& events) {
    const auto file = dir_.path() / "corpus.jsonl";
    std::ofstream out(file);
    for (const json& e : events) out << e.dump() << "\n";
    out.close();
    auto r = testutil::RunCommand({kBin + "/ingest/tidectl", "publish", "--brokers", brokers_, "--file", file.string()},
                                  seconds(60));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  testutil::TempDir dir_;
  std::unique_ptr<Process> broker_;
  std::string brokers_;
};

// Each hit as "chunk_id score", sorted the way the API sorts (score, then the order among
// equal scores, which differs between layouts: labels are per store).
std::vector<std::pair<double, std::string>> Ranked(const json& response) {
  std::vector<std::pair<double, std::string>> out;
  if (!response.is_object() || !response["hits"].is_array()) return out;
  for (const json& h : response["hits"]) {
    out.emplace_back(h["score"].get<double>(), h["container_id"].get<std::string>() + "/" + h["chunk_id"].get<std::string>());
  }
  return out;
}

TEST_F(ShardedServingTest, Issue15_ADaemonOverPerPartitionShardsAnswersAsOneStore) {
  const std::vector<json> corpus = Corpus();
  ASSERT_NO_FATAL_FAILURE(Publish(WithAcl(corpus)));
  auto sharded_ingest = StartIngest("sharded", "per_partition");
  auto single_ingest = StartIngest("single", "single");
  std::uint16_t sharded_port = 0, single_port = 0;
  auto sharded_query = StartQuery("sharded", "per_partition", &sharded_port);
  auto single_query = StartQuery("single", "single", &single_port);
  // Every chunk searchable in both (one chunk a document: short texts).
  ASSERT_TRUE(WaitFor([&] { return Chunks(single_port) == static_cast<std::int64_t>(corpus.size()); }, seconds(90)));
  ASSERT_TRUE(WaitFor([&] { return Chunks(sharded_port) == static_cast<std::int64_t>(corpus.size()); }, seconds(90)))
      << "sharded daemon has " << Chunks(sharded_port);
  {
    auto r = testutil::HttpRequestLoopback(sharded_port, "GET", "/v1/stats", "", kKey);
    json stats = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(stats.is_object()) << r.body;
    EXPECT_EQ(stats["index"]["shards"], 4) << r.body;  // one per partition of the topic
  }

  const std::vector<std::string>& queries = Queries();
  const std::vector<std::vector<std::string>> scopes = {AllTeams(), {"team-4"}, {"team-1", "team-7", "team-11"}};
  int compared = 0;
  for (const char* mode : {"keyword", "hybrid", "vector"}) {
    for (const std::string& query : queries) {
      for (const std::vector<std::string>& scope : scopes) {
        const json body = {{"query", query}, {"container_ids", scope}, {"k", 10}, {"mode", mode}};
        const auto sharded = Ranked(Post(sharded_port, "/v1/search", body));
        const auto single = Ranked(Post(single_port, "/v1/search", body));
        ASSERT_EQ(sharded.size(), single.size()) << mode << " " << query << " " << body.dump();
        ASSERT_FALSE(single.empty()) << mode << " " << query;
        // Equal scores may come in another order (labels are per store): compare as sets of
        // equal-score groups, in score order.
        for (std::size_t i = 0; i < single.size(); ++i) {
          EXPECT_NEAR(sharded[i].first, single[i].first, 1e-5) << mode << " '" << query << "' at " << i;
        }
        auto sorted = [](std::vector<std::pair<double, std::string>> v) {
          for (auto& [score, id] : v) score = std::round(score * 1e5) / 1e5;
          std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first > b.first : a.second < b.second;
          });
          return v;
        };
        // The last score's group may be cut at k differently: compare what is above it.
        const double last = std::round(single.back().first * 1e5) / 1e5;
        std::vector<std::pair<double, std::string>> a = sorted(sharded), b = sorted(single);
        std::erase_if(a, [&](const auto& p) { return p.first <= last; });
        std::erase_if(b, [&](const auto& p) { return p.first <= last; });
        EXPECT_EQ(a, b) << mode << " '" << query << "' " << json(scope).dump();
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 3 * 7 * 3);

  // A principal's containers come from whichever shard holds its ACL record, and bound the
  // search there as on one store; a principal with no record gets nothing.
  for (const char* principal : {"kim", "lee"}) {
    const json body = {{"query", "피벗 테이블"}, {"principal", principal}, {"k", 10}};
    json sharded;
    ASSERT_TRUE(WaitFor(
        [&] {
          auto r = testutil::HttpRequestLoopback(sharded_port, "POST", "/v1/search", body.dump(), kKey);
          sharded = json::parse(r.body, nullptr, false);
          return r.status == 200 && !Ranked(sharded).empty();
        },
        seconds(30)))
        << principal << ": " << sharded.dump();
    const json single = Post(single_port, "/v1/search", body);
    EXPECT_EQ(Ranked(sharded).size(), Ranked(single).size()) << principal;
    for (const json& h : sharded["hits"]) {
      const std::string c = h["container_id"];
      EXPECT_TRUE(principal == std::string("kim") ? (c == "team-4" || c == "team-9") : c == "team-1")
          << principal << " got " << c;
    }
  }
  {
    const json body = {{"query", "피벗 테이블"}, {"principal", "nobody"}, {"k", 10}};
    EXPECT_EQ(testutil::HttpRequestLoopback(sharded_port, "POST", "/v1/search", body.dump(), kKey).status,
              testutil::HttpRequestLoopback(single_port, "POST", "/v1/search", body.dump(), kKey).status);
    EXPECT_EQ(testutil::HttpRequestLoopback(sharded_port, "POST", "/v1/search", body.dump(), kKey).status, 403);
  }

  // The RAG context reads each document from the shard that holds it.
  const json context_body = {{"query", "피벗 테이블"}, {"container_ids", scopes[0]}, {"k", 3}};
  const json sharded_context = Post(sharded_port, "/v1/context", context_body);
  const json single_context = Post(single_port, "/v1/context", context_body);
  ASSERT_TRUE(sharded_context.is_object() && single_context.is_object());
  auto cited = [](const json& context) {
    std::vector<std::string> ids;
    for (const json& c : context["citations"]) ids.push_back(c["container_id"].get<std::string>() + "/" + c["chunk_id"].get<std::string>());
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  EXPECT_FALSE(cited(sharded_context).empty()) << sharded_context.dump();
  EXPECT_EQ(cited(sharded_context), cited(single_context));
  EXPECT_EQ(sharded_context["chars"], single_context["chars"]);

  for (auto* p : {sharded_query.get(), single_query.get(), sharded_ingest.get(), single_ingest.get()}) {
    p->Signal(SIGTERM);
    EXPECT_EQ(p->Wait(seconds(60)), std::optional<int>(0));
  }
}

// A node's /metrics: the shard API steps it served, by shard.
std::map<std::string, double> ShardSteps(std::uint16_t port) {
  std::map<std::string, double> steps;
  auto r = testutil::HttpRequestLoopback(port, "GET", "/metrics", "", kKey);
  std::istringstream lines(r.body);
  const std::string prefix = "tide_query_shard_requests_total{shard=\"";
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(prefix)) continue;
    const std::string shard = line.substr(prefix.size(), line.find('"', prefix.size()) - prefix.size());
    steps[shard] += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return steps;
}

// Hits as "container/chunk_id score" in the API's order.
std::vector<std::string> Exact(const json& response) {
  std::vector<std::string> out;
  if (!response.is_object() || !response["hits"].is_array()) return out;
  for (const json& h : response["hits"]) {
    out.push_back(h["container_id"].get<std::string>() + "/" + h["chunk_id"].get<std::string>() + " " +
                  h["score"].dump());
  }
  return out;
}

// Issue 15, one search endpoint over shards in other processes: a router (shards = remote)
// in front of node A (partitions 0 and 1), node B and node C (both 2 and 3: replicas) answers
// exactly as one daemon over all four shards of the same data directory (the same stores, so
// the same chunk ids in the same order with bit-equal scores); a search scoped to one container
// reads only its shard (the nodes' step counters); killing B leaves C to answer for 2 and 3;
// with C gone too, a search fails naming the shard, or with allow_partial_search_results
// answers from shards 0 and 1 and says which failed.
TEST_F(ShardedServingTest, Issue15_ARouterOverNodesAnswersAsOneDaemonAndSurvivesAReplica) {
  const std::vector<json> corpus = Corpus();
  ASSERT_NO_FATAL_FAILURE(Publish(WithAcl(corpus)));
  auto ingest = StartIngest("sharded", "per_partition");
  const std::string data = (dir_.path() / "sharded").string();
  std::uint16_t whole = 0, a = 0, b = 0, c = 0, router = 0;
  auto whole_query = StartQuery("sharded", "per_partition", &whole);
  ASSERT_TRUE(WaitFor([&] { return Chunks(whole) == static_cast<std::int64_t>(corpus.size()); }, seconds(90)));
  auto node_a = StartDaemon("node-a", {"--data_dir", data, "--shards", "per_partition", "--partitions", "0,1"}, &a);
  auto node_b = StartDaemon("node-b", {"--data_dir", data, "--shards", "per_partition", "--partitions", "2,3"}, &b);
  auto node_c = StartDaemon("node-c", {"--data_dir", data, "--shards", "per_partition", "--partitions", "2,3"}, &c);
  const std::string nodes = "http://127.0.0.1:" + std::to_string(a) + ",http://127.0.0.1:" + std::to_string(b) +
                            ",http://127.0.0.1:" + std::to_string(c);
  auto router_query = StartDaemon("router", {"--shards", "remote", "--remote.nodes", nodes, "--remote.api_key", kKey,
                                             "--remote.refresh_ms", "200", "--data_dir", (dir_.path() / "router").string()},
                                  &router);
  ASSERT_TRUE(WaitFor([&] { return Chunks(router) == static_cast<std::int64_t>(corpus.size()); }, seconds(90)))
      << "the router counts " << Chunks(router);
  {
    auto r = testutil::HttpRequestLoopback(router, "GET", "/v1/stats", "", kKey);
    EXPECT_EQ(json::parse(r.body, nullptr, false)["index"]["shards"], 4) << r.body;
  }

  // Every search and context as the daemon over all shards gives it.
  const std::vector<std::vector<std::string>> scopes = {AllTeams(), {"team-4"}, {"team-1", "team-7", "team-11"}};
  int compared = 0;
  for (const char* mode : {"keyword", "hybrid", "vector"}) {
    for (const std::string& query : Queries()) {
      for (const std::vector<std::string>& scope : scopes) {
        const json body = {{"query", query}, {"container_ids", scope}, {"k", 10}, {"mode", mode}};
        const json routed = Post(router, "/v1/search", body);
        const std::vector<std::string> expected = Exact(Post(whole, "/v1/search", body));
        ASSERT_FALSE(expected.empty()) << mode << " " << query;
        EXPECT_EQ(Exact(routed), expected) << mode << " '" << query << "' " << json(scope).dump();
        // One watermark per shard the search read: the scope's partitions.
        std::set<std::string> partitions;
        for (const std::string& team : scope) partitions.insert(std::to_string(PartitionOf(team, 4)));
        std::set<std::string> watermarks;
        for (const auto& [shard, w] : routed["_shards"]["watermarks"].items()) watermarks.insert(shard);
        EXPECT_EQ(watermarks, partitions) << routed["_shards"].dump();
        EXPECT_EQ(routed["_shards"]["failed"], 0);
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 3 * 7 * 3);
  for (const json& body : {json{{"query", "피벗 테이블"}, {"container_ids", AllTeams()}, {"k", 3}},
                           json{{"query", "매크로 보안"}, {"principal", "kim"}, {"k", 3}}}) {
    const json routed = Post(router, "/v1/context", body);
    const json one = Post(whole, "/v1/context", body);
    EXPECT_FALSE(routed["context"].get<std::string>().empty()) << routed.dump();
    EXPECT_EQ(routed["context"], one["context"]);
    EXPECT_EQ(routed["citations"], one["citations"]);
  }
  // Principals resolve through the shard holding their ACL record; none: 403, as one daemon.
  EXPECT_EQ(Exact(Post(router, "/v1/search", {{"query", "피벗 테이블"}, {"principal", "kim"}})),
            Exact(Post(whole, "/v1/search", {{"query", "피벗 테이블"}, {"principal", "kim"}})));
  EXPECT_EQ(testutil::HttpRequestLoopback(router, "POST", "/v1/search",
                                          json{{"query", "피벗"}, {"principal", "nobody"}}.dump(), kKey)
                .status,
            403);

  // A search scoped to one container reads its shard alone.
  const std::string team = "team-4";
  const std::string shard = std::to_string(PartitionOf(team, 4));
  auto steps = [&] {
    std::map<std::string, double> sum;
    for (std::uint16_t port : {a, b, c}) {
      for (const auto& [s, n] : ShardSteps(port)) sum[s] += n;
    }
    return sum;
  };
  const std::map<std::string, double> before = steps();
  for (int i = 0; i < 5; ++i) Post(router, "/v1/search", {{"query", Queries()[i]}, {"container_ids", {team}}});
  const std::map<std::string, double> after = steps();
  for (const char* s : {"0", "1", "2", "3"}) {
    const double read = (after.contains(s) ? after.at(s) : 0) - (before.contains(s) ? before.at(s) : 0);
    if (s == shard) {
      EXPECT_GE(read, 5 * 2) << "shard " << s;  // the lists and the chunks, per search
    } else {
      EXPECT_EQ(read, 0) << "shard " << s << " was read for a search of " << team;
    }
  }

  // Node B dies: C answers for shards 2 and 3, and every search still equals the whole's.
  node_b->Signal(SIGKILL);
  node_b->Wait(seconds(10));
  for (const std::string& query : Queries()) {
    const json body = {{"query", query}, {"container_ids", AllTeams()}, {"k", 10}};
    auto r = testutil::HttpRequestLoopback(router, "POST", "/v1/search", body.dump(), kKey);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Exact(json::parse(r.body)), Exact(Post(whole, "/v1/search", body))) << query;
  }

  // C dies too: shards 2 and 3 have no copy. A search needing them fails and says which; one
  // that allows partial results answers from 0 and 1 and lists the failures.
  node_c->Signal(SIGKILL);
  node_c->Wait(seconds(10));
  const json body = {{"query", "피벗 테이블"}, {"container_ids", AllTeams()}, {"k", 50}};
  auto failed = testutil::HttpRequestLoopback(router, "POST", "/v1/search", body.dump(), kKey);
  EXPECT_EQ(failed.status, 503) << failed.body;
  EXPECT_NE(failed.body.find("shard 2"), std::string::npos) << failed.body;
  json partial_body = body;
  partial_body["allow_partial_search_results"] = true;
  const json partial = Post(router, "/v1/search", partial_body);
  EXPECT_EQ(partial["_shards"]["total"], 4) << partial["_shards"].dump();
  EXPECT_EQ(partial["_shards"]["successful"], 2);
  EXPECT_EQ(partial["_shards"]["failed"], 2);
  ASSERT_FALSE(partial["hits"].empty());
  for (const json& h : partial["hits"]) {
    const int p = PartitionOf(h["container_id"].get<std::string>(), 4);
    EXPECT_TRUE(p == 0 || p == 1) << h.dump();
  }
  // A scope inside A's shards is whole without B and C.
  std::vector<std::string> on_a;
  for (const std::string& t : AllTeams()) {
    if (PartitionOf(t, 4) <= 1) on_a.push_back(t);
  }
  ASSERT_FALSE(on_a.empty());
  const json scoped = {{"query", "피벗 테이블"}, {"container_ids", on_a}, {"k", 10}};
  EXPECT_EQ(Exact(Post(router, "/v1/search", scoped)), Exact(Post(whole, "/v1/search", scoped)));

  for (auto* p : {router_query.get(), node_a.get(), whole_query.get(), ingest.get()}) {
    p->Signal(SIGTERM);
    EXPECT_EQ(p->Wait(seconds(60)), std::optional<int>(0));
  }
}

}  // namespace
}  // namespace tide
