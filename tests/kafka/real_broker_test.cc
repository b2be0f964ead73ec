// tide-ingest and tidectl against a real Apache Kafka broker (KRaft, from the jars
// deploy/setup.sh resolved from Maven Central): the behaviour librdkafka's mock cluster does
// not show. One broker serves the whole binary; each test has its own topics and group.

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/file_util.h"
#include "common/storage/store.h"
#include "tests/kafka/broker_fixture.h"
#include "tests/testutil/http_client.h"
#include "tests/testutil/kafka_broker.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace tide {
namespace {

int CountLines(const std::string& log, const std::string& level_marker, const std::string& needle) {
  int n = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(level_marker) != std::string::npos && line.find(needle) != std::string::npos) ++n;
  }
  return n;
}

// Issue 19.1: a session timeout below the broker's group.min.session.timeout.ms used to leave
// the worker idle for ever (JoinGroup refused every 2 s, logged as a warning). Now it exits
// non-zero within 30 s with one ERROR line naming the setting, and /readyz says why first.
TEST_F(RealBrokerTest, Issue19_ASessionTimeoutTheBrokerRefusesStopsTheWorkerWithOneErrorNamingIt) {
  CreateTopics();
  const auto start = std::chrono::steady_clock::now();
  auto worker = StartWorker("w", {"--kafka.property", "session.timeout.ms=3000"});
  std::string reason;
  ASSERT_TRUE(WaitFor(
      [&] {
        testutil::HttpResult r = WorkerGet("w", "/readyz");
        if (r.status == 503 && r.body.find("session.timeout.ms") != std::string::npos) reason = r.body;
        return !reason.empty() || !worker->running();
      },
      seconds(30)))
      << worker->Log();
  EXPECT_NE(reason.find("group.min.session.timeout.ms"), std::string::npos) << reason;
  std::optional<int> code = worker->Wait(seconds(30));
  ASSERT_TRUE(code.has_value()) << worker->Log();
  EXPECT_NE(*code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(30));
  EXPECT_EQ(CountLines(worker->Log(), " E [", "session.timeout.ms"), 1) << worker->Log();
  EXPECT_EQ(CountLines(worker->Log(), " W [", "JoinGroup"), 0) << worker->Log();
}

// Issue 19.1, the runtime path: an error librdkafka reports only once the group is joined (a
// second worker with the same group.instance.id fences the first) stops the fenced worker with
// what to change, instead of leaving it idle.
TEST_F(RealBrokerTest, Issue19_AWorkerFencedByAnotherWithTheSameInstanceIdExitsNamingTheSetting) {
  CreateTopics();
  auto first = StartWorker("a", {"--kafka.group_instance_id", "same-id", "--fatal_exit_delay_ms", "0"});
  ASSERT_TRUE(WaitFor([&] { return WorkerGet("a", "/readyz").status == 200; }, seconds(60))) << first->Log();
  auto second = StartWorker("b", {"--kafka.group_instance_id", "same-id", "--fatal_exit_delay_ms", "0"});
  std::optional<int> code = first->Wait(seconds(60));
  ASSERT_TRUE(code.has_value()) << first->Log();
  EXPECT_NE(*code, 0);
  EXPECT_EQ(CountLines(first->Log(), " E [", "kafka.group_instance_id"), 1) << first->Log();
  second->Signal(SIGTERM);
  EXPECT_EQ(second->Wait(seconds(30)), std::optional<int>(0)) << second->Log();
}

// Issue 19.2: `tidectl topics create` makes both topics with the partition count and size
// limits asked for; `describe` shows them; a second create leaves them as they are.
TEST_F(RealBrokerTest, Issue19_TopicsCreateMakesBothTopicsWithTheirPartitionsAndLimits) {
  testutil::CommandResult before = Tidectl({"topics", "describe"});
  EXPECT_NE(before.exit_code, 0);
  CreateTopics({"--dlq-max-message-bytes", "100000", "--retention-ms", "604800000"});
  testutil::CommandResult r = Tidectl({"topics", "describe", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::map<std::string, nlohmann::json> topics;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object()) topics[j["topic"]] = j;
  }
  ASSERT_EQ(topics.size(), 2u) << r.output;
  EXPECT_EQ(topics[topic_]["partitions"], 3);
  EXPECT_EQ(topics[dlq_]["partitions"], 3);
  EXPECT_EQ(topics[topic_]["configs"]["retention.ms"], "604800000");
  EXPECT_EQ(topics[topic_]["configs"]["max.message.bytes"], std::to_string(8388608 + 65536));
  EXPECT_EQ(topics[dlq_]["configs"]["max.message.bytes"], "100000");
  EXPECT_EQ(topics[dlq_]["configs"]["retention.ms"], std::to_string(14LL * 24 * 3600 * 1000));
  testutil::CommandResult again = Tidectl({"topics", "create", "--partitions", "5"});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("exists"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("has 3 partitions, not 5"), std::string::npos) << again.output;
}

