#pragma once

#include <cstddef>

#include "common/index/index_set.h"
#include "common/status.h"

namespace tide::storage {
class Store;
}

namespace tide::index {

// The only index code that reads the store: brings an IndexSet forward through the change log.
//
// Applies the change records after set.applied_seq(), in order, at most `max_changes` of them,
// reading the chunk and vector each upsert names (a chunk deleted by a later change is gone
// from the store; that change deletes it), and returns how many were applied. Afterwards it
// drops the vector graph's tombstones if they pass the set's thresholds.
//
//  - Corruption when the next record is there but cannot be used (it does not decode, a
//    sequence number is skipped, its chunk or vector does not decode): applied_seq() stays
//    before it, and every call reports it again.
//  - When the changes after applied_seq() were trimmed (storage::kMetaFirstChangeSeq): an
//    empty set is built from every chunk and vector in the store instead (the result is then
//    the sequence it reached); a set that holds anything gets NotFound, and only a newer
//    snapshot can bring it forward.
//
// One caller at a time per set (it takes the set's ApplyLock); searches go on meanwhile.
Result<std::size_t> CatchUp(IndexSet& set, const storage::Store& store, std::size_t max_changes);

}  // namespace tide::index
