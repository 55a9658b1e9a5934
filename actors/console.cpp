#include "actors/console.hpp"

#include "actors/owner_news.hpp"
#include "console/document.hpp"
#include "core/cluster_plan.hpp"
#include "core/metrics.hpp"
#include "core/security.hpp"

#include <set>
#include <spdlog/spdlog.h>

namespace candle {

namespace {

using namespace std::chrono;

constexpr milliseconds sample_every{5000};
constexpr int64_t rate_window_ms = 60'000;
constexpr milliseconds ask{3000}; // below candlectl's default 4 s: an error arrives first

struct console_state {
  static constexpr const char* name = "console";
  console_options opts;
  std::deque<console::counts_sample> history;
};

using self_ptr = console_actor::stateful_pointer<console_state>;

console::counts_sample sample_now(const console_state& st) {
  const auto& g = metrics::global().greetings;
  console::counts c{g.sum(1, "sent"), g.sum(1, "retried"), g.sum(1, "dead"), g.sum(1, "expired")};
  return {duration_cast<milliseconds>(steady_clock::now() - st.opts.started).count(), c};
}

int64_t now_ms(const console_state& st) {
  return st.opts.clock->now(steady_clock::now()).time_since_epoch().count();
}

// A state change: refused unless the console is loopback; logged with who
// asked (the console's own words and the CAF node it came from).
std::optional<caf::error> admit(self_ptr self, const std::string& who, const std::string& token,
                                const std::string& what) {
  auto sender = self->current_sender();
  auto from = sender ? to_string(sender->node()) : std::string{"local"};
  auto verdict = judge_admin(self->state.opts.admin_token, self->state.opts.loopback,
                             token.empty() ? std::string{} : "Bearer " + token);
  if (verdict != admin_verdict::allow) {
    spdlog::warn("event=console.refused who=\"{}\" from={} what=\"{}\"", who, from, what);
    if (!self->state.opts.loopback && self->state.opts.admin_token.empty())
      return make_error(errc::refused, "state changes need a loopback console");
    return make_error(errc::refused, token.empty()
                                         ? "state changes need the admin token (CANDLE_ADMIN_TOKEN)"
                                         : "wrong admin token");
  }
  spdlog::warn("event=console.action who=\"{}\" from={} what=\"{}\"", who, from, what);
  return std::nullopt;
}

template <class T> auto fail_to(caf::typed_response_promise<T> rp) {
  return [rp](caf::error& e) mutable { rp.deliver(std::move(e)); };
}

using text_promise = caf::typed_response_promise<std::string>;

// A cluster-wide document: the NODE's view, then its answer `R` to `xs`
// (within `timeout`), rendered by `doc(view, answer, partitions)`.
template <class R, class Timeout, class Doc, class... Ts>
text_promise cluster_doc(self_ptr self, Timeout timeout, Doc doc, Ts... xs) {
  auto rp = self->make_response_promise<std::string>();
  self->request(self->state.opts.node, ask, atom::status::value)
      .then(
          [self, rp, timeout, doc, xs...](cluster_status& c) mutable {
            self->request(self->state.opts.node, timeout, xs...)
                .then([self, rp, c,
                       doc](R& r) mutable { rp.deliver(doc(c, r, self->state.opts.partitions)); },
                      fail_to(rp));
          },
          fail_to(rp));
  return rp;
}

void status(self_ptr self, text_promise rp) {
  self->request(self->state.opts.delivery, ask, atom::status::value)
      .then(
          [self, rp](delivery_status& d) mutable {
            self->request(self->state.opts.node, ask, atom::partitions::value, false)
                .then(
                    [self, rp, d](partitions_report& here) mutable {
                      self->request(self->state.opts.node, ask, atom::status::value)
                          .then(
                              [self, rp, d, here](cluster_status& c) mutable {
                                auto& st = self->state;
                                console::status_input in;
                                in.node_id = st.opts.node_id;
                                in.version = st.opts.version;
                                in.rest_url = st.opts.rest_url;
                                auto now = sample_now(st);
                                in.up_ms = now.at_ms;
                                in.clock_now_ms = now_ms(st);
                                in.clock_mode = st.opts.clock->mode();
                                in.clock_speed = st.opts.clock->speed();
                                in.partitions_total = st.opts.partitions;
                                in.partitions_here = static_cast<int32_t>(c.running.size());
                                for (const auto& o :
                                     live_owners(c.view, static_cast<size_t>(st.opts.partitions)))
                                  in.partitions_owned += o.empty() ? 0 : 1;
                                for (const auto& p : here.partitions)
                                  in.queued += p.queued;
                                in.delivery = d;
                                in.totals = now.c;
                                in.rates = console::rates_of(st.history, now, rate_window_ms,
                                                             in.rate_window_s);
                                rp.deliver(console::status_doc(in));
                              },
                              fail_to(rp));
                    },
                    fail_to(rp));
          },
          fail_to(rp));
}

// The user's next greeting of each occasion after the node's clock.
std::vector<occurrence> next_of(const console_state& st, const user& u) {
  auto from = now_ms(st);
  auto all = occurrences_in(u, st.opts.rules, from + 1,
                            from + duration_cast<milliseconds>(hours{24 * 800}).count());
  std::vector<occurrence> out;
  std::set<std::string> seen;
  std::sort(all.begin(), all.end(),
            [](const occurrence& a, const occurrence& b) { return a.due_at < b.due_at; });
  for (auto& o : all)
    if (seen.insert(o.occasion).second) out.push_back(std::move(o));
  return out;
}

// Fills each record's delivery events (its timeline) from the EVENTS actor,
// then calls `done`; a record whose timeline cannot be read keeps none.
template <class F> void with_timelines(self_ptr self, record_list recs, F done) {
  auto out = std::make_shared<record_list>(std::move(recs));
  auto timelines = std::make_shared<std::vector<event_list>>(out->size());
  auto left = std::make_shared<size_t>(out->size() + 1);
  auto one_done = [out, timelines, left, done]() mutable {
    if (--*left != 0) return;
    done(*out, *timelines);
  };
  for (size_t i = 0; i < out->size(); ++i)
    self->request(self->state.opts.events, ask, atom::greeting::value, (*out)[i].key)
        .then(
            [timelines, i, one_done](greeting_detail& d) mutable {
              (*timelines)[i] = std::move(d.events);
              one_done();
            },
            [one_done](caf::error&) mutable { one_done(); });
  one_done();
}

void user_report(self_ptr self, std::string who, text_promise rp) {
  self->request(self->state.opts.db, ask, atom::lookup::value, std::move(who))
      .then(
          [self, rp](user& u) mutable {
            self->request(self->state.opts.db, ask, atom::records::value, u.id)
                .then(
                    [self, rp, u](record_list& recs) mutable {
                      self->request(self->state.opts.node, ask, atom::status::value)
                          .then(
                              [self, rp, u, recs](cluster_status& c) mutable {
                                auto& st = self->state;
                                auto owners =
                                    live_owners(c.view, static_cast<size_t>(st.opts.partitions));
                                auto p = static_cast<size_t>(u.partition);
                                std::string owner = p < owners.size() ? owners[p] : std::string{};
                                auto next = next_of(st, u);
                                with_timelines(
                                    self, recs,
                                    [rp, u, owner, next](const record_list& r,
                                                         const std::vector<event_list>& t) mutable {
                                      rp.deliver(console::user_doc(u, owner, next, r, t));
                                    });
                              },
                              fail_to(rp));
                    },
                    fail_to(rp));
          },
          fail_to(rp));
}

void upcoming(self_ptr self, uint64_t n, text_promise rp) {
  self->request(self->state.opts.node, ask, atom::upcoming::value, n, true)
      .then(
          [self, rp, n](upcoming_report& r) mutable {
            // The users' zones, for the local due times.
            std::set<std::string> ids;
            for (const auto& o : r.greetings)
              ids.insert(o.user_id);
            auto zones = std::make_shared<std::map<std::string, std::string>>();
            auto report = std::make_shared<upcoming_report>(std::move(r));
            auto left = std::make_shared<size_t>(ids.size() + 1);
            auto done = [rp, zones, report, left, n]() mutable {
              if (--*left == 0) rp.deliver(console::upcoming_doc(n, *report, *zones));
            };
            for (const auto& id : ids)
              self->request(self->state.opts.db, ask, atom::get::value, id)
                  .then(
                      [zones, done](user& u) mutable {
                        (*zones)[u.id] = u.timezone;
                        done();
                      },
                      [done](caf::error&) mutable { done(); });
            done();
          },
          fail_to(rp));
}

void failed(self_ptr self, std::vector<std::string> statuses, uint64_t limit, text_promise rp) {
  auto lists = std::make_shared<std::vector<record_list>>(statuses.size());
  auto left = std::make_shared<size_t>(statuses.size() + 1);
  auto error = std::make_shared<caf::error>();
  auto done = [rp, lists, left, error, statuses, limit]() mutable {
    if (--*left != 0) return;
    if (*error) {
      rp.deliver(*error);
      return;
    }
    rp.deliver(console::failed_doc(statuses, limit, console::first_records(*lists, limit)));
  };
  for (size_t i = 0; i < statuses.size(); ++i)
    self->request(self->state.opts.db, ask, atom::by_status::value, statuses[i], limit,
                  std::string{})
        .then(
            [lists, i, done](record_list& l) mutable {
              (*lists)[i] = std::move(l);
              done();
            },
            [error, done](caf::error& e) mutable {
              *error = std::move(e);
              done();
            });
  done();
}

void redrive_key(self_ptr self, std::string key, text_promise rp) {
  auto& st = self->state;
  self->request(st.opts.db, ask, atom::redrive::value, key, now_ms(st))
      .then(
          [self, rp, key](occurrence& o) mutable {
            // The record is `retrying` in the database either way: the owner
            // reclaims it now, or its sweep (woken by the redrive's
            // notification) or whoever takes the partition does.
            tell_owners(self->state.opts.node, {{}, {}, {std::move(o)}});
            rp.deliver(console::redrive_key_doc(key));
          },
          fail_to(rp));
}

void redrive_bulk(self_ptr self, std::string status, std::string occasion, bool dry_run,
                  text_promise rp) {
  auto& st = self->state;
  self->request(st.opts.db, seconds{30}, atom::redrive::value, status, occasion, now_ms(st),
                dry_run)
      .then(
          [self, rp, status, occasion, dry_run](redrive_batch& b) mutable {
            auto doc = console::redrive_bulk_doc(status, occasion, dry_run, b.count, b.sample);
            if (dry_run || b.redriven.empty()) {
              rp.deliver(std::move(doc));
              return;
            }
            spdlog::info("event=console.redriven status={} occasion={} count={}", status,
                         occasion.empty() ? "any" : occasion, b.count);
            // Committed: every record is `retrying` in the database, so the
            // answer goes now; each owner is told to reclaim its records (the
            // sweep takes in any whose message is lost).
            tell_owners(self->state.opts.node, {{}, {}, std::move(b.redriven)});
            rp.deliver(std::move(doc));
          },
          fail_to(rp));
}

void pause(self_ptr self, bool paused, int64_t for_ms, std::string who, text_promise rp) {
  self->request(self->state.opts.node, ask, atom::pause::value, paused, for_ms, std::move(who))
      .then(
          [rp, paused](pause_state& p) mutable {
            rp.deliver(console::pause_doc(paused ? "pause" : "resume", p));
          },
          fail_to(rp));
}

console_actor::behavior_type console_behavior(self_ptr self, console_options opts) {
  self->state.opts = std::move(opts);
  self->send(self, atom::tick::value);
  return {
      [self](atom::status) {
        auto rp = self->make_response_promise<std::string>();
        status(self, rp);
        return rp;
      },
      [self](atom::nodes) {
        auto rp = self->make_response_promise<std::string>();
        self->request(self->state.opts.node, ask, atom::status::value)
            .then(
                [self, rp](cluster_status& c) mutable {
                  rp.deliver(console::nodes_doc(c, self->state.opts.partitions));
                },
                fail_to(rp));
        return rp;
      },
      [self](atom::audit) {
        return cluster_doc<audit_report>(self, seconds{60}, console::audit_doc, atom::audit::value,
                                         true);
      },
      [self](atom::partitions) {
        return cluster_doc<partitions_report>(self, ask, console::partitions_doc,
                                              atom::partitions::value, true);
      },
      [self](atom::get, std::string& who) {
        auto rp = self->make_response_promise<std::string>();
        user_report(self, std::move(who), rp);
        return rp;
      },
      [self](atom::upcoming, uint64_t n) {
        auto rp = self->make_response_promise<std::string>();
        upcoming(self, std::clamp<uint64_t>(n, 1, 1000), rp);
        return rp;
      },
      [self](atom::failed, std::vector<std::string>& statuses, uint64_t limit) {
        auto rp = self->make_response_promise<std::string>();
        for (const auto& s : statuses)
          if (s != status::dead && s != status::expired && s != status::retrying) {
            rp.deliver(
                make_error(errc::invalid, "status must be dead, expired or retrying, not " + s));
            return rp;
          }
        if (statuses.empty()) statuses = {status::dead, status::expired, status::retrying};
        failed(self, std::move(statuses), std::clamp<uint64_t>(limit, 1, 1000), rp);
        return rp;
      },
      [self](atom::redrive, std::string& key, std::string& who, std::string& token) {
        auto rp = self->make_response_promise<std::string>();
        if (auto refused = admit(self, who, token, "redrive " + key)) {
          rp.deliver(std::move(*refused));
          return rp;
        }
        redrive_key(self, std::move(key), rp);
        return rp;
      },
      [self](atom::redrive, std::string& status, std::string& occasion, bool dry_run,
             std::string& who, std::string& token) {
        auto rp = self->make_response_promise<std::string>();
        if (!dry_run) {
          auto what = "redrive --status " + status +
                      (occasion.empty() ? std::string{} : " --occasion " + occasion);
          if (auto refused = admit(self, who, token, what)) {
            rp.deliver(std::move(*refused));
            return rp;
          }
        }
        redrive_bulk(self, std::move(status), std::move(occasion), dry_run, rp);
        return rp;
      },
      [self](atom::pause, bool paused, int64_t for_ms, std::string& who, std::string& token) {
        auto rp = self->make_response_promise<std::string>();
        auto what = paused ? "pause" + (for_ms > 0 ? " for " + std::to_string(for_ms) + "ms"
                                                   : std::string{})
                           : std::string{"resume"};
        if (auto refused = admit(self, who, token, what)) {
          rp.deliver(std::move(*refused));
          return rp;
        }
        pause(self, paused, paused ? std::max<int64_t>(0, for_ms) : 0, who, rp);
        return rp;
      },
      [self](atom::tick) {
        auto& st = self->state;
        auto now = sample_now(st);
        st.history.push_back(now);
        console::trim_history(st.history, now.at_ms, rate_window_ms + sample_every.count());
        self->delayed_send(self, sample_every, atom::tick::value);
      },
  };
}

} // namespace

console_actor spawn_console(caf::actor_system& sys, console_options opts) {
  return sys.spawn(console_behavior, std::move(opts));
}

} // namespace candle
