#include "core/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace candle {

int64_t take_token(token_bucket& b, int64_t now_ms, double rate, double burst) {
  if (now_ms > b.at_ms) {
    b.tokens = std::min(burst, b.tokens + static_cast<double>(now_ms - b.at_ms) * rate / 1000.0);
    b.at_ms = now_ms;
  }
  if (b.tokens >= 1.0 - 1e-9) { // (refills are sums of doubles: allow their rounding)
    b.tokens = std::max(0.0, b.tokens - 1.0);
    return 0;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - b.tokens) * 1000.0 / rate)));
}

client_limits::client_limits(double rate, double burst, size_t per_client, size_t total)
    : rate_(rate), burst_(std::max(1.0, burst)), per_client_(per_client), total_(total) {}

int64_t client_limits::request(const std::string& client, int64_t now_ms) {
  if (rate_ <= 0) return 0;
  sweep(now_ms);
  auto [it, fresh] = buckets_.try_emplace(client);
  if (fresh) it->second = {burst_, now_ms};
  return take_token(it->second, now_ms, rate_, burst_);
}

// Forgets clients whose bucket has refilled: they are as if never seen. Runs
// at most once a second, so memory stays bounded by the clients of the last
// burst / rate seconds.
void client_limits::sweep(int64_t now_ms) {
  if (now_ms - last_sweep_ms_ < 1000) return;
  last_sweep_ms_ = now_ms;
  auto full_after_ms = static_cast<int64_t>(std::ceil(burst_ * 1000.0 / rate_));
  for (auto it = buckets_.begin(); it != buckets_.end();)
    it = now_ms - it->second.at_ms >= full_after_ms ? buckets_.erase(it) : std::next(it);
}

bool client_limits::open(const std::string& client) {
  if (total_ != 0 && total_open_ >= total_) return false;
  auto& n = open_[client];
  if (per_client_ != 0 && n >= per_client_) {
    if (n == 0) open_.erase(client);
    return false;
  }
  ++n;
  ++total_open_;
  return true;
}

void client_limits::close(const std::string& client) {
  auto it = open_.find(client);
  if (it == open_.end() || it->second == 0) return;
  --total_open_;
  if (--it->second == 0) open_.erase(it);
}

send_pace pace_for(double rate, size_t owned, size_t partitions) {
  if (rate <= 0 || partitions == 0) return {};
  // A node owning nothing right now still lets its stragglers through (they
  // are fenced at the door), at the pace of one partition.
  auto share = rate * static_cast<double>(std::max<size_t>(1, std::min(owned, partitions))) /
               static_cast<double>(partitions);
  // A bucket admits at most burst + per_second in any second: keep that at
  // 95 % of the share: 5 % (50 ms) for the delays between this pacing and
  // the provider's clock (the client's thread, the network, the provider's
  // own; at 98 % the mock counted up to 2,104 in a second at email.rate=2000
  // on a loaded 2-core machine, docs/benchmarks.md). The burst (5 ms of sends, at least two from
  // 100/s) lets a pump that wakes every millisecond or so keep the pace: a bucket of one token
  // loses what a tick refills beyond it. Small shares use one token, so that even 1/s is never
  // exceeded.
  auto burst = std::max(share >= 100 ? 2.0 : 1.0, share * 0.005);
  auto per_second = std::max(share * 0.95 - burst, share * 0.5);
  return {per_second, burst};
}

} // namespace candle
