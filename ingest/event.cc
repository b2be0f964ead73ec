#include "ingest/event.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/date_util.h"
#include "common/utf8.h"

namespace tide::ingest {
namespace {

using nlohmann::json;

Status Invalid(std::string m) { return Status::InvalidArgument(std::move(m)); }

// A JSON Schema integer: any number with no fractional part (3 and 3.0 alike), within int64.
// nullopt for anything else, so the decoder and docs/events/event.schema.json agree.
std::optional<std::int64_t> Integer(const json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (!v.is_number_float()) return std::nullopt;
  const double d = v.get<double>();
  // 2^63 is exactly representable; every double below it with no fraction fits in int64.
  if (!std::isfinite(d) || std::trunc(d) != d || d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(d);
}

// `field` of `j` as an integer in [lo, hi]; nullopt if absent or null (the caller decides
// whether that is allowed), an error naming the field if it is anything else.
Result<std::optional<std::int64_t>> IntegerField(const json& j, const char* field, std::int64_t lo, std::int64_t hi,
                                                 const std::string& what) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::optional<std::int64_t>();
  std::optional<std::int64_t> v = Integer(*it);
  if (!v || *v < lo || *v > hi) return Invalid("'" + std::string(field) + "' must be " + what);
  return v;
}

// The version every document and ACL event carries.
Result<std::int64_t> RequiredVersion(const json& j) {
  Result<std::optional<std::int64_t>> v =
      IntegerField(j, "version", 0, std::numeric_limits<std::int64_t>::max(), "a non-negative integer");
  if (!v || !v->has_value()) return Invalid("'version' (non-negative integer) is required");
  return **v;
}

Result<std::string> OptionalString(const json& j, const char* field, std::size_t max_bytes) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Invalid(std::string("'") + field + "' must be a string");
  std::string s = it->get<std::string>();
  if (s.size() > max_bytes) {
    return Invalid(std::string("'") + field + "' is " + std::to_string(s.size()) + " bytes, limit " +
                   std::to_string(max_bytes));
  }
  return s;
}

Result<Event> DecodeAcl(const json& j, const std::optional<std::string>& key, Event e) {
  auto principal = j.find("principal");
  if (principal == j.end() || !principal->is_string() || principal->get<std::string>().empty() ||
      principal->get<std::string>().size() > 256 || !utf8::IsValid(principal->get<std::string>())) {
    return Invalid("'principal' (a string of 1..256 bytes) is required");
  }
  e.principal = principal->get<std::string>();
  if (key && *key != AclEventKey(e.principal)) {
    return Invalid("message key '" + *key + "' does not match '" + AclEventKey(e.principal) + "'");
  }
  Result<std::int64_t> version = RequiredVersion(j);
  if (!version) return version.status();
  e.version = *version;
  if (e.type == EventType::kAclDelete) return e;
  auto containers = j.find("containers");
  if (containers == j.end() || !containers->is_array() || containers->size() > 10000) {
    return Invalid("acl.upsert needs 'containers' (an array of container ids)");
  }
  for (const json& c : *containers) {
    if (!c.is_string() || !IsValidContainerId(c.get<std::string>())) {
      return Invalid("'containers' must hold container ids ([A-Za-z0-9_.-]{1,128})");
    }
    e.containers.push_back(c.get<std::string>());
  }
  return e;
}

// The metadata fields the engine reads must have the types it reads them as; everything else
// in metadata is the pipeline's and is stored as given.
Status CheckMetadata(const json& md) {
  for (const char* field : {"tags", "keywords"}) {
    auto it = md.find(field);
    if (it == md.end() || it->is_null() || it->is_string()) continue;
    if (!it->is_array()) return Invalid(std::string("'metadata.") + field + "' must be a string or an array of strings");
    for (const json& v : *it) {
      if (!v.is_string()) return Invalid(std::string("'metadata.") + field + "' must hold only strings");
    }
  }
  if (auto it = md.find("doc_type"); it != md.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>().size() > 256) {
      return Invalid("'metadata.doc_type' must be a string of at most 256 bytes");
    }
  }
  for (const char* field : {"created_at", "updated_at"}) {
    auto it = md.find(field);
    if (it == md.end() || it->is_null()) continue;
    if (!MetadataDateMillis(md, field)) {
      return Invalid(std::string("'metadata.") + field +
                     "' must be a date (2025-03-01, 2025-03-01T09:30:00Z, 2025-03-01T09:30:00+09:00) or epoch "
                     "milliseconds, got " + it->dump());
    }
  }
  return Status();
}

// One element of a document.upsert's `chunks`, or a chunk.upsert's chunk fields.
Result<ChunkInput> DecodeChunkInput(const json& c) {
  ChunkInput in;
  auto ct = c.find("text");
  if (ct == c.end() || !ct->is_string()) return Invalid("every chunk needs 'text' (string)");
  in.text = ct->get<std::string>();
  Result<std::string> heading = OptionalString(c, "heading", 4096);
  if (!heading) return heading.status();
  in.heading = std::move(*heading);
  Result<std::optional<std::int64_t>> page =
      IntegerField(c, "page", std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max(),
                   "a 32-bit integer");
  if (!page) return page.status();
  if (page->has_value()) in.page = static_cast<std::int32_t>(**page);
  return in;
}

