#pragma once

#include <atomic>
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
#include <utility>
#include <vector>

#include "common/analysis/analyzer.h"
#include "common/index/chunk_table.h"
#include "common/index/container_set.h"
#include "common/index/keyword_index.h"
#include "common/index/keyword_segments.h"
#include "common/index/snapshot_files.h"
#include "common/index/vector_index.h"
#include "common/index/vector_segments.h"
#include "common/status.h"
#include "common/storage/schema.h"

namespace tide::index {

// Everything search needs in memory, derived from the store: three parts, each doing one
// thing: the vector index (segments of HNSW graphs, vector_segments.h), the keyword index
// (segments of BM25 postings, keyword_segments.h) and the chunk table that scope and filter
// checks read (chunk_table.h). Both indexes seal a segment every
// Options::vector.segment_max_chunks chunks, each on its own.
//
// The store is the source of truth. An IndexSet is (a snapshot) + (the change log replayed
// after it): applied_seq() says how far. The ingest worker and the query daemon each keep one
// and bring it forward with the replayer (replayer.h), the only index code that reads the
// store; the worker also writes snapshots so the daemon starts without rebuilding.
//
// Thread safety: searches run concurrently with everything; changes are applied under an
// ApplyLock (one applier at a time, and never while a snapshot copies the state out), taking
// the writer lock in small steps so searches are never stalled for long.
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
    // A vector graph (a segment) is rebuilt without its tombstones (MaybeDropTombstones, after
    // each catch-up) when they are more than this fraction of its slots and at least
    // rebuild_min_tombstones (adds reuse the growing graph's tombstones, so they pile up only
    // when deletes outrun adds, e.g. after a container.delete, or in sealed graphs).
    double rebuild_tombstone_ratio = 0.3;
    // false for a process that never searches (the worker): a sealed vector graph or keyword
    // segment leaves memory once a snapshot holds its file (SegmentedVectorIndex::
    // set_unload_published, KeywordSegments::Options::keep_sealed).
    bool keep_sealed_segments = true;
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
  // Removes all but the newest `keep` (at least 1) snapshots under `root` and returns how
  // many. Only the snapshots' writer may call it, once the newest is finished (FinishSnapshot):
  // the sealed files a later snapshot links are found in the newest one. Needs no lock and may
  // run beside changes being applied and the next snapshot being written.
  static std::size_t RemoveOldSnapshots(const std::filesystem::path& root, int keep);
  // Loads the newest complete snapshot under `root`; NotFound if there is none. A snapshot
  // whose files are damaged (Corruption: a graph, segment, tombstones or tables file that does
  // not decode or does not match its manifest) is logged as an error and skipped for an older
  // one; `corrupt` (may be null) is incremented for each.
  static Result<std::unique_ptr<IndexSet>> LoadLatestSnapshot(const std::filesystem::path& root,
                                                             const Options& options,
                                                             std::size_t* corrupt = nullptr);
  // Writes a snapshot of the current state to <root>/snap-<seq> (atomically: a temporary
  // directory renamed into place) and removes all but the newest `keep` snapshots: the three
  // steps below at once, then RemoveOldSnapshots, holding the ApplyLock throughout.
  Status SaveSnapshot(const std::filesystem::path& root, int keep);

  // --- applying changes (the replayer, replayer.h) ---------------------------------------
  // One chunk operation of a change, read from the store.
  struct ChunkOp {
    storage::ChangeRecord::Op op = storage::ChangeRecord::Op::kUpsert;
    std::uint64_t label = 0;
    std::optional<storage::ChunkRecord> chunk;  // upserts whose chunk is still stored
    std::vector<float> vector;  // empty when the vectors come from a graph record
  };
  // Held while changes are applied: one applier at a time, and no snapshot sees half a change.
  class ApplyLock {
   private:
    friend class IndexSet;
    explicit ApplyLock(std::mutex& mu) : lock_(mu) {}
    std::unique_lock<std::mutex> lock_;
  };
  ApplyLock LockForApply() { return ApplyLock(apply_mu_); }

  // A snapshot in three steps, so that changes are held up only while the state is copied out
  // (the worker's indexer, ingest/indexer.h):
  //  1. PrepareSnapshot, under the ApplyLock: encodes the tables (with the growing keyword
  //     segment) and copies the growing vector graph's bytes out, both in memory; nullptr if a
  //     complete snapshot of this state is there already;
  //  2. PendingSnapshot::Write, on any thread, while changes go on being applied: writes those
  //     into a temporary directory with the sealed graphs and keyword segments no snapshot
  //     holds yet (the others are linked), syncs everything and renames the directory into
  //     place;
  //  3. FinishSnapshot, under the ApplyLock: the sealed segments the snapshot holds may leave
  //     memory (Options::keep_sealed_segments); a snapshot that failed to write is removed.
  //     The older snapshots are removed after, by RemoveOldSnapshots (on any thread).
  // One snapshot at a time. Until it is finished no sealed graph it writes is rebuilt, and
  // deletes in those graphs are held aside (SegmentedVectorIndex::PrepareSave).
  class PendingSnapshot {
   public:
    Status Write();
    std::uint64_t seq() const { return seq_; }

