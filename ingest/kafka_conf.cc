#include "ingest/kafka_conf.h"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

namespace tide::ingest {
namespace {

// librdkafka's logs and errors through our logger (its default prints to stderr). A
// passthrough property meant for the consumer draws a CONFWARN from every producer and admin
// client: that one is debug. Clients that set their own event_cb (the consumer) replace it.
class KafkaLogger : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_LOG:
        if (event.fac() == "CONFWARN" || event.severity() > RdKafka::Event::EVENT_SEVERITY_WARNING) {
          spdlog::debug("kafka log fac={} {}", event.fac(), event.str());
        } else {
          spdlog::warn("kafka log fac={} {}", event.fac(), event.str());
        }
        break;
      case RdKafka::Event::EVENT_ERROR:
        spdlog::warn("kafka error={} {}", RdKafka::err2str(event.err()), event.str());
        break;
      default:
        break;
    }
  }
};

KafkaLogger kafka_logger;  // stateless; lives as long as any client

}  // namespace

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
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(&kafka_logger), err) != RdKafka::Conf::CONF_OK) {
    return Status::Internal("kafka event_cb: " + err);
  }
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

Result<std::string> EffectiveKafkaProperty(const KafkaConfig& config,
                                           const std::vector<std::pair<std::string, std::string>>& defaults,
                                           const std::string& key) {
  Result<std::unique_ptr<RdKafka::Conf>> conf = MakeKafkaConf(config, defaults);
  if (!conf) return conf.status();
  std::string value;
  if ((*conf)->get(key, value) != RdKafka::Conf::CONF_OK) {
    return Status::InvalidArgument("unknown kafka property " + key);
  }
  return value;
}

}  // namespace tide::ingest
