// candle-mock-provider: a local email provider for demos and tests.
// POST /send-email as in contract.md ("Email provider"); remembers every
// accepted request with its Idempotency-Key; injects failures by flags and at
// run time (PUT /control); with --events-url posts signed delivery events
// back ("Delivery events"). See usage below.
#include "core/time.hpp"
#include "core/webhook.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"
#include "tools/webhook_client.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <list>
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
  double timeout_rate = 0;       ///< fraction never answered in time (held for hang_ms)
  int64_t hang_ms = 60'000;      ///< how long a "timed out" request is held, then dropped
  double reset_rate = 0;         ///< fraction of requests whose connection is reset unanswered
  int64_t latency_min = 0;       ///< every answer is delayed by a uniform draw
  int64_t latency_max = 0;       ///< from [latency_min, latency_max] ms
  bool down = false;             ///< answer 503 to every send
  std::string reject_suffix;     ///< emails ending in it get a permanent 400
  double request_error_rate = 0; ///< fraction of batch requests failed whole (error_status)
  uint64_t quota = 0;            ///< most greetings taken in any 1 s (0 = none); then 429
  int64_t retry_after_s = 0;     ///< Retry-After on 429 answers (0 = none)
};

// Delivery events posted back to Candle (contract.md, "Delivery events").
struct events_options {
  std::string url;             ///< "" = off
  std::string secret;          ///< whsec_…
  int64_t delay_ms = 200;      ///< from acceptance to the event
  std::string bounce_suffix;   ///< accepted, then bounced
  std::string complain_suffix; ///< accepted, delivered, then complained
  double duplicates = 0;       ///< fraction of events posted twice
  double reorder = 0;          ///< fraction with an older deferral posted after the delivery
  int64_t batch = 50;          ///< most events per POST
};

