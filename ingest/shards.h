#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "common/index/index_set.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/storage/store.h"
#include "ingest/applier.h"
#include "ingest/indexer.h"

namespace tide::embedding {
class Embedder;
}

namespace tide::ingest {

// How a worker lays out what it writes (docs/decisions/0015-partition-shards.md).
enum class ShardLayout {
  // One store under data_dir for every partition the worker consumes: one worker per group.
  kSingle,
  // A shard per partition of the topic, data_dir/partitions/<n>/: its store (documents,
  // chunks, vectors, change log, and the partition's next offset) and its index snapshots.
  // A partition's data moves with it: the worker it is assigned to opens its shard and goes on
  // from the offset stored there, so several workers in one group share the topic.
  kPerPartition,
};
// "single" or "per_partition"; InvalidArgument otherwise.
Result<ShardLayout> ParseShardLayout(std::string_view name);
const char* ShardLayoutName(ShardLayout layout);

// One store and everything the worker builds from it: the unit it writes, and under
// ShardLayout::kPerPartition the unit that moves between workers. A data directory of the
// same shape as a single-layout worker's (store/, snapshots/), so tide-query, tidectl stats,
// fsck and backup work on a shard as on a whole store.
// Members go in reverse: the indexer stops (catching up, a final snapshot) before the indexes
// and the store.
struct Shard {
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<Applier> applier;
  std::unique_ptr<index::IndexSet> indexes;
  std::unique_ptr<Indexer> indexer;
  // The worker's retry state for a batch failing on this shard with a persistent error: the
  // batch (by its first message: topic, partition, offset) and how many times it has failed.
  std::tuple<std::string, std::int32_t, std::int64_t> failing_batch;
  int failed_attempts = 0;
};

// The shards a worker holds. Under kSingle, the one shard, opened by Init and kept; under
// kPerPartition, the shards of the partitions assigned to it, opened on assignment and closed
// (indexes caught up, a final snapshot) when the partition is revoked.
//
// Thread safety: Get, Release and StopAll are called from the consume thread only; totals()
// may be called from any thread (metrics).
class ShardSet {
 public:
  struct Options {
    ShardLayout layout = ShardLayout::kSingle;
    std::filesystem::path data_dir;
    storage::Store::Options store;
    Applier::Options applier;
    index::IndexSet::Options index;  // model_id and dimension: the embedder's
    Indexer::Options indexer;        // snapshot_dir is each shard's own
    // A partition's previous owner may still hold its store's lock (it lost the partition
    // without knowing, or is still exiting): opening retries this long, then fails.
    std::chrono::milliseconds open_wait{30000};
  };

  // `embedder` and `index_seconds` (may be null) must outlive the set.
  ShardSet(const Options& options, embedding::Embedder* embedder, Histogram* index_seconds);
  ~ShardSet() = default;  // each shard's indexer stops as StopAll would, errors unseen
  ShardSet(const ShardSet&) = delete;
  ShardSet& operator=(const ShardSet&) = delete;

  // kSingle: opens the one shard (a store of another embedder is refused here, before the
  // worker joins its group). kPerPartition: nothing.
  Status Init();
  // kPerPartition: the topic's partition count when the worker started. A new shard records
  // it; a shard that recorded another refuses to open, and so does a partition beyond it
  // (InvalidArgument): the topic's partitions changed, which moves containers to other
  // partitions. 0 (before it is known, and under kSingle): not checked.
  void set_partition_count(std::int32_t count) { partition_count_ = count; }
  std::int32_t partition_count() const { return partition_count_; }
  // The shard that holds `partition`'s data, opened if it is not (kPerPartition).
  Result<Shard*> Get(std::int32_t partition);
  // `partition` is no longer this worker's. kPerPartition: its shard catches up, writes a
  // final snapshot and closes, so the next owner opens it with nothing to replay. kSingle:
  // nothing.
  Status Release(std::int32_t partition);
  // Every shard catches up and writes a final snapshot. Returns the first error.
  Status StopAll();

  ShardLayout layout() const { return options_.layout; }

  // Over the open shards, for metrics and the progress log. Any thread.
  struct Totals {
    std::size_t shards = 0;
    std::size_t chunks = 0;  // in the indexes
    std::size_t vector_size = 0;
    std::size_t vector_tombstones = 0;
    std::uint64_t applied_seq = 0;       // summed: the one shard's change sequence under kSingle
    std::uint64_t graph_generation = 0;  // the highest
    std::uint64_t index_lag = 0;
  };
  Totals totals() const;
  // The open shards' event counters, summed. The consume thread only (the appliers' thread).
  IngestCounters counters() const;

 private:
  Result<std::unique_ptr<Shard>> Open(const std::filesystem::path& dir) const;

  // Records the topic's partition count in a new shard's store, or checks it against the
  // recorded one.
  Status CheckPartitionCount(storage::Store* store, const std::filesystem::path& dir) const;

  const Options options_;
  std::int32_t partition_count_ = 0;  // consume thread only
  embedding::Embedder* embedder_;
  Histogram* index_seconds_;
  mutable std::mutex mu_;  // the map's shape, against totals()
  std::map<std::int32_t, std::unique_ptr<Shard>> shards_;  // kSingle: one, under key -1
};

}  // namespace tide::ingest
