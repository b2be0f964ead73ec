#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/index/index_set.h"
#include "common/status.h"

namespace tide::storage {
class Store;
}

namespace tide::ingest {

struct FsckReport {
  std::uint64_t documents = 0;
  std::uint64_t deleted_documents = 0;
  std::uint64_t chunks = 0;
  std::uint64_t vectors = 0;
  std::uint64_t changes = 0;
  std::vector<std::string> problems;  // empty: every invariant holds
  bool ok() const { return problems.empty(); }
};

// Checks the store's invariants: every live document's chunks and vectors exist and point
// back to it; no chunk, vector or posting belongs to no document; deleted documents own
// nothing; the change log is contiguous; the label and change allocators are ahead of
// everything stored. With `snapshots` set, also loads the newest snapshot, replays the change
// log and checks that the vector and keyword indexes hold exactly the store's chunks.
Result<FsckReport> CheckStore(const storage::Store& store, const std::filesystem::path* snapshots,
                              const index::IndexSet::Options& index_options);

// The store's logical content, independent of how it was written: every document (live or
// delete marker) with its version, fields and, in ordinal order, each chunk's version, record
// and vector bytes. Labels, change records, counters and offsets are left out, so two stores
// that applied the same events agree even if they allocated labels differently (a replay, a
// rebuild into a fresh store).
struct LogicalDigest {
  std::uint64_t documents = 0;
  std::uint64_t deleted_documents = 0;
  std::uint64_t chunks = 0;
  std::string checksum;  // 32 hex digits; equal content gives an equal checksum
};

// Reads the whole docs column family and every chunk and vector it names. Corruption if a
// listed chunk or vector is missing or undecodable (run CheckStore for the details).
Result<LogicalDigest> ComputeLogicalDigest(const storage::Store& store);
// The same over several stores taken as one (the shards of a per-partition worker,
// ingest/shards.h): equal to the digest of one store that applied all their events.
// Corruption if a document is in two of them (a topic whose partition count changed sends a
// key to another partition: both shards then hold a version of it).
Result<LogicalDigest> ComputeLogicalDigest(const std::vector<const storage::Store*>& stores);

}  // namespace tide::ingest
