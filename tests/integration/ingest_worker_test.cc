// The real worker (RunWorker: consumer group, applier, dead letters, snapshots) in-process
// against librdkafka's mock cluster on loopback.

#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/http/http_server.h"
#include "common/storage/store.h"
#include "ingest/config.h"
#include "ingest/worker.h"
#include "tests/testutil/mock_kafka.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace tide::ingest {
namespace {

using std::chrono::seconds;

std::string GoodEvent(int i, int version = 1) {
  nlohmann::json e = {{"schema_version", 1},      {"type", "document.upsert"},
                      {"container_id", "c" + std::to_string(i % 3)},
                      {"doc_id", "doc-" + std::to_string(i)},
                      {"version", version},       {"title", "문서 " + std::to_string(i)},
                      {"text", "본문 " + std::to_string(i) + " 입니다."}};
  return e.dump();
}

std::string KeyOf(int i) { return "c" + std::to_string(i % 3) + "/doc-" + std::to_string(i); }

class RunningWorker {
 public:
  explicit RunningWorker(const Config& config)
      : thread_([this, config] { result_ = RunWorker(config, stopping_); }) {}
  Status Stop() {
    stopping_ = true;
    thread_.join();
    return result_;
  }
  ~RunningWorker() {
    if (thread_.joinable()) (void)Stop();
  }

 private:
  std::atomic<bool> stopping_{false};
  Status result_;
  std::thread thread_;
};

class IngestWorkerTest : public ::testing::Test {
 protected:
  IngestWorkerTest() : kafka_({"tide.documents", "tide.documents.dlq"}, 3) {
    config_.shared.data_dir = (dir_.path() / "data").string();
    config_.shared.embedder.dimension = 64;
    config_.kafka.brokers = kafka_.bootstrap();
    config_.kafka.group_id = "it-ingest";
    config_.batch.max_batch = 64;
    config_.limits.max_text_bytes = 2048;
    config_.store.sync_writes = false;
    config_.snapshot_interval = seconds(1);
    config_.metrics_port = 0;
  }

  std::uint64_t Counter(const char* name) {
    auto store = storage::Store::OpenSecondary(dir_.path() / "data" / "store", dir_.path() / "secondary", {});
    if (!store) return 0;
    auto v = (*store)->GetCounter(storage::CounterKey(name));
    return v ? *v : 0;
  }

  testutil::TempDir dir_;
  testutil::MockKafka kafka_;
  Config config_;
};

TEST_F(IngestWorkerTest, MalformedEventsAreDeadLetteredWithReasonsAndGoodOnesApplied) {
  // 1% malformed, spread through the stream.
  const std::vector<std::pair<std::optional<std::string>, std::string>> bad = {
      {std::nullopt, "this is not json"},
      {"c0/x", R"({"schema_version":2,"type":"document.upsert"})"},
      {"c0/y", R"({"schema_version":1,"type":"document.upsert","container_id":"c0","version":1,"text":"x"})"},
      {"c0/big", R"({"schema_version":1,"type":"document.upsert","container_id":"c0","doc_id":"big","version":1,"text":")" +
                      std::string(5000, 'x') + "\"}"},
      {"c0/z", "{\"schema_version\":1,\"title\":\"\xff\xfe\"}"},
  };
  constexpr int kGood = 495;
  int next_bad = 0;
  for (int i = 0; i < kGood; ++i) {
    ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i)));
    if (i % 99 == 50 && next_bad < static_cast<int>(bad.size())) {
      ASSERT_TRUE(kafka_.Produce("tide.documents", bad[next_bad].first, bad[next_bad].second));
      ++next_bad;
    }
  }
  ASSERT_EQ(next_bad, 5);

  RunningWorker worker(config_);
  ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") + Counter("dead_lettered") >= kGood + 5; },
                                seconds(60)));
  EXPECT_EQ(Counter("applied"), static_cast<std::uint64_t>(kGood));
  EXPECT_EQ(Counter("dead_lettered"), 5u);
  EXPECT_EQ(Counter("duplicate"), 0u);
  ASSERT_TRUE(worker.Stop().ok());

  auto dead = kafka_.ReadAll("tide.documents.dlq", 5, seconds(30));
  ASSERT_EQ(dead.size(), 5u);
  std::set<std::string> values;
  for (const auto& r : dead) {
    EXPECT_FALSE(r.headers.at("tide.reason").empty());
    EXPECT_EQ(r.headers.at("tide.error_class"), "invalid_event");
    EXPECT_EQ(r.headers.at("tide.source.topic"), "tide.documents");
    EXPECT_GE(std::stoll(r.headers.at("tide.source.offset")), 0);
    ASSERT_TRUE(r.value.has_value());
    values.insert(*r.value);
  }
  for (const auto& b : bad) EXPECT_TRUE(values.contains(b.second)) << "not dead-lettered unchanged: " << b.second.substr(0, 40);
  // The worker wrote a snapshot on the way out.
  EXPECT_FALSE(std::filesystem::is_empty(dir_.path() / "data" / "snapshots"));
}