struct options {
  std::string host = "127.0.0.1";
  uint16_t port = 8025;
  faults f;
  events_options ev;
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
  --reset-rate R         fraction of requests whose connection is reset (RST) before they are
                         read: nothing accepted, no answer (default 0)
  --latency MIN[-MAX]    delay every answer by MIN..MAX ms, uniformly (default 0)
  --down                 answer every send with 503 until told otherwise
  --reject-suffix S      emails ending in S get 400 "mailbox unavailable" (permanent)
  --request-error-rate R fraction of batch requests failed whole with --error-status (default 0)
  --quota N              take at most N greetings in any 1 s, answer 429 beyond (default 0 = none)
  --retry-after S        send Retry-After: S with every 429 (default 0 = no header)
  --events-url URL       post signed delivery events for accepted greetings to URL
                         (a node's /api/v1/webhooks/provider); off by default
  --events-secret S      the whsec_... secret to sign them with (the node's webhooks.secret)
  --events-delay-ms N    from acceptance to the event (default 200)
  --bounce-suffix S      emails ending in S are accepted, then bounced
  --complain-suffix S    emails ending in S are accepted, delivered, then complained about
  --events-duplicates R  fraction of events posted a second time (default 0)
  --events-reorder R     fraction of greetings that also get a deferral older than their
                         delivery, posted after it (default 0)
  --events-batch N       most events per POST (default 50); a failed POST is retried
  --help                 this text

Endpoints:
  POST   /send-email   {"email","message"} with an Idempotency-Key header -> 200 {"status":"sent"}
  POST   /send-email/batch  {"messages":[{"key","email","message"},...]} -> 200 {"results":
                       [{"key","status","error"?},...]}; --error-rate and --reject-suffix act per
                       greeting, --down, --quota, --reset-rate, --timeout-rate, --request-error-rate
                       per request
  GET    /stats        {"total","uniqueKeys","duplicates","failed","timedOut","resets","inFlight","maxInFlight",
                       "batches", "worstSecond": the most greetings that arrived within any 1 s,
                       "events": {"posted","failedPosts","pending"}}
  GET    /requests     every accepted send: key, email, message, agent (User-Agent), at (UTC)
  DELETE /requests     forget every send and reset the counters
  GET    /control      the failure injection in force
  PUT    /control      change it: {"errorRate","errorStatus","timeoutRate","hangMs","resetRate",
                       "latencyMs":[min,max],"down","rejectSuffix","requestErrorRate","quota",
                       "retryAfterS"} (any subset)
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
    } else if (key == "--reset-rate") {
      if (!parse_rate(value(), o.f.reset_rate)) return false;
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
    } else if (key == "--request-error-rate") {
      if (!parse_rate(value(), o.f.request_error_rate)) return false;
    } else if (key == "--quota") {
      if (!parse_int(value(), 0, 100'000'000, n)) return false;
      o.f.quota = static_cast<uint64_t>(n);
    } else if (key == "--retry-after") {
      if (!parse_int(value(), 0, 3600, o.f.retry_after_s)) return false;
    } else if (key == "--events-url") {
      o.ev.url = value();
      if (o.ev.url.rfind("http", 0) != 0) return false;
    } else if (key == "--events-secret") {
      o.ev.secret = value();
      if (!webhook::parse_secrets(o.ev.secret)) return false;
    } else if (key == "--events-delay-ms") {
      if (!parse_int(value(), 0, 3'600'000, o.ev.delay_ms)) return false;
    } else if (key == "--bounce-suffix") {
      o.ev.bounce_suffix = value();
    } else if (key == "--complain-suffix") {
      o.ev.complain_suffix = value();
    } else if (key == "--events-duplicates") {
      if (!parse_rate(value(), o.ev.duplicates)) return false;
    } else if (key == "--events-reorder") {
      if (!parse_rate(value(), o.ev.reorder)) return false;
    } else if (key == "--events-batch") {
      if (!parse_int(value(), 1, 1000, o.ev.batch)) return false;
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
  uint64_t total = 0, failed = 0, timed_out = 0, resets = 0;
  int64_t in_flight = 0, max_in_flight = 0;
  // Arrivals at /send-email in the last second, and the most any second
  // (a sliding window: any 1 s interval, not calendar seconds) has held.
  std::deque<std::chrono::steady_clock::time_point> last_second;
  uint64_t worst_second = 0;
  std::mt19937_64 rng{std::random_device{}()};

  uint64_t batches = 0;

  void forget_old(std::chrono::steady_clock::time_point now) {
    while (!last_second.empty() && now - last_second.front() >= std::chrono::seconds{1})
      last_second.pop_front();
  }
  uint64_t last_second_count() {
    forget_old(std::chrono::steady_clock::now());
    return last_second.size();
  }
  // `n` greetings arrived now (a batch request carries many).
  void arrived(size_t n) {
    auto now = std::chrono::steady_clock::now();
    forget_old(now);
    last_second.insert(last_second.end(), n, now);
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
          {"resetRate", f.reset_rate},
          {"latencyMs", json::array{f.latency_min, f.latency_max}},
          {"down", f.down},
          {"rejectSuffix", f.reject_suffix},
          {"requestErrorRate", f.request_error_rate},
          {"quota", f.quota},
          {"retryAfterS", f.retry_after_s}};
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
    } else if (k == "resetRate") {
      if (!rate(v, f.reset_rate)) return "resetRate must be a number in [0, 1]";
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
    } else if (k == "requestErrorRate") {
      if (!rate(v, f.request_error_rate)) return "requestErrorRate must be a number in [0, 1]";
    } else if (k == "quota") {
      if (!integer(v, 0, 100'000'000, n)) return "quota must be 0..100000000";
      f.quota = static_cast<uint64_t>(n);
    } else if (k == "retryAfterS") {
      if (!integer(v, 0, 3600, f.retry_after_s)) return "retryAfterS must be 0..3600";
    } else {
      return "unknown field " + std::string{k};
    }
  }
  return {};
}

