#include "actors/delivery.hpp"

#include "core/breaker.hpp"
#include "core/concurrency.hpp"
#include "core/mail.hpp"
#include "core/metrics.hpp"
#include "core/occasion.hpp"
#include "core/rate_limit.hpp"
#include "provider/provider_client.hpp"
#include "provider/smtp_client.hpp"

#include <algorithm>
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
  int32_t partition = 0; // the fence slot its answers are counted in
  int64_t epoch = 0;
};

struct item {
  uint64_t batch;
  uint32_t index;
  occurrence o;
  int64_t epoch; // the sender's lease epoch, 0 = not fenced (tests, tools)
};

// Where a request's answers go: (batch, index) per greeting, in order.
struct slot {
  uint64_t batch;
  uint32_t index;
};

// What an answered request says about the provider.
enum verdict : int32_t {
  answered = 0,   // it answered (2xx, or a greeting's own 4xx): healthy
  overloaded = 1, // 5xx, 408, a timeout, a refused connection
  throttled = 2,  // 429: slow down for its Retry-After
  fenced = 3,     // not sent: says nothing
};

// 429 anywhere in the answer throttles; a whole-request failure or every
// greeting failing transiently is overload; otherwise it answered.
verdict judge(const std::vector<net::provider_answer>& answers) {
  bool all_fenced = !answers.empty(), all_transient = !answers.empty();
  for (const auto& a : answers) {
    if (a.status == 429) return throttled;
    all_fenced = all_fenced && a.fenced;
    all_transient = all_transient && a.result == net::provider_answer::transient;
  }
  if (all_fenced) return fenced;
  return all_transient ? overloaded : answered;
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct delivery_state {
  static constexpr const char* name = "delivery";
  delivery_options opts;
  std::unique_ptr<net::provider_client> client;
  std::unique_ptr<net::smtp_client> smtp; // email.transport=smtp: instead of `client`
  mail::sender from;                      // smtp.from
  std::unique_ptr<breaker> br;
  std::unique_ptr<concurrency_limit> limiter;
  std::unordered_map<uint64_t, batch_state> batches;
  std::unordered_map<uint64_t, std::vector<slot>> requests; // in flight
  std::deque<item> waiting;
  uint64_t next_batch = 1;
  uint64_t next_request = 1;
  size_t in_flight = 0; // greetings in the requests in flight
  bool paused = false;
  int64_t paused_until = 0; // the cluster pause's end (wall ms), for status
  std::string paused_by;
  bool tick_armed = false;
  bool doubt_poll = false; // a look again while held back by the in-doubt bound
  size_t answered = 0;     // answers in batches not complete yet
  token_bucket bucket;     // email.rate: this node's share
  bool rate_tick_armed = false;
  int64_t throttled_until = 0; // steady ms: a 429's Retry-After
  bool throttle_tick_armed = false;
  uint64_t probe = 0; // the half-open breaker's probe request, 0 = none
};

// This node's pace now (its share follows the partitions it owns).
send_pace pace_now(const delivery_state& st) {
  if (st.opts.rate <= 0 || !st.opts.fences) return {};
  return pace_for(st.opts.rate, st.opts.fences->open_count(std::chrono::steady_clock::now()),
                  st.opts.fences->partitions());
}

// Sent (or being sent, `adding` more now) and not yet recorded by their
// partitions, at the bound.
bool too_much_in_doubt(const delivery_state& st, size_t adding = 0) {
  if (!st.opts.fences) return false;
  auto unrecorded =
      static_cast<int64_t>(st.in_flight + st.answered + adding) + st.opts.fences->in_doubt();
  // One chunk of slack below twice the bound: a chunk started under the
  // bound can always finish.
  auto cap = 2 * static_cast<int64_t>(capacity_of(st.opts)) -
             static_cast<int64_t>(std::max<size_t>(1, st.opts.chunk_hint));
  return unrecorded >= std::max<int64_t>(1, cap);
}

using self_ptr = delivery_control_actor::stateful_pointer<delivery_state>;

// How long the greetings waiting take at this node's pace (0 without a limit).
double drain_seconds(const delivery_state& st, const send_pace& pace) {
  return pace.per_second > 0 ? static_cast<double>(st.waiting.size()) / pace.per_second : 0;
}

delivery_status status_of(self_ptr self, const send_pace& pace) {
  auto& st = self->state;
  delivery_status d;
  d.paused = st.paused;
  d.breaker = to_string(st.br->current(breaker::clock::now()));
  d.in_flight = st.requests.size();
  d.max_in_flight = st.opts.max_in_flight;
  d.limit = st.limiter->limit();
  d.greetings_in_flight = st.in_flight;
  d.throttled_ms = std::max<int64_t>(0, st.throttled_until - steady_ms());
  d.waiting = st.waiting.size();
  d.probes = st.br->probes();
  d.paused_until = st.paused_until;
  d.paused_by = st.paused_by;
  d.send_rate = pace.per_second;
  d.drain_s = drain_seconds(st, pace);
  return d;
}

delivery_status status_of(self_ptr self) {
  return status_of(self, pace_now(self->state));
}

void publish_gauges(self_ptr self, const send_pace& pace) {
  auto& st = self->state;
  auto& m = metrics::global();
  m.provider_in_flight.set({}, static_cast<double>(st.requests.size()));
  m.delivery_limit.set({}, static_cast<double>(st.limiter->limit()));
  m.delivery_waiting.set({}, static_cast<double>(st.waiting.size()));
  m.delivery_drain.set({}, drain_seconds(st, pace));
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

// One greeting's answer into its batch; the batch goes back to its
// partition when all of it is answered.
void answer(delivery_state& st, slot s, attempt a) {
  auto it = st.batches.find(s.batch);
  if (it == st.batches.end()) return;
  it->second.results[s.index] = std::move(a);
  ++st.answered;
  if (--it->second.left == 0) {
    // From here the partition's fence slot counts them, until it has
    // recorded them: counted on their way to it too (no gap).
    auto n = it->second.results.size();
    if (st.opts.fences)
      st.opts.fences->doubt(it->second.partition, it->second.epoch, static_cast<int64_t>(n));
    st.answered -= n;
    it->second.rp.deliver(std::move(it->second.results));
    st.batches.erase(it);
  }
}

attempt to_attempt(const std::string& key, net::provider_answer& a) {
  attempt r;
  r.key = key;
  r.result = a.result == net::provider_answer::sent        ? attempt::sent
             : a.result == net::provider_answer::permanent ? attempt::permanent
                                                           : attempt::transient;
  r.error = a.fenced ? fenced_error : std::move(a.error);
  r.retry_after_ms = a.retry_after_ms;
  metrics::global().provider_duration.observe({r.result == attempt::sent        ? "sent"
                                               : r.result == attempt::permanent ? "permanent"
                                                                                : "transient"},
                                              a.seconds);
  return r;
}

// The front greeting's partition may have lost its lease while it waited:
// then it is answered "fenced" at once (it spends neither a token nor a
// probe) and true.
bool drop_if_fenced(delivery_state& st) {
  auto& next = st.waiting.front();
  if (!st.opts.fences || next.epoch == 0 ||
      st.opts.fences->may_send(next.o.partition, next.epoch, std::chrono::steady_clock::now()))
    return false;
  auto it = std::move(next);
  st.waiting.pop_front();
  answer(st, {it.batch, it.index}, attempt{it.o.key, attempt::transient, fenced_error, 0});
  return true;
}

// The fence of a request: every greeting's partition still holds its slot
// at the epoch it was sent with (asked again just before it goes out).
std::function<bool()> fence_of(const delivery_state& st, const std::vector<item>& items) {
  if (!st.opts.fences) return {};
  std::vector<std::pair<uint32_t, int64_t>> slots;
  for (const auto& it : items)
    if (it.epoch != 0) slots.emplace_back(it.o.partition, it.epoch);
  if (slots.empty()) return {};
  std::sort(slots.begin(), slots.end());
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  return [f = st.opts.fences, slots = std::move(slots)] {
    auto now = std::chrono::steady_clock::now();
    for (const auto& [p, e] : slots)
      if (!f->may_send(p, e, now)) return false;
    return true;
  };
}

// email.transport=smtp: the greeting as a message (core/mail.hpp) to the
// SMTP client; a 5.1.1 unknown mailbox is also stored as a `bounced`
// delivery event, which suppresses the address as a provider's hard bounce
// does. A message that cannot be built (an address that is not one) is
// answered permanent at once: no server would take it.
template <class Reply>
void send_mail(delivery_state& st, occurrence& o, std::function<bool()> may_send, Reply reply) {
  mail::message_fields m;
  m.from = st.from;
  m.to_name = o.first_name.empty() || o.last_name.empty() ? o.first_name + o.last_name
                                                          : o.first_name + " " + o.last_name;
  m.to_address = o.email;
  const auto* def = find_occasion(o.occasion);
  m.subject = def ? def->subject.render({o.first_name, o.last_name}) : o.occasion;
  m.body = std::move(o.message);
  m.key = o.key;
  m.date_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  auto text = mail::build_message(m);
  if (!text) {
    net::provider_answer a;
    a.result = net::provider_answer::permanent;
    a.error = "not sent: " + text.err().message;
    return reply(std::vector<net::provider_answer>{std::move(a)});
  }
  st.smtp->send(
      st.from.address, std::move(m.to_address), std::move(*text), std::move(may_send),
      [reply = std::move(reply), events = st.opts.events, key = o.key](net::smtp_answer a) {
        if (a.suppress && events) {
          spdlog::warn("event=delivery.unknown_mailbox key={} error=\"{}\"", key, a.error);
          delivery_event e;
          e.id = "smtp:" + key;
          e.type = "bounced";
          e.key = key;
          e.at = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
          e.reason = a.error;
          caf::anon_send(events, atom::ingest::value, event_list{std::move(e)});
        }
        reply(std::vector<net::provider_answer>{std::move(a)});
      });
}

// Sends one request with `items`; its answer comes back as (done, id, ...).
void send(self_ptr self, std::vector<item> items) {
  auto& st = self->state;
  auto id = st.next_request++;
  auto& slots = st.requests[id];
  std::vector<std::string> keys;
  slots.reserve(items.size());
  keys.reserve(items.size());
  for (const auto& it : items) {
    slots.push_back({it.batch, it.index});
    keys.push_back(it.o.key);
  }
  st.in_flight += items.size();
  auto may_send = fence_of(st, items);
  auto handle = caf::actor_cast<caf::actor>(self);
  auto reply = [handle, id, keys = std::move(keys)](std::vector<net::provider_answer> answers) {
    double seconds = answers.empty() ? 0 : answers.front().seconds;
    int64_t retry_after = 0;
    for (const auto& a : answers)
      retry_after = std::max(retry_after, a.retry_after_ms);
    auto v = judge(answers);
    attempt_list results;
    results.reserve(answers.size());
    for (size_t i = 0; i < answers.size() && i < keys.size(); ++i)
      results.push_back(to_attempt(keys[i], answers[i]));
    caf::anon_send(handle, atom::done::value, id, std::move(results),
                   static_cast<int64_t>(seconds * 1e6), static_cast<int32_t>(v), retry_after);
  };
  if (st.smtp) {
    send_mail(st, items.front().o, std::move(may_send), std::move(reply));
    return;
  }
  if (!st.opts.batch_api) {
    auto& o = items.front().o;
    st.client->post(std::move(o.key), std::move(o.email), std::move(o.message), std::move(may_send),
                    [reply = std::move(reply)](net::provider_answer a) {
                      reply(std::vector<net::provider_answer>{std::move(a)});
                    });
    return;
  }
  std::vector<net::batch_message> messages;
  messages.reserve(items.size());
  for (auto& it : items)
    messages.push_back({std::move(it.o.key), std::move(it.o.email), std::move(it.o.message)});
  st.client->post_batch(std::move(messages), std::move(may_send), std::move(reply));
}

// A partition handing off takes back what waits for it here: answered
// `withdrawn` (nothing was sent; the record stays claimed for the next
// owner), so its hand-off waits only for what is on the wire, not for the
// whole queue ahead of it.
void withdraw(self_ptr self, int32_t partition, int64_t epoch) {
  auto& st = self->state;
  size_t n = 0;
  std::deque<item> kept;
  for (auto& it : st.waiting) {
    if (it.o.partition == partition && it.epoch == epoch) {
      answer(st, {it.batch, it.index},
             attempt{it.o.key, attempt::withdrawn, "withdrawn: its partition is handing off", 0});
      ++n;
    } else {
      kept.push_back(std::move(it));
    }
  }
  st.waiting = std::move(kept);
  if (n > 0) {
    spdlog::info("event=delivery.withdrawn partition={} epoch={} n={}", partition, epoch, n);
    publish_gauges(self, pace_now(st));
  }
}

// Starts what may start: not paused or throttled, under the adaptive limit
// and the in-doubt bound, within the rate, admitted by the breaker. A
// request takes the greeting at the front and, with the batch API, those
// behind it, as many as the batch size, the rate and the bound allow.
void pump(self_ptr self) {
  auto& st = self->state;
  auto pace = pace_now(st);
  int64_t rate_wait_ms = 0;
  auto now_ms = steady_ms();
  bool throttled = now_ms < st.throttled_until;
  auto limit = st.limiter->limit();
  auto capacity = capacity_of(st.opts);
  while (!st.paused && !throttled && !st.waiting.empty() && st.requests.size() < limit &&
         st.in_flight < capacity && !too_much_in_doubt(st)) {
    if (drop_if_fenced(st)) continue;
    // The token is taken only once the breaker lets the request go.
    auto bucket = st.bucket;
    if (pace.per_second > 0 &&
        (rate_wait_ms = take_token(bucket, now_ms, pace.per_second, pace.burst)) > 0)
      break;
    auto probing = st.br->current(breaker::clock::now()) == breaker::state::half_open;
    if (!st.br->admit(breaker::clock::now())) break;
    if (probing) st.probe = st.next_request; // send() numbers it so
    st.bucket = bucket;
    std::vector<item> items;
    items.push_back(std::move(st.waiting.front()));
    st.waiting.pop_front();
    auto room = st.opts.batch_api
                    ? std::min(std::max<size_t>(1, st.opts.batch_size), capacity - st.in_flight)
                    : 1;
    while (items.size() < room && !st.waiting.empty() && !too_much_in_doubt(st, items.size())) {
      if (drop_if_fenced(st)) continue;
      if (pace.per_second > 0) {
        auto b = st.bucket;
        if ((rate_wait_ms = take_token(b, now_ms, pace.per_second, pace.burst)) > 0) break;
        st.bucket = b;
      }
      items.push_back(std::move(st.waiting.front()));
      st.waiting.pop_front();
    }
    send(self, std::move(items));
  }
  // Held back by the rate: look again when the next token is there.
  if (rate_wait_ms > 0 && !st.rate_tick_armed) {
    st.rate_tick_armed = true;
    self->delayed_send(self, std::chrono::milliseconds{rate_wait_ms}, atom::tick::value);
  }
  // Held back by a 429: look again when its Retry-After is over.
  if (throttled && !st.waiting.empty() && !st.throttle_tick_armed) {
    st.throttle_tick_armed = true;
    self->delayed_send(self, std::chrono::milliseconds{st.throttled_until - now_ms},
                       atom::tick::value);
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
  publish_gauges(self, pace);
}

// A request's answer: the breaker, the adaptive limit and a 429's hold
// learn from it, then each greeting's answer goes to its batch.
void on_done(self_ptr self, uint64_t id, attempt_list& results, int64_t rtt_us, int32_t v,
             int64_t retry_after_ms) {
  auto& st = self->state;
  auto it = st.requests.find(id);
  if (it == st.requests.end()) return;
  auto slots = std::move(it->second);
  auto out = st.requests.size();
  st.requests.erase(it);
  st.in_flight -= slots.size();
  auto now = breaker::clock::now();
  auto now_ms = steady_ms();
  auto before = st.br->current(now);
  auto limit_before = st.limiter->limit();
  switch (v) {
  case answered:
    st.br->success();
    st.limiter->on_answer(static_cast<double>(rtt_us) / 1e6, out, now_ms);
    break;
  case overloaded:
    st.br->failure(now);
    st.limiter->on_overload(now_ms);
    break;
  case throttled: {
    // The provider said how long; without a Retry-After, a second.
    auto wait = retry_after_ms > 0 ? retry_after_ms : 1000;
    if (now_ms + wait > st.throttled_until) {
      if (now_ms >= st.throttled_until)
        spdlog::warn("event=delivery.throttled retry_after_ms={} waiting={}", wait,
                     st.waiting.size());
      st.throttled_until = now_ms + wait;
    }
    st.limiter->on_overload(now_ms);
    metrics::global().provider_throttled.add({});
    break;
  }
  default: // fenced: says nothing about the provider
    break;
  }
  if (id == st.probe) {
    st.probe = 0;
    // A probe not answered by the provider (fenced) or answered "wait"
    // settles nothing: the next request probes again.
    if (v != answered && v != overloaded) st.br->abandon();
  }
  auto after = st.br->current(now);
  if (before != after)
    spdlog::warn("event=delivery.breaker state={} error=\"{}\"", to_string(after),
                 results.empty() ? std::string{} : results.front().error);
  if (st.limiter->limit() < limit_before && limit_before >= 2 * st.limiter->limit())
    spdlog::info("event=delivery.limit from={} to={}", limit_before, st.limiter->limit());
  for (size_t i = 0; i < slots.size(); ++i)
    answer(st, slots[i],
           i < results.size()
               ? std::move(results[i])
               : attempt{{}, attempt::transient, "no answer from the provider client", 0});
  pump(self);
}

} // namespace

size_t capacity_of(const delivery_options& o) {
  auto requests = std::max<size_t>(1, o.max_in_flight);
  return o.batch_api ? std::max(requests, 2 * std::max<size_t>(1, o.batch_size)) : requests;
}

delivery_control_actor::behavior_type delivery(self_ptr self, delivery_options opts) {
  auto& init = self->state;
  init.opts = std::move(opts);
  init.opts.max_in_flight = std::max<size_t>(1, init.opts.max_in_flight);
  init.paused = init.opts.paused;
  if (init.opts.smtp.enabled) {
    // Validated at start-up (config/settings.cpp): parse_sender cannot fail here.
    if (auto from = mail::parse_sender(init.opts.smtp.from)) init.from = std::move(*from);
    net::smtp_options so;
    so.url = init.opts.smtp.url;
    so.user = init.opts.smtp.user;
    so.password = init.opts.smtp.password;
    so.ca = init.opts.smtp.ca;
    so.starttls_optional = init.opts.smtp.starttls_optional;
    so.timeout = init.opts.timeout;
    so.max_in_flight = init.opts.max_in_flight;
    init.smtp = std::make_unique<net::smtp_client>(std::move(so));
    init.opts.batch_api = false; // one message per greeting
  } else {
    init.client = std::make_unique<net::provider_client>(
        init.opts.url, init.opts.timeout, init.opts.max_in_flight, init.opts.user_agent);
  }
  init.br = std::make_unique<breaker>(init.opts.breaker_threshold, init.opts.breaker_cooldown,
                                      init.opts.breaker_max_cooldown);
  concurrency_options co;
  co.ceiling = init.opts.max_in_flight;
  if (init.opts.initial_concurrency > 0) co.initial = init.opts.initial_concurrency;
  init.limiter = std::make_unique<concurrency_limit>(co);
  publish_gauges(self, pace_now(init));
  return {
      [self](atom::send, occurrence_list& batch, int64_t epoch) -> caf::result<attempt_list> {
        auto& st = self->state;
        if (batch.empty()) return attempt_list{};
        auto id = st.next_batch++;
        auto& b = st.batches[id];
        b.rp = self->make_response_promise<attempt_list>();
        b.results.resize(batch.size());
        b.left = batch.size();
        b.partition = static_cast<int32_t>(batch.front().partition);
        b.epoch = epoch;
        for (uint32_t i = 0; i < batch.size(); ++i)
          st.waiting.push_back({id, i, std::move(batch[i]), epoch});
        auto rp = b.rp;
        pump(self);
        return rp;
      },
      [self](atom::done, uint64_t id, attempt_list& results, int64_t rtt_us, int32_t v,
             int64_t retry_after_ms) { on_done(self, id, results, rtt_us, v, retry_after_ms); },
      [self](atom::withdraw, int32_t partition, int64_t epoch) {
        withdraw(self, partition, epoch);
      },
      [self](atom::tick) {
        self->state.tick_armed = false;
        self->state.doubt_poll = false;
        self->state.rate_tick_armed = false;
        self->state.throttle_tick_armed = false;
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
