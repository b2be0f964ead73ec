#include "query/search_api.h"
#include "query/shard_api.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/analysis/analyzer.h"
#include "common/config_util.h"
#include "common/storage/store.h"
#include "query/console.h"
#include "query/context_builder.h"
#include "query/search_request.h"

namespace tide::query {
namespace {

// 405 with the Allow header RFC 9110 requires, naming the one method the route takes.
http::HttpResponse MethodNotAllowed(const char* allow, const std::string& reason) {
  http::HttpResponse r = http::JsonError(405, "method_not_allowed", reason);
  r.headers.emplace_back("Allow", allow);
  return r;
}

// A file of the search console. The page may load only its own script and style sheet and talk
// only to this daemon; no other site may frame it (clickjacking) or learn where it came from.
http::HttpResponse ConsoleFile(const http::HttpRequest& request) {
  if (request.method != "GET") return MethodNotAllowed("GET", "use GET " + request.path);
  const ConsoleAsset* asset = FindConsoleAsset(request.path);
  if (asset == nullptr) return http::JsonError(404, "not_found", "no console file " + request.path);
  http::HttpResponse r;
  r.content_type = std::string(asset->content_type);
  r.body = std::string(asset->body);
  r.headers = {{"Content-Security-Policy",
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"},
               {"Cache-Control", "no-cache"}};
  return r;
}

using nlohmann::json;

http::HttpResponse Json(int status, const json& body) {
  http::HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
  return r;
}

json WatermarkJson(const Watermark& w) { return json{{"seq", w.seq}, {"offsets", w.offsets}}; }

// Elasticsearch's "_shards" block: how many shards took part, answered and failed, why each
// failed, and each one's watermark.
json ShardsJson(const ShardsOutcome& o) {
  json failures = json::array();
  for (const ShardsOutcome::Failure& f : o.failures) failures.push_back({{"shard", f.shard}, {"reason", f.reason}});
  json watermarks = json::object();
  for (const auto& [shard, w] : o.watermarks) watermarks[std::to_string(shard)] = WatermarkJson(w);
  return {{"total", o.total()},
          {"successful", o.watermarks.size()},
          {"failed", o.failures.size()},
          {"failures", std::move(failures)},
          {"watermarks", std::move(watermarks)}};
}

json ExplainJson(const RetrieverExplain& e) {
  if (e.rank == 0) return nullptr;
  json j{{"rank", e.rank}, {"score", e.score}, {"normalized", e.normalized}};
  if (!e.matched_terms.empty()) j["matched_terms"] = e.matched_terms;
  return j;
}

json HitJson(const SearchHit& h) {
  json evidence{{"score", h.evidence.score},
                {"coverage", h.evidence.coverage},
                {"cosine", h.evidence.cosine},
                {"reciprocal_rank", h.evidence.reciprocal_rank}};
  return {
      {"score", h.score},
      {"relevance", h.relevance ? json(*h.relevance) : json(nullptr)},
      {"chunk_id", h.chunk_id},
      {"doc_id", h.doc_id},
      {"container_id", h.container_id},
      {"title", h.title},
      {"heading", h.heading},
      {"snippet", h.snippet},
      {"chunk", {{"ordinal", h.ordinal}, {"char_begin", h.char_begin}, {"char_end", h.char_end}}},
      {"explain",
       {{"vector", ExplainJson(h.vector)},
        {"keyword", ExplainJson(h.keyword)},
        {"fulltext", ExplainJson(h.fulltext)},
        {"relevance", std::move(evidence)}}}};
}

const char* ScriptName(analysis::Script s) {
  switch (s) {
    case analysis::Script::kHangul:
      return "hangul";
    case analysis::Script::kLatin:
      return "latin";
    case analysis::Script::kDigit:
      return "digit";
    case analysis::Script::kHan:
      return "han";
    case analysis::Script::kOther:
      return "other";
  }
  return "other";
}

json AnalyzedJson(const AnalyzedQuery& q) {
  json words = json::array();
  for (const AnalyzedQuery::QueryWord& w : q.words) {
    words.push_back({{"text", w.text},
                     {"key", w.key},
                     {"script", ScriptName(w.script)},
                     {"stopword", w.stopword}});
  }
  json fuzzy = json::array();
  for (const AnalyzedQuery::Correction& c : q.fuzzy) fuzzy.push_back({{"from", c.from}, {"to", c.to}});
  json corrections = json::array();
  for (const AnalyzedQuery::Correction& c : q.corrections) corrections.push_back({{"from", c.from}, {"to", c.to}});
  return {{"normalized", q.normalized},
          {"corrections", std::move(corrections)},
          {"language", LanguageName(q.language)},
          {"intent", {{"name", IntentName(q.intent.intent)}, {"confidence", q.intent.confidence}}},
          {"words", std::move(words)},
          {"synonyms", q.synonyms},
          {"fuzzy", std::move(fuzzy)},
          {"terms", q.terms},
          {"term_weights", q.term_weights},
          {"embedding_text", q.embedding_text}};
}

// A denied scope is 403 with the reason; failing to read the ACL is the daemon's problem, not
// the caller's, and its details stay in the log.
http::HttpResponse ScopeError(const Status& s) {
  if (s.code() == Status::Code::kPermissionDenied) return http::JsonError(403, "forbidden", s.message());
  spdlog::error("resolving a search scope failed: {}", s.ToString());
  http::HttpResponse r = http::JsonError(503, "unavailable", "the access list could not be read; retry");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

// A search or context that failed: 503 while the index loads (or the embedder is down in
// vector mode), else 500 with the details only in the log.
http::HttpResponse FailureResponse(const Status& s, std::string_view what) {
  if (s.code() == Status::Code::kUnavailable) {
    http::HttpResponse r = http::JsonError(503, "not_ready", s.message());
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  if (s.code() == Status::Code::kDeadlineExceeded) {
    // A router's step that the request's own deadline cut (timeout_ms).
    return http::JsonError(504, "timeout", std::string(what) + " ran out of its time: " + s.message());
  }
  spdlog::error("{} failed: {}", what, s.ToString());
  return http::JsonError(500, "internal_error", std::string(what) + " failed; the error is logged");
}

}  // namespace

SearchApi::SearchApi(const ShardSource* shards, const Searcher* searcher, const Authorizer* authorizer,
                     const Limits& limits, MetricsRegistry* metrics, std::size_t result_cache_entries)
    : SearchApi(shards, searcher,
                // Not owned: an empty owner with the pointer (shared_ptr's aliasing constructor).
                [authorizer] { return std::shared_ptr<const Authorizer>(std::shared_ptr<void>(), authorizer); },
                limits, metrics, result_cache_entries) {}

SearchApi::SearchApi(const ShardSource* shards, const Searcher* searcher, AuthorizerSource authorizer,
                     const Limits& limits, MetricsRegistry* metrics, std::size_t result_cache_entries)
    : shards_(shards),
      searcher_(searcher),
      authorizer_(std::move(authorizer)),
      limits_(limits),
      metrics_(metrics),
      results_(result_cache_entries,
               metrics->AddCounter("tide_query_cache_requests_total", "Cache lookups by cache and outcome.",
                                   {{"cache", "result"}, {"outcome", "hit"}}),
               metrics->AddCounter("tide_query_cache_requests_total", "Cache lookups by cache and outcome.",
                                   {{"cache", "result"}, {"outcome", "miss"}})) {
  for (SearchMode mode : {SearchMode::kHybrid, SearchMode::kVector, SearchMode::kKeyword}) {
    latency_[static_cast<int>(mode)] = metrics_->AddHistogram(
        "tide_query_search_seconds", "Search latency inside the daemon, by mode.", LatencyBuckets(),
        {{"mode", SearchModeName(mode)}});
  }
  metrics_->AddCallbackGauge(
      "tide_query_watermark_lag", "Change records written by the worker but not yet searchable.",
      {}, [shards] {
        const double applied = static_cast<double>(shards->watermark().seq);
        return std::max(0.0, static_cast<double>(shards->store_seq()) - applied);
      });
  metrics_->AddCallbackGauge("tide_query_snapshot_jumps",
                             "Newer worker snapshots loaded instead of replaying the change log, since start.",
                             {}, [shards] { return static_cast<double>(shards->snapshot_jumps()); });
  metrics_->AddCallbackGauge("tide_query_corruption",
                             "1 while the worker's change log holds a record the daemon cannot use (see the error log "
                             "and /readyz); the indexes stay where they were.",
                             {}, [shards] { return shards->corruption().ok() ? 0.0 : 1.0; });
  metrics_->AddCallbackGauge("tide_query_corrupt_snapshots",
                             "Index snapshots found damaged since start (logged as errors; an older snapshot or the "
                             "change log was used instead).",
                             {}, [shards] { return static_cast<double>(shards->corrupt_snapshots()); });
  metrics_->AddCallbackGauge("tide_query_ready", "1 when /readyz answers 200: loaded, and not behind for longer than follow.max_lag_ms.", {},
                             [shards] { return shards->not_ready_reason().empty() ? 1.0 : 0.0; });
  timed_out_ = metrics_->AddCounter("tide_query_timed_out_total",
                                    "Searches and contexts cut short by their deadline (timeout_ms).");
}

http::HttpResponse SearchApi::Handle(const http::HttpRequest& request) const {
  std::string route = "unknown";
  http::HttpResponse response = Route(request, &route);
  // Routes are a closed set, so label cardinality stays bounded whatever clients send.
  metrics_
      ->AddCounter("tide_query_requests_total", "HTTP requests by route and status.",
                   {{"route", route}, {"status", std::to_string(response.status)}})
      ->Inc();
  return response;
}

http::HttpResponse SearchApi::Route(const http::HttpRequest& request, std::string* route) const {
  if (request.path == "/healthz") {
    *route = "/healthz";
    if (request.method != "GET")
      return MethodNotAllowed("GET", "use GET /healthz");
    return Json(200, {{"status", "ok"}});
  }
  // Static files with no data in them; every call the page makes carries a key.
  if (limits_.console && (request.path == "/console" || request.path.starts_with("/console/"))) {
    *route = "/console";
    return ConsoleFile(request);
  }
  // The keys and ACL in force when the request came; a reload meanwhile does not affect it.
  const std::shared_ptr<const Authorizer> auth = authorizer_();
  const Authorizer::ApiKey* key = auth->Authenticate(request.Header("authorization"), request.Header("x-api-key"));
  if (key == nullptr) {
    *route = "unauthenticated";
    http::HttpResponse r = http::JsonError(
        401, "unauthorized",
        "give a valid API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (const auto wait = limiter_.Acquire(key->name, key->rate_limit); wait > RateLimiter::Clock::duration::zero()) {
    *route = "rate_limited";
    char rate[32];
    std::snprintf(rate, sizeof rate, "%g", key->rate_limit.per_second);
    http::HttpResponse r = http::JsonError(429, "too_many_requests",
                                           "API key '" + key->name + "' is over its rate limit of " + rate +
                                               " requests per second; retry after the Retry-After seconds");
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
    r.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, seconds)));
    return r;
  }
  if (request.path == "/readyz") {
    *route = "/readyz";
    if (request.method != "GET")
      return MethodNotAllowed("GET", "use GET /readyz");
    return Ready();
  }
  if (request.path == "/metrics") {
    *route = "/metrics";
    if (request.method != "GET")
      return MethodNotAllowed("GET", "use GET /metrics");
    // Traffic and sizes of the whole index: not for a key confined to some containers.
    if (!key->admin) {
      return http::JsonError(403, "forbidden", "/metrics needs an API key with role \"admin\"");
    }
    http::HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_->Render();
    return r;
  }
  if (request.path == "/v1/analyze") {
    *route = "/v1/analyze";
    if (request.method != "GET")
      return MethodNotAllowed("GET", "use GET /v1/analyze?text=...");
    return Analyze(request);
  }
  if (request.path == "/v1/context") {
    *route = "/v1/context";
    if (request.method != "POST")
      return MethodNotAllowed("POST", "use POST /v1/context with a JSON body");
    return Context(request, *auth, *key);
  }
  if (request.path == "/v1/stats") {
    *route = "/v1/stats";
    if (request.method != "GET") return MethodNotAllowed("GET", "use GET /v1/stats");
    return Stats(request, *auth, *key);
  }
  if (request.path == "/v1/shards" || request.path.starts_with("/v1/shards/")) {
    *route = "/v1/shards";
    // Raw lists and records of any container: for a router's key only.
    if (!key->admin || !key->all_containers()) {
      return http::JsonError(403, "forbidden",
                             "the shard API needs an API key with role \"admin\" and containers [\"*\"] (a router's)");
    }
    if (shard_api_ == nullptr) {
      return http::JsonError(404, "not_found", "this daemon serves no shards of its own (shards = remote)");
    }
    return shard_api_->Handle(request, route);
  }
  if (request.path == "/v1/search") {
    *route = "/v1/search";
    if (request.method != "POST")
      return MethodNotAllowed("POST", "use POST /v1/search with a JSON body");
    return Search(request, *auth, *key);
  }
  return http::JsonError(404, "not_found", "no route " + request.method + " " + request.path);
}

http::HttpResponse SearchApi::Analyze(const http::HttpRequest& request) const {
  std::optional<std::string_view> text = request.QueryParam("text");
  if (!text || text->find_first_not_of(" \t\n\v\f\r") == std::string_view::npos) {
    return http::JsonError(400, "invalid_request", "give the text to analyze as ?text=...");
  }
  if (text->size() > limits_.max_query_bytes) {
    return http::JsonError(400, "invalid_request",
                           "'text' is " + std::to_string(text->size()) + " bytes, limit " +
                               std::to_string(limits_.max_query_bytes));
  }
  return Json(200, AnalyzedJson(searcher_->Analyze(*text)));
}

http::HttpResponse SearchApi::Context(const http::HttpRequest& request,
                                      const Authorizer& auth, const Authorizer::ApiKey& key) const {
  const auto start = std::chrono::steady_clock::now();
  http::HttpResponse error;
  std::optional<ContextRequest> parsed = ParseContextRequest(request.body, limits_, &error);
  if (!parsed) return error;
  ContextRequest req = std::move(*parsed);
  Result<std::vector<std::string>> scope =
      auth.Scope(key, req.search.container_ids, req.search.principal, StoreAcl());
  if (!scope) return ScopeError(scope.status());
  req.search.container_ids = std::move(*scope);
  req.search.deadline = start + req.search.timeout.value_or(limits_.default_timeout);
  Result<ContextResponse> result = BuildContext(*searcher_, *shards_, req);
  if (!result) return FailureResponse(result.status(), "context assembly");
  if (result->search.timed_out) timed_out_->Inc();
  json citations = json::array();
  for (const Citation& c : result->citations) {
    citations.push_back({{"number", c.number},
                         {"doc_id", c.doc_id},
                         {"chunk_id", c.chunk_id},
                         {"container_id", c.container_id},
                         {"title", c.title},
                         {"heading", c.heading},
                         {"char_begin", c.char_begin},
                         {"char_end", c.char_end},
                         {"page", c.page},
                         {"score", c.score}});
  }
  const double took_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  json body = {{"took_ms", took_ms},
               {"context", result->context},
               {"chars", result->chars},
               {"truncated", result->truncated},
               {"citations", std::move(citations)},
               {"query", AnalyzedJson(result->search.query)},
               {"degraded", result->search.degraded},
               {"timed_out", result->search.timed_out},
               {"watermark", WatermarkJson(result->search.watermark)},
               {"_shards", ShardsJson(result->search.shards)}};
  if (!result->search.relevance_unavailable.empty()) body["relevance_unavailable"] = result->search.relevance_unavailable;
  return Json(200, body);
}

Authorizer::AclLookup SearchApi::StoreAcl() const {
  return [this](const std::string& principal) -> Result<std::optional<std::vector<std::string>>> {
    return shards_->PrincipalContainers(principal);
  };
}

http::HttpResponse SearchApi::Ready() const {
  const std::string reason = shards_->not_ready_reason();
  const Follower::Lag lag = shards_->lag();
  const json lag_json = {{"changes", lag.changes}, {"behind_ms", lag.behind_for.count()}};
  if (!reason.empty()) {
    json body = {{"ready", false}, {"reason", reason}};
    if (shards_->ready()) body["lag"] = lag_json;  // serving, but too far behind
    return Json(503, body);
  }
  return Json(200, {{"ready", true}, {"watermark", WatermarkJson(shards_->watermark())}, {"lag", lag_json}});
}

http::HttpResponse SearchApi::Search(const http::HttpRequest& request,
                                     const Authorizer& auth, const Authorizer::ApiKey& key) const {
  const auto start = std::chrono::steady_clock::now();
  http::HttpResponse error;
  std::optional<SearchRequest> req = ParseSearchRequest(request.body, limits_, &error);
  if (!req) return error;
  Result<std::vector<std::string>> scope =
      auth.Scope(key, req->container_ids, req->principal, StoreAcl());
  if (!scope) return ScopeError(scope.status());
  req->container_ids = std::move(*scope);
  req->deadline = start + req->timeout.value_or(limits_.default_timeout);
  const std::string cache_key = ResultCacheKey(*req, searcher_->rules_generation());
  std::optional<json> cached;
  if (shards_->cacheable()) cached = results_.Get(cache_key, shards_->watermark().seq);
  if (cached) {
    const double took_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    latency_[static_cast<int>(req->mode)]->Observe(took_ms / 1000.0);
    (*cached)["took_ms"] = took_ms;
    (*cached)["cached"] = true;
    return Json(200, *cached);
  }
  Result<SearchResponse> result = searcher_->Search(*req);
  if (!result) return FailureResponse(result.status(), "search");
  json hits = json::array();
  for (std::size_t i = 0; i < result->hits.size(); ++i) {
    json hit = HitJson(result->hits[i]);
    hit["rank"] = i + 1;
    if (req->group_by == GroupBy::kDocument) {
      json more = json::array();
      for (const SearchHit& c : result->hits[i].more_chunks) more.push_back(HitJson(c));
      hit["more_chunks"] = std::move(more);
    }
    hits.push_back(std::move(hit));
  }
  const double took_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  latency_[static_cast<int>(req->mode)]->Observe(took_ms / 1000.0);
  const Weights& w = result->weights;
  json body = {
      {"took_ms", took_ms},
      {"mode", SearchModeName(req->mode)},
      {"search_type", SearchTypeName(req->search_type)},
      {"fusion", FusionName(result->fusion)},
      {"group_by", req->group_by == GroupBy::kDocument ? "document" : "chunk"},
      {"query", AnalyzedJson(result->query)},
      {"weights", {{"vector", w.vector}, {"keyword", w.keyword}, {"fulltext", w.fulltext}}},
      {"threshold", result->threshold},
      {"min_relevance", result->min_relevance},
      {"degraded", result->degraded},
      {"timed_out", result->timed_out},
      {"hits", std::move(hits)},
      {"watermark", WatermarkJson(result->watermark)},
      {"_shards", ShardsJson(result->shards)}};
  if (result->timed_out) timed_out_->Inc();
  if (!result->relevance_unavailable.empty()) body["relevance_unavailable"] = result->relevance_unavailable;
  if (result->degraded) {
    body["degraded_reason"] = result->degraded_reason;
    metrics_
        ->AddCounter("tide_query_degraded_total", "Searches answered without the vector retriever.")
        ->Inc();
  }
  // A degraded or cut answer is not kept: the next request may have the vector retriever back,
  // or the time to finish.
  if (!result->degraded && !result->timed_out && result->shards.failures.empty() && shards_->cacheable()) {
    results_.Put(cache_key, result->watermark.seq, body);
  }
  body["cached"] = false;
  return Json(200, body);
}

http::HttpResponse SearchApi::Stats(const http::HttpRequest& request, const Authorizer& auth,
                                    const Authorizer::ApiKey& key) const {
  std::vector<std::string> names;
  if (std::optional<std::string_view> ids = request.QueryParam("container_ids")) names = SplitList(*ids);
  std::optional<std::string> principal;
  if (std::optional<std::string_view> p = request.QueryParam("principal"); p && !p->empty()) principal = std::string(*p);
  if (names.size() > limits_.max_containers) {
    return http::JsonError(400, "invalid_request", "'container_ids' has " + std::to_string(names.size()) +
                                                       " entries, limit " + std::to_string(limits_.max_containers));
  }
  // Index-wide figures (every container any shard has seen, sizes) only where the answer
  // needs them: a key reading every container that names none, or an admin's index block.
  const bool index_wide = key.admin && names.empty() && !principal;
  std::optional<IndexFigures> figures;
  if (index_wide || (names.empty() && !principal && key.all_containers())) {
    Result<IndexFigures> f = shards_->Figures();
    if (!f) return FailureResponse(f.status(), "stats");
    figures = std::move(*f);
  }
  std::vector<std::string> scope;
  if (names.empty() && !principal) {
    // The key's own scope.
    if (key.all_containers()) {
      scope = figures->container_ids;
    } else {
      scope.assign(key.containers.begin(), key.containers.end());
    }
  } else {
    Result<std::vector<std::string>> resolved = auth.Scope(key, names, principal, StoreAcl());
    if (!resolved) return ScopeError(resolved.status());
    scope = std::move(*resolved);
  }
  std::sort(scope.begin(), scope.end());
  scope.erase(std::unique(scope.begin(), scope.end()), scope.end());
  Result<std::unique_ptr<ShardSearch>> reading = shards_->Begin(scope, {});
  if (!reading) return FailureResponse(reading.status(), "stats");
  Result<std::map<std::string, std::size_t>> chunks = (*reading)->ChunksPerContainer();
  if (!chunks) return FailureResponse(chunks.status(), "stats");
  json containers = json::object();
  std::size_t total = 0;
  for (const std::string& c : scope) {
    auto it = chunks->find(c);
    const std::size_t n = it == chunks->end() ? 0 : it->second;
    containers[c] = {{"chunks", n}};
    total += n;
  }
  json body = {{"containers", std::move(containers)},
               {"chunks", total},
               {"watermark", WatermarkJson(shards_->watermark())}};
  // Index-wide figures describe every container: only for an admin key, and a request that
  // did not narrow itself to some containers.
  if (index_wide) {
    body["index"] = {{"chunks", figures->chunks},
                     {"containers", figures->container_ids.size()},
                     {"shards", figures->shards},
                     {"vector_tombstones", figures->vector_tombstones},
                     {"sealed_vector_segments", figures->sealed_vector_segments},
                     {"sealed_keyword_segments", figures->sealed_keyword_segments},
                     {"result_cache_entries", results_.size()}};
  }
  return Json(200, body);
}

}  // namespace tide::query
