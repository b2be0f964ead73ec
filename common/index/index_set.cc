#include "common/index/index_set.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "common/storage/store.h"

namespace tide::index {
namespace {

// One change, read and analysed outside the writer lock.
struct PreparedOp {
  storage::ChangeRecord::Op op;
  std::uint64_t label;
  std::optional<storage::ChunkRecord> chunk;  // upserts whose chunk still exists
  std::vector<float> vector;
};

}  // namespace

// A MetadataFilter with its values turned into the interned ids of this index.
struct IndexSet::CompiledFilter {
  bool any_doc_type = true;
  std::vector<bool> doc_types;  // by id
  bool any_tag = true;
  std::vector<bool> tags;  // by id
  std::int64_t created_min = INT64_MIN, created_max = INT64_MAX;
  std::int64_t updated_min = INT64_MIN, updated_max = INT64_MAX;
  bool created = false, updated = false;  // a bound is set

  bool Matches(const ChunkEntry& e) const {
    if (!any_doc_type && (e.doc_type >= doc_types.size() || !doc_types[e.doc_type])) return false;
    if (!any_tag) {
      bool found = false;
      for (std::uint32_t t : e.tags) found = found || (t < tags.size() && tags[t]);
      if (!found) return false;
    }
    if (created && (e.created_at == storage::kNoDate || e.created_at < created_min || e.created_at > created_max)) {
      return false;
    }
    if (updated && (e.updated_at == storage::kNoDate || e.updated_at < updated_min || e.updated_at > updated_max)) {
      return false;
    }
    return true;
  }
};

IndexSet::CompiledFilter IndexSet::Compile(const MetadataFilter& filter) const {
  CompiledFilter c;
  if (!filter.doc_types.empty()) {
    c.any_doc_type = false;
    c.doc_types.assign(doc_types_.names.size(), false);
    for (const std::string& v : filter.doc_types) {
      if (auto it = doc_types_.ids.find(v); it != doc_types_.ids.end()) c.doc_types[it->second] = true;
    }
  }
  if (!filter.tags.empty()) {
    c.any_tag = false;
    c.tags.assign(tags_.names.size(), false);
    for (const std::string& v : filter.tags) {
      if (auto it = tags_.ids.find(v); it != tags_.ids.end()) c.tags[it->second] = true;
    }
  }
  c.created = filter.created_min || filter.created_max;
  c.created_min = filter.created_min.value_or(INT64_MIN);
  c.created_max = filter.created_max.value_or(INT64_MAX);
  c.updated = filter.updated_min || filter.updated_max;
  c.updated_min = filter.updated_min.value_or(INT64_MIN);
  c.updated_max = filter.updated_max.value_or(INT64_MAX);
  return c;
}

class IndexSet::ScopeFilter : public LabelFilter {
 public:
  ScopeFilter(const IndexSet& set, const ContainerSet& scope, const CompiledFilter* filter)
      : set_(set), scope_(scope), filter_(filter) {}
  // REQUIRES: set_.mu_ held (shared) by the caller for the filter's lifetime.
  bool Allowed(std::uint64_t label) const override {
    auto it = set_.chunks_.find(label);
    return it != set_.chunks_.end() && scope_.Contains(it->second.container) &&
           (filter_ == nullptr || filter_->Matches(it->second));
  }

