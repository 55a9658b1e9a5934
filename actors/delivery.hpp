// The DELIVERY actor (interface in actors.hpp): a front that hands each batch
// to one of `workers` detached actors, each with its own provider connection.
// At most `workers` requests are in flight per node. (A first version: issue
// 5 replaces the blocking workers with an asynchronous client, adds the
// circuit breaker and the pause switch.)
#pragma once

#include "actors/actors.hpp"

#include <chrono>
#include <string>

namespace candle {

struct delivery_options {
  std::string url;
  std::chrono::milliseconds timeout{10'000};
  size_t workers = 8;
};

delivery_actor spawn_delivery(caf::actor_system& sys, delivery_options opts);

} // namespace candle
