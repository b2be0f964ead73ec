#pragma once

// VectorIndex's state, shared by its two source files: vector_index.cc (the graph: inserts,
// deletes, searches, files) and vector_index_replication.cc (tracking a graph's changes and
// applying them to a follower, decision 0011). Not for other code.

#include <algorithm>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/index/hnswlib.h"
#include "common/index/vector_index.h"

namespace tide::index {

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
  // REQUIRES: mu held exclusively. Makes room for `needed` slots: doubling, but past
  // options.max_graph_slots() only as far as needed. hnswlib throws on failure.
  void Grow(std::size_t needed);

  // What TakeChanges() compares the graph with (see StartTracking): per slot, its label, its
  // level-0 links (with the delete mark) and its upper-level links.
  struct Shadow {
    std::size_t slots = 0;
    std::vector<hnswlib::labeltype> labels;
    std::vector<char> links0;  // slots x size_links_level0_
    std::vector<std::string> upper;

    // Sized for `n` slots of `h`.
    void Resize(const hnswlib::HierarchicalNSW<float>& h, std::size_t n);
    // Takes slot `id`'s current state from `h`. REQUIRES: id < slots.
    void Remember(const hnswlib::HierarchicalNSW<float>& h, hnswlib::tableint id);
  };
  std::unique_ptr<Shadow> shadow;  // set while tracking

  // REQUIRES: mu held. The live internal id of `label`, or nullopt.
  std::optional<hnswlib::tableint> LiveId(std::uint64_t label) const {
    auto it = hnsw->label_lookup_.find(label);
    if (it == hnsw->label_lookup_.end() || hnsw->isMarkedDeleted(it->second)) return std::nullopt;
    return it->second;
  }
};

}  // namespace tide::index
