#include "actors/persistence.hpp"

#include "core/cluster_plan.hpp"
#include "core/metrics.hpp"

#include <iterator>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <spdlog/spdlog.h>
#include <thread>

namespace candle {

namespace {

ec ec_of(errc e) {
  switch (e) {
  case errc::not_found:
    return ec::not_found;
  case errc::conflict:
    return ec::conflict;
  case errc::duplicate:
    return ec::duplicate;
  case errc::unavailable:
    return ec::unavailable;
  case errc::refused:
    return ec::refused;
  default:
    return ec::invalid;
  }
}

// Errors that mean "the connection is gone": retry on a new one. Class 08 is
// connection exceptions; 57P0x is the server shutting down or starting up.
bool connection_trouble(const pqxx::sql_error& e) {
  auto state = e.sqlstate();
  // No SQLSTATE: libpq made the error up itself because the server went
  // away mid-statement ("server closed the connection unexpectedly"; pqxx
  // 6.4 throws that as sql_error, not broken_connection, when it happens
  // while a result is read). A server-sent error always has one.
  return state.empty() || state.rfind("08", 0) == 0 || state.rfind("57P0", 0) == 0;
}

// A statement (with its commit) this slow is logged: what a lease renewal
// or a claim waited for is then in the node's log, not guessed.
constexpr auto slow_statement = std::chrono::seconds{1};

struct worker_state {
  static constexpr const char* name = "persistence-worker";
  std::unique_ptr<pg::store> db;
  persistence_options opts;

