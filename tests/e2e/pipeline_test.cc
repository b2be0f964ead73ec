// End to end: the real tidectl dev-broker, tide-ingest and tide-query as separate processes,
// configured from configs/*.conf, talking Kafka protocol and HTTP on loopback.

#include <signal.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
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
const std::string kKey = "e2e-key-for-every-container";
const std::string kBetaKey = "e2e-key-for-container-beta";
const std::string kSource = TIDE_SOURCE_DIR;

json Doc(const std::string& container, const std::string& doc_id, int version, const std::string& title,
         const std::string& text) {
  return {{"schema_version", 1}, {"type", "document.upsert"}, {"container_id", container},
          {"doc_id", doc_id},     {"version", version},         {"title", title},
          {"text", text}};
}

class PipelineE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testutil::StartDevBroker(kBin + "/ingest/tidectl", dir_.path(), 3, &brokers_);
    ASSERT_FALSE(brokers_.empty()) << broker_->Log();
    StartIngest();
    // Two keys: an admin key for everything, one confined to container beta.
    std::ofstream(dir_.path() / "keys.json") << json{{"keys",
                                                      {{{"name", "all"}, {"key", kKey}, {"containers", {"*"}}, {"role", "admin"}},
                                                       {{"name", "beta-only"}, {"key", kBetaKey}, {"containers", {"beta"}}}}}}
                                                    .dump();
    std::ofstream(dir_.path() / "acl.json") << R"({"principals": {"bob": ["beta"]}})";
    StartQuery();
  }

  void StartQuery() {
    std::filesystem::remove(dir_.path() / "port");
    query_ = std::make_unique<Process>(
        std::vector<std::string>{kBin + "/query/tide-query", "--config", kSource + "/configs/query.conf",
                                 "--data_dir", data_dir(), "--http.port", "0", "--http.port_file",
                                 (dir_.path() / "port").string(), "--follow.interval_ms", "50",
                                 "--auth.api_keys_file", (dir_.path() / "keys.json").string(),
                                 "--auth.acl_file", (dir_.path() / "acl.json").string()},
        dir_.path() / "query.log");
    ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(dir_.path() / "port"); }, seconds(20)))
        << query_->Log();
    port_ = static_cast<std::uint16_t>(std::stoi(*ReadFile(dir_.path() / "port")));
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << "--- ingest log ---\n" << (ingest_ ? ingest_->Log() : "") << "--- query log ---\n"
                << (query_ ? query_->Log() : "") << "--- broker log ---\n" << broker_->Log();
    }
  }

  std::string data_dir() const { return (dir_.path() / "data").string(); }

  void StartIngest(std::vector<std::string> extra = {}) {
    // A SIGKILLed member keeps its partitions until the group coordinator gives up on it:
    // a short session timeout keeps the restart test quick.
    std::vector<std::string> argv{kBin + "/ingest/tide-ingest", "--config", kSource + "/configs/ingest.conf",
                                  "--data_dir", data_dir(), "--kafka.brokers", brokers_,
                                  "--snapshot.interval_s", "1",
                                  "--kafka.property", "session.timeout.ms=6000",
                                  "--kafka.property", "heartbeat.interval.ms=500",
                                  "--metrics.port", "0", "--metrics.port_file", (dir_.path() / "metrics-port").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ingest_ = std::make_unique<Process>(argv, dir_.path() / "ingest.log");
  }

  void Publish(const std::vector<json>& events) {
    const auto file = dir_.path() / ("events-" + std::to_string(files_++) + ".jsonl");
    std::ofstream out(file);
    for (const json& e : events) out << e.dump() << "\n";
    out.close();
    auto r = testutil::RunCommand({kBin + "/ingest/tidectl", "publish", "--brokers", brokers_, "--file", file.string()},
                                  seconds(60));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  json Stats() {
    auto r = testutil::RunCommand({kBin + "/ingest/tidectl", "stats", "--data_dir", data_dir()}, seconds(30));
    if (r.exit_code != 0) return json();
    std::size_t start = r.output.find('{');
    return start == std::string::npos ? json() : json::parse(r.output.substr(start), nullptr, false);
  }

  std::uint64_t Counter(const json& stats, const char* name) {
    if (!stats.is_object() || !stats["counters"].contains(name)) return 0;
    return stats["counters"][name].get<std::uint64_t>();
  }

  json Search(const std::string& query, const std::vector<std::string>& containers, int k = 10,
              const std::string& key = kKey) {
    json body = {{"query", query}, {"container_ids", containers}, {"k", k}};
    auto r = testutil::HttpRequestLoopback(port_, "POST", "/v1/search", body.dump(), key);
    if (r.status != 200) return json();
    return json::parse(r.body, nullptr, false);
  }

  testutil::TempDir dir_;
  std::unique_ptr<Process> broker_, ingest_, query_;
  std::string brokers_;
  std::uint16_t port_ = 0;
  int files_ = 0;
};

TEST_F(PipelineE2eTest, PublishedDocumentBecomesSearchableOnlyInItsContainer) {
  auto health = testutil::HttpRequestLoopback(port_, "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  // Near-duplicate documents in two containers; only alpha's carries the canary word.
  Publish({Doc("alpha", "guide/canary.html", 1, "얼룩말뿔 설정 안내", "얼룩말뿔 기능을 켜는 방법을 설명합니다. 도구 메뉴를 엽니다."),
           Doc("alpha", "guide/other.html", 1, "셀 서식", "셀 서식을 바꾸는 방법을 설명합니다."),
           Doc("beta", "guide/twin.html", 1, "기능 설정 안내", "기능을 켜는 방법을 설명합니다. 도구 메뉴를 엽니다.")});
  json result;
  ASSERT_TRUE(WaitFor([&] {
    result = Search("얼룩말뿔 켜는 방법", {"alpha"});
    return result.is_object() && !result["hits"].empty();
  }, seconds(30))) << "never searchable";
  EXPECT_EQ(result["hits"][0]["doc_id"], "guide/canary.html");
  EXPECT_GT(result["hits"][0]["score"].get<double>(), 0.0);
  for (const json& h : result["hits"]) EXPECT_EQ(h["container_id"], "alpha");
  EXPECT_TRUE(result["watermark"]["seq"].get<std::uint64_t>() >= 1);

  // Scoped to beta, alpha's canary document must never appear, whatever the query.
  ASSERT_TRUE(WaitFor([&] {
    json twin = Search("기능 켜는 방법", {"beta"});
    return twin.is_object() && !twin["hits"].empty();
  }, seconds(30)));
  for (const std::string q : {"얼룩말뿔", "얼룩말뿔 켜는 방법", "셀 서식", "도구 메뉴"}) {
    json other = Search(q, {"beta"});
    ASSERT_TRUE(other.is_object()) << q;
    for (const json& h : other["hits"]) {
      EXPECT_EQ(h["container_id"], "beta") << q;
      EXPECT_EQ(h["snippet"].get<std::string>().find("얼룩말뿔"), std::string::npos) << q;
    }
  }
  // No scope: denied. No key: 401. A key confined to beta may not name alpha; through the
  // principal bob (beta only) the alpha canary stays out of reach too.
  auto denied = testutil::HttpRequestLoopback(port_, "POST", "/v1/search", R"({"query":"기능"})", kKey);
  EXPECT_EQ(denied.status, 403);
  EXPECT_NE(denied.body.find("missing_scope"), std::string::npos);
  auto anonymous = testutil::HttpRequestLoopback(port_, "POST", "/v1/search", R"({"query":"x","container_ids":["alpha"]})");
  EXPECT_EQ(anonymous.status, 401);
  auto out_of_scope = testutil::HttpRequestLoopback(port_, "POST", "/v1/search",
                                                    R"({"query":"얼룩말뿔","container_ids":["alpha"]})", kBetaKey);
  EXPECT_EQ(out_of_scope.status, 403);
  EXPECT_EQ(out_of_scope.body.find("얼룩말뿔 설정"), std::string::npos);
  auto by_principal = testutil::HttpRequestLoopback(port_, "POST", "/v1/search",
                                                    R"({"query":"얼룩말뿔 켜는 방법","principal":"bob"})", kKey);
  ASSERT_EQ(by_principal.status, 200) << by_principal.body;
  EXPECT_EQ(by_principal.body.find("\"alpha\""), std::string::npos);
  EXPECT_NE(by_principal.body.find("\"beta\""), std::string::npos);

  // A later document becomes searchable without restarting the daemon; an update replaces.
  Publish({Doc("alpha", "guide/late.html", 1, "늦게 온 문서", "무지개송어 양식장 안내서입니다."),
           Doc("alpha", "guide/canary.html", 2, "바뀐 제목", "이제 다른 내용입니다.")});
  ASSERT_TRUE(WaitFor([&] {
    json late = Search("무지개송어", {"alpha"});
    return late.is_object() && !late["hits"].empty() && late["hits"][0]["doc_id"] == "guide/late.html";
  }, seconds(30)));
  ASSERT_TRUE(WaitFor([&] {
    json gone = Search("얼룩말뿔", {"alpha"});
    if (!gone.is_object()) return false;
    for (const json& h : gone["hits"]) {
      if (h["snippet"].get<std::string>().find("얼룩말뿔") != std::string::npos) return false;
    }
    return true;
  }, seconds(30)));

  // RAG context: numbered passages within the budget, with citations of the right document.
  auto context = testutil::HttpRequestLoopback(
      port_, "POST", "/v1/context",
      R"({"query":"무지개송어 양식장","container_ids":["alpha"],"max_chars":300,"neighbors":1})", kKey);
  ASSERT_EQ(context.status, 200) << context.body;
  json ctx = json::parse(context.body);
  ASSERT_FALSE(ctx["citations"].empty()) << ctx.dump();
  EXPECT_EQ(ctx["citations"][0]["number"], 1);
  EXPECT_EQ(ctx["citations"][0]["doc_id"], "guide/late.html");
  EXPECT_EQ(ctx["context"].get<std::string>().rfind("[1] 늦게 온 문서\n무지개송어 양식장 안내서입니다.", 0), 0u)
      << ctx["context"];
  EXPECT_LE(ctx["chars"].get<int>(), 300);
  for (const json& c : ctx["citations"]) EXPECT_EQ(c["container_id"], "alpha");

  // Both processes expose Prometheus metrics.
  auto query_metrics = testutil::HttpRequestLoopback(port_, "GET", "/metrics", "", kKey);
  EXPECT_EQ(query_metrics.status, 200);
  EXPECT_NE(query_metrics.body.find("tide_query_requests_total{route=\"/v1/search\",status=\"200\"}"),
            std::string::npos) << query_metrics.body;
  EXPECT_NE(query_metrics.body.find("tide_query_requests_total{route=\"/v1/search\",status=\"403\"} 2"),
            std::string::npos);
  EXPECT_NE(query_metrics.body.find("tide_query_search_seconds_count{mode=\"hybrid\"}"), std::string::npos);
  const auto metrics_port = static_cast<std::uint16_t>(std::stoi(*ReadFile(dir_.path() / "metrics-port")));
  auto metrics = testutil::HttpRequestLoopback(metrics_port, "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  // The worker counts a batch after committing it, so the daemon may show its documents first.
  EXPECT_TRUE(WaitFor([&] {
    metrics = testutil::HttpRequestLoopback(metrics_port, "GET", "/metrics");
    return metrics.body.find("tide_ingest_events_total{outcome=\"applied\"} 5") != std::string::npos;
  }, seconds(15))) << metrics.body;
  // Lag is reported per partition (refreshed every second) and is back to zero.
  auto lag_is_zero = [&] {
    metrics = testutil::HttpRequestLoopback(metrics_port, "GET", "/metrics");
    std::size_t partitions = 0;
    std::istringstream lines(metrics.body);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("tide_ingest_consumer_lag{", 0) != 0) continue;
      ++partitions;
      if (line.substr(line.rfind(' ') + 1) != "0") return false;
    }
    return partitions == 3;
  };
  EXPECT_TRUE(WaitFor(lag_is_zero, seconds(15))) << metrics.body;

  // Principals from acl.* events: carol may read alpha, until her grant is deleted. Deleting
  // container beta removes everything in it.
  Publish({{{"schema_version", 1}, {"type", "acl.upsert"}, {"principal", "carol"}, {"version", 1},
            {"containers", {"alpha"}}},
           {{"schema_version", 1}, {"type", "container.delete"}, {"container_id", "beta"}}});
  auto as_carol = [&] {
    return testutil::HttpRequestLoopback(port_, "POST", "/v1/search",
                                         R"({"query":"무지개송어","principal":"carol"})", kKey);
  };
  ASSERT_TRUE(WaitFor([&] { return as_carol().status == 200; }, seconds(30))) << as_carol().body;
  EXPECT_NE(as_carol().body.find("guide/late.html"), std::string::npos);
  ASSERT_TRUE(WaitFor([&] {
    json gone = Search("기능 켜는 방법", {"beta"});
    return gone.is_object() && gone["hits"].empty();
  }, seconds(30)));
  Publish({{{"schema_version", 1}, {"type", "acl.delete"}, {"principal", "carol"}, {"version", 2}}});
  ASSERT_TRUE(WaitFor([&] { return as_carol().status == 403; }, seconds(30))) << as_carol().body;

  // SIGTERM drains and exits 0.
  ingest_->Signal(SIGTERM);
  EXPECT_EQ(ingest_->Wait(seconds(30)), std::optional<int>(0)) << ingest_->Log();
  query_->Signal(SIGTERM);
  EXPECT_EQ(query_->Wait(seconds(30)), std::optional<int>(0)) << query_->Log();

  // Both daemons run on the allocator the build chose (TIDE_ALLOCATOR), and say so.
  const std::string allocator = std::string("allocator=") + TIDE_ALLOCATOR_EXPECTED;
  EXPECT_NE(ingest_->Log().find(allocator), std::string::npos) << ingest_->Log();
  EXPECT_NE(query_->Log().find(allocator), std::string::npos) << query_->Log();
}

TEST_F(PipelineE2eTest, KillNineAndRestartNeitherLosesNorReappliesEvents) {
  ingest_->Signal(SIGKILL);
  ingest_->Wait(seconds(10));
  StartIngest({"--batch.max_events", "20"});
  constexpr int kDocs = 1500;
  std::vector<json> events;
  std::uint64_t body_bytes = 0;
  for (int i = 0; i < kDocs; ++i) {
    const std::string body = "본문 " + std::to_string(i) + " 번째 문서의 내용입니다.";
    body_bytes += body.size();
    events.push_back(Doc(i % 2 ? "alpha" : "beta", "doc-" + std::to_string(i), 1, "문서 " + std::to_string(i), body));
  }
  Publish(events);
  // Kill -9 while the worker is mid-stream, then restart it.
  for (int round = 0; round < 3; ++round) {
    std::uint64_t before = Counter(Stats(), "applied");
    ASSERT_TRUE(WaitFor([&] { return Counter(Stats(), "applied") > before || before >= kDocs; }, seconds(60)))
        << ingest_->Log();
    ingest_->Signal(SIGKILL);
    ingest_->Wait(seconds(10));
    StartIngest({"--batch.max_events", "20"});
  }
  json stats;
  ASSERT_TRUE(WaitFor([&] {
    stats = Stats();
    return Counter(stats, "applied") >= kDocs;
  }, seconds(120))) << stats.dump();
  // Exactly once: every event applied once, none seen again as a duplicate.
  EXPECT_EQ(Counter(stats, "applied"), static_cast<std::uint64_t>(kDocs));
  EXPECT_EQ(Counter(stats, "duplicate"), 0u);
  // The worker records its vector graph for the daemon to copy (decision 0011).
  EXPECT_EQ(stats["graph_records"]["generation"], 1) << stats.dump();
  EXPECT_EQ(stats["documents"], kDocs);
  EXPECT_EQ(stats["chunks"], kDocs);
  EXPECT_EQ(stats["chunk_text_bytes"], body_bytes);  // each short body is one chunk
  std::uint64_t next = 0;
  for (const auto& [tp, offset] : stats["offsets"].items()) next += offset.get<std::uint64_t>();
  EXPECT_EQ(next, static_cast<std::uint64_t>(kDocs));
  // No orphan chunk, vector or posting; snapshot + change log rebuild exactly the store.
  auto fsck = testutil::RunCommand({kBin + "/ingest/tidectl", "fsck", "--data_dir", data_dir()}, seconds(120));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
  EXPECT_NE(fsck.output.find("\"ok\": true"), std::string::npos) << fsck.output;
  // And the daemon, which never restarted, serves the final state.
  ASSERT_TRUE(WaitFor([&] {
    json r = Search("1499 번째 문서", {"alpha"});
    return r.is_object() && !r["hits"].empty() && r["hits"][0]["doc_id"] == "doc-1499";
  }, seconds(30)));
}

// Issues 17.3 and 17.5: a tide-query killed with -9 and started again used to leave its
// query-secondary-<pid> directory behind, and to answer with scores that differed in the last
// digits (snapshot load vs change-log replay). Now every restart answers exactly as before —
// the same hits in the same order with the same scores, bit for bit — and only the running
// daemon's directory is left.
TEST_F(PipelineE2eTest, Issue17_ARestartedDaemonAnswersExactlyAsBeforeAndLeavesNothingBehind) {
  std::vector<json> events;
  const std::vector<std::string> words = {"셀",   "서식", "피벗", "테이블", "차트", "함수", "문서", "표",
                                          "그림", "인쇄", "저장", "파일",   "매크로", "설정", "도구", "보기"};
  for (int i = 0; i < 300; ++i) {
    std::string text;
    for (int w = 0; w < 12; ++w) text += words[(i * 7 + w * (i % 5 + 1)) % words.size()] + " ";
    events.push_back(Doc(i % 2 ? "alpha" : "beta", "d" + std::to_string(i), 1, words[i % words.size()] + " 안내 " +
                         std::to_string(i), text + "방법을 설명합니다."));
  }
  // Updates and deletes: the change log holds removals too.
  for (int i = 0; i < 300; i += 7) events.push_back(Doc(i % 2 ? "alpha" : "beta", "d" + std::to_string(i), 2,
                                                         "바뀐 제목 " + std::to_string(i), "셀 서식 차트 함수 다시 씀"));
  for (int i = 3; i < 300; i += 11) {
    events.push_back({{"schema_version", 1}, {"type", "document.delete"}, {"container_id", i % 2 ? "alpha" : "beta"},
                      {"doc_id", "d" + std::to_string(i)}, {"version", 5}});
  }
  Publish(events);
  const std::vector<std::string> queries = {"셀 서식 바꾸는 방법", "피벗 테이블", "차트 함수", "매크로 설정 도구",
                                            "바뀐 제목"};
  auto answers = [&]() {
    json all = json::array();
    for (const std::string& q : queries) {
      json r = Search(q, {"alpha", "beta"}, 20);
      all.push_back(r.is_object() ? r["hits"] : json());
    }
    return all;
  };
  // Every event applied, and the daemon at the store's last change (the deletes come last).
  auto settled = [&]() {
    const json stats = Stats();
    if (Counter(stats, "applied") < events.size() || !stats.contains("change_seq")) return false;
    json r = Search("바뀐 제목 294", {"alpha", "beta"});
    return r.is_object() && !r["hits"].empty() &&
           r["watermark"]["seq"].get<std::uint64_t>() >= stats["change_seq"].get<std::uint64_t>();
  };
  ASSERT_TRUE(WaitFor(settled, seconds(60))) << ingest_->Log();
  // The worker has written a snapshot by now (interval 1 s): restarts load it and replay the rest.
  const auto snapshots = dir_.path() / "data" / "snapshots";
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(snapshots) && !std::filesystem::is_empty(snapshots); },
                      seconds(30)));
  const json before = answers();
  for (const json& hits : before) ASSERT_FALSE(hits.empty());
  for (int round = 0; round < 5; ++round) {
    query_->Signal(SIGKILL);
    ASSERT_EQ(query_->Wait(seconds(10)), std::optional<int>(128 + SIGKILL));
    StartQuery();
    ASSERT_TRUE(WaitFor([&] { return testutil::HttpRequestLoopback(port_, "GET", "/readyz", "", kKey).status == 200; },
                        seconds(60)))
        << query_->Log();
    const json after = answers();
    for (std::size_t q = 0; q < queries.size(); ++q) {
      EXPECT_EQ(after[q].dump(), before[q].dump()) << "round " << round << ", query " << queries[q];
    }
  }
  int secondaries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path() / "data")) {
    if (entry.path().filename().string().rfind("query-secondary-", 0) == 0) ++secondaries;
  }
  EXPECT_EQ(secondaries, 1);
}

}  // namespace
}  // namespace tide
