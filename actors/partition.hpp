// The PARTITION actor (interface in actors.hpp).
#pragma once

#include "actors/actors.hpp"
#include "core/clock.hpp"
#include "core/due_queue.hpp"
#include "core/fence.hpp"
#include "core/schedule.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>
#include <unordered_set>

namespace candle {

struct partition_options {
  int32_t id = 0;
  std::string node;
  std::shared_ptr<engine_clock> clock;
  persistence_actor db;
  delivery_actor delivery;
  std::chrono::milliseconds lookahead{std::chrono::hours{48}};
  std::chrono::milliseconds recovery_window{std::chrono::hours{48}};
  /// 0: greetings are checked at their instant (a read) and sent, and
  /// their outcome is their one row. Above 0: claimed this long before
  /// their instant (a row written) and held, confirmed at it, and their
  /// outcome updates the claim: two writes per greeting.
  std::chrono::milliseconds claim_ahead{0};
  uint32_t max_attempts = 12;
  size_t batch = 1000;         ///< occurrences per claim statement
  size_t delivery_chunk = 250; ///< greetings per delivery request (and outcome write)
  int64_t lease_ttl = 30;      ///< seconds, on PostgreSQL's clock; renewed every third
  /// Where this partition publishes its lease deadline for delivery, and
  /// where delivery counts what it answered and this partition has not
  /// recorded yet (required).
  std::shared_ptr<fence_table> fences;
  /// Renews the lease once taken, moving the deadline in `fences` (required).
  lease_keeper_actor keeper;
  schedule_rules rules = default_rules();
  /// The change feed is read at most this often (notifications in between
  /// are folded into the next read).
  std::chrono::milliseconds feed_gap{500};
  /// The sweep for unfinished records that no queue holds runs this often.
  std::chrono::milliseconds sweep_every{std::chrono::seconds{60}};
  uint64_t seed = 0; ///< for retry jitter
};

struct partition_state {
  static constexpr const char* name = "partition";
  partition_options opts;
  int64_t epoch = 0;
  /// When the last successful lease acquisition or renewal *started*: the
  /// lease is surely ours until fence_deadline(lease_start, ttl).
  caf::actor_clock::time_point lease_start;
  /// Handing off (rebalance or SIGTERM): no new claims or sends; once what is
  /// in flight is recorded, the lease is released and the promise kept.
  bool draining = false;
  caf::typed_response_promise<bool> handoff;
  bool ready = false;     // lease held and initial load done
  bool refilling = false; // a window scan is in flight
  due_queue queue;
  std::unordered_map<std::string, int64_t>
      busy;                                // key -> due_at: being claimed, delivered or expired
  std::unordered_set<std::string> resumed; // next try is a reclaim, not a claim
  /// Checked and handed to delivery without a claim: no record until their
  /// outcome's row, so they stay in busy until it is written (or retried).
  std::unordered_set<std::string> unclaimed;
  /// Outcomes of checked greetings not written yet (key -> due_at): until
  /// their row is in, the horizon stays at or before them.
  std::unordered_map<std::string, int64_t> unwritten;
  due_queue held; // claimed ahead, delivered at their instant (also in busy)
  /// Users whose claims taken ahead are being given back because an edit
  /// moved them: the latest version, to reschedule from once released.
  struct releasing {
    user latest;
    size_t pending = 0; // release requests in flight
  };
  std::unordered_map<std::string, releasing> releases;
  occurrence_list unreleased; // releases whose write failed; retried on the next tick
  int64_t window_end = 0;
  std::optional<int64_t> armed_for;
  uint64_t armed_generation = 0;
  std::mt19937_64 rng;
  outcome_list unrecorded; // outcomes whose write failed; retried on the next tick
  size_t recording = 0;    // outcomes being written now
  int64_t horizon = 0;     // last horizon written (see docs/engine.md)
  partition_status stats;
  /// updated_at of the latest upsert per user: REST writes notify partitions
  /// from different actors, so an older version can arrive after a newer one.
  /// Entries older than a minute are pruned (reorderings take milliseconds).
  std::unordered_map<std::string, int64_t> versions;
  /// The change feed (docs/cluster.md, "Acknowledged writes"): where the
  /// next read starts (an xid8; 0 until taken, before the first load).
  int64_t cursor = 0;
  bool feeding = false;       // a read is in flight
  bool feed_wanted = false;   // a read was asked for meanwhile
  bool feed_deferred = false; // a read is timed for the end of the gap
  caf::actor_clock::time_point last_feed = caf::actor_clock::time_point::min();
  /// The sweep for unfinished records no queue holds, every sweep_every.
  bool sweeping = false;
  bool sweep_again = false; // a sweep fell due while one was in flight
  caf::actor_clock::time_point next_sweep{};
  /// A redrive's notification asked for a sweep at this instant (none: {}).
  caf::actor_clock::time_point sweep_asked_at{};
  /// Keys whose outcomes are being written now (part of what is known).
  std::unordered_set<std::string> recording_keys;
  /// Newer versions of users heard while one of their greetings was being
  /// claimed: rescheduled once the claim is answered.
  std::unordered_map<std::string, user> newer;
  /// Claims taken ahead that were not confirmed at their instant, by user,
  /// while the user's row is read (still in busy).
  std::unordered_map<std::string, occurrence_list> rechecking;
  /// What this partition contributes to the node's gauges (outlives the state).
  struct gauge_share {
    int64_t queued = 0;
    bool owned = false;
    int64_t epoch = 0; // the epoch whose fence slot to close on exit
    std::shared_ptr<fence_table> fences;
  };
  std::shared_ptr<gauge_share> gauges = std::make_shared<gauge_share>();
};

partition_actor::behavior_type partition(partition_actor::stateful_pointer<partition_state> self,
                                         partition_options opts);

} // namespace candle
