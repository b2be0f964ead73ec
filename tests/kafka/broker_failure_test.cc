// Issue 15 on a cluster of three Kafka brokers (KRaft, each a broker and a controller voter;
// topics with replication factor 3 and min.insync.replicas 2): a broker killed with -9 while
// a worker ingests, then brought back, loses no event and applies none twice. The broker
// killed is node 1: it leads some of the topic's partitions and may be the active controller
// or the group's coordinator, so leadership, the coordinator or the quorum move while the
// worker runs.

#include <signal.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/kafka/broker_fixture.h"
#include "tests/testutil/kafka_broker.h"

namespace tide {
namespace {

nlohmann::json Event(int i) {
  return {{"schema_version", 1},
          {"type", "document.upsert"},
          {"container_id", "c" + std::to_string(i % 7)},
          {"doc_id", "doc-" + std::to_string(i)},
          {"version", 1},
          {"title", "문서 " + std::to_string(i)},
          {"text", "본문 " + std::to_string(i) + " 입니다."}};
}

std::vector<nlohmann::json> Events(int from, int to) {
  std::vector<nlohmann::json> out;
  for (int i = from; i < to; ++i) out.push_back(Event(i));
  return out;
}

TEST_F(RealBrokerTest, Issue15_IngestGoesOnWhenOneOfThreeBrokersDiesAndComesBack) {
  std::string error;
  // A dead replica leaves the in-sync set after 5 s instead of 30, so producing with acks=all
  // does not wait that long for it.
  cluster_ = testutil::KafkaBroker::Start(kKafkaLib, dir_.path() / "cluster", &error,
                                          {{"replica.lag.time.max.ms", "5000"}}, 3);
  ASSERT_NE(cluster_, nullptr) << error;
  CreateTopics({"--replication-factor", "3"});
  {
    testutil::CommandResult r = Tidectl({"topics", "describe"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // Both topics, the source and the dead-letter one.
    std::size_t at = 0;
    int replicated = 0;
    while ((at = r.output.find("replication_factor=3", at)) != std::string::npos) ++replicated, ++at;
    EXPECT_EQ(replicated, 2) << r.output;
  }
  auto worker = StartWorker("w");
  ASSERT_NO_FATAL_FAILURE(Publish(Events(0, 3000), "first.jsonl"));
  ASSERT_TRUE(WaitFor([&] { return Counter("w", "applied") >= 1000; }, seconds(90))) << worker->Log();

  // Node 1 dies mid-stream; publishing and ingesting go on with the other two.
  cluster_->Kill(0);
  ASSERT_NO_FATAL_FAILURE(Publish(Events(3000, 6000), "second.jsonl"));
  ASSERT_TRUE(WaitFor([&] { return Counter("w", "applied") >= 6000; }, seconds(120)))
      << "applied " << Counter("w", "applied") << "\n"
      << worker->Log();
  EXPECT_TRUE(worker->running());

  // It comes back, catches up as a replica, and the worker goes on.
  ASSERT_TRUE(cluster_->Restart(0)) << cluster_->Log().substr(0, 4000);
  ASSERT_NO_FATAL_FAILURE(Publish(Events(6000, 7000), "third.jsonl"));
  ASSERT_TRUE(WaitFor([&] { return Counter("w", "applied") >= 7000; }, seconds(120))) << worker->Log();

  worker->Signal(SIGTERM);
  EXPECT_EQ(worker->Wait(seconds(60)), std::optional<int>(0)) << worker->Log();
  EXPECT_EQ(Counter("w", "applied"), 7000u);  // nothing lost, nothing applied twice
  EXPECT_EQ(Counter("w", "duplicate"), 0u);
  EXPECT_EQ(Counter("w", "dead_lettered"), 0u);
  testutil::CommandResult fsck = testutil::RunCommand(
      {kBin + "/ingest/tidectl", "fsck", "--data_dir", (dir_.path() / "w").string(), "--embedder.dimension", "64"},
      seconds(60));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
}

}  // namespace
}  // namespace tide
