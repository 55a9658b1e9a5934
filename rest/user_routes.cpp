// The user API (contract.md, "REST API"): users, their greetings, greetings by
// status and by key, redrive; and the provider's delivery events with the
// suppressions they cause ("Delivery events"). Validation is pure (net/user_api); writes commit
// through PERSISTENCE, then tell_owners (actors/owner_news.hpp) tells the
// owning PARTITION without waiting for it (the owner's change feed is the
// durable path) and the response goes. Everything runs in short-lived
// actors (bridge.hpp): the HTTP threads never wait.
#include "actors/owner_news.hpp"
#include "core/ids.hpp"
#include "core/metrics.hpp"
#include "core/partition.hpp"
#include "core/webhook.hpp"
#include "rest/bridge.hpp"
#include "rest/errors.hpp"
#include "rest/event_api.hpp"
#include "rest/routes.hpp"
#include "rest/user_api.hpp"

#include <map>
#include <spdlog/spdlog.h>

namespace candle {

namespace http = net::http;
namespace json = boost::json;

namespace {

using self_ptr = caf::event_based_actor*;
using shared_request = std::shared_ptr<const net::request>;

constexpr std::chrono::seconds db_timeout{15};
constexpr size_t default_limit = 50;
constexpr size_t max_limit = 1000;

const char* const deleted_message = "User deleted successfully";

int64_t now_ms(const node_context& ctx) {
  return ctx.eng->clock->now(std::chrono::steady_clock::now()).time_since_epoch().count();
}

// Reports an error reply of `self`'s request as the response.
auto fail_with(const node_context& ctx, shared_request req, net::responder respond) {
  return
      [sys = ctx.sys, req, respond](caf::error& e) { respond(api::error_response(e, *req, *sys)); };
}

// 415 unless the body is declared JSON; then the parsed object or a 400.
// The request's media type: lower case, without its parameters.
std::string media_type_of(const net::request& req) {
  auto type = req[http::field::content_type];
  std::string t{type.substr(0, type.find(';'))};
  for (auto& c : t)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!t.empty() && t.back() == ' ')
    t.pop_back();
  return t;
}

std::optional<json::object> json_body(const net::request& req, const net::responder& respond) {
  if (media_type_of(req) != "application/json") {
    respond(net::failure(http::status::unsupported_media_type,
                         "Content-Type must be application/json", req));
    return std::nullopt;
  }
  auto parsed = api::parse_object(req.body());
  if (auto* errors = std::get_if<api::field_errors>(&parsed)) {
    respond(net::failure(http::status::bad_request, "invalid request body", req, *errors));
    return std::nullopt;
  }
  return std::move(std::get<json::object>(parsed));
}

std::optional<api::user_input> user_body(const node_context& ctx, const net::request& req,
                                         const net::responder& respond, bool creating) {
  auto body = json_body(req, respond);
  if (!body) return std::nullopt;
  auto in = api::read_user(*body, creating, sys_millis{std::chrono::milliseconds{now_ms(ctx)}});
  if (auto* errors = std::get_if<api::field_errors>(&in)) {
    respond(net::failure(http::status::bad_request, "validation failed", req, *errors));
    return std::nullopt;
  }
  return std::get<api::user_input>(in);
}

void create_user(node_context& ctx, net::request&& request, net::responder respond) {
  auto in = user_body(ctx, request, respond, true);
  if (!in) return;
  user u = api::apply(user{}, *in);
  u.id = make_uuid();
  u.partition = partition_of(u.id, static_cast<uint32_t>(ctx.eng->partitions));
  u.created_at = u.updated_at = now_ms(ctx);
  auto req = std::make_shared<const net::request>(std::move(request));
  run_async(*ctx.sys, [&ctx, req, respond, u](self_ptr self) {
    self->request(ctx.eng->db, db_timeout, atom::create::value, u)
        .then(
            [=, &ctx](user& saved) {
              tell_owners(ctx.eng->node, {{saved}, {}, {}});
              auto res = net::success(http::status::created, api::user_json(saved), *req);
              res.set(http::field::location, "/api/v1/users/" + saved.id);
              respond(std::move(res));
            },
            fail_with(ctx, req, respond));
  });
}

// POST /api/v1/users/bulk: create bodies as a JSON array or NDJSON (one
// object per line), at most max_bulk. Each item is validated like POST
// /api/v1/users; the valid ones are written in one statement and one
// commit; each item's result (201 with the user, 400 with its fields, 409
// for an email in use or repeated in the request) comes back in order.
// Then each owning partition is told once, with all its new users.
constexpr size_t max_bulk = 1000;

json::object item_error(http::status status, std::string_view code, std::string_view message,
                        const api::field_errors& fields = {}) {
  auto doc = json::parse(net::error_body(code, message, "", fields)).as_object();
  json::object e = doc.at("error").as_object();
  return {{"status", static_cast<int>(status)}, {"error", std::move(e)}};
}

// One item of a bulk create's body: an object, or why it is not one.
using bulk_item = std::variant<json::object, api::field_errors>;

// The items of a bulk create's body, a JSON array or NDJSON (an object a
// line), at most max_bulk + 1 of them (one more tells there were too many);
// or why the body is not a list of users.
std::variant<std::vector<bulk_item>, api::field_errors> read_bulk_items(std::string_view body,
                                                                        bool ndjson) {
  std::vector<bulk_item> items;
  if (ndjson) {
    size_t at = 0;
    while (at <= body.size() && items.size() <= max_bulk) {
      auto nl = body.find('\n', at);
      auto line = body.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
      if (!api::trim(line).empty()) items.push_back(api::parse_object(line));
      if (nl == std::string_view::npos) break;
      at = nl + 1;
    }
    return items;
  }
  auto parsed = api::parse_json(body);
  if (auto* errors = std::get_if<api::field_errors>(&parsed)) return std::move(*errors);
  auto& v = std::get<json::value>(parsed);
  if (!v.is_array()) return api::field_errors{{"body", "must be an array of users"}};
  for (auto& x : v.as_array()) {
    if (items.size() > max_bulk) break;
    if (x.is_object())
      items.emplace_back(std::move(x.as_object()));
    else
      items.emplace_back(api::field_errors{{"body", "each item must be an object"}});
  }
  return items;
}

// Validates each item like POST /api/v1/users: a valid one becomes a user
// ready to insert (valid[k] is item where[k]); the others get their error
// in results[i] (also an email twice in the request).
void admit_bulk_items(const node_context& ctx, std::vector<bulk_item>& items, int64_t now,
                      std::vector<json::object>& results, user_list& valid,
                      std::vector<size_t>& where) {
  std::map<std::string, size_t> emails;
  for (size_t i = 0; i < items.size(); ++i) {
    auto& slot = results[i];
    if (auto* errors = std::get_if<api::field_errors>(&items[i])) {
      slot = item_error(http::status::bad_request, "VALIDATION_ERROR", "invalid item", *errors);
      continue;
    }
    auto in = api::read_user(std::get<json::object>(items[i]), true,
                             sys_millis{std::chrono::milliseconds{now}});
    if (auto* errors = std::get_if<api::field_errors>(&in)) {
      slot =
          item_error(http::status::bad_request, "VALIDATION_ERROR", "validation failed", *errors);
      continue;
    }
    user u = api::apply(user{}, std::get<api::user_input>(in));
    if (auto [it, fresh] = emails.emplace(u.email, i); !fresh) {
      slot = item_error(http::status::conflict, "UNIQUE_CONSTRAINT_ERROR",
                        "User with email " + u.email + " is also item " +
                            std::to_string(it->second) + " of this request");
      continue;
    }
    u.id = make_uuid();
    u.partition = partition_of(u.id, static_cast<uint32_t>(ctx.eng->partitions));
    u.created_at = u.updated_at = now;
    valid.push_back(std::move(u));
    where.push_back(i);
  }
}

// The answer: every item's result with its index, and how many were created.
json::object bulk_answer(std::vector<json::object>& results) {
  json::array out;
  int64_t created = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    auto& r = results[i];
    created += r.at("status").as_int64() == 201 ? 1 : 0;
    r["index"] = static_cast<int64_t>(i);
    out.push_back(std::move(r));
  }
  auto failed = static_cast<int64_t>(results.size()) - created;
  return {{"created", created}, {"failed", failed}, {"results", std::move(out)}};
}

