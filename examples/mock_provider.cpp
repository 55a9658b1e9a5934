// candle-mock-provider: a local email provider for demos and tests.
// POST /send-email as in contract.md ("Email provider"); remembers every
// accepted request with its Idempotency-Key; injects failures by flags and at
// run time (PUT /control). See usage below.
#include "core/time.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <unordered_map>

using namespace candle;
namespace http = net::http;
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

// Failure injection; every field can be changed at run time.
struct faults {
  double error_rate = 0; ///< fraction answered with error_status
  unsigned error_status = 500;
  double timeout_rate = 0;   ///< fraction never answered in time (held for hang_ms)
  int64_t hang_ms = 60'000;  ///< how long a "timed out" request is held, then dropped
  int64_t latency_min = 0;   ///< every answer is delayed by a uniform draw
  int64_t latency_max = 0;   ///< from [latency_min, latency_max] ms
  bool down = false;         ///< answer 503 to every send
  std::string reject_suffix; ///< emails ending in it get a permanent 400
};

struct options {
  std::string host = "127.0.0.1";
  uint16_t port = 8025;
  faults f;
};

const char* usage =
    R"(usage: candle-mock-provider [options]
A local email provider for Candle's demos and tests (contract.md, "Email provider").

Options (--name=value or --name value):
  --host ADDR            address to listen on (default 127.0.0.1)
  --port N               port (default 8025; 0 = pick a free one and print it)
  --error-rate R         fraction of sends answered with --error-status (default 0)
  --error-status N       HTTP status of injected errors (default 500)
  --timeout-rate R       fraction of sends never answered in time (default 0)
  --hang-ms N            how long such a send is held before the connection is closed (default 60000)
  --latency MIN[-MAX]    delay every answer by MIN..MAX ms, uniformly (default 0)
  --down                 answer every send with 503 until told otherwise
  --reject-suffix S      emails ending in S get 400 "mailbox unavailable" (permanent)
  --help                 this text

Endpoints:
  POST   /send-email   {"email","message"} with an Idempotency-Key header -> 200 {"status":"sent"}
  GET    /stats        {"total","uniqueKeys","duplicates","failed","timedOut","inFlight","maxInFlight",
                       "worstSecond": the most requests that arrived within any 1 s}
  GET    /requests     every accepted send: key, email, message, agent (User-Agent), at (UTC)
  DELETE /requests     forget every send and reset the counters
  GET    /control      the failure injection in force
  PUT    /control      change it: {"errorRate","errorStatus","timeoutRate","hangMs",
                       "latencyMs":[min,max],"down","rejectSuffix"} (any subset)
A repeated Idempotency-Key is answered 200 again and counted in "duplicates".
)";

bool parse_rate(const std::string& v, double& out) {
  char* end = nullptr;
  out = std::strtod(v.c_str(), &end);
  return !v.empty() && !*end && out >= 0 && out <= 1;
}

