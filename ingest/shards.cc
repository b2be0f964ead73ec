#include "ingest/shards.h"

#include <thread>

#include <spdlog/spdlog.h>

namespace tide::ingest {

Result<ShardLayout> ParseShardLayout(std::string_view name) {
  if (name == "single") return ShardLayout::kSingle;
  if (name == "per_partition") return ShardLayout::kPerPartition;
  return Status::InvalidArgument("shards must be 'single' or 'per_partition', not '" + std::string(name) + "'");
}

const char* ShardLayoutName(ShardLayout layout) {
  return layout == ShardLayout::kPerPartition ? "per_partition" : "single";
}

ShardSet::ShardSet(const Options& options, embedding::Embedder* embedder, Histogram* index_seconds)
    : options_(options), embedder_(embedder), index_seconds_(index_seconds) {}

Status ShardSet::Init() {
  if (options_.layout != ShardLayout::kSingle) return Status();
  return Get(-1).status();
}

Result<Shard*> ShardSet::Get(std::int32_t partition) {
  const std::int32_t key = options_.layout == ShardLayout::kSingle ? -1 : partition;
  {
    std::lock_guard lock(mu_);
    if (auto it = shards_.find(key); it != shards_.end()) return it->second.get();
  }
  if (key != -1 && partition_count_ > 0 && partition >= partition_count_) {
    return Status::InvalidArgument(
        "the topic has grown past the " + std::to_string(partition_count_) +
        " partitions it had when the worker started (partition " + std::to_string(partition) +
        "); shards = per_partition needs a fixed partition count, since adding partitions moves containers to "
        "other partitions (docs/decisions/0015-partition-shards.md): replay into a new topic instead");
  }
  const std::filesystem::path dir =
      key == -1 ? options_.data_dir : storage::PartitionShardDir(options_.data_dir, partition);
  const auto start = std::chrono::steady_clock::now();
  Result<std::unique_ptr<Shard>> shard = Open(dir);
  if (!shard) return shard.status().WithContext(key == -1 ? "opening the store"
                                                          : "opening the shard of partition " + std::to_string(key));
  if (key != -1) {
    spdlog::info("shard opened partition={} chunks={} seq={} in {:.2f} s", key, (*shard)->indexes->size(),
                 (*shard)->indexes->applied_seq(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  Shard* raw = shard->get();
  std::lock_guard lock(mu_);
  shards_.emplace(key, std::move(*shard));
  return raw;
}

Result<std::unique_ptr<Shard>> ShardSet::Open(const std::filesystem::path& dir) const {
  auto shard = std::make_unique<Shard>();
  // The previous owner of a partition releases its store when the group revokes it, before
  // the partition is assigned here; one that died releases it with its process. One that lost
  // the partition without noticing (a long pause) still holds it: wait for it, a while.
  const auto give_up = std::chrono::steady_clock::now() + options_.open_wait;
  for (;;) {
    Result<std::unique_ptr<storage::Store>> store = storage::Store::OpenPrimary(dir / "store", options_.store);
    if (store) {
      shard->store = std::move(*store);
      break;
    }
    const bool locked = store.status().message().find("lock") != std::string::npos;
    if (!locked || std::chrono::steady_clock::now() >= give_up) {
      if (locked) {
        return store.status().WithContext("another process still holds the store after " +
                                          std::to_string(options_.open_wait.count()) + " ms");
      }
      return store.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the other owner's exit: nothing to poll
  }
  if (options_.layout == ShardLayout::kPerPartition) {
    TIDE_RETURN_IF_ERROR(CheckPartitionCount(shard->store.get(), dir));
  }
  shard->applier = std::make_unique<Applier>(shard->store.get(), embedder_, options_.applier);
  TIDE_RETURN_IF_ERROR(shard->applier->Init());
  // The store's lock is ours, so no other writer is saving a snapshot here: what is unfinished
  // was left by a worker that died while writing it.
  Result<std::size_t> leftovers = index::IndexSet::RemoveUnfinishedSnapshots(dir / "snapshots");
  if (!leftovers) return leftovers.status();
  if (*leftovers > 0) spdlog::info("removed {} unfinished snapshot(s) of an interrupted worker in {}", *leftovers, dir.string());
  Result<std::unique_ptr<index::IndexSet>> indexes =
      OpenIndexes(options_.index, shard->store.get(), dir / "snapshots", options_.indexer.snapshot_keep);
  if (!indexes) return indexes.status();
  shard->indexes = std::move(*indexes);
  Indexer::Options indexer = options_.indexer;
  indexer.snapshot_dir = dir / "snapshots";
  shard->indexer = std::make_unique<Indexer>(indexer, shard->store.get(), shard->indexes.get(), index_seconds_);
  return shard;
}

Status ShardSet::CheckPartitionCount(storage::Store* store, const std::filesystem::path& dir) const {
  if (partition_count_ <= 0) return Status();
  Result<std::optional<std::string>> stored = store->Get(storage::Cf::kMeta, storage::kMetaPartitionCount);
  if (!stored) return stored.status();
  if (!stored->has_value()) {
    storage::WriteBatch batch;
    batch.Put(storage::Cf::kMeta, storage::kMetaPartitionCount,
              storage::EncodeU64(static_cast<std::uint64_t>(partition_count_)));
    return store->Write(&batch);
  }
  Result<std::uint64_t> recorded = storage::DecodeU64(**stored);
  if (!recorded) return recorded.status().WithContext(dir.string() + " meta partition_count");
  if (*recorded == static_cast<std::uint64_t>(partition_count_)) return Status();
  return Status::InvalidArgument(
      "the shard at " + dir.string() + " was made when the topic had " + std::to_string(*recorded) +
      " partitions; it has " + std::to_string(partition_count_) +
      " now, which places containers on other partitions (docs/decisions/0015-partition-shards.md): replay the "
      "topic into a new data directory instead");
}

namespace {

// Stops a shard's indexer (caught up, a final snapshot) and flushes its store, so that the
// next open (a restart, or the worker the partition moves to) replays no write-ahead log.
Status StopShard(Shard* shard) {
  Status stopped = shard->indexer->Stop();
  Status flushed = shard->store->Flush();
  return !stopped.ok() ? stopped : flushed;
}

}  // namespace

Status ShardSet::Release(std::int32_t partition) {
  if (options_.layout == ShardLayout::kSingle) return Status();
  std::unique_ptr<Shard> shard;
  {
    std::lock_guard lock(mu_);
    auto it = shards_.find(partition);
    if (it == shards_.end()) return Status();
    shard = std::move(it->second);
    shards_.erase(it);
  }
  Status stopped = StopShard(shard.get());
  spdlog::info("shard closed partition={} chunks={} seq={}{}", partition, shard->indexes->size(),
               shard->indexes->applied_seq(), stopped.ok() ? "" : " error=" + stopped.ToString());
  return stopped.WithContext("closing the shard of partition " + std::to_string(partition));
}

Status ShardSet::StopAll() {
  std::map<std::int32_t, std::unique_ptr<Shard>> shards;
  {
    std::lock_guard lock(mu_);
    shards.swap(shards_);
  }
  Status first;
  for (auto& [partition, shard] : shards) {
    Status s = StopShard(shard.get());
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

ShardSet::Totals ShardSet::totals() const {
  Totals t;
  std::lock_guard lock(mu_);
  t.shards = shards_.size();
  for (const auto& [partition, shard] : shards_) {
    t.chunks += shard->indexes->size();
    t.vector_tombstones += shard->indexes->vector_tombstones();
    t.applied_seq += shard->indexes->applied_seq();
    t.graph_generation = std::max(t.graph_generation, shard->indexes->graph_generation());
    t.vector_size += shard->indexes->vector_size();
    t.index_lag += shard->indexer->lag();
  }
  return t;
}

IngestCounters ShardSet::counters() const {
  IngestCounters sum;
  std::lock_guard lock(mu_);
  for (const auto& [partition, shard] : shards_) {
    const IngestCounters& c = shard->applier->counters();
    sum.applied += c.applied;
    sum.stale += c.stale;
    sum.duplicate += c.duplicate;
    sum.dead_lettered += c.dead_lettered;
    sum.chunks_written += c.chunks_written;
  }
  return sum;
}

}  // namespace tide::ingest
