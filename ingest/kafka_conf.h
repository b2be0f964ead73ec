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
  // librdkafka passthrough, "key=value" each, applied last (they win over our defaults).
  std::vector<std::string> properties;
};

// A librdkafka global configuration with bootstrap.servers, `defaults` and then the
// passthrough properties set; InvalidArgument names the property librdkafka rejected.
// Callers include <librdkafka/rdkafkacpp.h>.
Result<std::unique_ptr<RdKafka::Conf>> MakeKafkaConf(
    const KafkaConfig& config, const std::vector<std::pair<std::string, std::string>>& defaults);

}  // namespace tide::ingest
