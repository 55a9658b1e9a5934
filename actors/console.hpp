// The CONSOLE actor (interface in actors.hpp): what `candlectl` talks to.
// Thin: it asks the node's actors (and through the NODE actor its peers),
// and builds the answer with console/document.hpp.
#pragma once

#include "actors/actors.hpp"
#include "core/clock.hpp"
#include "core/schedule.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace candle {

struct console_options {
  std::string node_id;
  std::string version;
  std::string rest_url;
  int32_t partitions = 0;
  std::chrono::steady_clock::time_point started;
  std::shared_ptr<engine_clock> clock;
  schedule_rules rules;
  persistence_actor db;
  events_actor events; ///< the records' delivery-event timelines (`user`)
  delivery_control_actor delivery;
  node_control_actor node;
  /// State changes are taken only from a console that is loopback (until
  /// mutual TLS, contract.md "Security"); the listener binds to 127.0.0.1.
  bool loopback = true;
  /// admin.token: when set, state changes must carry it.
  std::string admin_token;
};

console_actor spawn_console(caf::actor_system& sys, console_options opts);

} // namespace candle
