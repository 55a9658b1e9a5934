// How many provider requests a node keeps in flight (issue 16 §1): enough to
// reach the rate the provider's latency allows, no more than it takes
// without queueing or refusing. A limit between `floor` and `ceiling`
// (email.max-in-flight), in the manner of TCP congestion control and
// Netflix's concurrency-limits (Gradient):
//  - slow start: +1 per answer (doubling every round trip) until the first
//    sign of overload, then +1/sqrt(limit) per answer (+sqrt(limit) per
//    round trip);
//  - queueing: when the short-term latency (the last ~10 answers) exceeds
//    `tolerance` x the least latency seen in the last `window` plus `slack`,
//    the limit shrinks by that ratio (at most halved). The least latency is
//    what the provider takes without our queue (Vegas, BBR). The slack is
//    there because fewer requests in flight are not free: on a provider a
//    millisecond away, 256 in flight run at 3x the greetings/s of 30 (each
//    wake-up of the client and of the provider serves many answers; measured
//    with bench/burst.sh), though the round trip grows from 0.3 to 20 ms.
//    Latency is a reason to back off only once it doubles and is tens of ms;
//  - overload (429, 5xx, a timeout, a refused connection): x `backoff`;
//  - at most one decrease per short-term round trip, so the answers of one
//    window of requests count as one signal, not hundreds;
//  - it grows only while at least half of it is in use.
// Pure: time is the caller's milliseconds.
#pragma once

#include <cstddef>
#include <cstdint>

namespace candle {

struct concurrency_options {
  size_t ceiling = 256;
  size_t initial = 16;
  size_t floor = 1;
  double tolerance = 2.0;
  double slack_s = 0.050;
  double backoff = 0.75;
  int64_t window_ms = 60'000; ///< how long the least latency is remembered (it may then
                              ///< rise by 25 % per half window)
};

class concurrency_limit {
public:
  explicit concurrency_limit(concurrency_options o = {});

  /// Requests that may be in flight now.
  size_t limit() const;
  /// An answer that took `rtt_s`; `in_flight` requests were out when it came.
  void on_answer(double rtt_s, size_t in_flight, int64_t now_ms);
  /// The provider is overloaded or refuses (429, 5xx, timeout, connection).
  void on_overload(int64_t now_ms);

  bool slow_start() const { return slow_start_; }
  double short_rtt_s() const { return short_; }
  /// The least latency of the last window (0 before the first answer).
  double base_rtt_s() const;

private:
  void decrease(double factor, int64_t now_ms);

  concurrency_options o_;
  double limit_;
  double short_ = 0;
  // A windowed minimum in two halves: the least of this half and the last.
  double min_now_ = 0, min_before_ = 0;
  int64_t half_started_ms_ = 0;
  bool slow_start_ = true;
  bool sampled_ = false;
  int64_t last_decrease_ms_ = 0;
  bool decreased_ = false;
};

} // namespace candle
