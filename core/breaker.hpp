// A circuit breaker for the email provider, as a plain value: the DELIVERY
// actor asks it before each request and reports each answer. Closed: all
// requests pass. `threshold` consecutive transient failures open it: nothing
// passes until `cooldown` has elapsed, then it is half-open and lets one probe
// through. A probe that succeeds closes it; one that fails opens it again with
// the cooldown doubled (up to `max_cooldown`). Permanent answers (4xx) show
// the provider is up and count as successes here.
#pragma once

#include <chrono>
#include <cstdint>

namespace candle {

class breaker {
public:
  using clock = std::chrono::steady_clock;
  enum class state { closed, open, half_open };

  breaker(uint32_t threshold = 5,
          std::chrono::milliseconds cooldown = std::chrono::milliseconds{1000},
          std::chrono::milliseconds max_cooldown = std::chrono::milliseconds{30'000});

  /// May a request start now? In half-open, true once (the probe) until it
  /// is reported.
  bool admit(clock::time_point now);
  /// The outcome of an admitted request.
  void success();
  void failure(clock::time_point now);
  /// The probe's answer said nothing about the provider (it was never sent:
  /// fenced; or the provider asked to wait: 429): still half-open, and the
  /// next request may probe. Without it the breaker held every greeting.
  void abandon();

  state current(clock::time_point now) const;
  /// When an open breaker becomes half-open.
  clock::time_point reopens_at() const { return open_until_; }
  uint64_t probes() const { return probes_; }

private:
  uint32_t threshold_;
  std::chrono::milliseconds base_, max_, cooldown_;
  state state_ = state::closed;
  uint32_t failures_ = 0;
  bool probing_ = false;
  uint64_t probes_ = 0;
  clock::time_point open_until_{};
};

const char* to_string(breaker::state s);

} // namespace candle
