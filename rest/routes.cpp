#include "rest/routes.hpp"

#include "console/document.hpp"
#include "core/cluster_plan.hpp"
#include "core/metrics.hpp"
#include "core/process_metrics.hpp"
#include "core/security.hpp"
#include "rest/bridge.hpp"
#include "rest/dashboard.hpp"
#include "rest/openapi.hpp"
#include "rest/user_api.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

namespace candle {

namespace http = net::http;
namespace json = boost::json;

namespace {

json::object clock_view(const engine_clock& c) {
  return {{"now", format_instant(c.now(std::chrono::steady_clock::now()))},
          {"mode", c.mode()},
          {"speed", api::number(c.speed())}};
}

// PUT /api/v1/admin/clock: {"now": ISO} and/or {"speed": x}. The clock is
// the cluster's: written to the database (a joining node adopts it, every
// node hears the notification) and pushed to every connected node before
// the answer.
void put_clock(node_context& ctx, net::request&& request, net::responder respond) {
  auto shared = std::make_shared<net::request>(std::move(request));
  const auto& req = *shared;
  auto& clock = *ctx.eng->clock;
  if (!clock.is_simulated())
    return respond(net::failure(http::status::conflict,
                                "the system clock cannot be changed; run with clock.mode=simulated",
                                req));
  json::error_code ec;
  auto parsed = json::parse(req.body(), ec);
  if (ec || !parsed.is_object())
    return respond(net::failure(http::status::bad_request, "the body must be a JSON object", req,
                                {{"body", ec ? ec.message() : "not an object"}}));
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
    return respond(net::failure(http::status::bad_request, "invalid clock change", req, problems));
  // Validated on a copy: the change itself is the cluster's.
  engine_clock wanted{clock};
  auto real_now = std::chrono::steady_clock::now();
  auto r = wanted.set(now, speed, real_now);
  if (!r)
    return respond(net::failure(http::status::bad_request, "invalid clock change", req,
                                {{now ? "now" : "speed", r.err().message}}));
  if (!ctx.eng->member)
    return respond(net::failure(http::status::service_unavailable, "not joined yet", req));
  auto sim_ms = wanted.now(real_now).time_since_epoch().count();
  auto on_error = [shared, respond, sys = ctx.sys](caf::error& e) {
    respond(net::failure(http::status::service_unavailable, sys->render(e), *shared));
  };
  run_async(*ctx.sys, [&ctx, shared, respond, on_error, sim_ms,
                       sp = wanted.speed()](caf::event_based_actor* self) {
    self->request(ctx.eng->member, std::chrono::seconds{5}, atom::clock::value, sim_ms, sp)
        .then(
            [=, &ctx](clock_anchor& a) {
              // Every partition (here and at every connected node) re-arms.
              self->request(ctx.eng->node, std::chrono::seconds{5}, atom::clock::value, a.sim_ms,
                            a.at_ms, a.speed, true)
                  .then(
                      [=, &ctx](bool) {
                        respond(
                            net::success(http::status::ok, clock_view(*ctx.eng->clock), *shared));
                      },
                      on_error);
            },
            on_error);
  });
}

json::object delivery_view(const delivery_status& d) {
  json::value until =
      d.paused_until == 0
          ? json::value(nullptr)
          : json::value(format_instant(sys_millis{std::chrono::milliseconds{d.paused_until}}));
  return {{"paused", d.paused},
          {"pausedUntil", until},
          {"pausedBy", d.paused_by.empty() ? json::value(nullptr) : json::value(d.paused_by)},
          {"breaker", d.breaker},
          {"inFlight", d.in_flight},
          {"maxInFlight", d.max_in_flight},
          {"concurrencyLimit", d.limit},
          {"greetingsInFlight", d.greetings_in_flight},
          {"throttledSeconds", std::round(static_cast<double>(d.throttled_ms) / 100) / 10},
          {"waiting", d.waiting},
          {"probes", d.probes},
          {"sendRate",
           d.send_rate > 0 ? json::value(std::round(d.send_rate * 10) / 10) : json::value(nullptr)},
          {"drainSeconds", std::round(d.drain_s * 10) / 10}};
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
  // The kill switch is the cluster's: written to the database (a restarted
  // node starts with it), applied here and at every connected node before
  // the answer, the rest on the database's notification.
  bool paused = parsed.as_object().at("paused").as_bool();
  std::string by = "rest " + std::string{shared->target()};
  run_async(*ctx.sys, [&ctx, paused, by, on_status, on_error](caf::event_based_actor* self) {
    self->request(ctx.eng->node, std::chrono::seconds{5}, atom::pause::value, paused, int64_t{0},
                  by)
        .then(
            [=, &ctx](pause_state&) {
              self->request(ctx.eng->delivery, std::chrono::seconds{2}, atom::status::value)
                  .then(on_status, on_error);
            },
            on_error);
  });
}

// GET /readyz: 200 once the database answers, every partition is owned by a
// live node and this node holds its share.
void readyz(node_context& ctx, net::request&& req, net::responder respond) {
  auto shared = std::make_shared<net::request>(std::move(req));
  ask_async<bool>(
      *ctx.sys, ctx.eng->db, std::chrono::seconds{2},
      [shared, respond, &ctx](bool&) {
        // Ready when every partition is owned by some live node.
        ask_async<cluster_status>(
            *ctx.sys, ctx.eng->node, std::chrono::seconds{2},
            [shared, respond, &ctx](cluster_status& c) {
              auto p = static_cast<size_t>(ctx.eng->partitions);
              auto owners = live_owners(c.view, p);
              int64_t owned = 0, here = 0;
              for (const auto& o : owners) {
                owned += o.empty() ? 0 : 1;
                here += o == c.self ? 1 : 0;
              }
              if (owned < ctx.eng->partitions)
                return respond(net::failure(http::status::service_unavailable,
                                            "not ready: " + std::to_string(owned) + " of " +
                                                std::to_string(ctx.eng->partitions) +
                                                " partitions owned",
                                            *shared));
              // A node that has just joined is ready once it holds its
              // share: then a cluster whose nodes all answer 200 is balanced.
              std::vector<std::string> live;
              for (const auto& m : live_members(c.view))
                live.push_back(m.id);
              auto share = static_cast<int64_t>(fair_share(live, p, c.self));
              if (here < share)
                return respond(net::failure(http::status::service_unavailable,
                                            "not ready: joining, " + std::to_string(here) +
                                                " of its " + std::to_string(share) +
                                                " partitions here",
                                            *shared));
              respond(net::success(http::status::ok,
                                   json::object{{"status", "ready"},
                                                {"database", "ok"},
                                                {"partitions", ctx.eng->partitions},
                                                {"partitionsOwned", owned},
                                                {"partitionsHere", here}},
                                   *shared));
            },
            [shared, respond, sys = ctx.sys](caf::error& e) {
              respond(net::failure(http::status::service_unavailable,
                                   "not ready: " + sys->render(e), *shared));
            },
            atom::status::value);
      },
      [shared, respond, sys = ctx.sys](caf::error& e) {
        respond(net::failure(http::status::service_unavailable,
                             "not ready: database: " + sys->render(e), *shared));
      },
      atom::ping::value);
}

// POST /api/v1/admin/crash/{actor} (admin.fault-injection): kills
// partition-N's actor as a bug would; the NODE actor starts it again on its
// next round (the lease is still this node's).
void crash_route(node_context& ctx, net::request&& req, const std::string& name,
                 net::responder respond) {
  if (!ctx.fault_injection)
    return respond(net::failure(http::status::not_found,
                                "fault injection is off (admin.fault-injection)", req));
  auto shared = std::make_shared<net::request>(std::move(req));
  int32_t partition = -1;
  if (name.rfind("partition-", 0) == 0 && name.size() > 10 && name.size() < 20 &&
      std::all_of(name.begin() + 10, name.end(), [](char c) { return std::isdigit(c); }))
    partition = std::stoi(name.substr(10));
  if (partition < 0)
    return respond(net::failure(http::status::not_found, "no running actor " + name, *shared));
  ask_async<bool>(
      *ctx.sys, ctx.eng->node, std::chrono::seconds{2},
      [shared, respond, name](bool& crashed) {
        if (!crashed)
          return respond(
              net::failure(http::status::not_found, "no running actor " + name, *shared));
        respond(net::success(http::status::accepted, json::object{{"crashed", name}}, *shared));
      },
      [shared, respond, sys = ctx.sys](caf::error& e) {
        respond(net::failure(http::status::service_unavailable, sys->render(e), *shared));
      },
      atom::crash::value, partition);
}

// GET /metrics: Prometheus' text format.
void metrics_route(net::request&& req, net::responder respond) {
  net::response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.keep_alive(req.keep_alive());
  res.body() = metrics::global().reg.render() + metrics::render(metrics::sample_self());
  res.prepare_payload();
  respond(std::move(res));
}

// GET /api/v1/cluster: the nodes and who owns each partition.
void cluster_route(node_context& ctx, net::request&& req, net::responder respond) {
  auto shared = std::make_shared<net::request>(std::move(req));
  ask_async<cluster_status>(
      *ctx.sys, ctx.eng->node, std::chrono::seconds{2},
      [shared, respond, &ctx](cluster_status& c) {
        respond(
            net::success(http::status::ok, console::cluster_json(c, ctx.eng->partitions), *shared));
      },
      [shared, respond, sys = ctx.sys](caf::error& e) {
        respond(net::failure(http::status::service_unavailable, sys->render(e), *shared));
      },
      atom::status::value);
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
          readyz(ctx, std::move(req), std::move(respond));
        });
  r.add(http::verb::post, "/api/v1/admin/crash/{actor}",
        admin_only(ctx,
                   [&ctx](net::request&& req, const net::path_params& p, net::responder respond) {
                     crash_route(ctx, std::move(req), p.at("actor"), std::move(respond));
                   }));
  add_user_routes(r, ctx);
  add_dashboard_routes(r, ctx);
  r.add(http::verb::get, "/api/v1/openapi.json",
        [](net::request&& req, const net::path_params&, net::responder respond) {
          respond(net::json_response(http::status::ok, openapi_json(), req.version(),
                                     req.keep_alive()));
        });
  for (auto verb : {http::verb::get, http::verb::put})
    r.add(verb, "/api/v1/admin/delivery",
          admin_only(ctx,
                     [&ctx](net::request&& req, const net::path_params&, net::responder respond) {
                       delivery_route(ctx, std::move(req), std::move(respond));
                     }));
  r.add(http::verb::get, "/metrics",
        [](net::request&& req, const net::path_params&, net::responder respond) {
          metrics_route(std::move(req), std::move(respond));
        });
  r.add(
      http::verb::get, "/api/v1/admin/clock",
      admin_only(ctx, [&ctx](net::request&& req, const net::path_params&, net::responder respond) {
        respond(net::success(http::status::ok, clock_view(*ctx.eng->clock), req));
      }));
  r.add(
      http::verb::put, "/api/v1/admin/clock",
      admin_only(ctx, [&ctx](net::request&& req, const net::path_params&, net::responder respond) {
        put_clock(ctx, std::move(req), std::move(respond));
      }));
  r.add(http::verb::get, "/api/v1/cluster",
        [&ctx](net::request&& req, const net::path_params&, net::responder respond) {
          cluster_route(ctx, std::move(req), std::move(respond));
        });
  return r;
}

} // namespace candle
