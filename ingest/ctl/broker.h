#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "ingest/kafka_conf.h"

namespace RdKafka {
class KafkaConsumer;
}

namespace tide::ctl {

// What the operator commands ask the broker about a topic, through a consumer that never
// joins a group (assign() only).
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
  Result<std::int64_t> OffsetForTime(const std::string& topic, std::int32_t partition, std::int64_t ts_ms);

 private:
  explicit Broker(std::unique_ptr<RdKafka::KafkaConsumer> consumer);
  // The timestamp of the first message at or after `offset` (compacted topics have gaps).
  Result<std::int64_t> TimestampAt(const std::string& topic, std::int32_t partition, std::int64_t offset);

  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

}  // namespace tide::ctl
