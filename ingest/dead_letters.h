#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/status.h"
#include "ingest/kafka_admin.h"
#include "ingest/kafka_conf.h"
#include "ingest/kafka_message.h"

namespace tide::ingest {

// Publishes rejected messages to the dead-letter topic with headers that say why:
// tide.reason, tide.error_class, tide.source.topic, tide.source.partition,
// tide.source.offset, tide.dead_lettered_at (ms since the epoch).
//
// A dead letter is always deliverable. The key and value go unchanged when the record fits the
// topic's size limit; when it does not, the value (and a key over 1 KiB) are cut to what fits,
// on a UTF-8 boundary, and tide.truncated=true, tide.original.value_bytes,
// tide.original.value_sha256 (and tide.original.key_bytes, tide.original.key_sha256 for a cut
// key) say so. A record the broker still refuses as too large is cut by half and sent again,
// down to the headers alone.
//
// Delivery is confirmed by Flush() before the consumer stores offsets past the message, so a
// rejected message is never lost (it may be dead-lettered twice after a crash).
// Thread safety: none; owned by the consume loop.
class DeadLetterProducer {
 public:
  struct Options {
    // The largest record sent to the dead-letter topic. 0: the topic's max.message.bytes as
    // the broker reports it (DescribeConfigs through `admin`), or librdkafka's default
    // message.max.bytes (1,000,000) where the broker cannot say.
    std::size_t max_message_bytes = 0;
  };
  // `admin` (optional, used only here) reads the topic's limit.
  static Result<std::unique_ptr<DeadLetterProducer>> Create(const KafkaConfig& config, const Options& options,
                                                            KafkaAdmin* admin);
  ~DeadLetterProducer();

  // The size limit in force, and where it came from ("topic max.message.bytes",
  // "kafka.dead_letter_max_bytes", "librdkafka message.max.bytes default").
  std::size_t max_message_bytes() const;
  const std::string& max_message_bytes_source() const;

  // Queues a dead letter of `message`; Flush() delivers it.
  void Send(const KafkaMessage& message, const std::string& reason, const std::string& error_class);
  // Waits until every dead letter queued so far is acknowledged. Unavailable: a transient
  // failure (broker unreachable, timeout); the caller retries. Any other code is a failure that
  // retrying will not fix (the topic does not exist, not authorised, a limit too small for the
  // headers alone): its message says what to change.
  Status Flush(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit DeadLetterProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tide::ingest
