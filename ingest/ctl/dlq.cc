// `tidectl dlq`: the dead-letter topic, for operators.
//
//   tidectl dlq --config configs/ingest.conf                 list: one JSON line per message
//   tidectl dlq --config configs/ingest.conf --redrive [--reason-contains TEXT]
//
// Listing reads every partition of kafka.dead_letter_topic from its first retained offset up
// to the end it had when the command started, and prints the headers the worker wrote
// (reason, error class, source topic/partition/offset, time) with the key and the value.
// --redrive publishes the selected messages again, key and value unchanged, to the topic
// they came from (header tide.source.topic), after the cause was fixed: a worker with a
// larger limit, a new embedder, a corrected pipeline re-publishing is not needed. Versions
// make the re-driven events safe to apply late. A dead letter the worker had to cut to fit the
// topic (header tide.truncated) is not the original and is never re-driven: it is counted and
// named, and its source offset says where the original is. Nothing is removed from the dead-letter
// topic (Kafka cannot delete single messages); a re-driven message is tagged with header
// tide.redriven_from on its way back, and re-driving twice sends it twice (harmless for the
// same reason).

#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "common/utf8.h"
#include "ingest/config.h"
#include "ingest/ctl/broker.h"
#include "ingest/ctl/commands.h"

namespace tide::ctl {
namespace {

namespace po = boost::program_options;

nlohmann::json OrNull(const std::optional<std::string>& s) {
  return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}

// Valid UTF-8 is printed as is; anything else (the reason it was dead-lettered, perhaps)
// with its bytes escaped as \xNN.
std::string Printable(const std::string& bytes) {
  if (utf8::IsValid(bytes)) return bytes;
  std::string out;
  static const char* kHex = "0123456789abcdef";
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

int RunDlq(int argc, const char* const* argv) {
  bool redrive = false;
  std::string reason_contains;
  std::size_t max_value_bytes = 2000;
  po::options_description extra("tidectl dlq options");
  extra.add_options()
      ("redrive", po::bool_switch(&redrive), "publish the selected messages again to their source topic")
      ("reason-contains", po::value(&reason_contains), "only messages whose tide.reason contains this text")
      ("max-value-bytes", po::value(&max_value_bytes)->default_value(max_value_bytes),
       "when listing, cut values longer than this (0: whole values)");
  Result<ingest::Config> config = ingest::ParseConfig(
      argc, argv, extra, "tidectl dlq --config configs/ingest.conf [--reason-contains TEXT] [--redrive]");
  if (!config) {
    if (config.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl dlq: " << config.status().message() << '\n';
    return 2;
  }
  const ingest::KafkaConfig& kafka = config->kafka;
  const std::string& dlq = kafka.dead_letter_topic;

  Result<std::unique_ptr<Broker>> broker = Broker::Connect(kafka);
  if (!broker) {
    std::cerr << "tidectl dlq: " << broker.status().message() << '\n';
    return broker.status().code() == Status::Code::kInvalidArgument ? 2 : 1;
  }
  std::unique_ptr<Publisher> publisher;
  if (redrive) {
    Result<std::unique_ptr<Publisher>> connected = Publisher::Connect(kafka);
    if (!connected) {
      std::cerr << "tidectl dlq: " << connected.status().message() << '\n';
      return connected.status().code() == Status::Code::kInvalidArgument ? 2 : 1;
    }
    publisher = std::move(*connected);
  }

  // Messages dead-lettered while we read are left for the next run, so the command finishes.
  std::size_t seen = 0, selected = 0, truncated = 0;
  Status failed;
  Status read = (*broker)->ReadToEnd(dlq, [&](const Record& m) {
    if (!failed.ok()) return;
    ++seen;
    const std::optional<std::string> reason = m.Header("tide.reason");
    if (!reason_contains.empty() && (!reason || reason->find(reason_contains) == std::string::npos)) return;
    ++selected;
    const std::optional<std::string> source_topic = m.Header("tide.source.topic");
    const bool worker_cut = m.Header("tide.truncated") == std::optional<std::string>("true");
    if (!redrive) {
      std::string shown = m.value.value_or(std::string());
      const bool cut = max_value_bytes != 0 && shown.size() > max_value_bytes;
      if (cut) shown.resize(max_value_bytes);
      nlohmann::json line = {
          {"partition", m.partition},
          {"offset", m.offset},
          {"reason", OrNull(reason)},
          {"error_class", OrNull(m.Header("tide.error_class"))},
          {"source", {{"topic", OrNull(source_topic)},
                      {"partition", OrNull(m.Header("tide.source.partition"))},
                      {"offset", OrNull(m.Header("tide.source.offset"))}}},
          {"dead_lettered_at_ms", OrNull(m.Header("tide.dead_lettered_at"))},
          {"key", m.key ? nlohmann::json(Printable(*m.key)) : nlohmann::json(nullptr)},
          {"value", m.value ? nlohmann::json(Printable(shown)) : nlohmann::json(nullptr)},
          {"value_bytes", m.value ? m.value->size() : 0},
          {"value_truncated", cut}};
      if (worker_cut) {
        // The worker cut it to fit the topic; the original is at the source offset.
        line["dead_letter_truncated"] = {{"original_value_bytes", OrNull(m.Header("tide.original.value_bytes"))},
                                         {"original_value_sha256", OrNull(m.Header("tide.original.value_sha256"))}};
      }
      // `replace`: IsValid checks structure only, and a dead letter may hold anything.
      std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      return;
    }
    if (worker_cut) {
      ++truncated;
      std::cerr << "tidectl dlq: not re-driving partition " << m.partition << " offset " << m.offset
                << ": the worker cut it to fit the dead-letter topic; the original is at "
                << source_topic.value_or("?") << "/" << m.Header("tide.source.partition").value_or("?") << "@"
                << m.Header("tide.source.offset").value_or("?") << '\n';
      return;
    }
    const std::string target = source_topic.value_or(kafka.topic);
    failed = publisher->Send(
        target, m.key, m.value,
        {{"tide.redriven_from", dlq + "/" + std::to_string(m.partition) + "/" + std::to_string(m.offset)}});
    if (failed.ok() && publisher->sent() % 1000 == 0) {
      std::cerr << "tidectl dlq: re-driven " << publisher->sent() << " so far\n";
    }
  });
  if (!failed.ok()) {
    std::cerr << "tidectl dlq: " << failed.message() << '\n';
    return 1;
  }
  if (read.code() == Status::Code::kDeadlineExceeded) {
    std::cerr << "tidectl dlq: " << read.message() << '\n';  // what was read is reported below
  } else if (!read.ok()) {
    std::cerr << "tidectl dlq: " << read.message() << '\n';
    return 1;
  }
  const std::size_t sent = publisher ? static_cast<std::size_t>(publisher->sent()) : 0;
  if (publisher) {
    if (Status flushed = publisher->Flush(); !flushed.ok()) {
      std::cerr << "tidectl dlq: re-driven messages were not all acknowledged (" << flushed.message()
                << "); run it again\n";
      return 1;
    }
  }
  std::cerr << "tidectl dlq: " << seen << " dead letters read, " << selected << " selected"
            << (redrive ? ", " + std::to_string(sent) + " re-driven" : std::string())
            << (truncated ? ", " + std::to_string(truncated) + " cut by the worker and not re-driven" : std::string())
            << '\n';
  return 0;
}

}  // namespace tide::ctl
