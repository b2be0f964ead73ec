// `tidectl publish`: sends a file of JSON events (one per line) to the topic, keyed so one
// entity's events stay in order on one partition (see KeyOf).
// Lines that are not events are sent as they are (unkeyed): the worker dead-letters them,
// which is how operators and tests exercise the dead-letter path.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "common/config_util.h"
#include "ingest/ctl/broker.h"
#include "ingest/ctl/commands.h"
#include "ingest/ctl/progress.h"
#include "ingest/event.h"

namespace tide::ctl {
namespace {

namespace po = boost::program_options;

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
  Result<std::unique_ptr<Publisher>> publisher = Publisher::Connect(kafka);
  if (!publisher) {
    std::cerr << "tidectl publish: " << publisher.status().message() << '\n';
    return publisher.status().code() == Status::Code::kInvalidArgument ? 2 : 1;
  }
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
  auto produce = [&](std::optional<std::string_view> key, std::optional<std::string_view> value) -> bool {
    if (Status sent = (*publisher)->Send(kafka.topic, key, value); !sent.ok()) {
      std::cerr << "tidectl publish: " << sent.message() << '\n';
      return false;
    }
    return true;
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
      if (!produce(KeyOf(line), line)) return 1;
      progress.Update(bytes_read, static_cast<std::uint64_t>((*publisher)->sent()));
    }
  }
  for (const std::string& key : tombstones) {
    if (!produce(key, std::nullopt)) return 1;
  }
  const std::int64_t sent = (*publisher)->sent();
  if (Status flushed = (*publisher)->Flush(); !flushed.ok()) {
    std::cerr << "tidectl publish: " << flushed.message() << '\n';
    return 1;
  }
  progress.Finish(static_cast<std::uint64_t>(sent));
  std::cout << "published " << sent << " events to " << kafka.topic << std::endl;
  return 0;
}

}  // namespace tide::ctl
