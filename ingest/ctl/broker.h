#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "ingest/kafka_conf.h"

namespace RdKafka {
class KafkaConsumer;
class Producer;
}

namespace tide::ctl {

// tidectl's one door to Kafka: every operator command reads and writes topics through Broker
// and Publisher, and only broker.cc speaks librdkafka (`tidectl dev-broker`, which *is* a
// broker, aside). The worker has its own consumer loop (ingest/consumer_loop.h).

// One message read from a topic. Null key or value: nullopt.
struct Record {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::string>> headers;

  // The last header named `name`, or nullopt.
  std::optional<std::string> Header(std::string_view name) const;
};

// What the operator commands ask the broker about a topic, and what they read from it,
// through a consumer that never joins a group (assign() only).
class Broker {
 public:
  static Result<std::unique_ptr<Broker>> Connect(const ingest::KafkaConfig& kafka);
  ~Broker();

  // The topic's partition ids, sorted; NotFound if the topic does not exist.
  Result<std::vector<std::int32_t>> Partitions(const std::string& topic);
  // (first retained offset, next offset to be written).
  Result<std::pair<std::int64_t, std::int64_t>> Watermarks(const std::string& topic, std::int32_t partition);
  // The first offset whose message timestamp is >= ts_ms: the broker's time index if it has
  // one, else a binary search over message timestamps (which assumes they grow with the
  // offset, as broker LogAppendTime and producers' CreateTime normally do).
  struct TimeLookup {
    std::int64_t offset = 0;
    // How it was found: "time_index", "search" (the binary search) or "empty" (nothing
    // retained: the end).
    std::string found_by;
  };
  Result<TimeLookup> OffsetForTime(const std::string& topic, std::int32_t partition, std::int64_t ts_ms);
  // The timestamp (ms since the epoch) of the first message at or after `offset` (compacted
  // topics have gaps); INT64_MAX past the end.
  Result<std::int64_t> TimestampAt(const std::string& topic, std::int32_t partition, std::int64_t offset);
  // Reads every partition of `topic` from its first retained offset up to the end it had when
  // the call started (messages written meanwhile are left for the next call, so it always
  // finishes), calling `on_record` for each. NotFound if the topic does not exist; Unavailable
  // on a broker error; DeadlineExceeded after `idle` without a message (what was read by then
  // was passed on).
  Status ReadToEnd(const std::string& topic, const std::function<void(const Record&)>& on_record,
                   std::chrono::milliseconds idle = std::chrono::seconds(30));

 private:
  explicit Broker(std::unique_ptr<RdKafka::KafkaConsumer> consumer);

  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

// Sends messages with acks=all and idempotence, so a message is on every in-sync replica once
// acknowledged and a retry never duplicates it. A keyed message goes to ingest::PartitionOf
// its key: every event of a container on one partition.
class Publisher {
 public:
  static Result<std::unique_ptr<Publisher>> Connect(const ingest::KafkaConfig& kafka);
  ~Publisher();

  // Queues one message for `topic` (on ingest::PartitionOf its key; a null key: one fixed
  // partition). Waits while librdkafka's local queue is full. Unavailable if it is refused.
  Status Send(const std::string& topic, std::optional<std::string_view> key, std::optional<std::string_view> value,
              const std::vector<std::pair<std::string, std::string>>& headers = {});
  // Waits up to `timeout` for every queued message to be acknowledged. Unavailable says how
  // many of those sent were not, with the last delivery error.
  Status Flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::int64_t sent() const { return sent_; }

 private:
  class Deliveries;
  Publisher(std::unique_ptr<Deliveries> deliveries, std::unique_ptr<RdKafka::Producer> producer);

  std::unique_ptr<Deliveries> deliveries_;  // outlives the producer that reports to it
  std::unique_ptr<RdKafka::Producer> producer_;
  std::int64_t sent_ = 0;
  std::map<std::string, std::int32_t> partition_counts_;  // by topic, asked once
};

}  // namespace tide::ctl
