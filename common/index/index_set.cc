#include "common/index/index_set.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/coding.h"
#include "common/file_util.h"
#include "common/storage/store.h"

namespace tide::index {
namespace {

// 2: chunk filter attributes (doc_type, tags, dates) after the container tables.
constexpr std::uint64_t kTablesFormat = 2;
constexpr const char* kSnapshotPrefix = "snap-";

std::string SnapshotName(std::uint64_t seq) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s%020" PRIu64, kSnapshotPrefix, seq);
  return buf;
}

// Snapshot directories under root, newest first.
std::vector<std::filesystem::path> ListSnapshots(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> dirs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind(kSnapshotPrefix, 0) == 0) dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end(), std::greater<>());
  return dirs;
}

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

Result<std::size_t> IndexSet::CatchUp(const storage::Store& store, std::size_t max_changes) {
  std::lock_guard apply_lock(apply_mu_);
  std::uint64_t next = applied_seq() + 1;
  std::size_t applied = 0;
  while (applied < max_changes) {
    std::optional<storage::ChangeRecord> change;
    Status scan = store.Scan(storage::Cf::kChanges, storage::EncodeU64(next), "",
                             [&](std::string_view key, std::string_view value) {
                               Result<std::uint64_t> seq = storage::DecodeU64(key);
                               Result<storage::ChangeRecord> rec = storage::DecodeChange(value);
                               if (seq && rec && *seq == next) change = std::move(*rec);
                               return false;
                             });
    TIDE_RETURN_IF_ERROR(scan);
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
          if (!rec) return rec.status();
          Result<std::vector<float>> v = storage::DecodeVector(**vec);
          if (!v) return v.status();
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
                                                const MetadataFilter* metadata) const {
  std::shared_lock lock(mu_);
  if (metadata == nullptr || metadata->empty()) return keywords_.Search(field, terms, k, scope, options_.bm25);
  const CompiledFilter compiled = Compile(*metadata);
  const ScopeFilter filter(*this, scope, &compiled);
  return keywords_.Search(field, terms, k, scope, options_.bm25, &filter);
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

std::string IndexSet::EncodeTables() const {
  std::string out;
  PutVarint(&out, kTablesFormat);
  PutVarint(&out, applied_seq_);
  PutVarint(&out, applied_offsets_.size());
  for (const auto& [tp, offset] : applied_offsets_) {
    PutBytes(&out, tp);
    PutVarint(&out, static_cast<std::uint64_t>(offset));
  }
  PutVarint(&out, container_names_.size());
  for (std::size_t c = 0; c < container_names_.size(); ++c) {
    PutBytes(&out, container_names_[c]);
    PutVarint(&out, container_labels_[c].size());
    for (std::uint64_t label : container_labels_[c]) PutVarint(&out, label);
  }
  // Filter attributes: the interned names, then per chunk in the order of the labels above:
  // doc type id, tag ids, and a flag varint saying which dates follow (zigzag varints).
  auto put_names = [&](const NameTable& table, std::size_t first) {
    PutVarint(&out, table.names.size() - first);
    for (std::size_t i = first; i < table.names.size(); ++i) PutBytes(&out, table.names[i]);
  };
  put_names(doc_types_, 1);  // not the implicit "none"
  put_names(tags_, 0);
  auto zigzag = [](std::int64_t v) {
    return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
  };
  for (const std::vector<std::uint64_t>& labels : container_labels_) {
    for (std::uint64_t label : labels) {
      const ChunkEntry& e = chunks_.at(label);
      PutVarint(&out, e.doc_type);
      PutVarint(&out, e.tags.size());
      for (std::uint32_t t : e.tags) PutVarint(&out, t);
      const bool created = e.created_at != storage::kNoDate, updated = e.updated_at != storage::kNoDate;
      PutVarint(&out, (created ? 1u : 0u) | (updated ? 2u : 0u));
      if (created) PutVarint(&out, zigzag(e.created_at));
      if (updated) PutVarint(&out, zigzag(e.updated_at));
    }
  }
  keywords_.AppendTo(&out);
  return out;
}

Status IndexSet::DecodeTables(std::string_view in) {
  Reader r(in);
  auto bad = [](const char* what) { return Status::Corruption(std::string("index tables: ") + what); };
  std::uint64_t format = 0, noffsets = 0, ncontainers = 0;
  if (!r.GetVarint(&format) || format != kTablesFormat) return bad("unknown format");
  if (!r.GetVarint(&applied_seq_) || !r.GetVarint(&noffsets)) return bad("truncated header");
  for (std::uint64_t i = 0; i < noffsets; ++i) {
    std::string_view tp;
    std::uint64_t offset = 0;
    if (!r.GetBytes(&tp) || !r.GetVarint(&offset)) return bad("truncated offsets");
    applied_offsets_[std::string(tp)] = static_cast<std::int64_t>(offset);
  }
  if (!r.GetVarint(&ncontainers)) return bad("truncated containers");
  for (std::uint64_t c = 0; c < ncontainers; ++c) {
    std::string_view name;
    std::uint64_t n = 0;
    if (!r.GetBytes(&name) || !r.GetVarint(&n)) return bad("truncated container");
    std::uint32_t ordinal = InternContainer(std::string(name));
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t label = 0;
      if (!r.GetVarint(&label)) return bad("truncated labels");
      chunks_.emplace(label, ChunkEntry{ordinal, static_cast<std::uint32_t>(i)});
      container_labels_[ordinal].push_back(label);
    }
  }
  // Ids are positions in the file's lists, so a name may appear once.
  auto get_names = [&](NameTable* table, const char* truncated) -> Status {
    std::uint64_t n = 0;
    if (!r.GetVarint(&n)) return bad(truncated);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::string_view name;
      if (!r.GetBytes(&name)) return bad(truncated);
      const std::size_t before = table->names.size();
      table->Intern(name);
      if (table->names.size() == before) return bad("duplicate filter value");
    }
    return Status();
  };
  TIDE_RETURN_IF_ERROR(get_names(&doc_types_, "truncated doc types"));
  TIDE_RETURN_IF_ERROR(get_names(&tags_, "truncated tags"));
  auto unzigzag = [](std::uint64_t v) { return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1); };
  for (const std::vector<std::uint64_t>& labels : container_labels_) {
    for (std::uint64_t label : labels) {
      ChunkEntry& e = chunks_.at(label);
      std::uint64_t doc_type = 0, n = 0, v = 0;
      if (!r.GetVarint(&doc_type) || doc_type >= doc_types_.names.size() || !r.GetVarint(&n)) return bad("truncated attributes");
      e.doc_type = static_cast<std::uint32_t>(doc_type);
      for (std::uint64_t i = 0; i < n; ++i) {
        if (!r.GetVarint(&v) || v >= tags_.names.size()) return bad("bad tag id");
        e.tags.push_back(static_cast<std::uint32_t>(v));
      }
      std::uint64_t bits = 0;
      if (!r.GetVarint(&bits)) return bad("truncated attributes");
      if ((bits & 1) != 0) {
        if (!r.GetVarint(&v)) return bad("truncated date");
        e.created_at = unzigzag(v);
      }
      if ((bits & 2) != 0) {
        if (!r.GetVarint(&v)) return bad("truncated date");
        e.updated_at = unzigzag(v);
      }
    }
  }
  // The keyword index occupies the remainder.
  return keywords_.ParseFrom(r.remaining());
}

