#include "core/due_queue.hpp"

namespace candle {

void due_queue::upsert(occurrence o) {
  auto version = ++next_version_;
  heap_.push({fire_at(o), version, o.key});
  by_user_[o.user_id].insert(o.key);
  auto key = o.key;
  live_[key] = entry{std::move(o), version};
}

bool due_queue::remove(const std::string& key) {
  auto it = live_.find(key);
  if (it == live_.end()) return false;
  auto user = by_user_.find(it->second.value.user_id);
  if (user != by_user_.end()) {
    user->second.erase(key);
    if (user->second.empty()) by_user_.erase(user);
  }
  live_.erase(it); // its heap slot becomes stale and is skipped later
  return true;
}

std::vector<occurrence> due_queue::remove_user(const std::string& user_id) {
  std::vector<occurrence> removed;
  auto user = by_user_.find(user_id);
  if (user == by_user_.end()) return removed;
  auto keys = std::move(user->second);
  by_user_.erase(user);
  for (const auto& k : keys) {
    auto it = live_.find(k);
    removed.push_back(std::move(it->second.value));
    live_.erase(it);
  }
  return removed;
}

void due_queue::drop_stale() {
  while (!heap_.empty()) {
    const auto& top = heap_.top();
    auto it = live_.find(top.key);
    if (it != live_.end() && it->second.version == top.version) return;
    heap_.pop();
  }
}

std::optional<int64_t> due_queue::next_due() {
  drop_stale();
  if (heap_.empty()) return std::nullopt;
  return heap_.top().fire_at;
}

std::vector<occurrence> due_queue::pop_due(int64_t now, size_t max) {
  std::vector<occurrence> out;
  while (out.size() < max) {
    drop_stale();
    if (heap_.empty() || heap_.top().fire_at > now) break;
    auto key = heap_.top().key;
    heap_.pop();
    auto it = live_.find(key);
    out.push_back(std::move(it->second.value));
    live_.erase(it);
    auto user = by_user_.find(out.back().user_id);
    if (user != by_user_.end()) {
      user->second.erase(key);
      if (user->second.empty()) by_user_.erase(user);
    }
  }
  return out;
}

void due_queue::keep_earliest(std::vector<occurrence>& v, size_t n) {
  auto before = [](const occurrence& a, const occurrence& b) {
    auto fa = fire_at(a), fb = fire_at(b);
    return fa != fb ? fa < fb : a.key < b.key;
  };
  n = std::min(n, v.size());
  std::partial_sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n), v.end(), before);
  v.resize(n);
}

std::vector<occurrence> due_queue::earliest(size_t n) const {
  std::vector<occurrence> all;
  all.reserve(live_.size());
  for (const auto& [key, e] : live_)
    all.push_back(e.value);
  keep_earliest(all, n);
  return all;
}

} // namespace candle
