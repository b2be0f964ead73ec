#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/testutil/kafka_client.h"

namespace tide::testutil {

// librdkafka's mock cluster in this process (a real Kafka-protocol broker on loopback), with
// a producer and a reader for tests.
class MockKafka {
 public:
  using Record = KafkaTestClient::Record;

  MockKafka(const std::vector<std::string>& topics, int partitions);
  ~MockKafka();
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  // See KafkaTestClient. The mock keeps only about 5 MiB per partition (older records are
  // dropped): tests of large events spread them over partitions.
  bool Produce(const std::string& topic, const std::optional<std::string>& key,
               const std::optional<std::string>& value, std::int32_t partition = -1) {
    return client_->Produce(topic, key, value, partition);
  }
  std::vector<Record> ReadAll(const std::string& topic, std::size_t count, std::chrono::milliseconds timeout) {
    return client_->ReadAll(topic, count, timeout);
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bootstrap_;
  std::unique_ptr<KafkaTestClient> client_;
};

}  // namespace tide::testutil
