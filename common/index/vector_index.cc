#include "common/index/vector_index.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>

#include "common/coding.h"
#include "common/file_util.h"
#include "common/index/hnswlib.h"

namespace tide::index {
namespace {

class FilterAdaptor : public hnswlib::BaseFilterFunctor {
 public:
  explicit FilterAdaptor(const LabelFilter* filter) : filter_(filter) {}
  bool operator()(hnswlib::labeltype id) override { return filter_->Allowed(id); }

 private:
  const LabelFilter* filter_;
};

// Runs insert(i) for every i in [0, n) on `threads` threads (the caller's among them) and
// returns the first failure. hnswlib reports errors by throwing.
Status ParallelInsert(std::size_t n, std::size_t threads, const std::function<void(std::size_t)>& insert) {
  std::atomic<std::size_t> next{0};
  std::mutex error_mu;
  std::string error;
  auto run = [&] {
    for (std::size_t i = next++; i < n; i = next++) {
      try {
        insert(i);
      } catch (const std::exception& e) {
        std::lock_guard lock(error_mu);
        if (error.empty()) error = e.what();
        next = n;  // the others stop at their next item
      }
    }
  };
  std::vector<std::thread> helpers;
  for (std::size_t t = 1; t < std::min(threads, n); ++t) helpers.emplace_back(run);
  run();
  for (std::thread& t : helpers) t.join();
  if (!error.empty()) return Status::Internal(error);
  return Status();
}

// Slots allocated up front: options.initial_capacity, but never more than a segment holds (a
// growing graph is sealed at segment_max_chunks, so room past it would only be memory).
std::size_t InitialCapacity(const VectorIndex::Options& options) {
  return std::max<std::size_t>(std::min(options.initial_capacity, options.max_graph_slots()), 16);
}

// Makes room for `needed` slots: doubling, but past the segment limit only as far as needed.
void Grow(hnswlib::HierarchicalNSW<float>& h, std::size_t needed, const VectorIndex::Options& options) {
  if (needed <= h.getMaxElements()) return;
  const std::size_t doubled = std::min(h.getMaxElements() * 2, std::max(options.max_graph_slots(), needed));
  h.resizeIndex(std::max(needed, doubled));
}

}  // namespace

struct VectorIndex::Impl {
  explicit Impl(const Options& o) : options(o), space(static_cast<std::size_t>(o.dim)) {
    if (options.insert_threads == 0) options.insert_threads = std::max(1u, std::thread::hardware_concurrency());
  }

  Options options;
  // `space` is declared before `hnsw`: the index keeps a pointer into it, so it must be
  // constructed first and destroyed last.
  hnswlib::InnerProductSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
  mutable std::shared_mutex mu;  // shared: searches and saves; exclusive: add, remove, resize

  // REQUIRES: mu held exclusively. Inserts labels[i] with vectors[i * dim, ...) for each
  // label not live, options.insert_threads at a time, growing the index first.
  Status InsertLocked(std::span<const std::uint64_t> labels, std::span<const float> vectors);

  // What TakeChanges() compares the graph with (see StartTracking): per slot, its label, its
  // level-0 links (with the delete mark) and its upper-level links.
  struct Shadow {
    std::size_t slots = 0;
    std::vector<hnswlib::labeltype> labels;
    std::vector<char> links0;  // slots x size_links_level0_
    std::vector<std::string> upper;
  };
  std::unique_ptr<Shadow> shadow;  // set while tracking

  // REQUIRES: mu held. The live internal id of `label`, or nullopt.
  std::optional<hnswlib::tableint> LiveId(std::uint64_t label) const {
    auto it = hnsw->label_lookup_.find(label);
    if (it == hnsw->label_lookup_.end() || hnsw->isMarkedDeleted(it->second)) return std::nullopt;
    return it->second;
  }
};

VectorIndex::VectorIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VectorIndex::~VectorIndex() = default;

Result<std::unique_ptr<VectorIndex>> VectorIndex::Create(const Options& options) {
  if (options.dim <= 0) return Status::InvalidArgument("vector dimension must be positive");
  auto impl = std::make_unique<Impl>(options);
  try {
    impl->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        &impl->space, InitialCapacity(options), options.m,
        options.ef_construction, options.seed, /*allow_replace_deleted=*/true);
    impl->hnsw->setEf(options.ef_search);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("creating hnsw index: ") + e.what());
  }
  return std::unique_ptr<VectorIndex>(new VectorIndex(std::move(impl)));
}

