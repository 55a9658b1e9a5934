#include "actors/delivery.hpp"

#include "core/breaker.hpp"
#include "core/metrics.hpp"
#include "core/rate_limit.hpp"
#include "net/provider_client.hpp"

#include <deque>
#include <spdlog/spdlog.h>
#include <unordered_map>

namespace candle {

namespace {

const char* const fenced_error = "not sent: the partition's lease may have expired (fenced)";

struct batch_state {
  caf::typed_response_promise<attempt_list> rp;
  attempt_list results;
  size_t left = 0;
};

struct item {
  uint64_t batch;
  uint32_t index;
  occurrence o;
  int64_t epoch; // the sender's lease epoch, 0 = not fenced (tests, tools)
};

struct delivery_state {
  static constexpr const char* name = "delivery";
  delivery_options opts;
  std::unique_ptr<net::provider_client> client;
  std::unique_ptr<breaker> br;
  std::unordered_map<uint64_t, batch_state> batches;
  std::deque<item> waiting;
  uint64_t next_batch = 1;
  size_t in_flight = 0;
  bool paused = false;
  int64_t paused_until = 0; // the cluster pause's end (wall ms), for status
  std::string paused_by;
  bool tick_armed = false;
  bool doubt_poll = false; // a look again while held back by the in-doubt bound
  size_t answered = 0;     // answers in batches not complete yet
  token_bucket bucket;     // email.rate: this node's share
  bool rate_tick_armed = false;
};

// This node's pace now (its share follows the partitions it owns).
send_pace pace_now(const delivery_state& st) {
  if (st.opts.rate <= 0 || !st.opts.fences) return {};
  return pace_for(st.opts.rate, st.opts.fences->open_count(std::chrono::steady_clock::now()),
                  st.opts.fences->partitions());
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Sent (or being sent) and not yet recorded by their partitions.
bool too_much_in_doubt(const delivery_state& st) {
  if (!st.opts.in_doubt) return false;
  auto unrecorded = static_cast<int64_t>(st.in_flight + st.answered) + st.opts.in_doubt->load();
  // One chunk of slack below twice the bound: answers on their way to a
  // partition are counted by nobody for a moment.
  auto cap = 2 * static_cast<int64_t>(st.opts.max_in_flight) -
             static_cast<int64_t>(std::max<size_t>(1, st.opts.chunk_hint));
  return unrecorded >= std::max<int64_t>(1, cap);
}

using self_ptr = delivery_control_actor::stateful_pointer<delivery_state>;

// How long the greetings waiting take at this node's pace (0 without a limit).
double drain_seconds(const delivery_state& st, const send_pace& pace) {
  return pace.per_second > 0 ? static_cast<double>(st.waiting.size()) / pace.per_second : 0;
}

delivery_status status_of(self_ptr self) {
  auto& st = self->state;
  auto pace = pace_now(st);
  return {st.paused,         to_string(st.br->current(breaker::clock::now())),
          st.in_flight,      st.opts.max_in_flight,
          st.waiting.size(), st.br->probes(),
          st.paused_until,   st.paused_by,
          pace.per_second,   drain_seconds(st, pace)};
}

void publish_gauges(self_ptr self) {
  auto& st = self->state;
  auto& m = metrics::global();
  m.provider_in_flight.set({}, static_cast<double>(st.in_flight));
  m.delivery_waiting.set({}, static_cast<double>(st.waiting.size()));
  m.delivery_drain.set({}, drain_seconds(st, pace_now(st)));
  m.delivery_paused.set({}, st.paused ? 1 : 0);
  auto s = st.br->current(breaker::clock::now());
  m.breaker_state.set({}, s == breaker::state::closed ? 0 : s == breaker::state::open ? 1 : 2);
}

void pump(self_ptr self);

delivery_status set_paused(self_ptr self, bool on, int64_t until, std::string by) {
  auto& st = self->state;
  if (st.paused != on)
    spdlog::warn("event=delivery.{} waiting={} by=\"{}\"", on ? "paused" : "resumed",
                 st.waiting.size(), by);
  st.paused = on;
  st.paused_until = on ? until : 0;
  st.paused_by = on ? std::move(by) : std::string{};
  pump(self);
  return status_of(self);
}

// Starts what may start: not paused, under the bound, within the rate,
// admitted by the breaker. A greeting whose partition's lease may have
// expired while it waited is answered "fenced" at once and spends neither a
// token nor a probe.
void pump(self_ptr self) {
  auto& st = self->state;
  auto handle = caf::actor_cast<caf::actor>(self);
  auto pace = pace_now(st);
  int64_t rate_wait_ms = 0;
  while (!st.paused && !st.waiting.empty() && st.in_flight < st.opts.max_in_flight &&
         !too_much_in_doubt(st)) {
    auto& next = st.waiting.front();
    std::function<bool()> may_send;
    if (st.opts.fences && next.epoch != 0) {
      may_send = [f = st.opts.fences, p = next.o.partition, e = next.epoch] {
        return f->may_send(p, e, std::chrono::steady_clock::now());
      };
      if (!may_send()) {
        auto it = std::move(next);
        st.waiting.pop_front();
        ++st.in_flight;
        caf::anon_send(handle, atom::done::value, it.batch, it.index,
                       attempt{it.o.key, attempt::transient, fenced_error, 0});
        continue;
      }
    }
    // The token is taken only once the breaker lets the greeting go.
    auto bucket = st.bucket;
    if (pace.per_second > 0 &&
        (rate_wait_ms = take_token(bucket, steady_ms(), pace.per_second, pace.burst)) > 0)
      break;
    if (!st.br->admit(breaker::clock::now())) break;
    st.bucket = bucket;
    auto it = std::move(next);
    st.waiting.pop_front();
    ++st.in_flight;
    auto key = it.o.key;
    st.client->post(std::move(it.o.key), std::move(it.o.email), std::move(it.o.message),
                    std::move(may_send),
                    [handle, batch = it.batch, index = it.index, key](net::provider_answer a) {
                      attempt r;
                      r.key = key;
                      r.result = a.result == net::provider_answer::sent        ? attempt::sent
                                 : a.result == net::provider_answer::permanent ? attempt::permanent
                                                                               : attempt::transient;
                      r.error = a.fenced ? fenced_error : std::move(a.error);
                      r.retry_after_ms = a.retry_after_ms;
                      metrics::global().provider_duration.observe(
                          {r.result == attempt::sent        ? "sent"
                           : r.result == attempt::permanent ? "permanent"
                                                            : "transient"},
                          a.seconds);
                      caf::anon_send(handle, atom::done::value, batch, index, std::move(r));
                    });
  }
  // Held back by the rate: look again when the next token is there.
  if (rate_wait_ms > 0 && !st.rate_tick_armed) {
    st.rate_tick_armed = true;
    self->delayed_send(self, std::chrono::milliseconds{rate_wait_ms}, atom::tick::value);
  }
  // Held back until partitions record outcomes: they do not tell us, look again.
  if (!st.paused && !st.waiting.empty() && !st.doubt_poll && too_much_in_doubt(st)) {
    st.doubt_poll = true;
    self->delayed_send(self, std::chrono::milliseconds{2}, atom::tick::value);
  }
  // An open breaker with greetings waiting: look again when it half-opens.
  auto now = breaker::clock::now();
  if (!st.paused && !st.waiting.empty() && !st.tick_armed &&
      st.br->current(now) == breaker::state::open) {
    st.tick_armed = true;
    self->delayed_send(self, st.br->reopens_at() - now, atom::tick::value);
  }
  publish_gauges(self);
}

} // namespace

delivery_control_actor::behavior_type delivery(self_ptr self, delivery_options opts) {
  auto& init = self->state;
  init.opts = std::move(opts);
  init.opts.max_in_flight = std::max<size_t>(1, init.opts.max_in_flight);
  init.paused = init.opts.paused;
  init.client = std::make_unique<net::provider_client>(
      init.opts.url, init.opts.timeout, init.opts.max_in_flight, init.opts.user_agent);
  init.br = std::make_unique<breaker>(init.opts.breaker_threshold, init.opts.breaker_cooldown,
                                      init.opts.breaker_max_cooldown);
  publish_gauges(self);
  return {
      [self](atom::send, occurrence_list& batch, int64_t epoch) -> caf::result<attempt_list> {
        auto& st = self->state;
        if (batch.empty()) return attempt_list{};
        auto id = st.next_batch++;
        auto& b = st.batches[id];
        b.rp = self->make_response_promise<attempt_list>();
        b.results.resize(batch.size());
        b.left = batch.size();
        for (uint32_t i = 0; i < batch.size(); ++i)
          st.waiting.push_back({id, i, std::move(batch[i]), epoch});
        auto rp = b.rp;
        pump(self);
        return rp;
      },
      [self](atom::done, uint64_t batch, uint32_t index, attempt& a) {
        auto& st = self->state;
        --st.in_flight;
        auto now = breaker::clock::now();
        auto before = st.br->current(now);
        if (a.error != fenced_error) { // a fenced greeting says nothing about the provider
          if (a.result == attempt::transient)
            st.br->failure(now);
          else
            st.br->success();
        }
        auto after = st.br->current(now);
        if (before != after)
          spdlog::warn("event=delivery.breaker state={} error=\"{}\"", to_string(after), a.error);
        auto it = st.batches.find(batch);
        if (it != st.batches.end()) {
          it->second.results[index] = std::move(a);
          ++st.answered;
          if (--it->second.left == 0) {
            // From here the partition counts them, until it has recorded them.
            st.answered -= it->second.results.size();
            it->second.rp.deliver(std::move(it->second.results));
            st.batches.erase(it);
          }
        }
        pump(self);
      },
      [self](atom::tick) {
        self->state.tick_armed = false;
        self->state.doubt_poll = false;
        self->state.rate_tick_armed = false;
        pump(self);
      },
      [self](atom::pause, bool on) { return set_paused(self, on, 0, {}); },
      [self](atom::pause, bool on, int64_t until, std::string& by) {
        return set_paused(self, on, until, std::move(by));
      },
      [self](atom::status) { return status_of(self); },
  };
}

delivery_control_actor spawn_delivery(caf::actor_system& sys, delivery_options opts) {
  // Detached: the provider client's callbacks only enqueue messages, but the
  // actor must never wait behind CAF's workers when they are busy.
  return sys.spawn<caf::detached>(delivery, std::move(opts));
}

} // namespace candle
