#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/index/index_set.h"
#include "common/status.h"
#include "query/follower.h"
#include "query/shard_search.h"
#include "query/intent.h"
#include "query/query_pipeline.h"
#include "query/query_rules.h"

namespace tide::embedding {
class Embedder;
}

namespace tide::query {

enum class SearchMode { kHybrid, kVector, kKeyword };
const char* SearchModeName(SearchMode mode);

enum class GroupBy { kChunk, kDocument };

struct SearchRequest {
  std::string query;
  std::vector<std::string> container_ids;  // the scope: never empty (the API denies that)
  std::optional<std::string> principal;    // resolved into container_ids by the API
  std::size_t k = 10;                      // hits: chunks, or documents with group_by document
  SearchMode mode = SearchMode::kHybrid;
  SearchType search_type = SearchType::kGeneral;
  GroupBy group_by = GroupBy::kChunk;
  std::size_t chunks_per_document = 3;     // group_by document: best chunks kept per document
  std::optional<Weights> weights;          // overrides the intent's weights
  std::optional<float> threshold;          // overrides the intent's vector similarity threshold
  std::optional<Fusion> fusion;            // overrides the fusion method of the intent's settings
  std::optional<float> min_relevance;      // overrides the intent's minimum calibrated relevance
  index::MetadataFilter filter;            // narrows the scope further (doc_type, tags, dates)
  // The request's own timeout_ms (else search.timeout_ms); the API turns it into `deadline`.
  std::optional<std::chrono::milliseconds> timeout;
  // When the answer is due. The query embedding may use the first 80% of the time left; the
  // rest is kept for the keyword retrievers, so a slow embedder still leaves an answer. A
  // stage that would start after the deadline is skipped and the response says timed_out.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // A router's search: a shard none of whose copies answers is left out (and the response
  // says which) instead of failing the search (Elasticsearch's allow_partial_search_results).
  bool allow_partial_results = false;
};

struct RetrieverExplain {
  std::size_t rank = 0;  // 1-based, shared by equal scores; 0: the retriever did not return this chunk
  float score = 0;       // the retriever's raw score (cosine, or BM25)
  double normalized = 0;  // what fusion took from it before the weight (query/fusion.h)
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
  // Calibrated probability of relevance (query/calibration.h); none without a calibration for
  // the embedder profile and mode.
  std::optional<float> relevance;
  RelevanceEvidence evidence;
  RetrieverExplain vector, keyword, fulltext;
  std::vector<SearchHit> more_chunks;  // group_by document: the document's next best chunks
};

struct SearchResponse {
  AnalyzedQuery query;
  Fusion fusion = Fusion::kRrf;  // what ran: the settings' method, or the request's
  Weights weights;        // what ran: the mode's weights, after overrides
  float threshold = 0;    // vector similarity below which vector candidates were dropped
  float min_relevance = 0;  // calibrated relevance below which hits were dropped (0: none)
  // Set when the request asked for min_relevance and no calibration applies (none for the
  // embedder and mode, or fusion/weights overridden): the bar cannot be checked, so no hits.
  std::string relevance_unavailable;
  bool degraded = false;  // the embedder failed: answered by the keyword retrievers alone
  std::string degraded_reason;
  // Part of the work was cut for the request's deadline (the query embedding, a retriever, or
  // reading hits): the hits are what was found in time, possibly none.
  bool timed_out = false;
  std::vector<SearchHit> hits;
  Watermark watermark;  // summed over the shards (seq) with every shard's offsets
  ShardsOutcome shards;  // each shard's watermark, and the shards left out
};

// Runs the retrievers for a request inside its container scope and fuses them, by weighted
// Reciprocal Rank Fusion or normalised linear fusion as the rules' settings for the intent,
// search type and embedder profile say (EmbedderProfile(embedder->model_id())). Stateless
// apart from its collaborators: thread-safe.
class Searcher {
 public:
  struct Options {
    double rrf_k = 60;
    std::size_t candidates = 100;  // per retriever, before fusion
    std::size_t snippet_chars = 200;
  };

  // Over several shards, each retriever's list is the shards' lists merged by score, BM25
  // scored with the scope's statistics summed over the shards (equal to one store's scores).
  Searcher(const ShardSource* shards, embedding::Embedder* embedder, const QueryRulesWatcher* rules,
           const Options& options);

  // Unavailable when the daemon is not ready. A request for min_relevance that no calibration
  // applies to (none for this embedder and mode in the rules in force, or the rules' fusion or
  // weights overridden) gets no hits and relevance_unavailable says why.
  Result<SearchResponse> Search(const SearchRequest& request) const;
  // The query pipeline alone (for /v1/analyze).
  AnalyzedQuery Analyze(std::string_view text) const;
  // Changes whenever the rule files are reloaded (responses computed under older rules are
  // stale).
  std::uint64_t rules_generation() const;

 private:
  const ShardSource* shards_;
  const QueryRulesWatcher* rules_;
  embedding::Embedder* embedder_;
  const Options options_;
  const std::string profile_;          // EmbedderProfile of the embedder's model_id
  const analysis::Analyzer analyzer_;  // the same analyzer the indexes use
};

}  // namespace tide::query
