#include "actors/lease_keeper.hpp"

#include "core/cluster_plan.hpp"
#include "core/metrics.hpp"
#include "persistence/store.hpp"

#include <map>
#include <spdlog/spdlog.h>

namespace candle {

namespace {

// A renewal this slow is logged: what it waited for is then in the node's
// log, not guessed.
constexpr auto slow_statement = std::chrono::seconds{1};

struct keeper_state {
  static constexpr const char* name = "lease-keeper";
  std::unique_ptr<pg::store> db;
  lease_keeper_options opts;
  struct held {
    int64_t epoch;
    caf::actor partition;
  };
  std::map<int32_t, held> leases;
};

using keeper_pointer = lease_keeper_actor::stateful_pointer<keeper_state>;

// One renewal round: every held lease in one statement. The deadline counts
// from the statement's start, on this thread's clock.
std::chrono::milliseconds renew_all(keeper_pointer self) {
  using namespace std::chrono;
  auto& st = self->state;
  auto every = seconds{std::max<int64_t>(1, st.opts.lease_ttl / 3)};
  if (st.leases.empty()) return every;
  std::vector<std::pair<int32_t, int64_t>> want;
  for (const auto& [p, h] : st.leases)
    want.emplace_back(p, h.epoch);
  auto started = self->clock().now();
  std::vector<int32_t> ours;
  try {
    if (st.opts.renew) {
      ours = st.opts.renew(st.opts.node, want, seconds{st.opts.lease_ttl});
    } else {
      if (!st.db) st.db = std::make_unique<pg::store>(st.opts.conninfo);
      ours = st.db->renew_leases(st.opts.node, want, seconds{st.opts.lease_ttl});
    }
  } catch (const std::exception& e) {
    // The deadlines run out by themselves if this keeps failing.
    spdlog::warn("event=partition.renew_failed partitions={} error=\"{}\"", want.size(), e.what());
    st.db.reset();
    return seconds{1};
  }
  auto took = self->clock().now() - started;
  if (took >= slow_statement)
    spdlog::warn("event=db.slow op=renew_leases n={} ms={}", want.size(),
                 duration_cast<milliseconds>(took).count());
  metrics::global().persistence_batch.observe({"renew"}, static_cast<double>(want.size()));
  std::set<int32_t> held(ours.begin(), ours.end());
  auto until = fence_deadline(started, milliseconds{st.opts.lease_ttl * 1000});
  for (const auto& [p, epoch] : want) {
    if (held.count(p)) {
      st.opts.fences->extend(p, epoch, until);
      continue;
    }
    spdlog::warn("event=partition.lease_lost partition={} epoch={}", p, epoch);
    st.opts.fences->close(p, epoch);
    self->anon_send(caf::actor_cast<partition_actor>(st.leases[p].partition), atom::renew::value,
                    epoch);
    st.leases.erase(p);
  }
  return every;
}

lease_keeper_actor::behavior_type keeper(keeper_pointer self, lease_keeper_options opts) {
  self->state.opts = std::move(opts);
  self->set_down_handler([self](caf::down_msg& m) {
    auto& leases = self->state.leases;
    for (auto i = leases.begin(); i != leases.end();)
      i = i->second.partition.address() == m.source ? leases.erase(i) : std::next(i);
  });
  self->send(self, atom::tick::value);
  return {
      [self](atom::renew, int32_t p, int64_t epoch, caf::actor& who) {
        self->monitor(who);
        self->state.leases[p] = {epoch, std::move(who)};
      },
      [self](atom::unlease, int32_t p, int64_t epoch) {
        auto& leases = self->state.leases;
        auto i = leases.find(p);
        if (i != leases.end() && i->second.epoch == epoch) leases.erase(i);
      },
      [self](atom::tick) { self->delayed_send(self, renew_all(self), atom::tick::value); },
  };
}

} // namespace

lease_keeper_actor spawn_lease_keeper(caf::actor_system& sys, lease_keeper_options opts) {
  if (opts.renew) return sys.spawn(keeper, std::move(opts)); // a test's: on its scheduler
  return sys.spawn<caf::detached>(keeper, std::move(opts));
}

} // namespace candle
