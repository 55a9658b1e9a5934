// Cluster membership and leases on a real PostgreSQL: session locks tell a
// dead process from a live one, take-over bumps the epoch and fences the old
// owner, release hands a lease over at once and notifies, renewal is
// conditioned on owner and epoch, duplicate node ids are refused, and the
// cluster clock is shared.
#include "persistence/membership.hpp"
#include "pg_fixture.hpp"

#include <algorithm>
#include <set>
#include <thread>

using namespace candle;
using namespace std::chrono;
using candle::test::pg_test;

namespace {

pg::node_info node(std::string id) {
  pg::node_info n;
  n.id = std::move(id);
  n.address = "127.0.0.1";
  n.cluster_port = 7000;
  n.rest_url = "http://127.0.0.1:8080";
  n.version = "test";
  return n;
}

occurrence occ_of(const std::string& user_id) {
  occurrence o;
  o.user_id = user_id;
  o.occasion = "birthday";
  o.year = 2027;
  o.key = user_id + ":birthday:2027";
  o.due_at = 1'800'000'000'000;
  return o;
}

const pg::node_row* find(const pg::cluster_view& v, const std::string& id) {
  for (const auto& n : v.nodes)
    if (n.info.id == id) return &n;
  return nullptr;
}

} // namespace

class Cluster : public pg_test {};

TEST_F(Cluster, ALiveOwnersLeaseIsNeverTakenAndADeadOnesIsTakenAtOnceWithANewEpoch) {
  bulk_users(3, 2);
  auto a = std::make_unique<pg::membership>(conninfo, node("node-a"), seconds{15});
  pg::membership b{conninfo, node("node-b"), seconds{15}};
  ASSERT_TRUE(a->join());
  ASSERT_TRUE(b.join());
  pg::store s{conninfo};
  auto e1 = s.acquire_lease(2, "node-a", seconds{60});
  ASSERT_GT(e1, 0);
  ASSERT_EQ(s.claim(2, e1, {occ_of(test::uid(1))}, 0).size(), 1u);
  EXPECT_EQ(s.acquire_lease(2, "node-b", seconds{60}), 0) << "took a live node's lease";
  auto view = b.round();
  ASSERT_NE(find(view, "node-a"), nullptr);
  EXPECT_TRUE(find(view, "node-a")->live);
  // node-a's process dies: its session (and lock) end with it.
  a.reset();
  for (int i = 0; i < 100 && find(b.round(), "node-a")->session; ++i)
    std::this_thread::sleep_for(milliseconds{20});
  EXPECT_FALSE(find(b.round(), "node-a")->live);
  auto e2 = s.acquire_lease(2, "node-b", seconds{60});
  EXPECT_EQ(e2, e1 + 1) << "a dead owner's unexpired lease was not taken over";
  // The old owner's fenced writes change nothing; its claim is resumable.
  EXPECT_TRUE(s.claim(2, e1, {occ_of(test::uid(2))}, 0).empty());
  EXPECT_FALSE(s.renew_lease(2, "node-a", e1, seconds{60}));
  EXPECT_EQ(s.load_resumable(2, e2, pg::default_rules()).size(), 1u);
}

TEST_F(Cluster, RenewalIsConditionedOnOwnerAndEpoch) {
  pg::membership a{conninfo, node("node-a"), seconds{15}};
  ASSERT_TRUE(a.join());
  pg::store s{conninfo};
  auto e = s.acquire_lease(4, "node-a", seconds{60});
  EXPECT_TRUE(s.renew_lease(4, "node-a", e, seconds{60}));
  EXPECT_FALSE(s.renew_lease(4, "node-b", e, seconds{60})) << "renewed by another owner";
  EXPECT_FALSE(s.renew_lease(4, "node-a", e - 1, seconds{60})) << "renewed at an old epoch";
  EXPECT_FALSE(s.renew_lease(4, "node-a", e + 1, seconds{60})) << "renewed at a future epoch";
  // An expired lease is not renewed: it may have been taken meanwhile.
  auto e2 = s.acquire_lease(5, "node-a", seconds{0});
  EXPECT_FALSE(s.renew_lease(5, "node-a", e2, seconds{60}));
}