void bulk_create(node_context& ctx, net::request&& request, net::responder respond) {
  auto req = std::make_shared<const net::request>(std::move(request));
  auto type = media_type_of(*req);
  bool ndjson = type == "application/x-ndjson" || type == "application/ndjson";
  if (!ndjson && type != "application/json")
    return respond(net::failure(http::status::unsupported_media_type,
                                "Content-Type must be application/json (an array) or "
                                "application/x-ndjson",
                                *req));
  auto read = read_bulk_items(req->body(), ndjson);
  if (auto* errors = std::get_if<api::field_errors>(&read))
    return respond(net::failure(http::status::bad_request, "invalid request body", *req, *errors));
  auto& items = std::get<std::vector<bulk_item>>(read);
  if (items.empty() || items.size() > max_bulk)
    return respond(net::failure(
        http::status::bad_request, "invalid request body", *req,
        {{"body", items.empty() ? "no users given"
                                : "at most " + std::to_string(max_bulk) + " users per request"}}));
  auto results = std::make_shared<std::vector<json::object>>(items.size());
  user_list valid;
  std::vector<size_t> where; // valid[i] is item where[i]
  admit_bulk_items(ctx, items, now_ms(ctx), *results, valid, where);
  auto finish = [req, respond, results] {
    respond(net::success(http::status::ok, bulk_answer(*results), *req));
  };
  if (valid.empty()) return finish();
  run_async(*ctx.sys, [&ctx, req, respond, results, valid = std::move(valid), where,
                       finish](self_ptr self) mutable {
    self->request(ctx.eng->db, db_timeout, atom::create::value, std::move(valid))
        .then(
            [=, &ctx](create_outcomes& outs) {
              owner_news news;
              for (size_t k = 0; k < outs.size() && k < where.size(); ++k) {
                auto& slot = (*results)[where[k]];
                if (!outs[k].created) {
                  slot = item_error(http::status::conflict, "UNIQUE_CONSTRAINT_ERROR",
                                    "User with email " + outs[k].u.email + " already exists");
                  continue;
                }
                slot = {{"status", 201}, {"data", api::user_json(outs[k].u)}};
                news.upserted.push_back(std::move(outs[k].u));
              }
              tell_owners(ctx.eng->node, std::move(news));
              finish();
            },
            fail_with(ctx, req, respond));
  });
}

