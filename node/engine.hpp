// The node's actor tree: PERSISTENCE, DELIVERY, and a SUPERVISOR over one
// PARTITION per partition number (all on this node until the cluster issue),
// all reading one engine clock.
#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "core/clock.hpp"

#include <memory>
#include <string>

namespace candle {

struct engine {
  std::string node_id;
  int32_t partitions = 0;
  std::shared_ptr<engine_clock> clock;
  persistence_actor db;
  delivery_control_actor delivery;
  caf::actor supervisor;
};

std::shared_ptr<engine_clock> make_clock(const settings& s);

/// `node_id` names this node in partition leases (see candled.cpp for how it
/// is chosen).
engine start_engine(caf::actor_system& sys, const settings& s, const std::string& conninfo,
                    int32_t partitions, std::string node_id);

/// A fresh random node id: host-pid-random.
std::string random_node_id();

/// Asks every actor of the engine to exit (the actor system then waits).
void stop_engine(engine& e);

} // namespace candle