// Issue 19.2: a worker started before its topics exist says which are missing, on /readyz and
// in the log; with kafka.missing_topic_wait_s=0 it exits at once, otherwise it starts
// consuming once they are created.
TEST_F(RealBrokerTest, Issue19_AWorkerStartedBeforeItsTopicsSaysWhichAreMissingThenWaitsOrExits) {
  auto impatient = StartWorker("x", {"--kafka.missing_topic_wait_s", "0", "--fatal_exit_delay_ms", "0"});
  std::optional<int> code = impatient->Wait(seconds(60));
  ASSERT_TRUE(code.has_value()) << impatient->Log();
  EXPECT_NE(*code, 0);
  EXPECT_EQ(CountLines(impatient->Log(), " E [", "missing topic(s): " + topic_ + " " + dlq_), 1) << impatient->Log();

  auto patient = StartWorker("w", {"--kafka.missing_topic_wait_s", "-1"});
  std::string reason;
  ASSERT_TRUE(WaitFor(
      [&] {
        testutil::HttpResult r = WorkerGet("w", "/readyz");
        if (r.status == 503 && r.body.find("missing topic") != std::string::npos) reason = r.body;
        return !reason.empty();
      },
      seconds(60)))
      << patient->Log();
  EXPECT_NE(reason.find(topic_), std::string::npos);
  EXPECT_NE(reason.find(dlq_), std::string::npos);
  CreateTopics();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(client().Produce(topic_, KeyOf(i), GoodEvent(i)));
  ASSERT_TRUE(WaitFor([&] { return Counter("w", "applied") >= 20; }, seconds(90))) << patient->Log();
  EXPECT_EQ(WorkerGet("w", "/readyz").status, 200);
  patient->Signal(SIGTERM);
  EXPECT_EQ(patient->Wait(seconds(30)), std::optional<int>(0)) << patient->Log();
}

// Issues 17.1 and 19.3 on a real broker: the dead-letter topic takes 100,000 bytes; the worker
// reads that limit from the broker (not librdkafka's 1,000,000) and cuts what does not fit, so
// the 1.1 MB bad event and the 4 MiB + 1 text are dead-lettered and everything after them is
// applied.
TEST_F(RealBrokerTest, Issue17_OversizeBadEventsAreDeadLetteredToTheTopicsOwnLimitAndIngestGoesOn) {
  CreateTopics({"--dlq-max-message-bytes", "100000"});
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(client().Produce(topic_, KeyOf(i), GoodEvent(i)));
  nlohmann::json bad_version = nlohmann::json::parse(GoodEvent(1000));
  bad_version["version"] = "x";
  bad_version["text"] = std::string(1100000, 'a');
  nlohmann::json too_long = nlohmann::json::parse(GoodEvent(1001));
  too_long["text"] = std::string((4 << 20) + 1, 'b');
  const std::string bad1 = bad_version.dump(), bad2 = too_long.dump();
  ASSERT_TRUE(client().Produce(topic_, KeyOf(1000), bad1));
  ASSERT_TRUE(client().Produce(topic_, KeyOf(1001), bad2));
  for (int i = 30; i < 60; ++i) ASSERT_TRUE(client().Produce(topic_, KeyOf(i + 2000), GoodEvent(i + 2000)));

  auto worker = StartWorker("w");
  ASSERT_TRUE(WaitFor([&] { return Counter("w", "applied") + Counter("w", "dead_lettered") >= 62; }, seconds(90)))
      << worker->Log();
  EXPECT_EQ(Counter("w", "applied"), 60u);
  EXPECT_EQ(Counter("w", "dead_lettered"), 2u);
  EXPECT_EQ(Metric("w", "tide_ingest_dead_letter_max_bytes"), 100000) << worker->Log();
  EXPECT_NE(worker->Log().find("max_message_bytes=100000 (topic max.message.bytes)"), std::string::npos)
      << worker->Log();
  worker->Signal(SIGTERM);
  EXPECT_EQ(worker->Wait(seconds(30)), std::optional<int>(0)) << worker->Log();

  auto dead = client().ReadAll(dlq_, 2, seconds(30));
  ASSERT_EQ(dead.size(), 2u);
  for (const auto& r : dead) {
    const std::string& original = *r.key == KeyOf(1000) ? bad1 : bad2;
    EXPECT_EQ(r.headers.at("tide.truncated"), "true");
    EXPECT_EQ(r.headers.at("tide.original.value_bytes"), std::to_string(original.size()));
    EXPECT_EQ(r.headers.at("tide.original.value_sha256"), Sha256Hex(original));
    ASSERT_TRUE(r.value.has_value());
    EXPECT_GT(r.value->size(), 90000u);
    EXPECT_LT(r.value->size(), 100000u);
    EXPECT_EQ(original.compare(0, r.value->size(), *r.value), 0);
  }
}

