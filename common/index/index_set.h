#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/analysis/analyzer.h"
#include "common/index/container_set.h"
#include "common/index/keyword_index.h"
#include "common/index/vector_index.h"
#include "common/status.h"
#include "common/storage/schema.h"

namespace tide::storage {
class Store;
}

namespace tide::index {

// Conditions on document metadata a search adds to its container scope (DESIGN §5's
// filters). An empty field does not constrain; all given fields must hold.
struct MetadataFilter {
  std::vector<std::string> doc_types;  // metadata.doc_type is one of these
  std::vector<std::string> tags;       // metadata.tags holds at least one of these
  // Inclusive bounds in ms since the epoch; a chunk without the date fails any bound on it.
  std::optional<std::int64_t> created_min, created_max;
  std::optional<std::int64_t> updated_min, updated_max;

  bool empty() const {
    return doc_types.empty() && tags.empty() && !created_min && !created_max && !updated_min && !updated_max;
  }
};

// Everything search needs in memory, derived from the store: the vector index, the keyword
// index and the chunk -> container table used for permission filtering.
//
// The store is the source of truth. An IndexSet is (a snapshot) + (the change log replayed
// after it): applied_seq() says how far. The ingest worker and the query daemon each keep one
// and bring it forward with CatchUp(); the worker also writes snapshots so the daemon starts
// without rebuilding.
//
// Thread safety: searches and Save run concurrently; CatchUp/Apply take the writer lock in
// small steps so searches are never stalled for long.
class IndexSet {
 public:
  struct Options {
    std::string model_id;  // the embedder's identity; a snapshot of another model is refused
    VectorIndex::Options vector;
    KeywordIndex::Bm25 bm25;
    // Below this many permitted chunks a vector search scans them exactly instead of walking
    // the graph: exact, and faster when the filter rejects most of the graph.
    std::size_t exact_scan_threshold = 4096;
    std::size_t apply_step = 64;  // changes applied per writer-lock hold
    // CatchUp rebuilds the vector graph without its tombstones when they are more than this
    // fraction of its slots and at least rebuild_min_tombstones (adds reuse tombstones, so
    // they pile up only when deletes outrun adds, e.g. after a container.delete).
    double rebuild_tombstone_ratio = 0.3;
    std::size_t rebuild_min_tombstones = 1024;
  };

  static Result<std::unique_ptr<IndexSet>> Create(const Options& options);
  // The change sequence the newest snapshot under `root` covers (from its name, without
  // reading it), or nullopt if there is none.
  static std::optional<std::uint64_t> LatestSnapshotSeq(const std::filesystem::path& root);
  // Every snapshot directory under `root` with the change sequence it covers, newest first.
  // A writer may prune any of them at any time.
  static std::vector<std::pair<std::uint64_t, std::filesystem::path>> ListSnapshotDirs(
      const std::filesystem::path& root);
  // Removes what an interrupted SaveSnapshot left under `root` (its ".tmp-*" directories) and
  // returns how many. Only the snapshots' writer may call it, before it writes any.
  static Result<std::size_t> RemoveUnfinishedSnapshots(const std::filesystem::path& root);
  // Loads the newest complete snapshot under `root`; NotFound if there is none.
  static Result<std::unique_ptr<IndexSet>> LoadLatestSnapshot(const std::filesystem::path& root,
                                                             const Options& options);
  // Writes a snapshot of the current state to <root>/snap-<seq> (atomically: a temporary
  // directory renamed into place) and removes all but the newest `keep` snapshots.
  Status SaveSnapshot(const std::filesystem::path& root, int keep) const;

  // Replays change records after applied_seq() from `store`, at most `max_changes` of them.
  // Returns how many were applied. Corruption when the next record is there but cannot be
  // used (does not decode, a sequence number is skipped, its chunk or vector does not decode):
  // applied_seq() then stays before it, and every call reports it again. When the changes
  // after applied_seq() were trimmed (storage::kMetaFirstChangeSeq): an empty set is built
  // from the store's chunks and vectors instead (the result is then the sequence it reached);
  // a set that holds anything gets NotFound, and only a newer snapshot can bring it forward.
  Result<std::size_t> CatchUp(const storage::Store& store, std::size_t max_changes);

  std::uint64_t applied_seq() const;
  // Kafka offsets ("topic/partition" -> next offset) covered by applied_seq().
  std::map<std::string, std::int64_t> applied_offsets() const;

