#include "core/concurrency.hpp"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>
#include <vector>

using namespace candle;

namespace {

// A provider simulated one round trip at a time: `limit` requests go out,
// each answered after latency(n) seconds (or refused when `refuse(n)`).
struct sim {
  concurrency_limit& c;
  int64_t start_ms = 0;
  double sent = 0, seconds = 0;

  template <class Latency, class Refuse> void round(Latency latency, Refuse refuse) {
    auto n = c.limit();
    double rtt = latency(n);
    // Answers spread over the round trip; each frees a slot that the next
    // request takes at once, so `n` stay out.
    for (size_t i = 0; i < n; ++i) {
      auto at = start_ms + static_cast<int64_t>(rtt * 1000 * (static_cast<double>(i) + 0.5) /
                                                static_cast<double>(n));
      if (refuse(n))
        c.on_overload(at);
      else
        c.on_answer(rtt, n, at), ++sent;
    }
    seconds += rtt;
    start_ms += static_cast<int64_t>(rtt * 1000);
  }
};

auto never = [](size_t) { return false; };

} // namespace

TEST(Concurrency, StartsAtInitialWithinBounds) {
  EXPECT_EQ(concurrency_limit({256, 16, 1}).limit(), 16u);
  EXPECT_EQ(concurrency_limit({8, 16, 1}).limit(), 8u);  // ceiling wins
  EXPECT_EQ(concurrency_limit({256, 0, 4}).limit(), 4u); // floor wins
  EXPECT_EQ(concurrency_limit({0, 0, 0}).limit(), 1u);   // never below one
}

// A far provider with room for everything: slow start doubles per round
// trip and reaches the ceiling in ~log2(ceiling / initial) round trips.
TEST(Concurrency, SlowStartReachesTheCeilingAtConstantLatency) {
  concurrency_limit c{{4096, 16, 1}};
  sim s{c};
  int rounds = 0;
  while (c.limit() < 4096 && rounds < 100) {
    s.round([](size_t) { return 0.2; }, never);
    ++rounds;
  }
  EXPECT_EQ(c.limit(), 4096u);
  EXPECT_LE(rounds, 10); // 16 -> 4096 is 8 doublings
  EXPECT_TRUE(c.slow_start());
  for (int i = 0; i < 20; ++i) // and stays there
    s.round([](size_t) { return 0.2; }, never);
  EXPECT_EQ(c.limit(), 4096u);
}

// A provider that serves `cap` at once and queues the rest (latency grows
// with the excess): the limit settles near the knee, where throughput is
// already at its most, instead of piling requests into its queue.
TEST(Concurrency, SettlesNearTheKneeOfAQueueingProvider) {
  for (size_t cap : {20u, 100u, 500u}) {
    concurrency_limit c{{4096, 16, 1, 1.5, 0.0}}; // tolerance 1.5, no slack
    sim s{c};
    auto latency = [cap](size_t n) {
      return 0.05 * std::max(1.0, static_cast<double>(n) / static_cast<double>(cap));
    };
    for (int i = 0; i < 400; ++i)
      s.round(latency, never);
    std::vector<size_t> seen;
    double sent0 = s.sent, t0 = s.seconds;
    for (int i = 0; i < 200; ++i) {
      s.round(latency, never);
      seen.push_back(c.limit());
    }
    auto [lo, hi] = std::minmax_element(seen.begin(), seen.end());
    EXPECT_GE(*lo, cap / 2) << "cap " << cap;
    // Queueing up to tolerance x the bare latency (+ the slack's worth).
    EXPECT_LE(*hi, cap * 2) << "cap " << cap;
    // Throughput at least 90 % of the provider's best (cap / 0.05 s).
    double best = static_cast<double>(cap) / 0.05;
    EXPECT_GE((s.sent - sent0) / (s.seconds - t0), 0.9 * best) << "cap " << cap;
  }
}

