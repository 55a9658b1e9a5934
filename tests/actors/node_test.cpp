// The NODE actor's protocol on CAF's deterministic coordinator: membership
// views in, partition actors started, handed off and restarted. The views
// are written by hand; the database behind the partitions is the fake.
#include "actors/engine.hpp"
#include "actors/node.hpp"
#include "fixture.hpp"

#include <algorithm>

using namespace candle;
using namespace candle::test;

namespace {

constexpr int32_t partitions = 8;

node_row member_row(std::string id, bool live = true, int64_t up_ms = 60'000) {
  node_row n;
  n.info.id = std::move(id);
  n.info.address = "127.0.0.1";
  n.live = n.session = live;
  n.up_ms = up_ms;
  return n;
}

// Every lease held by `owner` ("" = free), unexpired.
std::vector<lease_row> leases(const std::vector<std::string>& owner) {
  std::vector<lease_row> out;
  for (int32_t p = 0; p < partitions; ++p)
    out.push_back(
        {p, owner[static_cast<size_t>(p)], 1, owner[static_cast<size_t>(p)].empty() ? -1 : 10'000});
  return out;
}

std::vector<std::string> all(const std::string& id) {
  return std::vector<std::string>(partitions, id);
}

} // namespace

class Node : public engine_fixture {
protected:
  node_control_actor spawn_node_actor() {
    node_options o;
    o.id = "me";
    o.partitions = partitions;
    o.partition = options();
    o.limits.join_delay = seconds{1};
    auto n = candle::spawn_node(sys, o);
    actors.push_back(caf::actor_cast<caf::actor>(n));
    sched.run();
    return n;
  }

  void view(const node_control_actor& n, std::vector<node_row> nodes, std::vector<lease_row> ls,
            bool lost = false) {
    cluster_view v;
    v.nodes = std::move(nodes);
    v.leases = std::move(ls);
    caf::anon_send(n, atom::view::value, v, lost);
    sched.run();
  }

  std::vector<int32_t> running(const node_control_actor& n) {
    caf::scoped_actor self{sys};
    cluster_status out;
    auto h = self->request(n, caf::infinite, atom::status::value);
    sched.run();
    std::move(h).receive([&](cluster_status& c) { out = std::move(c); },
                         [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
    std::sort(out.running.begin(), out.running.end());
    return out.running;
  }
};

TEST_F(Node, AloneItStartsEveryFreePartitionAndNothingWithoutAView) {
  start_clock("2027-07-15T08:00:00Z", 0.0);
  auto n = spawn_node_actor();
  EXPECT_TRUE(running(n).empty()) << "started partitions before any view";
  view(n, {member_row("me")}, leases(all("")));
  EXPECT_EQ(running(n).size(), static_cast<size_t>(partitions));
  EXPECT_EQ(db->epoch, partitions) << "each partition took its lease";
}

TEST_F(Node, APartitionHeldByALivePeerIsNeverStartedOneHeldByALostPeerIs) {
  start_clock("2027-07-15T08:00:00Z", 0.0);
  auto n = spawn_node_actor();
  auto owners = all("me");
  owners[2] = owners[5] = "peer";
  // The peer is live and holds 2 and 5; the six the database says are ours
  // start, and as the peer is below its share (4 of 8) we hand off two.
  view(n, {member_row("me"), member_row("peer")}, leases(owners));
  auto r = running(n);
  EXPECT_EQ(r, (std::vector<int32_t>{0, 1, 3, 4}));
  EXPECT_EQ(std::count(r.begin(), r.end(), 2), 0);
  EXPECT_EQ(std::count(r.begin(), r.end(), 5), 0);
  // The peer is lost (its session gone): its leases are free and ours to take.
  view(n, {member_row("me"), member_row("peer", false)}, leases(owners));
  EXPECT_EQ(running(n).size(), static_cast<size_t>(partitions));
}

TEST_F(Node, AJoinerGetsItsShareByHandOffOnlyAfterTheJoinDelay) {
  start_clock("2027-07-15T08:00:00Z", 0.0);
  auto n = spawn_node_actor();
  view(n, {member_row("me")}, leases(all("")));
  ASSERT_EQ(running(n).size(), static_cast<size_t>(partitions));
  // A node joins: inside the join delay nothing is handed off.
  view(n, {member_row("me"), member_row("new", true, 100)}, leases(all("me")));
  EXPECT_EQ(running(n).size(), static_cast<size_t>(partitions));
  // Settled: we hand off down to our share (4), the highest partitions first.
  view(n, {member_row("me"), member_row("new", true, 5'000)}, leases(all("me")));
  advance(seconds{1}); // hand-offs finish: nothing was in flight
  EXPECT_EQ(running(n), (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_TRUE(db->released) << "no lease was handed back";
}

TEST_F(Node, ALostSessionStopsEveryPartitionAndTheNextViewRestartsWhatIsStillOurs) {
  start_clock("2027-07-15T08:00:00Z", 0.0);
  auto n = spawn_node_actor();
  view(n, {member_row("me")}, leases(all("")));
  ASSERT_EQ(running(n).size(), static_cast<size_t>(partitions));
  view(n, {}, {}, true);
  EXPECT_TRUE(running(n).empty()) << "kept sending without its session";
  auto owners = all("me");
  owners[7] = "peer"; // taken over meanwhile
  view(n, {member_row("me"), member_row("peer")}, leases(owners));
  // The seven still ours start again (partition 7 does not); then, the peer
  // being below its share, three of them are handed off.
  EXPECT_EQ(db->epoch, partitions + 7) << "not restarted with new epochs";
  EXPECT_EQ(running(n), (std::vector<int32_t>{0, 1, 2, 3}));
}

// A partition that stops before the node has monitored and linked it (a
// lease held elsewhere is refused that fast under load) sends its down
// message first and its exit second; the exit then comes from an actor that
// no longer runs here. The node once took that for the engine stopping it and
// quit: a node live in the cluster running no partition, so the partitions
// that were its share went unowned and their greetings unsent.
TEST_F(Node, AnExitFromAnActorNotRunningHereDoesNotEndTheNode) {
  start_clock("2027-07-15T08:00:00Z", 0.0);
  auto n = spawn_node_actor();
  std::string failure;
  watch(caf::actor_cast<caf::strong_actor_ptr>(n), "node",
        [&](const char* actor, const caf::error& e) { failure = actor + (": " + sys.render(e)); });
  view(n, {member_row("me")}, leases(all("")));
  ASSERT_EQ(running(n).size(), static_cast<size_t>(partitions));
  auto gone = sys.spawn([](caf::event_based_actor*, int) {}, 0); // an argument: caf-0.17-notes.md
  sched.run();
  // As a partition refused its lease exits (a kill is always fatal in CAF
  // 0.17, but the node never sees one: a partition it kills unlinks first).
  caf::anon_send(caf::actor_cast<caf::actor>(n),
                 caf::exit_msg{gone.address(), make_error(errc::refused, "lease held elsewhere")});
  sched.run();
  EXPECT_EQ(running(n).size(), static_cast<size_t>(partitions)) << "the node stopped";
  EXPECT_EQ(failure, "");
  // The engine's own exit still ends it, and is no failure.
  caf::anon_send_exit(n, caf::exit_reason::user_shutdown);
  sched.run();
  EXPECT_EQ(failure, "");
}

// The engine watches its actors (actors/engine.hpp): one that stops by
// itself is reported with its name; stop_engine's user_shutdown and a
// normal end are not failures.
TEST_F(Node, AWatchedActorThatStopsByItselfIsReported) {
  start_clock("2027-07-15T08:00:00Z", 0.0);
  std::vector<std::string> failures;
  auto record = [&](const char* actor, const caf::error& e) {
    failures.push_back(actor + (": " + sys.render(e)));
  };
  auto n = spawn_node_actor();
  watch(caf::actor_cast<caf::strong_actor_ptr>(n), "node", record);
  auto quiet = sys.spawn([](caf::event_based_actor* self, int) { self->quit(); }, 0);
  watch(caf::actor_cast<caf::strong_actor_ptr>(quiet), "quiet", record);
  auto stopped =
      sys.spawn([](caf::event_based_actor*, int) -> caf::behavior { return {[](int) {}}; }, 0);
  watch(caf::actor_cast<caf::strong_actor_ptr>(stopped), "stopped", record);
  sched.run();
  caf::anon_send_exit(stopped, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(n, caf::exit_reason::kill);
  sched.run();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0], "node: exit_reason(kill)");
}

TEST_F(Node, LeavingHandsEveryPartitionOffBeforeAnswering) {
  start_clock("2027-07-15T08:00:00Z", 0.0);
  auto n = spawn_node_actor();
  view(n, {member_row("me")}, leases(all("")));
  ASSERT_EQ(running(n).size(), static_cast<size_t>(partitions));
  caf::scoped_actor self{sys};
  auto h = self->request(n, caf::infinite, atom::leave::value);
  advance(seconds{1});
  bool left = false;
  std::move(h).receive([&](bool ok) { left = ok; },
                       [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  EXPECT_TRUE(left);
  EXPECT_TRUE(running(n).empty());
  // A view after that starts nothing.
  view(n, {member_row("me")}, leases(all("")));
  EXPECT_TRUE(running(n).empty()) << "a leaving node took partitions";
}

// The console's questions: every partition here reports, and the earliest
// greetings held in memory come back in order, each with the node holding
// it; a live peer that is not connected is reported, never waited for.
TEST_F(Node, PartitionsAndUpcomingAreGatheredFromEveryPartitionHere) {
  start_clock("2027-07-14T20:00:00Z", 0.0);
  const char* days[] = {"1990-07-16", "1990-07-15", "1990-07-16", "1990-07-15", "1990-07-16"};
  const char* zones[] = {"UTC", "Asia/Tokyo", "Europe/Paris", "UTC", "America/New_York"};
  for (int i = 0; i < 5; ++i) {
    auto u = add_user("u" + std::to_string(i), zones[i], days[i]);
    db->users[u.id].partition = i % partitions;
  }
  auto n = spawn_node_actor();
  view(n, {member_row("me")}, leases(all("")));
  ASSERT_EQ(running(n).size(), static_cast<size_t>(partitions));

  caf::scoped_actor self{sys};
  auto h = self->request(n, caf::infinite, atom::partitions::value, false);
  sched.run();
  partitions_report pr;
  std::move(h).receive([&](partitions_report& r) { pr = std::move(r); },
                       [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  ASSERT_EQ(pr.partitions.size(), static_cast<size_t>(partitions));
  uint64_t queued = 0;
  for (const auto& p : pr.partitions)
    queued += p.queued;
  EXPECT_EQ(queued, 5u);

  auto upcoming = [&](uint64_t k, bool cluster) {
    upcoming_report out;
    auto u = self->request(n, caf::infinite, atom::upcoming::value, k, cluster);
    sched.run();
    std::move(u).receive([&](upcoming_report& r) { out = std::move(r); },
                         [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return out;
  };
  auto first = upcoming(3, false);
  std::vector<std::string> keys;
  for (const auto& o : first.greetings)
    keys.push_back(o.key);
  // Tokyo 15 Jul 00:00Z, UTC 15 Jul 09:00Z, Paris 16 Jul 07:00Z.
  EXPECT_EQ(keys,
            (std::vector<std::string>{"u1:birthday:2027", "u3:birthday:2027", "u2:birthday:2027"}));
  EXPECT_EQ(first.nodes, (std::vector<std::string>(3, "me")));
  EXPECT_EQ(upcoming(100, false).greetings.size(), 5u);

  // With a live peer we have no connection to: reported, not waited for.
  view(n, {member_row("me"), member_row("peer")}, leases(all("me")));
  auto wide = upcoming(100, true);
  EXPECT_EQ(wide.unreachable, (std::vector<std::string>{"peer"}));
}
