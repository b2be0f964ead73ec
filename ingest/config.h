#pragma once

#include <chrono>
#include <filesystem>

#include "common/config_util.h"
#include "common/status.h"
#include "common/storage/store.h"
#include "ingest/applier.h"
#include "ingest/consumer_loop.h"
#include "ingest/event.h"
#include "ingest/kafka_conf.h"

namespace tide::ingest {

// Everything tide-ingest reads at startup (configs/ingest.conf documents each key).
struct Config {
  SharedConfig shared;
  KafkaConfig kafka;
  ConsumerLoop::Options batch;
  Applier::Options applier;
  DecodeLimits limits;
  storage::Store::Options store;
  std::chrono::seconds snapshot_interval{30};
  int snapshot_keep = 2;
  // GET /metrics (Prometheus) and /healthz; port 0 lets the kernel choose, -1 disables.
  std::string metrics_address = "127.0.0.1";
  int metrics_port = 9464;
  std::string metrics_port_file;
};

// NotFound after --help (usage printed); InvalidArgument names the bad key or value.
Result<Config> ParseConfig(int argc, const char* const* argv);
// The same, for tools that act on a worker's store and topic (tidectl replay, dlq): the
// worker's options and config file, plus the tool's own `extra` options.
Result<Config> ParseConfig(int argc, const char* const* argv, boost::program_options::options_description& extra,
                           const std::string& usage);

}  // namespace tide::ingest
