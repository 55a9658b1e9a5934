#include "core/breaker.hpp"

#include <algorithm>

namespace candle {

breaker::breaker(uint32_t threshold, std::chrono::milliseconds cooldown,
                 std::chrono::milliseconds max_cooldown)
    : threshold_(std::max<uint32_t>(1, threshold)), base_(cooldown),
      max_(std::max(cooldown, max_cooldown)), cooldown_(cooldown) {}

bool breaker::admit(clock::time_point now) {
  switch (current(now)) {
  case state::closed:
    return true;
  case state::open:
    return false;
  case state::half_open:
    if (probing_) return false;
    state_ = state::half_open;
    probing_ = true;
    ++probes_;
    return true;
  }
  return false;
}

void breaker::success() {
  state_ = state::closed;
  failures_ = 0;
  probing_ = false;
  cooldown_ = base_;
}

void breaker::failure(clock::time_point now) {
  if (state_ == state::half_open && probing_) {
    // The probe failed: open again, for longer.
    probing_ = false;
    cooldown_ = std::min(max_, cooldown_ * 2);
    state_ = state::open;
    open_until_ = now + cooldown_;
    return;
  }
  if (state_ != state::closed) return; // stragglers admitted before it opened
  if (++failures_ >= threshold_) {
    state_ = state::open;
    open_until_ = now + cooldown_;
  }
}

void breaker::abandon() {
  probing_ = false;
}

breaker::state breaker::current(clock::time_point now) const {
  if (state_ == state::open && now >= open_until_) return state::half_open;
  return state_;
}

const char* to_string(breaker::state s) {
  switch (s) {
  case breaker::state::closed:
    return "closed";
  case breaker::state::open:
    return "open";
  default:
    return "half-open";
  }
}

} // namespace candle
