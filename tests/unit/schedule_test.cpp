#include "core/schedule.hpp"

#include <gtest/gtest.h>

using namespace candle;
using namespace std::chrono;

namespace {
int64_t ms(std::string_view iso) {
  return duration_cast<milliseconds>(parse_instant(iso)->time_since_epoch()).count();
}
user ada() {
  user u;
  u.id = "u1";
  u.first_name = "Ada";
  u.last_name = "Lovelace";
  u.email = "ada@example.com";
  u.timezone = "Europe/London";
  u.birthday_date = "1990-07-15";
  u.anniversary_date = "2015-07-16";
  u.created_at = ms("2020-01-01T00:00:00Z");
  u.partition = 3;
  return u;
}
} // namespace

TEST(Schedule, OccurrencesInAWindowCarryEverythingToSend) {
  auto got = occurrences_in(ada(), default_rules(), ms("2027-07-15T00:00:00Z"),
                            ms("2027-07-17T00:00:00Z"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key, "u1:birthday:2027");
  EXPECT_EQ(got[0].due_at, ms("2027-07-15T08:00:00Z")); // 09:00 BST
  EXPECT_EQ(got[0].message, "Hey, Ada Lovelace it's your birthday");
  EXPECT_EQ(got[0].email, "ada@example.com");
  EXPECT_EQ(got[0].partition, 3);
  EXPECT_EQ(got[1].key, "u1:anniversary:2027");
  EXPECT_EQ(got[1].message, "Hey, Ada Lovelace happy anniversary");
}

TEST(Schedule, WindowIsHalfOpenAndEligibilityApplies) {
  auto u = ada();
  u.anniversary_date.clear();
  auto due = ms("2027-07-15T08:00:00Z");
  EXPECT_EQ(occurrences_in(u, default_rules(), due, due + 1).size(), 1u);
  EXPECT_TRUE(occurrences_in(u, default_rules(), due - 1000, due).empty());
  u.created_at = due + 1; // created after this year's due instant
  EXPECT_TRUE(occurrences_in(u, default_rules(), due, due + 1).empty());
  u.created_at = due;
  EXPECT_EQ(occurrences_in(u, default_rules(), due, due + 1).size(), 1u);
}

TEST(Schedule, SendTimesAndPoliciesAreData) {
  auto u = ada();
  u.anniversary_date.clear();
  u.birthday_date = "2000-02-29";
  u.timezone = "UTC";
  schedule_rules r{{{"birthday", {18, 30}}}, feb29_policy::mar1};
  auto got = occurrences_in(u, r, ms("2027-02-01T00:00:00Z"), ms("2027-04-01T00:00:00Z"));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].due_at, ms("2027-03-01T18:30:00Z"));
}

TEST(Schedule, BadZoneOrDateYieldsNothing) {
  auto u = ada();
  u.timezone = "Mars/Olympus";
  EXPECT_TRUE(occurrences_in(u, default_rules(), 0, ms("2100-01-01T00:00:00Z")).empty());
  u = ada();
  u.birthday_date = "1990-02-30";
  u.anniversary_date.clear();
  EXPECT_TRUE(occurrences_in(u, default_rules(), 0, ms("2100-01-01T00:00:00Z")).empty());
}

TEST(Backoff, ExponentialFromOneSecondCappedAtOneHourWithEqualJitter) {
  EXPECT_EQ(retry_delay_ms(1, 0.0), 500);
  EXPECT_EQ(retry_delay_ms(1, 0.999999), 999);
  EXPECT_EQ(retry_delay_ms(2, 0.0), 1000);
  EXPECT_EQ(retry_delay_ms(3, 0.0), 2000);
  for (int n = 1; n <= 40; ++n) {
    int64_t d = std::min<int64_t>(3'600'000, int64_t{1000} << std::min(n - 1, 22));
    for (double u : {0.0, 0.25, 0.5, 0.75, 0.999999}) {
      auto v = retry_delay_ms(n, u);
      ASSERT_GE(v, d / 2) << n;
      ASSERT_LE(v, d) << n;
    }
  }
  EXPECT_EQ(retry_delay_ms(13, 0.0), 1'800'000);
  EXPECT_LE(retry_delay_ms(1000, 0.999), 3'600'000);
}