bool ends_with(const std::string& s, const std::string& sfx) {
  return !sfx.empty() && s.size() >= sfx.size() &&
         s.compare(s.size() - sfx.size(), sfx.size(), sfx) == 0;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The events of accepted greetings, posted back in signed batches from a
// thread of their own, as a provider's webhook does: late, sometimes twice,
// sometimes out of order, and again after a failed POST.
class event_poster {
public:
  explicit event_poster(events_options o)
      : o_(std::move(o)), client_(o_.url, webhook::parse_secrets(o_.secret)->front()),
        thread_([this] { run(); }) {}
  ~event_poster() {
    {
      std::lock_guard<std::mutex> g{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // A greeting was accepted (called under the book's lock: cheap).
  void accepted(const std::string& key, const std::string& email, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u{0, 1};
    auto now = wall_ms();
    auto due = now + o_.delay_ms;
    std::vector<std::pair<int64_t, json::object>> out;
    auto event = [&](const char* type, int64_t at, const char* reason) {
      json::object e{
          {"id", "mock-" + std::to_string(::getpid()) + "-" + std::to_string(++next_id_)},
          {"type", type},
          {"key", key},
          {"at", format_instant(sys_millis{std::chrono::milliseconds{at}})}};
      if (reason) e["reason"] = reason;
      return e;
    };
    if (ends_with(email, o_.bounce_suffix)) {
      out.emplace_back(due, event("bounced", due, "550 5.1.1 mailbox does not exist"));
    } else {
      out.emplace_back(due, event("delivered", due, nullptr));
      if (o_.reorder > 0 && u(rng) < o_.reorder) // older, and posted after the delivery
        out.emplace_back(due + o_.delay_ms + 50, event("deferred", now + 1, "421 try again later"));
      if (ends_with(email, o_.complain_suffix))
        out.emplace_back(due + o_.delay_ms, event("complained", due + o_.delay_ms, "spam report"));
    }
    std::lock_guard<std::mutex> g{mtx_};
    for (auto& [when, e] : out) {
      if (o_.duplicates > 0 && u(rng) < o_.duplicates) queue_.push_back({when + o_.delay_ms, e, 0});
      queue_.push_back({when, std::move(e), 0});
    }
    cv_.notify_one();
  }

  json::object stats() {
    std::lock_guard<std::mutex> g{mtx_};
    return {{"posted", posted_}, {"failedPosts", failed_posts_}, {"pending", queue_.size()}};
  }

private:
  struct pending {
    int64_t due;
    json::object event;
    int tries;
  };

  void run() {
    std::unique_lock<std::mutex> g{mtx_};
    while (!stop_) {
      cv_.wait_for(g, std::chrono::milliseconds{20});
      auto now = wall_ms();
      std::vector<pending> batch;
      for (auto i = queue_.begin(); i != queue_.end() && batch.size() < size_t(o_.batch);) {
        if (i->due <= now) {
          batch.push_back(std::move(*i));
          i = queue_.erase(i);
        } else {
          ++i;
        }
      }
      if (batch.empty()) continue;
      g.unlock();
      json::array body;
      for (const auto& p : batch)
        body.push_back(p.event);
      auto id = "msg-" + std::to_string(::getpid()) + "-" + std::to_string(++next_msg_);
      auto r = client_.post(json::serialize(body), id, now / 1000);
      g.lock();
      if (r.status >= 200 && r.status < 300) {
        posted_ += batch.size();
        continue;
      }
      if (++failed_posts_ <= 5) // then counted in /stats only
        std::cerr << "candle-mock-provider: events POST failed: "
                  << (r.status ? std::to_string(r.status) + " " + r.body : r.error) << '\n';
      for (auto& p : batch) // again in a second, as providers retry
        if (++p.tries < 20) queue_.push_back({now + 1000, std::move(p.event), p.tries});
    }
  }

  events_options o_;
  net::webhook_client client_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::list<pending> queue_;
  bool stop_ = false;
  uint64_t next_id_ = 0, next_msg_ = 0, posted_ = 0, failed_posts_ = 0;
  std::thread thread_;
};

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
  if (o.ev.url.empty() != o.ev.secret.empty()) {
    std::cerr << "candle-mock-provider: --events-url and --events-secret go together\n";
    return 2;
  }
  book b;
  b.f = o.f;
  // Before the server: its handlers call it.
  std::unique_ptr<event_poster> poster;
  if (!o.ev.url.empty()) poster = std::make_unique<event_poster>(o.ev);
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
  // The answer to one request, after the configured latency; a 429 carries
  // Retry-After when --retry-after is set.
  auto answer = [&](std::shared_ptr<net::request> req, net::responder respond, int64_t delay,
                    http::status st, json::value v) {
    later(delay, [&b, req, respond, st, v = std::move(v)]() mutable {
      auto res = plain(*req, st, std::move(v));
      {
        std::lock_guard<std::mutex> g{b.mtx};
        --b.in_flight;
        if (st == http::status::too_many_requests && b.f.retry_after_s > 0)
          res.set(http::field::retry_after, std::to_string(b.f.retry_after_s));
      }
      respond(std::move(res));
    });
  };
  // What happens to a request as a whole before its greetings are looked at
  // (under the lock): down, over the quota, held past any timeout, or (a
  // batch only: a single send's error is per greeting) an injected error.
  struct whole {
    enum { go, fail, hang, reset } what = go;
    http::status status = http::status::ok;
    const char* error = "";
  };
  auto judge_request = [&](size_t greetings, bool batch) {
    std::uniform_real_distribution<double> u{0, 1};
    b.max_in_flight = std::max(b.max_in_flight, ++b.in_flight);
    auto before = b.last_second_count();
    b.arrived(greetings);
    whole w;
    if (b.f.down) {
      w = {whole::fail, http::status::service_unavailable, "provider down"};
    } else if (b.f.quota > 0 && before + greetings > b.f.quota) {
      w = {whole::fail, http::status::too_many_requests, "over the quota"};
    } else if (b.f.reset_rate > 0 && u(b.rng) < b.f.reset_rate) {
      ++b.resets;
      --b.in_flight; // never answered
      w.what = whole::reset;
    } else if (b.f.timeout_rate > 0 && u(b.rng) < b.f.timeout_rate) {
      ++b.timed_out;
      w.what = whole::hang;
    } else if (batch && b.f.request_error_rate > 0 && u(b.rng) < b.f.request_error_rate) {
      w = {whole::fail, static_cast<http::status>(b.f.error_status), "injected"};
    }
    if (w.what == whole::fail) b.failed += greetings;
    return w;
  };
  // One greeting's fate (under the lock): an injected error, a rejected
  // mailbox, or accepted and remembered.
  auto judge_greeting = [&](const std::string& key, const std::string& email,
                            const json::value& message, std::string_view agent,
                            std::string& error) {
    std::uniform_real_distribution<double> u{0, 1};
    if (b.f.error_rate > 0 && u(b.rng) < b.f.error_rate) {
      ++b.failed;
      error = "injected";
      return static_cast<unsigned>(b.f.error_status);
    }
    const auto& sfx = b.f.reject_suffix;
    if (!sfx.empty() && email.size() >= sfx.size() &&
        email.compare(email.size() - sfx.size(), sfx.size(), sfx) == 0) {
      ++b.failed;
      error = "mailbox unavailable";
      return 400u;
    }
    ++b.total;
    if (++b.per_key[key] > 1)
      ++b.duplicates;
    else if (poster)
      poster->accepted(key, email, b.rng);
    b.requests.push_back({{"key", key},
                          {"email", email},
                          {"agent", std::string{agent}},
                          {"message", message},
                          {"at", format_instant(date::floor<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now()))}});
    return 200u;
  };
  auto latency = [&] {
    std::uniform_int_distribution<int64_t> lat{b.f.latency_min,
                                               std::max(b.f.latency_min, b.f.latency_max)};
    return lat(b.rng);
  };
  r.add(http::verb::post, "/send-email",
        [&](net::request&& req, const net::path_params&, net::responder respond) {
          auto key = std::string{req["Idempotency-Key"]};
          json::error_code ec;
          auto body = json::parse(req.body(), ec);
          if (key.empty() || ec || !body.is_object() || !body.as_object().contains("email") ||
              !body.as_object().contains("message") || !body.as_object().at("email").is_string())
            return respond(plain(req, http::status::bad_request,
                                 {{"error", "need Idempotency-Key and {email, message}"}}));
          auto shared = std::make_shared<net::request>(std::move(req));
          std::unique_lock<std::mutex> g{b.mtx};
          auto delay = latency();
          auto w = judge_request(1, false);
          if (w.what == whole::reset) {
            g.unlock();
            return respond(net::connection_reset());
          }
          if (w.what == whole::hang) {
            g.unlock(); // held past any sane client timeout, then answered 504
            return answer(shared, respond, b.f.hang_ms, http::status::gateway_timeout,
                          {{"error", "injected timeout"}});
          }
          if (w.what == whole::fail) {
            g.unlock();
            return answer(shared, respond, delay, w.status, {{"error", w.error}});
          }
          std::string error;
          auto st = judge_greeting(key, std::string{body.as_object().at("email").as_string()},
                                   body.as_object().at("message"),
                                   (*shared)[http::field::user_agent], error);
          g.unlock();
          if (st == 200)
            return answer(shared, respond, delay, http::status::ok, {{"status", "sent"}});
          answer(shared, respond, delay, static_cast<http::status>(st), {{"error", error}});
        });
  r.add(http::verb::post, "/send-email/batch",
        [&](net::request&& req, const net::path_params&, net::responder respond) {
          json::error_code ec;
          auto body = json::parse(req.body(), ec);
          const json::array* messages = nullptr;
          if (!ec && body.is_object())
            if (auto* m = body.as_object().if_contains("messages")) messages = m->if_array();
          auto bad = [&](std::string why) {
            respond(plain(req, http::status::bad_request, {{"error", std::move(why)}}));
          };
          if (!messages || messages->empty())
            return bad("need {\"messages\": [{key, email, message}, ...]}, not empty");
          for (size_t i = 0; i < messages->size(); ++i) {
            const auto* m = (*messages)[i].if_object();
            if (!m || !m->contains("key") || !m->at("key").is_string() ||
                m->at("key").as_string().empty() || !m->contains("email") ||
                !m->at("email").is_string() || !m->contains("message"))
              return bad("messages[" + std::to_string(i) + "] needs key, email and message");
          }
          auto shared = std::make_shared<net::request>(std::move(req));
          std::unique_lock<std::mutex> g{b.mtx};
          ++b.batches;
          auto delay = latency();
          auto w = judge_request(messages->size(), true);
          if (w.what == whole::reset) {
            g.unlock();
            return respond(net::connection_reset());
          }
          if (w.what == whole::hang) {
            g.unlock();
            return answer(shared, respond, b.f.hang_ms, http::status::gateway_timeout,
                          {{"error", "injected timeout"}});
          }
          if (w.what == whole::fail) {
            g.unlock();
            return answer(shared, respond, delay, w.status, {{"error", w.error}});
          }
          json::array results;
          results.reserve(messages->size());
          auto agent = (*shared)[http::field::user_agent];
          for (const auto& v : *messages) {
            const auto& m = v.as_object();
            std::string key{m.at("key").as_string()}, error;
            auto st = judge_greeting(key, std::string{m.at("email").as_string()}, m.at("message"),
                                     agent, error);
            json::object one{{"key", key}, {"status", st}};
            if (st != 200) one["error"] = error;
            results.push_back(std::move(one));
          }
          g.unlock();
          answer(shared, respond, delay, http::status::ok, {{"results", std::move(results)}});
        });
  r.add(http::verb::get, "/stats",
        [&](net::request&& req, const net::path_params&, net::responder respond) {
          std::lock_guard<std::mutex> g{b.mtx};
          respond(
              plain(req, http::status::ok,
                    {{"total", b.total},
                     {"uniqueKeys", b.per_key.size()},
                     {"duplicates", b.duplicates},
                     {"failed", b.failed},
                     {"timedOut", b.timed_out},
                     {"resets", b.resets},
                     {"inFlight", b.in_flight},
                     {"maxInFlight", b.max_in_flight},
                     {"batches", b.batches},
                     {"worstSecond", b.worst_second},
                     {"events", poster ? json::value(poster->stats()) : json::value(nullptr)}}));
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
          b.total = b.failed = b.timed_out = b.resets = b.batches = 0;
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