   private:
    friend class IndexSet;
    std::filesystem::path root_, final_dir_, tmp_dir_;
    std::uint64_t seq_ = 0;
    std::size_t chunks_ = 0;
    bool replacing_ = false, written_ = false;
    std::string tables_;
    nlohmann::json manifest_;  // without "segments"
    FileChecksums known_;      // of the files the last snapshot had (linked ones are not read again)
    FileChecksums files_;      // of this one's files, once written
    SegmentedVectorIndex::PendingSave vectors_;
    KeywordSegments::PendingSave keywords_;
  };
  // Memory for a snapshot's copy-out, allocated and touched before it on any thread, so that
  // the copy under the ApplyLock does not wait for the kernel to find pages (on a busy
  // machine that was most of the copy-out's time: seconds at 100k chunks).
  struct SnapshotSizes {
    std::size_t tables = 0, graph = 0;  // bytes
  };
  struct SnapshotBuffers {
    std::string tables, graph;  // empty, with room
    // Buffers with room for `sizes` (SnapshotBytes), every page written once.
    static SnapshotBuffers Touched(const SnapshotSizes& sizes);
  };
  // The tables and growing-graph bytes a snapshot taken now would copy out (the tables as
  // large as the last snapshot's), with room for what is applied before it is.
  SnapshotSizes SnapshotBytes(const ApplyLock&) const;
  // `buffers`: from SnapshotBuffers::Touched, or none (then the copy-out allocates).
  Result<std::unique_ptr<PendingSnapshot>> PrepareSnapshot(const ApplyLock&, const std::filesystem::path& root,
                                                           SnapshotBuffers buffers = {});
  // An error only if the deletes held aside for the write do not apply (then the vector index
  // no longer follows the change log: replace the set).
  Status FinishSnapshot(const ApplyLock&, const PendingSnapshot& snapshot);

  // Where an applied change's vectors come from: inserted into the growing graph here, or
  // already copied from the worker's graph record of it (ApplyGraphRecord): then only deletes
  // of labels in sealed graphs touch the vector index.
  enum class Vectors { kInsert, kFromGraphRecord };
  // Applies change `seq` (REQUIRES: applied_seq() + 1) and records that the source partitions
  // reached `offsets`.
  Status ApplyChange(const ApplyLock&, std::uint64_t seq, const std::map<std::string, std::int64_t>& offsets,
                     const std::vector<ChunkOp>& ops, Vectors vectors = Vectors::kInsert);
  // Adds chunks outside any change (a build from the store's chunks); applied_seq() does not
  // move until MarkApplied.
  Status AddChunks(const ApplyLock&, const std::vector<ChunkOp>& upserts);
  void MarkApplied(const ApplyLock&, std::uint64_t seq, std::map<std::string, std::int64_t> offsets);
  // Rebuilds each vector graph without its tombstones once they pass Options' thresholds, and
  // drops every sealed graph with nothing live.
  Status MaybeDropTombstones(const ApplyLock&);