Result<std::unique_ptr<VectorIndex>> VectorIndex::Load(const std::filesystem::path& file,
                                                       const Options& options) {
  if (!std::filesystem::exists(file)) return Status::NotFound("no vector index at " + file.string());
  auto impl = std::make_unique<Impl>(options);
  try {
    impl->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        &impl->space, file.string(), /*nmslib=*/false, /*max_elements=*/0,
        /*allow_replace_deleted=*/true);
    impl->hnsw->setEf(options.ef_search);
  } catch (const std::exception& e) {
    return Status::Corruption("loading " + file.string() + ": " + e.what());
  }
  // loadIndex takes the dimension from the space, not the file; the per-element layout in
  // the file tells whether they agree (data sits between the level-0 links and the label).
  const hnswlib::HierarchicalNSW<float>& h = *impl->hnsw;
  std::size_t file_data_bytes = h.label_offset_ - h.offsetData_;
  if (file_data_bytes != static_cast<std::size_t>(options.dim) * sizeof(float)) {
    return Status::InvalidArgument("vector index " + file.string() + " has dimension " +
                                   std::to_string(file_data_bytes / sizeof(float)) +
                                   ", expected " + std::to_string(options.dim));
  }
  return std::unique_ptr<VectorIndex>(new VectorIndex(std::move(impl)));
}

Status VectorIndex::Impl::InsertLocked(std::span<const std::uint64_t> labels, std::span<const float> vectors) {
  const std::size_t dim = static_cast<std::size_t>(options.dim);
  hnswlib::HierarchicalNSW<float>& h = *hnsw;
  std::vector<std::size_t> todo;
  todo.reserve(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!LiveId(labels[i])) todo.push_back(i);
  }
  // Room for every insert up front: a resize cannot run beside inserts.
  const std::size_t deleted = h.getDeletedCount();
  const std::size_t fresh = todo.size() > deleted ? todo.size() - deleted : 0;
  const std::size_t needed = h.getCurrentElementCount() + fresh;
  try {
    Grow(h, needed, options);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("growing the vector index: ") + e.what());
  }
  Status s = ParallelInsert(todo.size(), options.insert_threads, [&](std::size_t j) {
    const std::size_t i = todo[j];
    h.addPoint(vectors.data() + i * dim, labels[i], /*replace_deleted=*/true);
  });
  if (!s.ok()) return Status::Internal("adding vectors: " + s.message());
  return Status();
}

Status VectorIndex::Add(std::uint64_t label, std::span<const float> vector) {
  if (vector.size() != static_cast<std::size_t>(impl_->options.dim)) {
    return Status::InvalidArgument("vector of dimension " + std::to_string(vector.size()) +
                                   ", index has " + std::to_string(impl_->options.dim));
  }
  std::unique_lock lock(impl_->mu);
  if (impl_->LiveId(label)) return Status::AlreadyExists("label " + std::to_string(label));
  return impl_->InsertLocked(std::span(&label, 1), vector);
}

Status VectorIndex::AddBatch(std::span<const std::uint64_t> labels, std::span<const float> vectors) {
  const std::size_t dim = static_cast<std::size_t>(impl_->options.dim);
  if (vectors.size() != labels.size() * dim) {
    return Status::InvalidArgument(std::to_string(vectors.size()) + " floats for " +
                                   std::to_string(labels.size()) + " vectors of dimension " + std::to_string(dim));
  }
  std::unique_lock lock(impl_->mu);
  return impl_->InsertLocked(labels, vectors);
}

Status VectorIndex::Remove(std::uint64_t label) {
  std::unique_lock lock(impl_->mu);
  if (!impl_->LiveId(label)) return Status::NotFound("label " + std::to_string(label));
  try {
    impl_->hnsw->markDelete(label);
  } catch (const std::exception& e) {
    return Status::Internal("removing label " + std::to_string(label) + ": " + e.what());
  }
  return Status();
}