  // Runs `f(store, lost)` until it succeeds, the error is not about the
  // connection, or retry_for has passed. `lost` tells `f` that an earlier
  // try may have committed without our knowing, so it must reconcile.
  template <class F> auto attempt(const char* what, F f) -> caf::expected<decltype(f(*db, false))> {
    auto deadline = std::chrono::steady_clock::now() + opts.retry_for;
    auto pause = std::chrono::milliseconds{50};
    bool lost = false;
    for (;;) {
      std::string problem;
      try {
        auto started = std::chrono::steady_clock::now();
        auto r = f(*db, lost);
        auto took = std::chrono::steady_clock::now() - started;
        if (took >= slow_statement) {
          spdlog::warn("event=db.slow op={} ms={}", what,
                       std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
        }
        return r;
      } catch (const pqxx::broken_connection& e) {
        problem = e.what();
      } catch (const pqxx::in_doubt_error& e) {
        problem = e.what();
      } catch (const pqxx::sql_error& e) {
        if (!connection_trouble(e)) {
          spdlog::error("event=db.error op={} sqlstate={} error=\"{}\"", what, e.sqlstate(),
                        e.what());
          db->reset(); // the transaction is unusable; start clean
          return make_error(ec::internal, std::string{what} + ": " + e.what());
        }
        problem = e.what();
      } catch (const std::exception& e) {
        spdlog::error("event=db.error op={} error=\"{}\"", what, e.what());
        db->reset();
        return make_error(ec::internal, std::string{what} + ": " + e.what());
      }
      lost = true;
      db->reset();
      if (std::chrono::steady_clock::now() + pause > deadline) {
        spdlog::warn("event=db.unavailable op={} error=\"{}\"", what, problem);
        return make_error(ec::unavailable, "database unreachable: " + problem);
      }
      spdlog::debug("event=db.retry op={} error=\"{}\"", what, problem);
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds{1000});
    }
  }
};

// A worker's answer: the value, or the error that ended the attempt.
template <class T> caf::result<T> finish(caf::expected<T>&& x) {
  if (x) return std::move(*x);
  return std::move(x.error());
}

// The same for domain results, whose errors map onto ec.
template <class T> caf::result<T> finish(caf::expected<result<T>>&& x) {
  if (!x) return std::move(x.error());
  if (*x) return std::move(*x).value();
  return make_error(ec_of(x->err().code), x->err().message);
}

persistence_actor::behavior_type worker(persistence_actor::stateful_pointer<worker_state> self,
                                        persistence_options opts) {
  self->state.db = std::make_unique<pg::store>(opts.conninfo);
  self->state.opts = std::move(opts);
  auto& st = self->state;
  return {
      [&st](atom::claim, int32_t p, int64_t epoch, occurrence_list& batch, int64_t now) {
        return finish(st.attempt("claim", [&](pg::store& s, bool lost) {
          auto got = s.claim(p, epoch, batch, now);
          if (!lost) return got;
          key_list keys;
          for (const auto& o : batch)
            keys.push_back(o.key);
          return s.claimed_at_epoch(p, epoch, keys);
        }));
      },
      [&st](atom::check, int32_t p, int64_t epoch, occurrence_list& batch, int64_t now) {
        // A read; its one write (a suppressed address's record) is idempotent.
        return finish(
            st.attempt("check", [&](pg::store& s, bool) { return s.check(p, epoch, batch, now); }));
      },
      [&st](atom::record, int32_t p, int64_t epoch, outcome_list& batch) {
        // Idempotent: a replay finds the records no longer `claimed`, and
        // the rows it would insert there already.
        return finish(st.attempt(
            "record", [&](pg::store& s, bool) { return s.record_outcomes(p, epoch, batch); }));
      },
      [&st](atom::reclaim, int32_t p, int64_t epoch, key_list& keys, int64_t now) {
        return finish(st.attempt("reclaim", [&](pg::store& s, bool lost) {
          auto got = s.reclaim(p, epoch, keys, now);
          return lost ? s.claimed_at_epoch(p, epoch, keys) : got;
        }));
      },
      [&st](atom::release, int32_t p, int64_t epoch, key_list& fresh, key_list& retries) {
        // Idempotent: a replay finds the records no longer `claimed`.
        return finish(st.attempt(
            "release", [&](pg::store& s, bool) { return s.release(p, epoch, fresh, retries); }));
      },
      [&st](atom::expire, int32_t p, int64_t epoch, occurrence_list& batch, std::string& reason,
            int64_t now) {
        return finish(st.attempt("expire", [&](pg::store& s, bool) {
          return s.record_expired(p, epoch, batch, reason, now);
        }));
      },
      [&st](atom::window, int32_t p, int64_t from, int64_t to) {
        return finish(st.attempt("window", [&](pg::store& s, bool) {
          return s.load_window(p, from, to, st.opts.rules);
        }));
      },
      [&st](atom::resume, int32_t p, int64_t epoch) {
        return finish(st.attempt("resume", [&](pg::store& s, bool) {
          return s.load_resumable(p, epoch, st.opts.rules);
        }));
      },
      [&st](atom::changes, int32_t p, int64_t cursor) {
        return finish(
            st.attempt("changes", [&](pg::store& s, bool) { return s.changes(p, cursor); }));
      },
      [&st](atom::confirm, int32_t p, int64_t epoch, occurrence_list& batch) {
        return finish(
            st.attempt("confirm", [&](pg::store& s, bool) { return s.confirm(p, epoch, batch); }));
      },
      [&st](atom::sweep, int32_t p, int64_t epoch) {
        return finish(
            st.attempt("sweep", [&](pg::store& s, bool) { return s.unfinished(p, epoch); }));
      },
      [&st](atom::lease, int32_t p, std::string& node, int64_t ttl) {
        return finish(st.attempt("lease", [&](pg::store& s, bool) {
          return s.acquire_lease(p, node, std::chrono::seconds{ttl});
        }));
      },
      [&st](atom::horizon, int32_t p) {
        return finish(st.attempt("horizon", [&](pg::store& s, bool) { return s.horizon(p); }));
      },
      [&st](atom::horizon, int32_t p, int64_t epoch, int64_t to) {
        return finish(st.attempt("advance_horizon", [&](pg::store& s, bool) {
          return s.advance_horizon(p, epoch, to);
        }));
      },
      [&st](atom::unlease, int32_t p, std::string& node, int64_t epoch) {
        // Idempotent: a replay finds the lease released and reports false.
        return finish(st.attempt(
            "unlease", [&](pg::store& s, bool) { return s.release_lease(p, node, epoch); }));
      },
      [&st](atom::create, user& u) -> caf::result<user> {
        return finish(st.attempt("create", [&](pg::store& s, bool lost) {
          auto created = s.create_user(u);
          // A lost commit that did insert this very user looks like a conflict
          // on replay: recognise it by id.
          if (!created && lost && created.err().code == errc::duplicate) {
            auto existing = s.get_user(u.id);
            if (existing && existing->email == u.email) return existing;
          }
          return created;
        }));
      },
      [&st](atom::get, std::string& id) -> caf::result<user> {
        return finish(st.attempt("get", [&](pg::store& s, bool) { return s.get_user(id); }));
      },
      [&st](atom::create, user_list& us) {
        return finish(st.attempt("create_many", [&](pg::store& s, bool lost) {
          create_outcomes out;
          auto results = s.create_users(us, lost);
          for (size_t i = 0; i < us.size(); ++i)
            out.push_back(results[i] ? create_outcome{*results[i], true}
                                     : create_outcome{us[i], false});
          return out;
        }));
      },
      [&st](atom::update, user& u) -> caf::result<user> {
        return finish(st.attempt("update", [&](pg::store& s, bool) { return s.update_user(u); }));
      },
      [&st](atom::remove, std::string& id, int64_t now) -> caf::result<user> {
        return finish(
            st.attempt("remove", [&](pg::store& s, bool) { return s.delete_user(id, now); }));
      },
      [&st](atom::list, uint64_t limit, std::string& after) {
        return finish(
            st.attempt("list", [&](pg::store& s, bool) { return s.list_users(limit, after); }));
      },
      [&st](atom::records, std::string& user_id) {
        return finish(
            st.attempt("records", [&](pg::store& s, bool) { return s.records_of_user(user_id); }));
      },
      [&st](atom::by_status, std::string& status, uint64_t limit, std::string& after) {
        return finish(st.attempt("by_status", [&](pg::store& s, bool) {
          return s.records_by_status(status, limit, after);
        }));
      },
      [&st](atom::redrive, std::string& key, int64_t now) -> caf::result<occurrence> {
        return finish(
            st.attempt("redrive", [&](pg::store& s, bool) { return s.redrive(key, now); }));
      },
      [&st](atom::redrive, std::string& status, std::string& occasion, int64_t now,
            bool dry_run) -> caf::result<redrive_batch> {
        return finish(st.attempt("redrive_all", [&](pg::store& s, bool) -> result<redrive_batch> {
          auto r = s.redrive_all(status, occasion, now, dry_run);
          if (!r) return r.err();
          return redrive_batch{r->count, std::move(r->sample), std::move(r->redriven)};
        }));
      },
      [&st](atom::lookup, std::string& id_or_email) -> caf::result<user> {
        return finish(
            st.attempt("lookup", [&](pg::store& s, bool) { return s.find_user(id_or_email); }));
      },
      [&st](atom::dashboard, std::vector<int32_t>& mds) {
        return finish(st.attempt("dashboard", [&](pg::store& s, bool) {
          dashboard_rows r;
          r.groups = s.occasion_groups(mds);
          for (auto& [state, n] : s.unsent_counts()) {
            r.states.push_back(state);
            r.counts.push_back(n);
          }
          return r;
        }));
      },
      [&st](atom::ping) {
        return finish(st.attempt("ping", [&](pg::store& s, bool) {
          pqxx::nontransaction n{s.conn()};
          n.exec("SELECT 1");
          return true;
        }));
      },
  };
}

// The front: bounds the number of queued requests and routes each to a
// worker (by partition for fenced writes and scans, by user id otherwise).
struct front_state {
  static constexpr const char* name = "persistence";
  std::vector<persistence_actor> workers;
  /// Own connection for leases and pings: a renewal must never wait behind a
  /// burst's claims (a lease that expires under load restarts partitions).
  persistence_actor control;
  size_t limit = 0;
  size_t in_flight = 0;
  size_t rejected = 0;
  /// Group commit of single creates: those that arrive while earlier ones
  /// are being written wait here and go in the next statement together.
  std::vector<std::pair<user, caf::typed_response_promise<user>>> creates;
  size_t create_batches = 0; // statements of creates in flight
};

using front_pointer = persistence_actor::stateful_pointer<front_state>;

// At most this many create statements at once; the rest waits and groups.
constexpr size_t create_batches_max = 2;
// Most creates in one statement.
constexpr size_t creates_per_statement = 1000;

/// The route of lease, renewal and ping requests: the control connection,
/// outside the queue bound.
constexpr size_t control_route = static_cast<size_t>(-1);

caf::error queue_full(const front_state& st) {
  return make_error(ec::overloaded, "persistence queue full (" + std::to_string(st.limit) +
                                        " requests); try again later");
}

// Sends a request to the worker of `route` (within the queue bound) and
// gives `f` its answer or error.
template <class R, class F, class... Ts>
void relay_then(front_pointer self, size_t route, F f, Ts&&... xs) {
  auto& st = self->state;
  if (route == control_route) {
    self->request(st.control, caf::infinite, std::forward<Ts>(xs)...)
        .then([f](R& r) mutable { f(caf::expected<R>{std::move(r)}); },
              [f](caf::error& e) mutable { f(caf::expected<R>{std::move(e)}); });
    return;
  }
  if (st.in_flight >= st.limit) {
    ++st.rejected;
    f(caf::expected<R>{queue_full(st)});
    return;
  }
  ++st.in_flight;
  metrics::global().persistence_queue.add({}, 1);
  self->request(st.workers[route % st.workers.size()], caf::infinite, std::forward<Ts>(xs)...)
      .then(
          [self, f](R& r) mutable {
            --self->state.in_flight;
            metrics::global().persistence_queue.add({}, -1);
            f(caf::expected<R>{std::move(r)});
          },
          [self, f](caf::error& e) mutable {
            --self->state.in_flight;
            metrics::global().persistence_queue.add({}, -1);
            f(caf::expected<R>{std::move(e)});
          });
}

template <class R, class... Ts>
caf::typed_response_promise<R> relay(front_pointer self, size_t route, Ts&&... xs) {
  auto rp = self->make_response_promise<R>();
  relay_then<R>(
      self, route,
      [rp](caf::expected<R> r) mutable {
        if (r)
          rp.deliver(std::move(*r));
        else
          rp.deliver(std::move(r.error()));
      },
      std::forward<Ts>(xs)...);
  return rp;
}

size_t route_of(const std::string& s) {
  return std::hash<std::string>{}(s);
}

// Writes the creates waiting as one statement (one commit) and answers each
// with its own user or its own conflict; what arrives meanwhile goes next.
void flush_creates(front_pointer self) {
  auto& st = self->state;
  if (st.creates.empty() || st.create_batches >= create_batches_max) return;
  auto n = std::min(st.creates.size(), creates_per_statement);
  std::vector<std::pair<user, caf::typed_response_promise<user>>> batch(
      std::make_move_iterator(st.creates.begin()),
      std::make_move_iterator(st.creates.begin() + static_cast<ptrdiff_t>(n)));
  st.creates.erase(st.creates.begin(), st.creates.begin() + static_cast<ptrdiff_t>(n));
  user_list us;
  for (const auto& b : batch)
    us.push_back(b.first);
  ++st.create_batches;
  metrics::global().persistence_batch.observe({"create"}, static_cast<double>(us.size()));
  auto answers = std::make_shared<decltype(batch)>(std::move(batch));
  relay_then<create_outcomes>(
      self, route_of(us.front().id),
      [self, answers](caf::expected<create_outcomes> r) {
        --self->state.create_batches;
        for (size_t i = 0; i < answers->size(); ++i) {
          auto& promise = (*answers)[i].second;
          if (!r)
            promise.deliver(r.error());
          else if (i >= r->size())
            promise.deliver(make_error(ec::internal, "create: no result"));
          else if ((*r)[i].created)
            promise.deliver((*r)[i].u);
          else
            promise.deliver(make_error(ec::duplicate,
                                       "User with email " + (*r)[i].u.email + " already exists"));
        }
        flush_creates(self);
      },
      atom::create::value, std::move(us));
}

persistence_actor::behavior_type front(front_pointer self, persistence_options opts) {
  for (size_t i = 0; i < std::max<size_t>(1, opts.workers); ++i) {
    auto w = self->spawn<caf::detached>(worker, opts);
    // Linked: a worker that dies takes the front with it, and the node sees
    // one failure instead of a silently shrunken pool.
    self->link_to(w);
    self->state.workers.push_back(std::move(w));
  }
  self->state.control = self->spawn<caf::detached>(worker, opts);
  self->link_to(self->state.control);
  self->state.limit = std::max<size_t>(1, opts.queue_limit);
  self->set_exit_handler([self](caf::exit_msg& msg) { self->quit(msg.reason); });
  return {
      [self](atom::claim a, int32_t p, int64_t e, occurrence_list& b, int64_t now) {
        metrics::global().persistence_batch.observe({"claim"}, static_cast<double>(b.size()));
        return relay<key_list>(self, p, a, p, e, std::move(b), now);
      },
      [self](atom::check a, int32_t p, int64_t e, occurrence_list& b, int64_t now) {
        metrics::global().persistence_batch.observe({"check"}, static_cast<double>(b.size()));
        return relay<key_list>(self, p, a, p, e, std::move(b), now);
      },
      [self](atom::record a, int32_t p, int64_t e, outcome_list& b) {
        metrics::global().persistence_batch.observe({"record"}, static_cast<double>(b.size()));
        return relay<key_list>(self, p, a, p, e, std::move(b));
      },
      [self](atom::reclaim a, int32_t p, int64_t e, key_list& k, int64_t now) {
        metrics::global().persistence_batch.observe({"reclaim"}, static_cast<double>(k.size()));
        return relay<key_list>(self, p, a, p, e, std::move(k), now);
      },
      [self](atom::release a, int32_t p, int64_t e, key_list& fresh, key_list& retries) {
        return relay<key_list>(self, p, a, p, e, std::move(fresh), std::move(retries));
      },
      [self](atom::expire a, int32_t p, int64_t e, occurrence_list& b, std::string& why,
             int64_t now) {
        metrics::global().persistence_batch.observe({"expire"}, static_cast<double>(b.size()));
        return relay<key_list>(self, p, a, p, e, std::move(b), std::move(why), now);
      },
      [self](atom::window a, int32_t p, int64_t from, int64_t to) {
        return relay<occurrence_list>(self, p, a, p, from, to);
      },
      [self](atom::resume a, int32_t p, int64_t e) {
        return relay<occurrence_list>(self, p, a, p, e);
      },
      [self](atom::changes a, int32_t p, int64_t cursor) {
        return relay<change_batch>(self, p, a, p, cursor);
      },
      [self](atom::confirm a, int32_t p, int64_t e, occurrence_list& b) {
        return relay<key_list>(self, p, a, p, e, std::move(b));
      },
      [self](atom::sweep a, int32_t p, int64_t e) {
        return relay<occurrence_list>(self, p, a, p, e);
      },
      [self](atom::lease a, int32_t p, std::string& node, int64_t ttl) {
        return relay<int64_t>(self, control_route, a, p, std::move(node), ttl);
      },
      [self](atom::horizon a, int32_t p) { return relay<int64_t>(self, p, a, p); },
      [self](atom::horizon a, int32_t p, int64_t e, int64_t to) {
        return relay<bool>(self, p, a, p, e, to);
      },
      [self](atom::unlease a, int32_t p, std::string& node, int64_t e) {
        return relay<bool>(self, control_route, a, p, std::move(node), e);
      },
      [self](atom::create, user& u) -> caf::result<user> {
        auto& st = self->state;
        if (st.creates.size() + st.in_flight >= st.limit) {
          ++st.rejected;
          return queue_full(st);
        }
        auto rp = self->make_response_promise<user>();
        st.creates.emplace_back(std::move(u), rp);
        flush_creates(self);
        return rp;
      },
      [self](atom::create a, user_list& us) {
        auto r = us.empty() ? 0 : route_of(us.front().id);
        return relay<create_outcomes>(self, r, a, std::move(us));
      },
      [self](atom::get a, std::string& id) {
        auto r = route_of(id);
        return relay<user>(self, r, a, std::move(id));
      },
      [self](atom::update a, user& u) {
        auto r = route_of(u.id);
        return relay<user>(self, r, a, std::move(u));
      },
      [self](atom::remove a, std::string& id, int64_t now) {
        auto r = route_of(id);
        return relay<user>(self, r, a, std::move(id), now);
      },
      [self](atom::list a, uint64_t limit, std::string& after) {
        return relay<user_list>(self, 0, a, limit, std::move(after));
      },
      [self](atom::records a, std::string& id) {
        auto r = route_of(id);
        return relay<record_list>(self, r, a, std::move(id));
      },
      [self](atom::by_status a, std::string& status, uint64_t limit, std::string& after) {
        return relay<record_list>(self, 0, a, std::move(status), limit, std::move(after));
      },
      [self](atom::redrive a, std::string& key, int64_t now) {
        auto r = route_of(key.substr(0, key.find(':')));
        return relay<occurrence>(self, r, a, std::move(key), now);
      },
      [self](atom::redrive a, std::string& status, std::string& occasion, int64_t now,
             bool dry_run) {
        return relay<redrive_batch>(self, 0, a, std::move(status), std::move(occasion), now,
                                    dry_run);
      },
      [self](atom::lookup a, std::string& id_or_email) {
        return relay<user>(self, 0, a, std::move(id_or_email));
      },
      [self](atom::dashboard a, std::vector<int32_t>& mds) {
        return relay<dashboard_rows>(self, 0, a, std::move(mds));
      },
      [self](atom::ping a) { return relay<bool>(self, control_route, a); },
  };
}

// -- events ----------------------------------------------------------------------

struct events_state {
  static constexpr const char* name = "events";
  worker_state io; // its store and the retry loop of the persistence workers
  struct waiting {
    event_list events;
    caf::typed_response_promise<ingest_report> rp;
  };
  std::vector<waiting> queue;
  bool flush_sent = false;
  /// Keys whose events came when they had no record: when they came, how
  /// often their stored events were applied again since (late_events()).
  struct late_key {
    caf::actor_clock::time_point came;
    size_t tries = 0;
  };
  std::map<std::string, late_key> late;
  std::optional<caf::actor_clock::time_point> late_armed; // the timer's instant
};

using events_pointer = events_actor::stateful_pointer<events_state>;

// Most events written in one statement; the queue beyond waits for the next.
constexpr size_t events_per_statement = 4000;

// When the stored events of keys that had no record are applied again: a
// greeting's row is written with its outcome, after the provider answered,
// so its events can come first. Events committed before the row's insert
// are applied by it; one stored while the insert was in flight is seen by
// neither, and is applied here once the row is in. A key with no record
// after the last try is unknown for good (counted `unknown` already).
constexpr std::chrono::milliseconds late_event_tries[] = {
    std::chrono::milliseconds{500}, std::chrono::seconds{2}, std::chrono::seconds{10},
    std::chrono::seconds{60}};

// A key's next try: late_event_tries after its events came.
caf::actor_clock::time_point next_try(const events_state::late_key& k) {
  return k.came + late_event_tries[k.tries];
}

void arm_late(events_pointer self) {
  auto& st = self->state;
  if (st.late.empty()) return;
  auto next = caf::actor_clock::time_point::max();
  for (const auto& [key, k] : st.late)
    next = std::min(next, next_try(k));
  if (st.late_armed && *st.late_armed <= next) return; // a timer fires by then
  st.late_armed = next;
  auto now = self->clock().now();
  self->delayed_send(self,
                     std::max<caf::actor_clock::duration_type>(
                         next - now, caf::actor_clock::duration_type::zero()),
                     atom::sweep::value);
}

// Applies the stored events of the keys whose try is due, each at its own
// schedule (keys that came later do not use up an earlier key's tries).
void late_events(events_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (st.late_armed && *st.late_armed <= now) st.late_armed.reset();
  std::vector<std::string> keys;
  for (const auto& [key, k] : st.late)
    if (next_try(k) <= now) keys.push_back(key);
  if (keys.empty()) return arm_late(self);
  auto got = st.io.attempt("apply_stored_events",
                           [&](pg::store& s, bool) { return s.apply_stored_events(keys); });
  if (got && got->suppressed > 0)
    metrics::global().suppressions.add({}, static_cast<double>(got->suppressed));
  for (const auto& key : keys) { // a failed try counts too: the next one is later
    auto it = st.late.find(key);
    if ((got && got->recorded.count(key)) || ++it->second.tries >= std::size(late_event_tries))
      st.late.erase(it);
  }
  arm_late(self);
}

// Writes what is queued (up to the bound), then answers each request after
// the commit. Requests that arrive meanwhile queue in the mailbox and go in
// the next statement: one commit for however many arrived.
void flush_events(events_pointer self) {
  auto& st = self->state;
  st.flush_sent = false;
  std::vector<events_state::waiting> batch;
  size_t n = 0;
  auto take = st.queue.begin();
  while (take != st.queue.end() &&
         (batch.empty() || n + take->events.size() <= events_per_statement)) {
    n += take->events.size();
    batch.push_back(std::move(*take++));
  }
  st.queue.erase(st.queue.begin(), take);
  if (!st.queue.empty()) {
    st.flush_sent = true;
    self->send(self, atom::tick::value);
  }
  event_list all;
  all.reserve(n);
  for (const auto& w : batch)
    all.insert(all.end(), w.events.begin(), w.events.end());
  auto got = st.io.attempt("ingest_events", [&](pg::store& s, bool) {
    // A replay after a lost commit finds the stored ids and stores nothing
    // twice; their requests are answered as duplicates.
    return s.ingest_events(all);
  });
  if (!got) {
    for (auto& w : batch)
      w.rp.deliver(got.error());
    return;
  }
  auto& m = metrics::global();
  m.persistence_batch.observe({"events"}, static_cast<double>(all.size()));
  if (got->suppressed > 0) m.suppressions.add({}, static_cast<double>(got->suppressed));
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::set<std::string> counted; // an id twice in the batch is stored once
  for (auto& w : batch) {
    ingest_report r;
    for (const auto& e : w.events) {
      if (got->stored.count(e.id) && counted.insert(e.id).second) {
        ++r.stored;
        bool unknown = got->unknown.count(e.id) > 0;
        r.unknown += unknown ? 1 : 0;
        if (unknown) st.late.emplace(e.key, events_state::late_key{self->clock().now(), 0});
        m.delivery_events.add({e.type, unknown ? "unknown" : "stored"});
        m.event_lag.observe({}, std::max<double>(0, static_cast<double>(now_ms - e.at) / 1000.0));
      } else {
        ++r.duplicates;
        m.delivery_events.add({e.type, "duplicate"});
      }
    }
    w.rp.deliver(r);
  }
  arm_late(self);
}

events_actor::behavior_type events(events_pointer self, persistence_options opts) {
  self->state.io.db = std::make_unique<pg::store>(opts.conninfo);
  self->state.io.opts = std::move(opts);
  auto& st = self->state;
  // Requests taken from the mailbox and not yet written are answered, not
  // left to their callers' timeouts.
  self->set_exit_handler([self](caf::exit_msg& m) {
    for (auto& w : self->state.queue)
      w.rp.deliver(make_error(ec::unavailable, "shutting down"));
    self->state.queue.clear();
    self->quit(m.reason);
  });
  return {
      [self, &st](atom::ingest, event_list& evs) -> caf::result<ingest_report> {
        if (evs.empty()) return ingest_report{};
        auto rp = self->make_response_promise<ingest_report>();
        st.queue.push_back({std::move(evs), rp});
        if (!st.flush_sent) {
          st.flush_sent = true;
          self->send(self, atom::tick::value);
        }
        return rp;
      },
      [self](atom::tick) { flush_events(self); },
      [self](atom::sweep) { late_events(self); },
      [&st](atom::greeting, const std::string& key) {
        return finish(st.io.attempt("greeting", [&](pg::store& s, bool) -> result<greeting_detail> {
          greeting_detail d;
          auto r = s.greeting(key, d.events);
          if (!r) return r.err();
          d.record = std::move(*r);
          return d;
        }));
      },
      [&st](atom::suppress, uint64_t limit, const std::string& after) {
        return finish(st.io.attempt("suppressions", [&](pg::store& s, bool) {
          return s.suppressions(static_cast<size_t>(limit), after);
        }));
      },
      [&st](atom::unsuppress, const std::string& email) {
        return finish(
            st.io.attempt("unsuppress", [&](pg::store& s, bool) { return s.unsuppress(email); }));
      },
  };
}

} // namespace

events_actor spawn_events(caf::actor_system& sys, persistence_options opts) {
  return sys.spawn<caf::detached>(events, std::move(opts));
}

persistence_actor spawn_persistence(caf::actor_system& sys, persistence_options opts) {
  return sys.spawn(front, std::move(opts));
}

} // namespace candle
