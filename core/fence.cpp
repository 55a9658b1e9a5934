#include "core/fence.hpp"

#include <algorithm>

namespace candle {

void fence_table::open(int32_t p, int64_t epoch, time_point until) {
  std::lock_guard<std::mutex> g{mtx_};
  if (p < 0 || static_cast<size_t>(p) >= slots_.size()) return;
  auto& s = slots_[static_cast<size_t>(p)];
  if (epoch < s.epoch) return; // an older incarnation's late renewal
  if (epoch > s.epoch) drop_doubt(s);
  s.epoch = epoch;
  s.until = until;
}

bool fence_table::extend(int32_t p, int64_t epoch, time_point until) {
  std::lock_guard<std::mutex> g{mtx_};
  if (p < 0 || static_cast<size_t>(p) >= slots_.size()) return false;
  auto& s = slots_[static_cast<size_t>(p)];
  if (s.epoch != epoch || s.until == time_point{}) return false;
  s.until = std::max(s.until, until);
  return true;
}

void fence_table::close(int32_t p, int64_t epoch) {
  std::lock_guard<std::mutex> g{mtx_};
  if (p < 0 || static_cast<size_t>(p) >= slots_.size()) return;
  auto& s = slots_[static_cast<size_t>(p)];
  if (s.epoch != epoch) return;
  s.until = time_point{};
  drop_doubt(s);
}

void fence_table::close_all() {
  std::lock_guard<std::mutex> g{mtx_};
  for (auto& s : slots_) {
    s.until = time_point{};
    drop_doubt(s);
  }
}

void fence_table::drop_doubt(slot& s) {
  doubt_ -= s.doubt;
  s.doubt = 0;
}

void fence_table::doubt(int32_t p, int64_t epoch, int64_t n) {
  std::lock_guard<std::mutex> g{mtx_};
  if (p < 0 || static_cast<size_t>(p) >= slots_.size()) return;
  auto& s = slots_[static_cast<size_t>(p)];
  if (epoch == 0 || s.epoch != epoch || s.until == time_point{}) return;
  n = std::max(n, -s.doubt); // never below what was added
  s.doubt += n;
  doubt_ += n;
}

int64_t fence_table::in_doubt() const {
  std::lock_guard<std::mutex> g{mtx_};
  return doubt_;
}

bool fence_table::may_send(int32_t p, int64_t epoch, time_point now) const {
  std::lock_guard<std::mutex> g{mtx_};
  if (p < 0 || static_cast<size_t>(p) >= slots_.size()) return false;
  const auto& s = slots_[static_cast<size_t>(p)];
  return s.epoch == epoch && now < s.until;
}

size_t fence_table::open_count(time_point now) const {
  std::lock_guard<std::mutex> g{mtx_};
  size_t n = 0;
  for (const auto& s : slots_)
    n += s.epoch != 0 && now < s.until ? 1 : 0;
  return n;
}

} // namespace candle
