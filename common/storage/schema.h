#pragma once

// The one definition of TideSearch's on-disk format (docs/storage-format.md).
//
// Column families:
//   docs     container_id \0 doc_id          -> DocRecord
//   chunks   label (u64 big-endian)           -> ChunkRecord   (immutable once written)
//   vectors  label (u64 big-endian)           -> float32[dim]  (immutable once written)
//   changes  change seq (u64 big-endian)      -> ChangeRecord  (what one applied batch did)
//   meta     text keys                        -> counters, consumed offsets, embedder identity
//   acl      principal                        -> AclRecord (containers it may read)
//   graph    change seq (u64 big-endian)      -> GraphRecord (the worker's vector graph changes
//                                                up to that change: decision 0011)
//
// Every value starts with a one-byte format version. Labels are allocated from a counter and
// never reused, so a chunk's label names exactly one immutable text and vector: an updated
// document gets new labels, and a follower can apply the change log in order without races.

#include <climits>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tide::storage {

enum class Cf : int { kDefault = 0, kDocs, kChunks, kVectors, kChanges, kMeta, kAcl, kGraph };
inline constexpr int kNumCfs = 8;
const char* CfName(Cf cf);

inline constexpr std::uint8_t kFormatVersion = 1;

// --- the data directory ---------------------------------------------------------------------

// A per-partition worker's data directory (shards = per_partition, decision 0015) holds a
// shard per Kafka partition, each laid out as a single store's data directory (store/,
// snapshots/): data_dir/partitions/<n>.
std::filesystem::path PartitionShardDir(const std::filesystem::path& data_dir, std::int32_t partition);
// The shard directories under data_dir/partitions, by partition; empty when there are none.
// Never throws: a directory that goes away mid-listing ends the listing.
std::map<std::int32_t, std::filesystem::path> ListPartitionShards(const std::filesystem::path& data_dir);

// --- keys -------------------------------------------------------------------------------------

std::string EncodeU64(std::uint64_t v);  // 8 bytes big-endian: byte order == numeric order
Result<std::uint64_t> DecodeU64(std::string_view bytes);

std::string DocKey(std::string_view container_id, std::string_view doc_id);
// Splits a DocKey back into its parts.
Status SplitDocKey(std::string_view key, std::string* container_id, std::string* doc_id);
// Prefix of every DocKey in a container.
std::string DocKeyPrefix(std::string_view container_id);

// meta keys
inline constexpr std::string_view kMetaNextLabel = "next_label";
inline constexpr std::string_view kMetaNextChangeSeq = "next_change_seq";
// The first change record the log still holds: the worker trims the records every kept index
// snapshot covers (ingest/indexer.h). Absent: nothing was trimmed (the log starts at 1).
inline constexpr std::string_view kMetaFirstChangeSeq = "first_change_seq";
inline constexpr std::string_view kMetaEmbedder = "embedder";
// The worker's current graph generation (GraphRecord): absent before the worker first
// recorded its graph (a store of an older worker: followers then insert vectors themselves).
inline constexpr std::string_view kMetaGraphGeneration = "graph_generation";
// A per-partition shard (ingest/shards.h): the partition count of the topic when the shard was
// made. Events are placed by container among that many partitions, so a shard refuses to open
// under another count. Absent in a single-layout store.
inline constexpr std::string_view kMetaPartitionCount = "partition_count";
std::string OffsetKey(std::string_view topic, std::int32_t partition);  // "offset/<topic>/<p>"
inline constexpr std::string_view kOffsetKeyPrefix = "offset/";
std::string CounterKey(std::string_view name);                          // "counter/<name>"
// Where the last applied container.delete of a container came from, per source partition:
// "container_delete/<container_id>/<topic>/<p>" -> EncodeU64(offset). A replay of that message
// (or an earlier one) is then a no-op instead of deleting documents re-created after it.
std::string ContainerDeleteKey(std::string_view container_id, std::string_view topic, std::int32_t partition);
inline constexpr std::string_view kCounterKeyPrefix = "counter/";

