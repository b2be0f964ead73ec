#include "common/index/index_set.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>


namespace tide::index {

IndexSet::IndexSet(const Options& options)
    : options_(options),
      keywords_(KeywordSegments::Options{options.vector.segment_max_chunks, options.keep_sealed_segments}) {}

Result<std::unique_ptr<IndexSet>> IndexSet::Create(const Options& options) {
  std::unique_ptr<IndexSet> set(new IndexSet(options));
  Result<std::unique_ptr<SegmentedVectorIndex>> vectors = SegmentedVectorIndex::Create(options.vector);
  if (!vectors) return vectors.status();
  set->vectors_ = std::move(*vectors);
  set->vectors_->set_unload_published(!options.keep_sealed_segments);
  return set;
}

Status IndexSet::ApplyUpsert(std::uint64_t label, const storage::ChunkRecord& chunk,
                             std::span<const float> vector, VectorBatch* batch) {
  if (table_.contains(label)) return Status();  // already applied (snapshot overlap)
  if (batch != nullptr) {
    if (vector.size() != static_cast<std::size_t>(vectors_->dim())) {
      return Status::InvalidArgument("chunk " + std::to_string(label) + " has a vector of dimension " +
                                     std::to_string(vector.size()) + ", index has " +
                                     std::to_string(vectors_->dim()));
    }
    // A label already in the graph (snapshot overlap) is left there by AddBatch.
    batch->labels.push_back(label);
    batch->vectors.insert(batch->vectors.end(), vector.begin(), vector.end());
  }
  const std::uint32_t container = table_.Add(label, chunk);
  KeywordIndex::FieldTerms terms;
  // The keyword retriever's field: what names the chunk rather than what it says — the
  // document title, the heading path and the document's tags/keywords.
  terms[static_cast<int>(Field::kTitle)] = analyzer_.Terms(chunk.title + "\n" + chunk.heading + "\n" + chunk.keywords);
  terms[static_cast<int>(Field::kBody)] = analyzer_.Terms(chunk.text);
  keywords_.Add(label, container, terms);
  return Status();
}

Status IndexSet::FlushVectors(VectorBatch* batch) {
  if (batch->labels.empty()) return Status();
  Status s = vectors_->AddBatch(batch->labels, batch->vectors);
  batch->labels.clear();
  batch->vectors.clear();
  return s;
}

Status IndexSet::ApplyDelete(std::uint64_t label, Vectors vectors) {
  if (table_.Remove(label)) keywords_.Remove(label);
  // The vector goes even if the tables never listed the chunk: a graph record copied it (the
  // writer inserted it before its chunk was deleted from the store), and the change that
  // deletes it may be replayed without a record (a worker's start, after its last record).
  // With a record, the growing graph already has the delete if the writer found the label
  // there; labels are never reused, so one in a sealed graph is that one.
  Status s = vectors == Vectors::kInsert ? vectors_->Remove(label) : vectors_->RemoveFromSealed(label);
  if (!s.ok() && s.code() != Status::Code::kNotFound) return s;
  return Status();
}

Status IndexSet::ApplyChange(const ApplyLock&, std::uint64_t seq, const std::map<std::string, std::int64_t>& offsets,
                             const std::vector<ChunkOp>& ops, Vectors vectors) {
  if (seq != applied_seq() + 1) {
    return Status::Internal("change " + std::to_string(seq) + " applied after change " + std::to_string(applied_seq()));
  }
  VectorBatch batch;
  for (std::size_t i = 0; i < ops.size(); i += options_.apply_step) {
    std::unique_lock lock(mu_);
    for (std::size_t j = i; j < std::min(ops.size(), i + options_.apply_step); ++j) {
      const ChunkOp& op = ops[j];
      if (op.op == storage::ChangeRecord::Op::kDelete) {
        // In order: the delete may be of a label this step just added.
        TIDE_RETURN_IF_ERROR(FlushVectors(&batch));
        TIDE_RETURN_IF_ERROR(ApplyDelete(op.label, vectors));
      } else if (op.chunk) {
        TIDE_RETURN_IF_ERROR(
            ApplyUpsert(op.label, *op.chunk, op.vector, vectors == Vectors::kInsert ? &batch : nullptr));
      }
    }
    TIDE_RETURN_IF_ERROR(FlushVectors(&batch));
  }
  std::unique_lock lock(mu_);
  applied_seq_ = seq;
  for (const auto& [tp, offset] : offsets) applied_offsets_[tp] = offset;
  return Status();
}

Status IndexSet::AddChunks(const ApplyLock&, const std::vector<ChunkOp>& upserts) {
  VectorBatch batch;
  std::unique_lock lock(mu_);
  for (const ChunkOp& op : upserts) {
    if (op.op == storage::ChangeRecord::Op::kUpsert && op.chunk) {
      TIDE_RETURN_IF_ERROR(ApplyUpsert(op.label, *op.chunk, op.vector, &batch));
    }
  }
  return FlushVectors(&batch);
}

void IndexSet::MarkApplied(const ApplyLock&, std::uint64_t seq, std::map<std::string, std::int64_t> offsets) {
  std::unique_lock lock(mu_);
  applied_seq_ = seq;
  applied_offsets_ = std::move(offsets);
}

Status IndexSet::MaybeDropTombstones(const ApplyLock&) {
  // Not only past the thresholds: a sealed graph left with nothing live is dropped at once, so
  // a daemon and the worker it copies hold the same sealed graphs once both have caught up
  // (rebuilds past the thresholds happen at each process's own points and may differ).
  const std::size_t tombstones = vectors_->deleted();
  const auto start = std::chrono::steady_clock::now();
  // A sealed graph the worker no longer holds is read back from the snapshot that has it: the
  // file is checked against the checksum its snapshot listed (a damaged one stops the
  // indexer; the worker's next start finds it again and builds a new generation).
  auto check_file = [this](const std::filesystem::path& file) -> Status {
    auto it = file_checksums_.find(file.filename().string());
    return it == file_checksums_.end() ? Status() : VerifySnapshotFile(file, it->second);
  };
  Result<std::size_t> rebuilt =
      vectors_->DropTombstones(options_.rebuild_tombstone_ratio, options_.rebuild_min_tombstones, check_file);
  if (!rebuilt) return rebuilt.status();
  if (*rebuilt > 0) {
    spdlog::info("vector graphs rebuilt without tombstones graphs={} live={} tombstones_dropped={} seconds={:.2f}",
                 *rebuilt, vectors_->size(), tombstones - vectors_->deleted(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return Status();
}

void IndexSet::StartGraphRecords(const ApplyLock&, std::uint64_t generation) {
  vectors_->StartTracking();
  graph_generation_.store(generation, std::memory_order_release);
  graph_recorded_seq_ = applied_seq();
}

std::optional<std::pair<std::uint64_t, storage::GraphRecord>> IndexSet::TakeGraphRecord(const ApplyLock&) {
  const std::uint64_t through = applied_seq();
  if (!vectors_->tracking() || through == graph_recorded_seq_) return std::nullopt;
  storage::GraphRecord record{graph_generation(), graph_recorded_seq_, vectors_->TakeChanges()};
  graph_recorded_seq_ = through;
  return std::make_pair(through, std::move(record));
}

Status IndexSet::ApplyGraphRecord(const ApplyLock&, const storage::GraphRecord& record) {
  const std::uint64_t applied = applied_seq();
  if (record.generation != graph_generation() || record.from_seq != applied) {
    return Status::InvalidArgument("graph record of generation " + std::to_string(record.generation) +
                                   " from change " + std::to_string(record.from_seq) +
                                   " does not follow these indexes (generation " +
                                   std::to_string(graph_generation()) + ", at change " + std::to_string(applied) +
                                   ")");
  }
  vectors_->StartFollowing();
  // Searches may meanwhile find the record's new vectors, whose chunks the tables do not list
  // yet: scope checks deny labels the tables do not have (ChunkTable::Allowed).
  return vectors_->ApplyChanges(record.changes);
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
  return table_.Resolve(container_ids);
}

std::size_t IndexSet::CountChunks(const ContainerSet& scope) const {
  std::shared_lock lock(mu_);
  return table_.Count(scope);
}

std::map<std::string, std::size_t> IndexSet::ChunksPerContainer(const std::vector<std::string>& container_ids) const {
  std::shared_lock lock(mu_);
  return table_.PerContainer(container_ids);
}

std::vector<std::string> IndexSet::ContainerIds() const {
  std::shared_lock lock(mu_);
  return table_.container_ids();
}

Result<std::vector<VectorHit>> IndexSet::SearchVector(std::span<const float> query, std::size_t k,
                                                      const ContainerSet& scope,
                                                      const MetadataFilter* metadata) const {
  std::shared_lock lock(mu_);
  std::optional<ChunkTable::CompiledFilter> compiled;
  if (metadata != nullptr && !metadata->empty()) compiled = table_.Compile(*metadata);
  const ChunkTable::CompiledFilter* filter = compiled ? &*compiled : nullptr;
  // With a metadata filter the permitted chunks are counted (and kept for a scan) one by one.
  std::vector<std::uint64_t> filtered;
  if (filter != nullptr) filtered = table_.LabelsIn(scope, filter);
  const std::size_t permitted = filter != nullptr ? filtered.size() : table_.Count(scope);
  if (permitted == 0 || k == 0) return std::vector<VectorHit>();
  auto exact = [&]() -> Result<std::vector<VectorHit>> {
    if (filter != nullptr) return vectors_->ExactSearch(query, k, filtered);
    return vectors_->ExactSearch(query, k, table_.LabelsIn(scope, nullptr));
  };
  // Scan or walk? A walk that may return only a fraction s = permitted / N of the graph
  // visits about 16 * ef / s nodes before ef permitted ones fill its candidate list, each at
  // about half the cost of a scanned vector (measured on 50k x 384 KLUE hash vectors, M 16:
  // tests/integration/filtered_vector_search_test.cc). Scanning the permitted chunks is then
  // the cheaper of the two when permitted^2 <= 8 * ef * N, and it is exact: at ef 256 that is
  // up to ~10k chunks of 50k and ~45k of 1M, so a 1% scope is scanned up to ~20M chunks.
  // Above it the walk runs with filtered_ef_search, which issue 4's recall bar needs.
  constexpr std::uint64_t kWalkCostPerEf = 8;
  const std::size_t ef = std::max(options_.vector.default_ef(/*filtered=*/true), k);
  // Both costs times `permitted`, to stay in integers.
  const std::uint64_t scan_cost = static_cast<std::uint64_t>(permitted) * permitted;
  const std::uint64_t walk_cost = kWalkCostPerEf * ef * table_.size();
  if (permitted <= options_.exact_scan_threshold || scan_cost <= walk_cost) return exact();
  const ScopeFilter scope_filter(table_, scope, filter);
  Result<std::vector<VectorHit>> hits = vectors_->Search(query, k, &scope_filter, ef);
  // The filtered walk can come back short when the filter cuts the graph apart; the permitted
  // set is not exhausted, so fall back to the exact answer rather than return fewer than k.
  if (hits && hits->size() < std::min(k, permitted)) return exact();
  return hits;
}

std::vector<KeywordHit> IndexSet::SearchKeyword(Field field, const std::vector<std::string>& terms,
                                                std::size_t k, const ContainerSet& scope,
                                                const MetadataFilter* metadata,
                                                const std::vector<float>* term_weights,
                                                const KeywordStatistics* global) const {
  std::shared_lock lock(mu_);
  if (metadata == nullptr || metadata->empty()) {
    return keywords_.Search(field, terms, k, scope, options_.bm25, nullptr, term_weights, global);
  }
  const ChunkTable::CompiledFilter compiled = table_.Compile(*metadata);
  const ScopeFilter filter(table_, scope, &compiled);
  return keywords_.Search(field, terms, k, scope, options_.bm25, &filter, term_weights, global);
}

void IndexSet::AddKeywordStatistics(Field field, const std::vector<std::string>& terms, const ContainerSet& scope,
                                    KeywordStatistics* into) const {
  std::shared_lock lock(mu_);
  keywords_.AddStatistics(field, terms, scope, into);
}

std::vector<std::size_t> IndexSet::KeywordDocFrequencies(const std::vector<std::string>& terms,
                                                         const ContainerSet& scope) const {
  std::shared_lock lock(mu_);
  std::vector<std::size_t> out;
  out.reserve(terms.size());
  for (const std::string& t : terms) {
    out.push_back(keywords_.DocFrequency(Field::kTitle, t, scope) + keywords_.DocFrequency(Field::kBody, t, scope));
  }
  return out;
}

std::vector<bool> IndexSet::KeywordTermsInScope(const std::vector<std::string>& terms,
                                                 const ContainerSet& scope) const {
  std::shared_lock lock(mu_);
  std::vector<bool> out;
  out.reserve(terms.size());
  for (const std::string& t : terms) {
    out.push_back(keywords_.InScope(Field::kTitle, t, scope) || keywords_.InScope(Field::kBody, t, scope));
  }
  return out;
}

std::size_t IndexSet::size() const {
  std::shared_lock lock(mu_);
  return table_.size();
}

std::size_t IndexSet::vector_tombstones() const { return vectors_->deleted(); }

std::size_t IndexSet::sealed_vector_segments() const { return vectors_->sealed_segments(); }

std::size_t IndexSet::sealed_keyword_segments() const {
  std::shared_lock lock(mu_);
  return keywords_.sealed_segments();
}

std::vector<std::pair<std::uint64_t, std::string>> IndexSet::Labels() const {
  std::shared_lock lock(mu_);
  return table_.Labels();
}

std::size_t IndexSet::vector_size() const { return vectors_->size(); }

std::size_t IndexSet::keyword_size() const {
  std::shared_lock lock(mu_);
  return keywords_.size();
}

}  // namespace tide::index
