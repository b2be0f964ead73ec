#pragma once

// Ranking-quality metrics over one ranked result list and the set of relevant ids.
// Header-only so both the klue_eval benchmark and the unit tests use the same code without
// a link dependency. Pure functions: no state, no I/O.
//
// Conventions (those of the usual IR tooling, e.g. BEIR/pytrec_eval):
//   * `ranked` is best first; rank 1 is ranked[0].
//   * A relevant id counts once even if it appears several times in `ranked`.
//   * With no relevant ids both metrics are 0 (such a query cannot be answered; callers
//     normally skip it).
//   * k == 0 gives 0; k larger than the list looks at the whole list.

#include <algorithm>
#include <cstddef>
#include <set>
#include <string>
#include <vector>

namespace tide::bench {

// The fraction of the relevant ids found among the first k results.
inline double RecallAtK(const std::vector<std::string>& ranked, const std::set<std::string>& relevant,
                        std::size_t k) {
  if (relevant.empty() || k == 0) return 0.0;
  std::set<std::string> found;
  const std::size_t n = std::min(k, ranked.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (relevant.contains(ranked[i])) found.insert(ranked[i]);
  }
  return static_cast<double>(found.size()) / static_cast<double>(relevant.size());
}

// 1 / (rank of the first relevant id) if it is among the first k results, else 0.
// Averaged over queries this is MRR@k.
inline double ReciprocalRankAtK(const std::vector<std::string>& ranked, const std::set<std::string>& relevant,
                                std::size_t k) {
  const std::size_t n = std::min(k, ranked.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (relevant.contains(ranked[i])) return 1.0 / static_cast<double>(i + 1);
  }
  return 0.0;
}

// Means of the four figures the benchmark reports, accumulated one query at a time.
struct RankingSummary {
  std::size_t queries = 0;
  double recall_1 = 0, recall_5 = 0, recall_10 = 0, mrr_10 = 0;  // sums until Mean()

  void Add(const std::vector<std::string>& ranked, const std::set<std::string>& relevant) {
    ++queries;
    recall_1 += RecallAtK(ranked, relevant, 1);
    recall_5 += RecallAtK(ranked, relevant, 5);
    recall_10 += RecallAtK(ranked, relevant, 10);
    mrr_10 += ReciprocalRankAtK(ranked, relevant, 10);
  }

  // The averages; all zero when nothing was added.
  RankingSummary Mean() const {
    RankingSummary m = *this;
    if (queries == 0) return m;
    const double n = static_cast<double>(queries);
    m.recall_1 /= n;
    m.recall_5 /= n;
    m.recall_10 /= n;
    m.mrr_10 /= n;
    return m;
  }
};

}  // namespace tide::bench
