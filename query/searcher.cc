#include "query/searcher.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "common/embedding/embedder.h"
#include "common/storage/store.h"
#include "query/snippet.h"

namespace tide::query {
namespace {

struct Fused {
  std::uint64_t label = 0;
  double rrf = 0;
  RetrieverExplain vector, keyword, fulltext;
};

}  // namespace

const char* SearchModeName(SearchMode mode) {
  switch (mode) {
    case SearchMode::kHybrid:
      return "hybrid";
    case SearchMode::kVector:
      return "vector";
    case SearchMode::kKeyword:
      return "keyword";
  }
  return "hybrid";
}

Searcher::Searcher(const Follower* follower, embedding::Embedder* embedder,
                   const QueryRulesWatcher* rules, const Options& options)
    : follower_(follower),
      rules_(rules),
      embedder_(embedder),
      options_(options),
      profile_(EmbedderProfile(embedder->model_id())) {}

AnalyzedQuery Searcher::Analyze(std::string_view text) const {
  return AnalyzeQuery(text, *rules_->current(), analyzer_);
}

Result<SearchResponse> Searcher::Search(const SearchRequest& request) const {
  std::shared_ptr<const index::IndexSet> indexes = follower_->indexes();
  std::shared_ptr<const storage::Store> store = follower_->store();
  if (!indexes || !store)
    return Status::Unavailable("the index is still loading: " + follower_->not_ready_reason());
  std::shared_ptr<const QueryRules> rules = rules_->current();

  SearchResponse response;
  response.watermark = Watermark{indexes->applied_seq(), indexes->applied_offsets()};
  response.query = AnalyzeQuery(request.query, *rules, analyzer_);
  const FusionSettings settings =
      rules->Settings(request.search_type, response.query.intent.intent, profile_);
  response.fusion = request.fusion.value_or(settings.fusion);
  Weights w = request.weights.value_or(settings.weights);
  if (request.mode == SearchMode::kVector) w = {1, 0, 0};
  if (request.mode == SearchMode::kKeyword) w.vector = 0;
  response.weights = w;
  response.threshold = request.threshold.value_or(settings.threshold);

  const index::ContainerSet scope = indexes->ResolveContainers(request.container_ids);
  const std::size_t wanted =
      request.group_by == GroupBy::kDocument ? request.k * request.chunks_per_document : request.k;
  const std::size_t candidates = std::max(options_.candidates, wanted);
  std::unordered_map<std::uint64_t, Fused> fused;
  auto add = [&](std::uint64_t label, std::size_t rank, float score, float weight,
                 RetrieverExplain Fused::*slot, std::vector<std::string> terms) {
    Fused& f = fused[label];
    f.label = label;
    f.rrf += weight / (options_.rrf_k + static_cast<double>(rank));
    (f.*slot) = RetrieverExplain{rank, score, std::move(terms)};
  };

  std::vector<float> query_vector;
  if (w.vector > 0) {
    const std::string& text = response.query.embedding_text.empty() ? response.query.normalized
                                                                    : response.query.embedding_text;
    if (Status embedded = embedder_->Embed({text}, embedding::InputType::kQuery, &query_vector); !embedded.ok()) {
      // A remote embedder being down must not take search down: answer from the keyword
      // retrievers and say so. In vector mode there is nothing left to answer with.
      if (request.mode == SearchMode::kVector) return embedded.WithContext("embedding the query");
      response.degraded = true;
      response.degraded_reason = "query embedding failed: " + embedded.message();
      w.vector = 0;
      if (w.keyword + w.fulltext <= 0) w.keyword = w.fulltext = 0.5f;  // weights said vector only
      response.weights = w;
    }
  }
  if (w.vector > 0) {
    Result<std::vector<index::VectorHit>> hits =
        indexes->SearchVector(query_vector, candidates, scope, &request.filter);
    if (!hits) return hits.status();
    std::size_t rank = 0;
    for (const index::VectorHit& h : *hits) {
      // Below the similarity threshold a vector candidate is noise, not evidence. Ranks count
      // only the candidates that pass, so fusion sees a clean list.
      if (h.score < response.threshold || h.score <= 0) continue;
      add(h.label, ++rank, h.score, w.vector, &Fused::vector, {});
    }
  }
  const std::vector<std::string>& terms = response.query.terms;
  if (w.keyword > 0) {
    std::vector<index::KeywordHit> hits =
        indexes->SearchKeyword(index::Field::kTitle, terms, candidates, scope, &request.filter);
    for (std::size_t i = 0; i < hits.size(); ++i) {
      add(hits[i].label, i + 1, hits[i].score, w.keyword, &Fused::keyword,
          std::move(hits[i].matched_terms));
    }
  }
  if (w.fulltext > 0) {
    std::vector<index::KeywordHit> hits =
        indexes->SearchKeyword(index::Field::kBody, terms, candidates, scope, &request.filter);
    for (std::size_t i = 0; i < hits.size(); ++i) {
      add(hits[i].label, i + 1, hits[i].score, w.fulltext, &Fused::fulltext,
          std::move(hits[i].matched_terms));
    }
  }

  std::vector<Fused> ranked;
  ranked.reserve(fused.size());
  for (auto& [label, f] : fused) ranked.push_back(std::move(f));
  // The best possible fused score: first place (or the top score) in every retriever used.
  double best = (w.vector + w.keyword + w.fulltext) / (options_.rrf_k + 1.0);
  if (response.fusion == Fusion::kLinear) {
    // Min-max normalise each retriever's scores over its own list; absent counts as 0.
    struct Range {
      float lo = 0, hi = 0;
      bool any = false;
    };
    Range ranges[3];
    RetrieverExplain Fused::*slots[3] = {&Fused::vector, &Fused::keyword, &Fused::fulltext};
    const float weights[3] = {w.vector, w.keyword, w.fulltext};
    for (const Fused& f : ranked) {
      for (int r = 0; r < 3; ++r) {
        const RetrieverExplain& e = f.*slots[r];
        if (e.rank == 0) continue;
        Range& range = ranges[r];
        range.lo = range.any ? std::min(range.lo, e.score) : e.score;
        range.hi = range.any ? std::max(range.hi, e.score) : e.score;
        range.any = true;
      }
    }
    // Min-max alone gives a list's best hit 1 however weak it is: a title sharing one syllable
    // with the query (one "#x" term) would outvote a body that matches every word. So a title
    // (keyword) hit's normalised score is also scaled by the share of distinct query terms it
    // matched (the classic coordination factor). Not the body list: there it cost MRR@10 on
    // klue-nli-retrieval (0.970 -> 0.967 offline), where BM25's own weighting does better.
    std::vector<std::string> distinct = response.query.terms;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    auto coordination = [&](const RetrieverExplain& e) {
      if (distinct.empty()) return 1.0;
      std::vector<std::string> matched = e.matched_terms;
      std::sort(matched.begin(), matched.end());
      matched.erase(std::unique(matched.begin(), matched.end()), matched.end());
      return static_cast<double>(matched.size()) / static_cast<double>(distinct.size());
    };
    for (Fused& f : ranked) {
      f.rrf = 0;
      for (int r = 0; r < 3; ++r) {
        const RetrieverExplain& e = f.*slots[r];
        if (e.rank == 0) continue;
        const double span = ranges[r].hi - ranges[r].lo;
        double value = span > 0 ? (e.score - ranges[r].lo) / span : 1.0;
        if (r == 1) value *= coordination(e);
        f.rrf += weights[r] * value;
      }
    }
    best = w.vector + w.keyword + w.fulltext;
  }
  std::sort(ranked.begin(), ranked.end(), [](const Fused& a, const Fused& b) {
    return a.rrf != b.rrf ? a.rrf > b.rrf : a.label < b.label;
  });

  std::map<std::pair<std::string, std::string>, std::size_t> doc_position;  // group_by document
  for (const Fused& f : ranked) {
    if (response.hits.size() >= request.k && request.group_by == GroupBy::kChunk) break;
    Result<std::optional<std::string>> value =
        store->Get(storage::Cf::kChunks, storage::EncodeU64(f.label));
    if (!value) return value.status();
    if (!value->has_value()) continue;  // deleted since the index saw it
    Result<storage::ChunkRecord> chunk = storage::DecodeChunk(**value);
    if (!chunk) return chunk.status();
    // Retrieval already filtered by scope; this second check is cheap insurance that no
    // other container's text can ever leave through a bug in an index.
    if (std::find(request.container_ids.begin(), request.container_ids.end(),
                  chunk->container_id) == request.container_ids.end()) {
      return Status::Internal("an index returned a chunk outside the request's scope");
    }
    SearchHit hit;
    hit.chunk_id = chunk->doc_id + "#" + std::to_string(chunk->ordinal);
    hit.doc_id = chunk->doc_id;
    hit.container_id = chunk->container_id;
    hit.title = chunk->title;
    hit.heading = chunk->heading;
    hit.snippet = MakeSnippet(chunk->text, response.query.highlight, options_.snippet_chars);
    hit.ordinal = chunk->ordinal;
    hit.char_begin = chunk->char_begin;
    hit.char_end = chunk->char_end;
    hit.score = best > 0 ? static_cast<float>(std::min(1.0, f.rrf / best)) : 0.0f;
    hit.vector = f.vector;
    hit.keyword = f.keyword;
    hit.fulltext = f.fulltext;
    if (request.group_by == GroupBy::kChunk) {
      response.hits.push_back(std::move(hit));
      continue;
    }
    // A document scores as its best chunk; its next best chunks ride along.
    auto key = std::make_pair(hit.container_id, hit.doc_id);
    auto it = doc_position.find(key);
    if (it == doc_position.end()) {
      if (response.hits.size() >= request.k) continue;
      doc_position.emplace(key, response.hits.size());
      response.hits.push_back(std::move(hit));
    } else if (response.hits[it->second].more_chunks.size() + 1 < request.chunks_per_document) {
      response.hits[it->second].more_chunks.push_back(std::move(hit));
    }
  }
  return response;
}

std::uint64_t Searcher::rules_generation() const { return rules_ == nullptr ? 0 : rules_->reloads(); }

}  // namespace tide::query
