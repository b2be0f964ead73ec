#include "query/config.h"
#include "query/secondary_dir.h"

#include <unistd.h>

#include <thread>

#include <spdlog/spdlog.h>

#include "common/file_util.h"
#include "common/reloading.h"
#include "common/embedding/caching_embedder.h"
#include "common/embedding/embedder.h"
#include "query/shard_api.h"

namespace tide::query {

namespace po = boost::program_options;

Result<Config> ParseConfig(int argc, const char* const* argv) {
  Config c;
  int port = c.http.port;
  int read_timeout_ms = static_cast<int>(c.http.read_timeout.count());
  int follow_ms = static_cast<int>(c.follow_interval.count());
  std::string shards = "single";
  std::string partitions, remote_nodes;
  long remote_refresh_ms = static_cast<long>(c.remote.refresh.count());
  long remote_timeout_ms = static_cast<long>(c.remote.http.timeout.count());
  int reload_ms = static_cast<int>(c.rules_reload_interval.count());
  int auth_reload_ms = static_cast<int>(c.auth_reload_interval.count());
  long max_lag_ms = static_cast<long>(c.max_lag.count());
  long timeout_ms = static_cast<long>(c.limits.default_timeout.count());
  long max_timeout_ms = static_cast<long>(c.limits.max_timeout.count());
  std::string rules_file, stopwords_file, synonyms_file, spelling_file, api_keys_file, acl_file;
  std::string tls_cert, tls_key, tls_client_ca;
  int tls_reload_ms = static_cast<int>(c.http.tls.reload_interval.count());
  po::options_description options("tide-query options");
  AddSharedOptions(options, &c.shared);
  options.add_options()
      ("http.address", po::value(&c.http.address)->default_value(c.http.address), "listen address")
      ("http.port", po::value(&port)->default_value(port), "listen port; 0 lets the kernel choose")
      ("http.port_file", po::value(&c.port_file)->default_value(""), "write the bound port here")
      ("http.io_threads", po::value(&c.http.io_threads)->default_value(c.http.io_threads), "socket I/O threads")
      ("http.worker_threads", po::value(&c.http.worker_threads)->default_value(c.http.worker_threads),
       "threads that run searches")
      ("http.max_body_bytes", po::value(&c.http.max_body_bytes)->default_value(c.http.max_body_bytes),
       "larger request bodies get 413")
      ("http.max_in_flight", po::value(&c.http.max_in_flight)->default_value(c.http.max_in_flight),
       "requests handled at once; beyond, 503 with Retry-After")
      ("http.read_timeout_ms", po::value(&read_timeout_ms)->default_value(read_timeout_ms),
       "idle or slow connections are closed after this")
      ("tls.cert_file", po::value(&tls_cert)->default_value(""),
       "PEM certificate chain: serve HTTPS instead of HTTP (with tls.key_file)")
      ("tls.key_file", po::value(&tls_key)->default_value(""), "PEM private key of tls.cert_file")
      ("tls.client_ca_file", po::value(&tls_client_ca)->default_value(""),
       "PEM CAs: every client must present a certificate one of them signed (mutual TLS)")
      ("tls.reload_ms", po::value(&tls_reload_ms)->default_value(tls_reload_ms),
       "how often the TLS files are checked and, when changed, loaded for new connections")
      ("shards", po::value(&shards)->default_value(shards),
       "single: data_dir holds one worker's store; per_partition: a per-partition worker's shards "
       "(data_dir/partitions/<n>), served as one index; remote: a router over the shards that the "
       "daemons in remote.nodes serve")
      ("partitions", po::value(&partitions)->default_value(""),
       "with shards = per_partition: serve only these partitions' shards, e.g. 0,1,2 (a node behind a "
       "router); empty: all")
      ("remote.nodes", po::value(&remote_nodes)->default_value(""),
       "with shards = remote: the nodes' base URLs, comma-separated (http://10.0.0.5:8080,...)")
      ("remote.api_key", po::value(&c.remote.api_key)->default_value(""),
       "with shards = remote: the key the router presents to the nodes (role admin, containers [\"*\"] there)")
      ("remote.refresh_ms", po::value(&remote_refresh_ms)->default_value(remote_refresh_ms),
       "how often the router polls each node's shard map")
      ("remote.timeout_ms", po::value(&remote_timeout_ms)->default_value(remote_timeout_ms),
       "the longest a router waits for one step of a node (a search's own deadline cuts it shorter)")
      ("follow.interval_ms", po::value(&follow_ms)->default_value(follow_ms),
       "how often the daemon catches up with the worker's store")
      ("follow.snapshot_jump_ratio",
       po::value(&c.snapshot_jump_ratio)->default_value(c.snapshot_jump_ratio),
       "load the worker's newer snapshot instead of replaying when it is ahead by more than this "
       "fraction of the indexed chunks (0: always replay)")
      ("follow.max_lag_ms", po::value(&max_lag_ms)->default_value(max_lag_ms),
       "/readyz says not ready while the index has not caught up with the worker for longer than "
       "this (0: never for lag)")
      ("follow.secondary_dir", po::value(&c.secondary_dir)->default_value(""),
       "private directory of the RocksDB secondary (default: <data_dir>/query-secondary-<pid>)")
      ("console.enabled", po::value(&c.limits.console)->default_value(c.limits.console),
       "serve the search console at /console")
      ("search.rrf_k", po::value(&c.search.rrf_k)->default_value(c.search.rrf_k), "Reciprocal Rank Fusion k")
      ("search.candidates", po::value(&c.search.candidates)->default_value(c.search.candidates),
       "candidates per retriever before fusion")
      ("search.list_threads", po::value(&c.list_threads)->default_value(c.list_threads),
       "threads besides a request's own that run its retriever lists (title BM25, body BM25, vector) "
       "at the same time; 0: one after another")
      ("search.max_k", po::value(&c.limits.max_k)->default_value(c.limits.max_k), "largest k a request may ask")
      ("search.timeout_ms", po::value(&timeout_ms)->default_value(timeout_ms),
       "a search's deadline unless the request gives timeout_ms")
      ("search.max_timeout_ms", po::value(&max_timeout_ms)->default_value(max_timeout_ms),
       "the largest timeout_ms a request may give")
      ("search.rules_file", po::value(&rules_file)->default_value(""),
       "intent rules, fusion weights and thresholds (JSON); empty: built-in defaults")
      ("search.stopwords_file", po::value(&stopwords_file)->default_value(""), "query stopwords, one per line")
      ("search.synonyms_file", po::value(&synonyms_file)->default_value(""), "query synonyms (a, b, c / a => b)")
      ("search.spelling_file", po::value(&spelling_file)->default_value(""), "query spelling corrections (wrong, wrong2 => right)")
      ("auth.api_keys_file", po::value(&api_keys_file)->default_value(""),
       "JSON file of API keys and their container scopes (required)")
      ("auth.acl_file", po::value(&acl_file)->default_value(""), "JSON file mapping principals to containers")
      ("auth.reload_ms", po::value(&auth_reload_ms)->default_value(auth_reload_ms),
       "how often the API keys and ACL files are checked for changes")
      ("search.rules_reload_ms", po::value(&reload_ms)->default_value(reload_ms),
       "how often the rule files are checked for changes")
      ("cache.results", po::value(&c.result_cache_entries)->default_value(c.result_cache_entries),
       "search responses kept for repeated requests (emptied when the index moves); 0: off")
      ("cache.query_embeddings", po::value(&c.embedding_cache_entries)->default_value(c.embedding_cache_entries),
       "query embeddings kept (by query text); 0: off");
  Result<po::variables_map> vm = ParseCommandLineAndConfig(
      argc, argv, options, "tide-query: serves hybrid search over the TideSearch store");
  if (!vm) return vm.status();
  if (port < 0 || port > 65535) return Status::InvalidArgument("http.port must be in [0, 65535]");
  if (c.http.io_threads < 1 || c.http.worker_threads < 1) {
    return Status::InvalidArgument("http.io_threads and http.worker_threads must be positive");
  }
  if (c.list_threads < 0) return Status::InvalidArgument("search.list_threads must not be negative");
  if (follow_ms < 1) return Status::InvalidArgument("follow.interval_ms must be positive");
  if (c.search.rrf_k <= 0) return Status::InvalidArgument("search.rrf_k must be positive");
  if (timeout_ms < 1 || max_timeout_ms < timeout_ms) {
    return Status::InvalidArgument("search.timeout_ms must be positive and at most search.max_timeout_ms");
  }
  c.limits.default_timeout = std::chrono::milliseconds(timeout_ms);
  c.limits.max_timeout = std::chrono::milliseconds(max_timeout_ms);
  if (max_lag_ms < 0) return Status::InvalidArgument("follow.max_lag_ms must not be negative");
  c.max_lag = std::chrono::milliseconds(max_lag_ms);
  if (c.snapshot_jump_ratio < 0) return Status::InvalidArgument("follow.snapshot_jump_ratio must not be negative");
  c.http.port = static_cast<std::uint16_t>(port);
  c.http.read_timeout = std::chrono::milliseconds(read_timeout_ms);
  c.follow_interval = std::chrono::milliseconds(follow_ms);
  if (shards != "single" && shards != "per_partition" && shards != "remote") {
    return Status::InvalidArgument("shards must be 'single', 'per_partition' or 'remote', not '" + shards + "'");
  }
  c.per_partition_shards = shards == "per_partition";
  c.remote_shards = shards == "remote";
  for (const std::string& p : SplitList(partitions)) {
    std::size_t used = 0;
    unsigned long n = 0;
    try {
      n = std::stoul(p, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != p.size() || n > 65535) return Status::InvalidArgument("partitions: '" + p + "' is not a partition number");
    c.partitions.push_back(static_cast<std::uint32_t>(n));
  }
  if (!c.partitions.empty() && !c.per_partition_shards) {
    return Status::InvalidArgument("partitions needs shards = per_partition");
  }
  c.remote.nodes = SplitList(remote_nodes);
  if (c.remote_shards && c.remote.nodes.empty()) {
    return Status::InvalidArgument("shards = remote needs remote.nodes (the daemons serving the shards)");
  }
  if (c.remote_shards && c.remote.api_key.empty()) {
    return Status::InvalidArgument("shards = remote needs remote.api_key (the key the nodes know the router by)");
  }
  if (remote_refresh_ms < 1 || remote_timeout_ms < 1) {
    return Status::InvalidArgument("remote.refresh_ms and remote.timeout_ms must be positive");
  }
  c.remote.refresh = std::chrono::milliseconds(remote_refresh_ms);
  c.remote.http.timeout = std::chrono::milliseconds(remote_timeout_ms);
  c.remote.http.proxy = "none";  // the nodes are ours: never through a proxy from the environment
  if (reload_ms < 1) return Status::InvalidArgument("search.rules_reload_ms must be positive");
  c.rules_reload_interval = std::chrono::milliseconds(reload_ms);
  if (auth_reload_ms < 1) return Status::InvalidArgument("auth.reload_ms must be positive");
  c.auth_reload_interval = std::chrono::milliseconds(auth_reload_ms);
  // Relative rule paths are relative to the config file's directory, so configs/query.conf
  // finds configs/search_rules.json from any working directory.
  std::filesystem::path base;
  if (vm->count("config")) base = std::filesystem::path((*vm)["config"].as<std::string>()).parent_path();
  auto resolve = [&](const std::string& p) -> std::filesystem::path {
    if (p.empty()) return {};
    std::filesystem::path path(p);
    return path.is_absolute() || base.empty() ? path : base / path;
  };
  c.rules = {resolve(rules_file), resolve(stopwords_file), resolve(synonyms_file), resolve(spelling_file)};
  if (tls_cert.empty() != tls_key.empty()) {
    return Status::InvalidArgument("tls.cert_file and tls.key_file go together: give both, or neither for plain HTTP");
  }
  if (!tls_client_ca.empty() && tls_cert.empty()) {
    return Status::InvalidArgument("tls.client_ca_file needs tls.cert_file and tls.key_file");
  }
  if (tls_reload_ms < 1) return Status::InvalidArgument("tls.reload_ms must be positive");
  c.http.tls.cert_file = resolve(tls_cert);
  c.http.tls.key_file = resolve(tls_key);
  c.http.tls.client_ca_file = resolve(tls_client_ca);
  c.http.tls.reload_interval = std::chrono::milliseconds(tls_reload_ms);
  c.api_keys_file = resolve(api_keys_file);
  c.acl_file = resolve(acl_file);
  if (c.secondary_dir.empty()) {
    c.default_secondary_dir = true;
    c.secondary_dir = (std::filesystem::path(c.shared.data_dir) / ("query-secondary-" + std::to_string(::getpid()))).string();
  }
  c.shared.logging.component = "query";
  return c;
}

Status RunServer(const Config& config, const std::atomic<bool>& stopping) {
  MetricsRegistry metrics;
  Result<std::unique_ptr<embedding::Embedder>> embedder = embedding::MakeEmbedder(config.shared.embedder);
  if (!embedder) return embedder.status();
  if (config.embedding_cache_entries > 0) {
    auto counter = [&metrics](const char* outcome) {
      return metrics.AddCounter("tide_query_cache_requests_total", "Cache lookups by cache and outcome.",
                                {{"cache", "query_embedding"}, {"outcome", outcome}});
    };
    *embedder = std::make_unique<embedding::CachingEmbedder>(std::move(*embedder), config.embedding_cache_entries,
                                                             counter("hit"), counter("miss"));
  }
  // What the daemon searches: the stores it follows, or (a router) the shards other daemons
  // serve.
  std::unique_ptr<SecondaryDir> secondary;
  ForkJoinPool list_pool(config.remote_shards ? 0 : config.list_threads);  // outlives `served`
  std::unique_ptr<ServedShards> served;
  std::unique_ptr<RemoteShards> remote;
  ShardSource* shards = nullptr;
  if (config.remote_shards) {
    Result<std::unique_ptr<RemoteShards>> made = RemoteShards::Create(config.remote, &metrics);
    if (!made) return made.status();
    remote = std::move(*made);
    shards = remote.get();
  } else {
    // Before the follower opens the store: abandoned secondaries of killed daemons go first.
    Result<std::unique_ptr<SecondaryDir>> claimed =
        SecondaryDir::Claim(config.secondary_dir, config.default_secondary_dir);
    if (!claimed) return claimed.status();
    secondary = std::move(*claimed);
    Follower::Options follow;
    follow.data_dir = config.shared.data_dir;
    follow.secondary_dir = config.secondary_dir;
    follow.interval = config.follow_interval;
    follow.snapshot_jump_ratio = config.snapshot_jump_ratio;
    follow.max_lag = config.max_lag;
    follow.index.model_id = (*embedder)->model_id();
    follow.index.vector = config.shared.hnsw;
    follow.index.vector.dim = (*embedder)->dimension();
    served = std::make_unique<ServedShards>(follow, config.per_partition_shards, config.partitions);
    served->UseListPool(&list_pool);
    shards = served.get();
  }
  // Reloads of the API keys / ACL and of the query rules, counted by outcome.
  auto reload_observer = [&metrics](const char* files) {
    Counter* ok = metrics.AddCounter("tide_query_reloads_total", "Configuration files reloaded, by files and outcome.",
                                     {{"files", files}, {"outcome", "ok"}});
    Counter* failed = metrics.AddCounter("tide_query_reloads_total", "Configuration files reloaded, by files and outcome.",
                                         {{"files", files}, {"outcome", "failed"}});
    return [ok, failed](const Status& s) { (s.ok() ? ok : failed)->Inc(); };
  };
  Result<std::unique_ptr<Reloading<Authorizer>>> authorizer = Reloading<Authorizer>::Start(
      "API keys and ACL", {config.api_keys_file, config.acl_file},
      [&config]() -> Result<std::shared_ptr<const Authorizer>> {
        Result<std::unique_ptr<Authorizer>> loaded = Authorizer::Load(config.api_keys_file, config.acl_file);
        if (!loaded) return loaded.status();
        return std::shared_ptr<const Authorizer>(std::move(*loaded));
      },
      config.auth_reload_interval, reload_observer("auth"));
  if (!authorizer) return authorizer.status();
  Result<std::unique_ptr<QueryRulesWatcher>> rules =
      QueryRulesWatcher::Start(config.rules, config.rules_reload_interval, reload_observer("rules"));
  if (!rules) return rules.status();
  Searcher searcher(shards, embedder->get(), rules->get(), config.search);
  Reloading<Authorizer>* auth = authorizer->get();
  SearchApi api(shards, &searcher, [auth] { return auth->current(); }, config.limits, &metrics,
                config.result_cache_entries);
  // A daemon with shards of its own answers routers' steps on them.
  std::unique_ptr<ShardApi> shard_api;
  if (served) {
    shard_api = std::make_unique<ShardApi>(served.get(), &metrics);
    api.ServeShardApi(shard_api.get());
  }
  http::HttpServerOptions http_options = config.http;
  http_options.tls.on_reload = reload_observer("tls");
  Result<std::unique_ptr<http::HttpServer>> server =
      http::HttpServer::Start(http_options, [&api](const http::HttpRequest& r) { return api.Handle(r); });
  if (!server) return server.status();
  if ((*server)->tls()) {
    http::HttpServer* raw = server->get();
    metrics.AddCallbackGauge("tide_query_tls_handshake_failures", "TLS handshakes that failed since start.", {},
                             [raw] { return static_cast<double>(raw->tls_handshake_failures()); });
  }
  if (!config.port_file.empty()) {
    TIDE_RETURN_IF_ERROR(WriteFileAtomic(config.port_file, std::to_string((*server)->port()) + "\n"));
  }
  if (config.remote_shards) {
    spdlog::info("tide-query routing address={} port={} nodes={}", config.http.address, (*server)->port(),
                 config.remote.nodes.size());
  } else {
    spdlog::info("tide-query serving address={} port={} data_dir={}", config.http.address, (*server)->port(),
                 config.shared.data_dir);
  }
  Status result;
  while (!stopping.load()) {
    if (Status fatal = shards->fatal(); !fatal.ok()) {
      result = fatal;
      break;
    }
    // Not a synchronisation sleep: the daemon's main thread only watches for a stop.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  (*server)->Stop();
  return result;
}

}  // namespace tide::query
