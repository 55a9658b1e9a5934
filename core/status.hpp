// What Candle's actors report about themselves (introspection for the REST
// bridge, metrics and the console), as plain structs: the console's
// documents are built from these without CAF (console/document.hpp).
#pragma once

#include "core/cluster_view.hpp"
#include "core/forecast.hpp"
#include "core/model.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace candle {

/// What a partition reports about itself (introspection, metrics, tests).
struct partition_status {
  int32_t id = 0;
  int64_t epoch = 0;
  uint64_t queued = 0;
  uint64_t in_flight = 0;
  int64_t next_due = 0;   ///< 0 = nothing queued
  int64_t window_end = 0; ///< occurrences up to here are in memory
  uint64_t sent = 0;
  uint64_t late = 0; ///< of `sent`: sent more than a minute after the due instant
  uint64_t retried = 0;
  uint64_t dead = 0;
  uint64_t expired = 0;
};

/// What the DELIVERY actor reports about itself (admin API, console).
struct delivery_status {
  bool paused = false;
  std::string breaker;              ///< closed | open | half-open
  uint64_t in_flight = 0;           ///< provider requests running
  uint64_t max_in_flight = 0;       ///< email.max-in-flight: the ceiling
  uint64_t limit = 0;               ///< requests allowed in flight now (adaptive)
  uint64_t greetings_in_flight = 0; ///< in those requests (more than one each with email.api=batch)
  int64_t throttled_ms = 0;         ///< left of the provider's Retry-After (429): nothing starts
  uint64_t waiting = 0;             ///< greetings held: paused, breaker open, or at the bound
  uint64_t probes = 0;              ///< half-open probes so far
  int64_t paused_until = 0;         ///< wall-clock ms when a timed pause ends (0 = none)
  std::string paused_by;            ///< who paused ("" = not paused, or by email.paused)
  double send_rate = 0; ///< email.rate: this node's pace now, greetings/s (0 = no limit)
  double drain_s = 0;   ///< the greetings waiting at that pace, in seconds
};

/// The cluster's delivery pause (the kill switch), as the database keeps it.
struct pause_state {
  bool paused = false;
  int64_t until_ms = 0;     ///< wall-clock ms (PostgreSQL's) when it ends; 0 = until resumed
  int64_t remaining_ms = 0; ///< until_ms - PostgreSQL's now when read (timed pauses)
  std::string by;           ///< who set it
  int64_t version = 0;      ///< bumped by every change
};

/// Whether a pause read `elapsed_ms` ago still holds.
inline bool pause_holds(const pause_state& p, int64_t elapsed_ms) {
  return p.paused && (p.until_ms == 0 || elapsed_ms < p.remaining_ms);
}

/// What a NODE actor reports: its id, the last cluster view it planned with,
/// the partitions whose actors run on it, and its connected peers.
struct cluster_status {
  std::string self;
  bool have_view = false;
  cluster_view view;
  std::vector<int32_t> running;
  std::vector<std::string> peers;
};

/// Every partition's status, asked of each owner across the cluster.
struct partitions_report {
  std::vector<partition_status> partitions; ///< of the owners that answered
  std::vector<std::string> unreachable;     ///< owners that did not
};

/// What the dashboard reads from the database in one round trip: users per
/// occasion, zone and day (for core/forecast) and the records per status
/// other than sent.
struct dashboard_rows {
  std::vector<forecast_group> groups;
  std::vector<std::string> states;
  std::vector<int64_t> counts; ///< per state
};

/// The earliest greetings the partitions hold in memory, cluster-wide.
/// What `candlectl audit` finds (docs/console.md): greetings due in the
/// recovery window with no record that no owner's queue holds, and
/// unfinished (claimed or retrying) records that no owner holds; the
/// partitions that were audited (ready, answering) and the owners that did
/// not answer.
struct audit_report {
  std::vector<std::string> unscheduled; ///< keys
  std::vector<std::string> unowned;     ///< keys
  std::vector<int32_t> audited;
  std::vector<std::string> unreachable;
};

/// What the change feed read (pg::store::changes): a partition's user rows
/// written since the cursor, deleted ones too, and the next cursor.
struct change_batch {
  std::vector<user> users;
  int64_t cursor = 0;
};

struct upcoming_report {
  std::vector<occurrence> greetings; ///< by fire instant, then key
  std::vector<std::string> nodes;    ///< the node holding each greeting
  std::vector<std::string> unreachable;
};

} // namespace candle
