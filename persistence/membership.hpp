// A node's membership in the cluster, on one PostgreSQL connection of its
// own: the `nodes` row (heartbeat), the session lock that tells peers the
// process is alive (cluster_sql.hpp), LISTEN for lease hand-offs, joins and
// clock changes, and the view of live nodes and leases that the NODE actor
// plans with. Blocking: used from a detached actor and from main at start.
#pragma once

#include "core/result.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <vector>


namespace candle::pg {

struct node_info {
  std::string id;
  std::string address; ///< cluster.advertise
  uint16_t cluster_port = 0;
  uint16_t console_port = 0;
  std::string rest_url;
  std::string version;
};

struct node_row {
  node_info info;
  int64_t heartbeat_age_ms = 0; ///< PostgreSQL's clock
  int64_t up_ms = 0;            ///< since it joined
  bool session = false;         ///< its session lock is held
  bool live = false;            ///< fresh heartbeat and session held
};

struct lease_row {
  int32_t partition = 0;
  std::string owner; ///< empty when released or never taken
  int64_t epoch = 0;
  int64_t expires_in_ms = 0; ///< negative once expired
};

struct cluster_view {
  std::vector<node_row> nodes; ///< rows heard from within the last hour
  std::vector<lease_row> leases;
};

/// The cluster's simulated clock: `sim_ms` at PostgreSQL's `at_ms`, running
/// at `speed`.
struct clock_anchor {
  int64_t sim_ms = 0;
  int64_t at_ms = 0;
  double speed = 1.0;
};

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
  bool await(std::chrono::milliseconds max);
  /// True when the last await() saw a clock change.
  bool clock_changed();
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
  /// How many other nodes are live now.
  size_t live_peers();

  const node_info& me() const { return me_; }

private:
  struct listener;
  void connect();

  std::string conninfo_;
  node_info me_;
  std::chrono::milliseconds ttl_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<listener> leases_, nodes_, clock_;
  bool clock_changed_ = false;
};

} // namespace candle::pg