  // --- search (thread-safe) -------------------------------------------------------------
  // Ordinals of the named containers that exist; unknown names are skipped (a request may
  // name a container that has no data yet).
  ContainerSet ResolveContainers(const std::vector<std::string>& container_ids) const;
  // `filter` (may be null) narrows the scope further, inside the retrieval: the vector
  // search returns the top-k among chunks that pass it, scanning them exactly when few do.
  Result<std::vector<VectorHit>> SearchVector(std::span<const float> query, std::size_t k,
                                              const ContainerSet& scope,
                                              const MetadataFilter* filter = nullptr) const;
  std::vector<KeywordHit> SearchKeyword(Field field, const std::vector<std::string>& terms,
                                        std::size_t k, const ContainerSet& scope,
                                        const MetadataFilter* filter = nullptr,
                                        const std::vector<float>* term_weights = nullptr) const;
  std::size_t CountChunks(const ContainerSet& scope) const;
  // Live chunks of each named container that has any (callers pass only permitted names).
  std::map<std::string, std::size_t> ChunksPerContainer(const std::vector<std::string>& container_ids) const;
  // Every container id the index has seen (for keys that may read all containers).
  std::vector<std::string> ContainerIds() const;
  std::size_t size() const;
  std::size_t vector_tombstones() const;
  // Every live label with its container id, sorted by label (for consistency checks).
  std::vector<std::pair<std::uint64_t, std::string>> Labels() const;
  // Live chunks in the vector and keyword indexes (equal to size() unless something is wrong).
  std::size_t vector_size() const;
  std::size_t keyword_size() const;
  const analysis::Analyzer& analyzer() const { return analyzer_; }

 private:
  struct ChunkEntry {
    std::uint32_t container;
    std::uint32_t position;  // index into container_labels_[container]
    // Filter attributes: interned doc_type (0: none) and tags, dates (storage::kNoDate: none).
    std::uint32_t doc_type = 0;
    std::vector<std::uint32_t> tags{};
    std::int64_t created_at = storage::kNoDate;
    std::int64_t updated_at = storage::kNoDate;
  };
  class ScopeFilter;
  struct CompiledFilter;
  // Filter values interned to dense ids.
  struct NameTable {
    std::vector<std::string> names;                         // id -> name
    std::unordered_map<std::string, std::uint32_t> ids;     // name -> id
    std::uint32_t Intern(std::string_view name);
  };
  // REQUIRES: mu_ held (shared).
  CompiledFilter Compile(const MetadataFilter& filter) const;

  // Vectors of one apply step's upserts, inserted together (VectorIndex::AddBatch, several
  // threads) before the step's next delete and at its end.
  struct VectorBatch {
    std::vector<std::uint64_t> labels;
    std::vector<float> vectors;
  };

  explicit IndexSet(const Options& options);
  // REQUIRES: mu_ held exclusively (until `batch` is flushed: the tables already list the
  // chunk, so no search may run before its vector is in the graph).
  Status ApplyUpsert(std::uint64_t label, const storage::ChunkRecord& chunk,
                     std::span<const float> vector, VectorBatch* batch);
  Status FlushVectors(VectorBatch* batch);
  // Every chunk of the store at once, applied_seq() = its newest change (CatchUp on an empty
  // set whose log was trimmed). REQUIRES: apply_mu_ held, the set empty.
  Result<std::size_t> BuildFromStore(const storage::Store& store);
  Status ApplyDelete(std::uint64_t label);
  std::uint32_t InternContainer(const std::string& container_id);
  std::string EncodeTables() const;
  Status DecodeTables(std::string_view in);

  const Options options_;
  const analysis::Analyzer analyzer_;
  std::unique_ptr<VectorIndex> vectors_;  // has its own lock; replaced only at construction

  // Held for a whole CatchUp and a whole SaveSnapshot, so a snapshot never sees half a change.
  mutable std::mutex apply_mu_;
  mutable std::shared_mutex mu_;
  std::uint64_t applied_seq_ = 0;                          // GUARDED_BY(mu_)
  std::map<std::string, std::int64_t> applied_offsets_;    // GUARDED_BY(mu_)
  KeywordIndex keywords_;                                  // GUARDED_BY(mu_)
  std::unordered_map<std::uint64_t, ChunkEntry> chunks_;   // GUARDED_BY(mu_)
  std::vector<std::string> container_names_;               // GUARDED_BY(mu_) ordinal -> id
  std::unordered_map<std::string, std::uint32_t> container_ordinals_;  // GUARDED_BY(mu_)
  std::vector<std::vector<std::uint64_t>> container_labels_;          // GUARDED_BY(mu_)
  // Interned filter values; id 0 of doc types is "none" (never looked up by name).
  NameTable doc_types_{{""}, {}};                                       // GUARDED_BY(mu_)
  NameTable tags_;                                                      // GUARDED_BY(mu_)
};

}  // namespace tide::index
