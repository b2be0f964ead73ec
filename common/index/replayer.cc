#include "common/index/replayer.h"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/storage/store.h"

namespace tide::index {
namespace {

using ChunkOp = IndexSet::ChunkOp;

// Every chunk of the store at once; the set's applied_seq() becomes the store's newest change.
// The store does not move meanwhile: the worker builds before it consumes, and a follower's
// secondary changes only when it catches up, on the calling thread.
Result<std::size_t> BuildFromStore(IndexSet& set, const IndexSet::ApplyLock& lock, const storage::Store& store) {
  Result<std::uint64_t> next_seq = store.GetCounter(storage::kMetaNextChangeSeq);
  if (!next_seq) return next_seq.status();
  const auto start = std::chrono::steady_clock::now();
  std::size_t chunks = 0;
  Status failed;
  std::vector<ChunkOp> pending;
  TIDE_RETURN_IF_ERROR(store.Scan(storage::Cf::kChunks, "", "", [&](std::string_view key, std::string_view value) {
    Result<std::uint64_t> label = storage::DecodeU64(key);
    Result<storage::ChunkRecord> chunk = storage::DecodeChunk(value);
    if (!label || !chunk) {
      failed = Status::Corruption("chunk record " + (label ? std::to_string(*label) : std::string("?")) +
                                  " does not decode");
      return false;
    }
    Result<std::optional<std::string>> bytes = store.Get(storage::Cf::kVectors, key);
    if (!bytes) {
      failed = bytes.status();
      return false;
    }
    if (!bytes->has_value()) {
      failed = Status::Corruption("chunk " + std::to_string(*label) + " has no vector");
      return false;
    }
    Result<std::vector<float>> vector = storage::DecodeVector(**bytes);
    if (!vector) {
      failed = vector.status().WithContext("vector " + std::to_string(*label));
      return false;
    }
    pending.push_back({storage::ChangeRecord::Op::kUpsert, *label, std::move(*chunk), std::move(*vector)});
    ++chunks;
    if (pending.size() >= 4096) {
      failed = set.AddChunks(lock, pending);
      pending.clear();
    }
    return failed.ok();
  }));
  TIDE_RETURN_IF_ERROR(failed);
  TIDE_RETURN_IF_ERROR(set.AddChunks(lock, pending));
  std::map<std::string, std::int64_t> offsets;
  TIDE_RETURN_IF_ERROR(store.Scan(storage::Cf::kMeta, storage::kOffsetKeyPrefix, storage::kOffsetKeyPrefix,
                                  [&](std::string_view key, std::string_view value) {
                                    if (Result<std::uint64_t> offset = storage::DecodeU64(value)) {
                                      offsets[std::string(key.substr(storage::kOffsetKeyPrefix.size()))] =
                                          static_cast<std::int64_t>(*offset);
                                    }
                                    return true;
                                  }));
  const std::uint64_t seq = *next_seq > 0 ? *next_seq - 1 : 0;
  set.MarkApplied(lock, seq, std::move(offsets));
  spdlog::info("indexes built from the store's chunks (the change log is trimmed and no snapshot covers it) "
               "chunks={} seq={} seconds={:.2f}",
               chunks, seq, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return static_cast<std::size_t>(seq);
}

// Change record `next`, or nullopt at the end of the log; Corruption if it is unusable.
Result<std::optional<storage::ChangeRecord>> ReadChange(const storage::Store& store, std::uint64_t next) {
  std::optional<storage::ChangeRecord> change;
  Status bad;  // the next record is there but unusable: the store is not what was written
  TIDE_RETURN_IF_ERROR(store.Scan(storage::Cf::kChanges, storage::EncodeU64(next), "",
                                  [&](std::string_view key, std::string_view value) {
                                    Result<std::uint64_t> seq = storage::DecodeU64(key);
                                    if (!seq) {
                                      bad = Status::Corruption("a change log key after change " +
                                                               std::to_string(next - 1) + " is not a sequence number");
                                    } else if (*seq != next) {
                                      // Records are written in one batch with the counter, so
                                      // they never skip a number.
                                      bad = Status::Corruption("change record " + std::to_string(next) +
                                                               " is missing; the next one is " + std::to_string(*seq));
                                    } else if (Result<storage::ChangeRecord> rec = storage::DecodeChange(value); !rec) {
                                      bad = Status::Corruption("change record " + std::to_string(next) +
                                                               " does not decode: " + rec.status().message());
                                    } else {
                                      change = std::move(*rec);
                                    }
                                    return false;
                                  }));
  TIDE_RETURN_IF_ERROR(bad);
  return change;
}

// The chunk operations of `change`, with the chunks (and unless `vectors` is kFromGraphRecord,
// the vectors) they name read from the store.
Result<std::vector<ChunkOp>> ReadOps(const storage::Store& store, std::uint64_t seq,
                                     const storage::ChangeRecord& change, IndexSet::Vectors vectors) {
  const bool read_vectors = vectors == IndexSet::Vectors::kInsert;
  std::vector<ChunkOp> ops;
  ops.reserve(change.entries.size());
  for (const storage::ChangeRecord::Entry& e : change.entries) {
    ChunkOp op{e.op, e.label, std::nullopt, {}};
    if (e.op == storage::ChangeRecord::Op::kUpsert) {
      const std::string key = storage::EncodeU64(e.label);
      Result<std::optional<std::string>> chunk = store.Get(storage::Cf::kChunks, key);
      if (!chunk) return chunk.status();
      Result<std::optional<std::string>> vec = std::optional<std::string>();
      if (read_vectors) vec = store.Get(storage::Cf::kVectors, key);
      if (!vec) return vec.status();
      // A chunk deleted by a later change is gone from the store; that change deletes it.
      if (chunk->has_value() && (!read_vectors || vec->has_value())) {
        Result<storage::ChunkRecord> rec = storage::DecodeChunk(**chunk);
        if (!rec) return rec.status().WithContext("chunk " + std::to_string(e.label) + " of change " + std::to_string(seq));
        op.chunk = std::move(*rec);
        if (read_vectors) {
          Result<std::vector<float>> v = storage::DecodeVector(**vec);
          if (!v) return v.status().WithContext("vector " + std::to_string(e.label) + " of change " + std::to_string(seq));
          op.vector = std::move(*v);
        }
      }
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

// The first graph record after change `after`, with the change it runs through (its key), or
// nullopt if there is none; Corruption if it does not decode.
Result<std::optional<std::pair<std::uint64_t, storage::GraphRecord>>> NextGraphRecord(const storage::Store& store,
                                                                                      std::uint64_t after) {
  std::optional<std::pair<std::uint64_t, storage::GraphRecord>> next;
  Status bad;
  TIDE_RETURN_IF_ERROR(store.Scan(storage::Cf::kGraph, storage::EncodeU64(after + 1), "",
                                  [&](std::string_view key, std::string_view value) {
                                    Result<std::uint64_t> seq = storage::DecodeU64(key);
                                    Result<storage::GraphRecord> record = storage::DecodeGraphRecord(value);
                                    if (!seq || !record) {
                                      bad = Status::Corruption(
                                          "the graph record after change " + std::to_string(after) +
                                          " does not decode: " +
                                          (seq ? record.status().message() : seq.status().message()));
                                    } else {
                                      next.emplace(*seq, std::move(*record));
                                    }
                                    return false;
                                  }));
  TIDE_RETURN_IF_ERROR(bad);
  return next;
}

}  // namespace

Result<std::size_t> CatchUp(IndexSet& set, const storage::Store& store, std::size_t max_changes) {
  const IndexSet::ApplyLock lock = set.LockForApply();
  std::uint64_t next = set.applied_seq() + 1;
  Result<std::uint64_t> first = store.GetCounter(storage::kMetaFirstChangeSeq);
  if (!first) return first.status();
  if (next < *first && next == 1 && set.size() == 0) {
    // An empty set and a log without its beginning (the snapshots are gone): every chunk is
    // in the store, so build from it instead.
    return BuildFromStore(set, lock, store);
  }
  if (next < *first) {
    return Status::NotFound("changes " + std::to_string(next) + " to " + std::to_string(*first - 1) +
                            " were trimmed from the log, which starts at change " + std::to_string(*first) +
                            "; start from an index snapshot covering change " + std::to_string(*first - 1) +
                            " or later");
  }
  std::size_t applied = 0;
  while (applied < max_changes) {
    Result<std::optional<storage::ChangeRecord>> change = ReadChange(store, next);
    if (!change) return change.status();
    if (!change->has_value()) break;
    Result<std::vector<ChunkOp>> ops = ReadOps(store, next, **change, IndexSet::Vectors::kInsert);
    if (!ops) return ops.status();
    TIDE_RETURN_IF_ERROR(set.ApplyChange(lock, next, (*change)->offsets, *ops));
    ++next;
    ++applied;
  }
  TIDE_RETURN_IF_ERROR(set.MaybeDropTombstones(lock));
  return applied;
}

Result<std::size_t> FollowGraphRecords(IndexSet& set, const storage::Store& store, std::size_t max_records) {
  const IndexSet::ApplyLock lock = set.LockForApply();
  std::size_t applied = 0;
  while (applied < max_records) {
    const std::uint64_t at = set.applied_seq();
    Result<std::optional<std::pair<std::uint64_t, storage::GraphRecord>>> next = NextGraphRecord(store, at);
    if (!next) return next.status();
    if (!next->has_value()) break;
    const auto& [through, record] = **next;
    if (record.from_seq >= through) {
      return Status::Corruption("graph record through change " + std::to_string(through) + " starts at change " +
                                std::to_string(record.from_seq));
    }
    // Everything the record covers is read first, so that a failed read (a transient I/O
    // error) leaves the set untouched and the next call starts from the same record.
    struct Covered {
      std::uint64_t seq;
      std::map<std::string, std::int64_t> offsets;
      std::vector<ChunkOp> ops;
    };
    std::vector<Covered> covered;
    for (std::uint64_t seq = at + 1; seq <= through; ++seq) {
      Result<std::optional<storage::ChangeRecord>> change = ReadChange(store, seq);
      if (!change) return change.status();
      if (!change->has_value()) {
        return Status::Corruption("graph record through change " + std::to_string(through) +
                                  " names change " + std::to_string(seq) + ", which the log does not have");
      }
      Result<std::vector<ChunkOp>> ops = ReadOps(store, seq, **change, IndexSet::Vectors::kFromGraphRecord);
      if (!ops) return ops.status();
      covered.push_back({seq, std::move((*change)->offsets), std::move(*ops)});
    }
    TIDE_RETURN_IF_ERROR(set.ApplyGraphRecord(lock, record));
    for (const Covered& c : covered) {
      if (Status s = set.ApplyChange(lock, c.seq, c.offsets, c.ops, IndexSet::Vectors::kFromGraphRecord); !s.ok()) {
        // The graph has the record already: the set is torn and must be replaced.
        return Status::Corruption("applying change " + std::to_string(c.seq) + " after its graph record: " +
                                  s.ToString());
      }
    }
    ++applied;
  }
  TIDE_RETURN_IF_ERROR(set.MaybeDropTombstones(lock));
  return applied;
}

}  // namespace tide::index
