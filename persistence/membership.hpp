// A node's membership in the cluster, on one PostgreSQL connection of its
// own: the `nodes` row (heartbeat), the session lock that tells peers the
// process is alive (cluster_sql.hpp), LISTEN for lease hand-offs, joins and
// clock changes, and the view of live nodes and leases that the NODE actor
// plans with. Blocking: used from a detached actor and from main at start.
#pragma once

#include "core/cluster_view.hpp"
#include "core/result.hpp"
#include "core/status.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <pqxx/connection>
#include <set>
#include <string>
#include <vector>

namespace candle::pg {

using candle::clock_anchor;
using candle::cluster_view;
using candle::lease_row;
using candle::node_info;
using candle::node_row;
using candle::pause_state;

class membership {
public:
  membership(std::string conninfo, node_info me, std::chrono::milliseconds ttl);
  ~membership();
  membership(const membership&) = delete;
  membership& operator=(const membership&) = delete;

  /// Registers this node and takes its session lock. `conflict` when a live
  /// process already runs under the same id; `unavailable` without a database.
  result<bool> join();
  /// Heartbeat, then the current view. Throws on connection trouble.
  cluster_view round();
  /// Waits up to `max` for a notification on the node's channels; true when
  /// one came (a lease was released, a node joined or left, the clock moved).
  /// Change notifications (candle_changes) are only collected.
  bool await(std::chrono::milliseconds max);
  /// The partitions whose users were written, as notified since the last
  /// call (schema v8's trigger on users).
  std::vector<int32_t> changed_partitions();
  /// True when the last await() saw a clock change.
  bool clock_changed();
  /// True when an await() since the last call saw a pause change.
  bool pause_changed();
  /// The partitions whose records were redriven, as notified since the last
  /// call (store::redrive's 'r<partition>').
  std::vector<int32_t> redriven_partitions();
  /// After connection trouble: reconnect and join again (the session lock
  /// was lost with the connection, so peers may have taken leases over).
  result<bool> rejoin();
  /// Removes this node's row and releases the session lock (clean exit).
  void leave();

  /// The cluster's clock, if one was ever set.
  std::optional<clock_anchor> clock();
  /// Sets the cluster's clock to read `sim_ms` now at `speed`; notifies
  /// every node. Returns the anchor written.
  clock_anchor set_clock(int64_t sim_ms, double speed);
  /// The cluster's delivery pause (not paused if never set).
  pause_state pause();
  /// Pauses (for `for_ms`, 0 = until resumed) or resumes delivery
  /// cluster-wide; notifies every node. Returns the state written.
  pause_state set_pause(bool paused, int64_t for_ms, const std::string& by);
  /// How many other nodes are live now.
  size_t live_peers();

  const node_info& me() const { return me_; }

private:
  struct listener;
  struct change_listener;
  void connect();
  void drop_listeners();

  std::string conninfo_;
  node_info me_;
  std::chrono::milliseconds ttl_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<listener> leases_, nodes_, clock_, pause_;
  std::unique_ptr<change_listener> changes_;
  std::set<int32_t> changed_, redriven_;
  bool woken_ = false;
  bool clock_changed_ = false;
  bool pause_changed_ = false;
};

} // namespace candle::pg
