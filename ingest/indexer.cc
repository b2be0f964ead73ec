#include "ingest/indexer.h"

#include <exception>

#include <spdlog/spdlog.h>

#include "common/index/replayer.h"

namespace tide::ingest {

using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<index::IndexSet>> OpenIndexes(const index::IndexSet::Options& options, storage::Store* store,
                                                    const std::filesystem::path& snapshot_dir, int snapshot_keep) {
  auto load = [&]() -> Result<std::unique_ptr<index::IndexSet>> {
    Result<std::unique_ptr<index::IndexSet>> loaded = index::IndexSet::LoadLatestSnapshot(snapshot_dir, options);
    if (!loaded && loaded.status().code() == Status::Code::kNotFound) return index::IndexSet::Create(options);
    return loaded;
  };
  Result<std::unique_ptr<index::IndexSet>> indexes = load();
  if (!indexes) return indexes.status();
  Result<std::uint64_t> generation = store->GetCounter(storage::kMetaGraphGeneration);
  if (!generation) return generation.status();
  bool same_generation = *generation != 0 && (*indexes)->graph_generation() == *generation;
  if (same_generation) {
    Result<std::size_t> followed = index::FollowGraphRecords(**indexes, *store, SIZE_MAX);
    if (!followed && followed.status().code() == Status::Code::kInvalidArgument) {
      // Nothing applied: go on from the snapshot, inserting, in a new generation.
      spdlog::warn("the worker's vector graph records do not follow its snapshot ({}); starting a new graph "
                   "generation", followed.status().ToString());
      same_generation = false;
    } else if (!followed && followed.status().code() == Status::Code::kCorruption) {
      // The graph may be partly changed: load the snapshot again and insert from there.
      spdlog::error("the worker's own vector graph records do not apply to its snapshot ({}); inserting the "
                    "changes after the snapshot in a new graph generation",
                    followed.status().ToString());
      same_generation = false;
      indexes = load();
      if (!indexes) return indexes.status();
    } else if (!followed) {
      return followed.status().WithContext("applying the worker's own vector graph records");  // retried by a restart
    } else if (*followed > 0) {
      spdlog::info("vector graph records applied records={} seq={}", *followed, (*indexes)->applied_seq());
    }
  }
  if (same_generation) {
    const index::IndexSet::ApplyLock lock = (*indexes)->LockForApply();
    (*indexes)->StartGraphRecords(lock, *generation);
  }
  // Bring the in-memory indexes up to the store: after a crash, the snapshot is behind.
  Result<std::size_t> replayed = index::CatchUp(**indexes, *store, SIZE_MAX);
  if (!replayed) return replayed.status().WithContext("replaying the change log");
  spdlog::info("indexes ready chunks={} seq={} replayed_changes={}", (*indexes)->size(), (*indexes)->applied_seq(),
               *replayed);
  if (same_generation) return indexes;

  const std::uint64_t next = *generation + 1;
  storage::WriteBatch wb;
  wb.DeleteRange(storage::Cf::kGraph, storage::EncodeU64(0), storage::EncodeU64(UINT64_MAX));
  wb.Put(storage::Cf::kMeta, storage::kMetaGraphGeneration, storage::EncodeU64(next));
  TIDE_RETURN_IF_ERROR(store->Write(&wb));
  {
    const index::IndexSet::ApplyLock lock = (*indexes)->LockForApply();
    (*indexes)->StartGraphRecords(lock, next);
  }
  TIDE_RETURN_IF_ERROR((*indexes)->SaveSnapshot(snapshot_dir, snapshot_keep).WithContext(
      "writing the first snapshot of vector graph generation " + std::to_string(next)));
  spdlog::info("vector graph generation {} started at seq={} (query daemons load its snapshot)", next,
               (*indexes)->applied_seq());
  return indexes;
}

Indexer::Indexer(const Options& options, storage::Store* store, index::IndexSet* indexes,
                 Histogram* index_seconds)
    : options_(options), store_(store), indexes_(indexes), index_seconds_(index_seconds) {
  applied_seq_ = target_seq_ = indexes_->applied_seq();
  // snapshot_seq_ stays 0: after a crash the indexes are ahead of the newest snapshot (the
  // change log was replayed), so the first interval writes one.
  thread_ = std::thread([this] { Loop(); });
}

Indexer::~Indexer() { (void)Stop(); }

void Indexer::Notify(std::uint64_t seq) {
  {
    std::lock_guard lock(mu_);
    target_seq_ = std::max(target_seq_, seq);
  }
  cv_.notify_all();
}

Status Indexer::WaitWhileBehind() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !fatal_.ok() || stopping_ || target_seq_ <= applied_seq_ + options_.max_lag; });
  return fatal_;
}

