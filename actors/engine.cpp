#include "actors/engine.hpp"

#include "actors/delivery.hpp"
#include "actors/events.hpp"
#include "actors/lease_keeper.hpp"
#include "actors/member.hpp"
#include "actors/node.hpp"
#include "actors/persistence.hpp"
#include "actors/records_keeper.hpp"
#include "persistence/membership.hpp"

#include <random>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace candle {

std::string random_node_id() {
  char host[256] = "node";
  gethostname(host, sizeof host - 1);
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%06x", rd() & 0xffffff);
  return std::string{host} + "-" + std::to_string(getpid()) + "-" + suffix;
}

std::shared_ptr<engine_clock> make_clock(const settings& s) {
  if (s.clock.mode != "simulated") return std::make_shared<engine_clock>(engine_clock::system());
  auto start = clock_start_of(s).value_or(
      date::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()));
  return std::make_shared<engine_clock>(
      engine_clock::simulated(start, s.clock.speed, std::chrono::steady_clock::now()));
}

// DELIVERY's options from the settings (email.*, smtp.*).
delivery_options delivery_options_of(const settings& s, const engine& e) {
  delivery_options dopt;
  dopt.url = s.email.url;
  dopt.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(s.email.timeout);
  dopt.max_in_flight = s.email.max_in_flight;
  dopt.breaker_threshold = s.email.breaker_threshold;
  dopt.breaker_cooldown =
      std::chrono::duration_cast<std::chrono::milliseconds>(s.email.breaker_cooldown);
  dopt.paused = s.email.paused;
  dopt.rate = s.email.rate;
  dopt.batch_api = s.email.api == "batch";
  if (s.email.transport == "smtp") {
    dopt.smtp.enabled = true;
    dopt.smtp.url = s.smtp.url;
    dopt.smtp.user = s.smtp.user;
    // Checked readable at start-up; the password is never logged.
    dopt.smtp.password = smtp_password_of(s).ok() ? *smtp_password_of(s) : std::string{};
    dopt.smtp.from = s.smtp.from;
    dopt.smtp.ca = s.smtp.ca;
    dopt.smtp.starttls_optional = s.smtp.starttls == "optional";
    dopt.batch_api = false;
  }
  dopt.events = e.events;
  dopt.batch_size = s.email.batch_size;
  dopt.user_agent = std::string{"candled/"} + CANDLE_VERSION + " (node " + e.node_id + ")";
  dopt.chunk_hint = std::min<size_t>(partition_options{}.delivery_chunk,
                                     std::max<size_t>(1, capacity_of(dopt) / 2));
  return dopt;
}

// A partition's options but its id, seed, delivery chunk and lease keeper.
partition_options partition_options_of(const settings& s, const engine& e) {
  partition_options o;
  o.clock = e.clock;
  o.db = e.db;
  o.delivery = e.delivery;
  o.lookahead = std::chrono::duration_cast<std::chrono::milliseconds>(s.schedule.lookahead);
  o.recovery_window =
      std::chrono::duration_cast<std::chrono::milliseconds>(s.schedule.recovery_window);
  o.claim_ahead = std::chrono::duration_cast<std::chrono::milliseconds>(s.schedule.claim_ahead);
  o.max_attempts = s.email.max_attempts;
  o.rules = e.rules;
  o.lease_ttl = std::chrono::duration_cast<std::chrono::seconds>(s.cluster.lease_ttl).count();
  o.fences = e.fences;
  return o;
}