// Issue 17.2 on a real broker: after kill -9 the restarted worker consumes again within
// seconds, because it rejoins with its own group.instance.id instead of waiting for the dead
// member's session to expire. p50 and max over 10 restarts are printed and bounded.
TEST_F(RealBrokerTest, Issue17_AKilledWorkerConsumesAgainWithinSecondsOfItsRestart) {
  CreateTopics();
  int next = 0;
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i, ++next) ASSERT_TRUE(client().Produce(topic_, KeyOf(next), GoodEvent(next)));
  };
  publish(10);
  auto worker = StartWorker("w");
  ASSERT_TRUE(WaitFor([&] { return Metric("w", "tide_ingest_events_consumed_total") >= 10; }, seconds(90)))
      << worker->Log();
  std::vector<double> resume_s;
  for (int round = 0; round < 10; ++round) {
    worker->Signal(SIGKILL);
    ASSERT_EQ(worker->Wait(seconds(10)), std::optional<int>(128 + SIGKILL));
    publish(5);
    const auto start = std::chrono::steady_clock::now();
    worker = StartWorker("w");
    ASSERT_TRUE(WaitFor([&] { return Metric("w", "tide_ingest_events_consumed_total") >= 1; }, seconds(90)))
        << worker->Log();
    resume_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(resume_s.begin(), resume_s.end());
  const double p50 = resume_s[resume_s.size() / 2], max = resume_s.back();
  std::cout << "[ resume  ] real broker, 10 kill -9 restarts: p50 " << p50 << " s, max " << max << " s\n";
  EXPECT_LE(p50, 5.0);
  EXPECT_LE(max, 10.0);
  ASSERT_TRUE(WaitFor([&] { return Counter("w", "applied") >= static_cast<std::uint64_t>(next); }, seconds(60)));
  EXPECT_EQ(Counter("w", "applied"), static_cast<std::uint64_t>(next));  // nothing lost, nothing twice
  EXPECT_EQ(Counter("w", "duplicate"), 0u);
}

// Issue 15: `tidectl replay --from-timestamp` against a real broker finds each partition's
// offset in the broker's time index (offsetsForTimes); the binary search over message
// timestamps is only for a broker without one (the dev broker, tests/e2e/operators_test.cc).
TEST_F(RealBrokerTest, Issue15_ReplayByTimestampUsesTheBrokersTimeIndex) {
  CreateTopics();
  // Each partition p gets events p, p+3, p+6, p+9 at offsets 0-3, stamped an hour apart from
  // six hours ago (inside the topic's retention).
  constexpr std::int64_t kHour = 3'600'000;
  const std::int64_t base = std::chrono::duration_cast<milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count() - 6 * kHour;
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(client().Produce(topic_, KeyOf(i), GoodEvent(i), i % 3, base + (i / 3) * kHour));
  }
  auto replay = [&](std::int64_t ts) {
    testutil::CommandResult r = Tidectl({"replay", "--dry-run", "--from-timestamp", std::to_string(ts), "--data_dir",
                                         (dir_.path() / "replay").string()});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const std::size_t open = r.output.find('{'), close = r.output.rfind('}');
    if (open == std::string::npos || close == std::string::npos) return nlohmann::json();
    return nlohmann::json::parse(r.output.substr(open, close - open + 1), nullptr, false);
  };
  // Just before the third hour: offset 2 of every partition.
  nlohmann::json report = replay(base + 2 * kHour - 1);
  ASSERT_TRUE(report.is_object()) << report.dump();
  ASSERT_EQ(report["partitions"].size(), 3u) << report.dump();
  for (const nlohmann::json& p : report["partitions"]) {
    EXPECT_EQ(p["to"], 2) << report.dump();
    EXPECT_EQ(p.value("found_by", ""), "time_index") << report.dump();
  }
  // After the last message: the end of each partition, still from the time index.
  report = replay(base + 5 * kHour);
  ASSERT_TRUE(report.is_object()) << report.dump();
  for (const nlohmann::json& p : report["partitions"]) {
    EXPECT_EQ(p["to"], 4) << report.dump();
    EXPECT_EQ(p.value("found_by", ""), "time_index") << report.dump();
  }
}

}  // namespace
}  // namespace tide
