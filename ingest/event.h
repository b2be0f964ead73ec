#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/placement.h"
#include "common/status.h"

namespace tide::ingest {

// The event contract (docs/events.md). Decoding is pure: bytes in, Event or the reason the
// bytes are not an event out.
enum class EventType {
  kDocumentUpsert,
  kDocumentDelete,
  kChunkUpsert,
  kChunkDelete,
  kContainerDelete,
  kAclUpsert,
  kAclDelete,
};
const char* EventTypeName(EventType type);

struct ChunkInput {
  std::string text;
  std::string heading;
  std::int32_t page = -1;
  // chunk.upsert only: the chunk's place in the document text, if the pipeline knows it.
  std::optional<std::uint32_t> char_begin;
  std::optional<std::uint32_t> char_end;
};

struct Event {
  EventType type = EventType::kDocumentUpsert;
  std::string container_id;
  std::string doc_id;
  // Monotonic per document. A tombstone carries none: it deletes whatever version is stored.
  std::optional<std::int64_t> version;
  std::string title;
  std::string source_uri;
  std::string mime;
  std::string metadata_json = "{}";
  std::optional<std::string> text;  // the worker chunks it
  std::vector<ChunkInput> chunks;   // or the pipeline already did; chunk.upsert: exactly one
  std::uint32_t ordinal = 0;        // chunk.upsert / chunk.delete: which chunk of the document
  // acl.upsert / acl.delete: who, and what they may read.
  std::string principal;
  std::vector<std::string> containers;
};

// acl.upsert or acl.delete: keyed, placed and applied by principal, not by container.
inline bool IsAclEvent(const Event& e) { return e.type == EventType::kAclUpsert || e.type == EventType::kAclDelete; }

struct DecodeLimits {
  std::size_t max_event_bytes = 8 << 20;
  std::size_t max_text_bytes = 4 << 20;
  std::size_t max_chunks = 10000;
  std::size_t max_title_bytes = 4096;
};

inline constexpr int kSchemaVersion = 1;
// Chunk ordinals are below this (a document.upsert has at most DecodeLimits::max_chunks).
inline constexpr std::uint32_t kMaxChunkOrdinal = 1'000'000;

// container_id: [A-Za-z0-9_.-]{1,128}; doc_id: printable ASCII except space and '\\', and
// UTF-8 letters, 1..512 bytes.
bool IsValidContainerId(std::string_view id);
bool IsValidDocId(std::string_view id);
// The Kafka key that keeps one document's events in order: "<container_id>/<doc_id>".
std::string EventKey(std::string_view container_id, std::string_view doc_id);
// Keys of the other kinds: "acl:<principal>" (tide::AclEventKey) and "<container_id>"
// (container.delete). Placement (PartitionKeyOf, PartitionOf) is common/placement.h's.
using tide::AclEventKey;
using tide::PartitionKeyOf;
using tide::PartitionOf;
// The key an event is placed by (PartitionOf): its document's, its container's or its
// principal's, whatever key the message had.
std::string PlacementKey(const Event& event);

// metadata.created_at / updated_at as ms since the epoch: a date string (common/date_util.h)
// or an integer of epoch milliseconds. nullopt if absent; the decoder rejects other forms.
std::optional<std::int64_t> MetadataDateMillis(const nlohmann::json& metadata, const char* field);

// `value` is nullopt for a Kafka tombstone, which deletes the document named by `key`.
// InvalidArgument says what is wrong; such a message belongs in the dead-letter topic.
Result<Event> DecodeEvent(const std::optional<std::string>& key,
                          const std::optional<std::string>& value, const DecodeLimits& limits);

}  // namespace tide::ingest
