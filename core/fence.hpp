// Which partitions this node may still send for, and until when. Each
// PARTITION actor opens its slot (its lease epoch, and the moment its lease
// may have run out by this node's monotonic clock) when it takes the lease and
// again after every successful renewal, and closes it when it stops. DELIVERY
// and the provider client ask right before a greeting goes out, so a greeting
// that waited in a queue is judged by the lease as it is then, not as it was
// when the greeting was handed over.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

namespace candle {

class fence_table {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit fence_table(size_t partitions) : slots_(partitions) {}

  /// Partition `p` at `epoch` may send until `until`.
  void open(int32_t p, int64_t epoch, time_point until);
  /// Moves the deadline of partition `p` at `epoch` forward to `until` (a
  /// renewal), unless the slot was closed or belongs to another epoch: a
  /// closed slot stays closed. True when extended.
  bool extend(int32_t p, int64_t epoch, time_point until);
  /// Partition `p` at `epoch` sends nothing more (a newer epoch is left alone).
  void close(int32_t p, int64_t epoch);
  /// Every slot closes at once, whatever its epoch (this node's session is
  /// lost, so peers may hold its leases already): nothing more goes out for
  /// any partition here until a partition opens its slot again at a new
  /// epoch. Closing one slot after another instead would hand each closed
  /// slot's in-doubt count back to the partitions not closed yet, which
  /// could then send past the bound.
  void close_all();
  /// True when partition `p` is open at exactly `epoch` and `now` is before
  /// its deadline.
  bool may_send(int32_t p, int64_t epoch, time_point now) const;
  /// Partitions open now (this node's share of the cluster's partitions).
  size_t open_count(time_point now) const;
  /// Greetings DELIVERY answered to partition `p` at `epoch` that it has not
  /// recorded yet: delivery adds them in the same step as it answers (so
  /// answers on their way to the partition are counted too), the partition
  /// takes them off once their outcomes are committed. Ignored unless the
  /// slot holds `epoch` and was not closed: what is left when a slot closes
  /// (or a newer epoch opens it) is dropped, as that incarnation records
  /// nothing more.
  void doubt(int32_t p, int64_t epoch, int64_t n);
  /// Greetings answered and not yet recorded, over all slots: what a crash
  /// now would leave for the next owners to re-send (with delivery's own).
  int64_t in_doubt() const;
  size_t partitions() const { return slots_.size(); }

private:
  struct slot {
    int64_t epoch = 0;
    time_point until{};
    int64_t doubt = 0;
  };
  void drop_doubt(slot& s);
  mutable std::mutex mtx_;
  std::vector<slot> slots_;
  int64_t doubt_ = 0;
};

} // namespace candle
