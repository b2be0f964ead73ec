// `tidectl replay`: moves the worker's stored offsets back so that its next start re-reads the
// topic from there. The worker seeks to the offsets in its store (not to the group's Kafka
// commits), so this is the only place a replay has to be arranged. Re-applying events is
// safe: versions make older and equal events no-ops (docs/events.md), and a replayed
// container.delete is recognised by its source offset.
//
//   tidectl replay --config configs/ingest.conf --from-beginning
//   tidectl replay --config configs/ingest.conf --from-offset 1200 --partition 3
//   tidectl replay --config configs/ingest.conf --from-timestamp 2026-11-20T09:00:00Z
//
// The worker must be stopped: the command opens the store as its writer, and RocksDB's lock
// refuses a second one. It never moves an offset forward (that would skip events) unless
// --allow-skip is given.

#include <algorithm>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "common/storage/store.h"
#include "ingest/config.h"
#include "ingest/ctl/broker.h"
#include "ingest/ctl/commands.h"

namespace tide::ctl {
namespace {

namespace po = boost::program_options;
using storage::Cf;

// "1700000000000" (ms since the epoch) or "2026-11-20T09:00:00Z" (UTC).
std::optional<std::int64_t> ParseTimestampMs(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) return std::stoll(text);
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

}  // namespace

int RunReplay(int argc, const char* const* argv) {
  std::int64_t from_offset = -1;
  std::string from_timestamp;
  std::vector<std::int32_t> only;
  bool from_beginning = false, allow_skip = false, dry_run = false;
  po::options_description extra("tidectl replay options");
  extra.add_options()
      ("from-beginning", po::bool_switch(&from_beginning), "re-read each partition from its first retained offset")
      ("from-offset", po::value(&from_offset), "re-read from this offset (with --partition, or in every partition)")
      ("from-timestamp", po::value(&from_timestamp),
       "re-read from the first message at or after this time: ms since the epoch or 2026-11-20T09:00:00Z")
      ("partition", po::value(&only)->composing(), "only this partition (repeatable); default every partition")
      ("allow-skip", po::bool_switch(&allow_skip), "also move offsets forward (skips events: they are never applied)")
      ("dry-run", po::bool_switch(&dry_run), "print what would change, change nothing");
  Result<ingest::Config> config = ingest::ParseConfig(
      argc, argv, extra,
      "tidectl replay --config configs/ingest.conf (--from-beginning | --from-offset N | --from-timestamp T) "
      "[--partition P]...   (stop tide-ingest first)");
  if (!config) {
    if (config.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl replay: " << config.status().message() << '\n';
    return 2;
  }
  const int modes = (from_beginning ? 1 : 0) + (from_offset >= 0 ? 1 : 0) + (!from_timestamp.empty() ? 1 : 0);
  if (modes != 1) {
    std::cerr << "tidectl replay: give exactly one of --from-beginning, --from-offset, --from-timestamp\n";
    return 2;
  }
  std::optional<std::int64_t> ts_ms;
  if (!from_timestamp.empty()) {
    ts_ms = ParseTimestampMs(from_timestamp);
    if (!ts_ms) {
      std::cerr << "tidectl replay: --from-timestamp '" << from_timestamp
                << "' is neither ms since the epoch nor YYYY-MM-DDTHH:MM:SSZ\n";
      return 2;
    }
  }
  const std::string& topic = config->kafka.topic;
  Result<std::unique_ptr<Broker>> broker = Broker::Connect(config->kafka);
  if (!broker) {
    std::cerr << "tidectl replay: " << broker.status().message() << '\n';
    return 1;
  }
  Result<std::vector<std::int32_t>> partitions = (*broker)->Partitions(topic);
  if (!partitions) {
    std::cerr << "tidectl replay: " << partitions.status().message() << '\n';
    return 1;
  }
  std::vector<std::int32_t> targets = only.empty() ? *partitions : only;
  for (std::int32_t p : targets) {
    if (std::find(partitions->begin(), partitions->end(), p) == partitions->end()) {
      std::cerr << "tidectl replay: topic '" << topic << "' has no partition " << p << '\n';
      return 2;
    }
  }

  Result<std::unique_ptr<storage::Store>> store =
      storage::Store::OpenPrimary(std::filesystem::path(config->shared.data_dir) / "store", config->store);
  if (!store) {
    std::cerr << "tidectl replay: cannot open the store as its writer (" << store.status().message()
              << "); stop tide-ingest first\n";
    return 1;
  }
  storage::WriteBatch wb;
  nlohmann::json report = {{"topic", topic}, {"dry_run", dry_run}, {"partitions", nlohmann::json::array()}};
  bool refused = false;
  for (std::int32_t p : targets) {
    Result<std::pair<std::int64_t, std::int64_t>> marks = (*broker)->Watermarks(topic, p);
    if (!marks) {
      std::cerr << "tidectl replay: partition " << p << ": " << marks.status().message() << '\n';
      return 1;
    }
    std::int64_t target = from_beginning ? marks->first : from_offset;
    std::string found_by;
    if (ts_ms) {
      Result<Broker::TimeLookup> at = (*broker)->OffsetForTime(topic, p, *ts_ms);
      if (!at) {
        std::cerr << "tidectl replay: partition " << p << ": " << at.status().message() << '\n';
        return 1;
      }
      target = at->offset;
      found_by = at->found_by;
    }
    target = std::clamp(target, marks->first, marks->second);
    Result<std::optional<std::string>> stored = (*store)->Get(Cf::kMeta, storage::OffsetKey(topic, p));
    if (!stored) {
      std::cerr << "tidectl replay: " << stored.status().message() << '\n';
      return 1;
    }
    std::optional<std::int64_t> current;
    if (stored->has_value()) {
      Result<std::uint64_t> v = storage::DecodeU64(**stored);
      if (v) current = static_cast<std::int64_t>(*v);
    }
    const bool forward = current && target > *current;
    nlohmann::json row = {{"partition", p}, {"from", current ? nlohmann::json(*current) : nlohmann::json(nullptr)},
                          {"to", target}, {"log_start", marks->first}, {"log_end", marks->second},
                          {"events_to_reread", current ? std::max<std::int64_t>(*current - target, 0) : 0}};
    if (!found_by.empty()) row["found_by"] = found_by;
    if (forward && !allow_skip) {
      row["refused"] = "moving forward would skip events (give --allow-skip to do it anyway)";
      refused = true;
    } else {
      wb.Put(Cf::kMeta, storage::OffsetKey(topic, p), storage::EncodeU64(static_cast<std::uint64_t>(target)));
    }
    report["partitions"].push_back(row);
  }
  if (refused) {
    std::cout << report.dump(2) << std::endl;
    std::cerr << "tidectl replay: nothing changed\n";
    return 1;
  }
  if (!dry_run) {
    Status s = (*store)->Write(&wb);
    if (!s.ok()) {
      std::cerr << "tidectl replay: " << s.ToString() << '\n';
      return 1;
    }
  }
  std::cout << report.dump(2) << std::endl;
  if (!dry_run) std::cerr << "tidectl replay: offsets stored; start tide-ingest to re-read the events\n";
  return 0;
}

}  // namespace tide::ctl
