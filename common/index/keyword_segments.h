#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/index/keyword_index.h"
#include "common/index/snapshot_files.h"
#include "common/status.h"

namespace tide::index {

// The keyword index as segments (decision 0011): one *growing* KeywordIndex takes every new
// chunk; when it has held Options::segment_max_chunks (at most KeywordIndex::kMaxSlots, live
// and removed) it is *sealed* as it is and a new one
// starts. A search reads every segment as one index (KeywordIndex::SearchSegments): the
// statistics of its scope summed over the segments (decision 0003, per segment), and one
// pass over all of them with one pruning threshold, so the answer is one index's. A sealed segment left with nothing live is dropped.
//
// A snapshot holds the growing segment in its tables and each sealed one as `kw-<id>.bin`,
// written once, by the first snapshot after the seal, and hard-linked by every later one. A
// file keeps the chunks its segment had when written: a load removes those the snapshot's
// chunk table no longer lists (RemoveUnlisted), so deletes are never written into it.
//
// Where deletes go depends on Options::keep_sealed:
//  - true (a process that searches): a delete is applied to its sealed segment in memory; a
//    snapshot encodes a sealed segment not yet on disk while the writer is held (PrepareSave);
//  - false (the worker, which never searches): a sealed segment never changes after its seal
//    (deletes are counted beside it), so a snapshot writes it while the writer goes on, and once
//    a snapshot holds it, it leaves memory (its labels stay, 8 bytes each). Search then sees
//    only segments still in memory, with their deleted chunks: not for serving.
//
// Thread safety: none of its own. IndexSet serialises writers (Add, Remove, the save's
// Prepare and Finish, loads) against readers (Search and the statistics);
// PendingSave::Write may run beside both.
class KeywordSegments {
 public:
  struct Options {
    std::size_t segment_max_chunks = std::size_t{1} << 18;  // 0: sealed only at KeywordIndex::kMaxSlots slots
    bool keep_sealed = true;
  };
  explicit KeywordSegments(const Options& options);
  ~KeywordSegments();
  KeywordSegments(const KeywordSegments&) = delete;
  KeywordSegments& operator=(const KeywordSegments&) = delete;

  // As KeywordIndex's, into the growing segment (sealed first if it is full).
  void Add(std::uint64_t label, std::uint32_t container, const KeywordIndex::FieldTerms& terms);
  // Returns false if no segment has `label` live.
  bool Remove(std::uint64_t label);

  // As KeywordIndex::Search, over every segment (KeywordIndex::SearchSegments).
  std::vector<KeywordHit> Search(Field field, const std::vector<std::string>& query_terms, std::size_t k,
                                 const ContainerSet& scope, const KeywordIndex::Bm25& params,
                                 const LabelFilter* filter = nullptr,
                                 const std::vector<float>* term_weights = nullptr,
                                 const KeywordStatistics* global = nullptr) const;
  // As KeywordIndex::AddStatistics, over every segment.
  void AddStatistics(Field field, const std::vector<std::string>& query_terms, const ContainerSet& scope,
                     KeywordStatistics* into) const;
  std::size_t DocFrequency(Field field, std::string_view term, const ContainerSet& scope) const;
  bool InScope(Field field, std::string_view term, const ContainerSet& scope) const;

  std::size_t size() const;  // live chunks
  std::size_t sealed_segments() const { return sealed_.size(); }
  std::size_t sealed_segments_in_memory() const;

  // The snapshot's part, in the three steps of SegmentedVectorIndex's:
  //  - PrepareSave (the writer held) encodes the growing segment into the tables (`tables`)
  //    and, with keep_sealed, each sealed segment no snapshot holds yet;
  //  - PendingSave::Write (any thread) writes or links each sealed segment's file into `dir`
  //    and returns what the manifest records of them ("keyword_segments");
  //  - FinishSave (the writer held) records where the files now are (`published_dir`, empty
  //    if the snapshot was abandoned), and without keep_sealed unloads them.
  struct PendingSave {
    struct Sealed {
      std::uint64_t id = 0;
      std::filesystem::path file;                  // published file to link, or empty
      std::shared_ptr<const KeywordIndex> index;   // to encode here (an immutable segment)
      std::string encoded;                         // or encoded while the writer was held
    };
    std::filesystem::path dir;
    std::vector<Sealed> sealed;
    std::uint64_t next_id = 0;
    Result<nlohmann::json> Write() const;
  };
  PendingSave PrepareSave(const std::filesystem::path& dir, std::string* tables) const;
  void FinishSave(const PendingSave& save, const std::filesystem::path& published_dir);

  // Loads a snapshot's segments: the growing one from the tables (`growing`, what PrepareSave
  // appended there) and the sealed ones `manifest` lists from their files under `dir` (null:
  // a snapshot from before keyword segments, whose tables hold the whole index). Corruption
  // if a file is missing, damaged or not what the manifest says.
  Status Load(const std::filesystem::path& dir, const nlohmann::json& manifest, std::string_view growing);
  // The same from a snapshot being loaded: a sealed segment read whole is read once, its
  // checksum compared as it is read (SnapshotFiles). The sealed segments decode on threads of
  // their own while `growing` runs on the caller's: it returns the growing segment's bytes
  // (reading and decoding the tables that hold them), which are decoded there too. Load returns
  // `growing`'s error, if any, once the threads are done. A malformed manifest is Corruption
  // before any thread starts, and `growing` is not called.
  Status Load(SnapshotFiles* files, const nlohmann::json& manifest,
              const std::function<Result<std::string_view>()>& growing);
  // Removes each sealed segment's chunks for which `listed` is false (deletes after its file
  // was written). Returns how many.
  std::size_t RemoveUnlisted(const std::function<bool(std::uint64_t)>& listed);

  // The searchable segments, oldest first, the growing one last (with keep_sealed only).
  std::vector<const KeywordIndex*> InMemory() const;

 private:
  struct Segment {
    std::uint64_t id = 0;
    // Always there with keep_sealed; else null once unloaded, and shared with a snapshot
    // writing it.
    std::shared_ptr<KeywordIndex> index;
    std::filesystem::path file;  // a published file holding this segment, or empty
    // Without keep_sealed: the labels it was sealed with, ascending, and which are deleted.
    std::vector<std::uint64_t> labels;
    std::vector<bool> deleted;
    std::size_t live = 0;
  };
  void Seal();

  const Options options_;
  std::vector<Segment> sealed_;  // oldest first
  std::unique_ptr<KeywordIndex> growing_;
  std::uint64_t next_id_ = 1;
};

}  // namespace tide::index
