#pragma once

// An exhaustive BM25 written independently of the keyword index, the reference its tests hold
// the pruned search (KeywordIndex) and the search over segments (KeywordSegments) to.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/index/keyword_index.h"
#include "common/index/vector_index.h"

namespace tide::index::reference {

inline KeywordIndex::FieldTerms Body(std::vector<std::string> terms) {
  KeywordIndex::FieldTerms t;
  t[static_cast<int>(Field::kBody)] = std::move(terms);
  return t;
}

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

// Zipf-distributed chunks in four containers, added to `index` and `ref` alike: over a
// 400-word vocabulary the commonest terms get lists past kCountedListLength and the rare ones
// decide the top k; container 3 is small (a scope searched by looking its chunks up).
template <typename Index>
void AddZipfChunks(std::uint64_t first, std::uint64_t count, Index* index, Reference* ref) {
  std::mt19937_64 rng(first);
  std::vector<double> weights;
  for (int r = 1; r <= 400; ++r) weights.push_back(1.0 / r);
  std::discrete_distribution<int> word(weights.begin(), weights.end());
  std::uniform_int_distribution<int> length(3, 30);
  for (std::uint64_t label = first; label < first + count; ++label) {
    const std::uint32_t container = label % 601 == 0 ? 3 : label % 7 == 0 ? 1 : label % 3;
    Reference::Chunk chunk{container, {}};
    for (int i = length(rng); i > 0; --i) chunk.terms.push_back("w" + std::to_string(word(rng)));
    index->Add(label, chunk.container, Body(chunk.terms));
    ref->live.emplace(label, std::move(chunk));
  }
}

// Queries over that vocabulary; the last four are long, as a Korean sentence's stems and
// syllable n-grams make them: many common terms, or many rare ones, and as many words as a
// search notes per candidate (64) and more.
inline const std::vector<std::vector<std::string>>& Queries() {
  static const std::vector<std::vector<std::string>> queries = {
      {"w0", "w1", "w2", "w250", "w399"}, {"w3", "w3", "w120"}, {"w0", "w5", "w9", "w30", "w31", "w77"},
      {"w1"}, {"w2", "w398"},
      {"w0", "w1", "w2", "w4", "w6", "w8", "w11", "w15", "w20", "w44", "w90", "w150", "w210", "w333", "w2"},
      // The commonest term among twenty rare ones: in a small scope its list is looked up,
      // not read.
      {"w0", "w380", "w381", "w382", "w383", "w384", "w385", "w386", "w387", "w388", "w389", "w390", "w391",
       "w392", "w393", "w394", "w395", "w396", "w397", "w398", "w399"},
      // As many words as a search notes per candidate (64): the last has the highest bit.
      [] {
        std::vector<std::string> many;
        for (int i = 0; i < 64; ++i) many.push_back("w" + std::to_string(i * 6));
        return many;
      }(),
      // More words than that: matched terms are looked up instead.
      [] {
        std::vector<std::string> many;
        for (int i = 0; i < 70; ++i) many.push_back("w" + std::to_string(i * 5));
        return many;
      }()};
  return queries;
}

// Every hit carries its exhaustive score, and the k-th best exhaustive score is reached:
// the pruned top k is a true top k (ties may pick either chunk).
template <typename Index>
void ExpectTopK(const Index& index, const Reference& ref, const std::vector<std::string>& query,
                std::size_t k, const std::set<std::uint32_t>& scope_set, const LabelFilter* filter = nullptr) {
  ContainerSet scope;
  for (std::uint32_t c : scope_set) scope.Add(c);
  // A filter narrows what is returned; the statistics stay the scope's.
  std::map<std::uint64_t, double> expected = ref.Scores(query, scope_set);
  if (filter != nullptr) std::erase_if(expected, [&](const auto& e) { return !filter->Allowed(e.first); });
  std::vector<double> best;
  for (const auto& [label, score] : expected) best.push_back(score);
  std::sort(best.rbegin(), best.rend());
  const std::vector<KeywordHit> hits = index.Search(Field::kBody, query, k, scope, {}, filter);
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
