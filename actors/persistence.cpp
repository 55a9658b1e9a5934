#include "actors/persistence.hpp"

#include "actors/db_session.hpp"
#include "core/cluster_plan.hpp"
#include "core/metrics.hpp"

#include <iterator>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>

namespace candle {

namespace {

struct worker_state : db_session {
  static constexpr const char* name = "persistence-worker";
};

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
  return make_error(errc::overloaded, "persistence queue full (" + std::to_string(st.limit) +
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
            promise.deliver(make_error(errc::internal, "create: no result"));
          else if ((*r)[i].created)
            promise.deliver((*r)[i].u);
          else
            promise.deliver(make_error(errc::duplicate,
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

} // namespace

persistence_actor spawn_persistence(caf::actor_system& sys, persistence_options opts) {
  return sys.spawn(front, std::move(opts));
}

} // namespace candle
