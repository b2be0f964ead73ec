#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "query/follower.h"
#include "query/intent.h"

namespace tide::embedding {
class Embedder;
}

namespace tide::query {

enum class SearchMode { kHybrid, kVector, kKeyword };
const char* SearchModeName(SearchMode mode);

struct SearchRequest {
  std::string query;
  std::vector<std::string> container_ids;  // the scope: never empty (the API denies that)
  std::size_t k = 10;
  SearchMode mode = SearchMode::kHybrid;
  std::optional<Weights> weights;          // overrides the intent's weights
};

struct RetrieverExplain {
  std::size_t rank = 0;  // 1-based; 0: the retriever did not return this chunk
  float score = 0;       // the retriever's raw score (cosine, or BM25)
  std::vector<std::string> matched_terms;
};

struct SearchHit {
  std::string chunk_id;  // "<doc_id>#<ordinal>"
  std::string doc_id;
  std::string container_id;
  std::string title;
  std::string heading;
  std::string snippet;   // with <em> highlights
  std::uint32_t ordinal = 0;
  std::uint32_t char_begin = 0;
  std::uint32_t char_end = 0;
  float score = 0;       // fused, normalised to 0..1 (1: first in every retriever used)
  RetrieverExplain vector, keyword, fulltext;
};

struct SearchResponse {
  std::string normalized_query;
  IntentGuess intent;
  Weights weights;
  std::vector<SearchHit> hits;
  Watermark watermark;
};

// Runs the retrievers for a request inside its container scope and fuses them with weighted
// Reciprocal Rank Fusion. Stateless apart from its collaborators: thread-safe.
class Searcher {
 public:
  struct Options {
    double rrf_k = 60;
    std::size_t candidates = 100;  // per retriever, before fusion
    std::size_t snippet_chars = 200;
  };

  Searcher(const Follower* follower, embedding::Embedder* embedder, const Options& options);

  // Unavailable when the daemon is not ready.
  Result<SearchResponse> Search(const SearchRequest& request) const;

 private:
  const Follower* follower_;
  embedding::Embedder* embedder_;
  const Options options_;
};

}  // namespace tide::query
