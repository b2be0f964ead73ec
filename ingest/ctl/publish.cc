// `tidectl publish`: sends a file of JSON events (one per line) to the topic, keyed so one
// entity's events stay in order on one partition (see KeyOf).
// Lines that are not events are sent as they are (unkeyed): the worker dead-letters them,
// which is how operators and tests exercise the dead-letter path.

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include <boost/program_options.hpp>
#include <librdkafka/rdkafkacpp.h>
#include <nlohmann/json.hpp>

#include "common/config_util.h"
#include "ingest/ctl/commands.h"
#include "ingest/ctl/progress.h"
#include "ingest/event.h"
#include "ingest/kafka_conf.h"

namespace tide::ctl {
namespace {

namespace po = boost::program_options;

class DeliveryCounter : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      ++delivered;
    } else {
      ++failed;
      last_error = message.errstr();
    }
  }
  std::atomic<long> delivered{0};
  std::atomic<long> failed{0};
  std::string last_error;
};

// The key that keeps an entity's events ordered, chosen by the event's type:
// "<container_id>/<doc_id>" for documents, "acl:<principal>" for ACL events, and
// "<container_id>" for container events.
std::optional<std::string> KeyOf(const std::string& line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto str = [&](const char* field) -> std::optional<std::string> {
    auto it = j.find(field);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  const std::string type = str("type").value_or("");
  if (type.rfind("acl.", 0) == 0) {
    if (auto principal = str("principal")) return ingest::AclEventKey(*principal);
    return std::nullopt;
  }
  auto container = str("container_id");
  if (!container) return std::nullopt;
  if (type.rfind("container.", 0) == 0) return container;
  if (auto doc = str("doc_id")) return ingest::EventKey(*container, *doc);
  return std::nullopt;
}

}  // namespace

int RunPublish(int argc, const char* const* argv) {
  ingest::KafkaConfig kafka;
  std::string file;
  std::vector<std::string> tombstones;
  po::options_description options("tidectl publish options");
  options.add_options()
      ("brokers", po::value(&kafka.brokers)->default_value(kafka.brokers), "bootstrap servers")
      ("topic", po::value(&kafka.topic)->default_value(kafka.topic), "topic")
      ("file", po::value(&file), "JSON lines file of events; '-' for stdin")
      ("tombstone", po::value(&tombstones)->composing(),
       "also send a tombstone (null value) for this container_id/doc_id key (repeatable)")
      ("kafka.property", po::value(&kafka.properties)->composing(), "librdkafka property key=value");
  Result<po::variables_map> vm =
      ParseCommandLineAndConfig(argc, argv, options, "tidectl publish --file events.jsonl [--brokers host:port]");
  if (!vm) {
    if (vm.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl publish: " << vm.status().message() << '\n';
    return 2;
  }
  if (file.empty() && tombstones.empty()) {
    std::cerr << "tidectl publish: give --file and/or --tombstone\n";
    return 2;
  }
  DeliveryCounter counter;
  Result<std::unique_ptr<RdKafka::Conf>> conf =
      ingest::MakeKafkaConf(kafka, {{"acks", "all"}, {"enable.idempotence", "true"}, {"linger.ms", "20"}});
  std::string err;
  if (!conf || (*conf)->set("dr_cb", &counter, err) != RdKafka::Conf::CONF_OK) {
    std::cerr << "tidectl publish: " << (conf ? err : conf.status().message()) << '\n';
    return 2;
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf->get(), err));
  if (!producer) {
    std::cerr << "tidectl publish: " << err << '\n';
    return 1;
  }
  long sent = 0;
  // Progress on stderr (stdout keeps the one result line scripts read). The fraction is of the
  // input file's bytes; stdin has no known size.
  std::optional<std::uint64_t> total_bytes;
  if (!file.empty() && file != "-") {
    std::error_code ec;
    if (const auto size = std::filesystem::file_size(file, ec); !ec) total_bytes = size;
  }
  Progress progress(std::cerr, {.command = "publish", .what = "events", .total = total_bytes,
                                .tty = Progress::IsTerminal(STDERR_FILENO)});
  std::uint64_t bytes_read = 0;
  auto produce = [&](const std::optional<std::string>& key, const std::string* value) -> bool {
    for (;;) {
      RdKafka::ErrorCode e = producer->produce(
          kafka.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
          value ? const_cast<char*>(value->data()) : nullptr, value ? value->size() : 0,
          key ? key->data() : nullptr, key ? key->size() : 0, 0, nullptr);
      if (e == RdKafka::ERR__QUEUE_FULL) {
        producer->poll(100);  // backpressure: wait for deliveries to free the queue
        continue;
      }
      if (e != RdKafka::ERR_NO_ERROR) {
        std::cerr << "tidectl publish: produce: " << RdKafka::err2str(e) << '\n';
        return false;
      }
      ++sent;
      producer->poll(0);
      return true;
    }
  };
  if (!file.empty()) {
    std::ifstream in_file;
    if (file != "-") {
      in_file.open(file);
      if (!in_file) {
        std::cerr << "tidectl publish: cannot open " << file << '\n';
        return 2;
      }
    }
    std::istream& in = file == "-" ? std::cin : in_file;
    std::string line;
    while (std::getline(in, line)) {
      bytes_read += line.size() + 1;
      if (line.empty()) continue;
      if (!produce(KeyOf(line), &line)) return 1;
      progress.Update(bytes_read, static_cast<std::uint64_t>(sent));
    }
  }
  for (const std::string& key : tombstones) {
    if (!produce(key, nullptr)) return 1;
  }
  producer->flush(30000);
  if (counter.failed > 0 || counter.delivered != sent) {
    std::cerr << "tidectl publish: " << counter.delivered << " of " << sent << " delivered"
              << (counter.last_error.empty() ? "" : ": " + counter.last_error) << '\n';
    return 1;
  }
  progress.Finish(static_cast<std::uint64_t>(sent));
  std::cout << "published " << sent << " events to " << kafka.topic << std::endl;
  return 0;
}

}  // namespace tide::ctl
