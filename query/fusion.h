#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "query/query_rules.h"

namespace tide::query {

// Fusion of the retrievers' ranked lists into one ranking: pure functions of their inputs,
// no index, store or clock (tests/unit/query/fusion_test.cc fixes scores and order on
// hand-built lists). docs/decisions/0009-fusion-module.md says why each rule is what it is.

// The lists fusion combines, in this order.
enum class Retriever { kVector = 0, kKeyword = 1, kFulltext = 2 };
inline constexpr std::size_t kRetrievers = 3;

// One candidate as its retriever scored it.
struct Candidate {
  std::uint64_t label = 0;
  float score = 0;  // the retriever's own score: cosine similarity, BM25
  // Linear fusion only: a factor in [0, 1] on the normalised score. The title list uses it for
  // TitleCoverage(); 1 everywhere else.
  float credit = 1;
};

struct RankedList {
  float weight = 0;                   // 0: the list takes no part
  std::vector<Candidate> candidates;  // best first: scores do not increase
};

// Where one fused candidate stood in one list.
struct ListPosition {
  std::size_t rank = 0;   // 1-based and shared by equal scores; 0: not in the list
  float score = 0;        // the retriever's raw score
  double normalized = 0;  // what the list gives it before its weight: 1/(k+rank) for RRF,
                          // credit * (score - lo)/(hi - lo) for linear
};

struct FusedCandidate {
  std::uint64_t label = 0;
  // Fused score over the best possible one (first, or top score with full credit, in every
  // list with a weight, even one that found nothing): 0..1.
  double score = 0;
  std::array<ListPosition, kRetrievers> lists;
};

struct FusionOptions {
  Fusion method = Fusion::kRrf;
  double rrf_k = 60;  // > 0
};

// Ranks of a list: candidates with equal scores share the best rank of their group
// (competition ranking: scores 9, 7, 7, 5 rank 1, 2, 2, 4). Giving tied candidates distinct
// ranks in arbitrary order lets RRF reorder them by noise (every chunk of a document that
// matches by its title ties in the title list).
std::vector<std::size_t> SharedRanks(const std::vector<Candidate>& candidates);

// Fuses the lists:
//   * weighted RRF: sum over the lists holding a candidate of weight / (rrf_k + rank), with
//     SharedRanks;
//   * normalised linear: sum of weight * credit * (score - lo) / (hi - lo), lo and hi the
//     list's lowest and highest score (a list whose scores are all equal gives 1).
// Sorted by fused score, then by label: a stable key, so equal scores come out in the same
// order on every run and after every restart.
std::vector<FusedCandidate> Fuse(const std::array<RankedList, kRetrievers>& lists, const FusionOptions& options);

// The title list's credit for linear fusion: how much of the query the title covers, or how
// much of the title the query covers, whichever is more. The second term is what makes an
// exact title match count in full however long the question around it is ("피벗 테이블 만들기"
// asked as a twelve-word question still matches the title "피벗 테이블 만들기" in full).
// `matched` distinct query terms found in the title, `query_terms` distinct query terms,
// `title_terms` the title's length in terms (duplicates counted, so slightly under 1 for an
// exact match with a repeated n-gram). 1 when the query has no terms.
float TitleCoverage(std::size_t matched, std::size_t query_terms, std::size_t title_terms);

}  // namespace tide::query