Status IndexSet::SaveSnapshot(const std::filesystem::path& root, int keep) const {
  std::lock_guard apply_lock(apply_mu_);  // no change is half-applied while we write
  std::string tables;
  std::uint64_t seq = 0;
  std::size_t chunks = 0;
  {
    std::shared_lock lock(mu_);
    seq = applied_seq_;
    chunks = chunks_.size();
    tables = EncodeTables();
  }
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return Status::Unavailable("creating " + root.string() + ": " + ec.message());
  const std::filesystem::path final_dir = root / SnapshotName(seq);
  if (std::filesystem::exists(final_dir)) {
    // Nothing new since the last one, unless that one was written under another analyzer
    // scheme or tables format (LoadLatestSnapshot skips it): then this state replaces it, or
    // every restart would rebuild again.
    Result<std::string> old_manifest = ReadFile(final_dir / "MANIFEST.json");
    const nlohmann::json old = old_manifest ? nlohmann::json::parse(*old_manifest, nullptr, false) : nlohmann::json();
    if (old.is_object() && old.value("analyzer", std::string()) == analyzer_.SchemeId() &&
        old.value("format", std::uint64_t{0}) == kTablesFormat) {
      return Status();
    }
    std::filesystem::remove_all(final_dir, ec);
    if (ec) return Status::Unavailable("replacing " + final_dir.string() + ": " + ec.message());
  }
  const std::filesystem::path tmp_dir =
      root / (".tmp-" + SnapshotName(seq) + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(tmp_dir, ec);
  std::filesystem::create_directories(tmp_dir, ec);
  if (ec) return Status::Unavailable("creating " + tmp_dir.string() + ": " + ec.message());

  TIDE_RETURN_IF_ERROR(vectors_->Save(tmp_dir / "vectors.hnsw"));
  TIDE_RETURN_IF_ERROR(WriteFileAtomic(tmp_dir / "tables.bin", tables));
  nlohmann::json manifest = {{"format", kTablesFormat},
                             {"seq", seq},
                             {"chunks", chunks},
                             {"model_id", options_.model_id},
                             {"dimension", options_.vector.dim},
                             {"analyzer", analyzer_.SchemeId()}};
  TIDE_RETURN_IF_ERROR(WriteFileAtomic(tmp_dir / "MANIFEST.json", manifest.dump(2)));
  TIDE_RETURN_IF_ERROR(SyncPath(tmp_dir));
  std::filesystem::rename(tmp_dir, final_dir, ec);
  if (ec) return Status::Unavailable("renaming snapshot into place: " + ec.message());
  TIDE_RETURN_IF_ERROR(SyncPath(root));
  spdlog::info("snapshot written dir={} seq={} chunks={}", final_dir.string(), seq, chunks);

  std::vector<std::filesystem::path> all = ListSnapshots(root);
  for (std::size_t i = static_cast<std::size_t>(std::max(keep, 1)); i < all.size(); ++i) {
    std::filesystem::remove_all(all[i], ec);
  }
  return Status();
}

std::optional<std::uint64_t> IndexSet::LatestSnapshotSeq(const std::filesystem::path& root) {
  for (const std::filesystem::path& dir : ListSnapshots(root)) {
    const std::string digits = dir.filename().string().substr(std::string_view(kSnapshotPrefix).size());
    if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos) {
      return std::stoull(digits);
    }
  }
  return std::nullopt;
}