// The defaults let a near provider's round trip grow from 0.3 ms to tens of
// ms as more requests go out (they amortise wake-ups: more greetings/s), and
// still back off from a far one that doubles its latency.
TEST(Concurrency, DefaultsForgiveMillisecondsButNotADoubling) {
  {
    concurrency_limit c{{256, 16, 1}};
    sim s{c};
    for (int i = 0; i < 100; ++i) // 0.3 ms + 0.1 ms per 1.3 requests out
      s.round([](size_t n) { return 0.0003 + static_cast<double>(n) * 0.00008; }, never);
    EXPECT_EQ(c.limit(), 256u); // 20 ms at 256: not a reason to cut
  }
  {
    concurrency_limit c{{4096, 16, 1}};
    sim s{c};
    auto latency = [](size_t n) { return 0.2 * std::max(1.0, static_cast<double>(n) / 300); };
    for (int i = 0; i < 100; ++i) // ~45 s: within the window
      s.round(latency, never);
    EXPECT_LT(c.limit(), 900u); // queueing from 300 on: held near 2.25 x, not the ceiling
    EXPECT_GE(c.limit(), 300u);
    for (int i = 0; i < 200; ++i) // three more half windows: the base may creep up 25 % each
      s.round(latency, never);
    EXPECT_LT(c.limit(), 1800u);
  }
}

// Refusals (429, 5xx) cut it multiplicatively, once per round trip however
// many answers of that round trip say so; answers grow it back.
TEST(Concurrency, OverloadCutsOncePerRoundTripAndRecovers) {
  concurrency_limit c{{1000, 800, 1}};
  sim s{c};
  s.round([](size_t) { return 0.1; }, never); // learn the round trip
  auto before = c.limit();
  s.round([](size_t) { return 0.1; }, [](size_t) { return true; }); // all refused
  EXPECT_FALSE(c.slow_start());
  EXPECT_EQ(c.limit(), static_cast<size_t>(static_cast<double>(before) * 0.75));
  for (int i = 0; i < 30; ++i) // refusals every round trip: down to the floor, not below
    s.round([](size_t) { return 0.1; }, [](size_t) { return true; });
  EXPECT_EQ(c.limit(), 1u);
  // Out of slow start it grows by about sqrt(limit) per round trip.
  for (int i = 0; i < 50; ++i)
    s.round([](size_t) { return 0.1; }, never);
  auto grown = c.limit();
  EXPECT_GT(grown, 300u);
  s.round([](size_t) { return 0.1; }, never);
  EXPECT_LE(c.limit() - grown, static_cast<size_t>(std::sqrt(grown)) + 2);
}

// Many refusals at the same instant are one signal.
TEST(Concurrency, ABurstOfRefusalsIsOneDecrease) {
  concurrency_limit c{{256, 200, 1}};
  c.on_answer(0.5, 99, 0); // learns the round trip (under half in use: no growth)
  ASSERT_EQ(c.limit(), 200u);
  for (int i = 0; i < 100; ++i)
    c.on_overload(1000 + i); // all within one 0.5 s round trip
  EXPECT_EQ(c.limit(), 150u);
  c.on_overload(1600);
  EXPECT_EQ(c.limit(), 112u);
}

// With little in flight (a trickle) it does not grow: a later burst starts
// from what was proven, not from a limit nothing tested.
TEST(Concurrency, DoesNotGrowWhileMostlyUnused) {
  concurrency_limit c{{4096, 16, 1}};
  for (int64_t t = 0; t < 100'000; t += 10)
    c.on_answer(0.01, 2, t);
  EXPECT_EQ(c.limit(), 16u);
}

// Nonsense samples change nothing.
TEST(Concurrency, IgnoresInvalidSamples) {
  concurrency_limit c{{64, 16, 1}};
  c.on_answer(-1, 16, 0);
  c.on_answer(std::nan(""), 16, 0);
  c.on_answer(INFINITY, 16, 0);
  EXPECT_EQ(c.limit(), 16u);
  EXPECT_EQ(c.short_rtt_s(), 0);
}
