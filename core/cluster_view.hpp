// What a node knows of the cluster, as read from PostgreSQL by membership
// (persistence/membership.hpp) and handed to the NODE actor: the nodes heard
// from recently and every partition lease. Plain values: no CAF, no libpqxx.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace candle {

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

} // namespace candle
