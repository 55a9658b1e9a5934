#include "actors/member.hpp"

#include "persistence/membership.hpp"

#include <chrono>
#include <optional>
#include <spdlog/spdlog.h>
#include <thread>

namespace candle {

namespace {

using namespace std::chrono;

struct member_state {
  static constexpr const char* name = "member";
  std::shared_ptr<pg::membership> m;
  node_control_actor node;
  std::shared_ptr<engine_clock> clock;
  steady_clock::time_point next_round{};
  bool lost = false;
  // The cluster's pause as last read, when, and what the NODE actor was told.
  pause_state pause;
  steady_clock::time_point pause_read{};
  bool pause_known = false;
  bool told_paused = false;
  int64_t told_version = 0;
};

constexpr milliseconds round_every{1000};
constexpr milliseconds slice{100}; // how long one wait blocks the mailbox at most

void remember_pause(member_state& st, pause_state p) {
  st.pause = std::move(p);
  st.pause_read = steady_clock::now();
  if (!st.pause_known) {
    // At start: a pause in force holds this node; none leaves email.paused
    // (a local hold) as it is until the next change.
    st.pause_known = true;
    st.told_version = st.pause.version;
  }
}

// Tells the NODE actor (which tells delivery) when the pause in force
// changed: a new version, or a timed pause that has run out (measured on
// this node's monotonic clock from when it was read).
void tell_pause(member_state& st) {
  if (!st.pause_known) return;
  auto elapsed = duration_cast<milliseconds>(steady_clock::now() - st.pause_read).count();
  bool holds = pause_holds(st.pause, elapsed);
  if (holds == st.told_paused && st.pause.version == st.told_version) return;
  auto p = st.pause;
  p.paused = holds;
  if (!holds && st.pause.paused) spdlog::info("event=delivery.pause_ended by=\"{}\"", st.pause.by);
  caf::anon_send(st.node, atom::pause::value, p, false);
  st.told_paused = holds;
  st.told_version = st.pause.version;
}

// The membership connection broke: this node's session lock may be gone
// already, and with it (for its peers) its leases, so its partitions stop
// at once, whichever call found it (a round or a wait for notifications).
void lose_session(member_state& st, const char* why) {
  if (!st.lost)
    spdlog::warn("event=cluster.membership_lost error=\"{}\" effect=\"partitions stop until "
                 "the session is back\"",
                 why);
  st.lost = true;
  caf::anon_send(st.node, atom::view::value, cluster_view{}, true);
}

std::optional<cluster_view> member_round(member_actor::stateful_pointer<member_state> self) {
  auto& st = self->state;
  st.next_round = steady_clock::now() + round_every;
  try {
    if (st.lost) {
      auto r = st.m->rejoin();
      if (!r) {
        spdlog::warn("event=cluster.rejoin_failed error=\"{}\"", r.err().message);
        return std::nullopt;
      }
      spdlog::warn("event=cluster.rejoined");
      st.lost = false;
    }
    auto v = st.m->round();
    // The pause first: a restarted node holds before its partitions start.
    if (st.m->pause_changed()) remember_pause(st, st.m->pause());
    tell_pause(st);
    caf::anon_send(st.node, atom::view::value, v, false);
    if (st.m->clock_changed() && st.clock->is_simulated())
      if (auto c = st.m->clock())
        caf::anon_send(st.node, atom::clock::value, c->sim_ms, c->at_ms, c->speed, false);
    return v;
  } catch (const std::exception& e) {
    lose_session(st, e.what());
  }
  return std::nullopt;
}

member_actor::behavior_type member_loop(member_actor::stateful_pointer<member_state> self,
                                        std::shared_ptr<pg::membership> m, node_control_actor node,
                                        std::shared_ptr<engine_clock> clock) {
  self->state.m = std::move(m);
  self->state.node = std::move(node);
  self->state.clock = std::move(clock);
  self->send(self, atom::tick::value);
  return {
      [self](atom::tick) {
        auto& st = self->state;
        if (steady_clock::now() >= st.next_round) member_round(self);
        bool notified = false;
        try {
          notified = !st.lost && st.m->await(slice);
        } catch (const std::exception& e) {
          // Found here, not in a round: stopping only at the next round's
          // rejoin let partitions send on while a peer took their leases.
          lose_session(st, e.what());
        }
        if (auto ps = st.m->changed_partitions(); !ps.empty())
          caf::anon_send(st.node, atom::changes::value, std::move(ps));
        if (auto ps = st.m->redriven_partitions(); !ps.empty())
          caf::anon_send(st.node, atom::sweep::value, std::move(ps));
        if (notified)
          st.next_round = steady_clock::time_point{}; // at once
        else if (st.lost)
          std::this_thread::sleep_for(slice);
        self->send(self, atom::tick::value);
      },
      [self](atom::view) -> caf::result<cluster_view> {
        if (auto v = member_round(self)) return std::move(*v);
        return make_error(errc::unavailable, "membership connection lost");
      },
      [self](atom::clock, int64_t sim_ms, double speed) -> caf::result<clock_anchor> {
        try {
          return self->state.m->set_clock(sim_ms, speed);
        } catch (const std::exception& e) {
          return make_error(errc::unavailable, std::string{"cluster clock: "} + e.what());
        }
      },
      [self](atom::pause, bool paused, int64_t for_ms,
             std::string& by) -> caf::result<pause_state> {
        auto& st = self->state;
        try {
          auto p = st.m->set_pause(paused, for_ms, by);
          remember_pause(st, p);
          // The caller tells the NODE actors (here and at the peers) at once.
          st.told_paused = p.paused;
          st.told_version = p.version;
          return p;
        } catch (const std::exception& e) {
          return make_error(errc::unavailable, std::string{"cluster pause: "} + e.what());
        }
      },
      [self](atom::leave) {
        self->state.m->leave();
        self->quit();
        return true;
      },
  };
}

} // namespace

member_actor spawn_member(caf::actor_system& sys, std::shared_ptr<pg::membership> m,
                          node_control_actor node, std::shared_ptr<engine_clock> clock) {
  return sys.spawn<caf::detached>(member_loop, std::move(m), std::move(node), std::move(clock));
}

} // namespace candle
