#include "ingest/kafka_conf.h"

#include <librdkafka/rdkafkacpp.h>

namespace tide::ingest {

Result<std::unique_ptr<RdKafka::Conf>> MakeKafkaConf(
    const KafkaConfig& config, const std::vector<std::pair<std::string, std::string>>& defaults) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  auto set = [&](const std::string& key, const std::string& value) -> Status {
    if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK) {
      return Status::InvalidArgument("kafka property " + key + "=" + value + ": " + err);
    }
    return Status();
  };
  TIDE_RETURN_IF_ERROR(set("bootstrap.servers", config.brokers));
  for (const auto& [key, value] : defaults) TIDE_RETURN_IF_ERROR(set(key, value));
  for (const std::string& kv : config.properties) {
    std::size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("kafka property '" + kv + "' is not key=value");
    }
    TIDE_RETURN_IF_ERROR(set(kv.substr(0, eq), kv.substr(eq + 1)));
  }
  return conf;
}

}  // namespace tide::ingest
