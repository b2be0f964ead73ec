#include "query/follower.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/index/replayer.h"
#include "common/storage/schema.h"
#include "common/storage/store.h"

namespace tide::query {

Follower::Follower(const Options& options) : options_(options) {
  caught_up_at_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  thread_ = std::thread([this] { Loop(); });
}

Follower::~Follower() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::string Follower::not_ready_reason() const {
  {
    std::lock_guard lock(mu_);
    if (!corruption_.ok()) return "the store's change log is corrupt: " + corruption_.message();
    if (!ready()) return reason_;
  }
  if (options_.max_lag.count() <= 0) return {};
  const Lag l = lag();
  if (l.changes == 0 || l.behind_for <= options_.max_lag) return {};
  return "behind the worker by " + std::to_string(l.changes) + " change records, not caught up for " +
         std::to_string(l.behind_for.count()) + " ms (follow.max_lag_ms=" +
         std::to_string(options_.max_lag.count()) + ")";
}

Follower::Lag Follower::lag() const {
  std::shared_ptr<const index::IndexSet> set = indexes();
  const std::uint64_t store_seq = store_seq_.load(std::memory_order_relaxed);
  const std::uint64_t applied = set ? set->applied_seq() : 0;
  Lag l;
  if (applied >= store_seq) return l;
  l.changes = store_seq - applied;
  const auto since = std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(caught_up_at_.load(std::memory_order_relaxed)));
  l.behind_for = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since);
  return l;
}

Status Follower::corruption() const {
  std::lock_guard lock(mu_);
  return corruption_;
}

Status Follower::fatal() const {
  std::lock_guard lock(mu_);
  return fatal_;
}

std::shared_ptr<const index::IndexSet> Follower::indexes() const {
  std::lock_guard lock(mu_);
  return ready() ? indexes_ : nullptr;
}

std::shared_ptr<const storage::Store> Follower::store() const {
  std::lock_guard lock(mu_);
  return ready() ? store_ : nullptr;
}

Watermark Follower::watermark() const {
  std::shared_ptr<const index::IndexSet> set = indexes();
  if (!set) return {};
  return Watermark{set->applied_seq(), set->applied_offsets()};
}

void Follower::Refresh() {
  {
    std::lock_guard lock(mu_);
    refresh_ = true;
  }
  cv_.notify_all();
}

bool Follower::WaitForSeqForTest(std::uint64_t seq, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return indexes_ && ready() && indexes_->applied_seq() >= seq; });
}