Result<std::unique_ptr<IndexSet>> IndexSet::LoadLatestSnapshot(const std::filesystem::path& root,
                                                              const Options& options) {
  std::vector<std::filesystem::path> all = ListSnapshots(root);
  if (all.empty()) return Status::NotFound("no snapshot under " + root.string());
  Status last;
  for (const std::filesystem::path& dir : all) {
    Result<std::string> manifest_text = ReadFile(dir / "MANIFEST.json");
    if (!manifest_text) {
      last = manifest_text.status();
      continue;  // being pruned by the writer, or torn: try an older one
    }
    nlohmann::json manifest = nlohmann::json::parse(*manifest_text, nullptr, /*allow_exceptions=*/false);
    if (manifest.is_discarded() || !manifest.contains("model_id") || !manifest.contains("dimension")) {
      last = Status::Corruption("unreadable manifest in " + dir.string());
      continue;
    }
    const std::string model = manifest["model_id"].is_string() ? manifest["model_id"].get<std::string>() : "";
    if (model != options.model_id || manifest["dimension"] != options.vector.dim) {
      return Status::InvalidArgument("snapshot " + dir.string() + " was built with embedder '" + model +
                                     "' (dimension " + manifest["dimension"].dump() +
                                     "), but this process is configured for '" + options.model_id +
                                     "' (dimension " + std::to_string(options.vector.dim) + ")");
    }
    std::unique_ptr<IndexSet> set(new IndexSet(options));
    // Keyword postings hold the analyzer's terms. A snapshot from another term scheme (or one
    // written before the manifest recorded it) would mix schemes with what this process
    // indexes and queries, so it is skipped: with no loadable snapshot the caller rebuilds
    // from the store, which is the source of truth.
    const std::string scheme = manifest.value("analyzer", std::string());
    if (scheme != set->analyzer_.SchemeId()) {
      spdlog::warn("snapshot {} skipped: built with analyzer scheme '{}', this build uses '{}'",
                   dir.string(), scheme.empty() ? "(unrecorded)" : scheme, set->analyzer_.SchemeId());
      last = Status::InvalidArgument("snapshot " + dir.string() + " uses analyzer scheme '" + scheme +
                                        "', not '" + set->analyzer_.SchemeId() + "'");
      continue;
    }
    Result<std::unique_ptr<VectorIndex>> vectors = VectorIndex::Load(dir / "vectors.hnsw", options.vector);
    if (!vectors) {
      last = vectors.status();
      continue;
    }
    set->vectors_ = std::move(*vectors);
    Result<std::string> tables = ReadFile(dir / "tables.bin");
    if (!tables) {
      last = tables.status();
      continue;
    }
    Status s = set->DecodeTables(*tables);
    if (!s.ok()) {
      last = s;
      continue;
    }
    spdlog::info("snapshot loaded dir={} seq={} chunks={}", dir.string(), set->applied_seq_,
                 set->chunks_.size());
    return set;
  }
  return Status::NotFound("no loadable snapshot under " + root.string() + ": " + last.ToString());
}

}  // namespace tide::index
