#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "ingest/kafka_conf.h"

namespace tide::ingest {

// A topic as `tidectl topics create` makes it.
struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replication_factor = -1;                 // -1: the broker's default.replication.factor
  std::map<std::string, std::string> configs;  // topic configs, e.g. retention.ms, max.message.bytes
};

// A topic as the cluster describes it.
struct TopicDescription {
  std::string name;
  int partitions = 0;
  int replication_factor = 0;  // replicas of partition 0
  // The topic's effective configuration (DescribeConfigs), every entry the broker reports;
  // empty when the broker cannot describe configs (librdkafka's mock cluster).
  std::map<std::string, std::string> configs;
};

// Cluster administration through librdkafka's Admin API: what the worker checks before it
// consumes (its topics, the dead-letter topic's size limit, the broker's session-timeout
// bounds) and what `tidectl topics` does. Every request waits at most `timeout` for the
// cluster; a cluster that does not answer in time is Unavailable.
//
// Never creates a topic as a side effect (allow.auto.create.topics=false).
// Thread safety: none.
class KafkaAdmin {
 public:
  static Result<std::unique_ptr<KafkaAdmin>> Connect(const KafkaConfig& config, std::chrono::milliseconds timeout);
  ~KafkaAdmin();
  KafkaAdmin(const KafkaAdmin&) = delete;
  KafkaAdmin& operator=(const KafkaAdmin&) = delete;

  // Partitions and replication factor, plus the configuration when `with_configs` (left empty
  // where the broker cannot describe it). NotFound: the cluster says the topic does not exist.
  Result<TopicDescription> DescribeTopic(const std::string& topic, bool with_configs);
  // DescribeConfigs of a topic, or of one broker of the cluster (the first in the metadata).
  // Unimplemented: the broker does not offer DescribeConfigs.
  Result<std::map<std::string, std::string>> TopicConfigs(const std::string& topic);
  Result<std::map<std::string, std::string>> BrokerConfigs();
  // Creates each topic; the outcome per topic, in order (AlreadyExists when it was there).
  // Unimplemented for all when the broker has no CreateTopics (the mock cluster).
  std::vector<std::pair<std::string, Status>> CreateTopics(const std::vector<TopicSpec>& topics);

 private:
  struct Impl;
  explicit KafkaAdmin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tide::ingest
