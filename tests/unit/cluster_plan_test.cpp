#include "core/cluster_plan.hpp"
#include "core/fence.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <map>
#include <random>
#include <set>

using namespace candle;
using namespace std::chrono;

namespace {

std::vector<std::string> names(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back("node-" + std::to_string(i));
  return out;
}

std::vector<member> settled(const std::vector<std::string>& ids) {
  std::vector<member> out;
  for (const auto& id : ids)
    out.push_back({id, seconds{60}});
  return out;
}

std::vector<std::string> sorted_names(const std::vector<member>& live) {
  std::vector<std::string> out;
  for (const auto& m : live)
    out.push_back(m.id);
  return out;
}

std::map<std::string, size_t> counts(const std::vector<lease_slot>& leases) {
  std::map<std::string, size_t> out;
  for (const auto& l : leases)
    if (!l.owner.empty()) ++out[l.owner];
  return out;
}

// One round in which every node plans on the same snapshot; then releases
// free their leases and acquisitions take only what is free (as the
// database's conditional upsert does), in node order.
struct round_result {
  size_t released = 0;
  size_t acquired = 0;
};

round_result run_round(std::vector<lease_slot>& leases, const std::vector<member>& live,
                       const round_limits& limits = {}) {
  auto snapshot = leases;
  std::vector<round_plan> plans;
  for (const auto& m : live)
    plans.push_back(plan_round(m.id, live, snapshot, limits));
  round_result r;
  for (size_t i = 0; i < live.size(); ++i)
    for (auto p : plans[i].release) {
      EXPECT_EQ(leases[static_cast<size_t>(p)].owner, live[i].id)
          << "released a lease it did not hold";
      leases[static_cast<size_t>(p)].owner.clear();
      ++r.released;
    }
  std::set<std::string> ids;
  for (const auto& m : live)
    ids.insert(m.id);
  for (size_t i = 0; i < live.size(); ++i)
    for (auto p : plans[i].acquire) {
      auto& l = leases[static_cast<size_t>(p)];
      bool free_in_snapshot = snapshot[static_cast<size_t>(p)].owner.empty() ||
                              !ids.count(snapshot[static_cast<size_t>(p)].owner);
      EXPECT_TRUE(free_in_snapshot) << "planned to take a held lease " << p;
      if (l.owner.empty() || !ids.count(l.owner)) {
        l.owner = live[i].id;
        ++r.acquired;
      }
    }
  return r;
}

std::vector<lease_slot> empty_leases(size_t partitions) {
  std::vector<lease_slot> out;
  for (size_t p = 0; p < partitions; ++p)
    out.push_back({static_cast<int32_t>(p), ""});
  return out;
}

} // namespace

TEST(FairShare, CeilOrFloorAndSumsToThePartitionCount) {
  for (size_t n = 1; n <= 12; ++n)
    for (size_t partitions : {1u, 2u, 7u, 85u, 256u, 1000u}) {
      auto ids = names(n);
      size_t sum = 0;
      for (const auto& id : ids) {
        auto share = fair_share(ids, partitions, id);
        EXPECT_TRUE(share == partitions / n || share == (partitions + n - 1) / n);
        sum += share;
      }
      EXPECT_EQ(sum, partitions) << n << " nodes";
      EXPECT_EQ(fair_share(ids, partitions, "stranger"), 0u);
    }
}

TEST(FairShare, IndependentOfTheOrderNodesAreListedIn) {
  std::vector<std::string> a{"c", "a", "b"}, b{"b", "c", "a"};
  for (const auto& id : a)
    EXPECT_EQ(fair_share(a, 256, id), fair_share(b, 256, id));
  EXPECT_EQ(fair_share(a, 256, "a"), 86u);
  EXPECT_EQ(fair_share(a, 256, "b"), 85u);
  EXPECT_EQ(fair_share(a, 256, "c"), 85u);
}

