#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace tide::ingest {

// A consumed Kafka record, copied out of librdkafka so nothing downstream depends on it.
struct KafkaMessage {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;  // nullopt: a tombstone
  std::int64_t timestamp_ms = -1;
};

}  // namespace tide::ingest