Status Indexer::fatal() const {
  std::lock_guard lock(mu_);
  return fatal_;
}

std::uint64_t Indexer::lag() const {
  std::lock_guard lock(mu_);
  return target_seq_ > applied_seq_ ? target_seq_ - applied_seq_ : 0;
}

Status Indexer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Every way out of Loop() finishes its snapshot; this is for one that did not.
  if (snapshot_writer_.joinable()) snapshot_writer_.join();
  if (buffer_maker_.joinable()) buffer_maker_.join();
  if (remover_.joinable()) remover_.join();
  buffers_ = {};  // a snapshot's worth of memory, made for a copy-out that will not come
  return fatal();
}

void Indexer::Loop() {
  last_snapshot_ = Clock::now();
  // The first round does not wait: what the worker replayed at start still needs its record.
  for (bool first = true;; first = false) {
    bool stop = false;
    {
      std::unique_lock lock(mu_);
      // The next snapshot is due an interval after the last one started, unless one is being
      // written (its end wakes this thread). Unwritten graph records are retried within a
      // second (a full disk may have room again).
      const auto snapshot_due = snapshot_ != nullptr || buffer_maker_.joinable()
                                    ? Clock::now() + std::chrono::hours(1)
                                    : last_snapshot_ + options_.snapshot_interval;
      // (No snapshot is started while they are: the interval may have passed.)
      const auto due = unwritten_records_.empty() ? snapshot_due : Clock::now() + std::chrono::seconds(1);
      if (!first) {
        cv_.wait_until(lock, due, [&] {
          return stopping_ || target_seq_ > applied_seq_ || snapshot_written_ ||
                 (buffers_made_ && unwritten_records_.empty());  // else nothing starts it yet
        });
      }
      stop = stopping_;
      if (!fatal_.ok()) return;
    }
    if (!FinishSnapshot(/*wait=*/false)) return;
    // Everything the store has now, notified or not (a stop catches up with all of it), a
    // change at a time, with a graph record at least every graph_record_interval: the daemons
    // see a bulk load's changes as its records come, not at the end of the round.
    const auto start = Clock::now();
    auto last_record = start;
    std::size_t applied_total = 0;
    bool recorded = true;
    for (bool done = false; !done;) {
      Result<std::size_t> applied = index::CatchUp(*indexes_, *store_, 1);
      if (!applied) {
        (void)FinishSnapshot(/*wait=*/true);
        Fail(applied.status().WithContext("updating the worker's in-memory indexes"));
        return;
      }
      applied_total += *applied;
      done = *applied == 0;
      // Before any snapshot: a snapshot's sequence is where a record ends, so a reader that
      // loads it finds the next record starting there.
      if (done || Clock::now() - last_record >= options_.graph_record_interval) {
        recorded = WriteGraphRecords();
        last_record = Clock::now();
        // Within a long round too (a bulk load): the graphs it seals are written as they come,
        // and the worker's leave memory then, rather than all at the end.
        if (recorded && !done && !stop) {
          if (!FinishSnapshot(/*wait=*/false)) return;
          MaybeStartSnapshot();
        }
      }
      {
        std::lock_guard lock(mu_);
        applied_seq_ = indexes_->applied_seq();
      }
      cv_.notify_all();
    }
    if (applied_total > 0 && index_seconds_ != nullptr) {
      index_seconds_->Observe(std::chrono::duration<double>(Clock::now() - start).count());
    }
    if (stop) {
      if (!FinishSnapshot(/*wait=*/true)) return;
      if (!recorded) {
        spdlog::error("stopping with vector graph records unwritten; the next start inserts their changes again");
      } else if (const std::uint64_t seq = indexes_->applied_seq(); seq != snapshot_seq_) {
        if (remover_.joinable()) remover_.join();  // SaveSnapshot removes old ones itself
        if (Status s = indexes_->SaveSnapshot(options_.snapshot_dir, options_.snapshot_keep); !s.ok()) {
          spdlog::warn("the final snapshot failed; the next start replays the change log after the last one: {}",
                       s.ToString());
        } else {
          Snapshotted(seq);
        }
      }
      return;
    }
    if (recorded) MaybeStartSnapshot();
  }
}

