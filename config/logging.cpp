#include "config/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace candle {

void setup_logging(const std::string& level) {
  spdlog::drop("candle");
  auto logger = spdlog::stderr_logger_mt("candle");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l thread=%t %v",
                      spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

} // namespace candle
