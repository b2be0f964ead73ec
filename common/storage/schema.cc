#include "common/storage/schema.h"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/coding.h"

namespace tide::storage {
namespace {

using nlohmann::json;

// Values are a version byte followed by MessagePack: compact, self-describing, and new
// optional fields can be added without bumping the version.
std::string Pack(const json& j) {
  std::string out(1, static_cast<char>(kFormatVersion));
  json::to_msgpack(j, out);
  return out;
}

Result<json> Unpack(std::string_view value, const char* what) {
  if (value.empty()) return Status::Corruption(std::string("empty ") + what + " value");
  if (static_cast<std::uint8_t>(value[0]) != kFormatVersion) {
    return Status::Corruption(std::string("unknown ") + what + " format version " +
                              std::to_string(static_cast<std::uint8_t>(value[0])));
  }
  json j = json::from_msgpack(value.substr(1), /*strict=*/true, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corruption(std::string("undecodable ") + what + " value");
  }
  return j;
}

template <typename T>
bool Read(const json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return false;
  try {
    *out = it->get<T>();
  } catch (const json::exception&) {
    return false;
  }
  return true;
}

}  // namespace

const char* CfName(Cf cf) {
  switch (cf) {
    case Cf::kDefault: return "default";
    case Cf::kDocs: return "docs";
    case Cf::kChunks: return "chunks";
    case Cf::kVectors: return "vectors";
    case Cf::kChanges: return "changes";
    case Cf::kMeta: return "meta";
    case Cf::kAcl: return "acl";
    case Cf::kGraph: return "graph";
  }
  return "unknown";
}

std::string EncodeU64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

Result<std::uint64_t> DecodeU64(std::string_view bytes) {
  if (bytes.size() != 8) return Status::Corruption("u64 key of " + std::to_string(bytes.size()) + " bytes");
  std::uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<std::uint8_t>(c);
  return v;
}

std::string DocKey(std::string_view container_id, std::string_view doc_id) {
  std::string key;
  key.reserve(container_id.size() + 1 + doc_id.size());
  key.append(container_id);
  key.push_back('\0');
  key.append(doc_id);
  return key;
}

std::string DocKeyPrefix(std::string_view container_id) {
  std::string key(container_id);
  key.push_back('\0');
  return key;
}

Status SplitDocKey(std::string_view key, std::string* container_id, std::string* doc_id) {
  std::size_t sep = key.find('\0');
  if (sep == std::string_view::npos) return Status::Corruption("doc key without separator");
  container_id->assign(key.substr(0, sep));
  doc_id->assign(key.substr(sep + 1));
  return Status();
}

std::string OffsetKey(std::string_view topic, std::int32_t partition) {
  std::string key(kOffsetKeyPrefix);
  key.append(topic);
  key.push_back('/');
  key.append(std::to_string(partition));
  return key;
}

std::string ContainerDeleteKey(std::string_view container_id, std::string_view topic, std::int32_t partition) {
  std::string key("container_delete/");
  key.append(container_id);
  key.push_back('/');
  key.append(topic);
  key.push_back('/');
  key.append(std::to_string(partition));
  return key;
}

std::string CounterKey(std::string_view name) {
  std::string key(kCounterKeyPrefix);
  key.append(name);
  return key;
}

std::string EncodeDoc(const DocRecord& doc) {
  return Pack(json{{"v", doc.version},      {"t", doc.title}, {"u", doc.source_uri},
                   {"m", doc.mime},         {"md", doc.metadata_json},
                   {"l", doc.labels},        {"o", doc.ordinals},
                   {"cv", doc.chunk_versions},  {"x", doc.deleted}});
}

std::optional<std::size_t> DocRecord::FindOrdinal(std::uint32_t ordinal) const {
  auto it = std::lower_bound(ordinals.begin(), ordinals.end(), ordinal);
  if (it == ordinals.end() || *it != ordinal) return std::nullopt;
  return static_cast<std::size_t>(it - ordinals.begin());
}

Result<DocRecord> DecodeDoc(std::string_view value) {
  Result<json> j = Unpack(value, "doc");
  if (!j) return j.status();
  DocRecord doc;
  if (!Read(*j, "v", &doc.version) || !Read(*j, "l", &doc.labels)) {
    return Status::Corruption("doc value misses version or labels");
  }
  Read(*j, "t", &doc.title);
  Read(*j, "u", &doc.source_uri);
  Read(*j, "m", &doc.mime);
  Read(*j, "md", &doc.metadata_json);
  Read(*j, "x", &doc.deleted);
  // Records written before chunk events existed have neither: ordinals 0..n-1, all chunks at
  // the document's version.
  if (!Read(*j, "o", &doc.ordinals)) {
    doc.ordinals.resize(doc.labels.size());
    for (std::size_t i = 0; i < doc.ordinals.size(); ++i) doc.ordinals[i] = static_cast<std::uint32_t>(i);
  }
  if (!Read(*j, "cv", &doc.chunk_versions)) doc.chunk_versions.assign(doc.labels.size(), doc.version);
  if (doc.ordinals.size() != doc.labels.size() || doc.chunk_versions.size() != doc.labels.size() ||
      !std::is_sorted(doc.ordinals.begin(), doc.ordinals.end())) {
    return Status::Corruption("doc value's chunk lists disagree");
  }
  return doc;
}

std::string EncodeChunk(const ChunkRecord& c) {
  json j{{"c", c.container_id}, {"d", c.doc_id},  {"o", c.ordinal}, {"t", c.title},
         {"h", c.heading},      {"b", c.char_begin}, {"e", c.char_end}, {"p", c.page},
         {"x", c.text},         {"k", c.keywords}};
  // Filter attributes only when present: most documents have few of them.
  if (!c.doc_type.empty()) j["dt"] = c.doc_type;
  if (!c.tags.empty()) j["tg"] = c.tags;
  if (c.created_at != kNoDate) j["ca"] = c.created_at;
  if (c.updated_at != kNoDate) j["ua"] = c.updated_at;
  return Pack(j);
}

Result<ChunkRecord> DecodeChunk(std::string_view value) {
  Result<json> j = Unpack(value, "chunk");
  if (!j) return j.status();
  ChunkRecord c;
  if (!Read(*j, "c", &c.container_id) || !Read(*j, "d", &c.doc_id) || !Read(*j, "x", &c.text)) {
    return Status::Corruption("chunk value misses container, doc or text");
  }
  Read(*j, "o", &c.ordinal);
  Read(*j, "t", &c.title);
  Read(*j, "h", &c.heading);
  Read(*j, "b", &c.char_begin);
  Read(*j, "e", &c.char_end);
  Read(*j, "p", &c.page);
  Read(*j, "k", &c.keywords);  // absent in chunks written before it existed
  Read(*j, "dt", &c.doc_type);
  Read(*j, "tg", &c.tags);
  Read(*j, "ca", &c.created_at);
  Read(*j, "ua", &c.updated_at);
  return c;
}

std::string EncodeVector(const float* data, std::size_t dim) {
  // Raw little-endian float32 (the only byte order we build for); no MessagePack, since
  // vectors are the bulk of the store and are read in bulk.
  static_assert(sizeof(float) == 4);
  std::string out(1 + dim * sizeof(float), '\0');
  out[0] = static_cast<char>(kFormatVersion);
  std::memcpy(out.data() + 1, data, dim * sizeof(float));
  return out;
}

Result<std::vector<float>> DecodeVector(std::string_view value) {
  if (value.empty() || static_cast<std::uint8_t>(value[0]) != kFormatVersion ||
      (value.size() - 1) % sizeof(float) != 0) {
    return Status::Corruption("malformed vector value");
  }
  std::vector<float> v((value.size() - 1) / sizeof(float));
  std::memcpy(v.data(), value.data() + 1, v.size() * sizeof(float));
  return v;
}

std::string EncodeChange(const ChangeRecord& change) {
  json ops = json::array();
  for (const ChangeRecord::Entry& e : change.entries) {
    ops.push_back(json::array({static_cast<int>(e.op), e.label}));
  }
  return Pack(json{{"ops", std::move(ops)}, {"off", change.offsets}});
}

Result<ChangeRecord> DecodeChange(std::string_view value) {
  Result<json> j = Unpack(value, "change");
  if (!j) return j.status();
  ChangeRecord change;
  auto ops = j->find("ops");
  if (ops == j->end() || !ops->is_array()) return Status::Corruption("change without ops");
  for (const json& op : *ops) {
    if (!op.is_array() || op.size() != 2 || !op[0].is_number_integer() ||
        !op[1].is_number_unsigned()) {
      return Status::Corruption("malformed change op");
    }
    int kind = op[0].get<int>();
    if (kind != 1 && kind != 2) return Status::Corruption("unknown change op " + std::to_string(kind));
    change.entries.push_back({static_cast<ChangeRecord::Op>(kind), op[1].get<std::uint64_t>()});
  }
  Read(*j, "off", &change.offsets);
  return change;
}

std::string EncodeGraphRecord(const GraphRecord& record) {
  // Binary, not MessagePack: the changes are bytes already, ~3.5 KB per chunk.
  std::string out(1, static_cast<char>(kFormatVersion));
  PutVarint(&out, record.generation);
  PutVarint(&out, record.from_seq);
  out += record.changes;
  return out;
}

Result<GraphRecord> DecodeGraphRecord(std::string_view value) {
  if (value.empty() || static_cast<std::uint8_t>(value[0]) != kFormatVersion) {
    return Status::Corruption("graph record of an unknown format");
  }
  Reader r(value.substr(1));
  GraphRecord record;
  if (!r.GetVarint(&record.generation) || !r.GetVarint(&record.from_seq) || record.generation == 0) {
    return Status::Corruption("graph record with a malformed header");
  }
  record.changes = std::string(r.remaining());
  return record;
}

std::string EncodeAcl(const AclRecord& acl) {
  return Pack(json{{"v", acl.version}, {"x", acl.deleted}, {"c", acl.containers}});
}

Result<AclRecord> DecodeAcl(std::string_view value) {
  Result<json> j = Unpack(value, "acl");
  if (!j) return j.status();
  AclRecord acl;
  if (!Read(*j, "v", &acl.version) || !Read(*j, "c", &acl.containers)) {
    return Status::Corruption("acl value misses version or containers");
  }
  Read(*j, "x", &acl.deleted);
  return acl;
}

std::string EncodeEmbedderIdentity(const EmbedderIdentity& id) {
  return Pack(json{{"model", id.model_id}, {"dim", id.dimension}});
}

Result<EmbedderIdentity> DecodeEmbedderIdentity(std::string_view value) {
  Result<json> j = Unpack(value, "embedder");
  if (!j) return j.status();
  EmbedderIdentity id;
  if (!Read(*j, "model", &id.model_id) || !Read(*j, "dim", &id.dimension)) {
    return Status::Corruption("embedder identity misses model or dim");
  }
  return id;
}

std::filesystem::path PartitionShardDir(const std::filesystem::path& data_dir, std::int32_t partition) {
  return data_dir / "partitions" / std::to_string(partition);
}

std::map<std::int32_t, std::filesystem::path> ListPartitionShards(const std::filesystem::path& data_dir) {
  std::map<std::int32_t, std::filesystem::path> found;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(data_dir / "partitions", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name.size() < 10 && name.find_first_not_of("0123456789") == std::string::npos) {
      found.emplace(static_cast<std::int32_t>(std::stol(name)), it->path());
    }
  }
  return found;
}

}  // namespace tide::storage