// Many renewals in one statement keep exactly the conditions of one.
TEST_F(Cluster, BatchedRenewalIsConditionedOnOwnerEpochAndExpiryPerLease) {
  pg::membership a{conninfo, node("node-a"), seconds{15}};
  ASSERT_TRUE(a.join());
  pg::store s{conninfo};
  auto e7 = s.acquire_lease(7, "node-a", seconds{60});
  auto e8 = s.acquire_lease(8, "node-a", seconds{60});
  auto e9 = s.acquire_lease(9, "node-a", seconds{0}); // expired at once
  auto held = s.renew_leases("node-a", {{7, e7}, {8, e8 - 1}, {9, e9}, {10, 1}}, seconds{60});
  EXPECT_EQ(held, std::vector<int32_t>{7}) << "only the current, unexpired, own lease";
  EXPECT_TRUE(s.renew_leases("node-b", {{7, e7}}, seconds{60}).empty()) << "another owner";
  EXPECT_TRUE(s.renew_leases("node-a", {}, seconds{60}).empty());
  held = s.renew_leases("node-a", {{8, e8}, {7, e7}}, seconds{60});
  std::sort(held.begin(), held.end());
  EXPECT_EQ(held, (std::vector<int32_t>{7, 8}));
}

TEST_F(Cluster, ReleaseHandsTheLeaseOverAtOnceAndNotifiesPeers) {
  bulk_users(2, 6);
  pg::membership a{conninfo, node("node-a"), seconds{15}};
  pg::membership b{conninfo, node("node-b"), seconds{15}};
  ASSERT_TRUE(a.join());
  ASSERT_TRUE(b.join());
  while (b.await(milliseconds{50})) {
  } // the join notifications
  pg::store s{conninfo};
  auto e = s.acquire_lease(6, "node-a", seconds{60});
  EXPECT_FALSE(s.release_lease(6, "node-b", e)) << "released by a node that does not own it";
  EXPECT_FALSE(s.release_lease(6, "node-a", e - 1)) << "released at a stale epoch";
  EXPECT_EQ(s.acquire_lease(6, "node-b", seconds{60}), 0);
  EXPECT_TRUE(s.release_lease(6, "node-a", e));
  EXPECT_TRUE(b.await(seconds{5})) << "no notification of the release";
  EXPECT_TRUE(s.claim(6, e, {occ_of(test::uid(1))}, 0).empty()) << "released lease still writes";
  EXPECT_FALSE(s.renew_lease(6, "node-a", e, seconds{60}));
  EXPECT_EQ(s.acquire_lease(6, "node-b", seconds{60}), e + 1);
  EXPECT_FALSE(s.release_lease(6, "node-a", e)) << "released twice";
}

TEST_F(Cluster, ANodeIdThatIsAlreadyRunningIsRefusedUntilItLeaves) {
  pg::membership a{conninfo, node("node-a"), seconds{15}};
  ASSERT_TRUE(a.join());
  pg::membership twin{conninfo, node("node-a"), seconds{15}};
  auto r = twin.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code, errc::conflict);
  EXPECT_NE(r.err().message.find("already running"), std::string::npos);
  // The running node keeps its heartbeat.
  EXPECT_TRUE(find(a.round(), "node-a")->live);
  a.leave();
  EXPECT_TRUE(twin.join());
  EXPECT_TRUE(find(twin.round(), "node-a")->live);
}