void get_user(node_context& ctx, net::request&& request, const std::string& id,
              net::responder respond) {
  auto req = std::make_shared<const net::request>(std::move(request));
  run_async(*ctx.sys, [&ctx, req, respond, id](self_ptr self) {
    self->request(ctx.eng->db, db_timeout, atom::get::value, id)
        .then([=](user& u) { respond(net::success(http::status::ok, api::user_json(u), *req)); },
              fail_with(ctx, req, respond));
  });
}

void update_user(node_context& ctx, net::request&& request, const std::string& id,
                 net::responder respond) {
  auto in = user_body(ctx, request, respond, false);
  if (!in) return;
  auto req = std::make_shared<const net::request>(std::move(request));
  run_async(*ctx.sys, [&ctx, req, respond, id, in = *in](self_ptr self) {
    self->request(ctx.eng->db, db_timeout, atom::get::value, id)
        .then(
            [=, &ctx](user& current) {
              auto changed = api::apply(current, in);
              changed.updated_at = std::max(now_ms(ctx), current.updated_at);
              self->request(ctx.eng->db, db_timeout, atom::update::value, changed)
                  .then(
                      [=, &ctx](user& saved) {
                        tell_owners(ctx.eng->node, {{saved}, {}, {}});
                        respond(net::success(http::status::ok, api::user_json(saved), *req));
                      },
                      fail_with(ctx, req, respond));
            },
            fail_with(ctx, req, respond));
  });
}

