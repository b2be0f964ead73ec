#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/index/snapshot_files.h"
#include "common/index/vector_index.h"
#include "common/status.h"

namespace tide::index {

// The vector retriever over segments (decision 0011): one *growing* graph that takes every
// insert, and *sealed* graphs that take none. When the growing graph holds
// Options::segment_max_chunks slots it is sealed as it is (no rebuild) and a new one starts,
// so each vector is inserted once, into a graph no larger than a segment. A sealed graph
// changes only by tombstones (deletes), and is rebuilt without them, alone, once they pass a
// share of it (DropTombstones).
//
// A snapshot directory holds the growing graph as `vectors.hnsw` and each sealed one as
// `seg-<id>.hnsw`: a sealed graph's file is written once, by the first snapshot after it was
// sealed, and every later snapshot hard-links it (an immutable file in several directories,
// removed with the last of them). Each snapshot lists the sealed graphs' tombstones as they
// were at its sequence, since a linked file keeps those it had when first written.
//
// Thread safety: searches run concurrently with each other and with one writer (Add, Remove,
// DropTombstones, PrepareSave, FinishSave, Save: the caller serialises those), and
// PendingSave::Write with both.
class SegmentedVectorIndex {
 public:
  static Result<std::unique_ptr<SegmentedVectorIndex>> Create(const VectorIndex::Options& options);
  // A process that never searches (the worker) keeps only the growing graph in memory: once a
  // snapshot holds a sealed graph's file (FinishSave), the graph leaves memory and only its
  // labels and tombstones stay (8 bytes per slot and per tombstone). Deletes, Save and
  // DropTombstones go on (the last loads the file again to rebuild it); a search is an
  // Internal error (a bug: the worker does not search).
  void set_unload_published(bool unload) { unload_published_ = unload; }
  ~SegmentedVectorIndex();
  SegmentedVectorIndex(const SegmentedVectorIndex&) = delete;
  SegmentedVectorIndex& operator=(const SegmentedVectorIndex&) = delete;

  // Inserts each labels[i] (vectors as VectorIndex::AddBatch) into the growing graph, sealing
  // it first whenever the batch would overfill it. Labels live anywhere are left as they are.
  Status AddBatch(std::span<const std::uint64_t> labels, std::span<const float> vectors);
  // Tombstones `label` in whichever graph holds it live; NotFound if none does.
  Status Remove(std::uint64_t label);

  // The top k over every graph (each searched as VectorIndex::Search, then merged), best first.
  // With sealed graphs, each is walked with `ef` (0: the Options default) times the square
  // root of its share of the live vectors, raised to k.
  Result<std::vector<VectorHit>> Search(std::span<const float> query, std::size_t k,
                                        const LabelFilter* filter, std::size_t ef = 0) const;
  // Exact top-k among `labels`, best first; each label is looked up until a graph holds it.
  Result<std::vector<VectorHit>> ExactSearch(std::span<const float> query, std::size_t k,
                                             std::span<const std::uint64_t> labels) const;

  // --- replication (decision 0011) ------------------------------------------------------
  // A follower keeps the writer's growing graph without inserting: the writer records every
  // change to its growing graph and every seal; the follower applies the record to its own
  // copy, which was equal before. Deletes of labels in sealed graphs are not recorded: each
  // process applies them from the change log (RemoveFromSealed), after the record of the same
  // changes.
  //
  // Writer: records from now on. REQUIRES: the single writer.
  void StartTracking();
  bool tracking() const { return tracking_; }
  // Writer: everything recorded since StartTracking() or the previous TakeChanges().
  std::string TakeChanges();
  // Follower: applies a record of the writer's. REQUIRES: this index equal to the writer's
  // before it (sealed graphs aside); the follower never inserts itself. Corruption if the record
  // is malformed or does not follow this growing graph; the index may then be partly changed
  // and must be replaced (from a snapshot).
  Status ApplyChanges(std::string_view record);
  // Follower: from now on the growing graph changes only by ApplyChanges (DropTombstones
  // leaves it as it is, like a tracked one).
  void StartFollowing() { following_ = true; }
  // Tombstones `label` if a sealed graph holds it live; NotFound otherwise.
  Status RemoveFromSealed(std::uint64_t label);
  // VectorIndex::ContentHash over every graph, sealed ones first (deletes held aside for a
  // pending save are not in it until FinishSave).
  std::uint64_t ContentHash() const;

