// candled: one Candle node. Reads configuration, starts the actor system and
// the REST bridge, prints one start-up line, and runs until SIGINT/SIGTERM.
#include "actors/console.hpp"
#include "actors/engine.hpp"
#include "actors/tls.hpp"
#include "config/config.hpp"
#include "config/logging.hpp"
#include "core/metrics.hpp"
#include "core/security.hpp"
#include "core/time.hpp"
#include "core/webhook.hpp"
#include "net/http_server.hpp"
#include "net/router.hpp"
#include "persistence/embedded_pg.hpp"
#include "persistence/membership.hpp"
#include "persistence/schema.hpp"
#include "rest/event_api.hpp"
#include "rest/routes.hpp"

#include <atomic>
#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace {

using namespace candle;
namespace http = net::http;

std::string describe_db(const settings& s) {
  // Never print credentials (the password of the URL or of its parameters).
  if (!s.db.url.empty()) return redact_conninfo(s.db.url);
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
  if (!s.cluster.node_id.empty()) return s.cluster.node_id;
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

namespace {

// Ends the process when a shutdown takes longer than `bound`, or when a
// second SIGINT/SIGTERM comes, saying so: nothing the node still waits for
// (a lease release, an outcome write to a database that is gone) is worth
// more than leaving, as leases expire by themselves and unrecorded sends are
// resent by the next owner within the in-doubt bound.
class shutdown_watchdog {
public:
  shutdown_watchdog(sigset_t signals, std::chrono::milliseconds bound)
      : thread_([this, signals, bound] {
          auto deadline = std::chrono::steady_clock::now() + bound;
          while (!done_) {
            timespec slice{0, 200'000'000};
            int sig = sigtimedwait(&signals, nullptr, &slice);
            if (done_) return;
            const char* why = nullptr;
            if (sig == SIGINT || sig == SIGTERM)
              why = "a second signal";
            else if (std::chrono::steady_clock::now() >= deadline)
              why = "the shutdown bound passed";
            if (why == nullptr) continue;
            spdlog::error("event=shutdown.forced reason=\"{}\" bound_ms={} effect=\"exiting "
                          "without releasing what is left; leases expire by themselves\"",
                          why, bound.count());
            spdlog::default_logger()->flush();
            std::_Exit(3);
          }
        }) {}
  ~shutdown_watchdog() {
    done_ = true;
    thread_.join();
  }
  shutdown_watchdog(const shutdown_watchdog&) = delete;
  shutdown_watchdog& operator=(const shutdown_watchdog&) = delete;

private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

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
  setup_logging(s.log.level, s.log.format);
  metrics::global().build_info.set({CANDLE_VERSION}, 1);
  metrics::global().partitions.set({}, static_cast<double>(s.schedule.partitions));

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
  ctx.admin_token = s.admin.token;
  ctx.http_loopback = is_loopback(s.http.host);
  if (!s.webhooks.secret.empty()) ctx.webhook_keys = *webhook::parse_secrets(s.webhooks.secret);
  register_types(cfg);
  // The middleman carries the cluster and the console: heartbeats on, the
  // same values on every node, mutual TLS with tls.* (actors/tls.hpp).
  tls_files tls{s.tls.certificate, s.tls.key, s.tls.ca};
  if (auto bad = check_tls_files(tls); !bad.empty()) {
    std::cerr << "candled: " << bad << '\n';
    return 2;
  }
  configure_network(cfg, tls);
  net::server_options http_opts;
  http_opts.host = s.http.host;
  http_opts.port = s.http.port;
  http_opts.threads = 2;
  http_opts.rate_per_client = s.http.rate_per_client;
  http_opts.burst_per_client = s.http.burst_per_client;
  http_opts.max_connections_per_client = s.http.max_connections_per_client;
  http_opts.max_connections = s.http.max_connections;
  // A provider's batch of up to api::max_events events.
  http_opts.body_limits = {{"/api/v1/webhooks/provider", api::max_body},
                           {"/api/v1/users/bulk", api::max_body}};
  // Declared before the actor system: it must outlive every responder an
  // actor may still hold (see http_server.hpp).
  net::http_server server{http_opts, make_routes(ctx)};
  std::optional<caf::actor_system> sys;
  try {
    sys.emplace(cfg);
  } catch (const std::exception& e) {
    // CAF's OpenSSL module throws on files it cannot use.
    auto why = std::string{"tls.certificate, tls.key, tls.ca: "} + e.what();
    spdlog::critical("event=startup.failed reason=\"{}\"", why);
    std::cerr << "candled: " << why << '\n';
    server.stop();
    return 2;
  }
  ctx.sys = &*sys;
  // One of the engine's actors stopped by itself (a bug): the process ends at
  // once rather than stay live in the cluster doing nothing; its leases
  // expire and peers take them, and Restart=on-failure starts it again.
  auto failed = [sys = &*sys](const char* actor, const caf::error& reason) {
    spdlog::critical("event=node.failed actor={} reason=\"{}\" effect=\"exiting with status 4; "
                     "peers take its partitions when their leases expire\"",
                     actor, sys->render(reason));
    spdlog::default_logger()->flush();
    std::_Exit(4);
  };
  eng = start_engine(*sys, s, db->conninfo, db->partitions, node_id_for(s), failed);
  auto fail = [&](const std::string& why, int code) {
    stop_engine(eng);
    server.stop();
    spdlog::critical("event=startup.failed reason=\"{}\"", why);
    std::cerr << "candled: " << why << '\n';
    return code;
  };

  auto port = server.start();
  if (!port) return fail(port.err().message, 1);

  // The cluster listener (bound to the advertised address), then membership:
  // a node id that is already running is refused here.
  pg::node_info me;
  me.id = eng.node_id;
  me.address = s.cluster.advertise;
  me.rest_url = "http://" + s.http.host + ":" + std::to_string(*port);
  me.version = CANDLE_VERSION;
  if (s.cluster.port != 0) {
    auto published = publish_actor(*sys, caf::actor_cast<node_actor>(eng.node), s.cluster.port,
                                   s.cluster.advertise.c_str());
    if (!published)
      return fail("cluster.port " + std::to_string(s.cluster.port) + " on " + s.cluster.advertise +
                      ": " + sys->render(published.error()),
                  2);
    me.cluster_port = *published;
  }
  // The console listener: loopback only (state-changing commands are taken
  // from loopback consoles; mutual TLS comes with the security work).
  console_options co;
  co.node_id = eng.node_id;
  co.version = CANDLE_VERSION;
  co.rest_url = me.rest_url;
  co.partitions = db->partitions;
  co.started = ctx.started;
  co.clock = eng.clock;
  co.rules = eng.rules;
  co.db = eng.db;
  co.events = eng.events;
  co.delivery = eng.delivery;
  co.node = eng.node;
  co.loopback = true;
  co.admin_token = s.admin.token;
  eng.console = spawn_console(*sys, std::move(co)); // no handle may outlive sys
  watch(caf::actor_cast<caf::strong_actor_ptr>(eng.console), "console", eng.on_failure);
  if (s.console.port != 0) {
    auto published = publish_actor(*sys, eng.console, s.console.port, "127.0.0.1");
    if (!published)
      return fail("console.port " + std::to_string(s.console.port) +
                      " on 127.0.0.1: " + sys->render(published.error()),
                  2);
    me.console_port = *published;
  }
  auto member = std::make_shared<pg::membership>(
      db->conninfo, me, std::chrono::duration_cast<std::chrono::milliseconds>(s.cluster.lease_ttl));
  if (auto joined = member->join(); !joined)
    return fail(joined.err().message, joined.err().code == errc::conflict ? 2 : 1);
  // A simulated clock is the cluster's: a node joining live nodes takes it,
  // the first node sets it.
  if (eng.clock->is_simulated()) {
    try {
      auto theirs = member->live_peers() > 0 ? member->clock() : std::nullopt;
      if (theirs) {
        eng.clock->adopt_anchor(theirs->sim_ms, theirs->at_ms, theirs->speed,
                                std::chrono::steady_clock::now());
        spdlog::info("event=cluster.clock_adopted now={} speed={}",
                     format_instant(eng.clock->now(std::chrono::steady_clock::now())),
                     theirs->speed);
      } else {
        auto now = eng.clock->now(std::chrono::steady_clock::now());
        member->set_clock(now.time_since_epoch().count(), eng.clock->speed());
      }
    } catch (const std::exception& e) {
      return fail(std::string{"cluster clock: "} + e.what(), 1);
    }
  }
  join_engine(*sys, eng, member);
  std::cout << "candled ready: rest=http://" << s.http.host << ':' << *port << " console="
            << (me.console_port == 0 ? std::string{"off"}
                                     : "127.0.0.1:" + std::to_string(me.console_port))
            << " cluster="
            << (me.cluster_port == 0 ? std::string{"off"}
                                     : s.cluster.advertise + ":" + std::to_string(me.cluster_port))
            << " tls=" << (tls.on() ? "mutual" : "off") << " admin="
            << (!s.admin.token.empty() ? "token"
                : ctx.http_loopback    ? "loopback"
                                       : "refused(no admin.token)")
            << " node=" << eng.node_id << " db=" << db->description
            << " clock=" << describe_clock(s) << std::endl;
  spdlog::info("event=startup rest=http://{}:{} cluster_port={} console_port={} db={} "
               "partitions={} clock={} "
               "node={} pid={}",
               s.http.host, *port, me.cluster_port, me.console_port, db->description,
               db->partitions, describe_clock(s), eng.node_id, ::getpid());

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("event=shutdown signal={}", sig == SIGINT ? "SIGINT" : "SIGTERM");
  // Stop taking work, then hand every partition over: in-flight sends finish
  // and are recorded, leases go back, peers hear of it and take over.
  server.stop();
  auto started = std::chrono::steady_clock::now();
  auto handoff_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(s.email.timeout) +
                         std::chrono::seconds{10};
  // A node that cannot hand off or release its leases (the database went
  // away first) still exits: its leases run out by themselves within the
  // TTL. Bounded by the hand-off's timeout plus one lease TTL, or at once on
  // a second signal.
  shutdown_watchdog watchdog{
      signals,
      handoff_timeout + std::chrono::duration_cast<std::chrono::milliseconds>(s.cluster.lease_ttl)};
  auto handed_off = leave_engine(*sys, eng, handoff_timeout);
  spdlog::info("event=shutdown.handed_off complete={} ms={}", handed_off,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count());
  stop_engine(eng);
  sys.reset();          // waits for actors to finish
  db->embedded.reset(); // fast shutdown of the embedded server
  spdlog::info("event=stopped");
  return 0;
}
