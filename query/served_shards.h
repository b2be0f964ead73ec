#pragma once

#include <atomic>
#include <map>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fork_join.h"
#include "common/index/index_set.h"
#include "common/status.h"
#include "common/storage/schema.h"
#include "query/follower.h"
#include "query/shard_search.h"

namespace tide::storage {
class Store;
}

namespace tide::query {

// The stores a daemon serves, each followed by a Follower: a single-layout worker's data
// directory (one store), or every partition's shard of a per-partition worker's
// (data_dir/partitions/<n>, decision 0015). Searches read them as one index (Searcher: BM25
// statistics summed over the shards, the lists merged by score).
//
// Thread safety: all methods may be called from any thread. A per-partition set looks for new
// shard directories on a thread of its own (a shard appears when its partition is first
// assigned to a worker).
class ServedShards final : public ShardSource {
 public:
  // One shard as a search reads it.
  struct Shard {
    std::string name;  // "" for a single store, else the partition number
    std::uint32_t number = 0;  // the partition; 0 for a single store
    std::shared_ptr<const index::IndexSet> indexes;
    std::shared_ptr<const storage::Store> store;
  };

  // Follows `options.data_dir`: its store, or with `per_partition` each of its partitions'
  // shards, each with a secondary directory of its own under options.secondary_dir. A
  // non-empty `partitions` serves only those partitions' shards (a node among several that a
  // router spreads the shards over).
  ServedShards(const Follower::Options& options, bool per_partition, std::vector<std::uint32_t> partitions = {});
  // One follower owned by the caller (tests).
  explicit ServedShards(const Follower* follower);
  ~ServedShards();
  ServedShards(const ServedShards&) = delete;
  ServedShards& operator=(const ServedShards&) = delete;

  // Runs each search's lists (the vector list, each keyword field's) at once on `pool` (not
  // owned; it outlives this). Without one they run one after another. Call before searching.
  void UseListPool(ForkJoinPool* pool) { list_pool_ = pool; }

  // Every shard's indexes and store as of now; Unavailable, saying why, until each is ready
  // (and, per partition, until one shard exists).
  Result<std::vector<Shard>> Views() const;

  // ShardSource: a search over every shard.
  Result<std::unique_ptr<ShardSearch>> Begin(const std::vector<std::string>& container_ids,
                                             const SearchOptions& options) const override;
  // A search over the shards numbered `only` (a router's request to this node); Unavailable
  // when one of them is not served here or not loaded.
  Result<std::unique_ptr<ShardSearch>> BeginOn(const std::vector<std::string>& container_ids,
                                               const std::vector<std::uint32_t>& only) const;
  Result<std::optional<std::vector<std::string>>> PrincipalContainers(const std::string& principal) const override;
  // The same, looked up in the shards numbered `only` (a router's request), as BeginOn.
  Result<std::optional<std::vector<std::string>>> PrincipalContainersOn(const std::string& principal,
                                                                        const std::vector<std::uint32_t>& only) const;
  Result<IndexFigures> Figures() const override;
  // The figures of the shards numbered `only`, as BeginOn.
  Result<IndexFigures> FiguresOn(const std::vector<std::uint32_t>& only) const;
  // The partition count the shards were made under (meta partition_count); nullopt for a
  // single store or before a shard exists.
  Result<std::optional<std::uint32_t>> PartitionCount() const;
  // The numbers of the shards followed, and whether each is loaded.
  std::map<std::uint32_t, bool> ShardMap() const;
  // What the views cover: the sum of the shards' change sequences (each shard numbers its own;
  // the sum moves whenever one does) and every shard's offsets.
  static Watermark WatermarkOf(const std::vector<Shard>& shards);
  // The value of `key` in `cf` in the first of `shards` whose store has it (a document, or a
  // principal's ACL record: one shard holds each), with that store; nullopt when none has it.
  struct Found {
    std::string value;
    const storage::Store* store;
  };
  static Result<std::optional<Found>> GetFromAny(const std::vector<Shard>& shards, storage::Cf cf,
                                                 std::string_view key);

  // As Follower's, over the shards: ready when each is; the first reason, corruption or fatal
  // error, naming its shard; lag and counts summed (behind_for: the longest).
  bool ready() const override;
  std::string not_ready_reason() const override;
  Status corruption() const override;
  Status fatal() const override;
  Follower::Lag lag() const override;
  Watermark watermark() const override;
  std::uint64_t store_seq() const override;
  std::uint64_t snapshot_jumps() const override;
  std::uint64_t corrupt_snapshots() const override;
  std::size_t size() const override;  // shards followed

 private:
  struct Followed {
    std::string name;
    const Follower* follower;
  };
  std::vector<Followed> Followers() const;
  // The view of one followed shard, numbered `number`: Unavailable while it is loading.
  static Result<Shard> ViewOf(const Followed& followed, std::uint32_t number);
  // The views of the shards numbered `only`: Unavailable when one is not served or not loaded.
  Result<std::vector<Shard>> ViewsOf(const std::vector<std::uint32_t>& only) const;
  static IndexFigures FiguresOf(const std::vector<Shard>& views);
  static Result<std::optional<std::vector<std::string>>> AclOf(const std::vector<Shard>& views,
                                                               const std::string& principal);
  // Starts following the shard directories under data_dir/partitions that are not yet.
  void Scan();

  const Follower::Options options_;
  const bool per_partition_ = false;
  const std::vector<std::uint32_t> partitions_;  // served; empty: all
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Follower>> owned_;  // GUARDED_BY(mu_)
  std::vector<Followed> followed_;                 // GUARDED_BY(mu_): in partition order
  std::atomic<bool> stop_{false};
  std::thread scanner_;
  ForkJoinPool* list_pool_ = nullptr;
};

}  // namespace tide::query