bool parse_int(const std::string& v, int64_t lo, int64_t hi, int64_t& out) {
  char* end = nullptr;
  out = std::strtoll(v.c_str(), &end, 10);
  return !v.empty() && !*end && out >= lo && out <= hi;
}

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    auto key = a.substr(0, eq);
    std::string val;
    auto value = [&]() -> const std::string& {
      if (eq != std::string::npos)
        val = a.substr(eq + 1);
      else if (i + 1 < argc)
        val = argv[++i];
      return val;
    };
    int64_t n = 0;
    if (key == "--help" || key == "-h") {
      std::cout << usage;
      std::exit(0);
    } else if (key == "--down") {
      o.f.down = true;
    } else if (key == "--host") {
      o.host = value();
      if (o.host.empty()) return false;
    } else if (key == "--port") {
      if (!parse_int(value(), 0, 65535, n)) return false;
      o.port = static_cast<uint16_t>(n);
    } else if (key == "--error-rate") {
      if (!parse_rate(value(), o.f.error_rate)) return false;
    } else if (key == "--error-status") {
      if (!parse_int(value(), 100, 599, n)) return false;
      o.f.error_status = static_cast<unsigned>(n);
    } else if (key == "--timeout-rate") {
      if (!parse_rate(value(), o.f.timeout_rate)) return false;
    } else if (key == "--hang-ms") {
      if (!parse_int(value(), 0, 3'600'000, o.f.hang_ms)) return false;
    } else if (key == "--latency") {
      const auto& v = value();
      auto dash = v.find('-');
      if (!parse_int(v.substr(0, dash), 0, 600'000, o.f.latency_min)) return false;
      o.f.latency_max = o.f.latency_min;
      if (dash != std::string::npos &&
          !parse_int(v.substr(dash + 1), o.f.latency_min, 600'000, o.f.latency_max))
        return false;
    } else if (key == "--reject-suffix") {
      o.f.reject_suffix = value();
    } else {
      return false;
    }
  }
  return true;
}

struct book {
  std::mutex mtx;
  faults f;
  std::unordered_map<std::string, int> per_key;
  uint64_t duplicates = 0; // kept as they happen: /stats must not walk per_key under the lock
  json::array requests;
  uint64_t total = 0, failed = 0, timed_out = 0;
  int64_t in_flight = 0, max_in_flight = 0;
  // Arrivals at /send-email in the last second, and the most any second
  // (a sliding window: any 1 s interval, not calendar seconds) has held.
  std::deque<std::chrono::steady_clock::time_point> last_second;
  uint64_t worst_second = 0;
  std::mt19937_64 rng{std::random_device{}()};

  void arrived() {
    auto now = std::chrono::steady_clock::now();
    while (!last_second.empty() && now - last_second.front() >= std::chrono::seconds{1})
      last_second.pop_front();
    last_second.push_back(now);
    worst_second = std::max<uint64_t>(worst_second, last_second.size());
  }
};

net::response plain(const net::request& req, http::status st, json::value body) {
  return net::json_response(st, json::serialize(body), req.version(), req.keep_alive());
}

json::object control_view(const faults& f) {
  return {{"errorRate", f.error_rate},
          {"errorStatus", f.error_status},
          {"timeoutRate", f.timeout_rate},
          {"hangMs", f.hang_ms},
          {"latencyMs", json::array{f.latency_min, f.latency_max}},
          {"down", f.down},
          {"rejectSuffix", f.reject_suffix}};
}

// Applies a PUT /control body to a copy of `f`; "" or the problem.
std::string apply_control(const json::object& body, faults& f) {
  auto rate = [](const json::value& v, double& out) {
    if (!v.is_number()) return false;
    out = v.to_number<double>();
    return out >= 0 && out <= 1;
  };
  auto integer = [](const json::value& v, int64_t lo, int64_t hi, int64_t& out) {
    if (!v.is_int64() && !v.is_uint64()) return false;
    out = v.to_number<int64_t>();
    return out >= lo && out <= hi;
  };
  int64_t n = 0;
  for (const auto& [k, v] : body) {
    if (k == "errorRate") {
      if (!rate(v, f.error_rate)) return "errorRate must be a number in [0, 1]";
    } else if (k == "timeoutRate") {
      if (!rate(v, f.timeout_rate)) return "timeoutRate must be a number in [0, 1]";
    } else if (k == "errorStatus") {
      if (!integer(v, 100, 599, n)) return "errorStatus must be an HTTP status";
      f.error_status = static_cast<unsigned>(n);
    } else if (k == "hangMs") {
      if (!integer(v, 0, 3'600'000, f.hang_ms)) return "hangMs must be 0..3600000";
    } else if (k == "latencyMs") {
      if (!v.is_array() || v.as_array().size() != 2 ||
          !integer(v.as_array()[0], 0, 600'000, f.latency_min) ||
          !integer(v.as_array()[1], f.latency_min, 600'000, f.latency_max))
        return "latencyMs must be [min, max] with 0 <= min <= max <= 600000";
    } else if (k == "down") {
      if (!v.is_bool()) return "down must be true or false";
      f.down = v.as_bool();
    } else if (k == "rejectSuffix") {
      if (!v.is_string()) return "rejectSuffix must be a string";
      f.reject_suffix = std::string{v.as_string()};
    } else {
      return "unknown field " + std::string{k};
    }
  }
  return {};
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o)) {
    std::cerr << "candle-mock-provider: invalid arguments\n" << usage;
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  book b;
  b.f = o.f;
  // Delayed answers (latency, hangs) wait on timers of their own thread.
  auto timers = std::make_unique<asio::io_context>();
  auto guard = asio::make_work_guard(*timers);
  std::thread timer_thread{[&] { timers->run(); }};
  auto later = [&](int64_t ms, std::function<void()> fn) {
    if (ms <= 0) return fn();
    auto t = std::make_shared<asio::steady_timer>(*timers, std::chrono::milliseconds{ms});
    t->async_wait([t, fn = std::move(fn)](const boost::system::error_code&) { fn(); });
  };
  net::router r;
  r.add(http::verb::post, "/send-email",
        [&](net::request&& req, const net::path_params&, net::responder respond) {
          auto key = std::string{req["Idempotency-Key"]};
          json::error_code ec;
          auto body = json::parse(req.body(), ec);
          if (key.empty() || ec || !body.is_object() || !body.as_object().contains("email") ||
              !body.as_object().contains("message") || !body.as_object().at("email").is_string())
            return respond(plain(req, http::status::bad_request,
                                 {{"error", "need Idempotency-Key and {email, message}"}}));
          std::unique_lock<std::mutex> g{b.mtx};
          b.max_in_flight = std::max(b.max_in_flight, ++b.in_flight);
          b.arrived();
          std::uniform_real_distribution<double> u{0, 1};
          std::uniform_int_distribution<int64_t> lat{b.f.latency_min,
                                                     std::max(b.f.latency_min, b.f.latency_max)};
          auto delay = lat(b.rng);
          auto shared = std::make_shared<net::request>(std::move(req));
          auto finish = [&b, respond, shared](http::status st, json::value v) {
            {
              std::lock_guard<std::mutex> g2{b.mtx};
              --b.in_flight;
            }
            respond(plain(*shared, st, std::move(v)));
          };
          std::string email{body.as_object().at("email").as_string()};
          if (b.f.down) {
            ++b.failed;
            g.unlock();
            return later(delay, [finish] {
              finish(http::status::service_unavailable, {{"error", "provider down"}});
            });
          }
          if (b.f.timeout_rate > 0 && u(b.rng) < b.f.timeout_rate) {
            ++b.timed_out;
            auto hang = b.f.hang_ms;
            g.unlock();
            // Held past any sane client timeout; then answered 504, which
            // the client has long stopped waiting for.
            return later(hang, [finish] {
              finish(http::status::gateway_timeout, {{"error", "injected timeout"}});
            });
          }
          if (b.f.error_rate > 0 && u(b.rng) < b.f.error_rate) {
            ++b.failed;
            auto st = static_cast<http::status>(b.f.error_status);
            g.unlock();
            return later(delay, [finish, st] { finish(st, {{"error", "injected"}}); });
          }
          const auto& sfx = b.f.reject_suffix;
          if (!sfx.empty() && email.size() >= sfx.size() &&
              email.compare(email.size() - sfx.size(), sfx.size(), sfx) == 0) {
            ++b.failed;
            g.unlock();
            return later(delay, [finish] {
              finish(http::status::bad_request, {{"error", "mailbox unavailable"}});
            });
          }
          ++b.total;
          if (++b.per_key[key] > 1) ++b.duplicates;
          b.requests.push_back({{"key", key},
                                {"email", email},
                                {"agent", std::string{(*shared)[http::field::user_agent]}},
                                {"message", body.as_object().at("message")},
                                {"at", format_instant(date::floor<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now()))}});
          g.unlock();
          later(delay, [finish] { finish(http::status::ok, {{"status", "sent"}}); });
        });
  r.add(http::verb::get, "/stats",
        [&](net::request&& req, const net::path_params&, net::responder respond) {
          std::lock_guard<std::mutex> g{b.mtx};
          respond(plain(req, http::status::ok,
                        {{"total", b.total},
                         {"uniqueKeys", b.per_key.size()},
                         {"duplicates", b.duplicates},
                         {"failed", b.failed},
                         {"timedOut", b.timed_out},
                         {"inFlight", b.in_flight},
                         {"maxInFlight", b.max_in_flight},
                         {"worstSecond", b.worst_second}}));
        });
  r.add(http::verb::get, "/requests",
        [&](net::request&& req, const net::path_params&, net::responder respond) {
          std::lock_guard<std::mutex> g{b.mtx};
          respond(plain(req, http::status::ok, b.requests));
        });
  r.add(http::verb::delete_, "/requests",
        [&](net::request&& req, const net::path_params&, net::responder respond) {
          std::lock_guard<std::mutex> g{b.mtx};
          b.requests.clear();
          b.per_key.clear();
          b.duplicates = 0;
          b.total = b.failed = b.timed_out = 0;
          b.max_in_flight = b.in_flight;
          b.last_second.clear();
          b.worst_second = 0;
          respond(plain(req, http::status::ok, {{"status", "cleared"}}));
        });
  r.add(http::verb::get, "/control",
        [&](net::request&& req, const net::path_params&, net::responder respond) {
          std::lock_guard<std::mutex> g{b.mtx};
          respond(plain(req, http::status::ok, control_view(b.f)));
        });
  r.add(http::verb::put, "/control",
        [&](net::request&& req, const net::path_params&, net::responder respond) {
          json::error_code ec;
          auto body = json::parse(req.body(), ec);
          if (ec || !body.is_object())
            return respond(
                plain(req, http::status::bad_request, {{"error", "body must be a JSON object"}}));
          std::lock_guard<std::mutex> g{b.mtx};
          auto next = b.f;
          auto problem = apply_control(body.as_object(), next);
          if (!problem.empty())
            return respond(plain(req, http::status::bad_request, {{"error", problem}}));
          b.f = next;
          respond(plain(req, http::status::ok, control_view(b.f)));
        });
  net::server_options so;
  so.host = o.host;
  so.port = o.port;
  so.threads = 2;
  so.body_limit = 1 << 20;
  // A provider takes every connection a node opens (up to email.max-in-flight
  // each, from one address): no per-client caps here.
  so.max_connections_per_client = 0;
  so.max_connections = 0;
  net::http_server server{so, r};
  auto port = server.start();
  if (!port) {
    std::cerr << "candle-mock-provider: " << port.err().message << '\n';
    guard.reset();
    timers->stop();
    timer_thread.join();
    return 1;
  }
  std::cout << "candle-mock-provider listening on http://" << o.host << ':' << *port
            << "/send-email" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  server.stop();
  guard.reset();
  timers->stop();
  timer_thread.join();
  timers.reset(); // drops held answers while the server still exists
  return 0;
}