void delete_user(node_context& ctx, net::request&& request, const std::string& id,
                 net::responder respond) {
  auto req = std::make_shared<const net::request>(std::move(request));
  run_async(*ctx.sys, [&ctx, req, respond, id](self_ptr self) {
    self->request(ctx.eng->db, db_timeout, atom::remove::value, id, now_ms(ctx))
        .then(
            [=, &ctx](user& gone) {
              tell_owners(ctx.eng->node, {{}, {{gone.partition, gone.id}}, {}});
              respond(
                  net::success(http::status::ok, json::object{{"message", deleted_message}}, *req));
            },
            fail_with(ctx, req, respond));
  });
}

// One keyset page: `{"<name>": [...], "nextCursor": key of the last row | null}`;
// a full page has a next cursor, a short one is the last.
template <class Row, class Render, class Key>
json::object page_json(const char* name, const std::vector<Row>& rows, size_t limit, Render render,
                       Key key) {
  json::array items;
  for (const auto& r : rows)
    items.push_back(render(r));
  json::value next = rows.size() == limit ? json::value(key(rows.back())) : nullptr;
  return {{name, std::move(items)}, {"nextCursor", std::move(next)}};
}

using query = std::map<std::string, std::string, std::less<>>;

// A keyset-paginated listing (GET …?limit=&cursor=): `limit` and `cursor`
// read and checked (`cursor_ok`), `more` checks the rest of the query; then
// `fetch(self, q, n, cursor)` asks an actor for a page of rows, rendered as
// `{name: [render(row)…], "nextCursor": key(last row) | null}`.
template <class Rows, class CursorOk, class More, class Fetch, class Render, class Key>
void list_page(node_context& ctx, net::request&& request, net::responder respond, const char* name,
               CursorOk cursor_ok, More more, Fetch fetch, Render render, Key key) {
  auto q = api::parse_query(std::string_view{request.target().data(), request.target().size()});
  std::vector<net::field_error> problems;
  std::string problem;
  auto limit = api::read_limit(q, default_limit, max_limit, problem);
  if (!limit) problems.push_back({"limit", problem});
  more(q, problems);
  std::string cursor;
  if (auto it = q.find("cursor"); it != q.end() && !it->second.empty()) {
    cursor = it->second;
    if (!cursor_ok(cursor))
      problems.push_back({"cursor", "must be a nextCursor from a previous page"});
  }
  if (!problems.empty())
    return respond(net::failure(http::status::bad_request, "invalid query", request, problems));
  auto req = std::make_shared<const net::request>(std::move(request));
  run_async(*ctx.sys, [&ctx, req, respond, q, n = *limit, cursor, name, fetch, render,
                       key](self_ptr self) {
    fetch(self, q, static_cast<uint64_t>(n), cursor)
        .then(
            [=](Rows& rows) {
              respond(net::success(http::status::ok, page_json(name, rows, n, render, key), *req));
            },
            fail_with(ctx, req, respond));
  });
}

auto no_more = [](const query&, std::vector<net::field_error>&) {};

void list_users(node_context& ctx, net::request&& request, net::responder respond) {
  list_page<user_list>(
      ctx, std::move(request), std::move(respond), "users",
      [](const std::string& c) { return is_uuid(c); }, no_more,
      [&ctx](self_ptr self, const query&, uint64_t n, const std::string& cursor) {
        return self->request(ctx.eng->db, db_timeout, atom::list::value, n, cursor);
      },
      api::user_json, [](const user& u) { return u.id; });
}

