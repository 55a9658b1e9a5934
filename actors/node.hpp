// The NODE actor (interface in actors.hpp) and the MEMBER actor that feeds
// it membership views. See docs/cluster.md for the protocol.
#pragma once

#include "actors/actors.hpp"
#include "actors/partition.hpp"
#include "core/cluster_plan.hpp"

#include <chrono>
#include <functional>
#include <memory>

namespace candle::pg {
class membership;
}

namespace candle {

struct node_options {
  std::string id;
  int32_t partitions = 0;
  /// A partition's options but its id and seed (set per start).
  partition_options partition;
  round_limits limits;
  /// Timeout of a write forwarded to the owning node.
  std::chrono::milliseconds forward_timeout{2000};
  /// Where the cluster's delivery pause is applied (may be null in tests).
  delivery_control_actor delivery;
};

node_control_actor spawn_node(caf::actor_system& sys, node_options opts);

/// Tells the NODE actor its MEMBER (for early rounds after a peer is lost).
void attach_member(const node_control_actor& node, const member_actor& member);

/// The MEMBER actor over a membership that has joined already; every view
/// goes to `node`.
member_actor spawn_member(caf::actor_system& sys, std::shared_ptr<pg::membership> m,
                          node_control_actor node, std::shared_ptr<engine_clock> clock);

} // namespace candle
