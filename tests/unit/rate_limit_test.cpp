#include "core/rate_limit.hpp"

#include <algorithm>
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

TEST(SendPace, ANodesShareFollowsThePartitionsItOwns) {
  EXPECT_EQ(pace_for(0, 10, 256).per_second, 0) << "no limit";
  EXPECT_EQ(pace_for(2000, 10, 0).per_second, 0);
  // burst + per_second = 95 % of the share; the burst is 5 ms of it, at
  // least 2 from 100/s, else 1.
  EXPECT_DOUBLE_EQ(pace_for(2000, 256, 256).burst, 10);
  EXPECT_DOUBLE_EQ(pace_for(2000, 256, 256).per_second, 1890);
  EXPECT_DOUBLE_EQ(pace_for(2000, 128, 256).per_second, 945);
  EXPECT_DOUBLE_EQ(pace_for(2000, 300, 256).per_second, 1890) << "clamped to all partitions";
  EXPECT_DOUBLE_EQ(pace_for(2560, 0, 256).per_second, 8.5) << "owning nothing: one partition's";
  EXPECT_DOUBLE_EQ(pace_for(2560, 0, 256).burst, 1);
  EXPECT_DOUBLE_EQ(pace_for(150, 256, 256).burst, 2);
  EXPECT_DOUBLE_EQ(pace_for(150, 256, 256).per_second, 140.5);
  EXPECT_DOUBLE_EQ(pace_for(1, 256, 256).per_second, 0.5) << "tiny shares: half";
  // From 100/s a share is used to at least 93 %, and the nodes' shares never
  // add up past the rate.
  for (double rate : {100.0, 150.0, 2000.0, 20000.0, 1e6}) {
    auto p = pace_for(rate, 256, 256);
    EXPECT_GE(p.per_second, 0.93 * rate) << rate;
    EXPECT_LE(p.per_second + p.burst, 0.95 * rate + 1e-9) << rate;
  }
  for (double rate : {1.0, 50.0, 2000.0, 100000.0})
    for (size_t nodes = 1; nodes <= 7; ++nodes) {
      double sum = 0;
      for (size_t i = 0; i < nodes; ++i)
        sum += pace_for(rate, 256 / nodes + (i < 256 % nodes ? 1 : 0), 256).per_second;
      EXPECT_LE(sum, rate) << rate << " over " << nodes << " nodes";
    }
}

// Nodes that always have greetings waiting, pacing their shares on 1 ms
// ticks, with up to 5 ms of jitter on the way to the provider: no second at
// the provider holds more than the rate, and each node keeps its pace.
TEST(SendPace, NoSecondAtTheProviderHoldsMoreThanTheRate) {
  std::mt19937_64 rng{7};
  using split = std::vector<size_t>;
  struct run {
    double rate;
    split owned;
  };
  std::vector<run> runs;
  for (double rate : {30.0, 150.0, 2000.0, 20000.0})
    for (const split& s : {split{256}, split{85, 85, 86}, split{200, 56}})
      runs.push_back({rate, s});
  for (double rate : {1.0, 1.5, 3.0})
    runs.push_back({rate, split{256}});
  for (const auto& [rate, owned] : runs) {
    std::vector<int64_t> arrivals_us;
    const int64_t run_ms = 10'000;
    double paced = 0;
    for (size_t n : owned) {
      auto pace = pace_for(rate, n, 256);
      paced += pace.per_second;
      token_bucket b;
      for (int64_t now = 1; now <= run_ms; ++now)
        while (take_token(b, now, pace.per_second, pace.burst) == 0)
          arrivals_us.push_back(now * 1000 + static_cast<int64_t>(rng() % 5000));
    }
    std::sort(arrivals_us.begin(), arrivals_us.end());
    size_t worst = 0;
    for (size_t i = 0, j = 0; i < arrivals_us.size(); ++i) {
      while (arrivals_us[i] - arrivals_us[j] >= 1'000'000)
        ++j;
      worst = std::max(worst, i - j + 1);
    }
    EXPECT_LE(static_cast<double>(worst), rate) << rate << " over " << owned.size() << " nodes";
    // (A one-token bucket on 1 ms ticks loses up to a tick's refill per send.)
    EXPECT_GE(static_cast<double>(arrivals_us.size()),
              0.97 * paced * run_ms / 1000.0 - static_cast<double>(owned.size()))
        << rate << " over " << owned.size() << " nodes: the pace was not kept";
  }
}