void user_greetings(node_context& ctx, net::request&& request, const std::string& id,
                    net::responder respond) {
  auto req = std::make_shared<const net::request>(std::move(request));
  run_async(*ctx.sys, [&ctx, req, respond, id](self_ptr self) {
    // 404 for an unknown or deleted user, like GET /users/{id}.
    self->request(ctx.eng->db, db_timeout, atom::get::value, id)
        .then(
            [=, &ctx](user&) {
              self->request(ctx.eng->db, db_timeout, atom::records::value, id)
                  .then(
                      [=](record_list& records) {
                        json::array items;
                        for (const auto& r : records)
                          items.push_back(api::record_json(r));
                        respond(net::success(http::status::ok, std::move(items), *req));
                      },
                      fail_with(ctx, req, respond));
            },
            fail_with(ctx, req, respond));
  });
}

bool known_status(std::string_view s) {
  for (const char* k : {status::claimed, status::sent, status::retrying, status::dead,
                        status::expired, status::cancelled, status::suppressed})
    if (s == k) return true;
  return false;
}

void greetings_by_status(node_context& ctx, net::request&& request, net::responder respond) {
  auto status_of = [](const query& q) {
    auto it = q.find("status");
    return it == q.end() ? std::string{} : it->second;
  };
  list_page<record_list>(
      ctx, std::move(request), std::move(respond), "greetings",
      [](const std::string& c) {
        return c.size() <= 200 && std::none_of(c.begin(), c.end(), [](char x) {
                 return static_cast<unsigned char>(x) < 0x20;
               });
      },
      [status_of](const query& q, std::vector<net::field_error>& problems) {
        auto s = status_of(q);
        if (!s.empty() && !known_status(s))
          problems.push_back(
              {"status",
               "must be one of claimed, sent, retrying, dead, expired, cancelled, suppressed"});
      },
      [&ctx, status_of](self_ptr self, const query& q, uint64_t n, const std::string& cursor) {
        return self->request(ctx.eng->db, db_timeout, atom::by_status::value, status_of(q), n,
                             cursor);
      },
      api::record_json, [](const send_record& r) { return r.key; });
}

void redrive(node_context& ctx, net::request&& request, const std::string& key,
             net::responder respond) {
  auto colon = key.find(':');
  if (colon == std::string::npos || !is_uuid(key.substr(0, colon)) || key.size() > 200)
    return respond(net::failure(http::status::not_found, "no greeting " + key, request));
  auto req = std::make_shared<const net::request>(std::move(request));
  run_async(*ctx.sys, [&ctx, req, respond, key](self_ptr self) {
    self->request(ctx.eng->db, db_timeout, atom::redrive::value, key, now_ms(ctx))
        .then(
            [=, &ctx](occurrence& o) {
              tell_owners(ctx.eng->node, {{}, {}, {o}});
              respond(net::success(http::status::accepted,
                                   json::object{{"key", key}, {"status", status::retrying}}, *req));
            },
            fail_with(ctx, req, respond));
  });
}

// GET /api/v1/greetings/{key}: the record with its event timeline.
void greeting(node_context& ctx, net::request&& request, const std::string& key,
              net::responder respond) {
  if (!api::is_greeting_key(key))
    return respond(net::failure(http::status::bad_request, "invalid greeting key", request,
                                {{"key", "must be a greeting key {userId}:{occasion}:{year}"}}));
  auto req = std::make_shared<const net::request>(std::move(request));
  run_async(*ctx.sys, [&ctx, req, respond, key](self_ptr self) {
    self->request(ctx.eng->events, db_timeout, atom::greeting::value, key)
        .then(
            [=](greeting_detail& d) {
              auto out = api::record_json(d.record);
              json::array events;
              for (const auto& e : d.events)
                events.push_back(api::event_json(e));
              out["events"] = std::move(events);
              respond(net::success(http::status::ok, std::move(out), *req));
            },
            fail_with(ctx, req, respond));
  });
}

