// The SUPERVISOR: starts long-lived children, monitors them and restarts a
// failed one (one-for-one, like Erlang/OTP) after a backoff that doubles per
// consecutive failure. More than `max_restarts` restarts within `period`
// (all children together) means something is wrong beyond a restart: the
// supervisor gives up and exits with an error, which its owner (the node)
// reports and acts on.
//
// Messages:
//   (lookup, name)  -> caf::actor   the child's current handle (changes on restart)
//   (crash, name)   -> bool         fault injection: kill the child, as a bug would
//   (tick)                          forwarded to every running child (the engine
//                                   clock changed: partitions re-arm)
#pragma once

#include "actors/actors.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace candle {

struct child_spec {
  std::string name;
  /// Spawns the child; called again for every restart.
  std::function<caf::actor(caf::local_actor* parent)> start;
};

struct supervisor_options {
  std::vector<child_spec> children;
  size_t max_restarts = 10;
  std::chrono::milliseconds period{std::chrono::seconds{60}};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{std::chrono::seconds{10}};
};

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_options opts);

} // namespace candle
