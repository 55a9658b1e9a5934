// The deterministic test fixture for actors: CAF's test coordinator (every
// message runs on the test thread, time moves only when the test says so), a
// simulated engine clock driven by the coordinator's clock, and the fakes.
#pragma once

#include "actors/lease_keeper.hpp"
#include "actors/partition.hpp"
#include "actors/persistence.hpp"
#include "fakes.hpp"

#include <gtest/gtest.h>

namespace candle::test {

using namespace std::chrono;

inline int64_t ms(std::string_view iso) {
  return duration_cast<milliseconds>(parse_instant(iso)->time_since_epoch()).count();
}

struct test_config : caf::actor_system_config {
  test_config() {
    set("scheduler.policy", caf::atom("testing"));
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.inline-output", true);
    register_types(*this);
  }
};

class engine_fixture : public ::testing::Test {
protected:
  engine_fixture()
      : sys(cfg), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {}

  ~engine_fixture() override {
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Starts the engine clock at `start` (frozen when speed is 0) and the fakes.
  void start_clock(std::string_view start, double speed = 1.0) {
    clock = std::make_shared<engine_clock>(
        engine_clock::simulated(*parse_instant(start), speed, sched.clock().now()));
    provider->clock = clock;
    provider->actor_clock = &sched.clock();
    db_handle = sys.spawn(fake_db, db);
    delivery_handle = sys.spawn(fake_provider, provider);
    actors.push_back(caf::actor_cast<caf::actor>(db_handle));
    actors.push_back(caf::actor_cast<caf::actor>(delivery_handle));
    // The node's real LEASE KEEPER, on the test scheduler, over the fake store.
    lease_keeper_options ko;
    ko.node = "test";
    ko.lease_ttl = lease_ttl;
    ko.fences = fences;
    ko.renew = [st = db](const std::string&, const std::vector<std::pair<int32_t, int64_t>>& l,
                         seconds) { return fake_renew(*st, l); };
    keeper = spawn_lease_keeper(sys, std::move(ko));
    actors.push_back(caf::actor_cast<caf::actor>(keeper));
  }

  partition_actor spawn_partition() {
    auto p = sys.spawn(partition, options());
    actors.push_back(caf::actor_cast<caf::actor>(p));
    sched.run();
    return p;
  }

  partition_options options() {
    partition_options o;
    o.id = 0;
    o.node = "test";
    o.clock = clock;
    o.db = db_handle;
    o.delivery = delivery_handle;
    o.lookahead = hours{48};
    o.recovery_window = hours{48};
    o.max_attempts = 4;
    o.claim_ahead = claim_ahead;
    o.lease_ttl = lease_ttl;
    o.fences = fences;
    o.keeper = keeper;
    return o;
  }

  user add_user(std::string id, std::string zone, std::string birthday,
                std::string created = "2020-01-01T00:00:00Z") {
    user u;
    u.id = std::move(id);
    u.first_name = "F";
    u.last_name = "L";
    u.email = u.id + "@example.com";
    u.timezone = std::move(zone);
    u.birthday_date = std::move(birthday);
    u.created_at = ms(created);
    db->users[u.id] = u;
    return u;
  }

  /// Moves simulated (actor) time on, a second at most per step so that
  /// lease renewals happen as they would in real time, and runs everything
  /// that results.
  void advance(milliseconds d) {
    while (d > milliseconds::zero()) {
      auto step = std::min<milliseconds>(d, seconds{1});
      sched.advance_time(step);
      sched.run();
      d -= step;
    }
  }

  /// Sends a request and runs until it is answered.
  template <class R, class... Ts> R ask(const partition_actor& p, Ts... xs) {
    caf::scoped_actor self{sys};
    R out{};
    auto handle = self->request(p, caf::infinite, xs...);
    sched.run(); // the coordinator runs the partition; the reply waits in our mailbox
    std::move(handle).receive([&](R& r) { out = std::move(r); },
                              [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return out;
  }

  /// True once the partition has quit.
  static bool ended(const partition_actor& p) {
    return caf::actor_cast<caf::abstract_actor*>(p)->getf(caf::abstract_actor::is_terminated_flag);
  }

  template <class... Ts> void tell(const partition_actor& p, Ts... xs) {
    caf::anon_send(p, xs...);
    sched.run();
  }

  test_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<engine_clock> clock;
  std::shared_ptr<fake_db_state> db = std::make_shared<fake_db_state>();
  std::shared_ptr<fake_provider_state> provider = std::make_shared<fake_provider_state>();
  persistence_actor db_handle;
  delivery_actor delivery_handle;
  std::vector<caf::actor> actors;
  milliseconds claim_ahead{0}; ///< for partitions spawned after it is set
  int64_t lease_ttl = 30;      ///< seconds
  std::shared_ptr<fence_table> fences = std::make_shared<fence_table>(1024);
  lease_keeper_actor keeper;
};

} // namespace candle::test