void Indexer::MaybeStartSnapshot() {
  if (snapshot_ != nullptr || Clock::now() - last_snapshot_ < options_.snapshot_interval) return;
  if (indexes_->applied_seq() == snapshot_seq_) {
    last_snapshot_ = Clock::now();
    return;
  }
  // First the memory the copy-out goes into, made on a thread of its own while changes go on
  // being applied: the kernel finding its pages during the copy held this thread, and so every
  // change, for seconds on a busy machine.
  if (!buffer_maker_.joinable()) {
    const index::IndexSet::SnapshotSizes sizes = [&] {
      const index::IndexSet::ApplyLock lock = indexes_->LockForApply();
      return indexes_->SnapshotBytes(lock);
    }();
    buffer_maker_ = std::thread([this, sizes] {
      index::IndexSet::SnapshotBuffers made;
      try {
        made = index::IndexSet::SnapshotBuffers::Touched(sizes);
      } catch (const std::exception& e) {  // bad_alloc: the copy-out allocates, and reports, itself
        spdlog::warn("no memory made beforehand for the next snapshot ({} + {} bytes): {}", sizes.tables,
                     sizes.graph, e.what());
      }
      std::lock_guard lock(mu_);
      buffers_ = std::move(made);
      buffers_made_ = true;
      cv_.notify_all();
    });
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (!buffers_made_) return;
    buffers_made_ = false;
  }
  buffer_maker_.join();
  last_snapshot_ = Clock::now();
  // The state is copied out under the apply lock (the tables encoded, the growing graph's bytes
  // copied); the files are written on a thread of its own while changes go on being applied.
  Result<std::unique_ptr<index::IndexSet::PendingSnapshot>> prepared = [&] {
    const index::IndexSet::ApplyLock lock = indexes_->LockForApply();
    return indexes_->PrepareSnapshot(lock, options_.snapshot_dir, std::move(buffers_));
  }();
  if (!prepared) {
    spdlog::warn("snapshot failed, will retry: {}", prepared.status().ToString());  // the store is the truth
    return;
  }
  if (*prepared == nullptr) {  // there already
    Snapshotted(indexes_->applied_seq());
    return;
  }
  snapshot_ = std::move(*prepared);
  snapshot_writer_ = std::thread([this, snapshot = snapshot_.get()] {
    Status written = snapshot->Write();
    std::lock_guard lock(mu_);
    snapshot_status_ = std::move(written);
    snapshot_written_ = true;
    cv_.notify_all();
  });
}