Status Follower::Step() {
  std::shared_ptr<storage::Store> store;
  std::shared_ptr<index::IndexSet> indexes;
  {
    std::lock_guard lock(mu_);
    store = store_;
    indexes = indexes_;
  }
  if (!store) {
    Result<std::unique_ptr<storage::Store>> opened = storage::Store::OpenSecondary(
        options_.data_dir / "store", options_.secondary_dir, storage::Store::Options{});
    if (!opened) {
      std::lock_guard lock(mu_);
      reason_ = opened.status().message();
      return Status();  // the worker has not created it yet: try again next round
    }
    store = std::move(*opened);
    Result<std::optional<std::string>> id = store->Get(storage::Cf::kMeta, storage::kMetaEmbedder);
    if (!id) return id.status();
    if (id->has_value()) {
      Result<storage::EmbedderIdentity> theirs = storage::DecodeEmbedderIdentity(**id);
      if (!theirs) return theirs.status();
      if (theirs->model_id != options_.index.model_id || theirs->dimension != options_.index.vector.dim) {
        return Status::InvalidArgument(
            "the store was built with embedder '" + theirs->model_id + "' (dimension " +
            std::to_string(theirs->dimension) + ") but tide-query is configured with '" +
            options_.index.model_id + "' (dimension " + std::to_string(options_.index.vector.dim) +
            "); configure the same embedder as the worker");
      }
    }
    std::lock_guard lock(mu_);
    store_ = store;
    reason_ = "loading indexes";
  }
  if (!indexes) {
    last_tried_snapshot_ = NewestSnapshotKey();
    Result<std::unique_ptr<index::IndexSet>> loaded = LoadNewestSnapshot();
    if (!loaded && loaded.status().code() == Status::Code::kNotFound) {
      spdlog::info("no index snapshot yet; starting from an empty index");
      loaded = index::IndexSet::Create(options_.index);
    }
    if (!loaded) return loaded.status();
    indexes = std::move(*loaded);
    std::lock_guard lock(mu_);
    indexes_ = indexes;
    reason_ = "catching up with the store";
  }
  TIDE_RETURN_IF_ERROR(store->TryCatchUpWithPrimary());
  if (Result<std::uint64_t> next = store->GetCounter(storage::kMetaNextChangeSeq); next && *next > 0) {
    store_seq_.store(*next - 1, std::memory_order_relaxed);
  }
  Result<std::uint64_t> generation = store->GetCounter(storage::kMetaGraphGeneration);
  if (!generation) return generation.status();
  if (*generation != 0) {
    bool following = false;
    TIDE_RETURN_IF_ERROR(FollowGraph(*store, *generation, &indexes, &following));
    // Nothing loaded yet (indexes of another generation are served, stale, until its snapshot).
    if (!following && !ready() && indexes->applied_seq() == 0) {
      std::lock_guard lock(mu_);
      reason_ = "waiting for the worker's index snapshot of vector graph generation " + std::to_string(*generation);
      return Status();
    }
  } else {
    // A worker that does not record its vector graph (an older one): insert the vectors here.
    TIDE_RETURN_IF_ERROR(MaybeJumpToSnapshot(*store, 0, &indexes));
    for (;;) {
      Result<std::size_t> applied = index::CatchUp(*indexes, *store, 256);
      if (!applied) return applied.status();
      if (*applied > 0) cv_.notify_all();
      if (*applied < 256 || stop_) break;
    }
  }
  if (indexes->applied_seq() >= store_seq_.load(std::memory_order_relaxed)) {
    caught_up_at_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  }
  if (!ready()) {
    spdlog::info("query daemon ready chunks={} seq={}", indexes->size(), indexes->applied_seq());
    std::lock_guard lock(mu_);
    reason_.clear();
    ready_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  return Status();
}

Status Follower::FollowGraph(const storage::Store& store, std::uint64_t generation,
                             std::shared_ptr<index::IndexSet>* indexes, bool* following) {
  if ((*indexes)->graph_generation() != generation || !replace_cause_.ok()) {
    TIDE_RETURN_IF_ERROR(LoadSnapshotOfGeneration(generation, indexes));
    // No snapshot past it yet: a corrupt record stays reported.
    if (!replace_cause_.ok()) return replace_cause_.code() == Status::Code::kCorruption ? replace_cause_ : Status();
  } else {
    TIDE_RETURN_IF_ERROR(MaybeJumpToSnapshot(store, generation, indexes));
  }
  if ((*indexes)->graph_generation() != generation) return Status();  // waiting for its snapshot
  *following = true;
  constexpr std::size_t kRecordsPerRound = 16;
  for (;;) {
    Result<std::size_t> applied = index::FollowGraphRecords(**indexes, store, kRecordsPerRound);
    if (!applied && applied.status().code() == Status::Code::kInvalidArgument) {
      // The records go on from elsewhere (the worker started them anew): wait for its snapshot.
      spdlog::warn("follower: {}; waiting for the worker's next snapshot", applied.status().ToString());
      replace_cause_ = Status::Unavailable(applied.status().message());
      return Status();
    }
    if (!applied) {
      if (applied.status().code() == Status::Code::kCorruption) {
        // The vector graph may be partly changed: only a snapshot past the record replaces it.
        replace_cause_ = applied.status();
      }
      return applied.status();
    }
    if (*applied > 0) cv_.notify_all();
    if (*applied < kRecordsPerRound || stop_) break;
  }
  return Status();
}

Status Follower::LoadSnapshotOfGeneration(std::uint64_t generation, std::shared_ptr<index::IndexSet>* indexes) {
  // One attempt per snapshot the worker writes (a load reads the whole index); a snapshot of
  // a new generation may replace one at the same sequence.
  const std::optional<std::pair<std::uint64_t, std::int64_t>> newest = NewestSnapshotKey();
  if (!newest || newest == last_tried_snapshot_) return Status();
  last_tried_snapshot_ = newest;
  Result<std::unique_ptr<index::IndexSet>> loaded = LoadNewestSnapshot();
  if (!loaded) {
    spdlog::warn("follower: could not load the worker's snapshot seq={}: {}", newest->first,
                 loaded.status().ToString());
    return Status();
  }
  const bool replaces = (*indexes)->graph_generation() != generation || (*loaded)->applied_seq() > (*indexes)->applied_seq();
  if ((*loaded)->graph_generation() != generation || !replaces) return Status();
  spdlog::info("follower: loaded snapshot seq={} chunks={} of vector graph generation {}{}", (*loaded)->applied_seq(),
               (*loaded)->size(), generation,
               replace_cause_.ok() ? "" : " (replacing indexes that stopped at: " + replace_cause_.message() + ")");
  replace_cause_ = Status();
  Replace(std::move(*loaded), indexes);
  return Status();
}

Status Follower::MaybeJumpToSnapshot(const storage::Store& store, std::uint64_t generation,
                                     std::shared_ptr<index::IndexSet>* indexes) {
  const std::filesystem::path root = options_.data_dir / "snapshots";
  const std::uint64_t applied = (*indexes)->applied_seq();
  // Caught up with the store (the usual case): no snapshot can be ahead, and the snapshot
  // directory is not listed every round.
  if (store_seq_.load(std::memory_order_relaxed) <= applied) return Status();
  // Behind the worker's trim point (a daemon stopped for long, or slower than the worker's
  // snapshots): the changes it needs are gone, so a newer snapshot is the only way forward.
  Result<std::uint64_t> first = store.GetCounter(storage::kMetaFirstChangeSeq);
  if (!first) return first.status();
  const bool trimmed = applied + 1 < *first;
  // Following graph records copies the worker's graph, which beats loading it whole: only a
  // trimmed log makes a snapshot the way forward.
  if (!trimmed && (generation != 0 || options_.snapshot_jump_ratio <= 0)) return Status();
  const std::optional<std::uint64_t> newest = index::IndexSet::LatestSnapshotSeq(root);
  if (trimmed && (!newest || *newest + 1 < *first)) {
    // With graph records only a snapshot of the worker's graph will do: it writes one before it trims.
    return generation == 0 ? RebuildFromStore(store, indexes) : Status();
  }
  if (!newest || *newest <= applied) return Status();
  // How much replaying would insert: the entries of the changes the snapshot covers beyond
  // ours (counted until past the threshold).
  std::size_t entries = 0;
  if (!trimmed) {
    const auto threshold = std::max<std::size_t>(
        options_.snapshot_jump_min,
        static_cast<std::size_t>(options_.snapshot_jump_ratio * static_cast<double>((*indexes)->size())));
    TIDE_RETURN_IF_ERROR(store.Scan(storage::Cf::kChanges, storage::EncodeU64(applied + 1), "",
                                    [&](std::string_view key, std::string_view value) {
                                      Result<std::uint64_t> seq = storage::DecodeU64(key);
                                      if (!seq || *seq > *newest) return false;
                                      if (Result<storage::ChangeRecord> c = storage::DecodeChange(value)) {
                                        entries += c->entries.size();
                                      }
                                      return entries <= threshold;
                                    }));
    if (entries <= threshold) return Status();
  }
  const auto start = std::chrono::steady_clock::now();
  Result<std::unique_ptr<index::IndexSet>> loaded = LoadNewestSnapshot();
  if (!loaded) {
    spdlog::warn("follower: could not load snapshot seq={} ({}); {}", *newest, loaded.status().ToString(),
                 trimmed ? "building from the store" : "replaying instead");
    return trimmed && generation == 0 ? RebuildFromStore(store, indexes) : Status();
  }
  // Only the newest was checked; an older one may be all that loaded (the newest being pruned).
  if ((*loaded)->applied_seq() <= applied) return Status();
  if (generation != 0 && (*loaded)->graph_generation() != generation) return Status();
  spdlog::info("follower: loaded snapshot seq={} chunks={} instead of replaying {} after seq={} seconds={:.2f}",
               (*loaded)->applied_seq(), (*loaded)->size(),
               trimmed ? "changes trimmed from the log" : std::to_string(entries) + "+ entries", applied,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  Replace(std::move(*loaded), indexes);
  return Status();
}

std::optional<std::pair<std::uint64_t, std::int64_t>> Follower::NewestSnapshotKey() const {
  const auto dirs = index::IndexSet::ListSnapshotDirs(options_.data_dir / "snapshots");
  if (dirs.empty()) return std::nullopt;
  std::error_code ec;
  const auto written = std::filesystem::last_write_time(dirs.front().second / "MANIFEST.json", ec);
  return std::make_pair(dirs.front().first, ec ? std::int64_t{0} : static_cast<std::int64_t>(written.time_since_epoch().count()));
}

Result<std::unique_ptr<index::IndexSet>> Follower::LoadNewestSnapshot() {
  std::size_t corrupt = 0;
  Result<std::unique_ptr<index::IndexSet>> loaded =
      index::IndexSet::LoadLatestSnapshot(options_.data_dir / "snapshots", options_.index, &corrupt);
  corrupt_snapshots_.fetch_add(corrupt, std::memory_order_relaxed);
  return loaded;
}

Status Follower::RebuildFromStore(const storage::Store& store, std::shared_ptr<index::IndexSet>* indexes) {
  Result<std::unique_ptr<index::IndexSet>> fresh = index::IndexSet::Create(options_.index);
  if (!fresh) return fresh.status();
  Result<std::size_t> built = index::CatchUp(**fresh, store, 1);  // an empty set over a trimmed log: a full build
  if (!built) return built.status();
  spdlog::info("follower: no snapshot covers the start of the trimmed change log; built from the store "
               "chunks={} seq={}", (*fresh)->size(), (*fresh)->applied_seq());
  Replace(std::move(*fresh), indexes);
  return Status();
}

void Follower::Replace(std::unique_ptr<index::IndexSet> fresh, std::shared_ptr<index::IndexSet>* indexes) {
  *indexes = std::move(fresh);
  {
    std::lock_guard lock(mu_);
    indexes_ = *indexes;
  }
  snapshot_jumps_.fetch_add(1, std::memory_order_relaxed);
  cv_.notify_all();
}

void Follower::Loop() {
  while (!stop_) {
    Status s = Step();
    if (!s.ok()) {
      if (s.code() == Status::Code::kInvalidArgument) {
        spdlog::critical("follower: {}", s.ToString());
        std::lock_guard lock(mu_);
        fatal_ = s;
        cv_.notify_all();
        return;
      }
      if (s.code() == Status::Code::kCorruption) {
        std::lock_guard lock(mu_);
        // Once per distinct problem: it is retried every round until the store changes.
        if (corruption_.message() != s.message()) {
          const std::shared_ptr<index::IndexSet> set = indexes_;
          spdlog::error("follower: {}; the indexes stay at change {} and searches are answered from them; "
                        "check the worker's store with `tidectl fsck` (tide_query_corruption is 1)",
                        s.ToString(), set ? set->applied_seq() : 0);
        }
        corruption_ = s;
      } else {
        spdlog::warn("follower: {} (retrying)", s.ToString());
      }
    } else {
      std::lock_guard lock(mu_);
      if (!corruption_.ok()) spdlog::info("follower: past the corruption reported before ({})", corruption_.message());
      corruption_ = Status();
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, options_.interval, [this] { return stop_.load() || refresh_; });
    refresh_ = false;
  }
}

}  // namespace tide::query