TEST(PlanRound, AStartingClusterConvergesToFairSharesWithoutReleases) {
  for (size_t n = 1; n <= 6; ++n) {
    auto leases = empty_leases(256);
    auto live = settled(names(n));
    size_t released = 0;
    for (int i = 0; i < 10; ++i)
      released += run_round(leases, live).released;
    EXPECT_EQ(released, 0u) << n;
    auto c = counts(leases);
    for (const auto& m : live)
      EXPECT_EQ(c[m.id], fair_share(names(n), 256, m.id)) << n << " " << m.id;
  }
}

TEST(PlanRound, AJoiningNodeGetsItsShareInBoundedRoundsAndNothingMore) {
  for (size_t n = 1; n <= 5; ++n) {
    auto leases = empty_leases(256);
    auto old_nodes = settled(names(n));
    for (int i = 0; i < 5; ++i)
      run_round(leases, old_nodes);
    auto live = old_nodes;
    live.push_back({"node-new", milliseconds{0}});
    // Inside the join delay nobody gives anything up.
    EXPECT_EQ(run_round(leases, live).released, 0u);
    live.back().up = seconds{3};
    size_t rounds = 0, released = 0;
    round_limits limits;
    while (counts(leases)["node-new"] < fair_share(sorted_names(live), 256, "node-new")) {
      auto r = run_round(leases, live, limits);
      EXPECT_LE(r.released, limits.max_release * n);
      released += r.released;
      ASSERT_LT(++rounds, 20u) << "no convergence with " << n + 1 << " nodes";
    }
    // Released exactly what the newcomer needed: nothing churned.
    EXPECT_EQ(released, fair_share(sorted_names(live), 256, "node-new"));
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(run_round(leases, live).released, 0u);
    auto c = counts(leases);
    for (const auto& m : live)
      EXPECT_EQ(c[m.id], fair_share(sorted_names(live), 256, m.id));
  }
}

TEST(PlanRound, ALostNodesLeasesAreTakenOverByTheSurvivors) {
  auto leases = empty_leases(256);
  auto live = settled(names(3));
  for (int i = 0; i < 5; ++i)
    run_round(leases, live);
  live.erase(live.begin() + 1); // node-1 is gone: its leases read as free
  for (int i = 0; i < 3; ++i)
    run_round(leases, live);
  auto c = counts(leases);
  EXPECT_EQ(c["node-0"], 128u);
  EXPECT_EQ(c["node-2"], 128u);
  EXPECT_EQ(c.count("node-1"), 0u);
}

TEST(PlanRound, RandomStatesConvergeAndNeverTakeAHeldLease) {
  std::mt19937 rng{42};
  for (int trial = 0; trial < 300; ++trial) {
    size_t partitions = 1 + rng() % 300;
    size_t n = 1 + rng() % 7;
    auto all = names(n + 2);
    auto live = settled(names(n));
    auto leases = empty_leases(partitions);
    for (auto& l : leases) // held by anyone, by a node that is gone, or free
      l.owner = rng() % 4 == 0 ? "" : all[rng() % all.size()];
    for (int i = 0; i < 40; ++i)
      run_round(leases, live);
    auto c = counts(leases);
    auto ids = names(n);
    size_t owned = 0;
    for (const auto& id : ids) {
      EXPECT_EQ(c[id], fair_share(ids, partitions, id)) << "trial " << trial;
      owned += c[id];
    }
    EXPECT_EQ(owned, partitions) << "trial " << trial;
  }
}

TEST(PlanRound, ANodeThatIsNotLiveDoesNothing) {
  auto leases = empty_leases(8);
  auto plan = plan_round("ghost", settled(names(2)), leases);
  EXPECT_TRUE(plan.acquire.empty());
  EXPECT_TRUE(plan.release.empty());
  EXPECT_EQ(plan.target, 0u);
}

