// `tidectl rebuild`: a fresh store from the topic, while the old store keeps serving.
//
//   tidectl rebuild --config configs/ingest.conf --into /var/lib/tide/data-new
//
// Runs the worker (the same code as tide-ingest) into --into with a consumer group of its
// own, from the start of the topic, until it has consumed everything the topic held when the
// command started; then it drains, writes a snapshot and exits, printing the new store's
// logical checksum (compare it with `tidectl checksum` of the old one). Progress goes to
// stderr every few seconds. Point tide-query (and a new tide-ingest) at --into afterwards.
// Ctrl-C stops it cleanly; running it again continues where it stopped.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "common/stop_signal.h"
#include "common/storage/store.h"
#include "ingest/config.h"
#include "ingest/ctl/broker.h"
#include "ingest/ctl/commands.h"
#include "ingest/ctl/progress.h"
#include "ingest/fsck.h"
#include "ingest/worker.h"

namespace tide::ctl {
namespace {

namespace po = boost::program_options;

// Events consumed into the store at `data_dir` per partition (stored next offsets), read
// through a secondary instance that is caught up on every call.
class OffsetReader {
 public:
  explicit OffsetReader(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}
  ~OffsetReader() {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(secondary_, ec);
  }

  std::map<std::int32_t, std::int64_t> Read(const std::string& topic, const std::vector<std::int32_t>& partitions) {
    std::map<std::int32_t, std::int64_t> out;
    if (!store_) {
      Result<std::unique_ptr<storage::Store>> s = storage::Store::OpenSecondary(data_dir_ / "store", secondary_, {});
      if (!s) return out;  // not created yet
      store_ = std::move(*s);
    }
    if (!store_->TryCatchUpWithPrimary().ok()) return out;
    for (std::int32_t p : partitions) {
      Result<std::optional<std::string>> v = store_->Get(storage::Cf::kMeta, storage::OffsetKey(topic, p));
      if (!v || !v->has_value()) continue;
      if (Result<std::uint64_t> offset = storage::DecodeU64(**v)) out[p] = static_cast<std::int64_t>(*offset);
    }
    return out;
  }

 private:
  const std::filesystem::path data_dir_;
  const std::filesystem::path secondary_ =
      std::filesystem::temp_directory_path() / ("tidectl-rebuild-" + std::to_string(::getpid()));
  std::unique_ptr<storage::Store> store_;
};

}  // namespace

int RunRebuild(int argc, const char* const* argv) {
  StopSignal stop;  // before any thread starts
  std::string into, group;
  int progress_s = 5;
  po::options_description extra("tidectl rebuild options");
  extra.add_options()
      ("into", po::value(&into), "data directory of the new store (new or empty, or a rebuild to continue)")
      ("group", po::value(&group), "consumer group of the rebuild (default: <kafka.group_id>.rebuild)")
      ("progress-interval", po::value(&progress_s)->default_value(progress_s), "seconds between progress lines when stderr is not a terminal");
  Result<ingest::Config> parsed = ingest::ParseConfig(
      argc, argv, extra, "tidectl rebuild --config configs/ingest.conf --into DIR [--group G]");
  if (!parsed) {
    if (parsed.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl rebuild: " << parsed.status().message() << '\n';
    return 2;
  }
  if (into.empty()) {
    std::cerr << "tidectl rebuild: give --into DIR, the data directory of the new store\n";
    return 2;
  }
  std::error_code ec;
  if (std::filesystem::equivalent(into, parsed->shared.data_dir, ec)) {
    std::cerr << "tidectl rebuild: --into is the serving store's data_dir; give a new directory\n";
    return 2;
  }
  ingest::Config config = *parsed;
  config.shared.data_dir = into;
  config.kafka.group_id = group.empty() ? parsed->kafka.group_id + ".rebuild" : group;
  config.metrics_port = -1;
  const std::string& topic = config.kafka.topic;

  // The goal: everything the topic holds now.
  Result<std::unique_ptr<Broker>> broker = Broker::Connect(config.kafka);
  Result<std::vector<std::int32_t>> partitions =
      broker ? (*broker)->Partitions(topic) : Result<std::vector<std::int32_t>>(broker.status());
  if (!partitions) {
    std::cerr << "tidectl rebuild: " << partitions.status().message() << '\n';
    return 1;
  }
  std::map<std::int32_t, std::pair<std::int64_t, std::int64_t>> marks;
  std::int64_t total = 0;
  for (std::int32_t p : *partitions) {
    Result<std::pair<std::int64_t, std::int64_t>> m = (*broker)->Watermarks(topic, p);
    if (!m) {
      std::cerr << "tidectl rebuild: partition " << p << ": " << m.status().message() << '\n';
      return 1;
    }
    marks[p] = *m;
    total += m->second - m->first;
  }
  broker->reset();
  std::cerr << "tidectl rebuild: " << total << " events in " << partitions->size() << " partitions of '" << topic
            << "' into " << into << " (group " << config.kafka.group_id << ")\n";

  const auto start = std::chrono::steady_clock::now();
  Status worker_status;
  std::atomic<bool> worker_done{false};
  std::thread worker([&] {
    worker_status = ingest::RunWorker(config, stop.stopping());
    worker_done = true;
    stop.RequestStop();
  });
  OffsetReader reader(into);
  Progress progress(std::cerr,
                    {.command = "rebuild", .what = "events", .total = static_cast<std::uint64_t>(total),
                     .tty = Progress::IsTerminal(STDERR_FILENO), .plain_every = std::chrono::seconds(progress_s)},
                    start);
  bool caught_up = false;
  std::int64_t done = 0;
  while (!stop.stopping().load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a polling interval, not a sync
    const std::map<std::int32_t, std::int64_t> offsets = reader.Read(topic, *partitions);
    done = 0;
    caught_up = true;
    for (const auto& [p, m] : marks) {
      auto it = offsets.find(p);
      const std::int64_t at = it == offsets.end() ? m.first : std::clamp(it->second, m.first, m.second);
      done += at - m.first;
      caught_up = caught_up && at >= m.second;
    }
    progress.Update(static_cast<std::uint64_t>(done), static_cast<std::uint64_t>(done));
    if (caught_up) {
      stop.RequestStop();
      break;
    }
  }
  progress.Finish(static_cast<std::uint64_t>(done));
  worker.join();
  if (!worker_status.ok()) {
    std::cerr << "tidectl rebuild: the worker failed: " << worker_status.ToString() << '\n';
    return 1;
  }
  if (!caught_up) {
    std::cerr << "tidectl rebuild: stopped before the end; run the same command again to continue\n";
    return 1;
  }
  // The worker closed the store: open it again to digest what it holds.
  Result<std::unique_ptr<storage::Store>> store =
      storage::Store::OpenPrimary(std::filesystem::path(into) / "store", config.store);
  if (!store) {
    std::cerr << "tidectl rebuild: " << store.status().message() << '\n';
    return 1;
  }
  Result<ingest::LogicalDigest> digest = ingest::ComputeLogicalDigest(**store);
  if (!digest) {
    std::cerr << "tidectl rebuild: " << digest.status().ToString() << '\n';
    return 1;
  }
  nlohmann::json out = {{"into", into},
                        {"group", config.kafka.group_id},
                        {"events", total},
                        {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()},
                        {"checksum", digest->checksum},
                        {"documents", digest->documents},
                        {"deleted_documents", digest->deleted_documents},
                        {"chunks", digest->chunks}};
  std::cout << out.dump(2) << std::endl;
  return 0;
}

}  // namespace tide::ctl
