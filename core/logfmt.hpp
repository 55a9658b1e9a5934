// Candle's log lines are logfmt: `event=partition.fenced partition=3
// reason="the lease may have expired"`. For log shippers (`log.format=json`)
// the same line becomes one JSON object per line with the same keys:
// {"ts":"…","level":"warning","thread":7,"event":"partition.fenced",
// "partition":3,"reason":"the lease may have expired"}. Pure; the logger
// (config/logging.cpp) calls it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace candle::logfmt {

/// One key and its value as written; `quoted` when it was in double quotes.
struct field {
  std::string key;
  std::string value;
  bool quoted = false;
};

/// Splits a message into its key=value fields. A quoted value ends at a `"`
/// followed by the end or by a space and the next `key=` (call sites do not
/// escape inner quotes: `error="socket "/x" failed" n=1` is two fields), and
/// `\"` inside it is a quote. Nothing when the message is not logfmt
/// (a word without `=`, an empty key, an unterminated quote).
std::vector<field> parse(std::string_view msg);

/// Appends `s` as a JSON string literal: quotes, backslashes and control
/// characters escaped, bytes that are not UTF-8 replaced by U+FFFD.
void append_json_string(std::string& out, std::string_view s);

/// The JSON line (without the newline) for one log event. Unquoted values
/// that are JSON numbers stay numbers; everything else is a string. A
/// message that is not logfmt is kept whole under "msg"; a key that would
/// repeat ts, level or thread (or an earlier key) gets a leading "_".
std::string to_json(std::string_view ts, std::string_view level, unsigned long thread,
                    std::string_view msg);

} // namespace candle::logfmt
