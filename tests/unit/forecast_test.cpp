#include "core/forecast.hpp"

#include <gtest/gtest.h>

using namespace candle;
using namespace std::chrono;

namespace {
sys_seconds at(const char* iso) {
  return floor<seconds>(*parse_instant(iso));
}
} // namespace

TEST(Forecast, DaysCoverEveryZonesLocalDates) {
  // 2027-07-01T10:00Z + 48 h: local dates from 30 Jun (UTC-12) to 4 Jul (UTC+14).
  auto d = forecast_days(at("2027-07-01T10:00:00Z"), 48);
  EXPECT_EQ(d, (std::vector<int>{630, 701, 702, 703, 704}));
  // Around 28 Feb of a common year 29 Feb users are asked for too; in a leap year they are a day.
  auto c = forecast_days(at("2027-02-27T12:00:00Z"), 24);
  EXPECT_NE(std::find(c.begin(), c.end(), 229), c.end());
  auto l = forecast_days(at("2028-02-20T12:00:00Z"), 24);
  EXPECT_EQ(std::find(l.begin(), l.end(), 229), l.end());
  // Across the new year.
  auto y = forecast_days(at("2027-12-31T12:00:00Z"), 24);
  EXPECT_NE(std::find(y.begin(), y.end(), 101), y.end());
  EXPECT_NE(std::find(y.begin(), y.end(), 1231), y.end());
}

TEST(Forecast, CountsEachZonesLocalNineOClockInItsHour) {
  auto rules = default_rules();
  auto now = at("2027-07-01T05:30:00Z");
  std::vector<forecast_group> g{
      {"birthday", "Asia/Tokyo", 701, 3},       // 09:00+09 = 00:00Z on 1 Jul: past
      {"birthday", "Asia/Tokyo", 702, 4},       // 2 Jul 00:00Z
      {"birthday", "Europe/London", 701, 5},    // 09:00+01 = 08:00Z 1 Jul
      {"anniversary", "Europe/Lisbon", 701, 2}, // same instant as London
      {"birthday", "America/New_York", 701, 7}, // 13:00Z 1 Jul
      {"birthday", "America/New_York", 704, 9}, // 4 Jul 13:00Z: past 48 h
      {"birthday", "Mars/Olympus", 701, 100},   // unknown zone: skipped
      {"graduation", "UTC", 701, 100},          // no such occasion: skipped
      {"birthday", "UTC", 1399, 100},           // impossible day: skipped
  };
  auto r = forecast(g, rules, now, 48);
  EXPECT_EQ(r.from, at("2027-07-01T05:00:00Z"));
  ASSERT_EQ(r.per_hour.size(), 48u);
  EXPECT_EQ(r.per_hour[3], 7) << "08:00Z: London 5 + Lisbon 2";
  EXPECT_EQ(r.per_hour[8], 7) << "13:00Z: New York";
  EXPECT_EQ(r.per_hour[19], 4) << "2 Jul 00:00Z: Tokyo";
  EXPECT_EQ(r.total, 18);
  int64_t sum = 0;
  for (auto n : r.per_hour)
    sum += n;
  EXPECT_EQ(sum, r.total);
  EXPECT_EQ(r.peak_at, at("2027-07-01T08:00:00Z")) << "the earliest of the tied instants";
  EXPECT_EQ(r.peak_count, 7);
  EXPECT_EQ(r.peak_zone, "Europe/London");
  EXPECT_EQ(r.peak_zone_count, 5);
}

TEST(Forecast, Feb29FollowsThePolicyAndDstIsResolved) {
  auto rules = default_rules();
  std::vector<forecast_group> g{{"birthday", "UTC", 229, 10}};
  auto now = at("2027-02-27T12:00:00Z");
  EXPECT_EQ(forecast(g, rules, now, 24).peak_at, at("2027-02-28T09:00:00Z")) << "feb28";
  rules.feb29 = feb29_policy::mar1;
  EXPECT_EQ(forecast(g, rules, now, 48).peak_at, at("2027-03-01T09:00:00Z")) << "mar1";
  // 14 Mar 2027 New York (DST starts at 02:00): 09:00 is EDT, 13:00Z.
  auto d = forecast({{"birthday", "America/New_York", 314, 1}}, default_rules(),
                    at("2027-03-14T00:00:00Z"), 24);
  EXPECT_EQ(d.peak_at, at("2027-03-14T13:00:00Z"));
}

TEST(Forecast, NothingDueIsAnEmptyReport) {
  auto r = forecast({}, default_rules(), at("2027-07-01T00:00:00Z"), 48);
  EXPECT_EQ(r.total, 0);
  EXPECT_EQ(r.peak_count, 0);
  EXPECT_TRUE(r.peak_zone.empty());
  EXPECT_EQ(r.per_hour.size(), 48u);
}
