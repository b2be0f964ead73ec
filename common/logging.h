#pragma once

#include <string>

#include "common/status.h"

namespace tide {

struct LoggingConfig {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string file;            // empty: stderr
  std::string component;       // shown in every line, e.g. "ingest"
};

// Sets up the default spdlog logger. Call once from main, before any other thread starts.
Status InitLogging(const LoggingConfig& config);

}  // namespace tide
