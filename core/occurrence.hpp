// The occurrence calculus: when is a user's occasion due, as a UTC instant.
//
// Pure functions over date/tz (the system IANA database). No actors, no I/O
// beyond the tz database that date/tz reads once. The rules are those of
// contract.md, "Greeting rules"; docs/occurrence-calculus.md explains each.
#pragma once

#include "core/result.hpp"
#include "core/time.hpp"

#include <date/tz.h>
#include <string>
#include <string_view>

namespace candle {

/// When 29 Feb occasions fire in common years (`schedule.feb29`).
enum class feb29_policy { feb28, mar1 };

result<feb29_policy> parse_feb29_policy(std::string_view text);
std::string_view to_string(feb29_policy p);

/// Looks up an IANA zone name (`UTC`, `Etc/UTC`, links such as `US/Eastern`
/// and three-part names included). Unknown names are an error value.
result<const date::time_zone*> find_zone(std::string_view name);

/// What one user's occasion needs for scheduling.
struct occasion_rule {
  date::year_month_day date;   ///< the stored date, e.g. the day of birth
  const date::time_zone* zone; ///< the user's zone, never null
  time_of_day send_at;         ///< local wall-clock time to send at
  feb29_policy feb29 = feb29_policy::feb28;
};

/// The calendar day on which the occasion falls in `y`: the rule's month and
/// day, with 29 Feb moved to 28 Feb or 1 Mar in common years.
date::year_month_day occasion_day(date::month_day md, date::year y, feb29_policy p);

/// How a due instant relates to the requested local time.
enum class local_fit {
  exact,   ///< the local time exists once
  gap,     ///< it fell into a gap (DST start); shifted forward by the gap's length
  overlap, ///< it occurs twice (DST end); the earlier instant was taken
};

struct due {
  int year;            ///< the occurrence's year, part of the idempotency key
  sys_seconds instant; ///< when it is due, UTC
  local_fit fit;
};

/// Local wall-clock time to UTC under the contract's rules: a time inside a
/// gap is shifted forward by the gap's length (it is read with the offset in
/// force before the gap); a time that occurs twice maps to the earlier instant.
std::pair<sys_seconds, local_fit> resolve_local(const date::time_zone* zone,
                                                date::local_seconds local);

/// The occurrence of `rule` in year `y`. Occurrences exist only for years
/// after the stored date's own year (the first birthday, the first
/// anniversary); an earlier year is an `out_of_range` error.
result<due> due_in_year(const occasion_rule& rule, int y);

/// The first occurrence strictly after `after`.
result<due> next_due_after(const occasion_rule& rule, sys_seconds after);

/// A user created after an occurrence's due instant is not greeted for it.
inline bool eligible(sys_millis created_at, sys_seconds due_at) {
  return created_at <= due_at;
}

/// The idempotency key of one greeting: `{user_id}:{occasion}:{year}`.
std::string idempotency_key(std::string_view user_id, std::string_view occasion, int year);

} // namespace candle