TEST_F(Cluster, AStaleHeartbeatIsNotLiveAndARowWithoutItsLockIsNotOurs) {
  pg::membership a{conninfo, node("node-a"), seconds{1}};
  pg::membership b{conninfo, node("node-b"), seconds{1}};
  ASSERT_TRUE(a.join());
  ASSERT_TRUE(b.join());
  EXPECT_EQ(scalar<int>("WITH u AS (UPDATE nodes SET heartbeat_at = now() - interval '5 seconds'"
                        " WHERE id = 'node-a' RETURNING 1) SELECT count(*)::int FROM u"),
            1);
  auto v = b.round();
  EXPECT_TRUE(find(v, "node-a")->session);
  EXPECT_FALSE(find(v, "node-a")->live) << "a stale heartbeat counted as live";
  EXPECT_NO_THROW(a.round()); // and its own next heartbeat brings it back
  EXPECT_TRUE(find(b.round(), "node-a")->live);
}

TEST_F(Cluster, TheClockIsTheClustersAndAJoinerReadsItWhereItIsNow) {
  pg::membership a{conninfo, node("node-a"), seconds{15}};
  pg::membership b{conninfo, node("node-b"), seconds{15}};
  ASSERT_TRUE(a.join());
  EXPECT_FALSE(a.clock().has_value());
  EXPECT_EQ(a.live_peers(), 0u);
  ASSERT_TRUE(b.join());
  EXPECT_EQ(a.live_peers(), 1u);
  while (b.await(milliseconds{50})) {
  }
  b.clock_changed();
  auto set = a.set_clock(1'800'000'000'000, 3600);
  EXPECT_EQ(set.sim_ms, 1'800'000'000'000);
  EXPECT_TRUE(b.await(seconds{5}));
  EXPECT_TRUE(b.clock_changed());
  std::this_thread::sleep_for(milliseconds{100});
  auto read = b.clock();
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->speed, 3600);
  // 100 ms of real time at 3600x is six simulated minutes.
  EXPECT_GE(read->sim_ms, 1'800'000'000'000 + 100 * 3600);
  EXPECT_LT(read->sim_ms, 1'800'000'000'000 + 10'000 * 3600);
}

// The durable path's wake-ups on the membership connection: a write of a
// user names its partition ('<p>'), a redrive (single or bulk) names the
// partition of its records ('r<p>'), each collected apart.
TEST_F(Cluster, UserWritesAndRedrivesNotifyTheirPartitionsApart) {
  pg::membership a{conninfo, node("node-a"), seconds{15}};
  ASSERT_TRUE(a.join());
  bulk_users(2, 5);
  {
    pqxx::connection c{conninfo};
    pqxx::work w{c};
    w.exec("SELECT candle_record_year(2027)");
    for (int i : {1, 2})
      w.exec("INSERT INTO send_records (idempotency_key, user_id, occasion, year, partition,"
             " due_at, status, owner_epoch) VALUES ('" +
             test::uid(i) + ":birthday:2027', '" + test::uid(i) +
             "', 'birthday', 2027, 5, now(), 'dead', 1)");
    w.commit();
  }
  auto heard = [&](auto collect) {
    std::set<int32_t> out;
    for (int i = 0; i < 50 && out.empty(); ++i) {
      a.await(milliseconds{100});
      for (auto p : collect())
        out.insert(p);
    }
    return out;
  };
  EXPECT_EQ(heard([&] { return a.changed_partitions(); }), std::set<int32_t>{5});
  EXPECT_TRUE(a.redriven_partitions().empty()) << "a user write was taken for a redrive";
  pg::store s{conninfo};
  ASSERT_TRUE(s.redrive(test::uid(1) + ":birthday:2027", 1'800'000'000'000));
  EXPECT_EQ(heard([&] { return a.redriven_partitions(); }), std::set<int32_t>{5});
  EXPECT_TRUE(a.changed_partitions().empty()) << "a redrive was taken for a user write";
  auto bulk = s.redrive_all("dead", "", 1'800'000'000'000, false);
  ASSERT_TRUE(bulk);
  EXPECT_EQ(bulk->count, 1u);
  EXPECT_EQ(heard([&] { return a.redriven_partitions(); }), std::set<int32_t>{5});
  ASSERT_TRUE(s.redrive_all("dead", "", 1'800'000'000'000, true)); // a dry run
  a.await(milliseconds{300});
  EXPECT_TRUE(a.redriven_partitions().empty()) << "a dry run notified";
}
