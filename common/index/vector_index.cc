#include "common/index/vector_index.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>

#include "common/file_util.h"
#include "common/index/hnswlib.h"
#include "common/index/snapshot_files.h"
#include "common/index/vector_index_impl.h"

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

}  // namespace


void VectorIndex::Impl::Grow(std::size_t needed) {
  hnswlib::HierarchicalNSW<float>& h = *hnsw;
  if (needed <= h.getMaxElements()) return;
  const std::size_t doubled = std::min(h.getMaxElements() * 2, std::max(options.max_graph_slots(), needed));
  h.resizeIndex(std::max(needed, doubled));
}

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
  Result<std::unique_ptr<SnapshotFileReader>> in = SnapshotFileReader::Open(file);
  if (!in) {
    if (in.status().code() == Status::Code::kNotFound) return Status::NotFound("no vector index at " + file.string());
    return in.status();
  }
  Result<std::unique_ptr<VectorIndex>> index = Load(in->get(), options);
  if (index && (*in)->remaining() > 0) {
    return Status::Corruption(file.string() + " goes on for " + std::to_string((*in)->remaining()) +
                              " bytes past the end of its graph");
  }
  return index;
}

namespace {

template <typename T>
Status ReadBytesOf(SnapshotFileReader* in, T* value) {
  return in->Read(value, sizeof(T));
}

// Deepest level a graph may claim: hnswlib draws levels as -ln(U) * mult with mult = 1/ln(M),
// so even M = 2 reaches 64 with odds of 2^-64.
constexpr int kMaxLevel = 64;

}  // namespace

// The layout ImageTo writes (hnswlib's saveIndex format): the header, every slot's level-0
// record, then each slot's upper-level links preceded by their length. hnswlib's own
// loadIndex walks the file twice through an ifstream, seeking and asking the position at
// every slot (millions of system calls at 1M), and reads it beside the checksum's read; this
// reads it once, in order, and checks what it relies on before it allocates or indexes.
Result<std::unique_ptr<VectorIndex>> VectorIndex::Load(SnapshotFileReader* in, const Options& options) {
  auto impl = std::make_unique<Impl>(options);
  auto bad = [&](const std::string& what) {
    return Status::Corruption("vector index " + in->path().string() + ": " + what);
  };
  std::size_t offset_level0 = 0, max_elements = 0, count = 0, size_data = 0, label_offset = 0, offset_data = 0;
  std::size_t max_m = 0, max_m0 = 0, m = 0, ef_construction = 0;
  int max_level = 0;
  hnswlib::tableint enter = 0;
  double mult = 0;
  for (Status s : {ReadBytesOf(in, &offset_level0), ReadBytesOf(in, &max_elements), ReadBytesOf(in, &count),
                   ReadBytesOf(in, &size_data), ReadBytesOf(in, &label_offset), ReadBytesOf(in, &offset_data),
                   ReadBytesOf(in, &max_level), ReadBytesOf(in, &enter), ReadBytesOf(in, &max_m),
                   ReadBytesOf(in, &max_m0), ReadBytesOf(in, &m), ReadBytesOf(in, &mult),
                   ReadBytesOf(in, &ef_construction)}) {
    if (!s.ok()) return s.code() == Status::Code::kCorruption ? bad("truncated header") : s;
  }
  const std::size_t dim = static_cast<std::size_t>(options.dim);
  if (label_offset < offset_data || label_offset - offset_data != dim * sizeof(float)) {
    return Status::InvalidArgument("vector index " + in->path().string() + " has dimension " +
                                   std::to_string(label_offset > offset_data ? (label_offset - offset_data) / sizeof(float) : 0) +
                                   ", expected " + std::to_string(options.dim));
  }
  const std::size_t links0 = max_m0 * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  const std::size_t links = max_m * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  if (m == 0 || m > 10000 || max_m != m || max_m0 < m || max_m0 > 2 * 10000 || offset_level0 != 0 ||
      offset_data != links0 || size_data != label_offset + sizeof(hnswlib::labeltype) || !(mult > 0) ||
      !std::isfinite(mult)) {
    return bad("a header whose sizes disagree");
  }
  // Slots are numbered by hnswlib's 32-bit tableint.
  if (count > in->remaining() / size_data || count > std::numeric_limits<hnswlib::tableint>::max()) {
    return bad(std::to_string(count) + " slots claimed, more than the file holds");
  }
  if (count > max_elements) return bad(std::to_string(count) + " slots, more than its capacity " + std::to_string(max_elements));
  // The capacity is room reserved for inserts, not contents: more than doubling or this
  // configuration's first allocation would give (damage, or a file from another
  // configuration) is not reserved up front; inserts grow the graph as they need.
  max_elements = std::min(max_elements, std::max(2 * count, InitialCapacity(options)));
  if (count == 0 ? max_level != -1 : (enter >= count || max_level < 0 || max_level > kMaxLevel)) {
    return bad("an entry point or top level out of range");
  }

  auto h = std::make_unique<hnswlib::HierarchicalNSW<float>>(&impl->space);
  h->allow_replace_deleted_ = true;
  h->offsetLevel0_ = offset_level0;
  h->max_elements_ = max_elements;
  h->size_data_per_element_ = size_data;
  h->label_offset_ = label_offset;
  h->offsetData_ = offset_data;
  h->maxlevel_ = max_level;
  h->enterpoint_node_ = enter;
  h->maxM_ = max_m;
  h->maxM0_ = max_m0;
  h->M_ = m;
  h->mult_ = mult;
  h->revSize_ = 1.0 / mult;
  h->ef_construction_ = ef_construction;
  h->data_size_ = impl->space.get_data_size();
  h->fstdistfunc_ = impl->space.get_dist_func();
  h->dist_func_param_ = impl->space.get_dist_func_param();
  h->size_links_per_element_ = links;
  h->size_links_level0_ = links0;
  try {
    // hnswlib frees these in its destructor (clear()): every pointer set below is owned there,
    // and a slot counts for it once its level is set, so a failure part way frees what exists.
    h->data_level0_memory_ = static_cast<char*>(std::malloc(max_elements * size_data));
    h->linkLists_ = static_cast<char**>(std::malloc(sizeof(void*) * max_elements));
    if ((max_elements > 0 && (h->data_level0_memory_ == nullptr || h->linkLists_ == nullptr))) {
      return Status::Internal("not enough memory for the " + std::to_string(max_elements) + " slots of " +
                              in->path().string());
    }
    h->element_levels_.assign(max_elements, 0);
    std::vector<std::mutex>(max_elements).swap(h->link_list_locks_);
    std::vector<std::mutex>(hnswlib::HierarchicalNSW<float>::MAX_LABEL_OPERATION_LOCKS).swap(h->label_op_locks_);
    h->visited_list_pool_ = std::make_unique<hnswlib::VisitedListPool>(1, max_elements);
  } catch (const std::bad_alloc&) {
    return Status::Internal("not enough memory for the " + std::to_string(max_elements) + " slots of " +
                            in->path().string());
  }
  TIDE_RETURN_IF_ERROR(in->Read(h->data_level0_memory_, count * size_data));
  h->cur_element_count = count;
  h->label_lookup_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    h->linkLists_[i] = nullptr;
    hnswlib::linklistsizeint bytes = 0;
    if (Status s = ReadBytesOf(in, &bytes); !s.ok()) return s.code() == Status::Code::kCorruption ? bad("truncated links") : s;
    if (bytes > 0) {
      if (bytes % links != 0 || bytes / links > static_cast<std::size_t>(max_level)) {
        return bad("slot " + std::to_string(i) + " has upper links of " + std::to_string(bytes) + " bytes");
      }
      h->linkLists_[i] = static_cast<char*>(std::malloc(bytes));
      if (h->linkLists_[i] == nullptr) return Status::Internal("not enough memory for " + in->path().string());
      h->element_levels_[i] = static_cast<int>(bytes / links);
      TIDE_RETURN_IF_ERROR(in->Read(h->linkLists_[i], bytes));
    }
    // As hnswlib's loadIndex: a later slot with the same label wins.
    h->label_lookup_[h->getExternalLabel(static_cast<hnswlib::tableint>(i))] = static_cast<hnswlib::tableint>(i);
    if (h->isMarkedDeleted(static_cast<hnswlib::tableint>(i))) {
      h->num_deleted_ += 1;
      h->deleted_elements.insert(static_cast<hnswlib::tableint>(i));
    }
  }
  // A search starts at the entry point on the top level: it must have links there.
  if (count > 0 && h->element_levels_[enter] != max_level) {
    return bad("the entry point is on level " + std::to_string(h->element_levels_[enter]) + ", the top level is " +
               std::to_string(max_level));
  }
  h->setEf(options.ef_search);
  impl->hnsw = std::move(h);
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
    Grow(needed);
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
  ef = std::max(ef != 0 ? ef : impl_->options.default_ef(filter != nullptr), k);
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

