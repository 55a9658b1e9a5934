#include "core/rate_limit.hpp"

#include <gtest/gtest.h>
#include <random>
#include <vector>

using namespace candle;

// Over any window of W ms a bucket admits at most burst + rate * W / 1000
// requests, and a client that waits as told is admitted: random arrivals.
TEST(RateLimit, NeverMoreThanBurstPlusRateOverAnyWindow) {
  std::mt19937_64 rng{42};
  for (double rate : {1.0, 7.5, 100.0, 1000.0})
    for (double burst : {1.0, 3.0, 50.0}) {
      token_bucket b{burst, 0};
      std::vector<int64_t> admitted;
      int64_t now = 0;
      for (int i = 0; i < 5000; ++i) {
        now += static_cast<int64_t>(rng() % 40);
        auto wait = take_token(b, now, rate, burst);
        if (wait == 0) {
          admitted.push_back(now);
        } else {
          ASSERT_GE(wait, 1);
          // Waiting exactly as told is enough.
          token_bucket copy = b;
          EXPECT_EQ(take_token(copy, now + wait, rate, burst), 0)
              << "rate " << rate << " burst " << burst;
        }
      }
      for (size_t i = 0; i < admitted.size(); ++i)
        for (size_t j = i; j < admitted.size() && admitted[j] - admitted[i] <= 3000; ++j) {
          auto window = static_cast<double>(admitted[j] - admitted[i]);
          ASSERT_LE(static_cast<double>(j - i + 1), burst + rate * window / 1000.0 + 1e-6)
              << "rate " << rate << " burst " << burst << " window " << window;
        }
    }
}

TEST(RateLimit, ClientsHaveTheirOwnBucketsAndAreForgottenWhenFull) {
  client_limits l{2.0, 2.0, 0, 0};
  EXPECT_EQ(l.request("a", 0), 0);
  EXPECT_EQ(l.request("a", 0), 0);
  EXPECT_EQ(l.request("a", 0), 500); // one token every 500 ms
  EXPECT_EQ(l.request("b", 0), 0);   // another client is not slowed by a
  EXPECT_EQ(l.request("a", 500), 0);
  EXPECT_EQ(l.tracked_clients(), 2u);
  EXPECT_EQ(l.request("c", 5000), 0); // the sweep forgot a and b (full again)
  EXPECT_EQ(l.tracked_clients(), 1u);
  client_limits off{0, 0, 0, 0};
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(off.request("a", 0), 0);
}

TEST(RateLimit, ConnectionCapsPerClientAndInAll) {
  client_limits l{0, 0, 2, 3};
  EXPECT_TRUE(l.open("a"));
  EXPECT_TRUE(l.open("a"));
  EXPECT_FALSE(l.open("a")) << "third from one client";
  EXPECT_TRUE(l.open("b"));
  EXPECT_FALSE(l.open("c")) << "fourth in all";
  l.close("a");
  EXPECT_TRUE(l.open("c"));
  EXPECT_EQ(l.connections(), 3u);
  l.close("x"); // never opened: ignored
  EXPECT_EQ(l.connections(), 3u);
  l.close("a");
  l.close("b");
  l.close("c");
  EXPECT_EQ(l.connections(), 0u);
  EXPECT_TRUE(l.open("a"));
}
