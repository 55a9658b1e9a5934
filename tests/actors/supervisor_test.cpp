// The SUPERVISOR on the deterministic coordinator: restarts with backoff, a
// crashed partition comes back and loses nothing, the intensity limit.
#include "actors/supervisor.hpp"
#include "fixture.hpp"

using namespace candle;
using namespace candle::test;
using namespace std::chrono;

namespace {

class Supervisor : public engine_fixture {
protected:
  caf::actor start(supervisor_options o) {
    auto s = spawn_supervisor(sys, std::move(o));
    actors.push_back(s);
    sched.run();
    return s;
  }
  template <class R, class... Ts> caf::expected<R> call(const caf::actor& a, Ts... xs) {
    caf::scoped_actor self{sys};
    caf::expected<R> out{caf::error{}};
    auto h = self->request(a, caf::infinite, xs...);
    sched.run();
    std::move(h).receive([&](R& r) { out = std::move(r); },
                         [&](caf::error& e) { out = std::move(e); });
    return out;
  }
};

// A child that fails as soon as it starts. (It takes an argument because CAF
// 0.17.6 dereferences a null pointer when spawning a function actor without
// any; see node/bridge.hpp.)
caf::behavior failing_child(caf::event_based_actor* self, std::string why) {
  self->quit(make_error(ec::internal, why));
  return {};
}

} // namespace

TEST_F(Supervisor, ACrashedPartitionIsRestartedAndLosesNothing) {
  add_user("ada", "UTC", "1990-07-15");
  start_clock("2027-07-15T08:59:00Z");
  auto opts = options();
  supervisor_options so;
  so.children.push_back({"partition-0", [opts](caf::local_actor* parent) {
                           return caf::actor_cast<caf::actor>(parent->spawn(partition, opts));
                         }});
  auto sup = start(so);
  auto before = call<caf::actor>(sup, atom::lookup::value, std::string{"partition-0"});
  ASSERT_TRUE(before);
  EXPECT_EQ(db->epoch, 1);
  advance(seconds{30});
  auto crashed = call<bool>(sup, atom::crash::value, std::string{"partition-0"});
  ASSERT_TRUE(crashed && *crashed);
  auto during = call<caf::actor>(sup, atom::lookup::value, std::string{"partition-0"});
  EXPECT_FALSE(during) << "a dead child was still handed out";
  advance(milliseconds{100}); // the first restart's backoff
  auto after = call<caf::actor>(sup, atom::lookup::value, std::string{"partition-0"});
  ASSERT_TRUE(after);
  EXPECT_NE(*after, *before);
  EXPECT_EQ(db->epoch, 2) << "the restarted partition took a new lease epoch";
  // The test clock jumps a whole step before firing timers: step exactly to 09:00.
  advance(seconds{30} - milliseconds{100});
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T09:00:00Z"));
  advance(hours{2});
  EXPECT_EQ(provider->sends.size(), 1u);
}

TEST_F(Supervisor, BackoffDoublesAndTheIntensityLimitEndsIt) {
  start_clock("2027-07-15T09:00:00Z");
  auto starts = std::make_shared<int>(0);
  supervisor_options so;
  so.max_restarts = 3;
  so.period = seconds{60};
  so.children.push_back({"broken", [starts](caf::local_actor* parent) {
                           ++*starts;
                           return parent->spawn(failing_child, std::string{"broken on purpose"});
                         }});
  auto sup = start(so);
  EXPECT_EQ(*starts, 1);
  advance(milliseconds{99});
  EXPECT_EQ(*starts, 1) << "restarted before its backoff";
  advance(milliseconds{1});
  EXPECT_EQ(*starts, 2);
  advance(milliseconds{199});
  EXPECT_EQ(*starts, 2) << "the backoff did not double";
  advance(milliseconds{1});
  EXPECT_EQ(*starts, 3);
  advance(milliseconds{400});
  EXPECT_EQ(*starts, 4);
  // The fourth failure within the period exceeds max_restarts: it gives up.
  advance(seconds{10});
  EXPECT_EQ(*starts, 4);
  auto r = call<caf::actor>(sup, atom::lookup::value, std::string{"broken"});
  EXPECT_FALSE(r) << "the supervisor should have exited";
}
