#include "ingest/applier.h"

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include "common/embedding/embedder.h"
#include "common/storage/store.h"

namespace tide::ingest {
namespace {

using storage::Cf;

constexpr std::string_view kCounterApplied = "applied";
constexpr std::string_view kCounterStale = "stale";
constexpr std::string_view kCounterDuplicate = "duplicate";
constexpr std::string_view kCounterDeadLettered = "dead_lettered";
constexpr std::string_view kCounterChunks = "chunks_written";

using Clock = std::chrono::steady_clock;

// What a document's metadata gives its chunks (the event decoder checked the types).
struct MetadataFields {
  std::string keywords;           // tags and keywords, newline-joined: the keyword retriever's
  std::string doc_type;           // filters: metadata.doc_type
  std::vector<std::string> tags;  //          metadata.tags
  std::int64_t created_at = storage::kNoDate;
  std::int64_t updated_at = storage::kNoDate;
};

MetadataFields FieldsOf(const std::string& metadata_json) {
  MetadataFields out;
  nlohmann::json md = nlohmann::json::parse(metadata_json, nullptr, /*allow_exceptions=*/false);
  if (!md.is_object()) return out;
  for (const char* field : {"tags", "keywords"}) {
    auto it = md.find(field);
    if (it == md.end()) continue;
    const bool is_tags = std::string_view(field) == "tags";  // tags also feed the filter
    auto add = [&](const nlohmann::json& v) {
      if (!v.is_string()) return;
      if (!out.keywords.empty()) out.keywords += '\n';
      out.keywords += v.get<std::string>();
      if (is_tags) out.tags.push_back(v.get<std::string>());
    };
    if (it->is_array()) {
      for (const nlohmann::json& v : *it) add(v);
    } else {
      add(*it);
    }
  }
  if (auto it = md.find("doc_type"); it != md.end() && it->is_string()) out.doc_type = it->get<std::string>();
  for (auto [field, slot] : {std::pair{"created_at", &out.created_at}, std::pair{"updated_at", &out.updated_at}}) {
    if (std::optional<std::int64_t> ms = MetadataDateMillis(md, field)) *slot = *ms;
  }
  return out;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Applier::Applier(storage::Store* store, embedding::Embedder* embedder, const Options& options)
    : store_(store), embedder_(embedder), options_(options) {}

Status Applier::Init() {
  struct {
    std::string_view name;
    std::uint64_t* value;
  } counters[] = {{kCounterApplied, &counters_.applied},
                  {kCounterStale, &counters_.stale},
                  {kCounterDuplicate, &counters_.duplicate},
                  {kCounterDeadLettered, &counters_.dead_lettered},
                  {kCounterChunks, &counters_.chunks_written}};
  for (auto& c : counters) {
    Result<std::uint64_t> v = store_->GetCounter(storage::CounterKey(c.name));
    if (!v) return v.status();
    *c.value = *v;
  }
  Result<std::uint64_t> label = store_->GetCounter(storage::kMetaNextLabel);
  if (!label) return label.status();
  next_label_ = std::max<std::uint64_t>(*label, 1);
  Result<std::uint64_t> seq = store_->GetCounter(storage::kMetaNextChangeSeq);
  if (!seq) return seq.status();
  next_change_seq_ = std::max<std::uint64_t>(*seq, 1);

  storage::EmbedderIdentity mine{embedder_->model_id(), embedder_->dimension()};
  Result<std::optional<std::string>> stored = store_->Get(Cf::kMeta, storage::kMetaEmbedder);
  if (!stored) return stored.status();
  if (!stored->has_value()) {
    storage::WriteBatch batch;
    batch.Put(Cf::kMeta, storage::kMetaEmbedder, storage::EncodeEmbedderIdentity(mine));
    return store_->Write(&batch);
  }
  Result<storage::EmbedderIdentity> theirs = storage::DecodeEmbedderIdentity(**stored);
  if (!theirs) return theirs.status();
  if (theirs->model_id != mine.model_id || theirs->dimension != mine.dimension) {
    return Status::InvalidArgument(
        "the store was built with embedder '" + theirs->model_id + "' (dimension " +
        std::to_string(theirs->dimension) + ") but this worker is configured with '" + mine.model_id +
        "' (dimension " + std::to_string(mine.dimension) +
        "); mixing vector spaces would corrupt search. Use the original embedder, or rebuild "
        "into a fresh data directory");
  }
  return Status();
}

Result<std::optional<std::int64_t>> Applier::StoredOffset(const std::string& topic,
                                                          std::int32_t partition) const {
  Result<std::optional<std::string>> v = store_->Get(Cf::kMeta, storage::OffsetKey(topic, partition));
  if (!v) return v.status();
  if (!v->has_value()) return std::optional<std::int64_t>();
  Result<std::uint64_t> offset = storage::DecodeU64(**v);
  if (!offset) return offset.status();
  return std::optional<std::int64_t>(static_cast<std::int64_t>(*offset));
}

Result<storage::DocRecord> Applier::LoadDoc(const std::string& key,
                                            const std::map<std::string, storage::DocRecord>& overlay,
                                            bool* exists) const {
  if (auto it = overlay.find(key); it != overlay.end()) {
    *exists = true;
    return it->second;
  }
  Result<std::optional<std::string>> v = store_->Get(Cf::kDocs, key);
  if (!v) return v.status();
  *exists = v->has_value();
  if (!*exists) return storage::DocRecord{};
  return storage::DecodeDoc(**v);
}

Status Applier::ApplyAcl(const Event& e, std::map<std::string, storage::AclRecord>* overlay,
                         BatchResult* result) const {
  std::optional<storage::AclRecord> current;
  if (auto it = overlay->find(e.principal); it != overlay->end()) {
    current = it->second;
  } else {
    Result<std::optional<std::string>> v = store_->Get(Cf::kAcl, e.principal);
    if (!v) return v.status();
    if (v->has_value()) {
      Result<storage::AclRecord> decoded = storage::DecodeAcl(**v);
      if (!decoded) return decoded.status();
      current = std::move(*decoded);
    }
  }
  const std::int64_t version = *e.version;  // acl events always carry one
  if (current && version < current->version) {
    ++result->stale;
    return Status();
  }
  const bool is_delete = e.type == EventType::kAclDelete;
  if (current && version == current->version && (!is_delete || current->deleted)) {
    ++result->duplicate;
    return Status();
  }
  storage::AclRecord acl;
  acl.version = version;
  acl.deleted = is_delete;
  if (!is_delete) acl.containers = e.containers;
  (*overlay)[e.principal] = std::move(acl);
  ++result->applied;
  return Status();
}

std::string Applier::EmbeddingText(const storage::ChunkRecord& chunk, const Options& options) {
  std::string text;
  if (options.embed_title && !chunk.title.empty()) {
    text += chunk.title;
    text += '\n';
  }
  if (options.embed_heading && !chunk.heading.empty()) {
    text += chunk.heading;
    text += '\n';
  }
  text += chunk.text;
  return text;
}

Result<BatchResult> Applier::ApplyBatch(const std::vector<BatchItem>& batch) {
  BatchResult result;
  auto stage_start = Clock::now();
  storage::WriteBatch wb;
  storage::ChangeRecord change;
  std::map<std::string, storage::DocRecord> overlay;  // documents this batch already touched
  std::vector<PendingChunk> chunks;
  std::map<std::uint64_t, std::size_t> pending_index;  // label -> position in `chunks`
  std::map<std::string, storage::AclRecord> acl_overlay;  // principals this batch changed
  std::uint64_t next_label = next_label_;

  for (const BatchItem& item : batch) {
    change.offsets[item.topic + "/" + std::to_string(item.partition)] = item.offset + 1;
    if (!item.event) {
      ++result.dead_lettered;
      continue;
    }
    const Event& e = *item.event;
    // Removes a document's chunks from the store and the change log (or, if this batch
    // wrote them, from the batch before they reach either).
    auto drop_chunk = [&](std::uint64_t label) {
      if (auto pending = pending_index.find(label); pending != pending_index.end()) {
        chunks[pending->second].dropped = true;
        return;
      }
      wb.Delete(Cf::kChunks, storage::EncodeU64(label));
      wb.Delete(Cf::kVectors, storage::EncodeU64(label));
      change.entries.push_back({storage::ChangeRecord::Op::kDelete, label});
    };
    auto drop_chunks = [&](const storage::DocRecord& doc) {
      for (std::uint64_t label : doc.labels) drop_chunk(label);
    };
    // A new chunk for the batch to embed and write; returns its label.
    auto add_chunk = [&](storage::ChunkRecord record) {
      const std::uint64_t label = next_label++;
      pending_index[label] = chunks.size();
      chunks.push_back({std::move(record), label, false});
      return label;
    };
    if (IsAclEvent(e)) {
      TIDE_RETURN_IF_ERROR(ApplyAcl(e, &acl_overlay, &result));
      continue;
    }
    if (e.type == EventType::kContainerDelete) {
      // Applied once per message: replaying the topic must not delete documents that were
      // re-created after this delete (their events are then duplicates and would not return).
      const std::string marker_key = storage::ContainerDeleteKey(e.container_id, item.topic, item.partition);
      Result<std::optional<std::string>> marker = store_->Get(Cf::kMeta, marker_key);
      if (!marker) return marker.status();
      if (marker->has_value()) {
        Result<std::uint64_t> applied_offset = storage::DecodeU64(**marker);
        if (!applied_offset) return applied_offset.status();
        if (static_cast<std::int64_t>(*applied_offset) >= item.offset) {
          ++result.duplicate;
          continue;
        }
      }
      wb.Put(Cf::kMeta, marker_key, storage::EncodeU64(static_cast<std::uint64_t>(item.offset)));
      // Every live document of the container, in the store or written earlier in this batch,
      // becomes a delete marker at its own version.
      std::map<std::string, storage::DocRecord> victims;
      const std::string prefix = storage::DocKeyPrefix(e.container_id);
      Status scan = store_->Scan(Cf::kDocs, prefix, prefix, [&](std::string_view key, std::string_view value) {
        if (overlay.contains(std::string(key))) return true;
        Result<storage::DocRecord> doc = storage::DecodeDoc(value);
        if (doc && !doc->deleted) victims.emplace(std::string(key), std::move(*doc));
        return true;
      });
      TIDE_RETURN_IF_ERROR(scan);
      for (const auto& [key, doc] : overlay) {
        if (key.starts_with(prefix) && !doc.deleted) victims.emplace(key, doc);
      }
      for (auto& [key, doc] : victims) {
        drop_chunks(doc);
        storage::DocRecord marker;
        marker.version = doc.version;
        marker.deleted = true;
        overlay[key] = std::move(marker);
      }
      ++result.applied;
      continue;
    }
    const std::string key = storage::DocKey(e.container_id, e.doc_id);
    bool exists = false;
    Result<storage::DocRecord> current = LoadDoc(key, overlay, &exists);
    if (!current) return current.status();
    if (e.type == EventType::kChunkUpsert || e.type == EventType::kChunkDelete) {
      // Versions as for documents, plus one rule per chunk: a chunk is only rewritten by a
      // version newer than the one that wrote it, so a redelivered chunk event is a duplicate.
      const std::int64_t version = *e.version;  // chunk events always carry one
      if (exists && version < current->version) {
        ++result.stale;
        continue;
      }
      const bool live = exists && !current->deleted;
      // Position of the chunk in the document (npos: no such chunk).
      constexpr std::size_t npos = static_cast<std::size_t>(-1);
      const std::size_t at = live ? current->FindOrdinal(e.ordinal).value_or(npos) : npos;
      if (e.type == EventType::kChunkDelete) {
        if (at == npos) {
          ++result.duplicate;  // nothing to delete: the same effect as a redelivery
          continue;
        }
        storage::DocRecord doc = std::move(*current);
        drop_chunk(doc.labels[at]);
        doc.labels.erase(doc.labels.begin() + static_cast<std::ptrdiff_t>(at));
        doc.ordinals.erase(doc.ordinals.begin() + static_cast<std::ptrdiff_t>(at));
        doc.chunk_versions.erase(doc.chunk_versions.begin() + static_cast<std::ptrdiff_t>(at));
        doc.version = version;
        overlay[key] = std::move(doc);
        ++result.applied;
        continue;
      }
      if ((at != npos && current->chunk_versions[at] >= version) || (exists && current->deleted && version == current->version)) {
        ++result.duplicate;
        continue;
      }
      // On a missing or deleted document, the chunk creates it (with no title or metadata).
      storage::DocRecord doc = live ? std::move(*current) : storage::DocRecord{};
      doc.version = version;
      const ChunkInput& in = e.chunks.front();
      const auto bytes = static_cast<std::uint32_t>(in.text.size());
      MetadataFields md = FieldsOf(doc.metadata_json);
      const std::uint64_t label =
          add_chunk({e.container_id, e.doc_id, e.ordinal, doc.title, in.heading, in.char_begin.value_or(0),
                     in.char_end.value_or(in.char_begin.value_or(0) + bytes), in.page, in.text,
                     std::move(md.keywords), std::move(md.doc_type), std::move(md.tags), md.created_at,
                     md.updated_at});
      if (at != npos) {
        drop_chunk(doc.labels[at]);
        doc.labels[at] = label;
        doc.chunk_versions[at] = version;
      } else {
        auto pos = std::lower_bound(doc.ordinals.begin(), doc.ordinals.end(), e.ordinal) - doc.ordinals.begin();
        doc.labels.insert(doc.labels.begin() + pos, label);
        doc.ordinals.insert(doc.ordinals.begin() + pos, e.ordinal);
        doc.chunk_versions.insert(doc.chunk_versions.begin() + pos, version);
      }
      overlay[key] = std::move(doc);
      ++result.applied;
      continue;
    }
    // A tombstone has no version: it deletes whatever is stored, at the stored version.
    const std::int64_t version = e.version.value_or(current->version);
    if (exists && version < current->version) {
      ++result.stale;
      continue;
    }
    if (exists && version == current->version) {
      // Same version again: a redelivery or a replay. A delete at the version it deletes is
      // not: it applies once, and its redelivery finds the delete marker.
      const bool is_delete = e.type == EventType::kDocumentDelete;
      if (!is_delete || current->deleted) {
        ++result.duplicate;
        continue;
      }
    }
    if (!exists && e.type == EventType::kDocumentDelete && !e.version) {
      ++result.duplicate;  // tombstone for a document we never had
      continue;
    }
    drop_chunks(*current);
    storage::DocRecord doc;
    doc.version = version;
    if (e.type == EventType::kDocumentDelete) {
      doc.deleted = true;
    } else {
      doc.title = e.title;
      doc.source_uri = e.source_uri;
      doc.mime = e.mime;
      doc.metadata_json = e.metadata_json;
      const MetadataFields md = FieldsOf(e.metadata_json);
      auto add = [&](std::string text, std::string heading, std::uint32_t begin, std::uint32_t end,
                     std::int32_t page) {
        const auto ordinal = static_cast<std::uint32_t>(doc.labels.size());
        doc.labels.push_back(add_chunk({e.container_id, e.doc_id, ordinal, e.title, std::move(heading), begin, end,
                                        page, std::move(text), md.keywords, md.doc_type, md.tags, md.created_at,
                                        md.updated_at}));
        doc.ordinals.push_back(ordinal);
        doc.chunk_versions.push_back(version);
      };
      if (e.text) {
        for (TextChunk& t : ChunkText(*e.text, options_.chunker)) {
          add(std::move(t.text), std::move(t.heading), t.char_begin, t.char_end, -1);
        }
      } else {
        std::uint32_t offset = 0;
        for (const ChunkInput& in : e.chunks) {
          auto len = static_cast<std::uint32_t>(in.text.size());  // bytes: pre-chunked texts are not re-joined
          add(in.text, in.heading, offset, offset + len, in.page);
          offset += len;
        }
      }
    }
    overlay[key] = doc;
    ++result.applied;
  }

  result.chunk_seconds = SecondsSince(stage_start);
  stage_start = Clock::now();
  std::erase_if(chunks, [](const PendingChunk& c) { return c.dropped; });
  // One embedder call for the whole batch: providers are far faster per text in bulk.
  std::vector<std::string> texts;
  texts.reserve(chunks.size());
  for (const PendingChunk& c : chunks) texts.push_back(EmbeddingText(c.record, options_));
  std::vector<float> vectors;
  if (!texts.empty()) {
    TIDE_RETURN_IF_ERROR(embedder_->Embed(texts, embedding::InputType::kPassage, &vectors).WithContext("embedding"));
    if (vectors.size() != texts.size() * static_cast<std::size_t>(embedder_->dimension())) {
      return Status::Internal("embedder returned " + std::to_string(vectors.size()) + " floats for " +
                              std::to_string(texts.size()) + " texts");
    }
  }
  result.embed_seconds = SecondsSince(stage_start);
  stage_start = Clock::now();
  const auto dim = static_cast<std::size_t>(embedder_->dimension());
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const std::string key = storage::EncodeU64(chunks[i].label);
    wb.Put(Cf::kChunks, key, storage::EncodeChunk(chunks[i].record));
    wb.Put(Cf::kVectors, key, storage::EncodeVector(vectors.data() + i * dim, dim));
    change.entries.push_back({storage::ChangeRecord::Op::kUpsert, chunks[i].label});
  }
  for (const auto& [key, doc] : overlay) wb.Put(Cf::kDocs, key, storage::EncodeDoc(doc));
  for (const auto& [principal, acl] : acl_overlay) wb.Put(Cf::kAcl, principal, storage::EncodeAcl(acl));

  std::uint64_t next_seq = next_change_seq_;
  if (!change.entries.empty()) {
    result.change_seq = next_seq;
    wb.Put(Cf::kChanges, storage::EncodeU64(next_seq), storage::EncodeChange(change));
    ++next_seq;
  }
  result.chunks = chunks.size();
  IngestCounters counters = counters_;
  counters.applied += result.applied;
  counters.stale += result.stale;
  counters.duplicate += result.duplicate;
  counters.dead_lettered += result.dead_lettered;
  counters.chunks_written += result.chunks;
  wb.Put(Cf::kMeta, storage::CounterKey(kCounterApplied), storage::EncodeU64(counters.applied));
  wb.Put(Cf::kMeta, storage::CounterKey(kCounterStale), storage::EncodeU64(counters.stale));
  wb.Put(Cf::kMeta, storage::CounterKey(kCounterDuplicate), storage::EncodeU64(counters.duplicate));
  wb.Put(Cf::kMeta, storage::CounterKey(kCounterDeadLettered), storage::EncodeU64(counters.dead_lettered));
  wb.Put(Cf::kMeta, storage::CounterKey(kCounterChunks), storage::EncodeU64(counters.chunks_written));
  wb.Put(Cf::kMeta, storage::kMetaNextLabel, storage::EncodeU64(next_label));
  wb.Put(Cf::kMeta, storage::kMetaNextChangeSeq, storage::EncodeU64(next_seq));
  for (const BatchItem& item : batch) {
    wb.Put(Cf::kMeta, storage::OffsetKey(item.topic, item.partition),
           storage::EncodeU64(static_cast<std::uint64_t>(item.offset + 1)));
  }
  TIDE_RETURN_IF_ERROR(store_->Write(&wb));
  result.write_seconds = SecondsSince(stage_start);

  // Only now, with everything durable, does in-memory state move.
  counters_ = counters;
  next_label_ = next_label;
  next_change_seq_ = next_seq;
  return result;
}

}  // namespace tide::ingest
