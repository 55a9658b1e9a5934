// Spawns the PERSISTENCE actor (see actors.hpp): a front that bounds the
// queue, and detached workers that each own a store (one connection).
#pragma once

#include "actors/actors.hpp"
#include "core/fence.hpp"
#include "persistence/store.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace candle {

struct persistence_options {
  std::string conninfo;
  size_t workers = 2;        ///< connections; requests of one partition stay on one
  size_t queue_limit = 4096; ///< requests queued or running; beyond: ec::overloaded
  /// How long a request keeps retrying while the database is unreachable
  /// before it fails with ec::unavailable.
  std::chrono::milliseconds retry_for{10'000};
  pg::schedule_rules rules = pg::default_rules();
};

persistence_actor spawn_persistence(caf::actor_system& sys, persistence_options opts);

/// The EVENTS actor (actors.hpp), detached, with its own connection
/// (`opts.conninfo`, `opts.retry_for`).
events_actor spawn_events(caf::actor_system& sys, persistence_options opts);

struct lease_keeper_options {
  std::string conninfo;
  std::string node;
  int64_t lease_ttl = 30; ///< seconds; renewed every third
  std::shared_ptr<fence_table> fences;
  /// Instead of the database (tests): renews (partition, epoch) pairs for
  /// `node` and returns the partitions still held, or throws when it cannot
  /// reach its store. With it the keeper is not detached.
  std::function<std::vector<int32_t>(const std::string& node,
                                     const std::vector<std::pair<int32_t, int64_t>>& leases,
                                     std::chrono::seconds ttl)>
      renew{};
};

/// The LEASE KEEPER (actors.hpp), detached, with its own connection (or
/// `opts.renew`).
lease_keeper_actor spawn_lease_keeper(caf::actor_system& sys, lease_keeper_options opts);

} // namespace candle
