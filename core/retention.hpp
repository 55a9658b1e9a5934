// Which years of send records are kept (records.keep-years, schema v9): the
// years whose tables are made ahead, and the oldest year kept. Pure.
#pragma once

#include "core/time.hpp"

#include <cstdint>

namespace candle {

struct record_years {
  int32_t make_from = 0; ///< make the tables of [make_from, make_to] ahead:
  int32_t make_to = 0;   ///< the current year (UTC) and the next
  int32_t keep_from = 0; ///< every year before this one is dropped
};

/// At `now`, keeping `keep_years` (>= 1) past years besides the current one.
/// An occasion's year is local, up to a day off the UTC year around New
/// Year; the past year the first days of January still send in is always
/// kept (keep_years >= 1).
record_years record_years_at(sys_millis now, uint32_t keep_years);

} // namespace candle