TEST_F(IngestWorkerTest, CleanRestartResumesFromTheStoredOffsetsExactlyOnce) {
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i)));
  {
    RunningWorker worker(config_);
    ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") >= 100; }, seconds(60)));
    ASSERT_TRUE(worker.Stop().ok());
  }
  // Updates, an older version and a tombstone, consumed by a fresh worker process state.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i, 2)));
  ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(20), GoodEvent(20, 0)));
  ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(30), std::nullopt));
  RunningWorker worker(config_);
  ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") + Counter("stale") >= 112; }, seconds(60)));
  ASSERT_TRUE(worker.Stop().ok());
  EXPECT_EQ(Counter("applied"), 111u);  // 100 + 10 updates + 1 tombstone
  EXPECT_EQ(Counter("stale"), 1u);
  EXPECT_EQ(Counter("duplicate"), 0u);  // nothing was read twice
}

// An OpenAI-compatible provider that refuses any text containing "REJECT" (as providers do
// with over-long or otherwise unacceptable inputs) and embeds everything else.
http::HttpResponse FakeProvider(const http::HttpRequest& r) {
  nlohmann::json req = nlohmann::json::parse(r.body, nullptr, false);
  if (!req.is_object() || !req.contains("input")) return http::JsonError(400, "bad", "no input");
  nlohmann::json data = nlohmann::json::array();
  int i = 0;
  for (const auto& text : req["input"]) {
    if (text.get<std::string>().find("REJECT") != std::string::npos) {
      return http::JsonError(400, "invalid_request_error", "input is not acceptable");
    }
    std::vector<float> v(8, 0.1f);
    v[text.get<std::string>().size() % 8] = 1.0f;
    data.push_back({{"index", i++}, {"embedding", v}});
  }
  return {200, "application/json", nlohmann::json{{"data", data}, {"model", "fake"}}.dump(), {}};
}

TEST_F(IngestWorkerTest, ATextTheEmbedderRejectsIsDeadLetteredAndTheRestApplied) {
  auto provider = http::HttpServer::Start({}, FakeProvider);
  ASSERT_TRUE(provider.ok());
  config_.shared.embedder.kind = "openai";
  config_.shared.embedder.base_url = "http://127.0.0.1:" + std::to_string((*provider)->port()) + "/v1";
  config_.shared.embedder.model = "fake";
  config_.shared.embedder.dimension = 8;
  for (int i = 0; i < 30; ++i) {
    nlohmann::json e = nlohmann::json::parse(GoodEvent(i));
    if (i == 17) e["text"] = "this text REJECTs the provider";
    ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), e.dump()));
  }
  RunningWorker worker(config_);
  ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") + Counter("dead_lettered") >= 30; }, seconds(60)));
  ASSERT_TRUE(worker.Stop().ok());
  EXPECT_EQ(Counter("applied"), 29u);
  EXPECT_EQ(Counter("dead_lettered"), 1u);
  EXPECT_EQ(Counter("duplicate"), 0u);
  auto dead = kafka_.ReadAll("tide.documents.dlq", 1, seconds(30));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers.at("tide.error_class"), "embedding_rejected");
  EXPECT_EQ(*dead[0].key, KeyOf(17));
}

TEST_F(IngestWorkerTest, AnEmbedderOutageDeadLettersNothingAndIngestionResumesByItself) {
  std::atomic<bool> down{true};
  std::atomic<int> refused{0};
  auto provider = http::HttpServer::Start({}, [&](const http::HttpRequest& r) {
    if (down) {
      ++refused;
      return http::JsonError(503, "unavailable", "the provider is down");
    }
    return FakeProvider(r);
  });
  ASSERT_TRUE(provider.ok());
  config_.shared.embedder.kind = "openai";
  config_.shared.embedder.base_url = "http://127.0.0.1:" + std::to_string((*provider)->port()) + "/v1";
  config_.shared.embedder.model = "fake";
  config_.shared.embedder.dimension = 8;
  config_.shared.embedder.max_attempts = 1;
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i)));
  RunningWorker worker(config_);
  // The worker keeps trying (with backoff, partitions paused) while the provider is down...
  ASSERT_TRUE(testutil::WaitFor([&] { return refused >= 3; }, seconds(60)));
  EXPECT_EQ(Counter("applied"), 0u);
  EXPECT_EQ(Counter("dead_lettered"), 0u);
  // ...and catches up by itself when it is back.
  down = false;
  ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") >= 40; }, seconds(60)));
  ASSERT_TRUE(worker.Stop().ok());
  EXPECT_EQ(Counter("applied"), 40u);
  EXPECT_EQ(Counter("dead_lettered"), 0u);
  EXPECT_EQ(Counter("duplicate"), 0u);
}

}  // namespace
}  // namespace tide::ingest
