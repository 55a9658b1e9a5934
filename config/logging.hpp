// Structured logging: one line per event to stderr, UTC timestamps. logfmt
// (`ts=… level=… thread=… event=… key=value`) by default; with
// log.format=json one JSON object per line with the same keys (core/logfmt).
// Call sites use spdlog directly and write logfmt messages.
#pragma once

#include <string>

namespace candle {

/// Installs the default logger at `level` (trace|debug|info|warn|error|off)
/// in `format` (logfmt|json).
void setup_logging(const std::string& level, const std::string& format = "logfmt");

} // namespace candle
