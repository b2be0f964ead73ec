#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common/index/index_set.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/storage/store.h"

namespace tide::ingest {

// The worker's indexes at start: the newest snapshot under `snapshot_dir` (or nothing), brought
// up to the store, recording their vector graph (decision 0011). A snapshot of the store's
// graph generation goes on with the worker's own graph records after it, exactly as a query
// daemon applies them (so what the daemons copied stays equal to this graph), and the changes
// after the last record are inserted, to be recorded next. Otherwise (no snapshot, one of
// another generation, records that do not follow it or do not apply) the changes after the
// snapshot (or all of them) are inserted, a new generation starts (the old records are
// deleted) and a snapshot is written at once, where the new generation's records start. An
// error reading the records is returned (a restart tries again).
Result<std::unique_ptr<index::IndexSet>> OpenIndexes(const index::IndexSet::Options& options, storage::Store* store,
                                                    const std::filesystem::path& snapshot_dir, int snapshot_keep);

// The worker's in-memory indexes, brought up to the store and snapshotted on a thread of
// their own, so that the consume thread goes on to the next batch (and the embedder to its
// texts) while the previous batch's chunks go into the HNSW graph and the BM25 tables, and
// while a snapshot is written.
//
// The store is the truth: a batch is durable, offsets included, before Notify(); the indexes
// follow it through the change log (IndexSet::CatchUp), several batches at a time when they
// fall behind. When the indexes record their vector graph (IndexSet::StartGraphRecords), each
// catch-up round ends with the graph's record (storage::GraphRecord) written to the store, from
// which the query daemons copy the graph instead of inserting every vector again (decision
// 0011). Snapshots are started every `snapshot_interval` when something changed, within a long
// catch-up round too: the state is copied out on this thread (IndexSet::PrepareSnapshot: the
// tables encoded, the growing graph's bytes copied) and the files (those, sealed graphs, syncs)
// are written on a thread of its own, one snapshot at a time, while changes and graph records go
// on (the daemons' freshness waits for those, not for snapshots). After each, the change records every kept snapshot covers are trimmed from the store (with
// `trim_changes`), so the change log holds only what a snapshot does not: a reader behind the
// trim point loads a snapshot instead (query/follower.h).
//
// Thread-safe: Notify, WaitWhileBehind, fatal and Stop may be called from any thread.
class Indexer {
 public:
  struct Options {
    std::filesystem::path snapshot_dir;
    std::chrono::seconds snapshot_interval{30};
    int snapshot_keep = 2;
    // The consume thread waits (WaitWhileBehind) while the indexes are this many change records
    // behind the store: a bound on how much catching up a stop or a snapshot has to do.
    std::uint64_t max_lag = 50000;
    // Delete the change records the oldest kept snapshot covers after each snapshot.
    bool trim_changes = true;
    // While catching up, a graph record is written at least this often (and at the end of
    // each round): how long a bulk load's changes wait before the daemons can copy them.
    // Each record scans the growing graph's slots (about 6 ms at 100k).
    std::chrono::milliseconds graph_record_interval{100};
    Counter* graph_record_bytes = nullptr;  // if set, counts the bytes of graph records written
  };

  // `index_seconds` (may be null) observes each catch-up.
  Indexer(const Options& options, storage::Store* store, index::IndexSet* indexes, Histogram* index_seconds);
  ~Indexer();  // Stop()s

  // The store has changes up to `seq`.
  void Notify(std::uint64_t seq);
  // Blocks while the indexes are more than max_lag changes behind the newest Notify(); returns
  // early with the error that stopped the indexer.
  Status WaitWhileBehind();
  // The error that stopped the indexer (OK while it runs).
  Status fatal() const;
  std::uint64_t lag() const;
  // Catches up with everything notified, writes a final snapshot if anything changed, and
  // joins the thread. Idempotent.
  Status Stop();

 private:
  void Loop();
  // Starts a snapshot (IndexSet::PrepareSnapshot, then its Write on snapshot_writer_) if the
  // interval has passed since the last one, none is being written and something changed. In
  // two calls: the first starts buffer_maker_ on the memory for the copy-out
  // (IndexSet::SnapshotBuffers) and returns; a call once it is done copies the state out.
  void MaybeStartSnapshot();
  // Finishes the snapshot being written, if it is written (or, with `wait`, once it is),
  // starts remover_ on the snapshots it replaces, and trims the change log after it. False, with fatal_ set, if the indexes could not take back
  // what the snapshot held aside (IndexSet::FinishSnapshot).
  bool FinishSnapshot(bool wait);
  // A snapshot of `seq` is in place: trims the change log after it (with trim_changes).
  void Snapshotted(std::uint64_t seq);
  // Stops indexing with `status` (logged; returned by fatal() and WaitWhileBehind()).
  void Fail(Status status);
  // Writes the vector graph's record of what was applied since the previous one (IndexSet::
  // TakeGraphRecord), if the indexes record their graph, after any earlier ones a failed
  // write left (a full disk). False while some are unwritten: no snapshot may be taken then.
  bool WriteGraphRecords();
  // Deletes the change records (and graph records) up to the oldest kept snapshot's sequence.
  Status TrimChanges();

  const Options options_;
  storage::Store* store_;
  index::IndexSet* indexes_;
  Histogram* index_seconds_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t target_seq_ = 0;  // GUARDED_BY(mu_)
  std::uint64_t applied_seq_ = 0;  // GUARDED_BY(mu_): the indexes' seq after the last catch-up
  bool stopping_ = false;          // GUARDED_BY(mu_)
  Status fatal_;                   // GUARDED_BY(mu_)
  bool snapshot_written_ = false;  // GUARDED_BY(mu_): snapshot_writer_ is done
  Status snapshot_status_;         // GUARDED_BY(mu_): what it returned
  // Loop thread only: the snapshot being written, and the thread writing it.
  std::unique_ptr<index::IndexSet::PendingSnapshot> snapshot_;
  std::thread snapshot_writer_;
  // The next snapshot's buffers, made by buffer_maker_ (the loop thread's once it is joined).
  index::IndexSet::SnapshotBuffers buffers_;
  std::thread buffer_maker_;
  bool buffers_made_ = false;  // GUARDED_BY(mu_): buffer_maker_ is done
  // Removes the snapshots the last one finished replaces (IndexSet::RemoveOldSnapshots).
  std::thread remover_;
  std::chrono::steady_clock::time_point last_snapshot_;  // loop thread only: the last one started
  std::uint64_t snapshot_seq_ = 0;  // loop thread only
  std::uint64_t trimmed_through_ = 0;  // loop thread only: changes up to here are deleted
  // Loop thread only: graph records taken but not yet written, oldest first.
  std::vector<std::pair<std::uint64_t, storage::GraphRecord>> unwritten_records_;
  std::thread thread_;
};

}  // namespace tide::ingest