Status VectorIndex::Rebuild() {
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> fresh;
  try {
    // Shared: searches continue, and Add/Remove cannot run (the caller is the only writer).
    std::shared_lock lock(impl_->mu);
    hnswlib::HierarchicalNSW<float>& old = *impl_->hnsw;  // read only; hnswlib lacks const getters
    const std::size_t live = old.getCurrentElementCount() - old.getDeletedCount();
    fresh = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        &impl_->space, std::max(live, InitialCapacity(impl_->options)), impl_->options.m,
        impl_->options.ef_construction, impl_->options.seed, /*allow_replace_deleted=*/true);
    // In label order, so that a rebuild of the same content builds the same graph.
    std::vector<std::pair<std::uint64_t, hnswlib::tableint>> ids;
    ids.reserve(live);
    for (const auto& [label, id] : old.label_lookup_) {
      if (!old.isMarkedDeleted(id)) ids.emplace_back(label, id);
    }
    std::sort(ids.begin(), ids.end());
    TIDE_RETURN_IF_ERROR(ParallelInsert(ids.size(), impl_->options.insert_threads, [&](std::size_t i) {
      fresh->addPoint(old.getDataByInternalId(ids[i].second), ids[i].first);
    }));
    fresh->setEf(impl_->options.ef_search);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("rebuilding hnsw index: ") + e.what());
  }
  std::unique_lock lock(impl_->mu);
  impl_->hnsw = std::move(fresh);
  impl_->shadow.reset();  // the old graph's state means nothing for the new one
  return Status();
}

Result<std::vector<VectorHit>> VectorIndex::Search(std::span<const float> query, std::size_t k,
                                                   const LabelFilter* filter,
                                                   std::size_t ef) const {
  if (query.size() != static_cast<std::size_t>(impl_->options.dim)) {
    return Status::InvalidArgument("query vector has the wrong dimension");
  }
  std::vector<VectorHit> hits;
  if (k == 0) return hits;
  if (ef == 0) {
    ef = filter == nullptr ? impl_->options.ef_search
                           : std::max(impl_->options.ef_search, impl_->options.filtered_ef_search);
  }
  ef = std::max(ef, k);
  std::shared_lock lock(impl_->mu);
  const hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  if (h.cur_element_count == 0) return hits;
  // This is hnswlib's searchKnn with the ef passed in: searchKnn reads the index-wide ef_,
  // and setEf() under our shared lock would race with concurrent searches. The greedy descent
  // through the upper layers is copied; the base-layer search is hnswlib's own (public,
  // const, thread-safe: its visited lists come from a locked pool).
  auto dist = impl_->space.get_dist_func();
  void* param = impl_->space.get_dist_func_param();
  try {
    hnswlib::tableint cur = h.enterpoint_node_;
    float cur_dist = dist(query.data(), h.getDataByInternalId(cur), param);
    for (int level = h.maxlevel_; level > 0; --level) {
      for (bool changed = true; changed;) {
        changed = false;
        hnswlib::linklistsizeint* links = h.get_linklist(cur, level);
        const auto* neighbours = reinterpret_cast<const hnswlib::tableint*>(links + 1);
        for (std::size_t i = 0, n = h.getListCount(links); i < n; ++i) {
          float d = dist(query.data(), h.getDataByInternalId(neighbours[i]), param);
          if (d < cur_dist) {
            cur_dist = d;
            cur = neighbours[i];
            changed = true;
          }
        }
      }
    }
    FilterAdaptor adaptor(filter);
    auto top = h.num_deleted_ == 0 && filter == nullptr
                   ? h.searchBaseLayerST<true>(cur, query.data(), ef)
                   : h.searchBaseLayerST<false>(cur, query.data(), ef, filter ? &adaptor : nullptr);
    while (top.size() > k) top.pop();
    hits.resize(top.size());
    // The queue pops the farthest first.
    for (std::size_t i = top.size(); i-- > 0; top.pop()) {
      hits[i] = {h.getExternalLabel(top.top().second), 1.0f - top.top().first};
    }
  } catch (const std::exception& e) {
    return Status::Internal(std::string("vector search: ") + e.what());
  }
  return hits;
}

