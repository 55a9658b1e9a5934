#include "core/concurrency.hpp"

#include <algorithm>
#include <cmath>

namespace candle {

namespace {
constexpr double short_weight = 0.1; // ~ the last 10 answers
} // namespace

concurrency_limit::concurrency_limit(concurrency_options o) : o_(o) {
  o_.ceiling = std::max<size_t>(1, o_.ceiling);
  o_.floor = std::clamp<size_t>(o_.floor, 1, o_.ceiling);
  o_.tolerance = std::max(1.0, o_.tolerance);
  o_.backoff = std::clamp(o_.backoff, 0.1, 0.99);
  limit_ = static_cast<double>(std::clamp(o_.initial, o_.floor, o_.ceiling));
}

size_t concurrency_limit::limit() const {
  return std::clamp(static_cast<size_t>(limit_), o_.floor, o_.ceiling);
}

void concurrency_limit::decrease(double factor, int64_t now_ms) {
  // One decrease per round trip: the other answers of that window say the same.
  auto window_ms = std::max<int64_t>(1, static_cast<int64_t>(short_ * 1000));
  if (decreased_ && now_ms - last_decrease_ms_ < window_ms) return;
  decreased_ = true;
  last_decrease_ms_ = now_ms;
  slow_start_ = false;
  limit_ = std::max(static_cast<double>(o_.floor), limit_ * factor);
}

void concurrency_limit::on_answer(double rtt_s, size_t in_flight, int64_t now_ms) {
  if (!(rtt_s >= 0) || !std::isfinite(rtt_s)) return;
  if (!sampled_) {
    short_ = min_now_ = min_before_ = rtt_s;
    half_started_ms_ = now_ms;
    sampled_ = true;
  } else {
    short_ += (rtt_s - short_) * short_weight;
    if (now_ms - half_started_ms_ >= o_.window_ms / 2) {
      // The least latency may rise by a quarter per half window: a provider
      // that got slower is learnt in minutes, while our own queue, kept up
      // for longer than a window, does not become the new normal at once.
      min_before_ = std::min(min_now_, base_rtt_s() * 1.25);
      min_now_ = rtt_s;
      half_started_ms_ = now_ms;
    }
    min_now_ = std::min(min_now_, rtt_s);
  }
  auto threshold = o_.tolerance * base_rtt_s() + o_.slack_s;
  if (short_ > threshold) {
    decrease(std::max(0.5, threshold / short_), now_ms);
    return;
  }
  if (static_cast<double>(in_flight) * 2 < limit_) return; // not using what it has
  limit_ += slow_start_ ? 1.0 : 1.0 / std::sqrt(limit_);
  limit_ = std::min(limit_, static_cast<double>(o_.ceiling));
}

double concurrency_limit::base_rtt_s() const {
  return std::min(min_now_, min_before_);
}

void concurrency_limit::on_overload(int64_t now_ms) {
  decrease(o_.backoff, now_ms);
}

} // namespace candle
