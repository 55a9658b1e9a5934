// Structured logging: one line per event, logfmt (`ts=… level=… event=…
// key=value`), UTC timestamps, to stderr. Call sites use spdlog directly.
#pragma once

#include <string>

namespace candle {

/// Installs the default logger at `level` (trace|debug|info|warn|error|off).
void setup_logging(const std::string& level);

} // namespace candle
