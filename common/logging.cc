#include "common/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace tide {

Status InitLogging(const LoggingConfig& config) {
  spdlog::level::level_enum level = spdlog::level::from_str(config.level);
  if (level == spdlog::level::off && config.level != "off") {
    return Status::InvalidArgument("unknown log level '" + config.level + "'");
  }
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (config.file.empty()) {
      logger = spdlog::stderr_color_mt(config.component.empty() ? "tide" : config.component);
    } else {
      logger = spdlog::basic_logger_mt(config.component.empty() ? "tide" : config.component, config.file);
    }
  } catch (const spdlog::spdlog_ex& e) {
    return Status::InvalidArgument(std::string("logging: ") + e.what());
  }
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%n] %v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return Status();
}

}  // namespace tide
