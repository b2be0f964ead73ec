#include "ingest/fsck.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "common/index/replayer.h"
#include "common/storage/store.h"

namespace tide::ingest {
namespace {

using storage::Cf;

constexpr std::size_t kMaxProblems = 50;

void Problem(FsckReport* r, std::string what) {
  if (r->problems.size() < kMaxProblems) r->problems.push_back(std::move(what));
}

// Two 64-bit FNV-1a streams with different offset bases, over length-prefixed fields (so
// "ab"+"c" and "a"+"bc" differ). For telling stores apart, not for security.
class ContentHash {
 public:
  void Bytes(std::string_view bytes) {
    Raw(std::to_string(bytes.size()));
    Raw(":");
    Raw(bytes);
  }
  void Number(std::int64_t n) { Bytes(std::to_string(n)); }
  std::string Hex() const {
    char out[33];
    std::snprintf(out, sizeof(out), "%016llx%016llx", static_cast<unsigned long long>(a_),
                  static_cast<unsigned long long>(b_));
    return out;
  }

 private:
  void Raw(std::string_view bytes) {
    constexpr std::uint64_t kPrime = 0x100000001b3ULL;
    for (char c : bytes) {
      a_ = (a_ ^ static_cast<unsigned char>(c)) * kPrime;
      b_ = (b_ ^ static_cast<unsigned char>(c)) * kPrime;
    }
  }
  std::uint64_t a_ = 0xcbf29ce484222325ULL;
  std::uint64_t b_ = 0x84222325cbf29ce4ULL;
};

}  // namespace

Result<FsckReport> CheckStore(const storage::Store& store, const std::filesystem::path* snapshots,
                              const index::IndexSet::Options& index_options) {
  FsckReport r;
  // label -> (container, doc) as the documents claim them.
  struct Owner {
    std::string container, doc_id;
    std::uint32_t ordinal;
  };
  std::map<std::uint64_t, Owner> owned;
  TIDE_RETURN_IF_ERROR(store.Scan(Cf::kDocs, "", "", [&](std::string_view key, std::string_view value) {
    std::string container, doc_id;
    if (!storage::SplitDocKey(key, &container, &doc_id).ok()) {
      Problem(&r, "malformed doc key");
      return true;
    }
    Result<storage::DocRecord> doc = storage::DecodeDoc(value);
    if (!doc) {
      Problem(&r, "undecodable doc " + container + "/" + doc_id + ": " + doc.status().message());
      return true;
    }
    if (doc->deleted) {
      ++r.deleted_documents;
      if (!doc->labels.empty()) Problem(&r, "deleted doc " + container + "/" + doc_id + " still owns chunks");
      return true;
    }
    ++r.documents;
    for (std::size_t i = 0; i < doc->labels.size(); ++i) {
      const std::uint64_t label = doc->labels[i];
      if (i > 0 && doc->ordinals[i] == doc->ordinals[i - 1]) {
        Problem(&r, "doc " + container + "/" + doc_id + " has two chunks at ordinal " + std::to_string(doc->ordinals[i]));
      }
      if (!owned.emplace(label, Owner{container, doc_id, doc->ordinals[i]}).second) {
        Problem(&r, "label " + std::to_string(label) + " owned by two documents");
      }
    }
    return true;
  }));

  std::uint64_t max_label = 0;
  std::set<std::uint64_t> chunk_labels;
  TIDE_RETURN_IF_ERROR(store.Scan(Cf::kChunks, "", "", [&](std::string_view key, std::string_view value) {
    ++r.chunks;
    Result<std::uint64_t> label = storage::DecodeU64(key);
    Result<storage::ChunkRecord> chunk = storage::DecodeChunk(value);
    if (!label || !chunk) {
      Problem(&r, "undecodable chunk");
      return true;
    }
    max_label = std::max(max_label, *label);
    chunk_labels.insert(*label);
    auto it = owned.find(*label);
    if (it == owned.end()) {
      Problem(&r, "orphan chunk " + std::to_string(*label) + " of " + chunk->container_id + "/" + chunk->doc_id);
    } else if (it->second.container != chunk->container_id || it->second.doc_id != chunk->doc_id) {
      Problem(&r, "chunk " + std::to_string(*label) + " points to another document");
    } else if (it->second.ordinal != chunk->ordinal) {
      Problem(&r, "chunk " + std::to_string(*label) + " has ordinal " + std::to_string(chunk->ordinal) +
                      ", its document says " + std::to_string(it->second.ordinal));
    }
    return true;
  }));
  for (const auto& [label, doc] : owned) {
    if (!chunk_labels.contains(label)) {
      Problem(&r, "doc " + doc.container + "/" + doc.doc_id + " misses chunk " + std::to_string(label));
    }
  }
  TIDE_RETURN_IF_ERROR(store.Scan(Cf::kVectors, "", "", [&](std::string_view key, std::string_view value) {
    ++r.vectors;
    Result<std::uint64_t> label = storage::DecodeU64(key);
    if (!label || !chunk_labels.contains(*label)) {
      Problem(&r, "orphan vector " + (label ? std::to_string(*label) : std::string("?")));
    } else if (Result<std::vector<float>> v = storage::DecodeVector(value);
               !v || static_cast<int>(v->size()) != index_options.vector.dim) {
      Problem(&r, "vector " + std::to_string(*label) + " is malformed or of the wrong dimension");
    }
    return true;
  }));
  if (r.vectors != r.chunks) {
    Problem(&r, std::to_string(r.chunks) + " chunks but " + std::to_string(r.vectors) + " vectors");
  }

  // The log starts where the worker last trimmed it (or at 1) and has no gaps.
  Result<std::uint64_t> first_seq = store.GetCounter(storage::kMetaFirstChangeSeq);
  if (!first_seq) return first_seq.status();
  const std::uint64_t log_start = std::max<std::uint64_t>(*first_seq, 1);
  std::uint64_t expected_seq = 0;
  TIDE_RETURN_IF_ERROR(store.Scan(Cf::kChanges, "", "", [&](std::string_view key, std::string_view value) {
    ++r.changes;
    Result<std::uint64_t> seq = storage::DecodeU64(key);
    if (!seq || !storage::DecodeChange(value)) {
      Problem(&r, "undecodable change record");
      return true;
    }
    if (expected_seq == 0 && *seq != log_start) {
      Problem(&r, "the change log starts at seq " + std::to_string(*seq) + ", not at first_change_seq " +
                      std::to_string(log_start));
    }
    if (expected_seq != 0 && *seq != expected_seq) {
      Problem(&r, "change log gap before seq " + std::to_string(*seq));
    }
    expected_seq = *seq + 1;
    return true;
  }));
  Result<std::uint64_t> next_label = store.GetCounter(storage::kMetaNextLabel);
  Result<std::uint64_t> next_seq = store.GetCounter(storage::kMetaNextChangeSeq);
  if (!next_label || !next_seq) return Status::Corruption("unreadable allocators in meta");
  if (max_label != 0 && *next_label <= max_label) Problem(&r, "next_label is not ahead of the stored labels");
  if (expected_seq != 0 && *next_seq != expected_seq) Problem(&r, "next_change_seq disagrees with the change log");

  if (snapshots != nullptr) {
    std::size_t corrupt = 0;
    Result<std::unique_ptr<index::IndexSet>> set =
        index::IndexSet::LoadLatestSnapshot(*snapshots, index_options, &corrupt);
    if (corrupt > 0) {
      Problem(&r, std::to_string(corrupt) + " damaged index snapshot(s) skipped (the error log names each and why)");
    }
    if (!set && set.status().code() == Status::Code::kNotFound) set = index::IndexSet::Create(index_options);
    if (!set) return set.status();
    // The worker's graph records after its snapshot, applied as a query daemon applies them
    // (a record that does not decode, chain or apply is a problem); the rest replayed.
    Result<std::uint64_t> generation = store.GetCounter(storage::kMetaGraphGeneration);
    if (!generation) return generation.status();
    if (*generation != 0 && (*set)->graph_generation() == *generation) {
      if (Result<std::size_t> followed = index::FollowGraphRecords(**set, store, SIZE_MAX); !followed) {
        Problem(&r, "vector graph records: " + followed.status().ToString());
      }
    }
    Result<std::size_t> replayed = index::CatchUp(**set, store, SIZE_MAX);
    if (!replayed) return replayed.status();
    std::vector<std::pair<std::uint64_t, std::string>> labels = (*set)->Labels();
    if (labels.size() != chunk_labels.size() || (*set)->vector_size() != chunk_labels.size() ||
        (*set)->keyword_size() != chunk_labels.size()) {
      Problem(&r, "indexes hold " + std::to_string(labels.size()) + " chunks (vectors " +
                      std::to_string((*set)->vector_size()) + ", keyword " + std::to_string((*set)->keyword_size()) +
                      "), the store " + std::to_string(chunk_labels.size()));
    }
    for (const auto& [label, container] : labels) {
      auto it = owned.find(label);
      if (it == owned.end()) {
        Problem(&r, "index holds orphan label " + std::to_string(label));
      } else if (it->second.container != container) {
        Problem(&r, "index files label " + std::to_string(label) + " under the wrong container");
      }
    }
  }
  return r;
}

Result<LogicalDigest> ComputeLogicalDigest(const storage::Store& store) {
  return ComputeLogicalDigest(std::vector<const storage::Store*>{&store});
}

namespace {

// One document's part of the logical digest: its key, version, fields and chunks in ordinal
// order, each with its vector. Counts it in `digest`.
Result<std::string> DocumentHash(const storage::Store& store, std::string_view key, const storage::DocRecord& doc,
                                 LogicalDigest* digest) {
  ContentHash hash;
  hash.Bytes(key);
  hash.Number(doc.version);
  hash.Number(doc.deleted ? 1 : 0);
  if (doc.deleted) {
    ++digest->deleted_documents;
    return hash.Hex();
  }
  ++digest->documents;
  hash.Bytes(doc.title);
  hash.Bytes(doc.source_uri);
  hash.Bytes(doc.mime);
  hash.Bytes(doc.metadata_json);
  hash.Number(static_cast<std::int64_t>(doc.labels.size()));
  for (std::size_t i = 0; i < doc.labels.size(); ++i) {
    const std::string label = storage::EncodeU64(doc.labels[i]);
    Result<std::optional<std::string>> chunk = store.Get(Cf::kChunks, label);
    if (!chunk) return chunk.status();
    Result<std::optional<std::string>> vector = store.Get(Cf::kVectors, label);
    if (!vector) return vector.status();
    if (!chunk->has_value() || !vector->has_value()) {
      return Status::Corruption("document " + std::string(key) + " lists chunk " + std::to_string(doc.labels[i]) +
                                ", which has no chunk or vector");
    }
    Result<storage::ChunkRecord> c = storage::DecodeChunk(**chunk);
    if (!c) return c.status();
    ++digest->chunks;
    hash.Number(doc.ordinals[i]);
    hash.Number(doc.chunk_versions[i]);
    hash.Bytes(c->container_id);
    hash.Bytes(c->doc_id);
    hash.Number(c->ordinal);
    hash.Bytes(c->title);
    hash.Bytes(c->heading);
    hash.Number(c->char_begin);
    hash.Number(c->char_end);
    hash.Number(c->page);
    hash.Bytes(c->text);
    hash.Bytes(c->keywords);
    hash.Bytes(**vector);
  }
  return hash.Hex();
}

}  // namespace

Result<LogicalDigest> ComputeLogicalDigest(const std::vector<const storage::Store*>& stores) {
  LogicalDigest digest;
  // Each document's own hash, by key, whichever store holds it: the digest does not depend on
  // how the documents are split between stores.
  std::map<std::string, std::string> documents;
  for (const storage::Store* store : stores) {
    Status inner;
    Status scan = store->Scan(Cf::kDocs, "", "", [&](std::string_view key, std::string_view value) {
      Result<storage::DocRecord> doc = storage::DecodeDoc(value);
      Result<std::string> document = doc ? DocumentHash(*store, key, *doc, &digest) : doc.status();
      if (!document) {
        inner = document.status();
        return false;
      }
      if (!documents.emplace(std::string(key), std::move(*document)).second) {
        inner = Status::Corruption("document " + std::string(key) + " is in two of the stores (shards) read");
        return false;
      }
      return true;
    });
    TIDE_RETURN_IF_ERROR(scan);
    TIDE_RETURN_IF_ERROR(inner);
  }
  ContentHash hash;
  for (const auto& [key, document] : documents) hash.Bytes(document);
  digest.checksum = hash.Hex();
  return digest;
}

}  // namespace tide::ingest
