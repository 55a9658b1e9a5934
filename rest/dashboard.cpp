#include "rest/dashboard.hpp"

#include "actors/actors.hpp"
#include "core/ids.hpp"
#include "net/envelope.hpp"
#include "rest/bridge.hpp"
#include "rest/dashboard_assets.hpp"
#include "rest/user_api.hpp"

#include <cmath>

namespace candle {

namespace http = net::http;
namespace json = boost::json;

namespace {

constexpr std::chrono::seconds db_timeout{15};
constexpr int forecast_hours = 48;
constexpr double on_time_s = 60; // "sent within a minute of 09:00"

using api::number;

void asset(net::router& r, const char* path, const char* type, const char* (*body)()) {
  r.add(http::verb::get, path,
        [type, body](net::request&& req, const net::path_params&, net::responder respond) {
          net::response res{http::status::ok, req.version()};
          res.set(http::field::content_type, type);
          res.set(http::field::cache_control, "no-cache");
          res.set("X-Content-Type-Options", "nosniff");
          res.set("Content-Security-Policy",
                  "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
          res.keep_alive(req.keep_alive());
          res.body() = body();
          res.prepare_payload();
          respond(std::move(res));
        });
}

net::response unavailable(caf::actor_system& sys, const caf::error& e, const net::request& req) {
  return net::failure(http::status::service_unavailable, sys.render(e), req);
}

void dashboard(node_context& ctx, net::request&& request, net::responder respond) {
  auto req = std::make_shared<const net::request>(std::move(request));
  auto now = ctx.eng->clock->now(std::chrono::steady_clock::now());
  auto now_s = std::chrono::floor<std::chrono::seconds>(now);
  auto days = forecast_days(now_s, forecast_hours);
  std::vector<int32_t> mds(days.begin(), days.end());
  run_async(*ctx.sys, [&ctx, req, respond, now, now_s, mds](caf::event_based_actor* self) {
    self->request(ctx.eng->db, db_timeout, atom::dashboard::value, mds)
        .then(
            [&ctx, req, respond, now, now_s](dashboard_rows& rows) {
              auto f = forecast(rows.groups, ctx.eng->rules, now_s, forecast_hours);
              auto& m = metrics::global();
              std::vector<std::pair<std::string, double>> outcomes;
              for (const char* o : {"claimed", "sent", "retried", "dead", "expired"})
                outcomes.emplace_back(o, m.greetings.sum(1, o));
              respond(net::success(http::status::ok,
                                   dashboard_json(now, rows, f, m.lateness.totals(), outcomes),
                                   *req));
            },
            [&ctx, req, respond](caf::error& e) { respond(unavailable(*ctx.sys, e, *req)); });
  });
}

// q: a user id, an email, or a greeting key ({user id}:{occasion}:{year}).
void search(node_context& ctx, net::request&& request, net::responder respond) {
  auto req = std::make_shared<const net::request>(std::move(request));
  auto params = api::parse_query(req->target());
  auto it = params.find("q");
  std::string q = it == params.end() ? "" : it->second;
  auto who = q.substr(0, q.find(':'));
  if (q.empty() || q.size() > 320 || (!is_uuid(who) && q.find('@') == std::string::npos))
    return respond(net::failure(http::status::bad_request, "VALIDATION_ERROR",
                                "q: a user id, an email or a greeting key", *req));
  run_async(*ctx.sys, [&ctx, req, respond, who](caf::event_based_actor* self) {
    self->request(ctx.eng->db, db_timeout, atom::lookup::value, who)
        .then(
            [&ctx, self, req, respond](user& u) {
              self->request(ctx.eng->db, db_timeout, atom::records::value, u.id)
                  .then(
                      [req, respond, u](record_list& records) {
                        json::array items;
                        for (const auto& r : records)
                          items.push_back(api::record_json(r));
                        respond(net::success(
                            http::status::ok,
                            json::object{{"user", api::user_json(u)}, {"greetings", items}}, *req));
                      },
                      [&ctx, req, respond](caf::error& e) {
                        respond(unavailable(*ctx.sys, e, *req));
                      });
            },
            [&ctx, req, respond](caf::error& e) {
              if (e.category() == caf::atom("candle") &&
                  static_cast<errc>(e.code()) == errc::not_found)
                return respond(net::success(
                    http::status::ok, json::object{{"user", nullptr}, {"greetings", json::array{}}},
                    *req));
              respond(unavailable(*ctx.sys, e, *req));
            });
  });
}

} // namespace

json::object dashboard_json(sys_millis now, const dashboard_rows& rows, const forecast_report& f,
                            const metrics::family::histogram_totals& lateness,
                            const std::vector<std::pair<std::string, double>>& outcomes) {
  json::object states;
  for (const char* s : {status::claimed, status::retrying, status::dead, status::expired,
                        status::suppressed, status::cancelled})
    states[s] = 0;
  for (size_t i = 0; i < rows.states.size() && i < rows.counts.size(); ++i)
    states[rows.states[i]] = rows.counts[i];
  json::object node;
  for (const auto& [o, v] : outcomes)
    node[o] = number(v);
  json::array bounds, counts;
  uint64_t on_time = 0;
  for (size_t i = 0; i < lateness.counts.size(); ++i) {
    if (i < lateness.bounds.size()) {
      bounds.push_back(number(lateness.bounds[i]));
      if (lateness.bounds[i] <= on_time_s) on_time += lateness.counts[i];
    }
    counts.push_back(lateness.counts[i]);
  }
  json::value within =
      lateness.count == 0
          ? json::value(nullptr)
          : json::value(static_cast<double>(on_time) / static_cast<double>(lateness.count));
  json::array hours;
  for (auto n : f.per_hour)
    hours.push_back(n);
  json::value peak = nullptr;
  if (f.peak_count > 0)
    peak = json::object{{"at", format_instant(f.peak_at)},
                        {"count", f.peak_count},
                        {"zone", f.peak_zone},
                        {"zoneCount", f.peak_zone_count}};
  return {{"now", format_instant(now)},
          {"greetings", std::move(states)},
          {"thisNode", std::move(node)},
          {"lateness", json::object{{"bounds", std::move(bounds)},
                                    {"counts", std::move(counts)},
                                    {"count", lateness.count},
                                    {"withinMinute", within}}},
          {"forecast", json::object{{"from", format_instant(f.from)},
                                    {"hours", std::move(hours)},
                                    {"total", f.total},
                                    {"peak", std::move(peak)}}}};
}

void add_dashboard_routes(net::router& r, node_context& ctx) {
  asset(r, "/dashboard", "text/html; charset=utf-8", dashboard_html);
  asset(r, "/dashboard/app.js", "text/javascript; charset=utf-8", dashboard_js);
  asset(r, "/dashboard/style.css", "text/css; charset=utf-8", dashboard_css);
  r.add(http::verb::get, "/api/v1/dashboard",
        [&ctx](net::request&& req, const net::path_params&, net::responder respond) {
          dashboard(ctx, std::move(req), std::move(respond));
        });
  r.add(http::verb::get, "/api/v1/dashboard/search",
        [&ctx](net::request&& req, const net::path_params&, net::responder respond) {
          search(ctx, std::move(req), std::move(respond));
        });
}

} // namespace candle
