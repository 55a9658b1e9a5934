// Exhaustive check of the occurrence calculus: every zone of the system tz
// database × every day of a leap and a common year × send times chosen to
// land in DST gaps and overlaps. The oracle is date/tz's own UTC→local
// conversion (to_local) and the zone's transition data, not resolve_local.
#include "core/occurrence.hpp"

#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <vector>

using namespace candle;
using namespace std::chrono;

namespace {

// Zone and link names from the system database (tzdata.zi: "Z name …", "L
// target name). "Factory" (a placeholder zone whose abbreviation is "-00") is
// in tzdata.zi but Debian installs no file for it: it is not a place.
std::vector<std::string> system_zone_names() {
  std::vector<std::string> names;
  std::ifstream in{"/usr/share/zoneinfo/tzdata.zi"};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls{line};
    std::string kind, a, b;
    ls >> kind >> a >> b;
    if (kind == "Z" && a != "Factory")
      names.push_back(a);
    else if (kind == "L")
      names.push_back(b);
  }
  return names;
}

struct tally {
  long exact = 0, gap = 0, overlap = 0;
};

// Checks one computed occurrence against the requested local time.
void check_one(const date::time_zone* z, const std::string& name, date::year_month_day day,
               time_of_day at, const due& d, tally& t) {
  auto requested = date::local_seconds{date::local_days{day}} + at.since_midnight();
  auto back = z->to_local(d.instant); // the oracle: UTC -> local via the tz database
  auto info = z->get_info(requested);
  switch (d.fit) {
  case local_fit::exact:
    ++t.exact;
    ASSERT_EQ(info.result, date::local_info::unique) << name << ' ' << day;
    ASSERT_EQ(back, requested) << name << ' ' << day;
    break;
  case local_fit::overlap: {
    ++t.overlap;
    ASSERT_EQ(info.result, date::local_info::ambiguous) << name << ' ' << day;
    ASSERT_EQ(back, requested) << name << ' ' << day;
    // The earlier instant: one overlap-length earlier is not the same wall time.
    auto later = z->to_sys(requested, date::choose::latest);
    ASSERT_LT(d.instant, later) << name << ' ' << day;
    ASSERT_EQ(d.instant, z->to_sys(requested, date::choose::earliest)) << name << ' ' << day;
    break;
  }
  case local_fit::gap: {
    ++t.gap;
    ASSERT_EQ(info.result, date::local_info::nonexistent) << name << ' ' << day;
    auto gap_len = info.second.offset - info.first.offset;
    ASSERT_GT(gap_len, seconds::zero()) << name << ' ' << day;
    // Shifted forward by exactly the gap's length, and after the transition.
    ASSERT_EQ(back, requested + gap_len) << name << ' ' << day;
    auto transition = info.first.end;
    ASSERT_GE(d.instant, transition) << name << ' ' << day;
    ASSERT_LT(d.instant, transition + gap_len) << name << ' ' << day;
    break;
  }
  }
}

void run_year(int year, tally& t) {
  static const time_of_day send_times[] = {{9, 0}, {0, 0}, {1, 30}, {2, 30}};
  auto names = system_zone_names();
  ASSERT_GT(names.size(), 400u) << "tzdata.zi missing or unreadable";
  for (const auto& name : names) {
    auto z = find_zone(name);
    ASSERT_TRUE(z) << name << ": " << z.err().message;
    for (auto day = date::sys_days{date::year{year} / 1 / 1};
         day < date::sys_days{date::year{year + 1} / 1 / 1}; day += date::days{1}) {
      date::year_month_day ymd{day};
      for (auto at : send_times) {
        // Stored year 1980 is a leap year, so 29 Feb is a valid stored date.
        occasion_rule rule{date::year{1980} / ymd.month() / ymd.day(), *z, at, feb29_policy::feb28};
        auto d = due_in_year(rule, year);
        ASSERT_TRUE(d) << name << ' ' << ymd << ": " << d.err().message;
        ASSERT_EQ(d->year, year);
        check_one(*z, name, ymd, at, *d, t);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

} // namespace

TEST(OccurrenceExhaustive, EveryZoneEveryDayOf2024) {
  tally t;
  run_year(2024, t);
  // The sweep must actually meet DST transitions, or it proves little.
  EXPECT_GT(t.gap, 0);
  EXPECT_GT(t.overlap, 0);
  EXPECT_GT(t.exact, 500'000);
  std::printf("2024: exact=%ld gap=%ld overlap=%ld\n", t.exact, t.gap, t.overlap);
}

TEST(OccurrenceExhaustive, EveryZoneEveryDayOf2027) {
  tally t;
  run_year(2027, t);
  EXPECT_GT(t.gap, 0);
  EXPECT_GT(t.overlap, 0);
}

TEST(OccurrenceExhaustive, DueInstantsIncreaseAcrossConsecutiveYears) {
  for (const auto& name : system_zone_names()) {
    auto z = find_zone(name);
    ASSERT_TRUE(z) << name;
    for (auto day = date::sys_days{date::year{2024} / 1 / 1};
         day < date::sys_days{date::year{2025} / 1 / 1}; day += date::days{1}) {
      date::year_month_day ymd{day};
      for (auto policy : {feb29_policy::feb28, feb29_policy::mar1}) {
        occasion_rule rule{date::year{1980} / ymd.month() / ymd.day(), *z, {9, 0}, policy};
        sys_seconds previous{};
        for (int y = 2023; y <= 2029; ++y) {
          auto d = due_in_year(rule, y);
          ASSERT_TRUE(d);
          if (y > 2023) {
            ASSERT_GT(d->instant, previous) << name << ' ' << ymd << ' ' << y;
            // Consecutive occurrences are about a year apart (a zone may have
            // changed its offset by up to a day in between).
            ASSERT_LT(d->instant - previous, date::days{368}) << name << ' ' << ymd << ' ' << y;
            ASSERT_GT(d->instant - previous, date::days{363}) << name << ' ' << ymd << ' ' << y;
          }
          previous = d->instant;
        }
      }
    }
  }
}

TEST(OccurrenceExhaustive, NextDueAfterAgreesWithDueInYear) {
  // For every zone: the occurrence after (due of year Y) - 1s is exactly Y's,
  // and the occurrence after Y's due instant is Y+1's.
  for (const auto& name : system_zone_names()) {
    auto z = find_zone(name);
    ASSERT_TRUE(z) << name;
    for (unsigned m = 1; m <= 12; ++m) {
      for (unsigned dd : {1u, 15u, 28u}) {
        occasion_rule rule{date::year{1980} / m / dd, *z, {9, 0}, feb29_policy::feb28};
        for (int y = 2025; y <= 2027; ++y) {
          auto d = due_in_year(rule, y);
          ASSERT_TRUE(d);
          auto just_before = next_due_after(rule, d->instant - seconds{1});
          ASSERT_TRUE(just_before);
          ASSERT_EQ(just_before->year, y) << name << ' ' << m << '/' << dd;
          ASSERT_EQ(just_before->instant, d->instant);
          auto at = next_due_after(rule, d->instant);
          ASSERT_TRUE(at);
          ASSERT_EQ(at->year, y + 1) << name << ' ' << m << '/' << dd;
        }
      }
    }
  }
}
