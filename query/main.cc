#include <iostream>

#include <spdlog/spdlog.h>

#include "common/allocator.h"
#include "common/logging.h"
#include "common/stop_signal.h"
#include "query/config.h"

int main(int argc, char** argv) {
  tide::Result<tide::query::Config> config = tide::query::ParseConfig(argc, argv);
  if (!config) {
    if (config.status().code() == tide::Status::Code::kNotFound) return 0;  // --help
    std::cerr << "tide-query: " << config.status().message() << '\n';
    return 2;
  }
  if (tide::Status s = tide::InitLogging(config->shared.logging); !s.ok()) {
    std::cerr << "tide-query: " << s.message() << '\n';
    return 2;
  }
  spdlog::info("tide-query starting allocator={}", tide::AllocatorName());
  tide::StopSignal stop;
  tide::Status s = tide::query::RunServer(*config, stop.stopping());
  if (!s.ok()) spdlog::critical("query exiting: {}", s.ToString());
  return s.ok() ? 0 : 1;
}
