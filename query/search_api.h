#pragma once

#include "query/follower.h"
#include "query/http_server.h"
#include "query/searcher.h"

namespace tide::query {

// Routes and request/response mapping: HttpRequest -> HttpResponse. Knows search, not
// sockets. Every 4xx says what is wrong in Elasticsearch's error shape (see JsonError).
//
//   GET  /healthz     liveness, unauthenticated
//   GET  /readyz      200 once the index is loaded and caught up, else 503 with the reason
//   POST /v1/search   hybrid search within the request's containers
//
// Thread-safe and never throws: the HTTP server calls it from several worker threads.
class SearchApi {
 public:
  struct Limits {
    std::size_t max_query_bytes = 4096;
    std::size_t max_k = 1000;
    std::size_t max_containers = 1024;
  };

  SearchApi(const Follower* follower, const Searcher* searcher, const Limits& limits);

  HttpResponse Handle(const HttpRequest& request) const;

 private:
  HttpResponse Search(const HttpRequest& request) const;
  HttpResponse Ready() const;

  const Follower* follower_;
  const Searcher* searcher_;
  const Limits limits_;
};

}  // namespace tide::query
