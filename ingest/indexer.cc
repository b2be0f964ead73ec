#include "ingest/indexer.h"

#include <spdlog/spdlog.h>

#include "common/index/replayer.h"

namespace tide::ingest {

using Clock = std::chrono::steady_clock;

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
  return fatal();
}

void Indexer::Loop() {
  auto last_snapshot = Clock::now();
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lock(mu_);
      const auto snapshot_due = last_snapshot + options_.snapshot_interval;
      cv_.wait_until(lock, snapshot_due, [&] { return stopping_ || target_seq_ > applied_seq_; });
      stop = stopping_;
      if (!fatal_.ok()) return;
    }
    // Everything the store has now, notified or not (a stop catches up with all of it).
    const auto start = Clock::now();
    Result<std::size_t> applied = index::CatchUp(*indexes_, *store_, SIZE_MAX);
    if (!applied) {
      spdlog::error("indexing stopped: {}", applied.status().ToString());
      std::lock_guard lock(mu_);
      fatal_ = applied.status().WithContext("updating the worker's in-memory indexes");
      cv_.notify_all();
      return;
    }
    if (*applied > 0 && index_seconds_ != nullptr) {
      index_seconds_->Observe(std::chrono::duration<double>(Clock::now() - start).count());
    }
    {
      std::lock_guard lock(mu_);
      applied_seq_ = indexes_->applied_seq();
    }
    cv_.notify_all();
    if (stop || Clock::now() - last_snapshot >= options_.snapshot_interval) {
      SnapshotIfChanged();
      last_snapshot = Clock::now();
    }
    if (stop) return;
  }
}

void Indexer::SnapshotIfChanged() {
  if (indexes_->applied_seq() == snapshot_seq_) return;
  Status s = indexes_->SaveSnapshot(options_.snapshot_dir, options_.snapshot_keep);
  if (!s.ok()) {
    spdlog::warn("snapshot failed, will retry: {}", s.ToString());  // the store is the truth
    return;
  }
  snapshot_seq_ = indexes_->applied_seq();
  if (options_.trim_changes) {
    if (Status trimmed = TrimChanges(); !trimmed.ok()) {
      spdlog::warn("trimming the change log failed, will retry after the next snapshot: {}", trimmed.ToString());
    }
  }
}

Status Indexer::TrimChanges() {
  // Every kept snapshot covers the changes up to its sequence; the oldest bounds what a reader
  // starting from any of them still needs.
  const auto snapshots = index::IndexSet::ListSnapshotDirs(options_.snapshot_dir);
  if (snapshots.empty()) return Status();
  const std::uint64_t through = snapshots.back().first;
  if (through <= trimmed_through_) return Status();
  storage::WriteBatch wb;
  wb.DeleteRange(storage::Cf::kChanges, storage::EncodeU64(0), storage::EncodeU64(through + 1));
  wb.Put(storage::Cf::kMeta, storage::kMetaFirstChangeSeq, storage::EncodeU64(through + 1));
  TIDE_RETURN_IF_ERROR(store_->Write(&wb));
  spdlog::debug("change log trimmed through seq={}", through);
  trimmed_through_ = through;
  return Status();
}

}  // namespace tide::ingest
