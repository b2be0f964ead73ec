#pragma once

#include <chrono>
#include <string>

#include "common/config_util.h"
#include "common/status.h"
#include "common/http/http_server.h"
#include "query/remote_shards.h"
#include "query/search_api.h"
#include "query/searcher.h"

namespace tide::query {

// Everything tide-query reads at startup (configs/query.conf documents each key).
struct Config {
  SharedConfig shared;
  http::HttpServerOptions http;
  std::string port_file;             // if set, the bound port is written here (port 0 in tests)
  std::string secondary_dir;         // default: <data_dir>/query-secondary-<pid>
  bool default_secondary_dir = false;  // secondary_dir was derived: abandoned siblings are removed
  std::chrono::milliseconds follow_interval{100};
  // shards = per_partition: data_dir is a per-partition worker's, and every shard under its
  // partitions/ is served as one index (ServedShards; decision 0015).
  bool per_partition_shards = false;
  // partitions = 0,1: serve only these partitions' shards (a node among several behind a
  // router); empty: every shard under data_dir.
  std::vector<std::uint32_t> partitions;
  // shards = remote: a router; no store of its own, it searches the shards the nodes serve
  // (RemoteShards; decision 0016).
  bool remote_shards = false;
  RemoteShards::Options remote;
  double snapshot_jump_ratio = 0.05;  // Follower::Options::snapshot_jump_ratio
  std::chrono::milliseconds max_lag{30000};  // Follower::Options::max_lag
  Searcher::Options search;
  // Threads besides a request's own that run its lists (title BM25, body BM25, the vector
  // list) at the same time (ForkJoinPool); 0: one after another on the request's thread.
  int list_threads = 1;
  QueryRulesFiles rules;
  std::filesystem::path api_keys_file;
  std::filesystem::path acl_file;
  std::chrono::milliseconds rules_reload_interval{2000};
  std::chrono::milliseconds auth_reload_interval{2000};
  SearchApi::Limits limits;
  std::size_t result_cache_entries = 1024;     // /v1/search responses, per watermark
  std::size_t embedding_cache_entries = 4096;  // query texts -> vectors
};

// NotFound after --help (usage printed); InvalidArgument names the bad key or value.
Result<Config> ParseConfig(int argc, const char* const* argv);

// Runs the daemon until `stopping` is set or the follower hits a fatal error; drains
// in-flight requests before returning.
Status RunServer(const Config& config, const std::atomic<bool>& stopping);

}  // namespace tide::query
