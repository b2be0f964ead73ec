#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace RdKafka {
class Conf;
}

namespace tide::ingest {

struct KafkaConfig {
  std::string brokers = "127.0.0.1:9092";
  std::string topic = "tide.documents";
  std::string group_id = "tide-ingest";
  std::string dead_letter_topic = "tide.documents.dlq";
  // Static group membership (KIP-345): a restarted worker takes its partitions back at once
  // instead of waiting for its old session to expire. Empty: dynamic membership. Must be
  // unique within the group (ParseConfig derives one from the host and the data directory).
  std::string group_instance_id;
  // librdkafka passthrough, "key=value" each, applied last (they win over our defaults).
  std::vector<std::string> properties;
};

// A librdkafka global configuration with bootstrap.servers, `defaults` and then the
// passthrough properties set; InvalidArgument names the property librdkafka rejected.
// Callers include <librdkafka/rdkafkacpp.h>.
Result<std::unique_ptr<RdKafka::Conf>> MakeKafkaConf(
    const KafkaConfig& config, const std::vector<std::pair<std::string, std::string>>& defaults);

// The value a librdkafka property has after `defaults` and the passthrough properties
// (librdkafka's own default where neither sets it).
Result<std::string> EffectiveKafkaProperty(const KafkaConfig& config,
                                           const std::vector<std::pair<std::string, std::string>>& defaults,
                                           const std::string& key);

}  // namespace tide::ingest
