#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "ingest/kafka_conf.h"
#include "ingest/kafka_message.h"

namespace tide::ingest {

// Publishes rejected messages to the dead-letter topic, unchanged (key and value), with
// headers that say why: tide.reason, tide.error_class, tide.source.topic,
// tide.source.partition, tide.source.offset, tide.dead_lettered_at (ms since the epoch).
//
// Delivery is confirmed by Flush() before the consumer stores offsets past the message, so a
// rejected message is never lost (it may be dead-lettered twice after a crash).
// Thread safety: none; owned by the consume loop.
class DeadLetterProducer {
 public:
  static Result<std::unique_ptr<DeadLetterProducer>> Create(const KafkaConfig& config);
  ~DeadLetterProducer();

  Status Send(const KafkaMessage& message, const std::string& reason, const std::string& error_class);
  // Waits for every Send() so far to be acknowledged; Unavailable if any failed or timed out.
  Status Flush(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit DeadLetterProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tide::ingest
