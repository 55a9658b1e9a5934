// The next wave: how many greetings come due in each of the next hours, and
// the instant (and zone) of the peak, from how many users have each
// occasion on each calendar day in each zone (a GROUP BY over the users
// table, persistence/store). Pure; the dashboard's API serves it.
//
// Counted as due, not as will-be-sent: a user created after an instant, or
// greeted already, still counts; the first-year rule (no greeting in the
// year of the stored date itself) is not applied.
#pragma once

#include "core/occurrence.hpp"
#include "core/schedule.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace candle {

/// `count` users whose `occasion` falls on month*100+day `md` in `zone`.
struct forecast_group {
  std::string occasion;
  std::string zone;
  int md = 0;
  int64_t count = 0;
};

struct forecast_report {
  sys_seconds from;              ///< the first hour's start (now, rounded down to the hour)
  std::vector<int64_t> per_hour; ///< greetings due in [from + h, from + h + 1 h)
  int64_t total = 0;             ///< in [now, from + hours)
  sys_seconds peak_at{};         ///< the instant with the most greetings due (earliest of ties)
  int64_t peak_count = 0;        ///< due at exactly that instant
  std::string peak_zone;         ///< the zone with most of them (first by name of ties)
  int64_t peak_zone_count = 0;
};

/// The month*100+day values whose users may come due in [now, now + span hours):
/// every calendar day a zone (UTC-12 to UTC+14) can be on in that span, and
/// 229 when a common year's 28 Feb or 1 Mar is among them.
std::vector<int> forecast_days(sys_seconds now, int span);

/// Greetings due in [now, now + span hours) by hour. Groups with an unknown zone,
/// an occasion the rules do not have, or an impossible day are skipped.
forecast_report forecast(const std::vector<forecast_group>& groups, const schedule_rules& rules,
                         sys_seconds now, int span = 48);

} // namespace candle
