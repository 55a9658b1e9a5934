// Pure cluster logic (no actors, no database): who should own how many
// partitions, what one node acquires or releases in a round, and until when a
// lease renewed at a given moment is surely still ours (self-fencing).
// The NODE actor calls these with the membership view read from PostgreSQL;
// the database still decides every acquisition (see docs/cluster.md).
#pragma once

#include "core/cluster_view.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace candle {

/// One live node as the planner sees it.
struct member {
  std::string id;
  std::chrono::milliseconds up{0}; ///< time since it joined (PostgreSQL's clock)
};

/// One partition lease as the planner sees it: `owner` is empty when the
/// lease is free, released, expired, or held by a node that is not live.
struct lease_slot {
  int32_t partition = 0;
  std::string owner;
};

/// The share of `partitions` that node `me` should own among `live` nodes
/// (ids, any order): ceil(P/N) for the first P mod N nodes in id order,
/// floor(P/N) for the others; 0 when `me` is not live.
size_t fair_share(const std::vector<std::string>& live, size_t partitions, const std::string& me);

struct round_limits {
  size_t max_release = 64;                    ///< partitions released per round
  std::chrono::milliseconds join_delay{1000}; ///< a newcomer waits this long for its share
};

/// What node `me` does in one round.
struct round_plan {
  std::vector<int32_t> acquire; ///< free leases to try, best first
  std::vector<int32_t> release; ///< own leases to hand off
  size_t target = 0;            ///< fair_share of `me`
  size_t owned = 0;             ///< leases `me` holds now
};

/// One round for `me`: below its share it tries free leases (never a held
/// one); above it, it releases (at most `max_release`, highest partitions
/// first) only what free leases cannot already give to the nodes below their
/// share that have been members for at least `join_delay`. Partitions in
/// `releasing` are `me`'s leases already being handed off: they count as
/// released towards that, and are not chosen again.
round_plan plan_round(const std::string& me, const std::vector<member>& live,
                      const std::vector<lease_slot>& leases, const round_limits& limits = {},
                      const std::vector<int32_t>& releasing = {});

/// The live owner of each of `partitions` partitions ("" = none): the owner
/// of an unexpired lease who is a live node. What routing and readiness use.
std::vector<std::string> live_owners(const cluster_view& v, size_t partitions);

/// The planner's input from a view: live members, and lease slots where
/// partitions in `running_here` (actors on this node, their lease possibly
/// not written yet) count as `me`'s.
std::vector<member> live_members(const cluster_view& v);
std::vector<lease_slot> slots_of(const cluster_view& v, size_t partitions, const std::string& me,
                                 const std::vector<int32_t>& running_here);

/// Margin kept between the lease's expiry on PostgreSQL's clock and the last
/// moment this node sends for it: max(500 ms, ttl / 10).
std::chrono::milliseconds fence_margin(std::chrono::milliseconds ttl);

/// The last moment (on the local monotonic clock) at which a partition whose
/// lease renewal *started* at `renew_started` and succeeded may still hand
/// greetings to delivery. The renewal set expiry = (PostgreSQL's now during
/// the statement) + ttl, and that now is after `renew_started`.
template <class TimePoint>
TimePoint fence_deadline(TimePoint renew_started, std::chrono::milliseconds ttl) {
  return renew_started + ttl - fence_margin(ttl);
}

} // namespace candle
