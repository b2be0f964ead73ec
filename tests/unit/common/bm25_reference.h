#pragma once

// An exhaustive BM25 written independently of the keyword index, the reference its tests hold
// the pruned search (KeywordIndex) and the search over segments (KeywordSegments) to.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/index/keyword_index.h"

namespace tide::index::reference {

// Exhaustive BM25 over the live chunks of `scope`, written independently of the index, as
// the reference for the pruned search.
struct Reference {
  struct Chunk {
    std::uint32_t container;
    std::vector<std::string> terms;
  };
  std::map<std::uint64_t, Chunk> live;

  std::map<std::uint64_t, double> Scores(const std::vector<std::string>& query,
                                         const std::set<std::uint32_t>& scope) const {
    const KeywordIndex::Bm25 bm25;
    double n = 0, total = 0;
    std::map<std::string, double> df;
    for (const auto& [label, c] : live) {
      if (!scope.contains(c.container)) continue;
      n += 1;
      total += static_cast<double>(c.terms.size());
      for (const std::string& t : std::set<std::string>(c.terms.begin(), c.terms.end())) df[t] += 1;
    }
    const double avg = std::max(total / n, 1.0);
    std::map<std::string, int> qtf;
    for (const std::string& t : query) ++qtf[t];
    std::map<std::uint64_t, double> scores;
    for (const auto& [label, c] : live) {
      if (!scope.contains(c.container)) continue;
      double score = 0;
      for (const auto& [t, count] : qtf) {
        const double tf = static_cast<double>(std::count(c.terms.begin(), c.terms.end(), t));
        if (tf == 0) continue;
        const double idf = std::log(1.0 + (n - df[t] + 0.5) / (df[t] + 0.5));
        const double len = static_cast<double>(c.terms.size());
        score += count * idf * (bm25.k1 + 1) * tf / (tf + bm25.k1 * (1 - bm25.b + bm25.b * len / avg));
      }
      if (score > 0) scores[label] = score;
    }
    return scores;
  }

  // The distinct query terms chunk `label` holds, in text order.
  std::vector<std::string> Matched(std::uint64_t label, const std::vector<std::string>& query) const {
    const std::vector<std::string>& terms = live.at(label).terms;
    std::vector<std::string> matched;
    for (const std::string& t : std::set<std::string>(query.begin(), query.end())) {
      if (std::find(terms.begin(), terms.end(), t) != terms.end()) matched.push_back(t);
    }
    return matched;
  }
};

// Every hit carries its exhaustive score, and the k-th best exhaustive score is reached:
// the pruned top k is a true top k (ties may pick either chunk).
template <typename Index>
void ExpectTopK(const Index& index, const Reference& ref, const std::vector<std::string>& query,
                std::size_t k, const std::set<std::uint32_t>& scope_set) {
  ContainerSet scope;
  for (std::uint32_t c : scope_set) scope.Add(c);
  const std::map<std::uint64_t, double> expected = ref.Scores(query, scope_set);
  std::vector<double> best;
  for (const auto& [label, score] : expected) best.push_back(score);
  std::sort(best.rbegin(), best.rend());
  const std::vector<KeywordHit> hits = index.Search(Field::kBody, query, k, scope, {});
  ASSERT_EQ(hits.size(), std::min(k, best.size()));
  for (std::size_t i = 0; i < hits.size(); ++i) {
    auto it = expected.find(hits[i].label);
    ASSERT_NE(it, expected.end()) << "chunk " << hits[i].label << " is outside the scope or unmatched";
    EXPECT_NEAR(hits[i].score, it->second, 1e-4 * it->second);
    EXPECT_NEAR(hits[i].score, best[i], 1e-4 * best[i]) << "rank " << i;
    EXPECT_EQ(hits[i].matched_terms, ref.Matched(hits[i].label, query)) << "rank " << i;
  }
}

}  // namespace tide::index::reference
