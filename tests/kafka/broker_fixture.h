#pragma once

// The fixture of the tests against a real Apache Kafka broker (KRaft, from the jars
// deploy/setup.sh resolved from Maven Central): one broker serves the whole test binary
// (broker_fixture.cc starts it); each test has its own topics and group.

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/storage/store.h"
#include "tests/testutil/http_client.h"
#include "tests/testutil/kafka_broker.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace tide {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testutil::Process;
using testutil::WaitFor;

inline const std::string kBin = TIDE_BIN_DIR;
inline const std::string kSource = TIDE_SOURCE_DIR;
inline const std::string kKafkaLib = TIDE_KAFKA_LIB_DIR;

// The broker, started once for every test of this binary.
class BrokerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string error;
    broker_ = testutil::KafkaBroker::Start(kKafkaLib, dir_.path() / "kafka", &error);
    ASSERT_NE(broker_, nullptr) << error;
  }
  void TearDown() override { broker_.reset(); }
  static testutil::KafkaBroker* broker() { return broker_.get(); }

 private:
  testutil::TempDir dir_;
  static inline std::unique_ptr<testutil::KafkaBroker> broker_;
};


inline std::string GoodEvent(int i) {
  return nlohmann::json{{"schema_version", 1},
                        {"type", "document.upsert"},
                        {"container_id", "c" + std::to_string(i % 3)},
                        {"doc_id", "doc-" + std::to_string(i)},
                        {"version", 1},
                        {"title", "문서 " + std::to_string(i)},
                        {"text", "본문 " + std::to_string(i) + " 입니다."}}
      .dump();
}
inline std::string KeyOf(int i) { return "c" + std::to_string(i % 3) + "/doc-" + std::to_string(i); }

class RealBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(BrokerEnvironment::broker(), nullptr);
    // Names of this test's own: topics, group.
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    topic_ = "t." + name;
    dlq_ = topic_ + ".dlq";
    group_ = "g." + name;
  }
  // The binary's broker, or the test's own cluster once it has started one.
  testutil::KafkaBroker* broker() { return cluster_ ? cluster_.get() : BrokerEnvironment::broker(); }
  const std::string& brokers() { return broker()->bootstrap(); }
  testutil::KafkaTestClient& client() { return broker()->client(); }

  std::vector<std::string> Common() {
    return {"--config", kSource + "/configs/ingest.conf", "--kafka.brokers", brokers(), "--kafka.topic", topic_,
            "--kafka.dead_letter_topic", dlq_, "--kafka.group_id", group_};
  }

  testutil::CommandResult Tidectl(std::vector<std::string> args) {
    std::vector<std::string> argv{kBin + "/ingest/tidectl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::vector<std::string> common = Common();
    argv.insert(argv.end(), common.begin(), common.end());
    return testutil::RunCommand(argv, seconds(60));
  }

  void CreateTopics(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"topics", "create", "--partitions", "3"};
    args.insert(args.end(), extra.begin(), extra.end());
    testutil::CommandResult r = Tidectl(args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  // A worker writing dir_/<data>; its log, status port file and secondary are named after
  // `name` (default: `data`), so several workers can share one data directory.
  std::unique_ptr<Process> StartWorker(const std::string& data, std::vector<std::string> extra = {},
                                       std::string name = "") {
    if (name.empty()) name = data;
    std::filesystem::remove(dir_.path() / (name + ".port"));
    std::vector<std::string> argv{kBin + "/ingest/tide-ingest"};
    const std::vector<std::string> common = Common();
    argv.insert(argv.end(), common.begin(), common.end());
    const std::vector<std::string> own = {"--data_dir", (dir_.path() / data).string(),
                                          "--embedder.dimension", "64",
                                          "--store.sync", "false",
                                          "--metrics.port", "0",
                                          "--metrics.port_file", (dir_.path() / (name + ".port")).string(),
                                          "--snapshot.interval_s", "1"};
    argv.insert(argv.end(), own.begin(), own.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Process>(argv, dir_.path() / (name + ".log"));
  }

  // GET on a worker's status port, or status 0 before it listens.
  testutil::HttpResult WorkerGet(const std::string& data, const std::string& path) {
    Result<std::string> port = ReadFile(dir_.path() / (data + ".port"));
    if (!port) return {};
    return testutil::HttpRequestLoopback(static_cast<std::uint16_t>(std::stoi(*port)), "GET", path);
  }

  // A metric of the worker (the first series with that name), or -1.
  double Metric(const std::string& data, const std::string& name) {
    testutil::HttpResult r = WorkerGet(data, "/metrics");
    std::size_t at = r.body.find("\n" + name + " ");
    if (r.status != 200 || at == std::string::npos) return -1;
    return std::stod(r.body.substr(at + name.size() + 2));
  }

  std::uint64_t Counter(const std::string& data, const char* name) {
    auto store = storage::Store::OpenSecondary(dir_.path() / data / "store", dir_.path() / (data + "-secondary"), {});
    if (!store) return 0;
    auto v = (*store)->GetCounter(storage::CounterKey(name));
    return v ? *v : 0;
  }

  // Writes `events` to `file` and publishes it with tidectl (placed by container, acks=all).
  void Publish(const std::vector<nlohmann::json>& events, const std::string& file) {
    const std::filesystem::path path = dir_.path() / file;
    {
      std::ofstream out(path);
      for (const nlohmann::json& e : events) out << e.dump() << '\n';
    }
    testutil::CommandResult r = testutil::RunCommand(
        {kBin + "/ingest/tidectl", "publish", "--brokers", brokers(), "--topic", topic_, "--file", path.string()},
        seconds(300));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  testutil::TempDir dir_;
  std::string topic_, dlq_, group_;
  std::unique_ptr<testutil::KafkaBroker> cluster_;  // a test's own brokers (broker failure)
};

}  // namespace tide
