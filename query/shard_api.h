#pragma once

#include <string>

#include "common/http/http_server.h"
#include "common/metrics.h"
#include "query/served_shards.h"

namespace tide::query {

// The shard API: what a router (query/remote_shards.h) asks of the daemon that serves some
// shards, one step of a search at a time, over the shards it names. Messages are CBOR
// (query/shard_wire.h). Every body names "shards" (the partition numbers to read, each served
// here) and, for a search step, "containers" (the scope, which the router has authorised).
//
//   GET|POST /v1/shards             the shards served here, loaded or not, with watermarks,
//                                   and the partition count they were made under (JSON for GET)
//   POST /v1/shards/terms           {terms, want: "in_scope"|"df"}: typo matching's vocabulary
//   POST /v1/shards/statistics      {fields, terms}: BM25 statistics of the scope per field, to
//                                   be summed over the shards
//   POST /v1/shards/lists           {k, filter, vector?, terms, term_weights, keyword: [{field,
//                                   statistics?}], timeout_ms?}: every retriever's best k,
//                                   merged over the shards (null: skipped for the deadline)
//   POST /v1/shards/chunks          {labels}: chunk records (store bytes), null when deleted
//   POST /v1/shards/document        {container_id, doc_id}: the document's record
//   POST /v1/shards/counts          live chunks per container of the scope
//   POST /v1/shards/acl             {principal}: the principal's ACL record
//   POST /v1/shards/figures         index-wide figures of the named shards
//
// Each step's answer carries "watermarks", one per shard read. A shard not served here or
// still loading is 503 (the router tries another copy); a malformed body is 400.
// tide_query_shard_requests_total{shard, step} counts the steps each shard served, so an
// operator (and the e2e test) sees that a search scoped to some containers reads only their
// shards. SearchApi routes /v1/shards* here only for an admin key that reads every container.
// Thread-safe.
class ShardApi {
 public:
  ShardApi(const ServedShards* shards, MetricsRegistry* metrics) : shards_(shards), metrics_(metrics) {}

  // `request.path` is /v1/shards or under it; `route` gets the metrics label.
  http::HttpResponse Handle(const http::HttpRequest& request, std::string* route) const;

 private:
  const ServedShards* shards_;
  MetricsRegistry* metrics_;
};

}  // namespace tide::query
