// Named edge cases of the occurrence calculus (docs/occurrence-calculus.md).
#include "core/occurrence.hpp"

#include <gtest/gtest.h>

using namespace candle;
using namespace std::chrono;

namespace {

sys_seconds utc(std::string_view iso) {
  auto t = parse_instant(iso);
  EXPECT_TRUE(t) << iso;
  return date::floor<seconds>(*t);
}

occasion_rule rule(std::string_view zone, std::string_view date, time_of_day at = {9, 0},
                   feb29_policy p = feb29_policy::feb28) {
  auto z = find_zone(zone);
  EXPECT_TRUE(z) << zone;
  auto d = parse_date(date);
  EXPECT_TRUE(d) << date;
  return occasion_rule{*d, z ? *z : nullptr, at, p};
}

due due_of(const occasion_rule& r, int year) {
  auto d = due_in_year(r, year);
  EXPECT_TRUE(d) << (d ? "" : d.err().message);
  return d ? *d : due{};
}

} // namespace

TEST(Occurrence, NewYorkSpringForwardGapShiftsForward) {
  // 2026-03-08 02:00 EST -> 03:00 EDT; 02:30 does not exist -> 03:30 EDT.
  auto d = due_of(rule("America/New_York", "1990-03-08", {2, 30}), 2026);
  EXPECT_EQ(d.instant, utc("2026-03-08T07:30:00Z"));
  EXPECT_EQ(d.fit, local_fit::gap);
}

TEST(Occurrence, NewYorkFallBackTakesEarlierInstant) {
  // 2026-11-01 01:30 happens twice: EDT (05:30Z) and EST (06:30Z).
  auto d = due_of(rule("America/New_York", "1990-11-01", {1, 30}), 2026);
  EXPECT_EQ(d.instant, utc("2026-11-01T05:30:00Z"));
  EXPECT_EQ(d.fit, local_fit::overlap);
}

TEST(Occurrence, NewYorkOrdinaryDaysFollowEstAndEdt) {
  EXPECT_EQ(due_of(rule("America/New_York", "1990-01-15"), 2027).instant,
            utc("2027-01-15T14:00:00Z"));
  EXPECT_EQ(due_of(rule("America/New_York", "1990-07-15"), 2027).instant,
            utc("2027-07-15T13:00:00Z"));
}

TEST(Occurrence, Feb29InCommonYearsFollowsPolicy) {
  auto feb28 = rule("UTC", "2000-02-29", {9, 0}, feb29_policy::feb28);
  auto mar1 = rule("UTC", "2000-02-29", {9, 0}, feb29_policy::mar1);
  EXPECT_EQ(due_of(feb28, 2027).instant, utc("2027-02-28T09:00:00Z"));
  EXPECT_EQ(due_of(mar1, 2027).instant, utc("2027-03-01T09:00:00Z"));
  // Leap years: the real day under both policies.
  EXPECT_EQ(due_of(feb28, 2028).instant, utc("2028-02-29T09:00:00Z"));
  EXPECT_EQ(due_of(mar1, 2028).instant, utc("2028-02-29T09:00:00Z"));
  // 2100 is not a leap year.
  EXPECT_EQ(due_of(feb28, 2100).instant, utc("2100-02-28T09:00:00Z"));
}

TEST(Occurrence, Feb29WithZoneAheadOfUtc) {
  // Tokyo (+09): 09:00 local on 28 Feb is midnight UTC that day.
  EXPECT_EQ(due_of(rule("Asia/Tokyo", "2004-02-29"), 2027).instant, utc("2027-02-28T00:00:00Z"));
  EXPECT_EQ(due_of(rule("Asia/Tokyo", "2004-02-29", {9, 0}, feb29_policy::mar1), 2027).instant,
            utc("2027-03-01T00:00:00Z"));
}

TEST(Occurrence, KathmanduQuarterHourOffset) {
  EXPECT_EQ(due_of(rule("Asia/Kathmandu", "1990-06-15"), 2027).instant,
            utc("2027-06-15T03:15:00Z"));
}

TEST(Occurrence, ChathamBothOffsets) {
  // Winter +12:45, summer +13:45: 09:00 local is on the previous UTC day.
  EXPECT_EQ(due_of(rule("Pacific/Chatham", "1990-06-15"), 2027).instant,
            utc("2027-06-14T20:15:00Z"));
  EXPECT_EQ(due_of(rule("Pacific/Chatham", "1990-01-15"), 2027).instant,
            utc("2027-01-14T19:15:00Z"));
}

TEST(Occurrence, KiritimatiPlus14CrossesUtcYear) {
  // The 2027 occurrence is due in UTC 2026; its key year stays 2027.
  auto d = due_of(rule("Pacific/Kiritimati", "1990-01-01"), 2027);
  EXPECT_EQ(d.year, 2027);
  EXPECT_EQ(d.instant, utc("2026-12-31T19:00:00Z"));
  EXPECT_EQ(idempotency_key("u1", "birthday", d.year), "u1:birthday:2027");
}

TEST(Occurrence, PagoPagoMinus11) {
  EXPECT_EQ(due_of(rule("Pacific/Pago_Pago", "1990-12-31"), 2027).instant,
            utc("2027-12-31T20:00:00Z"));
}