namespace {

// Appends the object representation of `value`, as hnswlib's writeBinaryPOD does.
template <typename T>
void AppendBytesOf(std::string* out, const T& value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(T));
}

}  // namespace

std::size_t VectorIndex::ImageBytes() const {
  std::shared_lock lock(impl_->mu);
  return impl_->hnsw->indexFileSize();
}

void VectorIndex::ImageTo(std::string* out_buffer) const {
  std::shared_lock lock(impl_->mu);
  const hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  std::string& out = *out_buffer;
  out.clear();
  out.reserve(h.indexFileSize());
  // The header, field by field in the order hnswlib's saveIndex writes and loadIndex reads it.
  AppendBytesOf(&out, h.offsetLevel0_);
  AppendBytesOf(&out, h.max_elements_);
  AppendBytesOf(&out, h.cur_element_count);
  AppendBytesOf(&out, h.size_data_per_element_);
  AppendBytesOf(&out, h.label_offset_);
  AppendBytesOf(&out, h.offsetData_);
  AppendBytesOf(&out, h.maxlevel_);
  AppendBytesOf(&out, h.enterpoint_node_);
  AppendBytesOf(&out, h.maxM_);
  AppendBytesOf(&out, h.maxM0_);
  AppendBytesOf(&out, h.M_);
  AppendBytesOf(&out, h.mult_);
  AppendBytesOf(&out, h.ef_construction_);
  const std::size_t slots = h.cur_element_count;
  out.append(h.data_level0_memory_, slots * h.size_data_per_element_);
  for (std::size_t i = 0; i < slots; ++i) {
    const unsigned int bytes = h.element_levels_[i] > 0 ? h.size_links_per_element_ * h.element_levels_[i] : 0;
    AppendBytesOf(&out, bytes);
    if (bytes > 0) out.append(h.linkLists_[i], bytes);
  }
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
  std::error_code ec;
  // hnswlib's saveIndex checks no stream errors: a short file is caught here, or by Load().
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

int VectorIndex::dim() const { return impl_->options.dim; }

}  // namespace tide::index
