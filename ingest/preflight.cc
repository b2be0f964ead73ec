#include "ingest/preflight.h"

#include <thread>

#include <spdlog/spdlog.h>

#include "ingest/consumer_loop.h"

namespace tide::ingest {
namespace {

using Clock = std::chrono::steady_clock;

// Sleeps `d` in short steps; false when `stopping` was set.
bool SleepUnlessStopping(std::chrono::milliseconds d, const std::atomic<bool>& stopping) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
    if (stopping.load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !stopping.load();
}

Status CheckSessionTimeout(const KafkaConfig& config, KafkaAdmin* admin) {
  Result<std::string> value = EffectiveKafkaProperty(config, ConsumerDefaults(config), "session.timeout.ms");
  if (!value) return value.status();
  const long long session = std::stoll(*value);
  Result<std::map<std::string, std::string>> broker = admin->BrokerConfigs();
  if (!broker) {
    if (broker.status().code() == Status::Code::kUnimplemented) return Status();  // the mock cluster
    return broker.status();
  }
  auto bound = [&](const char* key) -> std::optional<long long> {
    auto it = broker->find(key);
    if (it == broker->end()) return std::nullopt;
    try {
      return std::stoll(it->second);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  const std::optional<long long> min = bound("group.min.session.timeout.ms");
  const std::optional<long long> max = bound("group.max.session.timeout.ms");
  if ((min && session < *min) || (max && session > *max)) {
    return Status::InvalidArgument(
        "kafka property session.timeout.ms=" + *value + " is outside what the broker accepts (group.min.session.timeout.ms=" +
        (min ? std::to_string(*min) : "?") + ", group.max.session.timeout.ms=" + (max ? std::to_string(*max) : "?") +
        "): the broker would refuse every JoinGroup; set --kafka.property session.timeout.ms=<ms> within those bounds");
  }
  spdlog::info("kafka session.timeout.ms={} within the broker's [{}, {}]", session, min ? std::to_string(*min) : "?",
               max ? std::to_string(*max) : "?");
  return Status();
}

}  // namespace

Status RunPreflight(const KafkaConfig& config, const PreflightOptions& options, KafkaAdmin* admin,
                    Readiness* readiness, const std::atomic<bool>& stopping) {
  const auto start = Clock::now();
  Clock::time_point last_log;
  for (;;) {
    std::vector<std::string> missing;
    Status problem;
    for (const std::string& topic : {config.topic, config.dead_letter_topic}) {
      Result<TopicDescription> d = admin->DescribeTopic(topic, /*with_configs=*/false);
      if (d) continue;
      if (d.status().code() == Status::Code::kNotFound) {
        missing.push_back(topic);
      } else if (d.status().code() == Status::Code::kUnavailable) {
        problem = d.status();
      } else {
        return d.status().WithContext("checking topic " + topic);
      }
    }
    if (missing.empty() && problem.ok()) break;
    std::string reason;
    if (!missing.empty()) {
      reason = "missing topic(s):";
      for (const std::string& t : missing) reason += " " + t;
      reason += " (create them with `tidectl topics create`, or fix kafka.topic / kafka.dead_letter_topic)";
      const bool forever = options.missing_topic_wait.count() < 0;
      if (!forever && Clock::now() - start >= options.missing_topic_wait) {
        return Status::NotFound(reason + "; waited " + std::to_string(options.missing_topic_wait.count()) +
                                " s (kafka.missing_topic_wait_s)");
      }
    } else {
      reason = "kafka cluster not reachable: " + problem.message();
    }
    if (readiness) readiness->SetNotReady(reason);
    if (Clock::now() - last_log >= std::chrono::seconds(30)) {
      spdlog::error("waiting before joining the group: {}", reason);
      last_log = Clock::now();
    }
    if (!SleepUnlessStopping(options.retry_interval, stopping)) return Status();
  }
  for (;;) {
    Status s = CheckSessionTimeout(config, admin);
    if (s.code() != Status::Code::kUnavailable) return s;
    if (readiness) readiness->SetNotReady("kafka cluster not reachable: " + s.message());
    if (!SleepUnlessStopping(options.retry_interval, stopping)) return Status();
  }
}

}  // namespace tide::ingest
