// The node's actor tree: PERSISTENCE, DELIVERY, the NODE actor that runs
// this node's share of the PARTITION actors, and the MEMBER actor that feeds
// it membership views; all read one engine clock.
#pragma once

#include "actors/actors.hpp"
#include "config/settings.hpp"
#include "core/clock.hpp"
#include "core/fence.hpp"
#include "core/schedule.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace candle::pg {
class membership;
}

namespace candle {

/// Told when one of the engine's long-lived actors stops other than by
/// stop_engine (user_shutdown) or by leaving: its name and why. A node
/// missing one of them (its NODE, which runs every partition, its database
/// front, delivery, a keeper) would stay live in the cluster doing nothing;
/// candled ends the process instead (status 4), so its leases go to peers
/// and a service manager starts it again.
using failure_handler = std::function<void(const char* actor, const caf::error& reason)>;

struct engine {
  std::string node_id;
  int32_t partitions = 0;
  std::shared_ptr<engine_clock> clock;
  persistence_actor db;
  lease_keeper_actor keeper;
  records_keeper_actor records;
  events_actor events;
  delivery_control_actor delivery;
  node_control_actor node;
  member_actor member;
  console_actor console;
  schedule_rules rules;
  /// Every partition's fence slot (core/fence.hpp): closed all at once when
  /// the node leaves, before its session (and so its leases) goes.
  std::shared_ptr<fence_table> fences;
  failure_handler on_failure;
};

std::shared_ptr<engine_clock> make_clock(const settings& s);

/// Calls `f` if `actor` stops with an error other than user_shutdown.
void watch(const caf::strong_actor_ptr& actor, const char* name, failure_handler f);

/// `node_id` names this node in partition leases (see candled.cpp for how it
/// is chosen). `on_failure` watches every actor started here and in
/// join_engine.
engine start_engine(caf::actor_system& sys, const settings& s, const std::string& conninfo,
                    int32_t partitions, std::string node_id, failure_handler on_failure = {});

/// A fresh random node id: host-pid-random.
std::string random_node_id();

/// Starts the MEMBER actor on a membership that has joined: from its first
/// view on, the NODE actor runs this node's share of the partitions.
void join_engine(caf::actor_system& sys, engine& e, std::shared_ptr<pg::membership> m);

/// Hands every partition off (in-flight sends finish and are recorded,
/// leases go back, peers are notified) and leaves the cluster. True when
/// every partition was handed off within `timeout`.
bool leave_engine(caf::actor_system& sys, engine& e, std::chrono::milliseconds timeout);

/// Asks every actor of the engine to exit (the actor system then waits).
void stop_engine(engine& e);

} // namespace candle