engine start_engine(caf::actor_system& sys, const settings& s, const std::string& conninfo,
                    int32_t partitions, std::string node_id, failure_handler on_failure) {
  engine e;
  e.node_id = std::move(node_id);
  e.partitions = partitions;
  e.clock = make_clock(s);
  schedule_rules rules;
  for (const auto& o : default_rules().occasions)
    rules.occasions.push_back({o.name, send_at_of(s, o.name)});
  rules.feb29 = feb29_of(s);
  e.rules = rules;
  persistence_options po;
  po.conninfo = conninfo;
  po.rules = rules;
  po.workers = s.db.connections;
  e.db = spawn_persistence(sys, po);
  e.events = spawn_events(sys, po);
  auto dopt = delivery_options_of(s, e);
  auto fences = std::make_shared<fence_table>(static_cast<size_t>(partitions));
  e.fences = fences;
  dopt.fences = fences;
  e.delivery = spawn_delivery(sys, dopt);
  node_options no;
  no.id = e.node_id;
  no.partitions = partitions;
  no.delivery = e.delivery;
  no.partition = partition_options_of(s, e);
  auto& o = no.partition;
  lease_keeper_options ko;
  ko.conninfo = conninfo;
  ko.node = e.node_id;
  ko.lease_ttl = o.lease_ttl;
  ko.fences = fences;
  e.keeper = spawn_lease_keeper(sys, std::move(ko));
  o.keeper = e.keeper;
  records_keeper_options ro;
  ro.conninfo = conninfo;
  ro.keep_years = s.records.keep_years;
  ro.clock = e.clock;
  e.records = spawn_records_keeper(sys, std::move(ro));
  // A chunk is answered whole: at most half the in-flight bound, so the
  // in-doubt bound (2 x in flight less a chunk) always lets a started chunk
  // finish.
  o.delivery_chunk = dopt.chunk_hint;
  e.node = spawn_node(sys, std::move(no));
  e.on_failure = std::move(on_failure);
  auto strong = [](const auto& h) { return caf::actor_cast<caf::strong_actor_ptr>(h); };
  watch(strong(e.db), "persistence", e.on_failure);
  watch(strong(e.events), "events", e.on_failure);
  watch(strong(e.delivery), "delivery", e.on_failure);
  watch(strong(e.keeper), "lease_keeper", e.on_failure);
  watch(strong(e.records), "records_keeper", e.on_failure);
  watch(strong(e.node), "node", e.on_failure);
  return e;
}

void watch(const caf::strong_actor_ptr& actor, const char* name, failure_handler f) {
  if (!actor || !f) return;
  actor->get()->attach_functor([name, f = std::move(f)](const caf::error& reason) {
    if (reason && reason != caf::exit_reason::user_shutdown) f(name, reason);
  });
}

void join_engine(caf::actor_system& sys, engine& e, std::shared_ptr<pg::membership> m) {
  e.member = spawn_member(sys, std::move(m), e.node, e.clock);
  watch(caf::actor_cast<caf::strong_actor_ptr>(e.member), "member", e.on_failure);
  attach_member(e.node, e.member);
}

bool leave_engine(caf::actor_system& sys, engine& e, std::chrono::milliseconds timeout) {
  bool handed_off = false;
  caf::scoped_actor self{sys};
  if (e.node)
    self->request(e.node, timeout, atom::leave::value)
        .receive([&](bool ok) { handed_off = ok; },
                 [&](caf::error& err) {
                   spdlog::warn("event=shutdown.handoff_incomplete error=\"{}\"", sys.render(err));
                 });
  // Partitions that did not hand off in time still hold fence slots: they
  // close before the session ends, as peers may take those leases at once.
  if (e.fences) e.fences->close_all();
  if (e.member)
    self->request(e.member, std::chrono::seconds{5}, atom::leave::value)
        .receive([](bool) {}, [](caf::error&) {});
  e.member = nullptr;
  return handed_off;
}

void stop_engine(engine& e) {
  if (e.console) caf::anon_send_exit(e.console, caf::exit_reason::user_shutdown);
  if (e.member) caf::anon_send_exit(e.member, caf::exit_reason::user_shutdown);
  if (e.node) caf::anon_send_exit(e.node, caf::exit_reason::user_shutdown);
  if (e.delivery) caf::anon_send_exit(e.delivery, caf::exit_reason::user_shutdown);
  if (e.db) caf::anon_send_exit(e.db, caf::exit_reason::user_shutdown);
  if (e.keeper) caf::anon_send_exit(e.keeper, caf::exit_reason::user_shutdown);
  if (e.records) caf::anon_send_exit(e.records, caf::exit_reason::user_shutdown);
  if (e.events) caf::anon_send_exit(e.events, caf::exit_reason::user_shutdown);
  e.console = nullptr;
  e.member = nullptr;
  e.node = nullptr;
  e.delivery = nullptr;
  e.db = nullptr;
  e.keeper = nullptr;
  e.records = nullptr;
  e.events = nullptr;
}

} // namespace candle