// The part of chunk.upsert / chunk.delete after the document fields and the version.
Result<Event> DecodeChunkEvent(const json& j, const DecodeLimits& limits, Event e) {
  const std::string ordinal_range = "an integer 0.." + std::to_string(kMaxChunkOrdinal - 1);
  Result<std::optional<std::int64_t>> ordinal = IntegerField(j, "ordinal", 0, kMaxChunkOrdinal - 1, ordinal_range);
  if (!ordinal || !ordinal->has_value()) return Invalid("'ordinal' (" + ordinal_range + ") is required");
  e.ordinal = static_cast<std::uint32_t>(**ordinal);
  if (e.type == EventType::kChunkDelete) return e;
  Result<ChunkInput> in = DecodeChunkInput(j);
  if (!in) return in.status();
  if (in->text.size() > limits.max_text_bytes) {
    return Invalid("'text' is " + std::to_string(in->text.size()) + " bytes, limit " +
                   std::to_string(limits.max_text_bytes));
  }
  auto offset = [&j](const char* field, std::optional<std::uint32_t>* out) -> Status {
    Result<std::optional<std::int64_t>> v = IntegerField(j, field, 0, 0xffffffffLL, "an integer 0..4294967295");
    if (!v) return v.status();
    if (v->has_value()) *out = static_cast<std::uint32_t>(**v);
    return Status();
  };
  TIDE_RETURN_IF_ERROR(offset("char_begin", &in->char_begin));
  TIDE_RETURN_IF_ERROR(offset("char_end", &in->char_end));
  if (in->char_begin.has_value() != in->char_end.has_value()) {
    return Invalid("'char_begin' and 'char_end' come together");
  }
  if (in->char_begin && *in->char_begin > *in->char_end) return Invalid("'char_begin' is after 'char_end'");
  e.chunks.push_back(std::move(*in));
  return e;
}

}  // namespace

std::optional<std::int64_t> MetadataDateMillis(const nlohmann::json& metadata, const char* field) {
  auto it = metadata.find(field);
  if (it == metadata.end() || it->is_null()) return std::nullopt;
  if (it->is_number()) return Integer(*it);
  if (it->is_string()) return ParseDateMillis(it->get<std::string>());
  return std::nullopt;
}

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kDocumentUpsert: return "document.upsert";
    case EventType::kDocumentDelete: return "document.delete";
    case EventType::kChunkUpsert: return "chunk.upsert";
    case EventType::kChunkDelete: return "chunk.delete";
    case EventType::kContainerDelete: return "container.delete";
    case EventType::kAclUpsert: return "acl.upsert";
    case EventType::kAclDelete: return "acl.delete";
  }
  return "unknown";
}

bool IsValidContainerId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool IsValidDocId(std::string_view id) {
  if (id.empty() || id.size() > 512 || !utf8::IsValid(id)) return false;
  for (char c : id) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f || c == '\\') return false;
  }
  return true;
}

std::string PlacementKey(const Event& event) {
  if (IsAclEvent(event)) return AclEventKey(event.principal);
  return event.container_id;
}

std::string EventKey(std::string_view container_id, std::string_view doc_id) {
  std::string key(container_id);
  key.push_back('/');
  key.append(doc_id);
  return key;
}

