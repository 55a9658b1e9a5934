#include "core/retention.hpp"

#include <date/date.h>
#include <gtest/gtest.h>

using namespace candle;
using namespace std::chrono;

namespace {
sys_millis at(const char* iso) {
  return *parse_instant(iso);
}
int utc_year(sys_millis t) {
  return static_cast<int>(date::year_month_day{date::floor<date::days>(t)}.year());
}
} // namespace

TEST(RecordYears, TheCurrentAndNextAreMadeAndKeepYearsPastAreKept) {
  auto y = record_years_at(at("2026-12-07T12:00:00Z"), 3);
  EXPECT_EQ(y.make_from, 2026);
  EXPECT_EQ(y.make_to, 2027);
  EXPECT_EQ(y.keep_from, 2023);
  EXPECT_EQ(record_years_at(at("2026-12-07T12:00:00Z"), 1).keep_from, 2025);
}

TEST(RecordYears, TheYearTurnsAtMidnightUtc) {
  auto before = record_years_at(at("2026-12-31T23:59:59.999Z"), 3);
  auto after = record_years_at(at("2027-01-01T00:00:00Z"), 3);
  EXPECT_EQ(before.make_from, 2026);
  EXPECT_EQ(before.keep_from, 2023);
  EXPECT_EQ(after.make_from, 2027);
  EXPECT_EQ(after.keep_from, 2024);
}

TEST(RecordYears, NoKeepBelowOneYearSoLastYearsLateGreetingsKeepTheirTable) {
  auto y = record_years_at(at("2027-01-01T05:00:00Z"), 0);
  EXPECT_EQ(y.keep_from, 2026);
}

// Every hour of 1970-2100 (and keep 1..5): the tables made ahead hold every
// occasion year due within the next 48 h in any zone (UTC-12..+14), and none of the years an
// occasion due in the last 48 h (the recovery window) belongs to is dropped.
TEST(RecordYears, EveryHourKeepsWhatIsDueAroundIt) {
  for (auto t = at("1970-01-01T00:00:00Z"); t < at("2100-01-01T00:00:00Z"); t += hours{1}) {
    for (uint32_t keep = 1; keep <= 5; ++keep) {
      auto y = record_years_at(t, keep);
      ASSERT_EQ(y.make_to, y.make_from + 1);
      ASSERT_EQ(y.make_from - y.keep_from, static_cast<int32_t>(keep));
      auto soonest = utc_year(t - hours{48} - hours{12}),
           latest = utc_year(t + hours{48} + hours{14});
      ASSERT_GE(soonest, y.keep_from) << format_instant(t);
      ASSERT_LE(latest, y.make_to) << format_instant(t);
    }
  }
}
