// candle-mock-provider: a local email provider for demos and tests.
// POST /send-email as in contract.md ("Email provider"); remembers every
// request with its Idempotency-Key; failure injection by flags.
//
//   GET    /stats     {"total", "uniqueKeys", "duplicates", "failed"}
//   GET    /requests  every accepted request: key, email, message, at
//   DELETE /requests  forget everything
#include "core/time.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <unistd.h>

using namespace candle;
namespace http = net::http;
namespace json = boost::json;

namespace {

struct options {
  std::string host = "127.0.0.1";
  uint16_t port = 8025;
  double error_rate = 0;
  unsigned error_status = 500;
};

const char* usage =
    "usage: candle-mock-provider [--host=ADDR] [--port=N] [--error-rate=0..1] [--error-status=N]\n"
    "  --host          address to listen on (default 127.0.0.1)\n"
    "  --port          port (default 8025; 0 = pick a free one and print it)\n"
    "  --error-rate    fraction of requests answered with --error-status (default 0)\n"
    "  --error-status  HTTP status of injected errors (default 500)\n"
    "Endpoints: POST /send-email, GET /stats, GET /requests, DELETE /requests\n";

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    auto key = a.substr(0, eq);
    auto val = eq == std::string::npos ? std::string{} : a.substr(eq + 1);
    char* end = nullptr;
    if (key == "--help" || key == "-h") {
      std::cout << usage;
      std::exit(0);
    } else if (key == "--host" && !val.empty()) {
      o.host = val;
    } else if (key == "--port") {
      auto p = std::strtol(val.c_str(), &end, 10);
      if (val.empty() || *end || p < 0 || p > 65535) return false;
      o.port = static_cast<uint16_t>(p);
    } else if (key == "--error-rate") {
      o.error_rate = std::strtod(val.c_str(), &end);
      if (val.empty() || *end || o.error_rate < 0 || o.error_rate > 1) return false;
    } else if (key == "--error-status") {
      auto st = std::strtol(val.c_str(), &end, 10);
      if (val.empty() || *end || st < 100 || st > 599) return false;
      o.error_status = static_cast<unsigned>(st);
    } else {
      return false;
    }
  }
  return true;
}

struct book {
  std::mutex mtx;
  std::map<std::string, int> per_key;
  json::array requests;
  uint64_t total = 0, failed = 0;
  std::mt19937_64 rng{std::random_device{}()};
};

net::response plain(const net::request& req, http::status st, json::value body) {
  return net::json_response(st, json::serialize(body), req.version(), req.keep_alive());
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
  net::router r;
  r.add(http::verb::post, "/send-email",
        [&](net::request&& req, const net::path_params&, net::responder respond) {
          auto key = std::string{req["Idempotency-Key"]};
          json::error_code ec;
          auto body = json::parse(req.body(), ec);
          if (key.empty() || ec || !body.is_object() || !body.as_object().contains("email") ||
              !body.as_object().contains("message"))
            return respond(plain(req, http::status::bad_request,
                                 {{"error", "need Idempotency-Key and {email, message}"}}));
          std::lock_guard<std::mutex> g{b.mtx};
          std::uniform_real_distribution<double> u{0, 1};
          if (o.error_rate > 0 && u(b.rng) < o.error_rate) {
            ++b.failed;
            return respond(
                plain(req, static_cast<http::status>(o.error_status), {{"error", "injected"}}));
          }
          ++b.total;
          ++b.per_key[key];
          b.requests.push_back({{"key", key},
                                {"email", body.as_object().at("email")},
                                {"message", body.as_object().at("message")},
                                {"at", format_instant(date::floor<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now()))}});
          respond(plain(req, http::status::ok, {{"status", "sent"}}));
        });
  r.add(http::verb::get, "/stats",
        [&](net::request&& req, const net::path_params&, net::responder respond) {
          std::lock_guard<std::mutex> g{b.mtx};
          uint64_t dups = 0;
          for (const auto& [k, n] : b.per_key)
            dups += static_cast<uint64_t>(n - 1);
          respond(plain(req, http::status::ok,
                        {{"total", b.total},
                         {"uniqueKeys", b.per_key.size()},
                         {"duplicates", dups},
                         {"failed", b.failed}}));
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
          b.total = b.failed = 0;
          respond(plain(req, http::status::ok, {{"status", "cleared"}}));
        });
  net::http_server server{{o.host, o.port, 2}, r};
  auto port = server.start();
  if (!port) {
    std::cerr << "candle-mock-provider: " << port.err().message << '\n';
    return 1;
  }
  std::cout << "candle-mock-provider listening on http://" << o.host << ':' << *port
            << "/send-email" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  server.stop();
  return 0;
}
