// A partition's in-memory schedule: occurrences ordered by due instant, with
// replacement by key (an update reschedules) and removal by user (a delete
// cancels). A binary heap with lazy deletion: stale heap entries are skipped
// when they surface, so every operation is O(log n).
#pragma once

#include "core/model.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace candle {

class due_queue {
public:
  /// When an occurrence fires: its due instant, or later for a retry that
  /// waits for its backoff (`next_attempt_at`).
  static int64_t fire_at(const occurrence& o) { return std::max(o.due_at, o.next_attempt_at); }

  /// Inserts or replaces the occurrence with `o.key`; fire_at() orders it.
  void upsert(occurrence o);
  /// Removes one key; false if absent.
  bool remove(const std::string& key);
  /// Removes every occurrence of `user_id` and returns them.
  std::vector<occurrence> remove_user(const std::string& user_id);
  bool contains(const std::string& key) const { return live_.count(key) > 0; }

  /// The earliest fire_at(), if any.
  std::optional<int64_t> next_due();
  /// Removes and returns up to `max` occurrences whose fire_at() is at or
  /// before `now`, earliest first.
  std::vector<occurrence> pop_due(int64_t now, size_t max);

  /// Up to `n` occurrences, earliest fire_at() first (then by key), without
  /// removing them.
  std::vector<occurrence> earliest(size_t n) const;
  /// Keeps the `n` first of `v` in due_queue order (fire_at, then key).
  static void keep_earliest(std::vector<occurrence>& v, size_t n);

  size_t size() const { return live_.size(); }
  bool empty() const { return live_.empty(); }

private:
  struct slot {
    int64_t fire_at;
    uint64_t version;
    std::string key;
    bool operator>(const slot& o) const {
      return fire_at != o.fire_at ? fire_at > o.fire_at : key > o.key;
    }
  };
  struct entry {
    occurrence value;
    uint64_t version;
  };
  void drop_stale();

  std::priority_queue<slot, std::vector<slot>, std::greater<slot>> heap_;
  std::unordered_map<std::string, entry> live_;
  std::unordered_map<std::string, std::unordered_set<std::string>> by_user_;
  uint64_t next_version_ = 0;
};

} // namespace candle
