// `tidectl topics`: the worker's two topics, created and described through the Admin API.
//
//   tidectl topics create --config configs/ingest.conf [--partitions 6] [--replication-factor 3] ...
//   tidectl topics describe --config configs/ingest.conf [--json]
//
// `create` makes kafka.topic and kafka.dead_letter_topic with the settings docs/operations.md
// recommends: the source topic keeps its events for ever (a rebuild reads it from the start;
// compaction would drop chunk events that share their document's key), the dead-letter topic
// for 14 days, and both take records up to limits.max_event_bytes plus room for headers, so an
// event the worker accepts can be published and one it rejects is dead-lettered whole. A topic
// that exists already is left as it is and described (exit 0), with a warning where its
// settings differ from the ones asked for.

#include <iostream>
#include <thread>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "ingest/config.h"
#include "ingest/ctl/commands.h"
#include "ingest/kafka_admin.h"

namespace tide::ctl {
namespace {

namespace po = boost::program_options;

// The settings an operator cares about, in the order they are printed.
constexpr const char* kShownConfigs[] = {"retention.ms", "retention.bytes", "max.message.bytes", "cleanup.policy",
                                         "min.insync.replicas"};

nlohmann::json Describe(const ingest::TopicDescription& d) {
  nlohmann::json configs = nlohmann::json::object();
  for (const char* key : kShownConfigs) {
    if (auto it = d.configs.find(key); it != d.configs.end()) configs[key] = it->second;
  }
  return {{"topic", d.name},
          {"partitions", d.partitions},
          {"replication_factor", d.replication_factor},
          {"configs", configs}};
}

void Print(const ingest::TopicDescription& d) {
  std::cout << d.name << ": partitions=" << d.partitions << " replication_factor=" << d.replication_factor;
  for (const char* key : kShownConfigs) {
    if (auto it = d.configs.find(key); it != d.configs.end()) std::cout << ' ' << key << '=' << it->second;
  }
  if (d.configs.empty()) std::cout << " (the broker does not describe topic configs)";
  std::cout << '\n';
}

}  // namespace

int RunTopics(int argc, const char* const* argv) {
  const std::string usage =
      "tidectl topics create|describe --config configs/ingest.conf [options]\n"
      "  create: makes kafka.topic and kafka.dead_letter_topic (existing topics are left as they are)\n"
      "  describe: partitions, replication factor, retention and size limits of both";
  if (argc < 2 || argv[1][0] == '-') {
    if (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
      std::cout << usage << '\n';
      return 0;
    }
    std::cerr << "usage: " << usage << '\n';
    return 2;
  }
  const std::string action = argv[1];
  if (action != "create" && action != "describe") {
    std::cerr << "tidectl topics: unknown action '" << action << "' (create or describe)\n";
    return 2;
  }
  int partitions = 6;
  int replication_factor = -1;
  long long retention_ms = -1;
  long long dlq_retention_ms = 14LL * 24 * 3600 * 1000;
  long long max_message_bytes = 0;
  long long dlq_max_message_bytes = 0;
  bool json = false;
  po::options_description extra("tidectl topics options");
  extra.add_options()
      ("partitions", po::value(&partitions)->default_value(partitions),
       "create: partitions of the source topic (the dead-letter topic gets the same); the most workers "
       "that can share the ingest")
      ("replication-factor", po::value(&replication_factor)->default_value(replication_factor),
       "create: replicas of each partition; -1: the broker's default.replication.factor")
      ("retention-ms", po::value(&retention_ms)->default_value(retention_ms),
       "create: source topic retention; -1 keeps every event (rebuilds replay the whole topic)")
      ("dlq-retention-ms", po::value(&dlq_retention_ms)->default_value(dlq_retention_ms),
       "create: dead-letter topic retention")
      ("max-message-bytes", po::value(&max_message_bytes)->default_value(max_message_bytes),
       "create: max.message.bytes of the source topic; 0: limits.max_event_bytes + 64 KiB")
      ("dlq-max-message-bytes", po::value(&dlq_max_message_bytes)->default_value(dlq_max_message_bytes),
       "create: max.message.bytes of the dead-letter topic; 0: as the source topic's (rejected events fit "
       "whole, with room for the headers)")
      ("json", po::bool_switch(&json), "describe: one JSON object per topic");
  // argv[1] is the action: the options start after it.
  Result<ingest::Config> config = ingest::ParseConfig(argc - 1, argv + 1, extra, usage);
  if (!config) {
    if (config.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl topics: " << config.status().message() << '\n';
    return 2;
  }
  if (partitions < 1) {
    std::cerr << "tidectl topics: --partitions must be positive\n";
    return 2;
  }
  if (max_message_bytes == 0) max_message_bytes = static_cast<long long>(config->limits.max_event_bytes) + 65536;
  if (dlq_max_message_bytes == 0) dlq_max_message_bytes = max_message_bytes;
  Result<std::unique_ptr<ingest::KafkaAdmin>> admin =
      ingest::KafkaAdmin::Connect(config->kafka, std::chrono::seconds(15));
  if (!admin) {
    std::cerr << "tidectl topics: " << admin.status().message() << '\n';
    return 1;
  }
  const std::vector<std::string> names = {config->kafka.topic, config->kafka.dead_letter_topic};
  int exit_code = 0;
  if (action == "create") {
    std::vector<ingest::TopicSpec> specs;
    for (const std::string& name : names) {
      const bool dlq = name == config->kafka.dead_letter_topic;
      ingest::TopicSpec spec;
      spec.name = name;
      spec.partitions = partitions;
      spec.replication_factor = replication_factor;
      spec.configs["retention.ms"] = std::to_string(dlq ? dlq_retention_ms : retention_ms);
      spec.configs["max.message.bytes"] = std::to_string(dlq ? dlq_max_message_bytes : max_message_bytes);
      spec.configs["cleanup.policy"] = "delete";
      specs.push_back(std::move(spec));
    }
    for (const auto& [name, status] : (*admin)->CreateTopics(specs)) {
      if (status.ok()) {
        std::cerr << "tidectl topics: created " << name << '\n';
      } else if (status.code() == Status::Code::kAlreadyExists) {
        std::cerr << "tidectl topics: " << name << " exists; left as it is\n";
      } else {
        std::cerr << "tidectl topics: " << status.message() << '\n';
        exit_code = 1;
      }
    }
    if (exit_code != 0) return exit_code;
  }
  for (const std::string& name : names) {
    Result<ingest::TopicDescription> d = (*admin)->DescribeTopic(name, /*with_configs=*/true);
    if (!d) {
      // Just created: the metadata may lag the controller by a moment.
      for (int attempt = 0; attempt < 20 && !d && d.status().code() == Status::Code::kNotFound && action == "create";
           ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        d = (*admin)->DescribeTopic(name, true);
      }
    }
    if (!d) {
      std::cerr << "tidectl topics: " << d.status().message() << '\n';
      exit_code = 1;
      continue;
    }
    if (action == "create" && d->partitions != partitions) {
      std::cerr << "tidectl topics: warning: " << name << " has " << d->partitions << " partitions, not "
                << partitions << " (partitions can be added with the broker's tools, never removed)\n";
    }
    if (json) {
      std::cout << Describe(*d).dump() << '\n';
    } else {
      Print(*d);
    }
  }
  return exit_code;
}

}  // namespace tide::ctl
