#include "node/routes.hpp"

#include "core/metrics.hpp"
#include "node/bridge.hpp"
#include "node/openapi.hpp"

#include <cmath>

namespace candle {

namespace http = net::http;
namespace json = boost::json;

namespace {

json::object clock_view(const engine_clock& c) {
  // Whole speeds as integers: Boost.JSON writes the double 0 as "0E0".
  auto sp = c.speed();
  json::value speed = sp == std::floor(sp) && std::fabs(sp) < 1e15
                          ? json::value(static_cast<int64_t>(sp))
                          : json::value(sp);
  return {{"now", format_instant(c.now(std::chrono::steady_clock::now()))},
          {"mode", c.mode()},
          {"speed", speed}};
}

// PUT /api/v1/admin/clock: {"now": ISO} and/or {"speed": x}.
net::response put_clock(node_context& ctx, const net::request& req) {
  auto& clock = *ctx.eng->clock;
  if (!clock.is_simulated())
    return net::failure(http::status::conflict,
                        "the system clock cannot be changed; run with clock.mode=simulated", req);
  json::error_code ec;
  auto parsed = json::parse(req.body(), ec);
  if (ec || !parsed.is_object())
    return net::failure(http::status::bad_request, "the body must be a JSON object", req,
                        {{"body", ec ? ec.message() : "not an object"}});
  const auto& body = parsed.as_object();
  std::vector<net::field_error> problems;
  std::optional<sys_millis> now;
  std::optional<double> speed;
  for (const auto& [k, v] : body) {
    if (k == "now") {
      if (!v.is_string()) {
        problems.push_back({"now", "must be an ISO-8601 instant string"});
        continue;
      }
      auto t = parse_instant(std::string_view{v.as_string().data(), v.as_string().size()});
      if (!t)
        problems.push_back({"now", t.err().message});
      else
        now = *t;
    } else if (k == "speed") {
      if (!v.is_number()) {
        problems.push_back({"speed", "must be a number"});
        continue;
      }
      auto x = v.to_number<double>();
      if (!std::isfinite(x) || x < 0)
        problems.push_back({"speed", "must be a finite number >= 0"});
      else
        speed = x;
    } else {
      problems.push_back({std::string{k}, "unknown field (expected now and/or speed)"});
    }
  }
  if (problems.empty() && !now && !speed) problems.push_back({"body", "give now and/or speed"});
  if (!problems.empty())
    return net::failure(http::status::bad_request, "invalid clock change", req, problems);
  auto r = clock.set(now, speed, std::chrono::steady_clock::now());
  if (!r)
    return net::failure(http::status::bad_request, "invalid clock change", req,
                        {{now ? "now" : "speed", r.err().message}});
  // Every partition re-arms and processes what became due.
  caf::anon_send(ctx.eng->supervisor, atom::tick::value);
  return net::success(http::status::ok, clock_view(clock), req);
}

json::object delivery_view(const delivery_status& d) {
  return {{"paused", d.paused},      {"breaker", d.breaker},
          {"inFlight", d.in_flight}, {"maxInFlight", d.max_in_flight},
          {"waiting", d.waiting},    {"probes", d.probes}};
}

// GET/PUT /api/v1/admin/delivery: the kill switch ({"paused": bool}).
void delivery_route(node_context& ctx, net::request&& req, net::responder respond) {
  auto shared = std::make_shared<net::request>(std::move(req));
  auto on_error = [shared, respond, sys = ctx.sys](caf::error& e) {
    respond(net::failure(http::status::service_unavailable, sys->render(e), *shared));
  };
  auto on_status = [shared, respond](delivery_status& d) {
    respond(net::success(http::status::ok, delivery_view(d), *shared));
  };
  if (shared->method() == http::verb::get)
    return ask_async<delivery_status>(*ctx.sys, ctx.eng->delivery, std::chrono::seconds{2},
                                      on_status, on_error, atom::status::value);
  json::error_code ec;
  auto parsed = json::parse(shared->body(), ec);
  std::vector<net::field_error> problems;
  if (ec || !parsed.is_object()) {
    problems.push_back({"body", "must be a JSON object {\"paused\": true|false}"});
  } else {
    for (const auto& [k, v] : parsed.as_object())
      if (k != "paused") problems.push_back({std::string{k}, "unknown field"});
    auto it = parsed.as_object().find("paused");
    if (it == parsed.as_object().end() || !it->value().is_bool())
      problems.push_back({"paused", "must be true or false"});
  }
  if (!problems.empty())
    return respond(
        net::failure(http::status::bad_request, "invalid delivery change", *shared, problems));
  ask_async<delivery_status>(*ctx.sys, ctx.eng->delivery, std::chrono::seconds{2}, on_status,
                             on_error, atom::pause::value,
                             parsed.as_object().at("paused").as_bool());
}

} // namespace

net::router make_routes(node_context& ctx) {
  net::router r;
  r.add(http::verb::get, "/healthz",
        [&ctx](net::request&& req, const net::path_params&, net::responder respond) {
          auto up = std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::steady_clock::now() - ctx.started);
          respond(net::success(http::status::ok,
                               json::object{{"status", "ok"}, {"uptimeSeconds", up.count()}}, req));
        });
  r.add(http::verb::get, "/readyz",
        [&ctx](net::request&& req, const net::path_params&, net::responder respond) {
          auto shared = std::make_shared<net::request>(std::move(req));
          ask_async<bool>(
              *ctx.sys, ctx.eng->db, std::chrono::seconds{2},
              [shared, respond, &ctx](bool&) {
                // Ready when every partition is owned (one node: by this one).
                auto owned = static_cast<int64_t>(metrics::global().partitions_owned.value({}));
                if (owned < ctx.eng->partitions)
                  return respond(net::failure(http::status::service_unavailable,
                                              "not ready: " + std::to_string(owned) + " of " +
                                                  std::to_string(ctx.eng->partitions) +
                                                  " partitions owned",
                                              *shared));
                respond(net::success(http::status::ok,
                                     json::object{{"status", "ready"},
                                                  {"database", "ok"},
                                                  {"partitions", ctx.eng->partitions},
                                                  {"partitionsOwned", owned}},
                                     *shared));
              },
              [shared, respond, sys = ctx.sys](caf::error& e) {
                respond(net::failure(http::status::service_unavailable,
                                     "not ready: database: " + sys->render(e), *shared));
              },
              atom::ping::value);
        });
  // Fault injection (admin.fault-injection): kill a supervised actor as a bug
  // would, e.g. partition-3; the supervisor restarts it.
  r.add(http::verb::post, "/api/v1/admin/crash/{actor}",
        [&ctx](net::request&& req, const net::path_params& p, net::responder respond) {
          if (!ctx.fault_injection)
            return respond(net::failure(http::status::not_found,
                                        "fault injection is off (admin.fault-injection)", req));
          auto shared = std::make_shared<net::request>(std::move(req));
          auto name = p.at("actor");
          ask_async<bool>(
              *ctx.sys, caf::actor_cast<caf::actor>(ctx.eng->supervisor), std::chrono::seconds{2},
              [shared, respond, name](bool& crashed) {
                if (!crashed)
                  return respond(
                      net::failure(http::status::not_found, "no running actor " + name, *shared));
                respond(
                    net::success(http::status::accepted, json::object{{"crashed", name}}, *shared));
              },
              [shared, respond, sys = ctx.sys](caf::error& e) {
                respond(net::failure(http::status::service_unavailable, sys->render(e), *shared));
              },
              atom::crash::value, name);
        });
  add_user_routes(r, ctx);
  r.add(http::verb::get, "/api/v1/openapi.json",
        [](net::request&& req, const net::path_params&, net::responder respond) {
          respond(net::json_response(http::status::ok, openapi_json(), req.version(),
                                     req.keep_alive()));
        });
  for (auto verb : {http::verb::get, http::verb::put})
    r.add(verb, "/api/v1/admin/delivery",
          [&ctx](net::request&& req, const net::path_params&, net::responder respond) {
            delivery_route(ctx, std::move(req), std::move(respond));
          });
  r.add(http::verb::get, "/metrics",
        [](net::request&& req, const net::path_params&, net::responder respond) {
          net::response res{http::status::ok, req.version()};
          res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
          res.keep_alive(req.keep_alive());
          res.body() = metrics::global().reg.render();
          res.prepare_payload();
          respond(std::move(res));
        });
  r.add(http::verb::get, "/api/v1/admin/clock",
        [&ctx](net::request&& req, const net::path_params&, net::responder respond) {
          respond(net::success(http::status::ok, clock_view(*ctx.eng->clock), req));
        });
  r.add(http::verb::put, "/api/v1/admin/clock",
        [&ctx](net::request&& req, const net::path_params&, net::responder respond) {
          respond(put_clock(ctx, req));
        });
  return r;
}

} // namespace candle
