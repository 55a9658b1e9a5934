// candled: one Candle node. Reads configuration, starts the actor system and
// the REST bridge, prints one start-up line, and runs until SIGINT/SIGTERM.
#include "config/config.hpp"
#include "config/logging.hpp"
#include "core/time.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"

#include <caf/actor_system.hpp>
#include <chrono>
#include <csignal>
#include <iostream>
#include <optional>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

extern char** environ;

namespace {

using namespace candle;
namespace http = net::http;

std::string describe_db(const settings& s) {
  if (!s.db.url.empty()) {
    // Never print credentials: keep scheme and host part only.
    auto at = s.db.url.find('@');
    auto scheme_end = s.db.url.find("://");
    if (at != std::string::npos && scheme_end != std::string::npos)
      return s.db.url.substr(0, scheme_end + 3) + "***" + s.db.url.substr(at);
    return s.db.url;
  }
  return "embedded:" + s.db.dir;
}

std::string describe_clock(const settings& s) {
  if (s.clock.mode == "system") return "system";
  std::ostringstream os;
  os << "simulated(start=" << (s.clock.start.empty() ? "now" : s.clock.start)
     << ",speed=" << s.clock.speed << ")";
  return os.str();
}

net::router make_routes(std::chrono::steady_clock::time_point started) {
  net::router r;
  r.add(http::verb::get, "/healthz",
        [started](net::request&& req, const net::path_params&, net::responder respond) {
          auto up = std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::steady_clock::now() - started);
          respond(net::success(http::status::ok,
                               boost::json::object{{"status", "ok"}, {"uptimeSeconds", up.count()}},
                               req));
        });
  return r;
}

} // namespace

int main(int argc, char** argv) {
  node_config cfg;
  auto outcome = load_config(cfg, std::vector<std::string>(argv + 1, argv + argc), environ);
  if (outcome.what == load_outcome::help) std::cout << outcome.message;
  if (outcome.what == load_outcome::help || outcome.what == load_outcome::exit_ok) return 0;
  if (outcome.what == load_outcome::exit_usage) {
    std::cerr << "candled: " << outcome.message;
    if (outcome.message.empty() || outcome.message.back() != '\n') std::cerr << '\n';
    return 2;
  }
  const auto& s = cfg.values;
  setup_logging(s.log.level);

  // Signals are taken by sigwait() on the main thread: block them before any
  // thread (CAF's, the HTTP server's) starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto started = std::chrono::steady_clock::now();
  net::server_options http_opts;
  http_opts.host = s.http.host;
  http_opts.port = s.http.port;
  http_opts.threads = 2;
  // Declared before the actor system: it must outlive every responder an
  // actor may still hold (see http_server.hpp).
  net::http_server server{http_opts, make_routes(started)};
  std::optional<caf::actor_system> sys;
  sys.emplace(cfg);

  auto port = server.start();
  if (!port) {
    spdlog::critical("event=startup.failed reason=\"{}\"", port.err().message);
    std::cerr << "candled: " << port.err().message << '\n';
    return 1;
  }
  std::cout << "candled ready: rest=http://" << s.http.host << ':' << *port
            << " console=" << (s.console.port == 0 ? std::string{"off"} : "unavailable")
            << " db=" << describe_db(s) << " clock=" << describe_clock(s) << std::endl;
  spdlog::info("event=startup rest=http://{}:{} db={} clock={} pid={}", s.http.host, *port,
               describe_db(s), describe_clock(s), ::getpid());

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("event=shutdown signal={}", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server.stop();
  sys.reset(); // waits for actors to finish
  spdlog::info("event=stopped");
  return 0;
}
