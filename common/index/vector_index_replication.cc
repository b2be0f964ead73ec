// VectorIndex's physical replication (decision 0011): a writer tracks which bytes of its
// graph each round changed; a follower that was equal copies them (vector_index.h).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "common/coding.h"
#include "common/index/vector_index_impl.h"

namespace tide::index {

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

void VectorIndex::Impl::Shadow::Resize(const hnswlib::HierarchicalNSW<float>& h, std::size_t n) {
  slots = n;
  labels.resize(n);
  links0.resize(n * h.size_links_level0_);
  upper.resize(n);
}

void VectorIndex::Impl::Shadow::Remember(const hnswlib::HierarchicalNSW<float>& h, hnswlib::tableint id) {
  labels[id] = h.getExternalLabel(id);
  std::memcpy(links0.data() + id * h.size_links_level0_, h.get_linklist0(id), h.size_links_level0_);
  upper[id] = Upper(h, id);
}

void VectorIndex::StartTracking() {
  std::shared_lock lock(impl_->mu);
  const hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  auto shadow = std::make_unique<Impl::Shadow>();
  shadow->Resize(h, h.cur_element_count);
  for (hnswlib::tableint id = 0; id < shadow->slots; ++id) shadow->Remember(h, id);
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

  shadow.Resize(h, after);
  for (const auto* ids : {&added, &relinked}) {
    for (hnswlib::tableint id : *ids) shadow.Remember(h, id);
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
    impl_->Grow(after);
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

}  // namespace tide::index
