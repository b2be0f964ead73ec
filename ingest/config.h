#pragma once

#include <chrono>
#include <filesystem>

#include "common/config_util.h"
#include "common/status.h"
#include "common/storage/store.h"
#include "ingest/applier.h"
#include "ingest/consumer_loop.h"
#include "ingest/dead_letters.h"
#include "ingest/event.h"
#include "ingest/kafka_conf.h"
#include "ingest/preflight.h"
#include "ingest/shards.h"

namespace tide::ingest {

// Everything tide-ingest reads at startup (configs/ingest.conf documents each key).
struct Config {
  SharedConfig shared;
  KafkaConfig kafka;
  PreflightOptions preflight;
  DeadLetterProducer::Options dead_letters;
  ConsumerLoop::Options batch;
  // A batch that fails with an error that is neither transient (Unavailable: retried for ever)
  // nor the input's (InvalidArgument) is retried this many times, then applied event by event;
  // an event that still fails is dead-lettered ("apply_failed") and the partition goes on.
  int max_apply_attempts = 5;
  Applier::Options applier;
  DecodeLimits limits;
  storage::Store::Options store;
  // One store, or a shard per partition (ingest/shards.h; decision 0015).
  ShardLayout shards = ShardLayout::kSingle;
  // Per-partition shards: how long opening a partition's shard waits for its previous owner to
  // let go of it.
  std::chrono::milliseconds shard_open_wait{30000};
  std::chrono::seconds snapshot_interval{30};
  int snapshot_keep = 2;
  bool trim_changes = true;  // Indexer::Options::trim_changes
  // GET /metrics (Prometheus) and /healthz; port 0 lets the kernel choose, -1 disables.
  std::string metrics_address = "127.0.0.1";
  int metrics_port = 9464;
  std::string metrics_port_file;
  // On-disk cache of passage vectors (embedding::DiskCacheEmbedder); empty: none.
  std::string embedding_cache_path;
  // After an error that stops the worker, /readyz says why for this long before it exits.
  std::chrono::milliseconds fatal_exit_delay{5000};
};

// The default group.instance.id: stable across restarts of the worker that owns `data_dir` on
// this host, distinct for every other data directory ("tide-ingest-<host>-<12 hex digits>").
std::string DefaultGroupInstanceId(const std::string& data_dir);

// NotFound after --help (usage printed); InvalidArgument names the bad key or value.
Result<Config> ParseConfig(int argc, const char* const* argv);
// The same, for tools that act on a worker's store and topic (tidectl replay, dlq): the
// worker's options and config file, plus the tool's own `extra` options.
Result<Config> ParseConfig(int argc, const char* const* argv, boost::program_options::options_description& extra,
                           const std::string& usage);

}  // namespace tide::ingest
