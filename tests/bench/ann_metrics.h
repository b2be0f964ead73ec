#pragma once

// Ground truth and recall for the ANN benchmark (tests/bench/ann_bench.cc): an exact top-k
// by inner product, and recall@k of an approximate answer against it. Header-only so the
// unit test (tests/unit/common/ann_metrics_test.cc) checks the very code the benchmark uses.
// Pure functions: no state, no I/O.
//
// Recall convention: a returned neighbour counts when its label is new in the answer and
// either is in the exact top-k or scores at least the exact k-th score. Scores must come
// from InnerProduct() on the same floats (callers recompute them; libraries report
// distances in their own ways), so a neighbour that ties the k-th exact score is a correct
// answer, not a miss. The denominator is min(k, exact.size()): a filter that permits fewer
// than k vectors asks for all of them.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_set>
#include <vector>

namespace tide::bench {

struct Neighbor {
  std::uint64_t label;
  float score;  // inner product; larger is closer
};

inline float InnerProduct(const float* a, const float* b, std::size_t dim) {
  // Eight independent sums, which the compiler keeps in vector registers without -ffast-math.
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const std::size_t body = dim - dim % 8;
  for (std::size_t i = 0; i < body; i += 8) {
    for (std::size_t j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
  }
  float total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (std::size_t i = body; i < dim; ++i) total += a[i] * b[i];
  return total;
}

// Best first; ties broken by the smaller label so the answer is deterministic.
inline bool Closer(const Neighbor& x, const Neighbor& y) {
  return x.score > y.score || (x.score == y.score && x.label < y.label);
}

// Keeps the k best neighbours seen so far in `heap` (a heap under Closer: front is the worst).
inline void OfferTopK(std::vector<Neighbor>* heap, const Neighbor& n, std::size_t k) {
  if (heap->size() < k) {
    heap->push_back(n);
    std::push_heap(heap->begin(), heap->end(), Closer);
  } else if (k > 0 && Closer(n, heap->front())) {
    std::pop_heap(heap->begin(), heap->end(), Closer);
    heap->back() = n;
    std::push_heap(heap->begin(), heap->end(), Closer);
  }
}

// Exact top-k among `labels` (a label's vector is row label - 1 of `rows`, `dim` floats a
// row), best first.
inline std::vector<Neighbor> ExactTopK(const float* query, const float* rows, std::size_t dim,
                                       std::span<const std::uint64_t> labels, std::size_t k) {
  std::vector<Neighbor> heap;
  heap.reserve(k + 1);
  for (std::uint64_t label : labels) {
    OfferTopK(&heap, {label, InnerProduct(query, rows + (label - 1) * dim, dim)}, k);
  }
  std::sort_heap(heap.begin(), heap.end(), Closer);
  return heap;
}

// ExactTopK for `nq` queries at once (query q is queries + q * dim): the same answers, but
// each row is read from memory once per call instead of once per query, which is what
// bounds a scan of a large set.
inline std::vector<std::vector<Neighbor>> ExactTopKMany(const float* queries, std::size_t nq,
                                                        const float* rows, std::size_t dim,
                                                        std::span<const std::uint64_t> labels,
                                                        std::size_t k) {
  std::vector<std::vector<Neighbor>> heaps(nq);
  for (std::vector<Neighbor>& h : heaps) h.reserve(k + 1);
  for (std::uint64_t label : labels) {
    const float* row = rows + (label - 1) * dim;
    for (std::size_t q = 0; q < nq; ++q) {
      OfferTopK(&heaps[q], {label, InnerProduct(queries + q * dim, row, dim)}, k);
    }
  }
  for (std::vector<Neighbor>& h : heaps) std::sort_heap(h.begin(), h.end(), Closer);
  return heaps;
}

// Recall@k of `got` (best first, scores from InnerProduct) against `exact` (ExactTopK over
// the same permitted set). Out-of-scope labels must be removed by the caller. 1.0 when
// nothing is permitted.
inline double AnnRecallAtK(std::span<const Neighbor> got, std::span<const Neighbor> exact,
                        std::size_t k) {
  const std::size_t want = std::min(k, exact.size());
  if (want == 0) return 1.0;
  const float kth = exact[want - 1].score;
  std::unordered_set<std::uint64_t> truth, seen;
  for (std::size_t i = 0; i < want; ++i) truth.insert(exact[i].label);
  std::size_t good = 0;
  for (std::size_t i = 0; i < std::min(k, got.size()); ++i) {
    if (!seen.insert(got[i].label).second) continue;
    if (truth.contains(got[i].label) || got[i].score >= kth) ++good;
  }
  return static_cast<double>(std::min(good, want)) / static_cast<double>(want);
}

}  // namespace tide::bench