  // Rebuilds, one at a time, every graph whose tombstones are more than `ratio` of its slots
  // and at least `min_tombstones`, and drops sealed graphs with nothing live. Returns how many
  // graphs it rebuilt or dropped. A tracked growing graph is not rebuilt (a rebuilt graph is
  // not a change a follower could copy), nor a followed one: its tombstones are reused by the
  // next inserts. `check_file`, if set, is asked about a sealed graph's file before it is read
  // back to be rebuilt (its checksum); its error stops the rebuild and is returned.
  Result<std::size_t> DropTombstones(double ratio, std::size_t min_tombstones,
                                     const std::function<Status(const std::filesystem::path&)>& check_file = {});

  // The snapshot's part, in two steps so that the writer is held only while the growing
  // graph is copied out (IndexSet::PrepareSnapshot):
  //  - PrepareSave (the single writer) copies the growing graph's bytes out (VectorIndex::ImageTo:
  //    a copy in memory, no file) and notes each sealed graph with its tombstones as they are now;
  //  - PendingSave::Write (any thread, while the writer goes on) writes the growing graph's
  //    bytes to <dir>/vectors.hnsw and frees them, each sealed graph to <dir>/seg-<id>.hnsw and
  //    its labels to seg-<id>.labels (both linked from the last snapshot that has them), the
  //    tombstones to <dir>/tombstones.bin, and returns what the snapshot's manifest records of
  //    them ("segments");
  //  - FinishSave (the single writer again) tells where the files now are, once `dir` is
  //    renamed into place, or that it was not.
  // Until FinishSave, a sealed graph being written is not rebuilt (DropTombstones skips it), one
  // dropped stays alive for the write, and deletes of its labels are held aside (the graph's
  // walk may still meet them, which IndexSet's chunk table filters out) and applied by
  // FinishSave, so the writer never waits for the write.
  struct PendingSave {
    struct Sealed {
      std::uint64_t id = 0;
      std::shared_ptr<const VectorIndex> graph;  // null if unloaded: then `labels`
      std::filesystem::path file;                // published file to link, or empty
      std::vector<std::uint64_t> labels, tombstones;
      std::size_t slots = 0, live = 0;
    };
    std::filesystem::path dir;
    std::string growing;  // the growing graph's file, until Write
    std::vector<Sealed> sealed;
    nlohmann::json manifest;  // "segments" without "sealed"
    Result<nlohmann::json> Write();
  };
  // `graph_buffer`: memory for the growing graph's bytes (VectorIndex::ImageTo), ideally
  // touched beforehand with room for GrowingImageBytes().
  Result<PendingSave> PrepareSave(const std::filesystem::path& dir, std::string graph_buffer = {});
  // The bytes PrepareSave would copy out of the growing graph now. REQUIRES: the single writer.
  std::size_t GrowingImageBytes() const { return growing_.graph->ImageBytes(); }
  // `published_dir`: where `dir` was renamed to, or empty if the save was abandoned. An error
  // if a delete held aside does not apply (the index no longer matches its change log).
  Status FinishSave(const PendingSave& save, const std::filesystem::path& published_dir);
  // The three steps at once, `dir` not published (FinishSave with an empty path).
  Result<nlohmann::json> Save(const std::filesystem::path& dir);
  // Loads what Save wrote under `dir`; `segments` is what it returned (null for snapshots
  // written before segments: then vectors.hnsw is the whole index, loaded as the growing graph
  // and sealed by the next insert if it is full). Without `load_sealed_graphs` the sealed
  // graphs stay on disk and only their labels (seg-<id>.labels) and tombstones are read, as
  // set_unload_published leaves them: for a process that does not search.
  static Result<std::unique_ptr<SegmentedVectorIndex>> Load(const std::filesystem::path& dir,
                                                            const nlohmann::json& segments,
                                                            const VectorIndex::Options& options,
                                                            bool load_sealed_graphs = true);
  // The same from a snapshot being loaded: each file read once, its checksum compared as it
  // is read (SnapshotFiles).
  static Result<std::unique_ptr<SegmentedVectorIndex>> Load(SnapshotFiles* files, const nlohmann::json& segments,
                                                            const VectorIndex::Options& options,
                                                            bool load_sealed_graphs = true);