TEST(Fencing, DeadlineIsTheRenewalStartPlusTheTtlLessTheMargin) {
  steady_clock::time_point t0{};
  EXPECT_EQ(fence_margin(seconds{15}), milliseconds{1500});
  EXPECT_EQ(fence_margin(seconds{3}), milliseconds{500});
  EXPECT_EQ(fence_margin(seconds{1}), milliseconds{500});
  EXPECT_EQ(fence_deadline(t0, seconds{15}), t0 + milliseconds{13500});
  EXPECT_EQ(fence_deadline(t0, seconds{3}), t0 + milliseconds{2500});
  for (int64_t ms = 1000; ms <= 120'000; ms += 250) {
    auto d = fence_deadline(t0, milliseconds{ms});
    EXPECT_LT(d, t0 + milliseconds{ms}) << ms; // always before the lease can expire
    // ... and never more than the margin before it: max(500 ms, a tenth).
    EXPECT_GE(d, t0 + milliseconds{ms} - std::max(milliseconds{500}, milliseconds{ms / 10})) << ms;
  }
}

TEST(PlanRound, HandOffsStillInProgressAreNotReleasedTwiceNorCountedAgain) {
  // node-0 holds everything; node-1 joins. Hand-offs take three rounds to
  // complete: the releases planned meanwhile must not add up past the need.
  auto leases = empty_leases(256);
  for (auto& l : leases)
    l.owner = "node-0";
  auto live = settled({"node-0", "node-1"});
  std::vector<std::pair<int32_t, int>> pending; // partition, rounds left
  std::set<int32_t> ever_released;
  for (int round = 0; round < 60; ++round) {
    std::vector<int32_t> releasing;
    for (auto& [p, left] : pending)
      releasing.push_back(p);
    auto plan = plan_round("node-0", live, leases, {}, releasing);
    for (auto p : plan.release) {
      EXPECT_EQ(std::count(releasing.begin(), releasing.end(), p), 0) << "released twice: " << p;
      pending.push_back({p, 3});
      ever_released.insert(p);
    }
    for (auto it = pending.begin(); it != pending.end();)
      if (--it->second == 0) {
        leases[static_cast<size_t>(it->first)].owner.clear();
        it = pending.erase(it);
      } else {
        ++it;
      }
    auto mine = plan_round("node-1", live, leases);
    for (auto p : mine.acquire)
      leases[static_cast<size_t>(p)].owner = "node-1";
  }
  EXPECT_EQ(ever_released.size(), 128u) << "released more (or less) than node-1's share";
  auto c = counts(leases);
  EXPECT_EQ(c["node-0"], 128u);
  EXPECT_EQ(c["node-1"], 128u);
}

TEST(ClusterView, OwnersAreLiveNodesWithUnexpiredLeasesAndRunningPartitionsCountAsOurs) {
  cluster_view v;
  v.nodes.push_back({{"a", "127.0.0.1", 1, 0, "", ""}, 100, 5000, true, true});
  v.nodes.push_back({{"b", "127.0.0.1", 2, 0, "", ""}, 100, 5000, true, false}); // stale
  v.leases.push_back({0, "a", 3, 1000});
  v.leases.push_back({1, "a", 3, -5}); // expired
  v.leases.push_back({2, "b", 1, 1000});
  v.leases.push_back({3, "", 7, -1});    // released
  v.leases.push_back({9, "a", 1, 1000}); // outside the partition count
  auto owners = live_owners(v, 5);
  EXPECT_EQ(owners, (std::vector<std::string>{"a", "", "", "", ""}));
  auto members = live_members(v);
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].id, "a");
  auto slots = slots_of(v, 5, "a", {3});
  EXPECT_EQ(slots[0].owner, "a");
  EXPECT_EQ(slots[1].owner, "");
  EXPECT_EQ(slots[3].owner, "a") << "a partition starting here is ours before its lease shows";
  EXPECT_EQ(slots.size(), 5u);
}

