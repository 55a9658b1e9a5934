#include "actors/node.hpp"

#include "actors/tls.hpp"
#include "core/due_queue.hpp"
#include "core/metrics.hpp"

#include <algorithm>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <map>
#include <random>
#include <set>
#include <spdlog/spdlog.h>

namespace candle {

namespace {

using namespace std::chrono;

struct peer {
  node_actor handle;
  std::string host;
  uint16_t port = 0;
  bool connecting = false;
  caf::actor_clock::time_point next_try{};
  milliseconds backoff{250};
};

struct node_state {
  static constexpr const char* name = "node";
  node_options opts;
  member_actor member;
  bool have_view = false;
  cluster_view view;
  std::vector<std::string> owners;            // partition -> live owner ("" = none)
  std::map<int32_t, partition_actor> running; // partition actors here
  std::set<int32_t> handing_off;
  std::map<std::string, peer> peers;
  std::mt19937_64 seeds{std::random_device{}()};
  bool leaving = false;
  caf::typed_response_promise<bool> left;
  int64_t pause_version = 0; // the newest cluster pause applied here
  /// When every partition here next reads its change feed whether or not a
  /// notification came (a third of the lease TTL, like a renewal).
  steady_clock::time_point next_poll{};
};

using self_ptr = node_control_actor::stateful_pointer<node_state>;

void start_partition(self_ptr self, int32_t p) {
  auto& st = self->state;
  auto o = st.opts.partition;
  o.id = p;
  o.node = st.opts.id;
  o.seed = st.seeds();
  auto hdl = self->spawn(partition, o);
  self->monitor(hdl);
  self->link_to(hdl); // partitions never outlive their node (see on_exit)
  st.running.emplace(p, hdl);
}

void maybe_left(self_ptr self) {
  auto& st = self->state;
  if (st.leaving && st.running.empty()) st.left.deliver(true);
}

void hand_off(self_ptr self, int32_t p) {
  auto& st = self->state;
  auto it = st.running.find(p);
  if (it == st.running.end() || !st.handing_off.insert(p).second) return;
  // The partition answers once its lease is back (or gone); its down message
  // then removes it. Hand-off waits for in-flight sends (email.timeout).
  self->request(it->second, seconds{60}, atom::handoff::value)
      .then([](bool) {},
            [self, p](caf::error& e) {
              spdlog::warn("event=node.handoff_failed partition={} error=\"{}\"", p,
                           self->system().render(e));
            });
}

// Connects to a live peer's NODE actor without blocking anyone: the
// middleman connects, we wait for its answer with a timeout and retry with
// backoff (caf-0.17-notes.md, "Network").
void connect(self_ptr self, const std::string& id) {
  auto& pr = self->state.peers[id];
  pr.connecting = true;
  auto mm = connector(self->system()); // plain or TLS (actors/tls.hpp)
  self->request(mm, seconds{5}, caf::connect_atom::value, pr.host, pr.port)
      .then(
          [self, id](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) {
            auto it = self->state.peers.find(id);
            if (it == self->state.peers.end()) return;
            auto& p = it->second;
            p.connecting = false;
            if (!ptr) {
              p.next_try = self->clock().now() + p.backoff;
              p.backoff = std::min(p.backoff * 2, milliseconds{10'000});
              return;
            }
            p.handle = caf::actor_cast<node_actor>(ptr);
            p.backoff = milliseconds{250};
            self->monitor(p.handle);
            spdlog::info("event=node.peer_connected peer={} address={}:{}", id, p.host, p.port);
          },
          [self, id](caf::error& e) {
            auto it = self->state.peers.find(id);
            if (it == self->state.peers.end()) return;
            auto& p = it->second;
            p.connecting = false;
            p.next_try = self->clock().now() + p.backoff;
            spdlog::info("event=node.peer_connect_failed peer={} address={}:{} retry_in_ms={} "
                         "error=\"{}\"",
                         id, p.host, p.port, p.backoff.count(), self->system().render(e));
            p.backoff = std::min(p.backoff * 2, milliseconds{10'000});
          });
}

// Two nodes connecting to each other at the same moment both lose: CAF
// 0.17's BASP ends up with two connections for one node, closes one and
// takes the other's proxies down with it (remote_link_unreachable), and as
// both retried on the same schedule they did it again every ~100 ms, which
// TLS's longer handshake made likely (e2e.tls). The node with the larger id
// holds back its first try and its tries after a loss, so the smaller one's
// connection is normally up first and the larger one's connect then finds it
// (CAF answers with the route it has) instead of racing it; a little jitter
// keeps two nodes from staying in step.
milliseconds connect_delay(self_ptr self, const std::string& peer_id) {
  std::uniform_int_distribution<int> jitter{0, 150};
  auto base = self->state.opts.id > peer_id ? milliseconds{500} : milliseconds{0};
  return base + milliseconds{jitter(self->state.seeds)};
}

// Keeps a connection to every other live node with a cluster port, and only
// to those: a stale or lost node is dropped.
void update_peers(self_ptr self) {
  auto& st = self->state;
  std::set<std::string> live;
  auto now = self->clock().now();
  for (const auto& n : st.view.nodes) {
    if (!n.live || n.info.id == st.opts.id || n.info.cluster_port == 0) continue;
    live.insert(n.info.id);
    auto fresh = !st.peers.count(n.info.id);
    auto& p = st.peers[n.info.id];
    if (fresh) p.next_try = now + connect_delay(self, n.info.id);
    if (p.host != n.info.address || p.port != n.info.cluster_port) {
      p.host = n.info.address;
      p.port = n.info.cluster_port;
      p.handle = nullptr;
    }
    if (!p.handle && !p.connecting && now >= p.next_try) connect(self, n.info.id);
  }
  for (auto it = st.peers.begin(); it != st.peers.end();)
    if (!live.count(it->first) && !it->second.connecting) {
      if (it->second.handle) self->demonitor(it->second.handle.address());
      it = st.peers.erase(it);
    } else {
      ++it;
    }
}

// The bound on a lost notification: every partition here reads its change
// feed at least once per third of the lease TTL (and after a pause, on the
// first round after it).
void poll_changes(self_ptr self) {
  auto& st = self->state;
  auto now = steady_clock::now();
  if (now < st.next_poll) return;
  st.next_poll = now + milliseconds{std::max<int64_t>(1, st.opts.partition.lease_ttl) * 1000 / 3};
  for (auto& [p, hdl] : st.running)
    self->send(hdl, atom::changes::value);
}

// One planning round on a fresh view: run what is ours, take a fair share
// of what is free, hand off what a newcomer needs.
void on_view(self_ptr self, cluster_view& v, bool session_lost) {
  auto& st = self->state;
  st.view = std::move(v);
  st.have_view = true;
  st.owners = live_owners(st.view, static_cast<size_t>(st.opts.partitions));
  if (session_lost) {
    // Peers may have taken our leases: stop sending for all of them now,
    // every fence slot in one step (the partitions die one by one), and
    // start what is still ours again once the session is back.
    spdlog::warn("event=node.session_lost partitions={}", st.running.size());
    if (st.opts.partition.fences) st.opts.partition.fences->close_all();
    for (auto& [p, hdl] : st.running)
      self->send_exit(hdl, caf::exit_reason::kill);
    return;
  }
  update_peers(self);
  if (st.leaving) return;
  poll_changes(self);
  std::vector<int32_t> here;
  for (const auto& [p, hdl] : st.running)
    if (!st.handing_off.count(p)) here.push_back(p);
  // Leases the database says are ours but whose actor is gone (it failed,
  // or was killed by fault injection): start it again.
  for (size_t p = 0; p < st.owners.size(); ++p) {
    auto id = static_cast<int32_t>(p);
    if (st.owners[p] == st.opts.id && !st.running.count(id)) {
      start_partition(self, id);
      here.push_back(id);
    }
  }
  std::vector<int32_t> releasing(st.handing_off.begin(), st.handing_off.end());
  auto plan =
      plan_round(st.opts.id, live_members(st.view),
                 slots_of(st.view, static_cast<size_t>(st.opts.partitions), st.opts.id, here),
                 st.opts.limits, releasing);
  for (auto p : plan.acquire)
    if (!st.running.count(p)) start_partition(self, p);
  for (auto p : plan.release)
    hand_off(self, p);
  if (!plan.acquire.empty() || !plan.release.empty())
    spdlog::info("event=node.round target={} owned={} acquiring={} releasing={}", plan.target,
                 plan.owned, plan.acquire.size(), plan.release.size());
}

// After an import every partition here reads its window again, one at a
// time: all at once, every window's rows were in memory together and the
// allocator kept that peak (1M users: the node stayed 20 MB above a restart
// on the same data; four at a time 9-13 MB, one at a time 4-6 MB). A
// partition that does not answer in time holds the others up no longer.

// Reaches the actor of `p` here or, unless the write came from a peer, the
// node that owns it. Answers whether an owner got it; the database holds the
// change either way, and a new owner loads it when it takes over.
// `local(partition)` and `remote(node)` send the request; `rp` gets whether
// an owner got it. A miss (no owner known, a stale owner, a lost peer) is
// tried once more on a view read after the write committed: an owner in
// that view gets it, and a partition nobody owns then is loaded from the
// database, with the write, by whoever takes it.
template <class Local, class Remote>
void route_to(self_ptr self, int32_t p, bool forwarded, Local local, Remote remote,
              caf::typed_response_promise<bool> rp, bool again);

// What a routed write carries, shared by the copies of `local` and `remote`
// that route_to keeps for its retry: one copy of a bulk request's users per
// message sent, not one per lambda copy.
template <class T> std::shared_ptr<const T> shared(T&& x) {
  return std::make_shared<const T>(std::move(x));
}

template <class Local, class Remote>
caf::result<bool> route(self_ptr self, int32_t p, bool forwarded, Local local, Remote remote) {
  auto rp = self->make_response_promise<bool>();
  route_to(self, p, forwarded, local, remote, rp, !forwarded);
  return rp;
}

template <class Local, class Remote>
void route_to(self_ptr self, int32_t p, bool forwarded, Local local, Remote remote,
              caf::typed_response_promise<bool> rp, bool again) {
  auto& st = self->state;
  // The writer does not wait for this (actors/owner_news.hpp): a write not
  // reached here is said here, and the owner's change feed takes it in.
  auto not_reached = [p, forwarded](caf::typed_response_promise<bool>& promise) {
    if (!forwarded)
      spdlog::info("event=node.owner_not_reached partition={} effect=\"taken in by the owner's "
                   "change feed\"",
                   p);
    promise.deliver(false);
  };
  auto missed = [self, p, forwarded, local, remote, rp, again, not_reached]() mutable {
    if (!again || !self->state.member) {
      not_reached(rp);
      return;
    }
    self->request(self->state.member, seconds{5}, atom::view::value)
        .then(
            [self, p, forwarded, local, remote, rp](cluster_view& v) mutable {
              on_view(self, v, false);
              route_to(self, p, forwarded, local, remote, rp, false);
            },
            [rp, not_reached](caf::error&) mutable { not_reached(rp); });
  };
  auto reached = [rp, missed](bool ok) mutable {
    if (!ok) return missed();
    rp.deliver(true);
  };
  auto here = st.running.find(p);
  if (here != st.running.end() && !st.handing_off.count(p)) {
    local(here->second).then(reached, [missed](caf::error&) mutable { missed(); });
    return;
  }
  if (forwarded || p < 0 || static_cast<size_t>(p) >= st.owners.size()) {
    not_reached(rp);
    return;
  }
  const auto& owner = st.owners[static_cast<size_t>(p)];
  auto peer = st.peers.find(owner);
  if (owner.empty() || owner == st.opts.id || peer == st.peers.end() || !peer->second.handle)
    return missed();
  remote(peer->second.handle).then(reached, [self, missed, owner](caf::error& e) mutable {
    spdlog::warn("event=node.forward_failed peer={} error=\"{}\"", owner, self->system().render(e));
    missed();
  });
}

// Asks every partition here and, when `cluster`, every connected peer's
// NODE actor (which answers for its own partitions): `local(partition)` and
// `remote(peer)` send the requests, `merge_local`/`merge_remote` fold their
// answers (`L`, `R`) into an `Out`; live peers not connected or not
// answering in time are `unreachable`. `finish` gets the `Out` once every
// request is answered or has failed.
template <class Out, class L, class R, class Local, class Remote, class MergeLocal,
          class MergeRemote, class Finish>
void gather(self_ptr self, bool cluster, Local local, Remote remote, MergeLocal merge_local,
            MergeRemote merge_remote, Finish finish) {
  auto& st = self->state;
  auto out = std::make_shared<Out>();
  auto left = std::make_shared<size_t>(1);
  auto done = [out, left, finish]() mutable {
    if (--*left == 0) finish(std::move(*out));
  };
  for (auto& [p, hdl] : st.running) {
    ++*left;
    local(hdl).then(
        [out, done, merge_local, id = st.opts.id](L& x) mutable {
          merge_local(*out, x, id);
          done();
        },
        [done](caf::error&) mutable { done(); });
  }
  if (cluster)
    for (const auto& n : st.view.nodes) {
      if (!n.live || n.info.id == st.opts.id) continue;
      auto pr = st.peers.find(n.info.id);
      if (pr == st.peers.end() || !pr->second.handle) {
        out->unreachable.push_back(n.info.id);
        continue;
      }
      ++*left;
      remote(pr->second.handle)
          .then(
              [out, done, merge_remote](R& x) mutable {
                merge_remote(*out, x);
                done();
              },
              [out, done, id = n.info.id](caf::error&) mutable {
                out->unreachable.push_back(id);
                done();
              });
    }
  done();
}

// The first n of a report, in due_queue order.
upcoming_report first_upcoming(upcoming_report r, uint64_t n) {
  std::vector<size_t> order(r.greetings.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    auto fa = due_queue::fire_at(r.greetings[a]), fb = due_queue::fire_at(r.greetings[b]);
    return fa != fb ? fa < fb : r.greetings[a].key < r.greetings[b].key;
  });
  upcoming_report out;
  out.unreachable = std::move(r.unreachable);
  for (size_t i = 0; i < order.size() && i < n; ++i) {
    out.greetings.push_back(std::move(r.greetings[order[i]]));
    out.nodes.push_back(std::move(r.nodes[order[i]]));
  }
  return out;
}

// Hands the cluster's pause to delivery here and, with `tell_peers`, to
// every connected peer (the others hear the database's notification);
// `done(p)` once all have answered or failed.
template <class Done> void apply_pause(self_ptr self, pause_state p, bool tell_peers, Done done) {
  auto& st = self->state;
  // An older version arriving late (a slow peer) never undoes a newer one; the
  // same version again is a timed pause ending (from the MEMBER actor).
  if (p.version >= st.pause_version && st.opts.delivery) {
    st.pause_version = p.version;
    caf::anon_send(st.opts.delivery, atom::pause::value, p.paused, p.until_ms, p.by);
  }
  auto left = std::make_shared<size_t>(1);
  auto one = [p, left, done]() mutable {
    if (--*left == 0) done(p);
  };
  if (tell_peers)
    for (auto& [id, pr] : st.peers)
      if (pr.handle) {
        ++*left;
        self->request(pr.handle, seconds{2}, atom::pause::value, p, false)
            .then([one](bool) mutable { one(); }, [one](caf::error&) mutable { one(); });
      }
  one();
}

// Who may ask what. CAF delivers a message to any published-or-known actor
// over any connection (the console port reaches this actor too), so the
// state-changing messages check where they come from: the control interface
// only from this process, the peer ones also from a connected peer's node.
bool from_here(self_ptr self) {
  const auto& s = self->current_sender();
  return !s || s->node() == self->node();
}

bool from_cluster(self_ptr self) {
  if (from_here(self)) return true;
  auto n = self->current_sender()->node();
  for (const auto& [id, p] : self->state.peers)
    if (p.handle && p.handle.node() == n) return true;
  return false;
}

caf::error not_yours(self_ptr self, const char* what) {
  const auto& s = self->current_sender();
  spdlog::warn("event=node.refused what={} from={}", what,
               s ? to_string(s->node()) : std::string{"?"});
  return make_error(errc::refused,
                    std::string{what} + " is taken from this node or its peers only");
}

// -- handlers ----------------------------------------------------------------------

// Only an exit sent to the node itself (the engine stopping: anon_send_exit
// names the receiver as the source) ends it and, through the links, every
// partition it runs. A partition's exit (the link) is left to on_down, in
// whichever order the two arrive: a partition that stops before the node
// has linked and monitored it (a lease held elsewhere is refused within a
// millisecond of the spawn) sends its down message first, so its exit comes
// from an actor no longer running here, and ending the node on it left a
// node alive in the cluster with no partitions (e2e.failover, under load).
void on_exit(self_ptr self, caf::exit_msg& msg) {
  if (msg.source == self->address()) self->quit(msg.reason);
}

// A partition here stopped (planned or not), or a peer's NODE actor is gone.
void on_down(self_ptr self, caf::down_msg& msg) {
  auto& st = self->state;
  for (auto it = st.running.begin(); it != st.running.end(); ++it)
    if (it->second.address() == msg.source) {
      auto p = it->first;
      bool planned = st.handing_off.erase(p) > 0;
      st.running.erase(it);
      if (!planned && msg.reason && msg.reason != caf::exit_reason::user_shutdown)
        spdlog::info("event=node.partition_down partition={} reason=\"{}\"", p,
                     self->system().render(msg.reason));
      maybe_left(self);
      return;
    }
  for (auto& [id, p] : st.peers)
    if (p.handle && p.handle.address() == msg.source) {
      spdlog::warn("event=node.peer_down peer={} reason=\"{}\"", id,
                   self->system().render(msg.reason));
      p.handle = nullptr;
      p.next_try = self->clock().now() + connect_delay(self, id);
      // Only a prompt to look: ownership changes only through the database.
      if (st.member)
        self->request(st.member, seconds{5}, atom::view::value)
            .then([](cluster_view&) {}, [](caf::error&) {});
      return;
    }
}

// A write for partition `p`: to its actor here as (a, item), or, unless it
// came from a peer, to the owning node as (a, head..., item, true).
template <class Atom, class T, class... Head>
caf::result<bool> route_write(self_ptr self, int32_t p, bool forwarded, Atom a, T&& item,
                              Head... head) {
  auto t = self->state.opts.forward_timeout;
  auto x = shared(std::move(item));
  return route(
      self, p, forwarded,
      [=](const partition_actor& h) { return self->request(h, caf::infinite, a, *x); },
      [=](const node_actor& h) { return self->request(h, t, a, head..., *x, true); });
}

// The simulated clock moves here (every partition looks again) and, with
// `tell_peers`, at every connected peer before the answer; the rest move on
// the database's notification.
caf::result<bool> move_clock(self_ptr self, int64_t sim_ms, int64_t at_ms, double speed,
                             bool tell_peers) {
  auto& st = self->state;
  auto& clock = *st.opts.partition.clock;
  bool ok = clock.adopt_anchor(sim_ms, at_ms, speed, steady_clock::now());
  for (auto& [p, hdl] : st.running)
    self->send(hdl, atom::tick::value);
  auto rp = self->make_response_promise<bool>();
  if (!tell_peers) {
    rp.deliver(ok);
    return rp;
  }
  auto left = std::make_shared<size_t>(1);
  auto done = [rp, left, ok]() mutable {
    if (--*left == 0) rp.deliver(ok);
  };
  for (auto& [id, p] : st.peers)
    if (p.handle) {
      ++*left;
      self->request(p.handle, seconds{2}, atom::clock::value, sim_ms, at_ms, speed, false)
          .then([done](bool) mutable { done(); }, [done](caf::error&) mutable { done(); });
    }
  done();
  return rp;
}

cluster_status status_of(self_ptr self) {
  auto& st = self->state;
  cluster_status out;
  out.self = st.opts.id;
  out.have_view = st.have_view;
  out.view = st.view;
  for (const auto& [p, hdl] : st.running)
    out.running.push_back(p);
  for (const auto& [id, p] : st.peers)
    if (p.handle) out.peers.push_back(id);
  return out;
}

// Every partition's status, here or in the cluster.
caf::result<partitions_report> partitions_of(self_ptr self, bool cluster) {
  auto t = seconds{2};
  auto rp = self->make_response_promise<partitions_report>();
  gather<partitions_report, partition_status, partitions_report>(
      self, cluster,
      [=](const partition_actor& h) { return self->request(h, t, atom::status::value); },
      [=](const node_actor& h) { return self->request(h, t, atom::partitions::value, false); },
      [](partitions_report& out, partition_status& x, const std::string&) {
        out.partitions.push_back(x);
      },
      [](partitions_report& out, partitions_report& x) {
        for (auto& p : x.partitions)
          out.partitions.push_back(std::move(p));
      },
      [rp](partitions_report&& r) mutable { rp.deliver(std::move(r)); });
  return rp;
}

// The next `n` greetings due, here or in the cluster, with the node of each.
caf::result<upcoming_report> upcoming_of(self_ptr self, uint64_t n, bool cluster) {
  auto t = seconds{2};
  auto rp = self->make_response_promise<upcoming_report>();
  gather<upcoming_report, occurrence_list, upcoming_report>(
      self, cluster,
      [=](const partition_actor& h) { return self->request(h, t, atom::upcoming::value, n); },
      [=](const node_actor& h) { return self->request(h, t, atom::upcoming::value, n, false); },
      [](upcoming_report& out, occurrence_list& x, const std::string& id) {
        for (auto& o : x) {
          out.greetings.push_back(std::move(o));
          out.nodes.push_back(id);
        }
      },
      [](upcoming_report& out, upcoming_report& x) {
        for (size_t i = 0; i < x.greetings.size(); ++i) {
          out.greetings.push_back(std::move(x.greetings[i]));
          out.nodes.push_back(std::move(x.nodes[i]));
        }
      },
      [rp, n](upcoming_report&& r) mutable { rp.deliver(first_upcoming(std::move(r), n)); });
  return rp;
}

// Every partition's audit (its schedule against the database), here or in
// the cluster.
caf::result<audit_report> audit_of(self_ptr self, bool cluster) {
  // Each partition reads two statements: a little longer than a status.
  auto t = seconds{20};
  auto rp = self->make_response_promise<audit_report>();
  auto merge = [](audit_report& out, audit_report& x) {
    auto append = [](auto& to, auto& from) {
      to.insert(to.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
    };
    append(out.unscheduled, x.unscheduled);
    append(out.unowned, x.unowned);
    append(out.audited, x.audited);
    append(out.unreachable, x.unreachable);
  };
  gather<audit_report, audit_report, audit_report>(
      self, cluster,
      [=](const partition_actor& h) { return self->request(h, t, atom::audit::value); },
      [=](const node_actor& h) {
        return self->request(h, t + seconds{5}, atom::audit::value, false);
      },
      [merge](audit_report& out, audit_report& x, const std::string&) { merge(out, x); }, merge,
      [rp](audit_report&& r) mutable { rp.deliver(std::move(r)); });
  return rp;
}

// A pause asked for here (REST or console): written to the database by the
// MEMBER actor, then applied here and at every connected peer.
caf::result<pause_state> pause_cluster(self_ptr self, bool paused, int64_t for_ms,
                                       std::string& by) {
  auto rp = self->make_response_promise<pause_state>();
  if (!self->state.member) {
    rp.deliver(make_error(errc::unavailable, "not joined yet"));
    return rp;
  }
  self->request(self->state.member, seconds{5}, atom::pause::value, paused, for_ms, by)
      .then(
          [self, rp](pause_state& p) mutable {
            apply_pause(self, p, true, [rp](const pause_state& q) mutable { rp.deliver(q); });
          },
          [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  return rp;
}

// SIGTERM: every partition here is handed off; the answer comes once the
// last one is gone.
caf::result<bool> leave(self_ptr self) {
  auto& st = self->state;
  st.leaving = true;
  st.left = self->make_response_promise<bool>();
  auto rp = st.left;
  spdlog::info("event=node.leaving partitions={}", st.running.size());
  std::vector<int32_t> all;
  for (const auto& [p, hdl] : st.running)
    all.push_back(p);
  for (auto p : all)
    hand_off(self, p);
  maybe_left(self);
  return rp;
}

// Fault injection: partition `p` here is killed (its lease stays; the next
// view starts it again).
bool crash(self_ptr self, int32_t p) {
  auto it = self->state.running.find(p);
  if (it == self->state.running.end()) return false;
  spdlog::warn("event=node.fault_injection partition={}", p);
  self->send_exit(it->second, caf::exit_reason::kill);
  return true;
}

// Sends `what` to the partitions of `ps` that run here.
template <class Atom>
void tell_partitions(self_ptr self, const std::vector<int32_t>& ps, Atom what) {
  auto& st = self->state;
  for (auto p : ps)
    if (auto it = st.running.find(p); it != st.running.end()) self->send(it->second, what);
}

// -- the behavior ------------------------------------------------------------------

// Writes are routed (here or forwarded once to their owner); console and
// REST reports gather over the partitions here and, when asked, the peers;
// the MEMBER actor brings views, the change feed and redrives. State changes
// are taken from this process or a connected peer only (from_here,
// from_cluster).
node_control_actor::behavior_type node(self_ptr self, node_options opts) {
  self->state.opts = std::move(opts);
  self->set_exit_handler([self](caf::exit_msg& msg) { on_exit(self, msg); });
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  return {
      [self](atom::upsert a, user& u, bool forwarded) {
        auto p = u.partition;
        return route_write(self, p, forwarded, a, std::move(u));
      },
      [self](atom::upsert a, int32_t p, user_list& us, bool forwarded) {
        return route_write(self, p, forwarded, a, std::move(us), p);
      },
      [self](atom::remove a, int32_t p, std::string& id, bool forwarded) {
        return route_write(self, p, forwarded, a, std::move(id), p);
      },
      [self](atom::resume a, occurrence& o, bool forwarded) {
        auto p = o.partition;
        return route_write(self, p, forwarded, a, std::move(o));
      },
      [self](atom::clock, int64_t sim_ms, int64_t at_ms, double speed,
             bool tell_peers) -> caf::result<bool> {
        if (!from_cluster(self)) return not_yours(self, "clock");
        return move_clock(self, sim_ms, at_ms, speed, tell_peers);
      },
      [self](atom::status) { return status_of(self); },
      [self](atom::partitions, bool cluster) { return partitions_of(self, cluster); },
      [self](atom::upcoming, uint64_t n, bool cluster) { return upcoming_of(self, n, cluster); },
      [self](atom::audit, bool cluster) { return audit_of(self, cluster); },
      [self](atom::pause, pause_state& p, bool tell_peers) -> caf::result<bool> {
        if (!from_cluster(self)) return not_yours(self, "pause");
        auto rp = self->make_response_promise<bool>();
        apply_pause(self, p, tell_peers, [rp](const pause_state&) mutable { rp.deliver(true); });
        return rp;
      },
      [self](atom::pause, bool paused, int64_t for_ms,
             std::string& by) -> caf::result<pause_state> {
        if (!from_here(self)) return not_yours(self, "pause");
        return pause_cluster(self, paused, for_ms, by);
      },
      [self](atom::view, cluster_view& v, bool session_lost) {
        if (from_here(self)) on_view(self, v, session_lost);
      },
      [self](atom::view, caf::actor& m) {
        if (from_here(self)) self->state.member = caf::actor_cast<member_actor>(m);
      },
      [self](atom::leave) -> caf::result<bool> {
        if (!from_here(self)) return not_yours(self, "leave");
        return leave(self);
      },
      [self](atom::crash, int32_t p) -> caf::result<bool> {
        if (!from_here(self)) return not_yours(self, "crash");
        return crash(self, p);
      },
      [self](atom::tick t) {
        if (!from_here(self)) return;
        for (auto& [p, hdl] : self->state.running)
          self->send(hdl, t);
      },
      [self](atom::changes, std::vector<int32_t>& ps) {
        if (from_here(self)) tell_partitions(self, ps, atom::changes::value);
      },
      [self](atom::sweep, std::vector<int32_t>& ps) {
        if (from_here(self)) tell_partitions(self, ps, atom::sweep::value);
      },
  };
}

} // namespace

node_control_actor spawn_node(caf::actor_system& sys, node_options opts) {
  return sys.spawn(node, std::move(opts));
}

void attach_member(const node_control_actor& node, const member_actor& member) {
  caf::anon_send(node, atom::view::value, caf::actor_cast<caf::actor>(member));
}

} // namespace candle