// Seconds since the Unix epoch on the system clock: webhook timestamps are
// the sender's real time, whatever the engine's clock says.
int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// POST /api/v1/webhooks/provider (contract.md, "Delivery events"): the
// signature over the raw body first, then the body; 200 only once the
// events are committed.
void provider_events(node_context& ctx, net::request&& request, net::responder respond) {
  auto& m = metrics::global();
  if (ctx.webhook_keys.empty())
    return respond(net::failure(http::status::not_found,
                                "delivery events are off: set webhooks.secret", request));
  auto header = [&](const char* name) {
    auto v = request[name];
    return std::string_view{v.data(), v.size()};
  };
  auto verdict =
      webhook::verify(ctx.webhook_keys, header("webhook-id"), header("webhook-timestamp"),
                      header("webhook-signature"), request.body(), unix_now());
  if (verdict != webhook::verdict::ok) {
    m.webhook_rejected.add({webhook::to_string(verdict)});
    spdlog::info("event=webhook.rejected reason={}", webhook::to_string(verdict));
    const char* why = verdict == webhook::verdict::missing
                          ? "webhook-id, webhook-timestamp and webhook-signature are required"
                      : verdict == webhook::verdict::malformed
                          ? "webhook-timestamp must be Unix seconds"
                      : verdict == webhook::verdict::stale
                          ? "webhook-timestamp is more than 5 minutes away from now"
                          : "no webhook-signature matches";
    return respond(net::failure(http::status::unauthorized, why, request));
  }
  auto parsed = api::read_events(request.body());
  if (auto* errors = std::get_if<api::field_errors>(&parsed)) {
    m.webhook_rejected.add({"invalid"});
    return respond(
        net::failure(http::status::bad_request, "invalid delivery events", request, *errors));
  }
  auto events = std::move(std::get<std::vector<delivery_event>>(parsed));
  auto n = events.size();
  auto req = std::make_shared<const net::request>(std::move(request));
  run_async(*ctx.sys, [&ctx, req, respond, n, events = std::move(events)](self_ptr self) {
    self->request(ctx.eng->events, db_timeout, atom::ingest::value, events)
        .then(
            [=](ingest_report& r) {
              respond(net::success(http::status::ok,
                                   json::object{{"received", n},
                                                {"stored", r.stored},
                                                {"duplicates", r.duplicates},
                                                {"unknown", r.unknown}},
                                   *req));
            },
            [=, &ctx](caf::error& e) {
              metrics::global().webhook_rejected.add({"unavailable"});
              respond(api::error_response(e, *req, *ctx.sys));
            });
  });
}

// GET /api/v1/suppressions?limit=&cursor= (admin): by email.
void list_suppressions(node_context& ctx, net::request&& request, net::responder respond) {
  list_page<suppression_list>(
      ctx, std::move(request), std::move(respond), "suppressions",
      [](const std::string& c) { return api::check_email(c).empty(); }, no_more,
      [&ctx](self_ptr self, const query&, uint64_t n, const std::string& cursor) {
        return self->request(ctx.eng->events, db_timeout, atom::suppress::value, n, cursor);
      },
      api::suppression_json, [](const suppression& s) { return s.email; });
}

// DELETE /api/v1/suppressions/{email} (admin): the address is sent to again.
void lift_suppression(node_context& ctx, net::request&& request, const std::string& email,
                      net::responder respond) {
  if (auto problem = api::check_email(email); !problem.empty())
    return respond(
        net::failure(http::status::bad_request, "invalid email", request, {{"email", problem}}));
  auto req = std::make_shared<const net::request>(std::move(request));
  run_async(*ctx.sys, [&ctx, req, respond, email](self_ptr self) {
    self->request(ctx.eng->events, db_timeout, atom::unsuppress::value, email)
        .then(
            [=](bool was) {
              if (!was)
                return respond(
                    net::failure(http::status::not_found, email + " is not suppressed", *req));
              spdlog::info("event=suppression.lifted");
              respond(net::success(http::status::ok,
                                   json::object{{"email", email}, {"suppressed", false}}, *req));
            },
            fail_with(ctx, req, respond));
  });
}

} // namespace

