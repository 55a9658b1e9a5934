// The DELIVERY actor (interface in actors.hpp): sends claimed greetings to
// the provider through the asynchronous client (net/provider_client.hpp), at
// most `max_in_flight` at once, and answers each batch when all of it has an
// answer, in the batch's order. A circuit breaker (core/breaker.hpp) holds
// greetings while the provider is failing, letting single probes through;
// the kill switch (pause) holds them until resumed; email.rate paces this
// node's share. Held greetings are not attempts: nothing is counted or
// recorded for them until they are sent; they leave in the order they came
// (each partition hands its greetings over earliest due first; a chunk
// started is finished before the next, which the in-doubt bound relies on).
#pragma once

#include "actors/actors.hpp"
#include "core/fence.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace candle {

struct delivery_options {
  std::string url;
  std::chrono::milliseconds timeout{10'000};
  size_t max_in_flight = 256;
  uint32_t breaker_threshold = 5; ///< consecutive transient failures that open it
  std::chrono::milliseconds breaker_cooldown{1000};
  std::chrono::milliseconds breaker_max_cooldown{30'000};
  bool paused = false;
  std::string user_agent = "candled"; ///< names the node to the provider
  /// Greetings answered to this node's partitions and not yet recorded by
  /// them (they keep it). No request starts while those sent and not yet
  /// recorded (in flight, answered in a batch not complete yet, and this
  /// count) reach 2 x max_in_flight less one chunk: what a crash can leave
  /// sent but unrecorded, and so re-sent by the next owner, stays under
  /// twice the in-flight bound.
  std::shared_ptr<std::atomic<int64_t>> in_doubt;
  /// The partitions' delivery chunk (they are answered whole): the slack kept
  /// under the in-doubt bound.
  size_t chunk_hint = 0;
  /// The partitions' lease deadlines (core/fence.hpp): a greeting goes out
  /// only while its partition's slot is open at the epoch it was sent with.
  std::shared_ptr<const fence_table> fences;
  /// email.rate: greetings per second for the whole cluster (0 = no limit).
  /// This node paces its share, rate x partitions open here / partitions
  /// (send_pace, core/rate_limit.hpp).
  double rate = 0;
};

delivery_control_actor spawn_delivery(caf::actor_system& sys, delivery_options opts);

} // namespace candle