  // --- the worker's graph records (decision 0011; storage::GraphRecord) ------------------
  // The generation of graph records this set follows or writes; 0 for none (a set built
  // here, or a snapshot of a worker that did not record its graph). Saved in snapshots.
  std::uint64_t graph_generation() const { return graph_generation_.load(std::memory_order_acquire); }
  // Writer: from now on (at applied_seq()) the growing graph's changes are recorded, as
  // `generation`.
  void StartGraphRecords(const ApplyLock&, std::uint64_t generation);
  // Writer: the record of the changes applied since StartGraphRecords or the previous record,
  // with the change it runs through (applied_seq(), its key in the store); nullopt when no
  // change was applied since, or records were not started.
  std::optional<std::pair<std::uint64_t, storage::GraphRecord>> TakeGraphRecord(const ApplyLock&);
  // Follower: applies the writer's record; the change records it covers follow with
  // Vectors::kFromGraphRecord. InvalidArgument if the record is not the next one for this set
  // (another generation, or it does not start at applied_seq()); Corruption if its bytes do
  // not apply (the vector index may then be partly changed: replace the set).
  Status ApplyGraphRecord(const ApplyLock&, const storage::GraphRecord& record);
  // VectorIndex::ContentHash over every graph (a follower equals its writer: tests, fsck).
  std::uint64_t VectorContentHash() const { return vectors_->ContentHash(); }

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
  // `global` (may be null): the scope's statistics over every shard the search reads
  // (KeywordIndex::SearchSegments), summed from each shard's AddKeywordStatistics.
  std::vector<KeywordHit> SearchKeyword(Field field, const std::vector<std::string>& terms,
                                        std::size_t k, const ContainerSet& scope,
                                        const MetadataFilter* filter = nullptr,
                                        const std::vector<float>* term_weights = nullptr,
                                        const KeywordStatistics* global = nullptr) const;
  // Adds this index's BM25 statistics of `field` in `scope` for `terms` to `into`.
  void AddKeywordStatistics(Field field, const std::vector<std::string>& terms, const ContainerSet& scope,
                            KeywordStatistics* into) const;
  // For each term, the live chunks in `scope` that have it in their title or body (a chunk
  // with it in both counts twice; callers compare, not count). One lock for the batch.
  std::vector<std::size_t> KeywordDocFrequencies(const std::vector<std::string>& terms,
                                                 const ContainerSet& scope) const;
  // For each term, whether a live chunk in `scope` has it in its title or body (cheaper).
  std::vector<bool> KeywordTermsInScope(const std::vector<std::string>& terms, const ContainerSet& scope) const;
  std::size_t CountChunks(const ContainerSet& scope) const;
  // Live chunks of each named container that has any (callers pass only permitted names).
  std::map<std::string, std::size_t> ChunksPerContainer(const std::vector<std::string>& container_ids) const;
  // Every container id the index has seen (for keys that may read all containers).
  std::vector<std::string> ContainerIds() const;
  std::size_t size() const;
  std::size_t vector_tombstones() const;
  std::size_t sealed_vector_segments() const;
  std::size_t sealed_keyword_segments() const;
  // Every live label with its container id, sorted by label (for consistency checks).
  std::vector<std::pair<std::uint64_t, std::string>> Labels() const;
  // Live chunks in the vector and keyword indexes (equal to size() unless something is wrong).
  std::size_t vector_size() const;
  std::size_t keyword_size() const;
  const analysis::Analyzer& analyzer() const { return analyzer_; }

 private:
  // Vectors of one apply step's upserts, inserted together (VectorIndex::AddBatch, several
  // threads) before the step's next delete and at its end.
  struct VectorBatch {
    std::vector<std::uint64_t> labels;
    std::vector<float> vectors;
  };

  explicit IndexSet(const Options& options);
  // REQUIRES: mu_ held exclusively (until `batch` is flushed: the tables already list the
  // chunk, so no search may run before its vector is in the graph). A null `batch`: the vector
  // is in the graph already (Vectors::kFromGraphRecord) and `vector` is not read.
  Status ApplyUpsert(std::uint64_t label, const storage::ChunkRecord& chunk,
                     std::span<const float> vector, VectorBatch* batch);
  Status FlushVectors(VectorBatch* batch);
  Status ApplyDelete(std::uint64_t label, Vectors vectors);
  // The tables file: the change sequence and offsets, the chunk table, then the growing
  // keyword segment (KeywordSegments::PrepareSave, which notes the sealed ones in `keywords`).
  // Appends to *out.
  void EncodeTables(const std::filesystem::path& dir, KeywordSegments::PendingSave* keywords, std::string* out) const;
  // Decodes all but the keyword segment, which it leaves in `keywords`; `format` is the file's.
  Status DecodeTables(std::string_view in, std::uint64_t* format, std::string_view* keywords);

  const Options options_;
  const analysis::Analyzer analyzer_;
  std::unique_ptr<SegmentedVectorIndex> vectors_;  // has its own locks; set at construction

  // Held by an ApplyLock (and so by PrepareSnapshot), so a snapshot never sees half a change.
  mutable std::mutex apply_mu_;
  mutable std::shared_mutex mu_;
  std::uint64_t applied_seq_ = 0;                          // GUARDED_BY(mu_)
  std::map<std::string, std::int64_t> applied_offsets_;    // GUARDED_BY(mu_)
  std::atomic<std::uint64_t> graph_generation_{0};         // written under apply_mu_
  std::uint64_t graph_recorded_seq_ = 0;  // under apply_mu_: the writer's last record ran through here
  // Under apply_mu_: the checksums of the files of the snapshot last written or loaded (and
  // verified), so a later snapshot that links them need not read them again.
  FileChecksums file_checksums_;
  std::size_t last_tables_bytes_ = 0;  // under apply_mu_: the last snapshot's tables (SnapshotBytes)
  KeywordSegments keywords_;                               // GUARDED_BY(mu_)
  ChunkTable table_;                                       // GUARDED_BY(mu_)
};

}  // namespace tide::index