TEST(FenceTable, OnlyTheCurrentEpochBeforeItsDeadlineMaySend) {
  fence_table t{4};
  steady_clock::time_point t0{seconds{100}};
  EXPECT_FALSE(t.may_send(1, 1, t0)) << "never opened";
  t.open(1, 1, t0 + seconds{10});
  EXPECT_TRUE(t.may_send(1, 1, t0));
  EXPECT_TRUE(t.may_send(1, 1, t0 + seconds{10} - nanoseconds{1}));
  EXPECT_FALSE(t.may_send(1, 1, t0 + seconds{10})) << "at the deadline";
  EXPECT_FALSE(t.may_send(2, 1, t0)) << "another partition";
  // A renewal moves the deadline on: what waited is judged by it.
  t.open(1, 1, t0 + seconds{20});
  EXPECT_TRUE(t.may_send(1, 1, t0 + seconds{15}));
  // A new incarnation (epoch 2): the old epoch's greetings are fenced, and a
  // late renewal of the old one changes nothing.
  t.open(1, 2, t0 + seconds{30});
  EXPECT_FALSE(t.may_send(1, 1, t0));
  EXPECT_TRUE(t.may_send(1, 2, t0));
  t.open(1, 1, t0 + seconds{60});
  EXPECT_FALSE(t.may_send(1, 1, t0));
  EXPECT_TRUE(t.may_send(1, 2, t0 + seconds{29}));
  // Closing an old epoch leaves the new one open; closing the current one stops it.
  t.close(1, 1);
  EXPECT_TRUE(t.may_send(1, 2, t0));
  t.close(1, 2);
  EXPECT_FALSE(t.may_send(1, 2, t0));
  EXPECT_FALSE(t.may_send(-1, 2, t0));
  EXPECT_FALSE(t.may_send(4, 2, t0));
}

// The LEASE KEEPER's renewals extend what the partition opened, never
// reopen what it closed, never touch another epoch, and never move back.
TEST(FenceTable, ExtendMovesAnOpenSlotForwardOnly) {
  fence_table t{4};
  steady_clock::time_point t0{seconds{100}};
  EXPECT_FALSE(t.extend(1, 1, t0 + seconds{10})) << "never opened";
  EXPECT_FALSE(t.may_send(1, 1, t0));
  t.open(1, 1, t0 + seconds{10});
  EXPECT_TRUE(t.extend(1, 1, t0 + seconds{20}));
  EXPECT_TRUE(t.may_send(1, 1, t0 + seconds{15}));
  EXPECT_TRUE(t.extend(1, 1, t0 + seconds{12})) << "an older renewal's answer";
  EXPECT_TRUE(t.may_send(1, 1, t0 + seconds{15})) << "the deadline does not move back";
  EXPECT_FALSE(t.extend(1, 2, t0 + seconds{30})) << "another epoch";
  EXPECT_FALSE(t.may_send(1, 2, t0));
  // Past its deadline but not closed: a renewal that started in time extends it.
  EXPECT_TRUE(t.extend(1, 1, t0 + seconds{40}));
  EXPECT_TRUE(t.may_send(1, 1, t0 + seconds{30}));
  t.close(1, 1);
  EXPECT_FALSE(t.extend(1, 1, t0 + seconds{60})) << "closed stays closed";
  EXPECT_FALSE(t.may_send(1, 1, t0));
  EXPECT_FALSE(t.extend(-1, 1, t0 + seconds{60}));
  EXPECT_FALSE(t.extend(4, 1, t0 + seconds{60}));
}

TEST(FenceTable, OpenCountIsThePartitionsThatMaySendNow) {
  fence_table t{8};
  steady_clock::time_point t0{seconds{100}};
  EXPECT_EQ(t.partitions(), 8u);
  EXPECT_EQ(t.open_count(t0), 0u);
  t.open(0, 1, t0 + seconds{10});
  t.open(3, 4, t0 + seconds{20});
  t.open(7, 2, t0 + seconds{5});
  EXPECT_EQ(t.open_count(t0), 3u);
  EXPECT_EQ(t.open_count(t0 + seconds{5}), 2u) << "partition 7's deadline passed";
  t.close(3, 4);
  EXPECT_EQ(t.open_count(t0), 2u);
  t.close(0, 99); // not its epoch: stays open
  EXPECT_EQ(t.open_count(t0 + seconds{30}), 0u);
}

