#include "persistence/membership.hpp"

#include "persistence/cluster_sql.hpp"

#include <pqxx/pqxx>
#include <set>
#include <spdlog/spdlog.h>

namespace candle::pg {

struct membership::listener : pqxx::notification_receiver {
  listener(pqxx::connection& c, const std::string& channel, bool& flag, bool& wake)
      : pqxx::notification_receiver(c, channel), seen(flag), woken(wake) {}
  void operator()(const std::string&, int) override { seen = woken = true; }
  bool& seen;
  bool& woken;
};

// candle_changes: '<p>' for the partitions whose users a transaction wrote
// (schema v8's trigger), 'r<p>' for those whose records were redriven
// (store::redrive). Collected, not a reason for a round.
struct membership::change_listener : pqxx::notification_receiver {
  change_listener(pqxx::connection& c, std::set<int32_t>& users, std::set<int32_t>& redriven)
      : pqxx::notification_receiver(c, "candle_changes"), users(users), redriven(redriven) {}
  void operator()(const std::string& payload, int) override {
    try {
      if (!payload.empty() && payload[0] == 'r')
        redriven.insert(std::stoi(payload.substr(1)));
      else
        users.insert(std::stoi(payload));
    } catch (const std::exception&) {
    }
  }
  std::set<int32_t>& users;
  std::set<int32_t>& redriven;
};

namespace {
bool ignored_flag = false; // lease and node notifications only wake await()
} // namespace

membership::membership(std::string conninfo, node_info me, std::chrono::milliseconds ttl)
    : conninfo_(std::move(conninfo)), me_(std::move(me)), ttl_(ttl) {}

membership::~membership() = default;

// Every listener, before its connection goes: a listener outliving its
// connection UNLISTENs through freed memory when it is destroyed.
void membership::drop_listeners() {
  changes_.reset();
  pause_.reset();
  clock_.reset();
  nodes_.reset();
  leases_.reset();
}

void membership::connect() {
  drop_listeners();
  conn_ = std::make_unique<pqxx::connection>(conninfo_);
  pqxx::nontransaction{*conn_}.exec(idle_transaction_limit);
  leases_ = std::make_unique<listener>(*conn_, "candle_leases", ignored_flag, woken_);
  nodes_ = std::make_unique<listener>(*conn_, "candle_nodes", ignored_flag, woken_);
  clock_ = std::make_unique<listener>(*conn_, "candle_clock", clock_changed_, woken_);
  pause_ = std::make_unique<listener>(*conn_, "candle_pause", pause_changed_, woken_);
  changes_ = std::make_unique<change_listener>(*conn_, changed_, redriven_);
  pause_changed_ = true; // read it again after (re)connecting
}

result<bool> membership::join() {
  try {
    connect();
    pqxx::work w{*conn_};
    w.exec_params("INSERT INTO nodes (id, address) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                  me_.id, me_.address);
    auto key = w.exec_params1("SELECT lock_key FROM nodes WHERE id = $1", me_.id)[0].as<int>();
    w.commit();
    auto locked = pqxx::nontransaction{*conn_}
                      .exec_params1("SELECT pg_try_advisory_lock($1, $2)", lock_namespace, key)[0]
                      .as<bool>();
    if (!locked)
      return error{errc::conflict, "node id '" + me_.id +
                                       "' is already running (another live node holds its "
                                       "session lock); give each node its own cluster.node-id"};
    pqxx::work u{*conn_};
    u.exec_params("UPDATE nodes SET address = $2, cluster_port = $3, console_port = $4,"
                  " rest_url = $5, version = $6, started_at = now(), heartbeat_at = now()"
                  " WHERE id = $1",
                  me_.id, me_.address, static_cast<int>(me_.cluster_port),
                  static_cast<int>(me_.console_port), me_.rest_url, me_.version);
    u.exec_params("SELECT pg_notify('candle_nodes', $1)", me_.id);
    u.commit();
    return true;
  } catch (const std::exception& e) {
    conn_.reset();
    return error{errc::unavailable, std::string{"cluster membership: "} + e.what()};
  }
}

result<bool> membership::rejoin() {
  return join();
}

cluster_view membership::round() {
  if (!conn_ || !conn_->is_open()) throw pqxx::broken_connection{"membership connection lost"};
  cluster_view v;
  pqxx::work w{*conn_};
  // The heartbeat names our session lock too: a row whose lock another
  // session now holds (a restart with our id) is not ours to refresh.
  auto hb = w.exec_params("UPDATE nodes n SET heartbeat_at = now() WHERE id = $1"
                          " AND EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory'"
                          " AND k.pid = pg_backend_pid() AND k.classid = 1128353348::oid"
                          " AND k.objid = n.lock_key::oid AND k.objsubid = 2 AND k.granted)"
                          " RETURNING 1",
                          me_.id);
  if (hb.empty()) throw pqxx::broken_connection{"membership: our session lock is gone"};
  auto ttl_ms = static_cast<int64_t>(ttl_.count());
  for (const auto& r : w.exec_params(
           "SELECT id, address, cluster_port, console_port, rest_url, version,"
           " (EXTRACT(EPOCH FROM now() - heartbeat_at) * 1000)::bigint,"
           " (EXTRACT(EPOCH FROM now() - started_at) * 1000)::bigint, " CANDLE_SESSION_HELD(
               "n") " FROM nodes n WHERE heartbeat_at > now() - interval '1 hour' ORDER BY id")) {
    node_row n;
    n.info.id = r[0].as<std::string>();
    n.info.address = r[1].as<std::string>();
    n.info.cluster_port = static_cast<uint16_t>(r[2].as<int>());
    n.info.console_port = static_cast<uint16_t>(r[3].as<int>());
    n.info.rest_url = r[4].as<std::string>();
    n.info.version = r[5].as<std::string>();
    n.heartbeat_age_ms = r[6].as<int64_t>();
    n.up_ms = r[7].as<int64_t>();
    n.session = r[8].as<bool>();
    n.live = n.session && n.heartbeat_age_ms < ttl_ms;
    v.nodes.push_back(std::move(n));
  }
  for (const auto& r : w.exec("SELECT partition, coalesce(owner, ''), epoch,"
                              " (EXTRACT(EPOCH FROM expires_at - now()) * 1000)::bigint"
                              " FROM partition_leases ORDER BY partition")) {
    lease_row l;
    l.partition = r[0].as<int32_t>();
    l.owner = r[1].as<std::string>();
    l.epoch = r[2].as<int64_t>();
    l.expires_in_ms = r[3].is_null() ? -1 : r[3].as<int64_t>();
    v.leases.push_back(std::move(l));
  }
  w.commit();
  return v;
}

bool membership::await(std::chrono::milliseconds max) {
  if (!conn_ || !conn_->is_open()) return false;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(max).count();
  conn_->await_notification(static_cast<long>(us / 1'000'000), static_cast<long>(us % 1'000'000));
  return std::exchange(woken_, false);
}

std::vector<int32_t> membership::changed_partitions() {
  std::vector<int32_t> out(changed_.begin(), changed_.end());
  changed_.clear();
  return out;
}

bool membership::clock_changed() {
  return std::exchange(clock_changed_, false);
}

bool membership::pause_changed() {
  return std::exchange(pause_changed_, false);
}

std::vector<int32_t> membership::redriven_partitions() {
  std::vector<int32_t> out(redriven_.begin(), redriven_.end());
  redriven_.clear();
  return out;
}

void membership::leave() {
  try {
    if (!conn_ || !conn_->is_open()) return;
    pqxx::work w{*conn_};
    w.exec_params("DELETE FROM nodes WHERE id = $1", me_.id);
    w.exec_params("SELECT pg_notify('candle_nodes', $1)", me_.id);
    w.commit();
    drop_listeners();
    conn_.reset(); // ends the session, and the lock with it
  } catch (const std::exception& e) {
    spdlog::warn("event=cluster.leave_failed error=\"{}\"", e.what());
  }
}

std::optional<clock_anchor> membership::clock() {
  pqxx::work w{*conn_};
  auto r = w.exec("SELECT sim_ms, (EXTRACT(EPOCH FROM at) * 1000)::bigint, speed,"
                  " (sim_ms + EXTRACT(EPOCH FROM now() - at) * 1000 * speed)::bigint,"
                  " (EXTRACT(EPOCH FROM now()) * 1000)::bigint FROM cluster_clock");
  w.commit();
  if (r.empty()) return std::nullopt;
  // Re-anchored at the database's now, so a reader needs no wall clock.
  return clock_anchor{r[0][3].as<int64_t>(), r[0][4].as<int64_t>(), r[0][2].as<double>()};
}

clock_anchor membership::set_clock(int64_t sim_ms, double speed) {
  pqxx::work w{*conn_};
  auto r = w.exec_params1("INSERT INTO cluster_clock (singleton, sim_ms, at, speed)"
                          " VALUES (true, $1, now(), $2) ON CONFLICT (singleton) DO UPDATE"
                          " SET sim_ms = EXCLUDED.sim_ms, at = EXCLUDED.at, speed = EXCLUDED.speed"
                          " RETURNING (EXTRACT(EPOCH FROM at) * 1000)::bigint",
                          sim_ms, speed);
  w.exec("SELECT pg_notify('candle_clock', '')");
  w.commit();
  return {sim_ms, r[0].as<int64_t>(), speed};
}

namespace {
// Columns of cluster_pause as a pause_state, times on PostgreSQL's clock.
constexpr const char* pause_columns =
    "paused, COALESCE((EXTRACT(EPOCH FROM until) * 1000)::bigint, 0),"
    " COALESCE((EXTRACT(EPOCH FROM until - now()) * 1000)::bigint, 0), by_whom, version";

pause_state pause_of(const pqxx::row& r) {
  return {r[0].as<bool>(), r[1].as<int64_t>(), r[2].as<int64_t>(), r[3].as<std::string>(),
          r[4].as<int64_t>()};
}
} // namespace

pause_state membership::pause() {
  pqxx::work w{*conn_};
  auto r = w.exec(std::string{"SELECT "} + pause_columns + " FROM cluster_pause");
  w.commit();
  return r.empty() ? pause_state{} : pause_of(r[0]);
}

pause_state membership::set_pause(bool paused, int64_t for_ms, const std::string& by) {
  pqxx::work w{*conn_};
  auto r = w.exec_params1(
      std::string{
          "INSERT INTO cluster_pause AS p (singleton, paused, until, by_whom)"
          " VALUES (true, $1, CASE WHEN $1 AND $2::bigint > 0 THEN now() + $2::bigint * interval"
          " '1 millisecond' END, $3) ON CONFLICT (singleton) DO UPDATE SET"
          " paused = EXCLUDED.paused, until = EXCLUDED.until, by_whom = EXCLUDED.by_whom,"
          " version = p.version + 1, at = now() RETURNING "} +
          pause_columns,
      paused, for_ms, by);
  w.exec("SELECT pg_notify('candle_pause', '')");
  w.commit();
  return pause_of(r);
}

size_t membership::live_peers() {
  pqxx::work w{*conn_};
  auto r = w.exec_params1("SELECT count(*) FROM nodes n WHERE id <> $1 AND heartbeat_at > now() -"
                          " $2 * interval '1 millisecond' AND " CANDLE_SESSION_HELD("n"),
                          me_.id, static_cast<int64_t>(ttl_.count()));
  w.commit();
  return r[0].as<size_t>();
}

} // namespace candle::pg
