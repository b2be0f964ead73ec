#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/readiness.h"
#include "common/status.h"
#include "ingest/kafka_conf.h"
#include "ingest/kafka_message.h"

namespace tide::ingest {

// librdkafka settings of the worker's consumer (the passthrough properties win over them):
// a cooperative-sticky group member with manual offsets, static membership when
// config.group_instance_id is set, and a session timeout of 10 s (librdkafka: 45 s) so a
// worker that dies for good hands its partitions over within seconds.
std::vector<std::pair<std::string, std::string>> ConsumerDefaults(const KafkaConfig& config);

// The Kafka side of the worker: a consumer-group member (cooperative-sticky) that reads the
// topic in batches and hands each batch to a Handler, which makes it durable together with
// its offsets. Where a partition starts is the Handler's answer (the store), never the
// group's committed offset; a dynamic member (no group.instance.id) commits after each durable
// batch, for lag monitoring only; a static member never commits (see Flush).
//
// Single-threaded: rebalance callbacks run inside consume() on the loop's own thread, and the
// pending batch is made durable before any partition changes hands.
class ConsumerLoop {
 public:
  struct Options {
    std::size_t max_batch = 500;
    std::chrono::milliseconds max_wait{50};  // from the batch's first message
    std::chrono::milliseconds max_backoff{5000};
    // A subscribed topic the cluster reports missing for this long stops the loop (NotFound).
    std::chrono::milliseconds missing_topic_grace{60000};
  };

  class Handler {
   public:
    virtual ~Handler() = default;
    // Next offset to read for a newly assigned partition; nullopt: from the beginning.
    virtual Result<std::optional<std::int64_t>> StartOffset(const std::string& topic,
                                                            std::int32_t partition) = 0;
    // Makes the batch durable, offsets included. Unavailable: nothing was stored and the
    // same batch is retried after a backoff with the partitions paused; any other error
    // stops the loop.
    virtual Status ProcessBatch(const std::vector<KafkaMessage>& batch) = 0;
    // The partitions are no longer this member's (revoked, or lost), after the batch in hand
    // was made durable or dropped. An error stops the loop.
    virtual Status Revoked(const std::vector<std::pair<std::string, std::int32_t>>& partitions) {
      (void)partitions;
      return Status();
    }
    // Called when the loop is idle or between batches (snapshots, stats).
    virtual void Tick() {}
  };

  // `metrics` (optional, must outlive the loop) receives consumer lag per partition;
  // `readiness` (optional, must outlive the loop) turns ready once the group assigned this
  // member its partitions (possibly none).
  static Result<std::unique_ptr<ConsumerLoop>> Create(const KafkaConfig& config, const Options& options,
                                                      Handler* handler, MetricsRegistry* metrics,
                                                      Readiness* readiness = nullptr);
  ~ConsumerLoop();

  // Consumes until `stopping` is set (then finishes the batch in hand, commits and leaves the
  // group) or an error that retrying cannot fix: librdkafka's fatal errors, and those
  // ClassifyKafkaError calls fatal (a session timeout the broker refuses, authorisation,
  // authentication, a fenced group.instance.id...). Their Status says what to change.
  // Transient errors (broker down, leader moving) are retried with backoff, as librdkafka does.
  Status Run(const std::atomic<bool>& stopping);

 private:
  struct Impl;
  explicit ConsumerLoop(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tide::ingest
