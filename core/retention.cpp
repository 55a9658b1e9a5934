#include "core/retention.hpp"

#include <date/date.h>

namespace candle {

record_years record_years_at(sys_millis now, uint32_t keep_years) {
  auto year = static_cast<int32_t>(
      static_cast<int>(date::year_month_day{date::floor<date::days>(now)}.year()));
  auto keep = static_cast<int32_t>(keep_years < 1 ? 1 : keep_years);
  return {year, year + 1, year - keep};
}

} // namespace candle
