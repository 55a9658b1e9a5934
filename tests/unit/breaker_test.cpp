#include "core/breaker.hpp"

#include <gtest/gtest.h>

using namespace candle;
using namespace std::chrono;
using st = breaker::state;

TEST(Breaker, OpensAfterConsecutiveFailuresOnly) {
  breaker b{3, milliseconds{100}, milliseconds{1000}};
  breaker::clock::time_point t{};
  for (int i = 0; i < 10; ++i) { // failures interrupted by a success never open it
    ASSERT_TRUE(b.admit(t));
    b.failure(t);
    ASSERT_TRUE(b.admit(t));
    b.failure(t);
    ASSERT_TRUE(b.admit(t));
    b.success();
  }
  EXPECT_EQ(b.current(t), st::closed);
  b.failure(t);
  b.failure(t);
  b.failure(t);
  EXPECT_EQ(b.current(t), st::open);
  EXPECT_FALSE(b.admit(t + milliseconds{99}));
}

TEST(Breaker, HalfOpenLetsOneProbeThroughAndDoublesTheCooldownOnFailure) {
  breaker b{1, milliseconds{100}, milliseconds{300}};
  breaker::clock::time_point t{};
  b.failure(t);
  EXPECT_EQ(b.current(t + milliseconds{100}), st::half_open);
  t += milliseconds{100};
  EXPECT_TRUE(b.admit(t));  // the probe
  EXPECT_FALSE(b.admit(t)); // only one
  b.failure(t);             // probe failed: open for 200 ms
  EXPECT_FALSE(b.admit(t + milliseconds{199}));
  t += milliseconds{200};
  EXPECT_TRUE(b.admit(t));
  b.failure(t); // 400 capped to 300
  EXPECT_FALSE(b.admit(t + milliseconds{299}));
  t += milliseconds{300};
  EXPECT_TRUE(b.admit(t));
  b.success();
  EXPECT_EQ(b.current(t), st::closed);
  EXPECT_EQ(b.probes(), 3u);
  // Closed again with the base cooldown.
  b.failure(t);
  EXPECT_TRUE(b.admit(t + milliseconds{100}));
}

TEST(Breaker, AProbeThatSaysNothingAboutTheProviderLetsTheNextOneProbe) {
  breaker b{1, milliseconds{100}, milliseconds{300}};
  breaker::clock::time_point t{};
  b.failure(t);
  t += milliseconds{100};
  EXPECT_TRUE(b.admit(t));
  EXPECT_FALSE(b.admit(t));
  b.abandon(); // fenced, or a 429: neither up nor down
  EXPECT_EQ(b.current(t), st::half_open);
  EXPECT_TRUE(b.admit(t)) << "the breaker held every greeting after a fenced probe";
  EXPECT_FALSE(b.admit(t));
  b.success();
  EXPECT_EQ(b.current(t), st::closed);
  EXPECT_EQ(b.probes(), 2u);
}

TEST(Breaker, StragglersAfterOpeningDoNotExtendIt) {
  breaker b{2, milliseconds{100}, milliseconds{1000}};
  breaker::clock::time_point t{};
  b.failure(t);
  b.failure(t); // open until 100
  b.failure(t + milliseconds{50});
  EXPECT_EQ(b.current(t + milliseconds{100}), st::half_open);
}