  std::size_t size() const;     // live vectors
  std::size_t deleted() const;  // tombstones
  std::size_t sealed_segments() const;
  std::size_t sealed_segments_in_memory() const;
  int dim() const { return options_.dim; }

 private:
  struct Segment {
    std::uint64_t id = 0;  // sealed: names its file; 0 for the growing graph
    // Null once unloaded; shared with a snapshot writing it (PendingSave).
    std::shared_ptr<VectorIndex> graph;
    std::filesystem::path file;  // a published file holding exactly this graph, or empty
    // Unloaded: every label of the graph (live or not) and the tombstones, both sorted.
    std::vector<std::uint64_t> labels, tombstones;
    // A PendingSave is writing the graph: it is not rebuilt, and deletes wait in `deferred`
    // (sorted) rather than for the write to release the graph (FinishSave applies them).
    bool saving = false;
    std::vector<std::uint64_t> deferred;
    // Sealed: the smallest and largest label it holds (a sealed graph only loses labels, so
    // they stay bounds). Labels are allocated in increasing order and a graph takes those of
    // the chunks indexed while it grew, so the ranges of sealed graphs barely overlap and an
    // exact scan looks a label up only in the graphs whose range holds it.
    std::uint64_t min_label = 0, max_label = UINT64_MAX;

    bool Contains(std::uint64_t label) const;
    bool MayHold(std::uint64_t label) const { return label >= min_label && label <= max_label; }
    // Sets min_label and max_label from the graph's labels or the unloaded label list.
    void NoteLabelRange();
    std::size_t slots() const { return graph ? graph->slots() : labels.size(); }
    std::size_t live() const { return graph ? graph->size() - deferred.size() : labels.size() - tombstones.size(); }
    std::size_t deleted() const { return graph ? graph->deleted() + deferred.size() : tombstones.size(); }
    std::vector<std::uint64_t> DeletedLabels() const;
  };

  explicit SegmentedVectorIndex(const VectorIndex::Options& options) : options_(options) {}
  // Seals the growing graph and starts a new one. REQUIRES: the single writer.
  Status Seal();
  // Tombstones `label` in `segment`; NotFound if it is not live there.
  Status RemoveFrom(Segment& segment, std::uint64_t label);
  // Records that the sealed graphs `ids` are in `dir` (unloading them if set to).
  void Publish(const std::filesystem::path& dir, const std::vector<std::uint64_t>& ids);
  // Internal if a sealed graph is not in memory. REQUIRES: mu_ held.
  Status CheckSearchable() const;

  const VectorIndex::Options options_;
  // Shared by searches; exclusive only while the list changes (a seal, a rebuilt or dropped
  // sealed graph). The graphs have their own locks.
  mutable std::shared_mutex mu_;
  std::vector<Segment> sealed_;  // oldest first
  Segment growing_;
  std::uint64_t next_id_ = 1;
  bool tracking_ = false;
  bool following_ = false;
  bool unload_published_ = false;
  std::vector<std::string> recorded_;  // writer: pieces of the next TakeChanges() record
};

}  // namespace tide::index