Result<Event> DecodeEvent(const std::optional<std::string>& key,
                          const std::optional<std::string>& value, const DecodeLimits& limits) {
  if (!value) {
    // Tombstone: the key names the document.
    if (!key) return Invalid("tombstone without a key");
    std::size_t slash = key->find('/');
    if (slash == std::string::npos) return Invalid("tombstone key '" + *key + "' is not container_id/doc_id");
    Event e;
    e.type = EventType::kDocumentDelete;
    e.container_id = key->substr(0, slash);
    e.doc_id = key->substr(slash + 1);
    if (!IsValidContainerId(e.container_id) || !IsValidDocId(e.doc_id)) {
      return Invalid("tombstone key '" + *key + "' has an invalid container_id or doc_id");
    }
    return e;
  }
  if (value->size() > limits.max_event_bytes) {
    return Invalid("event is " + std::to_string(value->size()) + " bytes, limit " +
                   std::to_string(limits.max_event_bytes));
  }
  if (!utf8::IsValid(*value)) return Invalid("event is not valid UTF-8");
  json j = json::parse(*value, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Invalid("event is not valid JSON");
  if (!j.is_object()) return Invalid("event must be a JSON object");

  auto sv = j.find("schema_version");
  if (sv == j.end() || !Integer(*sv)) return Invalid("'schema_version' (integer) is required");
  if (*Integer(*sv) != kSchemaVersion) {
    return Invalid("unsupported schema_version " + sv->dump() + " (this worker reads " +
                   std::to_string(kSchemaVersion) + ")");
  }
  auto type = j.find("type");
  if (type == j.end() || !type->is_string()) return Invalid("'type' (string) is required");
  Event e;
  const std::string type_name = type->get<std::string>();
  if (type_name == "document.upsert") {
    e.type = EventType::kDocumentUpsert;
  } else if (type_name == "document.delete") {
    e.type = EventType::kDocumentDelete;
  } else if (type_name == "chunk.upsert") {
    e.type = EventType::kChunkUpsert;
  } else if (type_name == "chunk.delete") {
    e.type = EventType::kChunkDelete;
  } else if (type_name == "container.delete") {
    e.type = EventType::kContainerDelete;
  } else if (type_name == "acl.upsert") {
    e.type = EventType::kAclUpsert;
  } else if (type_name == "acl.delete") {
    e.type = EventType::kAclDelete;
  } else {
    return Invalid("unknown event type '" + type_name + "'");
  }
  if (IsAclEvent(e)) return DecodeAcl(j, key, std::move(e));

  auto cid = j.find("container_id");
  auto did = j.find("doc_id");
  if (cid == j.end() || !cid->is_string()) return Invalid("'container_id' (string) is required");
  if (e.type == EventType::kContainerDelete) {
    e.container_id = cid->get<std::string>();
    if (!IsValidContainerId(e.container_id)) return Invalid("'container_id' must match [A-Za-z0-9_.-]{1,128}");
    if (key && *key != e.container_id) {
      return Invalid("message key '" + *key + "' does not match container_id '" + e.container_id + "'");
    }
    return e;
  }
  if (did == j.end() || !did->is_string()) return Invalid("'doc_id' (string) is required");
  e.container_id = cid->get<std::string>();
  e.doc_id = did->get<std::string>();
  if (!IsValidContainerId(e.container_id)) {
    return Invalid("'container_id' must match [A-Za-z0-9_.-]{1,128}");
  }
  if (!IsValidDocId(e.doc_id)) return Invalid("'doc_id' must be 1..512 bytes without spaces or control characters");
  if (key && *key != EventKey(e.container_id, e.doc_id)) {
    return Invalid("message key '" + *key + "' does not match container_id/doc_id '" +
                   EventKey(e.container_id, e.doc_id) + "'");
  }
  Result<std::int64_t> version = RequiredVersion(j);
  if (!version) return version.status();
  e.version = *version;
  if (e.type == EventType::kDocumentDelete) return e;
  if (e.type == EventType::kChunkUpsert || e.type == EventType::kChunkDelete) {
    return DecodeChunkEvent(j, limits, std::move(e));
  }

  Result<std::string> title = OptionalString(j, "title", limits.max_title_bytes);
  if (!title) return title.status();
  e.title = std::move(*title);
  if (auto src = j.find("source"); src != j.end() && !src->is_null()) {
    if (!src->is_object()) return Invalid("'source' must be an object");
    Result<std::string> uri = OptionalString(*src, "uri", 4096);
    if (!uri) return uri.status();
    Result<std::string> mime = OptionalString(*src, "mime", 256);
    if (!mime) return mime.status();
    e.source_uri = std::move(*uri);
    e.mime = std::move(*mime);
  }
  if (auto md = j.find("metadata"); md != j.end() && !md->is_null()) {
    if (!md->is_object()) return Invalid("'metadata' must be an object");
    TIDE_RETURN_IF_ERROR(CheckMetadata(*md));
    e.metadata_json = md->dump();
  }
  auto text = j.find("text");
  auto chunks = j.find("chunks");
  const bool has_text = text != j.end() && !text->is_null();
  const bool has_chunks = chunks != j.end() && !chunks->is_null();
  if (has_text == has_chunks) return Invalid("document.upsert needs exactly one of 'text' or 'chunks'");
  if (has_text) {
    if (!text->is_string()) return Invalid("'text' must be a string");
    e.text = text->get<std::string>();
    if (e.text->size() > limits.max_text_bytes) {
      return Invalid("'text' is " + std::to_string(e.text->size()) + " bytes, limit " +
                     std::to_string(limits.max_text_bytes));
    }
    return e;
  }
  if (!chunks->is_array()) return Invalid("'chunks' must be an array");
  if (chunks->size() > limits.max_chunks) {
    return Invalid("'chunks' has " + std::to_string(chunks->size()) + " entries, limit " +
                   std::to_string(limits.max_chunks));
  }
  std::size_t total = 0;
  for (const json& c : *chunks) {
    if (!c.is_object()) return Invalid("every chunk must be an object");
    Result<ChunkInput> in = DecodeChunkInput(c);
    if (!in) return in.status();
    total += in->text.size();
    e.chunks.push_back(std::move(*in));
  }
  if (total > limits.max_text_bytes) {
    return Invalid("chunk texts total " + std::to_string(total) + " bytes, limit " +
                   std::to_string(limits.max_text_bytes));
  }
  return e;
}

}  // namespace tide::ingest
