#include "query/served_shards.h"

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <map>

#include <spdlog/spdlog.h>

#include "common/storage/schema.h"
#include "common/storage/store.h"

namespace tide::query {
namespace {

// How often a per-partition set looks for shard directories that appeared.
constexpr std::chrono::seconds kScanInterval{1};

std::string Prefixed(const std::string& name, const std::string& text) {
  return name.empty() ? text : "partition " + name + ": " + text;
}

}  // namespace

ServedShards::ServedShards(const Follower::Options& options, bool per_partition)
    : options_(options), per_partition_(per_partition) {
  if (!per_partition_) {
    auto follower = std::make_unique<Follower>(options_);
    followed_.push_back({"", follower.get()});
    owned_.push_back(std::move(follower));
    return;
  }
  Scan();
  scanner_ = std::thread([this] {
    std::mutex m;
    std::condition_variable never;
    std::unique_lock lock(m);
    while (!stop_.load()) {
      // Not synchronisation: a poll of the file system for directories another process makes.
      never.wait_for(lock, kScanInterval, [this] { return stop_.load(); });
      if (!stop_.load()) Scan();
    }
  });
}

ServedShards::ServedShards(const Follower* follower) { followed_.push_back({"", follower}); }

ServedShards::~ServedShards() {
  stop_ = true;
  if (scanner_.joinable()) scanner_.join();
}

void ServedShards::Scan() {
  const std::map<std::int32_t, std::filesystem::path> found = storage::ListPartitionShards(options_.data_dir);
  std::lock_guard lock(mu_);
  for (const auto& [partition, dir] : found) {
    const std::string name = std::to_string(partition);
    if (std::any_of(followed_.begin(), followed_.end(), [&](const Followed& f) { return f.name == name; })) continue;
    Follower::Options one = options_;
    one.data_dir = dir;
    one.secondary_dir = options_.secondary_dir / name;
    auto follower = std::make_unique<Follower>(one);
    spdlog::info("following shard partition={} dir={}", partition, dir.string());
    followed_.push_back({name, follower.get()});
    owned_.push_back(std::move(follower));
    std::sort(followed_.begin(), followed_.end(),
              [](const Followed& a, const Followed& b) { return std::stoi(a.name) < std::stoi(b.name); });
  }
}

std::vector<ServedShards::Followed> ServedShards::Followers() const {
  std::lock_guard lock(mu_);
  return followed_;
}

std::size_t ServedShards::size() const { return Followers().size(); }

Result<std::vector<ServedShards::Shard>> ServedShards::Views() const {
  const std::vector<Followed> followers = Followers();
  if (followers.empty()) {
    return Status::Unavailable("no shard yet under " + (options_.data_dir / "partitions").string() +
                               " (has a worker with shards = per_partition been assigned a partition?)");
  }
  std::vector<Shard> out;
  out.reserve(followers.size());
  for (const Followed& f : followers) {
    Shard shard{f.name, f.follower->indexes(), f.follower->store()};
    if (!shard.indexes || !shard.store) {
      return Status::Unavailable(Prefixed(f.name, "the index is still loading: " + f.follower->not_ready_reason()));
    }
    out.push_back(std::move(shard));
  }
  return out;
}

Watermark ServedShards::WatermarkOf(const std::vector<Shard>& shards) {
  Watermark w;
  for (const Shard& s : shards) {
    w.seq += s.indexes->applied_seq();
    for (const auto& [key, offset] : s.indexes->applied_offsets()) w.offsets[key] = offset;
  }
  return w;
}

Result<std::optional<ServedShards::Found>> ServedShards::GetFromAny(const std::vector<Shard>& shards,
                                                                   storage::Cf cf, std::string_view key) {
  for (const Shard& shard : shards) {
    Result<std::optional<std::string>> value = shard.store->Get(cf, key);
    if (!value) return value.status();
    if (value->has_value()) return std::optional<Found>(Found{std::move(**value), shard.store.get()});
  }
  return std::optional<Found>();
}

bool ServedShards::ready() const {
  const std::vector<Followed> followers = Followers();
  return !followers.empty() &&
         std::all_of(followers.begin(), followers.end(), [](const Followed& f) { return f.follower->ready(); });
}

std::string ServedShards::not_ready_reason() const {
  const std::vector<Followed> followers = Followers();
  if (followers.empty()) return "no shard yet under " + (options_.data_dir / "partitions").string();
  for (const Followed& f : followers) {
    if (std::string reason = f.follower->not_ready_reason(); !reason.empty()) return Prefixed(f.name, reason);
  }
  return "";
}

Status ServedShards::corruption() const {
  for (const Followed& f : Followers()) {
    if (Status s = f.follower->corruption(); !s.ok()) return s.WithContext(Prefixed(f.name, "shard"));
  }
  return Status();
}

Status ServedShards::fatal() const {
  for (const Followed& f : Followers()) {
    if (Status s = f.follower->fatal(); !s.ok()) return f.name.empty() ? s : s.WithContext("partition " + f.name);
  }
  return Status();
}

Follower::Lag ServedShards::lag() const {
  Follower::Lag sum;
  for (const Followed& f : Followers()) {
    const Follower::Lag one = f.follower->lag();
    sum.changes += one.changes;
    sum.behind_for = std::max(sum.behind_for, one.behind_for);
  }
  return sum;
}

Watermark ServedShards::watermark() const {
  Watermark w;
  for (const Followed& f : Followers()) {
    const Watermark one = f.follower->watermark();
    w.seq += one.seq;
    for (const auto& [key, offset] : one.offsets) w.offsets[key] = offset;
  }
  return w;
}

std::uint64_t ServedShards::store_seq() const {
  std::uint64_t sum = 0;
  for (const Followed& f : Followers()) sum += f.follower->store_seq();
  return sum;
}

std::uint64_t ServedShards::snapshot_jumps() const {
  std::uint64_t sum = 0;
  for (const Followed& f : Followers()) sum += f.follower->snapshot_jumps();
  return sum;
}

std::uint64_t ServedShards::corrupt_snapshots() const {
  std::uint64_t sum = 0;
  for (const Followed& f : Followers()) sum += f.follower->corrupt_snapshots();
  return sum;
}

}  // namespace tide::query
