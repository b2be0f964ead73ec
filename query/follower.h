#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "common/index/index_set.h"
#include "common/status.h"

namespace tide::storage {
class Store;
}

namespace tide::query {

// What the daemon has applied: the change sequence and the Kafka offsets it covers.
struct Watermark {
  std::uint64_t seq = 0;
  std::map<std::string, std::int64_t> offsets;
};

// Follows the worker's store from another process: opens it as a RocksDB secondary (waiting
// for the worker to create it), loads the newest index snapshot, then follows the worker's
// vector graph records on a timer (index::FollowGraphRecords: the graph is copied, not built
// again; decision 0011), or replays the change log inserting the vectors itself if the worker
// does not record its graph. Behind a trimmed change log (or, replaying, far behind), it loads
// the worker's newer snapshot, while searches go on against the indexes it has. The worker
// never waits for it and either process may restart alone.
//
// Thread safety: all public methods may be called from any thread. The follow loop runs on
// a thread this object owns and joins.
class Follower {
 public:
  struct Options {
    std::filesystem::path data_dir;       // the worker's: store/ and snapshots/ inside
    std::filesystem::path secondary_dir;  // private to this process
    std::chrono::milliseconds interval{100};
    index::IndexSet::Options index;       // model_id and dimension must match the store's
    // Load the worker's newest snapshot instead of replaying when it is ahead of the indexes
    // by more than this fraction of their chunks in change entries (and at least
    // snapshot_jump_min): replaying a chunk inserts it into the graph (~1 ms), loading reads
    // it (~10 µs). 0 never jumps. Memory holds both index sets while the new one loads.
    double snapshot_jump_ratio = 0.05;
    std::size_t snapshot_jump_min = 1000;
    // Not ready while the indexes have not caught up with the worker's store for longer than
    // this (a daemon far behind answers with stale results; a load balancer should prefer
    // another). 0: lag never makes the daemon not ready. Ready again once caught up.
    std::chrono::milliseconds max_lag{0};
  };

  // How far the indexes are behind the worker's store.
  struct Lag {
    std::uint64_t changes = 0;               // change records written but not yet applied
    std::chrono::milliseconds behind_for{0};  // since the indexes were last caught up; 0 if now
  };

  explicit Follower(const Options& options);
  ~Follower();
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  // Ready once the store is open, a snapshot (or nothing) is loaded and the change log has
  // been replayed to its end at least once. Searches are served from then on; see
  // not_ready_reason() for what /readyz reports.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // Why /readyz should say not ready: still loading, the store's change log is corrupt (the
  // indexes cannot move past the bad record; searches are still answered from what they
  // hold), or (Options::max_lag) behind the worker for too long. Empty when ready.
  std::string not_ready_reason() const;
  // The corruption that stops the indexes from catching up, or OK. Cleared once a round
  // gets past it (the worker's store was repaired or replaced).
  Status corruption() const;
  Lag lag() const;
  // A fatal condition (e.g. the store was built with another embedder); the daemon exits.
  Status fatal() const;

  // Null until ready. Shared so a search keeps what it started with.
  std::shared_ptr<const index::IndexSet> indexes() const;
  std::shared_ptr<const storage::Store> store() const;
  Watermark watermark() const;
  // The newest change the worker has written, as of the last catch-up (for lag metrics).
  std::uint64_t store_seq() const { return store_seq_.load(std::memory_order_relaxed); }

  // Snapshots loaded to skip ahead since start (not counting the first load).
  std::uint64_t snapshot_jumps() const { return snapshot_jumps_.load(std::memory_order_relaxed); }
  // Snapshots found damaged (and skipped for an older one, or for the change log) since start.
  std::uint64_t corrupt_snapshots() const { return corrupt_snapshots_.load(std::memory_order_relaxed); }

  // Starts a follow round now instead of at the next interval.
  void Refresh();
  // Blocks until the follower has applied change `seq` or the deadline passes (tests, tools).
  bool WaitForSeqForTest(std::uint64_t seq, std::chrono::milliseconds timeout) const;

 private:
  void Loop();
  Status Step();  // one round: open, load, catch up
  // Follows the worker's vector graph records (index::FollowGraphRecords) when the indexes are
  // of the store's graph `generation`, after loading a snapshot of it if they are not (or a
  // record did not apply). *following: whether the indexes are of that generation now; if not,
  // they wait for the worker's snapshot of it (it writes one when it starts a generation).
  Status FollowGraph(const storage::Store& store, std::uint64_t generation,
                     std::shared_ptr<index::IndexSet>* indexes, bool* following);
  // Replaces *indexes by the worker's newest snapshot if it is of `generation` and replaces
  // them (another generation, or ahead); each snapshot is tried once.
  Status LoadSnapshotOfGeneration(std::uint64_t generation, std::shared_ptr<index::IndexSet>* indexes);
  // Replaces *indexes by the newest snapshot when that beats replaying (Options above).
  // Behind a trimmed change log, or (without graph records, `generation` 0) ahead by enough
  // that loading beats replaying.
  Status MaybeJumpToSnapshot(const storage::Store& store, std::uint64_t generation,
                             std::shared_ptr<index::IndexSet>* indexes);
  // Replaces *indexes by a set built from the store's chunks (no snapshot covers the start of
  // the trimmed change log).
  Status RebuildFromStore(const storage::Store& store, std::shared_ptr<index::IndexSet>* indexes);
  // The worker's newest snapshot: its sequence and when its manifest was written (a snapshot
  // of a new generation may replace one at the same sequence), or nullopt if there is none.
  std::optional<std::pair<std::uint64_t, std::int64_t>> NewestSnapshotKey() const;
  // IndexSet::LoadLatestSnapshot of the worker's snapshots, counting the corrupt ones it skips.
  Result<std::unique_ptr<index::IndexSet>> LoadNewestSnapshot();
  // Puts `fresh` in place of *indexes for the searches that start from now on (counted in
  // snapshot_jumps()).
  void Replace(std::unique_ptr<index::IndexSet> fresh, std::shared_ptr<index::IndexSet>* indexes);

  const Options options_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> store_seq_{0};
  std::atomic<std::uint64_t> snapshot_jumps_{0};
  std::atomic<std::uint64_t> corrupt_snapshots_{0};
  // When the indexes last covered store_seq_ (steady_clock ticks).
  std::atomic<std::chrono::steady_clock::rep> caught_up_at_{0};
  bool refresh_ = false;                           // GUARDED_BY(mu_)
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::shared_ptr<storage::Store> store_;          // GUARDED_BY(mu_)
  std::shared_ptr<index::IndexSet> indexes_;       // GUARDED_BY(mu_)
  std::string reason_ = "starting";                // GUARDED_BY(mu_)
  Status fatal_;                                   // GUARDED_BY(mu_)
  Status corruption_;                              // GUARDED_BY(mu_)
  // Loop thread only: why the indexes must be replaced by a snapshot (a graph record that did
  // not follow or apply), or OK; the last snapshot LoadSnapshotOfGeneration tried.
  Status replace_cause_;
  std::optional<std::pair<std::uint64_t, std::int64_t>> last_tried_snapshot_;
  std::thread thread_;
};

}  // namespace tide::query
