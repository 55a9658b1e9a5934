// The REST bridge's routes (contract.md, "REST API"). Handlers run on the
// HTTP threads and reach actors only through ask_async (bridge.hpp).
#pragma once

#include "actors/engine.hpp"
#include "core/security.hpp"
#include "net/envelope.hpp"
#include "net/router.hpp"

#include <chrono>

namespace candle {

struct node_context {
  caf::actor_system* sys = nullptr;
  engine* eng = nullptr;
  std::chrono::steady_clock::time_point started;
  bool fault_injection = false;
  std::string admin_token;               ///< "" = none: admin routes only on a loopback listener
  bool http_loopback = false;            ///< http.host is a loopback address
  std::vector<std::string> webhook_keys; ///< webhooks.secret's keys; none = endpoint off
};

net::router make_routes(node_context& ctx);

// /api/v1/admin/*: Authorization: Bearer {admin.token} when a token is set
// (401 without one, 403 with a wrong one); without a token only on a
// loopback listener (contract.md "Security", core/security.hpp).
template <class F> auto admin_only(node_context& ctx, F f) {
  namespace http = net::http;
  return [&ctx, f](net::request&& req, const net::path_params& p, net::responder respond) {
    auto auth = req[http::field::authorization];
    switch (judge_admin(ctx.admin_token, ctx.http_loopback, {auth.data(), auth.size()})) {
    case admin_verdict::allow:
      return f(std::move(req), p, std::move(respond));
    case admin_verdict::unauthorized: {
      auto res = net::failure(http::status::unauthorized,
                              "admin routes need Authorization: Bearer <admin.token>", req);
      res.set(http::field::www_authenticate, "Bearer");
      return respond(std::move(res));
    }
    case admin_verdict::forbidden:
      return respond(net::failure(
          http::status::forbidden,
          ctx.admin_token.empty()
              ? "admin routes are served on a loopback http.host only unless admin.token is set"
              : "wrong admin token",
          req));
    }
  };
}

/// Users, their greetings, greetings by status and by key, redrive, the
/// provider's delivery events and suppressions (user_routes.cpp).
void add_user_routes(net::router& r, node_context& ctx);

} // namespace candle
