// The REST bridge's routes (contract.md, "REST API"). Handlers run on the
// HTTP threads and reach actors only through ask_async (bridge.hpp).
#pragma once

#include "net/router.hpp"
#include "node/engine.hpp"

#include <chrono>

namespace candle {

struct node_context {
  caf::actor_system* sys = nullptr;
  engine* eng = nullptr;
  std::chrono::steady_clock::time_point started;
  bool fault_injection = false;
  std::string admin_token;    ///< "" = none: admin routes only on a loopback listener
  bool http_loopback = false; ///< http.host is a loopback address
};

net::router make_routes(node_context& ctx);

/// Users, their greetings, greetings by status, redrive (user_routes.cpp).
void add_user_routes(net::router& r, node_context& ctx);

} // namespace candle
