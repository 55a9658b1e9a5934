// Spawns the LEASE KEEPER (actors.hpp): every lease this node's partitions
// hold, renewed in one statement on its own thread and connection.
#pragma once

#include "actors/actors.hpp"
#include "core/fence.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace candle {

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
