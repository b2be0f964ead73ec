#pragma once

#include "common/index/index_set.h"

namespace tide::testutil {

// IndexSet options for tests of its files: 8-dimensional `hash` vectors, a graph that starts
// at 16 slots.
inline index::IndexSet::Options SmallIndexOptions() {
  index::IndexSet::Options o;
  o.model_id = "hash-v1-d8";
  o.vector.dim = 8;
  o.vector.initial_capacity = 16;
  return o;
}

}  // namespace tide::testutil