bool Indexer::FinishSnapshot(bool wait) {
  if (snapshot_ == nullptr) return true;
  Status written;
  {
    std::unique_lock lock(mu_);
    if (!snapshot_written_ && !wait) return true;
    cv_.wait(lock, [&] { return snapshot_written_; });
    written = std::move(snapshot_status_);
    snapshot_written_ = false;
  }
  snapshot_writer_.join();
  const Status finished = [&] {
    const index::IndexSet::ApplyLock lock = indexes_->LockForApply();
    return indexes_->FinishSnapshot(lock, *snapshot_);
  }();
  const std::uint64_t seq = snapshot_->seq();
  snapshot_.reset();
  if (!finished.ok()) {
    Fail(finished.WithContext("finishing a snapshot of the worker's in-memory indexes"));
    return false;
  }
  if (written.code() == Status::Code::kCorruption) {
    // A sealed file it would link is damaged: no later snapshot can be written without it.
    // A restart verifies the snapshot it starts from and builds anew where it must.
    Fail(written.WithContext("writing a snapshot of the worker's in-memory indexes"));
    return false;
  }
  if (!written.ok()) {
    spdlog::warn("snapshot failed, will retry: {}", written.ToString());  // the store is the truth
    return true;
  }
  // The snapshots it replaces are removed on a thread of their own: unlinking one held this
  // thread, and so every change, for 0.07-0.1 s at 1M chunks.
  if (remover_.joinable()) remover_.join();
  remover_ = std::thread([dir = options_.snapshot_dir, keep = options_.snapshot_keep] {
    index::IndexSet::RemoveOldSnapshots(dir, keep);
  });
  Snapshotted(seq);
  return true;
}

void Indexer::Fail(Status status) {
  spdlog::error("indexing stopped: {}", status.ToString());
  std::lock_guard lock(mu_);
  fatal_ = std::move(status);
  cv_.notify_all();
}

void Indexer::Snapshotted(std::uint64_t seq) {
  snapshot_seq_ = seq;
  if (options_.trim_changes) {
    if (Status trimmed = TrimChanges(); !trimmed.ok()) {
      spdlog::warn("trimming the change log failed, will retry after the next snapshot: {}", trimmed.ToString());
    }
  }
}

bool Indexer::WriteGraphRecords() {
  {
    const index::IndexSet::ApplyLock lock = indexes_->LockForApply();
    if (auto record = indexes_->TakeGraphRecord(lock)) unwritten_records_.push_back(std::move(*record));
  }
  if (unwritten_records_.empty()) return true;
  // Taken is taken: a record not written would leave a gap no reader can cross, so it is kept
  // and written, in order, with the next ones.
  storage::WriteBatch wb;
  std::size_t bytes = 0;
  for (const auto& [through, record] : unwritten_records_) {
    const std::string value = storage::EncodeGraphRecord(record);
    bytes += value.size();
    wb.Put(storage::Cf::kGraph, storage::EncodeU64(through), value);
  }
  if (Status s = store_->Write(&wb); !s.ok()) {
    spdlog::warn("writing {} vector graph record(s) failed, will retry: {}", unwritten_records_.size(), s.ToString());
    return false;
  }
  if (options_.graph_record_bytes != nullptr) options_.graph_record_bytes->Inc(bytes);
  unwritten_records_.clear();
  return true;
}

Status Indexer::TrimChanges() {
  // Every kept snapshot covers the changes up to its sequence; the oldest bounds what a reader
  // starting from any of them still needs.
  // (Older ones may still be listed while remover_ removes them. One it failed to remove is
  // left with its changes trimmed: a load falls back to it only if every newer one is damaged,
  // and then finds the change log does not reach back, and says so.)
  const auto snapshots = index::IndexSet::ListSnapshotDirs(options_.snapshot_dir);
  if (snapshots.empty()) return Status();
  const std::size_t kept = std::min(snapshots.size(), static_cast<std::size_t>(std::max(options_.snapshot_keep, 1)));
  const std::uint64_t through = snapshots[kept - 1].first;
  if (through <= trimmed_through_) return Status();
  storage::WriteBatch wb;
  wb.DeleteRange(storage::Cf::kChanges, storage::EncodeU64(0), storage::EncodeU64(through + 1));
  // Graph records end where snapshots are taken, so those up to `through` cover only trimmed
  // changes.
  wb.DeleteRange(storage::Cf::kGraph, storage::EncodeU64(0), storage::EncodeU64(through + 1));
  wb.Put(storage::Cf::kMeta, storage::kMetaFirstChangeSeq, storage::EncodeU64(through + 1));
  TIDE_RETURN_IF_ERROR(store_->Write(&wb));
  spdlog::debug("change log trimmed through seq={}", through);
  trimmed_through_ = through;
  return Status();
}

}  // namespace tide::ingest