 private:
  const IndexSet& set_;
  const ContainerSet& scope_;
  const CompiledFilter* filter_;
};

IndexSet::IndexSet(const Options& options) : options_(options) {}

Result<std::unique_ptr<IndexSet>> IndexSet::Create(const Options& options) {
  std::unique_ptr<IndexSet> set(new IndexSet(options));
  Result<std::unique_ptr<VectorIndex>> vectors = VectorIndex::Create(options.vector);
  if (!vectors) return vectors.status();
  set->vectors_ = std::move(*vectors);
  return set;
}

std::uint32_t IndexSet::NameTable::Intern(std::string_view name) {
  auto [it, inserted] = ids.emplace(std::string(name), static_cast<std::uint32_t>(names.size()));
  if (inserted) names.emplace_back(name);
  return it->second;
}

std::uint32_t IndexSet::InternContainer(const std::string& container_id) {
  auto [it, inserted] =
      container_ordinals_.emplace(container_id, static_cast<std::uint32_t>(container_names_.size()));
  if (inserted) {
    container_names_.push_back(container_id);
    container_labels_.emplace_back();
  }
  return it->second;
}

Status IndexSet::ApplyUpsert(std::uint64_t label, const storage::ChunkRecord& chunk,
                             std::span<const float> vector, VectorBatch* batch) {
  if (chunks_.contains(label)) return Status();  // already applied (snapshot overlap)
  if (vector.size() != static_cast<std::size_t>(vectors_->dim())) {
    return Status::InvalidArgument("chunk " + std::to_string(label) + " has a vector of dimension " +
                                   std::to_string(vector.size()) + ", index has " +
                                   std::to_string(vectors_->dim()));
  }
  // A label already in the graph (snapshot overlap) is left there by AddBatch.
  batch->labels.push_back(label);
  batch->vectors.insert(batch->vectors.end(), vector.begin(), vector.end());
  std::uint32_t container = InternContainer(chunk.container_id);
  KeywordIndex::FieldTerms terms;
  // The keyword retriever's field: what names the chunk rather than what it says — the
  // document title, the heading path and the document's tags/keywords.
  terms[static_cast<int>(Field::kTitle)] = analyzer_.Terms(chunk.title + "\n" + chunk.heading + "\n" + chunk.keywords);
  terms[static_cast<int>(Field::kBody)] = analyzer_.Terms(chunk.text);
  keywords_.Add(label, container, terms);
  std::vector<std::uint64_t>& labels = container_labels_[container];
  ChunkEntry entry{container, static_cast<std::uint32_t>(labels.size())};
  if (!chunk.doc_type.empty()) entry.doc_type = doc_types_.Intern(chunk.doc_type);
  for (const std::string& tag : chunk.tags) entry.tags.push_back(tags_.Intern(tag));
  entry.created_at = chunk.created_at;
  entry.updated_at = chunk.updated_at;
  chunks_.emplace(label, std::move(entry));
  labels.push_back(label);
  return Status();
}

Status IndexSet::FlushVectors(VectorBatch* batch) {
  if (batch->labels.empty()) return Status();
  Status s = vectors_->AddBatch(batch->labels, batch->vectors);
  batch->labels.clear();
  batch->vectors.clear();
  return s;
}

Status IndexSet::ApplyDelete(std::uint64_t label) {
  auto it = chunks_.find(label);
  if (it == chunks_.end()) return Status();  // never applied, or already deleted
  ChunkEntry entry = it->second;
  chunks_.erase(it);
  std::vector<std::uint64_t>& labels = container_labels_[entry.container];
  // Swap-remove, then fix the moved label's position (unless it was the removed one).
  const std::uint64_t moved = labels.back();
  labels[entry.position] = moved;
  labels.pop_back();
  if (moved != label) chunks_.at(moved).position = entry.position;
  keywords_.Remove(label);
  Status s = vectors_->Remove(label);
  if (!s.ok() && s.code() != Status::Code::kNotFound) return s;
  return Status();
}

Result<std::size_t> IndexSet::BuildFromStore(const storage::Store& store) {
  // REQUIRES: apply_mu_ held. The store does not move meanwhile: the worker builds before it
  // consumes, and a follower's secondary changes only when it catches up, on this thread.
  Result<std::uint64_t> next_seq = store.GetCounter(storage::kMetaNextChangeSeq);
  if (!next_seq) return next_seq.status();
  const auto start = std::chrono::steady_clock::now();
  std::size_t chunks = 0;
  Status failed;
  VectorBatch batch;
  std::unique_lock lock(mu_);
  TIDE_RETURN_IF_ERROR(store.Scan(storage::Cf::kChunks, "", "", [&](std::string_view key, std::string_view value) {
    Result<std::uint64_t> label = storage::DecodeU64(key);
    Result<storage::ChunkRecord> chunk = storage::DecodeChunk(value);
    if (!label || !chunk) {
      failed = Status::Corruption("chunk record " + (label ? std::to_string(*label) : std::string("?")) +
                                  " does not decode");
      return false;
    }
    Result<std::optional<std::string>> bytes = store.Get(storage::Cf::kVectors, key);
    if (!bytes) {
      failed = bytes.status();
      return false;
    }
    if (!bytes->has_value()) {
      failed = Status::Corruption("chunk " + std::to_string(*label) + " has no vector");
      return false;
    }
    Result<std::vector<float>> vector = storage::DecodeVector(**bytes);
    if (!vector) {
      failed = vector.status().WithContext("vector " + std::to_string(*label));
      return false;
    }
    failed = ApplyUpsert(*label, *chunk, *vector, &batch);
    if (failed.ok() && batch.labels.size() >= 4096) failed = FlushVectors(&batch);
    ++chunks;
    return failed.ok();
  }));
  TIDE_RETURN_IF_ERROR(failed);
  TIDE_RETURN_IF_ERROR(FlushVectors(&batch));
  TIDE_RETURN_IF_ERROR(store.Scan(storage::Cf::kMeta, storage::kOffsetKeyPrefix, storage::kOffsetKeyPrefix,
                                  [&](std::string_view key, std::string_view value) {
                                    if (Result<std::uint64_t> offset = storage::DecodeU64(value)) {
                                      applied_offsets_[std::string(key.substr(storage::kOffsetKeyPrefix.size()))] =
                                          static_cast<std::int64_t>(*offset);
                                    }
                                    return true;
                                  }));
  applied_seq_ = *next_seq > 0 ? *next_seq - 1 : 0;
  spdlog::info("indexes built from the store's chunks (the change log is trimmed and no snapshot covers it) "
               "chunks={} seq={} seconds={:.2f}",
               chunks, applied_seq_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return static_cast<std::size_t>(applied_seq_);
}

Result<std::size_t> IndexSet::CatchUp(const storage::Store& store, std::size_t max_changes) {
  std::lock_guard apply_lock(apply_mu_);
  std::uint64_t next = applied_seq() + 1;
  std::size_t applied = 0;
  Result<std::uint64_t> first = store.GetCounter(storage::kMetaFirstChangeSeq);
  if (!first) return first.status();
  if (next < *first && next == 1 && size() == 0) {
    // An empty set and a log without its beginning (the snapshots are gone): every chunk is
    // in the store, so build from it instead.
    return BuildFromStore(store);
  }
  if (next < *first) {
    return Status::NotFound("changes " + std::to_string(next) + " to " + std::to_string(*first - 1) +
                            " were trimmed from the log, which starts at change " + std::to_string(*first) +
                            "; start from an index snapshot covering change " + std::to_string(*first - 1) +
                            " or later");
  }
  while (applied < max_changes) {
    std::optional<storage::ChangeRecord> change;
    Status bad;  // the next record is there but unusable: the store is not what was written
    Status scan = store.Scan(storage::Cf::kChanges, storage::EncodeU64(next), "",
                             [&](std::string_view key, std::string_view value) {
                               Result<std::uint64_t> seq = storage::DecodeU64(key);
                               if (!seq) {
                                 bad = Status::Corruption("a change log key after change " +
                                                          std::to_string(next - 1) + " is not a sequence number");
                               } else if (*seq != next) {
                                 // Records are written in one batch with the counter, so
                                 // they never skip a number.
                                 bad = Status::Corruption("change record " + std::to_string(next) +
                                                          " is missing; the next one is " + std::to_string(*seq));
                               } else if (Result<storage::ChangeRecord> rec = storage::DecodeChange(value); !rec) {
                                 bad = Status::Corruption("change record " + std::to_string(next) +
                                                          " does not decode: " + rec.status().message());
                               } else {
                                 change = std::move(*rec);
                               }
                               return false;
                             });
    TIDE_RETURN_IF_ERROR(scan);
    TIDE_RETURN_IF_ERROR(bad);
    if (!change) break;

    std::vector<PreparedOp> ops;
    ops.reserve(change->entries.size());
    for (const storage::ChangeRecord::Entry& e : change->entries) {
      PreparedOp op{e.op, e.label, std::nullopt, {}};
      if (e.op == storage::ChangeRecord::Op::kUpsert) {
        std::string key = storage::EncodeU64(e.label);
        Result<std::optional<std::string>> chunk = store.Get(storage::Cf::kChunks, key);
        if (!chunk) return chunk.status();
        Result<std::optional<std::string>> vec = store.Get(storage::Cf::kVectors, key);
        if (!vec) return vec.status();
        // A chunk deleted by a later change is gone from the store; that change deletes it.
        if (chunk->has_value() && vec->has_value()) {
          Result<storage::ChunkRecord> rec = storage::DecodeChunk(**chunk);
          if (!rec) return rec.status().WithContext("chunk " + std::to_string(e.label) + " of change " + std::to_string(next));
          Result<std::vector<float>> v = storage::DecodeVector(**vec);
          if (!v) return v.status().WithContext("vector " + std::to_string(e.label) + " of change " + std::to_string(next));
          op.chunk = std::move(*rec);
          op.vector = std::move(*v);
        }
      }
      ops.push_back(std::move(op));
    }
    VectorBatch batch;
    for (std::size_t i = 0; i < ops.size(); i += options_.apply_step) {
      std::unique_lock lock(mu_);
      for (std::size_t j = i; j < std::min(ops.size(), i + options_.apply_step); ++j) {
        const PreparedOp& op = ops[j];
        if (op.op == storage::ChangeRecord::Op::kDelete) {
          // In order: the delete may be of a label this step just added.
          TIDE_RETURN_IF_ERROR(FlushVectors(&batch));
          TIDE_RETURN_IF_ERROR(ApplyDelete(op.label));
        } else if (op.chunk) {
          TIDE_RETURN_IF_ERROR(ApplyUpsert(op.label, *op.chunk, op.vector, &batch));
        }
      }
      TIDE_RETURN_IF_ERROR(FlushVectors(&batch));
    }
    {
      std::unique_lock lock(mu_);
      applied_seq_ = next;
      for (const auto& [tp, offset] : change->offsets) applied_offsets_[tp] = offset;
    }
    ++next;
    ++applied;
  }
  const std::size_t tombstones = vectors_->deleted();
  const std::size_t slots = tombstones + vectors_->size();
  if (tombstones >= options_.rebuild_min_tombstones &&
      static_cast<double>(tombstones) > options_.rebuild_tombstone_ratio * static_cast<double>(slots)) {
    const auto start = std::chrono::steady_clock::now();
    TIDE_RETURN_IF_ERROR(vectors_->Rebuild());
    spdlog::info("vector index rebuilt without tombstones live={} tombstones_dropped={} seconds={:.2f}",
                 vectors_->size(), tombstones,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return applied;
}

std::uint64_t IndexSet::applied_seq() const {
  std::shared_lock lock(mu_);
  return applied_seq_;
}

std::map<std::string, std::int64_t> IndexSet::applied_offsets() const {
  std::shared_lock lock(mu_);
  return applied_offsets_;
}

ContainerSet IndexSet::ResolveContainers(const std::vector<std::string>& container_ids) const {
  std::shared_lock lock(mu_);
  ContainerSet set;
  for (const std::string& id : container_ids) {
    auto it = container_ordinals_.find(id);
    if (it != container_ordinals_.end()) set.Add(it->second);
  }
  return set;
}

std::size_t IndexSet::CountChunks(const ContainerSet& scope) const {
  std::shared_lock lock(mu_);
  std::size_t n = 0;
  for (std::uint32_t c : scope.ordinals()) {
    if (c < container_labels_.size()) n += container_labels_[c].size();
  }
  return n;
}

std::map<std::string, std::size_t> IndexSet::ChunksPerContainer(const std::vector<std::string>& container_ids) const {
  std::shared_lock lock(mu_);
  std::map<std::string, std::size_t> out;
  for (const std::string& id : container_ids) {
    auto it = container_ordinals_.find(id);
    if (it == container_ordinals_.end() || it->second >= container_labels_.size()) continue;
    if (const std::size_t n = container_labels_[it->second].size(); n > 0) out[id] = n;
  }
  return out;
}

std::vector<std::string> IndexSet::ContainerIds() const {
  std::shared_lock lock(mu_);
  return container_names_;
}

Result<std::vector<VectorHit>> IndexSet::SearchVector(std::span<const float> query, std::size_t k,
                                                      const ContainerSet& scope,
                                                      const MetadataFilter* metadata) const {
  std::shared_lock lock(mu_);
  std::optional<CompiledFilter> compiled;
  if (metadata != nullptr && !metadata->empty()) compiled = Compile(*metadata);
  // With a metadata filter the permitted chunks are counted (and kept for a scan) one by one.
  std::vector<std::uint64_t> filtered;
  std::size_t permitted = 0;
  for (std::uint32_t c : scope.ordinals()) {
    if (c >= container_labels_.size()) continue;
    if (!compiled) {
      permitted += container_labels_[c].size();
      continue;
    }
    for (std::uint64_t label : container_labels_[c]) {
      if (compiled->Matches(chunks_.at(label))) filtered.push_back(label);
    }
  }
  if (compiled) permitted = filtered.size();
  if (permitted == 0 || k == 0) return std::vector<VectorHit>();
  auto exact = [&]() -> Result<std::vector<VectorHit>> {
    if (compiled) return vectors_->ExactSearch(query, k, filtered);
    std::vector<std::uint64_t> labels;
    labels.reserve(permitted);
    for (std::uint32_t c : scope.ordinals()) {
      if (c < container_labels_.size()) {
        labels.insert(labels.end(), container_labels_[c].begin(), container_labels_[c].end());
      }
    }
    return vectors_->ExactSearch(query, k, labels);
  };
  // Scan or walk? A walk that may return only a fraction s = permitted / N of the graph
  // visits about 16 * ef / s nodes before ef permitted ones fill its candidate list, each at
  // about half the cost of a scanned vector (measured on 50k x 384 KLUE hash vectors, M 16:
  // tests/integration/filtered_vector_search_test.cc). Scanning the permitted chunks is then
  // the cheaper of the two when permitted^2 <= 8 * ef * N, and it is exact: at ef 256 that is
  // up to ~10k chunks of 50k and ~45k of 1M, so a 1% scope is scanned up to ~20M chunks.
  // Above it the walk runs with filtered_ef_search, which issue 4's recall bar needs.
  constexpr std::uint64_t kWalkCostPerEf = 8;
  const std::size_t ef =
      std::max({options_.vector.ef_search, options_.vector.filtered_ef_search, k});
  // Both costs times `permitted`, to stay in integers.
  const std::uint64_t scan_cost = static_cast<std::uint64_t>(permitted) * permitted;
  const std::uint64_t walk_cost = kWalkCostPerEf * ef * chunks_.size();
  if (permitted <= options_.exact_scan_threshold || scan_cost <= walk_cost) return exact();
  ScopeFilter filter(*this, scope, compiled ? &*compiled : nullptr);
  Result<std::vector<VectorHit>> hits = vectors_->Search(query, k, &filter, ef);
  // The filtered walk can come back short when the filter cuts the graph apart; the permitted
  // set is not exhausted, so fall back to the exact answer rather than return fewer than k.
  if (hits && hits->size() < std::min(k, permitted)) return exact();
  return hits;
}

std::vector<KeywordHit> IndexSet::SearchKeyword(Field field, const std::vector<std::string>& terms,
                                                std::size_t k, const ContainerSet& scope,
                                                const MetadataFilter* metadata,
                                                const std::vector<float>* term_weights) const {
  std::shared_lock lock(mu_);
  if (metadata == nullptr || metadata->empty()) {
    return keywords_.Search(field, terms, k, scope, options_.bm25, nullptr, term_weights);
  }
  const CompiledFilter compiled = Compile(*metadata);
  const ScopeFilter filter(*this, scope, &compiled);
  return keywords_.Search(field, terms, k, scope, options_.bm25, &filter, term_weights);
}

std::size_t IndexSet::size() const {
  std::shared_lock lock(mu_);
  return chunks_.size();
}

std::size_t IndexSet::vector_tombstones() const { return vectors_->deleted(); }

std::vector<std::pair<std::uint64_t, std::string>> IndexSet::Labels() const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<std::uint64_t, std::string>> out;
  out.reserve(chunks_.size());
  for (const auto& [label, entry] : chunks_) out.emplace_back(label, container_names_[entry.container]);
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t IndexSet::vector_size() const { return vectors_->size(); }

std::size_t IndexSet::keyword_size() const {
  std::shared_lock lock(mu_);
  return keywords_.size();
}

}  // namespace tide::index
