// The engine clock: the one notion of "now" everything that schedules uses.
// `system` reads the wall clock. `simulated` starts at an instant and runs at
// a speed (0 = frozen) against a monotonic reading supplied by the caller:
// steady_clock in a node, CAF's actor clock in deterministic tests (where the
// test coordinator moves it). A simulated clock may be moved forward and
// re-speeded; each change bumps `generation` so schedulers re-arm timers.
//
// Thread-safe: the REST bridge changes it while partitions read it.
#pragma once

#include "core/result.hpp"
#include "core/time.hpp"

#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>

namespace candle {

class engine_clock {
public:
  using real_point = std::chrono::steady_clock::time_point;

  static engine_clock system();
  static engine_clock simulated(sys_millis start, double speed, real_point real_now);

  engine_clock(const engine_clock& other);
  engine_clock& operator=(const engine_clock&) = delete;

  bool is_simulated() const { return simulated_; }
  std::string_view mode() const { return simulated_ ? "simulated" : "system"; }
  double speed() const;
  uint64_t generation() const;

  /// Now on this clock, given the caller's monotonic reading.
  sys_millis now(real_point real_now) const;

  /// Moves a simulated clock to `to` (never backwards) and/or sets its speed
  /// (finite, >= 0). On the system clock: errc::refused.
  result<sys_millis> set(std::optional<sys_millis> to, std::optional<double> speed,
                         real_point real_now);

  /// Takes the cluster's simulated clock: reads max(now, `reading`) from
  /// `real_now` on, at `speed`. False on the system clock.
  bool adopt(sys_millis reading, double speed, real_point real_now);
  /// The same for an anchor: `sim_ms` was the reading at wall-clock `at_ms`
  /// (the cluster clock's row); it has run on at `speed` since.
  bool adopt_anchor(int64_t sim_ms, int64_t at_ms, double speed, real_point real_now);

  /// Monotonic time until this clock reads `at`: zero if it already does,
  /// nullopt if it never will (frozen).
  std::optional<std::chrono::nanoseconds> real_delay_until(sys_millis at,
                                                           real_point real_now) const;

private:
  engine_clock() = default;
  sys_millis now_locked(real_point real_now) const;

  mutable std::mutex mtx_;
  bool simulated_ = false;
  sys_millis base_sim_{};  // simulated reading at base_real_
  real_point base_real_{}; // monotonic reading when base_sim_ was taken
  double speed_ = 1.0;
  uint64_t generation_ = 0;
};

} // namespace candle
