// candled: one Candle node. Reads configuration, starts the actor system and
// the REST bridge, prints one start-up line, and runs until SIGINT/SIGTERM.
#include "config/config.hpp"
#include "config/logging.hpp"
#include "core/time.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"
#include "node/engine.hpp"
#include "node/routes.hpp"
#include "persistence/embedded_pg.hpp"
#include "persistence/schema.hpp"

#include <caf/actor_system.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
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

// The node's name in partition leases. With the embedded database there is
// exactly one node per db.dir (it is locked), so the name is kept in
// db.dir/node-id and a restarted node takes its own leases back at once.
// With db.url several nodes may share a machine and a directory: each
// process gets a fresh name and waits for its predecessor's leases to expire.
std::string node_id_for(const settings& s) {
  if (!s.db.url.empty()) return random_node_id();
  auto path = s.db.dir + "/node-id";
  std::ifstream in{path};
  std::string id;
  if (std::getline(in, id) && !id.empty()) return id;
  id = random_node_id();
  std::ofstream{path} << id << '\n';
  return id;
}

// Opens the database: the embedded server (started here, on the main
// thread, see embedded_pg.hpp) or db.url; applies migrations.
struct database {
  std::unique_ptr<pg::embedded_postgres> embedded;
  std::string conninfo;
  std::string description;
  int32_t partitions = 0;
};

result<database> open_database(const settings& s) {
  database db;
  if (s.db.url.empty()) {
    auto pg = pg::embedded_postgres::start(s.db.dir, "candle");
    if (!pg) return pg.err();
    db.embedded = std::move(*pg);
    db.conninfo = db.embedded->conninfo("candle");
    db.description = "embedded:" + s.db.dir;
  } else {
    db.conninfo = s.db.url;
    db.description = describe_db(s);
  }
  try {
    pqxx::connection c{db.conninfo};
    pg::migrate(c);
    db.partitions = pg::fixed_partition_count(c, static_cast<int32_t>(s.schedule.partitions));
  } catch (const std::exception& e) {
    return error{errc::unavailable, std::string{"database "} + db.description + ": " + e.what()};
  }
  if (db.partitions != static_cast<int32_t>(s.schedule.partitions))
    spdlog::warn("event=config.partitions_fixed requested={} in_use={} reason=\"fixed at the"
                 " database's first start\"",
                 s.schedule.partitions, db.partitions);
  return db;
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

  auto db = open_database(s);
  if (!db) {
    spdlog::critical("event=startup.failed reason=\"{}\"", db.err().message);
    std::cerr << "candled: " << db.err().message << '\n';
    return 1;
  }

  engine eng;
  node_context ctx;
  ctx.started = std::chrono::steady_clock::now();
  ctx.eng = &eng;
  ctx.fault_injection = s.admin.fault_injection;
  register_types(cfg);
  net::server_options http_opts;
  http_opts.host = s.http.host;
  http_opts.port = s.http.port;
  http_opts.threads = 2;
  // Declared before the actor system: it must outlive every responder an
  // actor may still hold (see http_server.hpp).
  net::http_server server{http_opts, make_routes(ctx)};
  std::optional<caf::actor_system> sys;
  sys.emplace(cfg);
  ctx.sys = &*sys;
  eng = start_engine(*sys, s, db->conninfo, db->partitions, node_id_for(s));

  auto port = server.start();
  if (!port) {
    stop_engine(eng);
    spdlog::critical("event=startup.failed reason=\"{}\"", port.err().message);
    std::cerr << "candled: " << port.err().message << '\n';
    return 1;
  }
  std::cout << "candled ready: rest=http://" << s.http.host << ':' << *port
            << " console=" << (s.console.port == 0 ? std::string{"off"} : "unavailable")
            << " db=" << db->description << " clock=" << describe_clock(s) << std::endl;
  spdlog::info("event=startup rest=http://{}:{} db={} partitions={} clock={} node={} pid={}",
               s.http.host, *port, db->description, db->partitions, describe_clock(s), eng.node_id,
               ::getpid());

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("event=shutdown signal={}", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server.stop();
  stop_engine(eng);
  sys.reset();          // waits for actors to finish
  db->embedded.reset(); // fast shutdown of the embedded server
  spdlog::info("event=stopped");
  return 0;
}
