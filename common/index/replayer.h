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

// Brings `set` forward by the worker's graph records (storage::GraphRecord, decision 0011)
// instead of inserting vectors: for each record after set.applied_seq(), at most
// `max_records`, the record's changes to the growing vector graph, then the change records it
// covers (tables, postings, and deletes of labels in sealed graphs). Returns how many records
// were applied; stops at the end of the records (the changes after the last one wait for the
// next record).
//  - InvalidArgument when the next record does not follow the set (another generation, or it
//    starts after another change): only a snapshot of the store's generation helps.
//  - Corruption when a record or a change it covers does not decode or apply; the set's
//    vector index may be partly changed and the set should be replaced.
//  - Other errors (reading the store) come before the record touches the set: retry.
// One caller at a time per set (it takes the set's ApplyLock); searches go on meanwhile.
Result<std::size_t> FollowGraphRecords(IndexSet& set, const storage::Store& store, std::size_t max_records);

}  // namespace tide::index
