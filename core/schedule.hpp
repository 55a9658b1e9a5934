// From users to occurrences: the pure rules a partition and the window scan
// share. Which occasions exist and when they are sent are data
// (schedule_rules); the calculus is in occurrence.hpp.
#pragma once

#include "core/model.hpp"
#include "core/occurrence.hpp"

#include <string>
#include <vector>

namespace candle {

struct schedule_rules {
  struct occasion {
    std::string name; ///< "birthday": the user's birthday_date, DB columns birthday_*
    time_of_day send_at;
  };
  std::vector<occasion> occasions;
  feb29_policy feb29 = feb29_policy::feb28;
};

/// The built-in occasions with their default send times, feb28.
schedule_rules default_rules();

/// The date of `occasion` in `u` ("" when the user has none).
const std::string& occasion_date(const user& u, const std::string& occasion);

/// Every occurrence of `u` due in [from, to) (epoch ms) for which `u` is
/// eligible (created by the due instant), with key, email and rendered
/// message. A user with an unknown zone or date yields nothing.
std::vector<occurrence> occurrences_in(const user& u, const schedule_rules& rules, int64_t from,
                                       int64_t to);

/// Delay before retry number `attempts_made` (1 = the first retry):
/// exponential from 1 s, capped at 1 h, with "equal jitter" — uniformly in
/// [d/2, d] for the exponential d — so retries spread out but the first one
/// still comes after about a second. `u01` is a uniform draw in [0, 1).
int64_t retry_delay_ms(int attempts_made, double u01);

} // namespace candle
