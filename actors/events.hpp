// The EVENTS actor (interface in actors.hpp), detached, on its own
// connection: stores delivery events once by id in grouped writes, moves
// each greeting's delivery state forward (a bounce or complaint suppresses
// the address), applies again the events of greetings whose row came after
// them, and reads greetings' timelines and the suppression list.
#pragma once

#include "actors/actors.hpp"
#include "actors/persistence.hpp"

namespace candle {

/// The EVENTS actor with its own connection (`opts.conninfo`, `opts.retry_for`).
events_actor spawn_events(caf::actor_system& sys, persistence_options opts);

} // namespace candle
