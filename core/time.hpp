// Parsing and formatting of the time values Candle exchanges with people and
// programs: calendar dates (YYYY-MM-DD), wall-clock times (HH:MM) and UTC
// instants (ISO-8601). Strict: anything that is not exactly one of these forms
// is an error value.
#pragma once

#include "core/result.hpp"

#include <chrono>
#include <date/date.h>
#include <string>
#include <string_view>

namespace candle {

using sys_seconds = date::sys_seconds;
using sys_millis = date::sys_time<std::chrono::milliseconds>;

/// A local wall-clock time of day with minute precision.
struct time_of_day {
  int hour = 0;
  int minute = 0;
  std::chrono::minutes since_midnight() const {
    return std::chrono::hours{hour} + std::chrono::minutes{minute};
  }
  friend bool operator==(time_of_day a, time_of_day b) {
    return a.hour == b.hour && a.minute == b.minute;
  }
};

/// Parses `HH:MM` (00:00 to 23:59).
result<time_of_day> parse_time_of_day(std::string_view text);
std::string format_time_of_day(time_of_day t);

/// Parses `YYYY-MM-DD`, which must name a real calendar date (no 2023-02-29).
result<date::year_month_day> parse_date(std::string_view text);
std::string format_date(date::year_month_day d);

/// Parses an ISO-8601 instant: `YYYY-MM-DDTHH:MM[:SS[.fraction]]` followed by
/// `Z` or a `±HH:MM` offset. Fractions finer than milliseconds are truncated.
result<sys_millis> parse_instant(std::string_view text);
/// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ`, as JavaScript's toISOString does.
std::string format_instant(sys_millis t);
inline std::string format_instant(sys_seconds t) {
  return format_instant(sys_millis{t});
}

} // namespace candle
