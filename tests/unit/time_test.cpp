#include "core/time.hpp"

#include <gtest/gtest.h>

using namespace candle;
using namespace std::chrono;

TEST(Time, DatesMustBeRealCalendarDates) {
  EXPECT_TRUE(parse_date("2024-02-29"));
  EXPECT_TRUE(parse_date("1900-01-01"));
  for (auto bad :
       {"2023-02-29", "1900-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00"}) {
    auto d = parse_date(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.err().code, errc::invalid_date) << bad;
  }
  for (auto bad : {"", "2024-1-01", "2024/01/01", "20240101", "2024-01-01T00", " 2024-01-01",
                   "2024-01-0a", "+024-01-01"}) {
    auto d = parse_date(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.err().code, errc::invalid_argument) << bad;
  }
  EXPECT_EQ(format_date(*parse_date("0999-03-07")), "0999-03-07");
}

TEST(Time, TimeOfDay) {
  auto t = parse_time_of_day("09:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->since_midnight(), hours{9});
  EXPECT_EQ(format_time_of_day(*parse_time_of_day("23:59")), "23:59");
  EXPECT_EQ(parse_time_of_day("24:00").err().code, errc::invalid_time);
  EXPECT_EQ(parse_time_of_day("12:60").err().code, errc::invalid_time);
  for (auto bad : {"9:00", "09:0", "0900", "09:00:00", "", "ab:cd"})
    EXPECT_EQ(parse_time_of_day(bad).err().code, errc::invalid_argument) << bad;
}

TEST(Time, Instants) {
  auto t = parse_instant("2026-03-01T09:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_instant(*t), "2026-03-01T09:00:00.000Z");
  EXPECT_EQ(format_instant(*parse_instant("2026-03-01T09:00Z")), "2026-03-01T09:00:00.000Z");
  EXPECT_EQ(format_instant(*parse_instant("2026-03-01T09:00:00.123456Z")),
            "2026-03-01T09:00:00.123Z");
  EXPECT_EQ(format_instant(*parse_instant("2026-03-01T10:30:00+01:30")),
            "2026-03-01T09:00:00.000Z");
  EXPECT_EQ(format_instant(*parse_instant("2026-01-01T01:00:00-02:00")),
            "2026-01-01T03:00:00.000Z");
  for (auto bad : {"2026-03-01", "2026-03-01T09:00:00", "2026-03-01 09:00:00Z",
                   "2026-03-01T09:00:00.Z", "2026-03-01T09:00:00Zjunk", "2026-03-01T25:00:00Z",
                   "2026-02-30T09:00:00Z", "2026-03-01T09:00:00+1:00", "now"})
    EXPECT_FALSE(parse_instant(bad)) << bad;
}
