#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/storage/schema.h"
#include "ingest/chunker.h"
#include "ingest/event.h"

namespace tide::embedding {
class Embedder;
}
namespace tide::storage {
class Store;
}

namespace tide::ingest {

// Counters kept in the store's meta column family, updated in the same WriteBatch as the data
// they count, so they are exact across crashes.
struct IngestCounters {
  std::uint64_t applied = 0;        // events whose effect is in the store
  std::uint64_t stale = 0;          // older version than stored: skipped
  std::uint64_t duplicate = 0;      // same version as stored: a redelivery, skipped
  std::uint64_t dead_lettered = 0;  // sent to the dead-letter topic
  std::uint64_t chunks_written = 0;
};

// One consumed message's place in the batch: a decoded event, or nothing if it was
// dead-lettered (the applier only counts it and moves the offset past it).
struct BatchItem {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<Event> event;
};

struct BatchResult {
  std::uint64_t change_seq = 0;  // the change record written, 0 if the batch changed no chunk
  std::size_t applied = 0;
  std::size_t stale = 0;
  std::size_t duplicate = 0;
  std::size_t dead_lettered = 0;
  std::size_t chunks = 0;
  // Where the time went, for metrics and the ingest benchmark.
  double chunk_seconds = 0;  // decode-side work: version checks, chunking
  double embed_seconds = 0;
  double write_seconds = 0;  // the RocksDB WriteBatch
};

// Turns batches of events into one atomic WriteBatch each: documents, chunks, vectors, the
// change record followers replay, counters, and the next Kafka offset of every partition in
// the batch. Either all of it is durable or none of it is, which is what makes a crash at any
// instant lose nothing and apply nothing twice.
//
// Thread safety: none; the consume loop is the single caller. The single writer of the store.
class Applier {
 public:
  struct Options {
    ChunkerOptions chunker;
    // What the embedder sees for a chunk: the document title and heading path give a short
    // chunk its context.
    bool embed_title = true;
    bool embed_heading = true;
  };

  Applier(storage::Store* store, embedding::Embedder* embedder, const Options& options);

  // Reads counters and allocators from the store, and records the embedder's identity in a
  // new store or refuses (InvalidArgument) a store built with another model.
  Status Init();

  // Applies the batch atomically. Unavailable (embedder down, store busy) means nothing was
  // written and the same batch may be retried.
  Result<BatchResult> ApplyBatch(const std::vector<BatchItem>& batch);

  const IngestCounters& counters() const { return counters_; }
  // Next offset to read for a partition, from the store; nullopt if never consumed.
  Result<std::optional<std::int64_t>> StoredOffset(const std::string& topic, std::int32_t partition) const;

  // What the embedder is given for a chunk: its title, heading path and text, one per line (as
  // `options` says). Benchmarks use it to feed a model exactly what the worker feeds it.
  static std::string EmbeddingText(const storage::ChunkRecord& chunk, const Options& options);

 private:
  struct PendingChunk {
    storage::ChunkRecord record;
    std::uint64_t label;
    bool dropped;  // superseded by a later event for the same document in the batch
  };

  Result<storage::DocRecord> LoadDoc(const std::string& key,
                                     const std::map<std::string, storage::DocRecord>& overlay,
                                     bool* exists) const;
  // Versioned like documents: older is stale, the same again a duplicate.
  Status ApplyAcl(const Event& e, std::map<std::string, storage::AclRecord>* overlay, BatchResult* result) const;

  storage::Store* store_;
  embedding::Embedder* embedder_;
  const Options options_;
  IngestCounters counters_;
  std::uint64_t next_label_ = 1;
  std::uint64_t next_change_seq_ = 1;
};

}  // namespace tide::ingest
