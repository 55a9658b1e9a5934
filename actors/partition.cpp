#include "actors/partition.hpp"

#include "core/cluster_plan.hpp"
#include "core/metrics.hpp"

#include <spdlog/spdlog.h>

namespace candle {

namespace {

using self_ptr = partition_actor::stateful_pointer<partition_state>;
using namespace std::chrono;

constexpr auto db_retry = seconds{1};      // real time between tries when the database fails
constexpr int64_t late_after_ms = 60'000;  // sent later than this after its due instant: late
constexpr auto redrive_grace = seconds{1}; // a redrive's tell before its notification's sweep

int64_t now_ms(self_ptr self) {
  auto t = self->state.opts.clock->now(self->clock().now());
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

sys_millis as_instant(int64_t ms) {
  return sys_millis{milliseconds{ms}};
}

// What the behavior below calls; all of it is defined after the behavior.
void acquire(self_ptr self);
bool owning(self_ptr self);
void upsert(self_ptr self, const user& u, int64_t now);
void forget_user(self_ptr self, const std::string& user_id);
void feed(self_ptr self);
void process(self_ptr self);
void arm(self_ptr self);
void close_fence(self_ptr self);
void sweep(self_ptr self);
void ask_sweep(self_ptr self);
caf::result<audit_report> audit(self_ptr self);
void on_changes(self_ptr self);
bool resume(self_ptr self, occurrence&& o);
void lease_lost(self_ptr self, int64_t epoch);
caf::result<bool> hand_off(self_ptr self);
partition_status status_of(self_ptr self);
occurrence_list upcoming(self_ptr self, uint64_t n);
// Called before their definitions by the helpers.
void reschedule_newer(self_ptr self, const occurrence_list& batch);
void confirm_held(self_ptr self, occurrence_list held);

} // namespace

partition_actor::behavior_type partition(partition_actor::stateful_pointer<partition_state> self,
                                         partition_options opts) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.rng.seed(st.opts.seed ^ static_cast<uint64_t>(st.opts.id));
  st.stats.id = st.opts.id;
  // Whatever this partition added to the node's gauges leaves with it.
  st.gauges->fences = st.opts.fences;
  self->attach_functor([g = st.gauges, id = st.opts.id] {
    if (g->fences) g->fences->close(id, g->epoch);
    auto& m = metrics::global();
    m.queued.add({}, -static_cast<double>(g->queued));
    if (g->owned) m.partitions_owned.add({}, -1);
  });
  acquire(self);
  return {
      // A partition that is not (or no longer) scheduling answers false: the
      // router looks again, and the change feed brings the write to
      // whoever owns the partition once loaded.
      [self](atom::upsert, user& u) {
        if (!owning(self)) return false;
        upsert(self, u, now_ms(self));
        return true;
      },
      [self](atom::upsert, user_list& us) {
        if (!owning(self)) return false;
        auto now = now_ms(self);
        for (const auto& u : us)
          upsert(self, u, now);
        return true;
      },
      [self](atom::remove, std::string& user_id) {
        if (!owning(self)) return false;
        forget_user(self, user_id);
        arm(self);
        return true;
      },
      [self](atom::changes) { on_changes(self); },
      [self](atom::sweep) { ask_sweep(self); },
      [self](atom::resume, occurrence& o) { return resume(self, std::move(o)); },
      [self](atom::tick) {
        self->state.armed_for.reset();
        process(self);
      },
      [self](atom::renew, int64_t epoch) { lease_lost(self, epoch); },
      [self](atom::handoff) { return hand_off(self); },
      [self](atom::status) { return status_of(self); },
      [self](atom::audit) { return audit(self); },
      [self](atom::upcoming, uint64_t n) { return upcoming(self, n); },
  };
}

// -- how it works -----------------------------------------------------------------

namespace {

// The MEMBER actor saw this partition's change feed move (or the poll came
// due): read it, then sweep.
void on_changes(self_ptr self) {
  auto& s = self->state;
  // A deferred read's timer (or anything after its time) ends the deferral.
  if (s.feed_deferred && self->clock().now() >= s.last_feed + s.opts.feed_gap)
    s.feed_deferred = false;
  s.feed_wanted = true;
  feed(self);
  sweep(self);
}

// A redriven greeting, sent again from the queue (false while it is busy).
bool resume(self_ptr self, occurrence&& o) {
  auto& s = self->state;
  if (s.busy.count(o.key)) return false;
  s.resumed.insert(o.key);
  s.queue.upsert(std::move(o));
  arm(self);
  return true;
}

// The lease keeper could not renew the lease at `epoch`: nothing more is sent.
void lease_lost(self_ptr self, int64_t epoch) {
  auto& s = self->state;
  if (epoch != s.epoch) return; // an earlier epoch's, or handed off meanwhile
  close_fence(self);
  if (s.draining) s.handoff.deliver(false);
  self->quit(make_error(errc::refused, "partition lease lost"));
}

// The NODE actor hands this partition to a peer: in-flight work finishes,
// what waits in delivery comes back, the lease goes back (finish_handoff).
caf::result<bool> hand_off(self_ptr self) {
  auto& s = self->state;
  if (s.draining) { // already on its way out
    auto again = self->make_response_promise<bool>();
    again.deliver(true);
    return again;
  }
  spdlog::info("event=partition.handoff partition={} epoch={}", s.opts.id, s.epoch);
  s.draining = true;
  s.handoff = self->make_response_promise<bool>();
  auto rp = s.handoff;
  // What waits in delivery's queue (not on the wire) comes back at once.
  self->send(s.opts.delivery, atom::withdraw::value, s.opts.id, s.epoch);
  process(self);
  return rp;
}

partition_status status_of(self_ptr self) {
  auto& s = self->state;
  auto out = s.stats;
  out.epoch = s.epoch;
  out.queued = s.queue.size() + s.held.size();
  // Busy keys, and outcomes being written (or to be written again) of
  // keys no longer busy: a checked greeting is both until its row is in.
  out.in_flight = s.busy.size() - s.held.size();
  for (const auto& k : s.recording_keys)
    out.in_flight += s.busy.count(k) == 0;
  for (const auto& o : s.unrecorded)
    out.in_flight += s.busy.count(o.key) == 0;
  auto next = s.queue.next_due();
  if (auto h = s.held.next_due()) next = next ? std::min(*next, *h) : *h;
  out.next_due = next.value_or(0);
  out.window_end = s.window_end;
  return out;
}

// The first `n` greetings due here, queued or claimed ahead.
occurrence_list upcoming(self_ptr self, uint64_t n) {
  auto& s = self->state;
  auto out = s.queue.earliest(n);
  auto held = s.held.earliest(n);
  out.insert(out.end(), held.begin(), held.end());
  due_queue::keep_earliest(out, n);
  return out;
}

// -- self-fencing ---------------------------------------------------------------

caf::actor_clock::time_point fence_at(self_ptr self) {
  auto& st = self->state;
  return fence_deadline(st.lease_start, milliseconds{st.opts.lease_ttl * 1000});
}

// The lease ran from the start of its last successful renewal; past the
// deadline it may have expired and been taken over, whatever this process
// believes (it may just have been paused). Nothing more leaves from here.
// The deadline is the fence slot's, which the LEASE KEEPER moves after each
// renewal (and which closes when this partition fences).
bool lease_may_have_expired(self_ptr self) {
  auto& st = self->state;
  return !st.opts.fences->may_send(st.opts.id, st.epoch, self->clock().now());
}

// No more renewals for this epoch (handed off or fenced).
void forget_lease(self_ptr self) {
  auto& st = self->state;
  if (st.epoch != 0) self->anon_send(st.opts.keeper, atom::unlease::value, st.opts.id, st.epoch);
}

// Publishes the lease deadline for delivery (after the lease is taken; the
// keeper moves it after each renewal).
void open_fence(self_ptr self) {
  auto& st = self->state;
  st.gauges->epoch = st.epoch;
  st.opts.fences->open(st.opts.id, st.epoch, fence_at(self));
}

void close_fence(self_ptr self) {
  auto& st = self->state;
  st.opts.fences->close(st.opts.id, st.epoch);
}

void fence(self_ptr self) {
  auto& st = self->state;
  close_fence(self);
  forget_lease(self);
  spdlog::warn("event=partition.fenced partition={} epoch={} reason=\"the lease may have expired;"
               " nothing more is sent\"",
               st.opts.id, st.epoch);
  if (st.draining) st.handoff.deliver(false);
  self->quit(make_error(errc::refused, "partition lease may have expired (self-fenced)"));
}

// -- hand-off -------------------------------------------------------------------

// Once nothing is in flight (claims, sends, outcome writes, releases of
// claims taken ahead), the lease goes back and peers are notified. Claims
// taken ahead and not sent stay `claimed` at this epoch: the next owner
// resumes them at their instant with the same key, and nothing was sent.
void finish_handoff(self_ptr self) {
  auto& st = self->state;
  if (!st.draining || st.epoch == 0) return;
  if (lease_may_have_expired(self)) return fence(self);
  auto in_flight = st.busy.size() - st.held.size();
  if (in_flight > 0 || st.recording > 0 || !st.unrecorded.empty() || !st.releases.empty() ||
      !st.unreleased.empty()) {
    self->delayed_send(self, milliseconds{20}, atom::tick::value);
    return;
  }
  close_fence(self);
  forget_lease(self);
  auto epoch = std::exchange(st.epoch, 0); // once
  self->request(st.opts.db, seconds{5}, atom::unlease::value, st.opts.id, st.opts.node, epoch)
      .then(
          [self](bool released) {
            spdlog::info("event=partition.handed_off partition={} released={}", self->state.opts.id,
                         released);
            self->state.handoff.deliver(true);
            self->quit();
          },
          [self](caf::error& e) {
            // The lease runs out by itself; peers take it after its TTL.
            spdlog::warn("event=partition.release_lease_failed partition={} error=\"{}\"",
                         self->state.opts.id, self->system().render(e));
            self->state.handoff.deliver(false);
            self->quit(e);
          });
}

// One timer, for the earliest of: the next due entry, the moment to refill
// the window. A frozen clock arms nothing: a clock change sends a tick.
void arm(self_ptr self) {
  auto& st = self->state;
  auto queued = static_cast<int64_t>(st.queue.size() + st.held.size());
  metrics::global().queued.add({}, static_cast<double>(queued - st.gauges->queued));
  st.gauges->queued = queued;
  if (!st.ready) return;
  auto lookahead = st.opts.lookahead.count();
  std::optional<int64_t> target;
  if (!st.refilling) target = st.window_end - lookahead / 2;
  auto earliest = [&](int64_t t) { target = target ? std::min(*target, t) : t; };
  if (auto next = st.queue.next_due()) earliest(*next - st.opts.claim_ahead.count());
  if (auto next = st.held.next_due()) earliest(*next);
  if (!target) return;
  auto generation = st.opts.clock->generation();
  if (st.armed_for && *st.armed_for <= *target && st.armed_generation == generation) return;
  auto delay = st.opts.clock->real_delay_until(as_instant(*target), self->clock().now());
  if (!delay) {
    st.armed_for.reset();
    return;
  }
  if (*delay == nanoseconds::zero())
    self->send(self, atom::tick::value); // due now: no timer round trip
  else
    self->delayed_send(self, *delay, atom::tick::value);
  st.armed_for = *target;
  st.armed_generation = generation;
}

void retry_soon(self_ptr self) {
  self->delayed_send(self, db_retry, atom::tick::value);
}

void record(self_ptr self, outcome_list outcomes) {
  if (outcomes.empty()) return;
  auto& st = self->state;
  st.recording += outcomes.size();
  for (const auto& o : outcomes) {
    st.recording_keys.insert(o.key);
    if (!o.user_id.empty()) st.unwritten.emplace(o.key, o.due_at);
  }
  auto done = [self, outcomes] {
    for (const auto& o : outcomes)
      self->state.recording_keys.erase(o.key);
  };
  self->request(st.opts.db, caf::infinite, atom::record::value, st.opts.id, st.epoch, outcomes)
      .then(
          [self, outcomes, n = outcomes.size(), epoch = st.epoch, done](key_list&) {
            done();
            // A greeting sent without a claim is known to the database from
            // now on (a retry went back to the queue already).
            for (const auto& o : outcomes) {
              if (o.user_id.empty()) continue;
              self->state.unwritten.erase(o.key);
              if (o.status != status::retrying) self->state.busy.erase(o.key);
            }
            self->state.recording -= n;
            // Delivery counted them in the fence slot when it answered (see
            // delivery.hpp: what is sent but unrecorded is bounded).
            self->state.opts.fences->doubt(self->state.opts.id, epoch, -static_cast<int64_t>(n));
            if (self->state.draining) finish_handoff(self);
          },
          [self, outcomes, done](caf::error& e) mutable {
            done();
            self->state.recording -= outcomes.size();
            spdlog::warn("event=partition.record_failed partition={} n={} error=\"{}\"",
                         self->state.opts.id, outcomes.size(), self->system().render(e));
            auto& un = self->state.unrecorded;
            un.insert(un.end(), outcomes.begin(), outcomes.end());
            retry_soon(self);
          });
}

// Turns delivery results into outcomes: sent, dead, or a retry that goes
// back into the queue with its backoff (and is reclaimed when it fires).
void on_attempts(self_ptr self, const occurrence_list& batch, const attempt_list& results) {
  auto& st = self->state;
  auto now = now_ms(self);
  std::unordered_map<std::string, const attempt*> by_key;
  for (const auto& r : results)
    by_key.emplace(r.key, &r);
  outcome_list outcomes;
  int64_t withdrawn = 0;
  for (auto o : batch) {
    // Checked, not claimed: the outcome is the greeting's first row, and
    // the key stays busy until it is written (record()).
    bool unclaimed = st.unclaimed.erase(o.key) > 0;
    auto result = [&](const char* s, const std::string& error, int64_t next) {
      outcome out{o.key, s, error, next, now};
      if (unclaimed) {
        out.user_id = o.user_id;
        out.occasion = o.occasion;
        out.year = o.year;
        out.due_at = o.due_at;
        out.email = o.email;
      }
      return out;
    };
    if (!unclaimed) st.busy.erase(o.key);
    st.resumed.erase(o.key);
    auto it = by_key.find(o.key);
    attempt a = it != by_key.end()
                    ? *it->second
                    : attempt{o.key, attempt::transient, "no result from delivery", 0};
    auto tries = o.attempts + 1;
    auto& m = metrics::global();
    if (a.result == attempt::withdrawn) {
      // Taken back while handing off: never sent, still `claimed` at this
      // epoch (or, checked, without a record). Nothing to record; the next
      // owner resumes or loads it.
      st.busy.erase(o.key);
      ++withdrawn;
    } else if (a.result == attempt::sent) {
      outcomes.push_back(result(status::sent, "", 0));
      ++st.stats.sent;
      m.greetings.add({o.occasion, "sent"});
      m.lateness.observe({o.occasion}, static_cast<double>(now - o.due_at) / 1000.0);
      if (now - o.due_at > late_after_ms) {
        ++st.stats.late;
        spdlog::info("event=greeting.late key={} late_ms={}", o.key, now - o.due_at);
      }
    } else if (a.result == attempt::permanent || tries >= static_cast<int>(st.opts.max_attempts)) {
      outcomes.push_back(result(status::dead, a.error, 0));
      ++st.stats.dead;
      m.greetings.add({o.occasion, "dead"});
      spdlog::warn("event=greeting.dead key={} attempts={} error=\"{}\"", o.key, tries, a.error);
    } else {
      std::uniform_real_distribution<double> u01{0.0, 1.0};
      auto wait = std::max(retry_delay_ms(tries, u01(st.rng)), a.retry_after_ms);
      o.attempts = tries;
      o.next_attempt_at = now + wait;
      outcomes.push_back(result(status::retrying, a.error, o.next_attempt_at));
      st.busy.erase(o.key); // back in the queue: its next try reclaims the row
      st.resumed.insert(o.key);
      st.queue.upsert(std::move(o));
      ++st.stats.retried;
      m.greetings.add({o.occasion, "retried"});
    }
  }
  // Delivery counted the whole batch in the fence slot when it answered;
  // what is withdrawn is not in doubt and will not be recorded.
  if (withdrawn > 0 && st.epoch != 0) st.opts.fences->doubt(st.opts.id, st.epoch, -withdrawn);
  record(self, std::move(outcomes));
  arm(self);
  if (withdrawn > 0 && st.draining) finish_handoff(self);
}

// Hands claimed greetings to delivery in chunks of `delivery_chunk`: each
// chunk's outcomes are recorded as soon as it is answered, which bounds what
// a crash leaves answered-but-unrecorded (resent with the same key).
void deliver(self_ptr self, occurrence_list all) {
  auto& st = self->state;
  if (all.empty()) return;
  if (lease_may_have_expired(self)) return fence(self);
  auto chunk = std::max<size_t>(1, st.opts.delivery_chunk);
  for (size_t i = 0; i < all.size(); i += chunk) {
    occurrence_list batch(std::make_move_iterator(all.begin() + static_cast<ptrdiff_t>(i)),
                          std::make_move_iterator(all.begin() + static_cast<ptrdiff_t>(std::min(
                                                                    all.size(), i + chunk))));
    for (auto& o : batch) // delivery judges each greeting by its partition's fence slot
      o.partition = st.opts.id;
    self->request(st.opts.delivery, caf::infinite, atom::send::value, batch, st.epoch)
        .then([self, batch](attempt_list& results) { on_attempts(self, batch, results); },
              [self, batch](caf::error& e) {
                attempt_list failed;
                for (const auto& o : batch)
                  failed.push_back({o.key, attempt::transient, self->system().render(e), 0});
                on_attempts(self, batch, failed);
              });
  }
}

// Greetings claimed here: those whose instant has not come wait in `held`;
// the rest are sent now or, while handing off, held too (they stay
// `claimed`, nothing was sent: the next owner sends them).
void dispatch_claimed(self_ptr self, occurrence_list claimed) {
  auto& st = self->state;
  auto at = now_ms(self);
  occurrence_list due;
  for (auto& o : claimed)
    if (st.draining || due_queue::fire_at(o) > at)
      st.held.upsert(std::move(o));
    else
      due.push_back(std::move(o));
  deliver(self, std::move(due));
}

// Claims (or reclaims) a batch; only what the database grants is delivered.
void claim(self_ptr self, occurrence_list batch, bool reclaim, int64_t now) {
  auto& st = self->state;
  auto granted = [self, batch, reclaim](key_list& keys) {
    std::unordered_set<std::string> ok(keys.begin(), keys.end());
    occurrence_list claimed;
    for (const auto& o : batch) {
      if (ok.count(o.key)) {
        if (!reclaim) metrics::global().greetings.add({o.occasion, "claimed"});
        claimed.push_back(o);
      } else // already recorded (sent, cancelled, …), user changed, or not ours any more
        self->state.busy.erase(o.key), self->state.resumed.erase(o.key);
    }
    reschedule_newer(self, batch);
    dispatch_claimed(self, std::move(claimed));
    arm(self);
  };
  auto failed = [self, batch](caf::error& e) {
    spdlog::warn("event=partition.claim_failed partition={} n={} error=\"{}\"", self->state.opts.id,
                 batch.size(), self->system().render(e));
    for (const auto& o : batch) {
      self->state.busy.erase(o.key);
      self->state.queue.upsert(o); // try again
    }
    reschedule_newer(self, batch);
    retry_soon(self);
  };
  if (reclaim) {
    key_list keys;
    for (const auto& o : batch)
      keys.push_back(o.key);
    self->request(st.opts.db, caf::infinite, atom::reclaim::value, st.opts.id, st.epoch, keys, now)
        .then(granted, failed);
  } else {
    self->request(st.opts.db, caf::infinite, atom::claim::value, st.opts.id, st.epoch, batch, now)
        .then(granted, failed);
  }
}

// Fresh greetings at their instant, without a claim (schedule.claim-ahead
// 0): one read checks each (no record yet, its user as computed, the lease
// current), what passes goes to delivery, and its outcome is its one row.
// Until that row is written the key stays busy, so no refill, edit or sweep
// schedules it again.
void check_and_send(self_ptr self, occurrence_list batch, int64_t now) {
  if (batch.empty()) return;
  auto& st = self->state;
  self->request(st.opts.db, caf::infinite, atom::check::value, st.opts.id, st.epoch, batch, now)
      .then(
          [self, batch](key_list& keys) {
            auto& s = self->state;
            std::unordered_set<std::string> ok(keys.begin(), keys.end());
            occurrence_list go;
            for (const auto& o : batch) {
              if (ok.count(o.key) && !s.draining) {
                metrics::global().greetings.add({o.occasion, "claimed"});
                s.unclaimed.insert(o.key);
                go.push_back(o);
              } else { // recorded, user changed, suppressed, not ours, or handing off
                s.busy.erase(o.key);
              }
            }
            reschedule_newer(self, batch);
            deliver(self, std::move(go));
            if (s.draining) finish_handoff(self);
            arm(self);
          },
          [self, batch](caf::error& e) {
            spdlog::warn("event=partition.check_failed partition={} n={} error=\"{}\"",
                         self->state.opts.id, batch.size(), self->system().render(e));
            for (const auto& o : batch) {
              self->state.busy.erase(o.key);
              self->state.queue.upsert(o); // try again
            }
            reschedule_newer(self, batch);
            retry_soon(self);
          });
}

void release(self_ptr self, occurrence_list released);
void schedule_user(self_ptr self, const user& u, int64_t now);

// Users whose newer version came while one of their greetings was being
// claimed (schedule_user leaves busy keys alone): scheduled again from it
// once the claim is answered, so a claim refused because the user row moved
// on is followed by the greeting the new row asks for.
void reschedule_newer(self_ptr self, const occurrence_list& batch) {
  auto& st = self->state;
  if (st.newer.empty()) return;
  auto now = now_ms(self);
  for (const auto& o : batch) {
    auto it = st.newer.find(o.user_id);
    if (it == st.newer.end()) continue;
    auto u = std::move(it->second);
    st.newer.erase(it);
    // Only while it is the newest version heard of (an older one must not
    // replace what a later one scheduled).
    if (auto v = st.versions.find(u.id); v != st.versions.end() && u.updated_at < v->second)
      continue;
    schedule_user(self, u, now);
  }
}

// Schedules a user's current version: recomputes their occurrences in the
// window and replaces what the queue held for them. Pending retries keep
// their attempts and backoff; greetings being claimed, delivered or given
// back (busy) are left alone.
void schedule_user(self_ptr self, const user& u, int64_t now) {
  auto& s = self->state;
  auto end = s.ready ? s.window_end : now + s.opts.lookahead.count();
  auto computed = occurrences_in(u, s.opts.rules, now - s.opts.recovery_window.count(), end);
  // Claimed ahead and waiting for their instant: the same instant keeps
  // its claim (with the new address and name); another instant, or
  // none, gives the claim back first and is rescheduled after.
  occurrence_list released;
  for (auto& h : s.held.remove_user(u.id)) {
    auto c = std::find_if(computed.begin(), computed.end(),
                          [&](const occurrence& o) { return o.key == h.key; });
    if (c != computed.end() && c->due_at == h.due_at) {
      h.email = c->email;
      h.message = c->message;
      h.first_name = c->first_name;
      h.last_name = c->last_name;
      h.version = c->version;
      s.held.upsert(std::move(h));
    } else {
      released.push_back(std::move(h));
    }
  }
  if (auto r = s.releases.find(u.id); r != s.releases.end()) r->second.latest = u;
  if (!released.empty()) {
    auto& r = s.releases[u.id];
    r.latest = u;
    r.pending += released.size();
    release(self, std::move(released));
  }
  // Pending retries keep their attempts and backoff; fresh entries are
  // recomputed from the new dates and zone.
  std::unordered_map<std::string, occurrence> retries;
  for (auto& o : s.queue.remove_user(u.id))
    if (s.resumed.count(o.key)) retries.emplace(o.key, std::move(o));
  for (auto& o : computed) {
    if (s.busy.count(o.key)) {
      if (!s.held.contains(o.key)) s.newer[u.id] = u; // being claimed: after its answer
      continue;
    }
    auto r = retries.find(o.key);
    if (r != retries.end()) {
      o.attempts = r->second.attempts;
      o.next_attempt_at = r->second.next_attempt_at;
      retries.erase(r);
    }
    s.queue.upsert(std::move(o));
  }
  for (auto& [k, o] : retries)
    s.queue.upsert(std::move(o));
  arm(self);
}

// Claims given back (an edit moved or removed occurrences claimed ahead) go
// back into the queue as they were and are rescheduled from the user's
// latest version, exactly as an upsert reschedules queued entries (the same
// key at its new instant, a retry keeping its attempts and backoff, a retry
// the edit no longer produces keeping its old schedule); nothing for a user
// deleted meanwhile.
void requeue_released(self_ptr self, const occurrence_list& released) {
  auto& st = self->state;
  std::unordered_map<std::string, user> latest;
  for (const auto& old : released) {
    st.busy.erase(old.key);
    auto r = st.releases.find(old.user_id);
    if (r == st.releases.end()) {
      st.resumed.erase(old.key);
      continue;
    }
    st.queue.upsert(old);
    latest.emplace(old.user_id, r->second.latest);
    if (--r->second.pending == 0) st.releases.erase(r);
  }
  auto now = now_ms(self);
  for (const auto& [id, u] : latest)
    schedule_user(self, u, now);
  process(self);
}

void release(self_ptr self, occurrence_list released) {
  if (released.empty()) return;
  auto& st = self->state;
  key_list fresh, retries;
  for (const auto& o : released)
    (st.resumed.count(o.key) ? retries : fresh).push_back(o.key);
  self->request(st.opts.db, caf::infinite, atom::release::value, st.opts.id, st.epoch, fresh,
                retries)
      .then([self, released](key_list&) { requeue_released(self, released); },
            [self, released](caf::error& e) {
              spdlog::warn("event=partition.release_failed partition={} n={} error=\"{}\"",
                           self->state.opts.id, released.size(), self->system().render(e));
              auto& un = self->state.unreleased;
              un.insert(un.end(), released.begin(), released.end());
              retry_soon(self);
            });
}

void expire(self_ptr self, occurrence_list batch, int64_t now) {
  auto& st = self->state;
  std::string reason = "missed by more than the recovery window (" +
                       std::to_string(st.opts.recovery_window.count() / 1000) + " s)";
  self->request(st.opts.db, caf::infinite, atom::expire::value, st.opts.id, st.epoch, batch, reason,
                now)
      .then(
          [self, batch](key_list& keys) {
            self->state.stats.expired += batch.size();
            std::unordered_set<std::string> done(keys.begin(), keys.end());
            for (const auto& o : batch) {
              if (done.count(o.key)) metrics::global().greetings.add({o.occasion, "expired"});
              self->state.busy.erase(o.key);
            }
          },
          [self, batch](caf::error&) {
            for (const auto& o : batch) {
              self->state.busy.erase(o.key);
              self->state.queue.upsert(o);
            }
            retry_soon(self);
          });
}

// A scanned occurrence joins the queue unless the partition already knows it
// (queued, or being claimed, delivered or expired).
void admit(self_ptr self, occurrence_list& found) {
  auto& s = self->state;
  for (auto& o : found)
    if (!s.busy.count(o.key) && !s.queue.contains(o.key)) s.queue.upsert(std::move(o));
}

void refill(self_ptr self, int64_t now) {
  auto& st = self->state;
  if (st.refilling || now < st.window_end - st.opts.lookahead.count() / 2) return;
  st.refilling = true;
  auto from = st.window_end;
  auto to = now + st.opts.lookahead.count();
  self->request(st.opts.db, caf::infinite, atom::window::value, st.opts.id, from, to)
      .then(
          [self, to](occurrence_list& found) {
            auto& s = self->state;
            admit(self, found);
            s.window_end = to;
            s.refilling = false;
            process(self);
          },
          [self](caf::error& e) {
            spdlog::warn("event=partition.refill_failed partition={} error=\"{}\"",
                         self->state.opts.id, self->system().render(e));
            self->state.refilling = false;
            retry_soon(self);
          });
}

// Everything due before the horizon has a send record: it is the earliest of
// now, the next queued entry, anything still being checked, claimed or sent,
// and outcomes of checked greetings not written yet. Written when it
// moved by a minute or more, fenced; a new owner expires what lies between it
// and now - recovery window.
void advance_horizon(self_ptr self, int64_t now) {
  auto& st = self->state;
  auto h = now;
  if (auto next = st.queue.next_due()) h = std::min(h, *next);
  for (const auto& [key, due] : st.busy)
    h = std::min(h, due);
  for (const auto& [key, due] : st.unwritten) // a checked greeting's retry, say
    h = std::min(h, due);
  if (h < st.horizon + 60'000) return;
  st.horizon = h;
  self->request(st.opts.db, caf::infinite, atom::horizon::value, st.opts.id, st.epoch, h)
      .then([](bool) {},
            [self](caf::error& e) {
              spdlog::warn("event=partition.horizon_failed partition={} error=\"{}\"",
                           self->state.opts.id, self->system().render(e));
            });
}

void upsert(self_ptr self, const user& u, int64_t now);

// Scheduling here: the lease held, the partition loaded, not handing off.
bool owning(self_ptr self) {
  return self->state.ready && !self->state.draining;
}

// A user deleted (by a message or as the change feed read it): their
// entries go; claims taken ahead were cancelled by the delete itself.
void forget_user(self_ptr self, const std::string& user_id) {
  auto& s = self->state;
  s.versions.erase(user_id);
  s.newer.erase(user_id);
  for (const auto& o : s.queue.remove_user(user_id))
    s.resumed.erase(o.key);
  for (const auto& o : s.held.remove_user(user_id)) {
    s.busy.erase(o.key);
    s.resumed.erase(o.key);
  }
  s.releases.erase(user_id);
}

// -- the change feed -------------------------------------------------------------

// Applies what the feed read: a deleted user is forgotten, a version this
// partition has applied already is skipped, anything newer is scheduled.
void apply_changes(self_ptr self, const user_list& users) {
  auto& st = self->state;
  auto now = now_ms(self);
  metrics::global().changes_read.add({}, static_cast<double>(users.size()));
  for (const auto& u : users) {
    if (u.deleted_at != 0) {
      forget_user(self, u.id);
      continue;
    }
    if (auto v = st.versions.find(u.id); v != st.versions.end() && u.updated_at <= v->second)
      continue;
    upsert(self, u, now);
  }
}

// Reads what was written to this partition's users since the cursor: every
// committed change reaches the owner this way, whatever messages were lost
// (docs/cluster.md). Asked for by notifications (through the NODE actor) and
// the NODE's periodic poll; reads at most once per feed_gap, folding the
// asks in between into one read.
void feed(self_ptr self) {
  auto& st = self->state;
  if (!st.ready || st.draining || st.feeding || st.cursor == 0 || !st.feed_wanted) return;
  auto now = self->clock().now();
  auto next = st.last_feed + st.opts.feed_gap;
  if (now < next) {
    if (!st.feed_deferred) {
      st.feed_deferred = true;
      self->delayed_send(self, next - now, atom::changes::value);
    }
    return;
  }
  st.feed_wanted = false;
  st.feeding = true;
  st.last_feed = now;
  self->request(st.opts.db, caf::infinite, atom::changes::value, st.opts.id, st.cursor)
      .then(
          [self](change_batch& b) {
            auto& s = self->state;
            s.feeding = false;
            s.cursor = std::max(s.cursor, b.cursor);
            if (s.draining) return finish_handoff(self);
            apply_changes(self, b.users);
            process(self);
            feed(self);
          },
          [self](caf::error& e) {
            auto& s = self->state;
            s.feeding = false;
            s.feed_wanted = true; // read again: the cursor did not move
            spdlog::warn("event=partition.changes_failed partition={} error=\"{}\"", s.opts.id,
                         self->system().render(e));
            if (!s.feed_deferred) {
              s.feed_deferred = true;
              self->delayed_send(self, db_retry, atom::changes::value);
            }
          });
}

// -- the sweep ------------------------------------------------------------------

// True while something here will still act on `key`: queued, held, being
// claimed, confirmed, sent, released or expired, or its outcome being written.
bool knows(self_ptr self, const std::string& key) {
  auto& st = self->state;
  if (st.busy.count(key) || st.queue.contains(key) || st.held.contains(key) ||
      st.recording_keys.count(key))
    return true;
  for (const auto& o : st.unrecorded)
    if (o.key == key) return true;
  for (const auto& o : st.unreleased)
    if (o.key == key) return true;
  return false;
}

// Finds unfinished records (claimed up to this epoch, or retrying) that no
// queue here holds, and finishes them: a claim whose answer was lost, a
// retry nobody scheduled. The sweep runs on this partition's worker after
// every write it asked for before it, and a write asked for after it is
// answered after it, so a key unknown when the answer arrives has nobody
// else to finish it. Each repair is counted: 0 in a healthy cluster.
void sweep(self_ptr self);

void sweep_again_if_asked(self_ptr self) {
  auto& s = self->state;
  if (!std::exchange(s.sweep_again, false)) return;
  s.next_sweep = self->clock().now();
  sweep(self);
}

void sweep(self_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (!st.ready || st.draining || now < st.next_sweep) return;
  if (st.sweeping) { // it may have read before what asked for this one committed
    st.sweep_again = true;
    return;
  }
  st.sweeping = true;
  st.next_sweep = now + st.opts.sweep_every;
  self->request(st.opts.db, caf::infinite, atom::sweep::value, st.opts.id, st.epoch)
      .then(
          [self](occurrence_list& found) {
            auto& s = self->state;
            s.sweeping = false;
            if (s.draining) return;
            occurrence_list ours_now;
            for (auto& o : found) {
              if (knows(self, o.key)) continue;
              // store::unfinished: a claimed record has no retry instant.
              bool ours = o.next_attempt_at == 0 && o.owner_epoch == s.epoch;
              const char* kind = ours ? "claimed" : o.next_attempt_at != 0 ? "retrying" : "stale";
              metrics::global().reconcile_repairs.add({kind});
              spdlog::warn("event=reconcile.repair partition={} kind={} key={} owner_epoch={}",
                           s.opts.id, kind, o.key, o.owner_epoch);
              if (ours) { // claimed at this epoch already: send it at its instant
                s.busy.emplace(o.key, o.due_at);
                ours_now.push_back(std::move(o));
              } else { // reclaimed like any record resumed at take-over
                s.resumed.insert(o.key);
                s.queue.upsert(std::move(o));
              }
            }
            dispatch_claimed(self, std::move(ours_now));
            arm(self);
            sweep_again_if_asked(self);
          },
          [self](caf::error& e) {
            self->state.sweeping = false;
            spdlog::warn("event=partition.sweep_failed partition={} error=\"{}\"",
                         self->state.opts.id, self->system().render(e));
            sweep_again_if_asked(self);
          });
}

// A redrive committed records of this partition (its notification, through
// the NODE): sweep once the grace has passed. The redrive's own tell normally
// arrives within it, so a sweep finds nothing to repair in a healthy
// cluster; when the tell was lost, the sweep takes the records in. Asks
// within the grace are folded into one sweep: it reads after all of them
// committed (each notification is sent at its commit).
void ask_sweep(self_ptr self) {
  auto& st = self->state;
  auto now = self->clock().now();
  if (st.sweep_asked_at == caf::actor_clock::time_point{}) {
    st.sweep_asked_at = now + redrive_grace;
    self->delayed_send(self, redrive_grace, atom::sweep::value);
    return;
  }
  if (now < st.sweep_asked_at) return; // within the grace: folded
  st.sweep_asked_at = {};
  st.next_sweep = std::min(st.next_sweep, now);
  sweep(self);
}

// What this partition should be doing and is not: occurrences due in the
// recovery window with no record that it does not hold, and unfinished
// records it does not hold. Each read runs on this partition's worker after
// every write asked for before it (see sweep()), so what is unknown when its
// answer arrives has nobody here to finish it.
caf::result<audit_report> audit(self_ptr self) {
  auto& st = self->state;
  if (!owning(self)) return audit_report{};
  auto rp = self->make_response_promise<audit_report>();
  auto now = now_ms(self);
  auto failed = [self, rp](caf::error& e) mutable {
    spdlog::warn("event=partition.audit_failed partition={} error=\"{}\"", self->state.opts.id,
                 self->system().render(e));
    rp.deliver(audit_report{});
  };
  self->request(st.opts.db, caf::infinite, atom::window::value, st.opts.id,
                now - st.opts.recovery_window.count(), now + 1)
      .then(
          [self, rp, failed](occurrence_list& due) mutable {
            // Compared now, when the read is answered: later, a greeting
            // claimed and sent since the read would look unscheduled.
            audit_report r;
            for (const auto& o : due)
              if (!knows(self, o.key)) r.unscheduled.push_back(o.key);
            auto& s = self->state;
            self->request(s.opts.db, caf::infinite, atom::sweep::value, s.opts.id, s.epoch)
                .then(
                    [self, rp, r](occurrence_list& unfinished) mutable {
                      for (const auto& o : unfinished)
                        if (!knows(self, o.key)) r.unowned.push_back(o.key);
                      r.audited.push_back(self->state.opts.id);
                      rp.deliver(std::move(r));
                    },
                    failed);
          },
          failed);
  return rp;
}

// -- claims taken ahead, at their instant ------------------------------------------

// Claims taken ahead whose record is no longer ours as claimed, or whose
// user changed: the user's row decides. Deleted: the delete cancelled them.
// Changed: scheduled from the new row (the same instant keeps its claim
// with the new address and name, another gives it back). Unchanged: the
// record moved on without us (not ours any more): dropped.
void recheck_held(self_ptr self, const occurrence_list& doubtful) {
  auto& st = self->state;
  std::vector<std::string> ask;
  for (const auto& o : doubtful) {
    auto& list = st.rechecking[o.user_id];
    if (list.empty()) ask.push_back(o.user_id);
    list.push_back(o);
  }
  for (const auto& id : ask) {
    self->request(st.opts.db, caf::infinite, atom::get::value, id)
        .then(
            [self, id](user& u) {
              auto& s = self->state;
              auto waiting = std::exchange(s.rechecking[id], {});
              s.rechecking.erase(id);
              bool changed = false;
              for (auto& o : waiting) {
                if (u.updated_at != o.version) {
                  changed = true;
                  s.held.upsert(std::move(o)); // rescheduled below
                  continue;
                }
                s.busy.erase(o.key);
                s.resumed.erase(o.key);
                spdlog::warn("event=partition.held_dropped partition={} key={} reason=\"the "
                             "record is no longer claimed here\"",
                             s.opts.id, o.key);
              }
              if (changed) upsert(self, u, now_ms(self));
              process(self);
            },
            [self, id](caf::error& e) {
              auto& s = self->state;
              auto waiting = std::exchange(s.rechecking[id], {});
              s.rechecking.erase(id);
              if (e.category() == caf::atom("candle") &&
                  e.code() == static_cast<uint8_t>(errc::not_found)) {
                // Deleted: the delete cancelled the records.
                for (const auto& o : waiting) {
                  s.busy.erase(o.key);
                  s.resumed.erase(o.key);
                }
                forget_user(self, id);
                return arm(self);
              }
              spdlog::warn("event=partition.recheck_failed partition={} user={} error=\"{}\"",
                           s.opts.id, id, self->system().render(e));
              for (auto& o : waiting) // checked again when they fire
                s.held.upsert(std::move(o));
              retry_soon(self);
            });
  }
}

// Claims taken ahead come due: sent only while still `claimed` here with
// their user as claimed, so a delete or a move committed since the claim is
// never greeted from this memory, whatever messages were lost.
void confirm_held(self_ptr self, occurrence_list ready) {
  auto& st = self->state;
  self->request(st.opts.db, caf::infinite, atom::confirm::value, st.opts.id, st.epoch, ready)
      .then(
          [self, ready](key_list& keys) {
            auto& s = self->state;
            std::unordered_set<std::string> ok(keys.begin(), keys.end());
            occurrence_list go, doubtful;
            for (const auto& o : ready)
              (ok.count(o.key) ? go : doubtful).push_back(o);
            dispatch_claimed(self, std::move(go));
            if (!doubtful.empty()) recheck_held(self, doubtful);
            if (s.draining) finish_handoff(self);
            arm(self);
          },
          [self, ready](caf::error& e) {
            spdlog::warn("event=partition.confirm_failed partition={} n={} error=\"{}\"",
                         self->state.opts.id, ready.size(), self->system().render(e));
            for (const auto& o : ready)
              self->state.held.upsert(o);
            retry_soon(self);
          });
}

void process(self_ptr self) {
  auto& st = self->state;
  if (st.draining) {
    if (!st.unrecorded.empty()) record(self, std::exchange(st.unrecorded, {}));
    if (!st.unreleased.empty()) release(self, std::exchange(st.unreleased, {}));
    return finish_handoff(self);
  }
  if (!st.ready) return;
  auto now = now_ms(self);
  if (!st.unrecorded.empty()) record(self, std::exchange(st.unrecorded, {}));
  if (!st.unreleased.empty()) release(self, std::exchange(st.unreleased, {}));
  refill(self, now);
  if (auto ready = st.held.pop_due(now, st.held.size()); !ready.empty())
    confirm_held(self, std::move(ready));
  for (;;) {
    auto due = st.queue.pop_due(now + st.opts.claim_ahead.count(), st.opts.batch);
    if (due.empty()) break;
    occurrence_list fresh, again, late;
    for (auto& o : due) {
      st.busy.emplace(o.key, o.due_at);
      if (st.resumed.count(o.key))
        again.push_back(std::move(o));
      else if (now - o.due_at > st.opts.recovery_window.count())
        late.push_back(std::move(o));
      else
        fresh.push_back(std::move(o));
    }
    if (st.opts.claim_ahead.count() == 0)
      check_and_send(self, std::move(fresh), now);
    else
      claim(self, std::move(fresh), false, now);
    claim(self, std::move(again), true, now);
    if (!late.empty()) expire(self, std::move(late), now);
  }
  advance_horizon(self, now);
  arm(self);
}

// After downtime: occurrences due between the recorded horizon and now -
// recovery window were missed for good. Record them `expired` (in batches)
// so nothing is silently dropped.
void expire_missed(self_ptr self) {
  auto& st = self->state;
  self->request(st.opts.db, caf::infinite, atom::horizon::value, st.opts.id)
      .then(
          [self](int64_t h) {
            auto& s = self->state;
            auto cutoff = now_ms(self) - s.opts.recovery_window.count();
            s.horizon = std::max(s.horizon, h);
            if (h <= 0 || h >= cutoff) return;
            self->request(s.opts.db, caf::infinite, atom::window::value, s.opts.id, h, cutoff)
                .then(
                    [self](occurrence_list& missed) {
                      auto now = now_ms(self);
                      auto batch = self->state.opts.batch;
                      for (size_t i = 0; i < missed.size(); i += batch) {
                        occurrence_list part(missed.begin() + i,
                                             missed.begin() + std::min(missed.size(), i + batch));
                        for (const auto& o : part)
                          self->state.busy.emplace(o.key, o.due_at);
                        expire(self, std::move(part), now);
                      }
                      if (!missed.empty())
                        spdlog::warn("event=partition.expired_after_downtime partition={} n={}",
                                     self->state.opts.id, missed.size());
                    },
                    [self](caf::error& e) {
                      spdlog::warn("event=partition.expiry_scan_failed partition={} error=\"{}\"",
                                   self->state.opts.id, self->system().render(e));
                    });
          },
          [self](caf::error& e) {
            spdlog::warn("event=partition.horizon_failed partition={} error=\"{}\"",
                         self->state.opts.id, self->system().render(e));
          });
}

void load_records(self_ptr self);

// Initial load after the lease: the feed's cursor, records to resume, then
// the window from recovery_window ago to lookahead ahead.
void load(self_ptr self) {
  auto& st = self->state;
  // The feed's cursor is taken before anything is read: whatever commits
  // from now on is read from the feed, what committed before is in the
  // window below.
  self->request(st.opts.db, caf::infinite, atom::changes::value, st.opts.id, int64_t{0})
      .then(
          [self](change_batch& b) {
            self->state.cursor = b.cursor;
            load_records(self);
          },
          [self](caf::error& e) { self->quit(e); });
}

void load_records(self_ptr self) {
  auto& st = self->state;
  self->request(st.opts.db, caf::infinite, atom::resume::value, st.opts.id, st.epoch)
      .then(
          [self](occurrence_list& resumable) {
            auto& s = self->state;
            for (auto& o : resumable) {
              s.resumed.insert(o.key);
              s.queue.upsert(std::move(o));
            }
            expire_missed(self);
            auto now = now_ms(self);
            auto from = now - s.opts.recovery_window.count();
            auto to = now + s.opts.lookahead.count();
            self->request(s.opts.db, caf::infinite, atom::window::value, s.opts.id, from, to)
                .then(
                    [self, to](occurrence_list& found) {
                      auto& s2 = self->state;
                      admit(self, found);
                      s2.window_end = to;
                      s2.ready = true;
                      s2.next_sweep = self->clock().now() + s2.opts.sweep_every;
                      spdlog::info("event=partition.ready partition={} epoch={} queued={}",
                                   s2.opts.id, s2.epoch, s2.queue.size());
                      process(self);
                      feed(self); // what was heard while loading
                    },
                    [self](caf::error& e) { self->quit(e); });
          },
          [self](caf::error& e) { self->quit(e); });
}

// Takes the partition's lease. Without it a partition schedules nothing:
// when another node holds it (or the database cannot be reached) the actor
// stops, and the NODE actor decides on its next round whether to try again.
void acquire(self_ptr self) {
  auto& st = self->state;
  auto started = self->clock().now();
  self->request(st.opts.db, seconds{std::max<int64_t>(1, st.opts.lease_ttl / 2)},
                atom::lease::value, st.opts.id, st.opts.node, st.opts.lease_ttl)
      .then(
          [self, started](int64_t epoch) {
            if (epoch == 0) {
              spdlog::info("event=partition.lease_held_elsewhere partition={}",
                           self->state.opts.id);
              if (self->state.draining) self->state.handoff.deliver(false);
              return self->quit(make_error(errc::refused, "partition lease held by another node"));
            }
            self->state.lease_start = started;
            if (self->state.epoch == 0 && !self->state.gauges->owned) {
              self->state.gauges->owned = true;
              metrics::global().partitions_owned.add({}, 1);
            }
            self->state.epoch = epoch;
            open_fence(self);
            self->anon_send(self->state.opts.keeper, atom::renew::value, self->state.opts.id, epoch,
                            caf::actor_cast<caf::actor>(self));
            if (self->state.draining) return finish_handoff(self);
            load(self);
          },
          [self](caf::error& e) {
            // The node's next round decides whether to try again.
            spdlog::warn("event=partition.lease_failed partition={} error=\"{}\"",
                         self->state.opts.id, self->system().render(e));
            if (self->state.draining) self->state.handoff.deliver(false);
            self->quit(e);
          });
}

// A user created or changed: its entries recomputed, unless a newer version
// of it was applied already (REST writes reach partitions from different
// actors, so an older version can arrive after a newer one).
void upsert(self_ptr self, const user& u, int64_t now) {
  auto& s = self->state;
  if (auto v = s.versions.find(u.id); v != s.versions.end() && u.updated_at < v->second) return;
  if (s.versions.size() >= 4096)
    for (auto it = s.versions.begin(); it != s.versions.end();)
      it = it->second < now - 60'000 ? s.versions.erase(it) : std::next(it);
  s.versions[u.id] = u.updated_at;
  if (auto n = s.newer.find(u.id); n != s.newer.end() && n->second.updated_at <= u.updated_at)
    s.newer.erase(n); // superseded: this version is scheduled now
  schedule_user(self, u, now);
}

} // namespace

} // namespace candle
