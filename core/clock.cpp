#include "core/clock.hpp"

#include <algorithm>
#include <cmath>

namespace candle {

using namespace std::chrono;

engine_clock engine_clock::system() {
  return engine_clock{};
}

engine_clock engine_clock::simulated(sys_millis start, double speed, real_point real_now) {
  engine_clock c;
  c.simulated_ = true;
  c.base_sim_ = start;
  c.base_real_ = real_now;
  c.speed_ = speed;
  return c;
}

engine_clock::engine_clock(const engine_clock& other) {
  std::lock_guard<std::mutex> guard{other.mtx_};
  simulated_ = other.simulated_;
  base_sim_ = other.base_sim_;
  base_real_ = other.base_real_;
  speed_ = other.speed_;
  generation_ = other.generation_;
}

double engine_clock::speed() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return speed_;
}

uint64_t engine_clock::generation() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return generation_;
}

sys_millis engine_clock::now_locked(real_point real_now) const {
  if (!simulated_) return date::floor<milliseconds>(system_clock::now());
  auto elapsed = duration<double, std::milli>(real_now - base_real_).count();
  if (elapsed < 0) elapsed = 0;
  return base_sim_ + milliseconds{static_cast<int64_t>(std::floor(elapsed * speed_))};
}

sys_millis engine_clock::now(real_point real_now) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return now_locked(real_now);
}

result<sys_millis> engine_clock::set(std::optional<sys_millis> to, std::optional<double> speed,
                                     real_point real_now) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!simulated_)
    return error{errc::refused,
                 "the system clock cannot be changed; run with clock.mode=simulated"};
  if (speed && (!std::isfinite(*speed) || *speed < 0))
    return error{errc::out_of_range, "speed must be a finite number >= 0"};
  auto current = now_locked(real_now);
  if (to && *to < current)
    return error{errc::out_of_range,
                 "time may only move forward (now is " + format_instant(current) + ")"};
  base_sim_ = to ? *to : current;
  base_real_ = real_now;
  if (speed) speed_ = *speed;
  ++generation_;
  return base_sim_;
}

bool engine_clock::adopt(sys_millis reading, double speed, real_point real_now) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!simulated_ || !std::isfinite(speed) || speed < 0) return false;
  // Never backwards here: a reading a few milliseconds behind ours (the
  // anchor travelled) keeps ours, so nothing is scheduled twice.
  auto current = now_locked(real_now);
  base_sim_ = std::max(current, reading);
  base_real_ = real_now;
  speed_ = speed;
  ++generation_;
  return true;
}

bool engine_clock::adopt_anchor(int64_t sim_ms, int64_t at_ms, double speed, real_point real_now) {
  auto wall = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  auto ran = static_cast<double>(std::max<int64_t>(0, wall - at_ms)) * speed;
  return adopt(sys_millis{milliseconds{sim_ms + static_cast<int64_t>(ran)}}, speed, real_now);
}

std::optional<nanoseconds> engine_clock::real_delay_until(sys_millis at,
                                                          real_point real_now) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto current = now_locked(real_now);
  if (at <= current) return nanoseconds::zero();
  if (!simulated_) return duration_cast<nanoseconds>(at - current);
  if (speed_ == 0) return std::nullopt;
  auto sim_ms = duration<double, std::milli>(at - current).count();
  // Round up: waking a hair late is harmless, waking early would be a bug.
  return nanoseconds{static_cast<int64_t>(std::ceil(sim_ms * 1e6 / speed_))};
}

} // namespace candle