TEST(Occurrence, LordHoweHalfHourDst) {
  // Standard +10:30, DST +11:00. 2026-10-04 02:00 -> 02:30: 02:15 is in the gap.
  auto gap = due_of(rule("Australia/Lord_Howe", "1990-10-04", {2, 15}), 2026);
  EXPECT_EQ(gap.fit, local_fit::gap);
  EXPECT_EQ(gap.instant, utc("2026-10-03T15:45:00Z")); // 02:45 +11
  // 2027-04-04 02:00 -> 01:30: 01:45 happens twice; the earlier is +11.
  auto overlap = due_of(rule("Australia/Lord_Howe", "1990-04-04", {1, 45}), 2027);
  EXPECT_EQ(overlap.fit, local_fit::overlap);
  EXPECT_EQ(overlap.instant, utc("2027-04-03T14:45:00Z"));
  // Ordinary days.
  EXPECT_EQ(due_of(rule("Australia/Lord_Howe", "1990-07-01"), 2027).instant,
            utc("2027-06-30T22:30:00Z"));
  EXPECT_EQ(due_of(rule("Australia/Lord_Howe", "1990-01-01"), 2027).instant,
            utc("2026-12-31T22:00:00Z"));
}

TEST(Occurrence, LondonAcrossBst) {
  EXPECT_EQ(due_of(rule("Europe/London", "1990-01-15"), 2027).instant, utc("2027-01-15T09:00:00Z"));
  EXPECT_EQ(due_of(rule("Europe/London", "1990-07-15"), 2027).instant, utc("2027-07-15T08:00:00Z"));
  // 2027-03-28 01:00 GMT -> 02:00 BST: 01:30 is in the gap -> 02:30 BST.
  auto gap = due_of(rule("Europe/London", "1990-03-28", {1, 30}), 2027);
  EXPECT_EQ(gap.fit, local_fit::gap);
  EXPECT_EQ(gap.instant, utc("2027-03-28T01:30:00Z"));
  // 2027-10-31 02:00 BST -> 01:00 GMT: 01:30 twice, earlier is BST.
  auto overlap = due_of(rule("Europe/London", "1990-10-31", {1, 30}), 2027);
  EXPECT_EQ(overlap.fit, local_fit::overlap);
  EXPECT_EQ(overlap.instant, utc("2027-10-31T00:30:00Z"));
}

TEST(Occurrence, SamoaSkippedDay) {
  // Apia skipped 2011-12-30 entirely (-10 -> +14): 09:00 that day is shifted
  // forward by the 24 h gap to 09:00 on the 31st.
  auto d = due_of(rule("Pacific/Apia", "1990-12-30"), 2011);
  EXPECT_EQ(d.fit, local_fit::gap);
  EXPECT_EQ(d.instant, utc("2011-12-30T19:00:00Z"));
}

TEST(Occurrence, AnyIanaNameIsAccepted) {
  for (auto name : {"UTC", "Etc/UTC", "Etc/GMT+5", "US/Eastern", "America/Argentina/Buenos_Aires",
                    "America/Indiana/Indianapolis", "America/North_Dakota/New_Salem", "GMT"})
    EXPECT_TRUE(find_zone(name)) << name;
}

TEST(Occurrence, InvalidInputsAreErrorValues) {
  for (auto name : {"", "Mars/Olympus", "localtime", "utc ", "America/New York", "../UTC",
                    "/usr/share/zoneinfo/UTC", "posix/Europe/Paris", "Factory"}) {
    auto z = find_zone(name);
    ASSERT_FALSE(z) << name;
    EXPECT_EQ(z.err().code, errc::unknown_zone);
  }
  occasion_rule bad_date{date::year{2023} / 2 / 29, *find_zone("UTC"), {9, 0}};
  auto d = due_in_year(bad_date, 2027);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.err().code, errc::invalid_date);
  occasion_rule no_zone{date::year{1990} / 1 / 1, nullptr, {9, 0}};
  ASSERT_FALSE(due_in_year(no_zone, 2027));
  EXPECT_EQ(due_in_year(no_zone, 2027).err().code, errc::unknown_zone);
  EXPECT_FALSE(next_due_after(bad_date, utc("2027-01-01T00:00:00Z")));
  EXPECT_FALSE(parse_feb29_policy("feb30"));
}

TEST(Occurrence, NoOccurrenceInOrBeforeTheDatesOwnYear) {
  auto r = rule("UTC", "2020-05-05");
  EXPECT_EQ(due_in_year(r, 2020).err().code, errc::out_of_range);
  EXPECT_EQ(due_in_year(r, 2019).err().code, errc::out_of_range);
  EXPECT_TRUE(due_in_year(r, 2021));
  // next_due_after skips to the first real occurrence.
  auto n = next_due_after(r, utc("2010-01-01T00:00:00Z"));
  ASSERT_TRUE(n);
  EXPECT_EQ(n->year, 2021);
}

TEST(Occurrence, NextDueAfterIsStrictlyAfter) {
  auto r = rule("Pacific/Kiritimati", "1990-01-01");
  auto due2027 = utc("2026-12-31T19:00:00Z");
  auto n = next_due_after(r, due2027 - seconds{1});
  ASSERT_TRUE(n);
  EXPECT_EQ(n->year, 2027);
  EXPECT_EQ(n->instant, due2027);
  n = next_due_after(r, due2027);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->year, 2028);
}

TEST(Occurrence, Eligibility) {
  auto due_at = utc("2027-01-15T09:00:00Z");
  EXPECT_TRUE(eligible(sys_millis{due_at} - milliseconds{1}, due_at));
  EXPECT_TRUE(eligible(sys_millis{due_at}, due_at));
  EXPECT_FALSE(eligible(sys_millis{due_at} + milliseconds{1}, due_at));
}

TEST(Occurrence, IdempotencyKeyFormat) {
  EXPECT_EQ(idempotency_key("9b2f0c1e-0000-4000-8000-000000000001", "anniversary", 2031),
            "9b2f0c1e-0000-4000-8000-000000000001:anniversary:2031");
}
