#include "core/clock.hpp"

#include <gtest/gtest.h>

using namespace candle;
using namespace std::chrono;

namespace {
sys_millis at(std::string_view iso) {
  return *parse_instant(iso);
}
const engine_clock::real_point t0{};
} // namespace

TEST(EngineClock, SimulatedRunsAtItsSpeed) {
  auto c = engine_clock::simulated(at("2026-03-01T00:00:00Z"), 1440, t0);
  EXPECT_TRUE(c.is_simulated());
  EXPECT_EQ(c.now(t0), at("2026-03-01T00:00:00Z"));
  // 1440x: a real minute is a simulated day.
  EXPECT_EQ(c.now(t0 + minutes{1}), at("2026-03-02T00:00:00Z"));
  EXPECT_EQ(c.now(t0 + seconds{15}), at("2026-03-01T06:00:00Z"));
}

TEST(EngineClock, FrozenClockNeverWakesAndMovesOnlyWhenSet) {
  auto c = engine_clock::simulated(at("2026-03-01T00:00:00Z"), 0, t0);
  EXPECT_EQ(c.now(t0 + hours{5}), at("2026-03-01T00:00:00Z"));
  EXPECT_FALSE(c.real_delay_until(at("2026-03-01T09:00:00Z"), t0));
  EXPECT_EQ(c.real_delay_until(at("2026-03-01T00:00:00Z"), t0), nanoseconds::zero());
  auto g = c.generation();
  auto moved = c.set(at("2026-03-01T09:00:00Z"), std::nullopt, t0 + hours{5});
  ASSERT_TRUE(moved);
  EXPECT_EQ(c.now(t0 + hours{6}), at("2026-03-01T09:00:00Z"));
  EXPECT_GT(c.generation(), g);
}

TEST(EngineClock, TimeOnlyMovesForward) {
  auto c = engine_clock::simulated(at("2026-03-01T00:00:00Z"), 1, t0);
  auto back = c.set(at("2026-02-28T00:00:00Z"), std::nullopt, t0);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.err().code, errc::out_of_range);
  EXPECT_TRUE(c.set(at("2026-03-01T00:00:00Z"), std::nullopt, t0)) << "staying put is allowed";
  EXPECT_FALSE(c.set(std::nullopt, -1.0, t0));
  EXPECT_FALSE(c.set(std::nullopt, std::nan(""), t0));
}

TEST(EngineClock, SpeedChangeKeepsNowContinuous) {
  auto c = engine_clock::simulated(at("2026-03-01T00:00:00Z"), 60, t0);
  ASSERT_TRUE(c.set(std::nullopt, 3600.0, t0 + seconds{60})); // now 01:00
  EXPECT_EQ(c.now(t0 + seconds{60}), at("2026-03-01T01:00:00Z"));
  EXPECT_EQ(c.now(t0 + seconds{61}), at("2026-03-01T02:00:00Z"));
}

TEST(EngineClock, RealDelayNeverWakesEarly) {
  auto c = engine_clock::simulated(at("2026-03-01T00:00:00Z"), 7, t0);
  auto target = at("2026-03-01T00:00:01.001Z");
  auto d = c.real_delay_until(target, t0);
  ASSERT_TRUE(d);
  EXPECT_GE(c.now(t0 + *d), target);
  EXPECT_LT(c.now(t0 + *d - nanoseconds{1'000'000}), target);
}

TEST(EngineClock, SystemClockCannotBeSet) {
  auto c = engine_clock::system();
  EXPECT_FALSE(c.is_simulated());
  auto r = c.set(at("2030-01-01T00:00:00Z"), std::nullopt, t0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code, errc::refused);
  auto wall = date::floor<milliseconds>(system_clock::now());
  EXPECT_LE(std::chrono::abs(c.now(t0) - wall), seconds{5});
}

TEST(EngineClock, AnAnchorIsReadWhereItHasRunToSinceAndNeverMovesTheClockBack) {
  auto c = engine_clock::simulated(at("2026-03-01T00:00:00Z"), 0, t0);
  auto sim = at("2027-07-15T09:00:00Z").time_since_epoch().count();
  auto wall = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  // Written 10 s ago (wall clock) at 60x: ten simulated minutes on since.
  ASSERT_TRUE(c.adopt_anchor(sim, wall - 10'000, 60, t0));
  auto read = c.now(t0);
  EXPECT_GE(read, at("2027-07-15T09:10:00Z"));
  EXPECT_LT(read, at("2027-07-15T09:20:00Z"));
  EXPECT_EQ(c.speed(), 60);
  // An anchor behind our reading keeps ours.
  ASSERT_TRUE(c.adopt_anchor(sim, wall, 60, t0));
  EXPECT_GE(c.now(t0), read);
  // An anchor from the future (clock skew) counts no negative run.
  ASSERT_TRUE(
      c.adopt_anchor(at("2028-01-01T00:00:00Z").time_since_epoch().count(), wall + 60'000, 0, t0));
  EXPECT_EQ(c.now(t0), at("2028-01-01T00:00:00Z"));
  EXPECT_FALSE(engine_clock::system().adopt_anchor(sim, wall, 1, t0));
}
