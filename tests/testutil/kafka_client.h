#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tide::testutil {

// A producer and a reader of any Kafka-protocol cluster (the mock or a real broker), for
// tests that publish events and read what the worker dead-lettered.
class KafkaTestClient {
 public:
  struct Record {
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::map<std::string, std::string> headers;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
  };

  explicit KafkaTestClient(std::string bootstrap);
  ~KafkaTestClient();
  KafkaTestClient(const KafkaTestClient&) = delete;
  KafkaTestClient& operator=(const KafkaTestClient&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  // Produces (to `partition`, or by the key's hash when -1) and waits for delivery; false on
  // failure. Records up to 20 MB are allowed on this side (the topic may refuse them).
  // `timestamp_ms` is the record's CreateTime (0: now).
  bool Produce(const std::string& topic, const std::optional<std::string>& key,
               const std::optional<std::string>& value, std::int32_t partition = -1, std::int64_t timestamp_ms = 0);
  // Reads the topic from the beginning until `count` records arrived or the timeout passed.
  std::vector<Record> ReadAll(const std::string& topic, std::size_t count, std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bootstrap_;
};

}  // namespace tide::testutil