// A lost session closes every slot in one step: none may send, the
// renewals of those epochs cannot reopen them, a new epoch can.
TEST(FenceTable, CloseAllStopsEverySlotUntilANewEpochOpensIt) {
  fence_table t{4};
  steady_clock::time_point t0{seconds{100}};
  t.open(0, 1, t0 + seconds{10});
  t.open(1, 5, t0 + seconds{10});
  t.open(3, 2, t0 + seconds{10});
  t.doubt(0, 1, 4);
  t.doubt(3, 2, 9);
  ASSERT_EQ(t.open_count(t0), 3u);
  t.close_all();
  EXPECT_EQ(t.open_count(t0), 0u);
  for (int32_t p = 0; p < 4; ++p)
    for (int64_t e = 0; e < 6; ++e)
      EXPECT_FALSE(t.may_send(p, e, t0)) << p << "@" << e;
  EXPECT_EQ(t.in_doubt(), 0);
  EXPECT_FALSE(t.extend(1, 5, t0 + seconds{20})) << "a late renewal";
  EXPECT_FALSE(t.may_send(1, 5, t0));
  t.doubt(0, 1, 3);
  EXPECT_EQ(t.in_doubt(), 0) << "a late answer to a closed slot";
  t.close(3, 2); // the killed partition's own close changes nothing
  EXPECT_EQ(t.in_doubt(), 0);
  t.open(1, 6, t0 + seconds{10});
  EXPECT_TRUE(t.may_send(1, 6, t0));
  EXPECT_FALSE(t.may_send(1, 5, t0));
  EXPECT_EQ(t.open_count(t0), 1u);
}

// What delivery answered and partitions have not recorded: counted per slot
// at its epoch, summed over slots, dropped when the incarnation ends.
TEST(FenceTable, InDoubtCountsPerIncarnationUntilRecordedOrClosed) {
  fence_table t{4};
  steady_clock::time_point t0{seconds{100}};
  t.doubt(1, 1, 5);
  EXPECT_EQ(t.in_doubt(), 0) << "never opened";
  t.open(1, 1, t0 + seconds{10});
  t.open(2, 3, t0 + seconds{10});
  t.doubt(1, 1, 5);
  t.doubt(2, 3, 7);
  EXPECT_EQ(t.in_doubt(), 12);
  t.doubt(1, 2, 4);
  t.doubt(1, 0, 4);
  t.doubt(-1, 1, 4);
  t.doubt(4, 1, 4);
  EXPECT_EQ(t.in_doubt(), 12) << "another epoch, epoch 0 (not fenced), out of range";
  t.doubt(1, 1, -3); // recorded
  EXPECT_EQ(t.in_doubt(), 9);
  t.doubt(1, 1, -10); // more than was added: never below the slot's own count
  EXPECT_EQ(t.in_doubt(), 7);
  // Past its deadline but not closed: the partition may still record.
  t.doubt(2, 3, -2);
  EXPECT_EQ(t.in_doubt(), 5);
  // A renewal keeps the count; a new incarnation drops the old one's.
  t.open(2, 3, t0 + seconds{20});
  EXPECT_EQ(t.in_doubt(), 5);
  t.open(2, 4, t0 + seconds{30});
  EXPECT_EQ(t.in_doubt(), 0);
  t.doubt(2, 3, 6);
  EXPECT_EQ(t.in_doubt(), 0) << "the old incarnation's late answer";
  // Closing drops what is left; a closed slot counts nothing more.
  t.doubt(2, 4, 6);
  t.close(2, 3);
  EXPECT_EQ(t.in_doubt(), 6) << "not its epoch";
  t.close(2, 4);
  EXPECT_EQ(t.in_doubt(), 0);
  t.doubt(2, 4, 6);
  t.doubt(2, 4, -6);
  EXPECT_EQ(t.in_doubt(), 0);
}
