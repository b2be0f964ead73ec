#include "query/fusion.h"

#include <algorithm>
#include <unordered_map>

namespace tide::query {

std::vector<std::size_t> SharedRanks(const std::vector<Candidate>& candidates) {
  std::vector<std::size_t> ranks(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    ranks[i] = i > 0 && candidates[i].score == candidates[i - 1].score ? ranks[i - 1] : i + 1;
  }
  return ranks;
}

float TitleCoverage(std::size_t matched, std::size_t query_terms, std::size_t title_terms) {
  if (query_terms == 0) return 1.0f;
  const double of_query = static_cast<double>(matched) / static_cast<double>(query_terms);
  const double of_title =
      title_terms == 0 ? 0.0 : std::min(1.0, static_cast<double>(matched) / static_cast<double>(title_terms));
  return static_cast<float>(std::min(1.0, std::max(of_query, of_title)));
}

std::vector<FusedCandidate> Fuse(const std::array<RankedList, kRetrievers>& lists, const FusionOptions& options) {
  std::unordered_map<std::uint64_t, std::size_t> at;  // label -> index in `fused`
  std::vector<FusedCandidate> fused;
  double best = 0;
  for (std::size_t r = 0; r < kRetrievers; ++r) {
    const RankedList& list = lists[r];
    if (list.weight <= 0) continue;
    // A list's best contribution: first place, or the top score with full credit. A list that
    // found nothing still counts: for this query, nothing can be first there.
    best += options.method == Fusion::kRrf ? list.weight / (options.rrf_k + 1.0) : list.weight;
    if (list.candidates.empty()) continue;
    float lo = list.candidates.front().score, hi = lo;
    for (const Candidate& c : list.candidates) {
      lo = std::min(lo, c.score);
      hi = std::max(hi, c.score);
    }
    const std::vector<std::size_t> ranks = SharedRanks(list.candidates);
    for (std::size_t i = 0; i < list.candidates.size(); ++i) {
      const Candidate& c = list.candidates[i];
      auto [it, inserted] = at.try_emplace(c.label, fused.size());
      if (inserted) fused.push_back(FusedCandidate{c.label, 0.0, {}});
      FusedCandidate& f = fused[it->second];
      ListPosition& p = f.lists[r];
      if (p.rank != 0) continue;  // a retriever lists a chunk once; keep its best place
      p.rank = ranks[i];
      p.score = c.score;
      if (options.method == Fusion::kRrf) {
        p.normalized = 1.0 / (options.rrf_k + static_cast<double>(p.rank));
      } else {
        const double span = static_cast<double>(hi) - static_cast<double>(lo);
        const double value = span > 0 ? (static_cast<double>(c.score) - lo) / span : 1.0;
        p.normalized = std::clamp(static_cast<double>(c.credit), 0.0, 1.0) * value;
      }
    }
  }
  for (FusedCandidate& f : fused) {
    // Summed in list order, so the same inputs always give the same bits.
    double sum = 0;
    for (std::size_t r = 0; r < kRetrievers; ++r) {
      if (f.lists[r].rank != 0) sum += static_cast<double>(lists[r].weight) * f.lists[r].normalized;
    }
    f.score = best > 0 ? std::min(1.0, sum / best) : 0.0;
  }
  std::sort(fused.begin(), fused.end(), [](const FusedCandidate& a, const FusedCandidate& b) {
    return a.score != b.score ? a.score > b.score : a.label < b.label;
  });
  return fused;
}

}  // namespace tide::query
