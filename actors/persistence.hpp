// Spawns the PERSISTENCE actor (see actors.hpp): a front that bounds the
// queue, and detached workers that each own a store (one connection).
#pragma once

#include "actors/actors.hpp"
#include "persistence/store.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace candle {

struct persistence_options {
  std::string conninfo;
  size_t workers = 2;        ///< connections; requests of one partition stay on one
  size_t queue_limit = 4096; ///< requests queued or running; beyond: errc::overloaded
  /// How long a request keeps retrying while the database is unreachable
  /// before it fails with errc::unavailable.
  std::chrono::milliseconds retry_for{10'000};
  pg::schedule_rules rules = pg::default_rules();
};

persistence_actor spawn_persistence(caf::actor_system& sys, persistence_options opts);

} // namespace candle