// --- values -----------------------------------------------------------------------------------

struct DocRecord {
  std::int64_t version = 0;
  bool deleted = false;                 // a delete marker: keeps the version so older events stay stale
  std::string title;
  std::string source_uri;
  std::string mime;
  std::string metadata_json;            // the event's metadata object, verbatim JSON
  // The document's chunks, sorted by ordinal, as three parallel vectors: label, ordinal, and
  // the version that wrote the chunk (a document.upsert gives all its chunks its own version;
  // a chunk.upsert only the chunk it writes). Ordinals are 0..n-1 unless chunk events made gaps.
  std::vector<std::uint64_t> labels;
  std::vector<std::uint32_t> ordinals;
  std::vector<std::int64_t> chunk_versions;

  // Position of the chunk with this ordinal in the vectors above, if there is one.
  std::optional<std::size_t> FindOrdinal(std::uint32_t ordinal) const;
};
std::string EncodeDoc(const DocRecord& doc);
Result<DocRecord> DecodeDoc(std::string_view value);

inline constexpr std::int64_t kNoDate = INT64_MIN;

struct ChunkRecord {
  std::string container_id;
  std::string doc_id;
  std::uint32_t ordinal = 0;
  std::string title;                    // the document's title, copied: chunks are immutable
  std::string heading;                  // heading path, " > " separated
  std::uint32_t char_begin = 0;         // offsets in code points into the document text
  std::uint32_t char_end = 0;
  std::int32_t page = -1;
  std::string text;
  std::string keywords;                 // the document's metadata tags/keywords, space-joined
  // Filter attributes, copied from the document's metadata: doc_type, tags, and created_at /
  // updated_at in ms since the epoch (kNoDate when absent).
  std::string doc_type{};
  std::vector<std::string> tags{};
  std::int64_t created_at = kNoDate;
  std::int64_t updated_at = kNoDate;
};
std::string EncodeChunk(const ChunkRecord& chunk);
Result<ChunkRecord> DecodeChunk(std::string_view value);

std::string EncodeVector(const float* data, std::size_t dim);
Result<std::vector<float>> DecodeVector(std::string_view value);

// What one applied batch did to the chunk set, in order. Followers replay these.
struct ChangeRecord {
  enum class Op : std::uint8_t { kUpsert = 1, kDelete = 2 };
  struct Entry {
    Op op;
    std::uint64_t label;
  };
  std::vector<Entry> entries;
  std::map<std::string, std::int64_t> offsets;  // "topic/partition" -> next offset, after this batch
};
std::string EncodeChange(const ChangeRecord& change);
Result<ChangeRecord> DecodeChange(std::string_view value);

// What a principal may read, from acl.upsert / acl.delete events.
struct AclRecord {
  std::int64_t version = 0;
  bool deleted = false;  // a delete marker: the principal may read nothing
  std::vector<std::string> containers;
};
std::string EncodeAcl(const AclRecord& acl);
Result<AclRecord> DecodeAcl(std::string_view value);

// What the worker's vector graph did while it applied the changes after `from_seq` up to the
// record's key (SegmentedVectorIndex::TakeChanges): followers apply it instead of inserting
// the vectors themselves, so every graph is built once. Records chain (each one's from_seq is
// the previous one's key) within one `generation`; a worker that had to build its graph anew
// starts a new generation, with a snapshot where it starts (ingest/indexer.h).
struct GraphRecord {
  std::uint64_t generation = 0;
  std::uint64_t from_seq = 0;
  std::string changes;  // SegmentedVectorIndex's record bytes
};
std::string EncodeGraphRecord(const GraphRecord& record);
Result<GraphRecord> DecodeGraphRecord(std::string_view value);

struct EmbedderIdentity {
  std::string model_id;
  int dimension = 0;
};
std::string EncodeEmbedderIdentity(const EmbedderIdentity& id);
Result<EmbedderIdentity> DecodeEmbedderIdentity(std::string_view value);

}  // namespace tide::storage
