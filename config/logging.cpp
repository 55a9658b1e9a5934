#include "config/logging.hpp"

#include "core/logfmt.hpp"
#include "core/time.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace candle {

namespace {

// One JSON object per line (log.format=json), from the same logfmt message.
class json_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto ts = format_instant(std::chrono::floor<std::chrono::milliseconds>(msg.time));
    auto level = spdlog::level::to_string_view(msg.level);
    auto line = logfmt::to_json(ts, {level.data(), level.size()}, msg.thread_id,
                                {msg.payload.data(), msg.payload.size()});
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }
};

} // namespace

void setup_logging(const std::string& level, const std::string& format) {
  spdlog::drop("candle");
  auto logger = spdlog::stderr_logger_mt("candle");
  if (format == "json")
    logger->set_formatter(std::make_unique<json_formatter>());
  else
    logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l thread=%t %v",
                        spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

} // namespace candle