Result<std::vector<VectorHit>> VectorIndex::ExactSearch(std::span<const float> query,
                                                        std::size_t k,
                                                        std::span<const std::uint64_t> labels) const {
  std::vector<VectorHit> hits;
  if (k == 0) return hits;
  std::vector<std::uint64_t> missing;
  TIDE_RETURN_IF_ERROR(ScoreLive(query, labels, &hits, &missing));
  KeepBest(&hits, k);
  return hits;
}

Status VectorIndex::ScoreLive(std::span<const float> query, std::span<const std::uint64_t> labels,
                              std::vector<VectorHit>* hits, std::vector<std::uint64_t>* missing) const {
  if (query.size() != static_cast<std::size_t>(impl_->options.dim)) {
    return Status::InvalidArgument("query vector has the wrong dimension");
  }
  std::shared_lock lock(impl_->mu);
  const hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  auto dist = impl_->space.get_dist_func();
  void* param = impl_->space.get_dist_func_param();
  // Resolve the labels first, then read the vectors in internal-id (memory) order: the
  // labels come grouped by container, which scatters them over the index's memory.
  std::vector<std::pair<hnswlib::tableint, std::uint64_t>> ids;
  ids.reserve(labels.size());
  for (std::uint64_t label : labels) {
    if (std::optional<hnswlib::tableint> id = impl_->LiveId(label)) {
      ids.emplace_back(*id, label);
    } else {
      missing->push_back(label);
    }
  }
  std::sort(ids.begin(), ids.end());
  hits->reserve(hits->size() + ids.size());
  for (const auto& [id, label] : ids) {
    hits->push_back({label, 1.0f - dist(query.data(), h.getDataByInternalId(id), param)});
  }
  return Status();
}

void KeepBest(std::vector<VectorHit>* hits, std::size_t k) {
  auto better = [](const VectorHit& a, const VectorHit& b) {
    return a.score != b.score ? a.score > b.score : a.label < b.label;
  };
  if (hits->size() > k) {
    std::partial_sort(hits->begin(), hits->begin() + static_cast<std::ptrdiff_t>(k), hits->end(), better);
    hits->resize(k);
  } else {
    std::sort(hits->begin(), hits->end(), better);
  }
}

bool VectorIndex::Contains(std::uint64_t label) const {
  std::shared_lock lock(impl_->mu);
  return impl_->LiveId(label).has_value();
}

