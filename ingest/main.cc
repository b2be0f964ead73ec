#include <iostream>

#include <spdlog/spdlog.h>

#include "common/allocator.h"
#include "common/logging.h"
#include "common/stop_signal.h"
#include "ingest/config.h"
#include "ingest/worker.h"

int main(int argc, char** argv) {
  tide::Result<tide::ingest::Config> config = tide::ingest::ParseConfig(argc, argv);
  if (!config) {
    if (config.status().code() == tide::Status::Code::kNotFound) return 0;  // --help
    std::cerr << "tide-ingest: " << config.status().message() << '\n';
    return 2;
  }
  if (tide::Status s = tide::InitLogging(config->shared.logging); !s.ok()) {
    std::cerr << "tide-ingest: " << s.message() << '\n';
    return 2;
  }
  spdlog::info("tide-ingest starting allocator={}", tide::AllocatorName());
  tide::StopSignal stop;
  tide::Status s = tide::ingest::RunWorker(*config, stop.stopping());
  if (!s.ok()) spdlog::critical("ingest exiting: {}", s.ToString());
  return s.ok() ? 0 : 1;
}