// A route on /users/{id}: a malformed id is 400 naming `id`, as the
// TypeScript service answers (contract.md); a well-formed unknown one is 404.
template <class F> auto with_id(F f) {
  return [f](net::request&& req, const net::path_params& p, net::responder respond) {
    const auto& id = p.at("id");
    if (!is_uuid(id))
      return respond(net::failure(http::status::bad_request, "invalid user id", req,
                                  {{"id", "must be a UUID"}}));
    f(std::move(req), id, std::move(respond));
  };
}

void add_user_routes(net::router& r, node_context& ctx) {
  using net::path_params;
  auto create = [&ctx](net::request&& req, const path_params&, net::responder respond) {
    create_user(ctx, std::move(req), std::move(respond));
  };
  auto update = with_id([&ctx](net::request&& req, const std::string& id, net::responder respond) {
    update_user(ctx, std::move(req), id, std::move(respond));
  });
  auto remove = with_id([&ctx](net::request&& req, const std::string& id, net::responder respond) {
    delete_user(ctx, std::move(req), id, std::move(respond));
  });
  r.add(http::verb::post, "/api/v1/users", create);
  r.add(http::verb::post, "/api/v1/users/bulk",
        [&ctx](net::request&& req, const path_params&, net::responder respond) {
          bulk_create(ctx, std::move(req), std::move(respond));
        });
  r.add(http::verb::get, "/api/v1/users",
        [&ctx](net::request&& req, const path_params&, net::responder respond) {
          list_users(ctx, std::move(req), std::move(respond));
        });
  r.add(http::verb::get, "/api/v1/users/{id}",
        with_id([&ctx](net::request&& req, const std::string& id, net::responder respond) {
          get_user(ctx, std::move(req), id, std::move(respond));
        }));
  r.add(http::verb::put, "/api/v1/users/{id}", update);
  r.add(http::verb::delete_, "/api/v1/users/{id}", remove);
  r.add(http::verb::get, "/api/v1/users/{id}/greetings",
        with_id([&ctx](net::request&& req, const std::string& id, net::responder respond) {
          user_greetings(ctx, std::move(req), id, std::move(respond));
        }));
  r.add(http::verb::get, "/api/v1/greetings",
        [&ctx](net::request&& req, const path_params&, net::responder respond) {
          greetings_by_status(ctx, std::move(req), std::move(respond));
        });
  r.add(http::verb::post, "/api/v1/greetings/{key}/redrive",
        [&ctx](net::request&& req, const path_params& p, net::responder respond) {
          redrive(ctx, std::move(req), p.at("key"), std::move(respond));
        });
  r.add(http::verb::get, "/api/v1/greetings/{key}",
        [&ctx](net::request&& req, const path_params& p, net::responder respond) {
          greeting(ctx, std::move(req), p.at("key"), std::move(respond));
        });
  r.add(http::verb::post, "/api/v1/webhooks/provider",
        [&ctx](net::request&& req, const path_params&, net::responder respond) {
          provider_events(ctx, std::move(req), std::move(respond));
        });
  r.add(http::verb::get, "/api/v1/suppressions",
        admin_only(ctx, [&ctx](net::request&& req, const path_params&, net::responder respond) {
          list_suppressions(ctx, std::move(req), std::move(respond));
        }));
  r.add(http::verb::delete_, "/api/v1/suppressions/{email}",
        admin_only(ctx, [&ctx](net::request&& req, const path_params& p, net::responder respond) {
          lift_suppression(ctx, std::move(req), p.at("email"), std::move(respond));
        }));
  // The original assignment's paths.
  r.add(http::verb::post, "/user", create);
  r.add(http::verb::put, "/user/{id}", update);
  r.add(http::verb::delete_, "/user/{id}", remove);
}

} // namespace candle