std::vector<std::uint64_t> VectorIndex::AllLabels() const {
  std::shared_lock lock(impl_->mu);
  const hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  std::vector<std::uint64_t> out;
  out.reserve(h.cur_element_count);
  for (hnswlib::tableint id = 0; id < h.cur_element_count; ++id) out.push_back(h.getExternalLabel(id));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::uint64_t> VectorIndex::DeletedLabels() const {
  std::shared_lock lock(impl_->mu);
  const hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  std::vector<std::uint64_t> out;
  out.reserve(h.num_deleted_);
  for (hnswlib::tableint id = 0; id < h.cur_element_count; ++id) {
    if (h.isMarkedDeleted(id)) out.push_back(h.getExternalLabel(id));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status VectorIndex::SetDeleted(std::span<const std::uint64_t> labels) {
  std::unique_lock lock(impl_->mu);
  hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  std::vector<hnswlib::tableint> wanted;
  wanted.reserve(labels.size());
  for (std::uint64_t label : labels) {
    auto it = h.label_lookup_.find(label);
    if (it == h.label_lookup_.end()) {
      return Status::Corruption("tombstone for label " + std::to_string(label) + ", which the graph does not hold");
    }
    wanted.push_back(it->second);
  }
  std::sort(wanted.begin(), wanted.end());
  try {
    for (hnswlib::tableint id = 0; id < h.cur_element_count; ++id) {
      const bool deleted = std::binary_search(wanted.begin(), wanted.end(), id);
      if (deleted && !h.isMarkedDeleted(id)) h.markDeletedInternal(id);
      if (!deleted && h.isMarkedDeleted(id)) h.unmarkDeletedInternal(id);
    }
  } catch (const std::exception& e) {
    return Status::Internal(std::string("setting tombstones: ") + e.what());
  }
  return Status();
}

Status VectorIndex::Save(const std::filesystem::path& file) const {
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  {
    std::shared_lock lock(impl_->mu);
    try {
      impl_->hnsw->saveIndex(tmp.string());
    } catch (const std::exception& e) {
      return Status::Unavailable("saving " + tmp.string() + ": " + e.what());
    }
  }
  // hnswlib's saveIndex checks no stream errors: a short file is caught here, or by Load().
  std::error_code ec;
  if (std::filesystem::file_size(tmp, ec) == 0 || ec) {
    return Status::Unavailable("saving " + tmp.string() + ": file missing or empty");
  }
  TIDE_RETURN_IF_ERROR(SyncPath(tmp));
  std::filesystem::rename(tmp, file, ec);
  if (ec) return Status::Unavailable("renaming " + tmp.string() + ": " + ec.message());
  return SyncPath(file.parent_path());
}

std::size_t VectorIndex::size() const {
  std::shared_lock lock(impl_->mu);
  return impl_->hnsw->getCurrentElementCount() - impl_->hnsw->getDeletedCount();
}

std::size_t VectorIndex::deleted() const {
  std::shared_lock lock(impl_->mu);
  return impl_->hnsw->getDeletedCount();
}

std::size_t VectorIndex::slots() const {
  std::shared_lock lock(impl_->mu);
  return impl_->hnsw->getCurrentElementCount();
}

namespace {

constexpr std::uint64_t kChangesFormat = 1;
// hnswlib draws levels from an exponential distribution; anything near this is damage.
constexpr std::uint64_t kMaxLevel = 64;

std::size_t UpperBytes(const hnswlib::HierarchicalNSW<float>& h, int level) {
  return level > 0 ? h.size_links_per_element_ * static_cast<std::size_t>(level) : 0;
}

std::string_view Upper(const hnswlib::HierarchicalNSW<float>& h, hnswlib::tableint id) {
  const int level = h.element_levels_[id];
  return level > 0 ? std::string_view(h.linkLists_[id], UpperBytes(h, level)) : std::string_view();
}

std::string_view Links0(const hnswlib::HierarchicalNSW<float>& h, hnswlib::tableint id) {
  return std::string_view(reinterpret_cast<const char*>(h.get_linklist0(id)), h.size_links_level0_);
}

std::string_view Element0(const hnswlib::HierarchicalNSW<float>& h, hnswlib::tableint id) {
  return std::string_view(h.data_level0_memory_ + id * h.size_data_per_element_, h.size_data_per_element_);
}

}  // namespace

void VectorIndex::StartTracking() {
  std::shared_lock lock(impl_->mu);
  const hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  auto shadow = std::make_unique<Impl::Shadow>();
  shadow->slots = h.cur_element_count;
  shadow->labels.resize(shadow->slots);
  shadow->links0.resize(shadow->slots * h.size_links_level0_);
  shadow->upper.resize(shadow->slots);
  for (hnswlib::tableint id = 0; id < shadow->slots; ++id) {
    shadow->labels[id] = h.getExternalLabel(id);
    std::memcpy(shadow->links0.data() + id * h.size_links_level0_, h.get_linklist0(id), h.size_links_level0_);
    shadow->upper[id] = Upper(h, id);
  }
  impl_->shadow = std::move(shadow);
}

bool VectorIndex::tracking() const { return impl_->shadow != nullptr; }

// The encoding (all integers LEB128 varints, B = varint length + bytes):
//   format (1), slots before, slots after, max level, entry point,
//   number of added elements, each: id, level, B level-0 element (links, vector, label),
//                                   B upper-level links (level x size_links_per_element_)
//   number of relinked elements, each: id, B level-0 links, B upper-level links
// "Added" are the slots past `before` and the reused ones (another label); "relinked" are the
// others whose links or delete mark changed.
std::string VectorIndex::TakeChanges() {
  std::shared_lock lock(impl_->mu);  // reads only; the caller is the single writer
  const hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  Impl::Shadow& shadow = *impl_->shadow;
  const std::size_t before = shadow.slots, after = h.cur_element_count;
  std::vector<hnswlib::tableint> added, relinked;
  for (hnswlib::tableint id = 0; id < before; ++id) {
    if (h.getExternalLabel(id) != shadow.labels[id]) {
      added.push_back(id);
    } else if (std::memcmp(h.get_linklist0(id), shadow.links0.data() + id * h.size_links_level0_,
                           h.size_links_level0_) != 0 ||
               Upper(h, id) != shadow.upper[id]) {
      relinked.push_back(id);
    }
  }
  for (hnswlib::tableint id = static_cast<hnswlib::tableint>(before); id < after; ++id) added.push_back(id);

  std::string out;
  PutVarint(&out, kChangesFormat);
  PutVarint(&out, before);
  PutVarint(&out, after);
  PutVarint(&out, static_cast<std::uint64_t>(h.maxlevel_));
  PutVarint(&out, h.enterpoint_node_);
  PutVarint(&out, added.size());
  for (hnswlib::tableint id : added) {
    PutVarint(&out, id);
    PutVarint(&out, static_cast<std::uint64_t>(h.element_levels_[id]));
    PutBytes(&out, Element0(h, id));
    PutBytes(&out, Upper(h, id));
  }
  PutVarint(&out, relinked.size());
  for (hnswlib::tableint id : relinked) {
    PutVarint(&out, id);
    PutBytes(&out, Links0(h, id));
    PutBytes(&out, Upper(h, id));
  }

  shadow.slots = after;
  shadow.labels.resize(after);
  shadow.links0.resize(after * h.size_links_level0_);
  shadow.upper.resize(after);
  for (const auto* ids : {&added, &relinked}) {
    for (hnswlib::tableint id : *ids) {
      shadow.labels[id] = h.getExternalLabel(id);
      std::memcpy(shadow.links0.data() + id * h.size_links_level0_, h.get_linklist0(id), h.size_links_level0_);
      shadow.upper[id] = Upper(h, id);
    }
  }
  return out;
}

Status VectorIndex::ApplyChanges(std::string_view changes) {
  std::unique_lock lock(impl_->mu);
  hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  auto bad = [](const std::string& what) { return Status::Corruption("graph changes: " + what); };

  // Parse and check everything before touching the graph.
  struct Entry {
    std::uint64_t id = 0, level = 0;
    std::string_view level0, upper;
  };
  Reader r(changes);
  std::uint64_t format = 0, before = 0, after = 0, max_level = 0, entry_point = 0, n = 0;
  if (!r.GetVarint(&format) || format != kChangesFormat) return bad("unknown format");
  if (!r.GetVarint(&before) || !r.GetVarint(&after) || !r.GetVarint(&max_level) || !r.GetVarint(&entry_point)) {
    return bad("truncated header");
  }
  if (before != h.cur_element_count) {
    return bad("they follow a graph of " + std::to_string(before) + " slots, this one has " +
               std::to_string(h.cur_element_count.load()));
  }
  if (after < before || after > std::numeric_limits<hnswlib::tableint>::max() || max_level > kMaxLevel ||
      (after > 0 && entry_point >= after)) {
    return bad("inconsistent header");
  }
  std::vector<Entry> added, relinked;
  std::vector<bool> seen(after - before, false);
  if (!r.GetVarint(&n) || n > after) return bad("truncated added elements");
  for (std::uint64_t i = 0; i < n; ++i) {
    Entry e;
    if (!r.GetVarint(&e.id) || !r.GetVarint(&e.level) || !r.GetBytes(&e.level0) || !r.GetBytes(&e.upper)) {
      return bad("truncated added element");
    }
    if (e.id >= after || e.level > kMaxLevel || e.level0.size() != h.size_data_per_element_ ||
        e.upper.size() != UpperBytes(h, static_cast<int>(e.level))) {
      return bad("malformed added element " + std::to_string(e.id));
    }
    if (e.id >= before) {
      if (seen[e.id - before]) return bad("element " + std::to_string(e.id) + " added twice");
      seen[e.id - before] = true;
    } else if (static_cast<int>(e.level) != h.element_levels_[e.id]) {
      return bad("reused slot " + std::to_string(e.id) + " changes level");
    }
    added.push_back(e);
  }
  if (std::find(seen.begin(), seen.end(), false) != seen.end()) return bad("a new slot is missing");
  if (!r.GetVarint(&n) || n > before) return bad("truncated relinked elements");
  for (std::uint64_t i = 0; i < n; ++i) {
    Entry e;
    if (!r.GetVarint(&e.id) || !r.GetBytes(&e.level0) || !r.GetBytes(&e.upper)) return bad("truncated relinked element");
    if (e.id >= before || e.level0.size() != h.size_links_level0_ ||
        e.upper.size() != UpperBytes(h, h.element_levels_[e.id])) {
      return bad("malformed relinked element " + std::to_string(e.id));
    }
    relinked.push_back(e);
  }
  if (!r.empty()) return bad("trailing bytes");

  try {
    Grow(h, after, impl_->options);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("growing the vector index: ") + e.what());
  }
  // Delete marks live in the level-0 links; hnswlib also counts them and, for reuse, lists them.
  auto note_mark = [&](hnswlib::tableint id, bool was_deleted) {
    const bool deleted = h.isMarkedDeleted(id);
    if (deleted == was_deleted) return;
    if (deleted) {
      ++h.num_deleted_;
      if (h.allow_replace_deleted_) h.deleted_elements.insert(id);
    } else {
      --h.num_deleted_;
      h.deleted_elements.erase(id);
    }
  };
  for (const Entry& e : added) {
    const auto id = static_cast<hnswlib::tableint>(e.id);
    const bool reused = e.id < before;
    const bool was_deleted = reused && h.isMarkedDeleted(id);
    if (reused) h.label_lookup_.erase(h.getExternalLabel(id));
    std::memcpy(h.data_level0_memory_ + e.id * h.size_data_per_element_, e.level0.data(), e.level0.size());
    if (!reused) {
      h.element_levels_[id] = static_cast<int>(e.level);
      if (e.level > 0) {
        h.linkLists_[id] = static_cast<char*>(std::malloc(e.upper.size() + 1));
        if (h.linkLists_[id] == nullptr) return Status::Internal("out of memory for upper-level links");
      }
    }
    if (e.level > 0) std::memcpy(h.linkLists_[id], e.upper.data(), e.upper.size());
    h.label_lookup_[h.getExternalLabel(id)] = id;
    if (reused) {
      note_mark(id, was_deleted);
    } else if (h.isMarkedDeleted(id)) {
      note_mark(id, false);
    }
  }
  for (const Entry& e : relinked) {
    const auto id = static_cast<hnswlib::tableint>(e.id);
    const bool was_deleted = h.isMarkedDeleted(id);
    std::memcpy(h.get_linklist0(id), e.level0.data(), e.level0.size());
    if (!e.upper.empty()) std::memcpy(h.linkLists_[id], e.upper.data(), e.upper.size());
    note_mark(id, was_deleted);
  }
  h.cur_element_count = after;
  h.maxlevel_ = static_cast<int>(max_level);
  h.enterpoint_node_ = static_cast<hnswlib::tableint>(entry_point);
  return Status();
}

std::uint64_t VectorIndex::ContentHash() const {
  std::shared_lock lock(impl_->mu);
  const hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a
  auto mix = [&](std::string_view bytes) {
    for (char c : bytes) hash = (hash ^ static_cast<std::uint8_t>(c)) * 1099511628211ull;
  };
  auto mix_number = [&](std::uint64_t v) { mix(std::string_view(reinterpret_cast<const char*>(&v), sizeof(v))); };
  mix_number(h.cur_element_count);
  mix_number(static_cast<std::uint64_t>(h.maxlevel_));
  mix_number(h.cur_element_count > 0 ? h.enterpoint_node_ : 0);
  mix_number(h.num_deleted_);
  for (hnswlib::tableint id = 0; id < h.cur_element_count; ++id) {
    mix(Element0(h, id));
    mix_number(static_cast<std::uint64_t>(h.element_levels_[id]));
    mix(Upper(h, id));
  }
  return hash;
}

int VectorIndex::dim() const { return impl_->options.dim; }

}  // namespace tide::index
