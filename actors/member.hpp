// The MEMBER actor: this node's seat in the cluster. Detached, it owns the
// membership connection (persistence/membership.hpp): a heartbeat round every
// second, LISTEN for peers, lease changes, the change feed, redrives, the
// cluster clock and pause, and it hands each view to the NODE actor, which
// plans on it. A lost connection stops every partition here at once.
// See docs/cluster.md for the protocol.
#pragma once

#include "actors/actors.hpp"
#include "core/clock.hpp"

#include <memory>

namespace candle::pg {
class membership;
}

namespace candle {

/// The MEMBER actor over a membership that has joined already; every view
/// goes to `node`.
member_actor spawn_member(caf::actor_system& sys, std::shared_ptr<pg::membership> m,
                          node_control_actor node, std::shared_ptr<engine_clock> clock);

} // namespace candle
