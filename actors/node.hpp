// The NODE actor (interface in actors.hpp): runs this node's partitions on
// the MEMBER actor's views (actors/member.hpp), routes writes and console
// requests to their owners here or on peers. See docs/cluster.md.
#pragma once

#include "actors/actors.hpp"
#include "actors/partition.hpp"
#include "core/cluster_plan.hpp"

#include <chrono>
#include <memory>

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

} // namespace candle
