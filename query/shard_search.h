#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/index/chunk_table.h"
#include "common/index/keyword_index.h"
#include "common/index/vector_index.h"
#include "common/status.h"
#include "common/storage/schema.h"
#include "query/follower.h"

namespace tide::query {

// A chunk's label while a search runs over shards: its shard's number (the partition, 0 for a
// single store) in the top 16 bits, the store's own label (far below 2^48) in the rest.
inline constexpr int kShardLabelShift = 48;
inline std::uint32_t ShardOfLabel(std::uint64_t label) {
  return static_cast<std::uint32_t>(label >> kShardLabelShift);
}
inline std::uint64_t OwnLabel(std::uint64_t label) {
  return label & ((std::uint64_t{1} << kShardLabelShift) - 1);
}
// Internal when `own` does not fit 48 bits or `shard` 16.
Result<std::uint64_t> ShardLabel(std::uint32_t shard, std::uint64_t own);

// Several shards' lists of one retriever as one: best score first, ties by label, at most
// `k` (the order one index over every shard would give). Hit: index::VectorHit or KeywordHit.
template <typename Hit>
void MergeByScore(std::vector<Hit>* hits, std::size_t k) {
  std::sort(hits->begin(), hits->end(), [](const Hit& a, const Hit& b) {
    return a.score != b.score ? a.score > b.score : a.label < b.label;
  });
  if (hits->size() > k) hits->resize(k);
}

// How the shards of a search answered: one watermark per shard that took part, and the shards
// left out (a router's search with allow_partial_search_results, when every copy of a shard
// failed). Elasticsearch's "_shards" block.
struct ShardsOutcome {
  std::map<std::uint32_t, Watermark> watermarks;  // by shard number
  struct Failure {
    std::uint32_t shard;
    std::string reason;
  };
  std::vector<Failure> failures;
  std::size_t total() const { return watermarks.size() + failures.size(); }
};

// A chunk as a search reads it: the record and the shard that holds it.
struct ShardDocument {
  std::uint32_t shard = 0;
  storage::DocRecord record;
};

// The lists one step of a search asks the shards for.
struct ListsRequest {
  std::size_t k = 0;
  const index::MetadataFilter* filter = nullptr;  // never null
  const std::vector<float>* vector = nullptr;     // the query embedding; null: no vector list
  const std::vector<std::string>* terms = nullptr;
  const std::vector<float>* term_weights = nullptr;
  struct Keyword {
    index::Field field;
    const index::KeywordStatistics* global = nullptr;  // summed statistics; null: each shard's own
  };
  std::vector<Keyword> keyword;  // the BM25 lists, in this order
  // A list that would start after it is skipped (nullopt in the answer).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct ShardLists {
  std::optional<std::vector<index::VectorHit>> vector;                // asked and found in time
  std::vector<std::optional<std::vector<index::KeywordHit>>> keyword;  // as ListsRequest::keyword
  bool timed_out = false;  // a list was skipped for the deadline
};

// What one search reads: the shards that hold the request's containers, with the scope
// resolved in each. Every call covers all of them; lists come back merged by score (ties by
// label), labels carrying their shard (ShardLabel). Made by ShardSource::Begin; used by one
// thread.
class ShardSearch {
 public:
  virtual ~ShardSearch() = default;

  // Shards taking part (a search over one scores with its own statistics).
  virtual std::size_t shards() const = 0;
  // For each term, whether a live chunk of the scope has it in its title or body.
  virtual Result<std::vector<bool>> TermsInScope(const std::vector<std::string>& terms) = 0;
  // For each term, the live chunks of the scope that have it (title and body counted apart).
  virtual Result<std::vector<std::size_t>> DocFrequencies(const std::vector<std::string>& terms) = 0;
  // Adds every shard's BM25 statistics of each of `fields` in the scope to `sums` (one per
  // field): the first step of a search over several shards, which then scores with the sums,
  // as one index would.
  virtual Status AddKeywordStatistics(const std::vector<index::Field>& fields, const std::vector<std::string>& terms,
                                      std::vector<index::KeywordStatistics>* sums) = 0;
  // The retrievers' lists, in one step: each the best `k` of the scope passing the filter,
  // merged over the shards by score (ties by label).
  virtual Result<ShardLists> SearchLists(const ListsRequest& request) = 0;
  // The chunks of `labels` (ShardLabel), in order; nullopt for one deleted since.
  virtual Result<std::vector<std::optional<storage::ChunkRecord>>> Chunks(const std::vector<std::uint64_t>& labels) = 0;
  // A document of the scope and its shard; nullopt when none holds it.
  virtual Result<std::optional<ShardDocument>> Document(const std::string& container_id,
                                                        const std::string& doc_id) = 0;
  // Live chunks of each container of the scope that has any.
  virtual Result<std::map<std::string, std::size_t>> ChunksPerContainer() = 0;
  // What answered so far.
  virtual ShardsOutcome outcome() const = 0;
};

// Index-wide figures of the shards a daemon searches (/v1/stats for admins).
struct IndexFigures {
  std::vector<std::string> container_ids;  // every container any shard has seen
  std::size_t chunks = 0;
  std::size_t shards = 0;
  std::size_t vector_tombstones = 0;
  std::size_t sealed_vector_segments = 0;
  std::size_t sealed_keyword_segments = 0;
};

// What a daemon searches: the stores it follows (ServedShards), or the shards other daemons
// serve (RemoteShards: a router). Thread-safe.
class ShardSource {
 public:
  virtual ~ShardSource() = default;

  struct SearchOptions {
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    // A shard none of whose copies answers is left out, and the outcome says so; otherwise
    // the search fails (Unavailable, naming the shard).
    bool allow_partial_results = false;
  };
  // A search within `container_ids` (already authorised). Unavailable, saying why, when a
  // shard it needs is not loaded.
  virtual Result<std::unique_ptr<ShardSearch>> Begin(const std::vector<std::string>& container_ids,
                                                     const SearchOptions& options) const = 0;
  // A principal's containers from its ACL record (acl.* events); nullopt without a record (the
  // ACL file decides); empty when the record was deleted.
  virtual Result<std::optional<std::vector<std::string>>> PrincipalContainers(const std::string& principal) const = 0;
  virtual Result<IndexFigures> Figures() const = 0;
  // Whether responses may be cached by watermark().seq (a router's watermark is polled, so no).
  virtual bool cacheable() const { return true; }

  // Health, as Follower's over the shards: ready when each is; the first reason, corruption
  // or fatal error, naming its shard; lag and counts summed (behind_for: the longest).
  virtual bool ready() const = 0;
  virtual std::string not_ready_reason() const = 0;
  virtual Status corruption() const = 0;
  virtual Status fatal() const = 0;
  virtual Follower::Lag lag() const = 0;
  virtual Watermark watermark() const = 0;
  virtual std::uint64_t store_seq() const = 0;
  virtual std::uint64_t snapshot_jumps() const = 0;
  virtual std::uint64_t corrupt_snapshots() const = 0;
  virtual std::size_t size() const = 0;  // shards
};

}  // namespace tide::query
