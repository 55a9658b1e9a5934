#include "actors/events.hpp"

#include "actors/db_session.hpp"
#include "core/metrics.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace candle {

namespace {

struct events_state {
  static constexpr const char* name = "events";
  db_session io; // its connection and the retry loop of the persistence workers
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
      w.rp.deliver(make_error(errc::unavailable, "shutting down"));
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

} // namespace candle
