#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tide::testutil {

// librdkafka's mock cluster in this process (a real Kafka-protocol broker on loopback), with
// a producer and a reader for tests.
class MockKafka {
 public:
  struct Record {
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::map<std::string, std::string> headers;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
  };

  MockKafka(const std::vector<std::string>& topics, int partitions);
  ~MockKafka();
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  // Produces and waits for delivery; false on failure.
  bool Produce(const std::string& topic, const std::optional<std::string>& key,
               const std::optional<std::string>& value);
  // Reads the topic from the beginning until `count` records arrived or the timeout passed.
  std::vector<Record> ReadAll(const std::string& topic, std::size_t count, std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bootstrap_;
};

}  // namespace tide::testutil
