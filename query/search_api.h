#pragma once

#include <array>
#include <chrono>

#include "common/metrics.h"
#include "query/auth.h"
#include "query/follower.h"
#include "query/shard_search.h"
#include "query/result_cache.h"
#include "common/http/http_server.h"
#include "query/searcher.h"

namespace tide::query {

class ShardApi;

// Routes and request/response mapping: HttpRequest -> HttpResponse. Knows search, not
// sockets. Every 4xx says what is wrong in Elasticsearch's error shape (see JsonError).
//
// Every route but /healthz needs an API key (Authorizer); a search is confined to the
// containers the key and the request's scope (container_ids or principal) allow.
//
//   GET  /healthz     liveness, unauthenticated
//   GET  /console     the search console, a page for people (static, unauthenticated; it asks
//                     for a key and every call it makes needs one)
//   GET  /readyz      200 once the index is loaded and caught up, else 503 with the reason
//   GET  /metrics     Prometheus text format
//   GET  /v1/analyze  the query pipeline's view of ?text=...
//   POST /v1/search   hybrid search within the request's containers
//   POST /v1/context  RAG context: top documents' best chunks within a character budget,
//                     numbered, with citations
//   *    /v1/shards   the shard API a router calls (query/shard_api.h): admin keys reading
//                     every container only
//   GET  /v1/stats    chunks per container within the request's scope (?container_ids=a,b or
//                     ?principal=p; default the key's scope); index-wide figures only for
//                     keys that may read every container, asking without a scope
//
// Thread-safe and never throws: the HTTP server calls it from several worker threads.
class SearchApi {
 public:
  struct Limits {
    std::size_t max_query_bytes = 4096;
    std::size_t max_k = 1000;
    std::size_t max_containers = 1024;
    // A search's deadline: the request's timeout_ms (at most max_timeout), else this.
    std::chrono::milliseconds default_timeout{10000};
    std::chrono::milliseconds max_timeout{60000};
    // Serve the search console at /console (query/console.h); false: 404 like any unknown path.
    bool console = true;
  };

  // `metrics` must outlive the API. `result_cache_entries` bounds the cache of /v1/search
  // responses (0: no cache). `authorizer` gives the keys and ACL in force; each request takes
  // one and keeps it to its end, so a reload never changes the rules under a request.
  SearchApi(const ShardSource* shards, const Searcher* searcher, AuthorizerSource authorizer, const Limits& limits,
            MetricsRegistry* metrics, std::size_t result_cache_entries = 0);
  // A fixed authorizer, which must outlive the API (tests and tools).
  SearchApi(const ShardSource* shards, const Searcher* searcher, const Authorizer* authorizer, const Limits& limits,
            MetricsRegistry* metrics, std::size_t result_cache_entries = 0);

  http::HttpResponse Handle(const http::HttpRequest& request) const;
  // Answers /v1/shards* (a router's steps) with `api`, for admin keys that read every
  // container; without it those paths are 404. Call before the first Handle.
  void ServeShardApi(const ShardApi* api) { shard_api_ = api; }

 private:
  http::HttpResponse Route(const http::HttpRequest& request, std::string* route) const;
  http::HttpResponse Search(const http::HttpRequest& request, const Authorizer& auth,
                            const Authorizer::ApiKey& key) const;
  http::HttpResponse Ready() const;
  http::HttpResponse Analyze(const http::HttpRequest& request) const;
  http::HttpResponse Context(const http::HttpRequest& request, const Authorizer& auth,
                             const Authorizer::ApiKey& key) const;
  http::HttpResponse Stats(const http::HttpRequest& request, const Authorizer& auth,
                           const Authorizer::ApiKey& key) const;
  // Principals from acl.* events, read from the followed store.
  Authorizer::AclLookup StoreAcl() const;

  const ShardSource* shards_;
  const ShardApi* shard_api_ = nullptr;
  const Searcher* searcher_;
  const AuthorizerSource authorizer_;
  const Limits limits_;
  MetricsRegistry* metrics_;
  std::array<Histogram*, 3> latency_;  // by SearchMode
  Counter* timed_out_;
  mutable ResultCache results_;
  mutable RateLimiter limiter_;  // by key name: survives reloads of the keys file
};

}  // namespace tide::query
