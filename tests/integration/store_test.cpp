// The store against a real PostgreSQL: migrations, claim races, fencing,
// window scans, users, and a server restart in the middle of claiming.
#include "core/partition.hpp"
#include "persistence/membership.hpp"
#include "pg_fixture.hpp"

#include <algorithm>
#include <future>
#include <set>
#include <thread>

using namespace candle;
using namespace std::chrono;
using candle::test::ms;
using candle::test::pg_test;
using candle::test::uid;

namespace {

occurrence occ(int i, int year = 2027) {
  return candle::test::birthday_of(i, year, ms("2027-01-01T09:00:00Z"));
}

user make_user(std::string email, std::string zone, std::string birthday,
               int64_t created = 946684800000 /* 2000-01-01 */) {
  static int next = 1;
  user u;
  u.id = uid(900000 + next++);
  u.first_name = "Ada";
  u.last_name = "Lovelace";
  u.email = std::move(email);
  u.timezone = std::move(zone);
  u.birthday_date = std::move(birthday);
  u.partition = 0;
  u.created_at = u.updated_at = created;
  return u;
}

} // namespace

class Store : public pg_test {};

TEST_F(Store, MigrationsFromEmptyAreAppliedOnceAndRerunIsANoOp) {
  // The fixture migrated already: a re-run applies nothing.
  pqxx::connection c{conninfo};
  EXPECT_EQ(pg::migrate(c), 0);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM schema_migrations"),
            static_cast<int>(pg::migrations().size()));
  // Concurrent start-up on an empty schema: exactly one applies each migration.
  pqxx::connection{conninfo}; // keep the server warm
  {
    pqxx::connection d{conninfo};
    pqxx::nontransaction n{d};
    n.exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  }
  std::atomic<int> applied{0};
  std::vector<std::thread> nodes;
  for (int i = 0; i < 4; ++i)
    nodes.emplace_back([&] {
      pqxx::connection n{conninfo};
      applied += pg::migrate(n);
    });
  for (auto& t : nodes)
    t.join();
  EXPECT_EQ(applied.load(), static_cast<int>(pg::migrations().size()));
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM schema_migrations"),
            static_cast<int>(pg::migrations().size()));
}

TEST_F(Store, PartitionCountIsFixedAtFirstStart) {
  pqxx::connection c{conninfo};
  EXPECT_EQ(pg::fixed_partition_count(c, 64), 64);
  EXPECT_EQ(pg::fixed_partition_count(c, 256), 64);
}

TEST_F(Store, TwoClaimersRacingOverTenThousandKeysClaimEachOnce) {
  constexpr int n = 10'000;
  bulk_users(n, 7);
  pg::store setup{conninfo};
  auto epoch = setup.acquire_lease(7, "node-a", seconds{60});
  ASSERT_GT(epoch, 0);
  std::vector<occurrence> all;
  for (int i = 1; i <= n; ++i)
    all.push_back(occ(i));
  std::vector<std::string> got[2];
  auto claimer = [&](int who) {
    pg::store s{conninfo};
    auto order = all;
    if (who == 1) std::reverse(order.begin(), order.end());
    for (size_t i = 0; i < order.size(); i += 500) {
      std::vector<occurrence> batch(order.begin() + i,
                                    order.begin() + std::min(order.size(), i + 500));
      auto keys = s.claim(7, epoch, batch, ms("2027-01-01T09:00:00Z"));
      got[who].insert(got[who].end(), keys.begin(), keys.end());
    }
  };
  std::thread a{claimer, 0}, b{claimer, 1};
  a.join();
  b.join();
  std::set<std::string> union_keys(got[0].begin(), got[0].end());
  size_t overlap = 0;
  for (const auto& k : got[1])
    overlap += union_keys.insert(k).second ? 0 : 1;
  EXPECT_EQ(overlap, 0u) << "a key was claimed twice";
  EXPECT_EQ(union_keys.size(), static_cast<size_t>(n)) << "a key was claimed by nobody";
  EXPECT_GT(got[0].size(), 0u);
  EXPECT_GT(got[1].size(), 0u) << "no actual race happened";
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM send_records WHERE status = 'claimed'"), n);
}

TEST_F(Store, StaleEpochClaimsAndMarksNothing) {
  bulk_users(20, 3);
  pg::membership alive{conninfo, {"node-a", "127.0.0.1", 0, 0, "", ""}, seconds{15}};
  ASSERT_TRUE(alive.join()); // a live process: its lease is not taken before it expires
  pg::store s{conninfo};
  auto e1 = s.acquire_lease(3, "node-a", seconds{60});
  std::vector<occurrence> first{occ(1), occ(2)};
  ASSERT_EQ(s.claim(3, e1, first, 0).size(), 2u);
  // Another node may not take an unexpired lease.
  EXPECT_EQ(s.acquire_lease(3, "node-b", seconds{60}), 0);
  // Taking over (here: the same node re-acquiring) moves the epoch on.
  auto e2 = s.acquire_lease(3, "node-a", seconds{60});
  ASSERT_GT(e2, e1);
  EXPECT_TRUE(s.claim(3, e1, {occ(3)}, 0).empty()) << "stale epoch claimed";
  EXPECT_TRUE(s.record_outcomes(3, e1, {{occ(1).key, status::sent, "", 0, 1}}).empty())
      << "stale epoch marked";
  EXPECT_TRUE(s.reclaim(3, e1, {occ(1).key}, 0).empty());
  EXPECT_TRUE(s.record_expired(3, e1, {occ(4)}, "missed", 0).empty());
  EXPECT_FALSE(s.renew_lease(3, "node-a", e1, seconds{60}));
  // The current epoch cannot mark a record owned by the old one without
  // reclaiming it first (its sender may still be in flight).
  EXPECT_TRUE(s.record_outcomes(3, e2, {{occ(1).key, status::sent, "", 0, 1}}).empty());
  auto resumed = s.load_resumable(3, e2, pg::default_rules());
  EXPECT_EQ(resumed.size(), 2u);
  EXPECT_EQ(s.reclaim(3, e2, {occ(1).key, occ(2).key}, 0).size(), 2u);
  EXPECT_EQ(
      s.record_outcomes(3, e2, {{occ(1).key, status::sent, "", 0, ms("2027-01-01T09:00:01Z")}})
          .size(),
      1u);
  EXPECT_EQ(scalar<std::string>("SELECT status FROM send_records WHERE idempotency_key = '" +
                                occ(1).key + "'"),
            "sent");
  EXPECT_EQ(
      scalar<int>("SELECT attempts FROM send_records WHERE idempotency_key = '" + occ(1).key + "'"),
      1);
  // A marked record is not marked again (a retried batch changes nothing).
  EXPECT_TRUE(s.record_outcomes(3, e2, {{occ(1).key, status::sent, "", 0, 1}}).empty());
  EXPECT_EQ(
      scalar<int>("SELECT attempts FROM send_records WHERE idempotency_key = '" + occ(1).key + "'"),
      1);
  // An expired lease fences too, and then another node may take it.
  auto e3 = s.acquire_lease(5, "node-a", seconds{0});
  ASSERT_GT(e3, 0);
  EXPECT_TRUE(s.claim(5, e3, {occ(5)}, 0).empty());
  EXPECT_GT(s.acquire_lease(5, "node-b", seconds{60}), 0);
}

// -- greetings checked, sent, and written once (schedule.claim-ahead 0) ----------

namespace {
outcome written(const occurrence& o, const char* st, int64_t at, std::string error = {},
                int64_t next = 0) {
  outcome out{o.key, st, std::move(error), next, at};
  out.user_id = o.user_id;
  out.occasion = o.occasion;
  out.year = o.year;
  out.due_at = o.due_at;
  out.email = "u@example.com";
  return out;
}
} // namespace

TEST_F(Store, ACheckGrantsWhatHasNoRecordAndALiveUnchangedUserAndWritesNoRecord) {
  bulk_users(6, 2);
  pg::store s{conninfo};
  auto e = s.acquire_lease(2, "n", seconds{60});
  ASSERT_EQ(s.claim(2, e, {occ(1)}, 0).size(), 1u); // recorded already
  s.delete_user(uid(2), 1);                         // deleted
  auto moved = occ(3);
  moved.version = 12345; // computed from a version the row no longer has
  {
    pqxx::connection c{conninfo};
    pqxx::work w{c};
    w.exec("INSERT INTO suppressions (email, reason, type, key) VALUES"
           " ('u4@example.com', 'hard bounce', 'bounced', 'x')");
    w.commit();
  }
  auto ok = s.check(2, e, {occ(1), occ(2), moved, occ(5), occ(6)}, 0);
  EXPECT_EQ(std::set<std::string>(ok.begin(), ok.end()),
            (std::set<std::string>{occ(5).key, occ(6).key}));
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM send_records"), 1) << "a check claimed";
  // A suppressed address: recorded `suppressed` once, never granted.
  EXPECT_TRUE(s.check(2, e, {occ(4)}, ms("2027-01-01T09:00:00Z")).empty());
  EXPECT_EQ(scalar<std::string>("SELECT status || ' ' || last_error || ' ' || sent_to FROM"
                                " send_records WHERE idempotency_key = '" +
                                occ(4).key + "'"),
            "suppressed suppressed: hard bounce u4@example.com");
  EXPECT_TRUE(s.check(2, e, {occ(4)}, 0).empty());
  // A stale or expired epoch is granted nothing.
  auto e2 = s.acquire_lease(2, "n", seconds{60});
  EXPECT_TRUE(s.check(2, e, {occ(5)}, 0).empty()) << "a stale epoch was granted";
  EXPECT_EQ(s.check(2, e2, {occ(5)}, 0).size(), 1u);
  auto e3 = s.acquire_lease(2, "n", seconds{0});
  EXPECT_TRUE(s.check(2, e3, {occ(5)}, 0).empty()) << "an expired lease was granted";
}

TEST_F(Store, AnOutcomeOfACheckedGreetingIsItsOneRowWrittenOnceAndFenced) {
  bulk_users(4, 0);
  pg::store s{conninfo};
  auto e = s.acquire_lease(0, "n", seconds{60});
  auto at = ms("2027-01-01T09:00:01Z");
  auto next = ms("2027-01-01T09:00:03Z");
  auto batch = std::vector<outcome>{written(occ(1), status::sent, at),
                                    written(occ(2), status::dead, at, "HTTP 400"),
                                    written(occ(3), status::retrying, at, "HTTP 503", next)};
  EXPECT_EQ(s.record_outcomes(0, e, batch).size(), 3u);
  auto rec = [&](int i, const char* col) {
    return scalar<std::string>("SELECT coalesce(" + std::string{col} +
                               "::text, '-') FROM send_records WHERE idempotency_key = '" +
                               occ(i).key + "'");
  };
  EXPECT_EQ(rec(1, "status"), "sent");
  EXPECT_EQ(rec(1, "attempts"), "1");
  EXPECT_EQ(rec(1, "owner_epoch"), std::to_string(e));
  EXPECT_EQ(rec(1, "claimed_by"), "n");
  EXPECT_EQ(rec(1, "sent_to"), "u@example.com");
  EXPECT_EQ(s.records_by_status(status::sent, 10, "")[0].sent_at, at);
  EXPECT_EQ(rec(2, "status"), "dead");
  EXPECT_EQ(rec(2, "last_error"), "HTTP 400");
  EXPECT_EQ(s.records_by_status(status::retrying, 10, "")[0].next_attempt_at, next);
  // A replay (its commit was lost with the connection) writes nothing more.
  EXPECT_TRUE(s.record_outcomes(0, e, batch).empty());
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM send_records"), 3);
  EXPECT_EQ(rec(1, "attempts"), "1");
  // The retry goes on through the claim path: reclaimed, then updated.
  ASSERT_EQ(s.reclaim(0, e, {occ(3).key}, 0).size(), 1u);
  EXPECT_EQ(s.record_outcomes(0, e, {{occ(3).key, status::sent, "", 0, next}}).size(), 1u);
  EXPECT_EQ(rec(3, "attempts"), "2");
  // Taken over mid-chunk: the old epoch's outcomes change nothing, and the
  // new owner's check finds the greeting unsent (it is in doubt: re-sent
  // with the same key).
  auto e2 = s.acquire_lease(0, "n", seconds{60});
  EXPECT_TRUE(s.record_outcomes(0, e, {written(occ(4), status::sent, at)}).empty());
  EXPECT_EQ(s.check(0, e2, {occ(4)}, 0).size(), 1u);
  EXPECT_EQ(s.record_outcomes(0, e2, {written(occ(4), status::sent, at)}).size(), 1u);
}

TEST_F(Store, EventsStoredBeforeTheOutcomesRowApplyWhenItIsWritten) {
  // A webhook (or SMTP's own 5.1.1 bounce) can be stored before the
  // greeting's one row: the row starts at its furthest state and a bounce
  // suppresses the address it went to.
  bulk_users(2, 0);
  pg::store s{conninfo};
  auto e = s.acquire_lease(0, "n", seconds{60});
  auto got = s.ingest_events({{"ev-1", "delivered", occ(1).key, 2000, "", 0},
                              {"ev-2", "deferred", occ(1).key, 1000, "greylisted", 0},
                              {"ev-3", "bounced", occ(2).key, 3000, "5.1.1 unknown user", 0}});
  EXPECT_EQ(got.unknown.size(), 3u);
  auto at = ms("2027-01-01T09:00:01Z");
  auto bounced = written(occ(2), status::dead, at, "550 5.1.1");
  bounced.email = "u2@example.com";
  EXPECT_EQ(s.record_outcomes(0, e, {written(occ(1), status::sent, at), bounced}).size(), 2u);
  std::vector<delivery_event> events;
  auto r = s.greeting(occ(1).key, events);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->delivery, "delivered");
  EXPECT_EQ(scalar<int64_t>("SELECT (EXTRACT(EPOCH FROM delivery_at) * 1000)::bigint FROM "
                            "send_records WHERE idempotency_key = '" +
                            occ(1).key + "'"),
            2000);
  EXPECT_EQ(s.greeting(occ(2).key, events)->delivery, "bounced");
  EXPECT_EQ(scalar<std::string>("SELECT reason || ' ' || key FROM suppressions"
                                " WHERE email = 'u2@example.com'"),
            "5.1.1 unknown user " + occ(2).key);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM suppressions"), 1);
}

TEST_F(Store, AnEventStoredWhileTheOutcomesRowIsWrittenIsAppliedAfterwards) {
  // Neither transaction sees the other's row: the event's ingestion finds
  // no record, the row's insert finds no event. apply_stored_events (the
  // EVENTS actor runs it again for such keys) moves the state then.
  bulk_users(1, 0);
  pg::store s{conninfo};
  auto e = s.acquire_lease(0, "n", seconds{60});
  s.ensure_record_year(2027);
  pqxx::connection d{conninfo};
  pqxx::work ev{d};
  ev.exec("INSERT INTO delivery_events (id, key, type, at, reason) VALUES ('ev-1', '" + occ(1).key +
          "', 'bounced', now(), '5.1.1 unknown user')");
  auto at = ms("2027-01-01T09:00:01Z");
  auto row = written(occ(1), status::dead, at, "550 5.1.1");
  row.email = "u1@example.com";
  ASSERT_EQ(s.record_outcomes(0, e, {row}).size(), 1u);
  ev.commit();
  std::vector<delivery_event> events;
  EXPECT_EQ(s.greeting(occ(1).key, events)->delivery, "");
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM suppressions"), 0);
  auto got = s.apply_stored_events({occ(1).key, occ(9).key});
  EXPECT_EQ(got.recorded, std::set<std::string>{occ(1).key});
  EXPECT_EQ(got.suppressed, 1u);
  EXPECT_EQ(s.greeting(occ(1).key, events)->delivery, "bounced");
  EXPECT_EQ(scalar<std::string>("SELECT reason FROM suppressions WHERE email = 'u1@example.com'"),
            "5.1.1 unknown user");
  // Applied again: nothing moves, nothing doubles.
  EXPECT_EQ(s.apply_stored_events({occ(1).key}).suppressed, 0u);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM suppressions"), 1);
}

TEST_F(Store, AUserDeletedBetweenTheCheckAndTheOutcome) {
  bulk_users(2, 0);
  pg::store s{conninfo};
  auto e = s.acquire_lease(0, "n", seconds{60});
  ASSERT_EQ(s.check(0, e, {occ(1), occ(2)}, 0).size(), 2u);
  ASSERT_TRUE(s.delete_user(uid(1), 1).ok());
  ASSERT_TRUE(s.delete_user(uid(2), 1).ok());
  auto at = ms("2027-01-01T09:00:01Z");
  // What went out is recorded as it happened; a retry is cancelled as the
  // delete cancels what is pending, so nothing sends it again.
  EXPECT_EQ(s.record_outcomes(0, e,
                              {written(occ(1), status::sent, at),
                               written(occ(2), status::retrying, at, "HTTP 503", at + 1000)})
                .size(),
            2u);
  EXPECT_EQ(s.records_by_status(status::sent, 10, "").size(), 1u);
  EXPECT_EQ(s.records_by_status(status::cancelled, 10, "").size(), 1u);
  EXPECT_TRUE(s.unfinished(0, e).empty());
  EXPECT_TRUE(s.check(0, e, {occ(1)}, 0).empty());
}

TEST_F(Store, ARetryRecordedWhileItsUserIsBeingDeletedEndsCancelled) {
  // The delete has cancelled what it saw and not committed yet when the
  // retry's row is written: the row must not stay `retrying` for a deleted
  // user (nothing would ever finish it).
  bulk_users(1, 0);
  pg::store s{conninfo};
  auto e = s.acquire_lease(0, "n", seconds{60});
  s.ensure_record_year(2027); // made now: making it would wait for the delete
  pqxx::connection d{conninfo};
  pqxx::work del{d};
  del.exec("UPDATE users SET deleted_at = now() WHERE id = '" + uid(1) + "'");
  del.exec("UPDATE send_records SET status = 'cancelled' WHERE user_id = '" + uid(1) +
           "' AND status IN ('claimed', 'retrying')");
  auto at = ms("2027-01-01T09:00:01Z");
  auto retry = std::async(std::launch::async, [&] {
    return s.record_outcomes(0, e, {written(occ(1), status::retrying, at, "HTTP 503", at + 1)});
  });
  // Long enough for the write to reach the user's row and wait there (a
  // slower start only means the delete commits first: the same outcome).
  std::this_thread::sleep_for(milliseconds{300});
  del.commit();
  EXPECT_EQ(retry.get().size(), 1u);
  EXPECT_EQ(scalar<std::string>("SELECT status FROM send_records WHERE idempotency_key = '" +
                                occ(1).key + "'"),
            "cancelled");
}

TEST_F(Store, OutcomesMoveRecordsThroughRetryingToDead) {
  bulk_users(2, 0);
  pg::store s{conninfo};
  auto e = s.acquire_lease(0, "n", seconds{60});
  ASSERT_EQ(s.claim(0, e, {occ(1), occ(2)}, 0).size(), 2u);
  auto next = ms("2027-01-01T09:00:02Z");
  EXPECT_EQ(s.record_outcomes(0, e,
                              {{occ(1).key, status::retrying, "HTTP 503", next, 1},
                               {occ(2).key, status::dead, "HTTP 400: bad address", 0, 1}})
                .size(),
            2u);
  auto recs = s.records_by_status(status::retrying, 10, "");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].last_error, "HTTP 503");
  EXPECT_EQ(recs[0].next_attempt_at, next);
  EXPECT_EQ(recs[0].attempts, 1);
  EXPECT_EQ(s.records_by_status(status::dead, 10, "")[0].last_error, "HTTP 400: bad address");
  // Retrying -> claimed again -> sent; attempts count both tries.
  ASSERT_EQ(s.reclaim(0, e, {occ(1).key, occ(2).key}, 0).size(), 1u) << "dead must stay dead";
  EXPECT_EQ(s.record_outcomes(0, e, {{occ(1).key, status::sent, "", 0, next}}).size(), 1u);
  auto sent = s.records_by_status(status::sent, 10, "");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].attempts, 2);
  EXPECT_EQ(sent[0].sent_at, next);
  EXPECT_EQ(sent[0].last_error, "");
}

TEST_F(Store, ReleaseGivesBackClaimsTakenAheadFencedAndOnlyWhileClaimed) {
  bulk_users(4, 0);
  pg::store s{conninfo};
  auto e = s.acquire_lease(0, "n", seconds{60});
  ASSERT_EQ(s.claim(0, e, {occ(1), occ(2), occ(3), occ(4)}, 0).size(), 4u);
  // occ(2) becomes a reclaimed retry with one attempt behind it; occ(4) is sent.
  auto next = ms("2027-01-01T09:00:02Z");
  ASSERT_EQ(s.record_outcomes(0, e,
                              {{occ(2).key, status::retrying, "HTTP 503", next, 1},
                               {occ(4).key, status::sent, "", 0, 1}})
                .size(),
            2u);
  ASSERT_EQ(s.reclaim(0, e, {occ(2).key}, 0).size(), 1u);
  // A stale epoch releases nothing.
  auto e2 = s.acquire_lease(0, "n", seconds{60});
  ASSERT_GT(e2, e);
  EXPECT_TRUE(s.release(0, e, {occ(1).key}, {}).empty()) << "stale epoch released";
  ASSERT_EQ(s.reclaim(0, e2, {occ(1).key, occ(2).key, occ(3).key}, 0).size(), 3u);
  // Fresh claims are deleted, the retry goes back with its attempt; a sent
  // record is never released.
  auto got = s.release(0, e2, {occ(1).key, occ(4).key}, {occ(2).key});
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{occ(1).key, occ(2).key}));
  auto status_of = [&](int i) {
    auto n = scalar<int>("SELECT count(*) FROM send_records WHERE idempotency_key = '" +
                         occ(i).key + "'");
    return n == 0
               ? std::string{"none"}
               : scalar<std::string>("SELECT status FROM send_records WHERE idempotency_key = '" +
                                     occ(i).key + "'");
  };
  EXPECT_EQ(status_of(1), "none");
  EXPECT_EQ(status_of(2), status::retrying);
  EXPECT_EQ(status_of(3), status::claimed);
  EXPECT_EQ(status_of(4), status::sent);
  EXPECT_EQ(
      scalar<int>("SELECT attempts FROM send_records WHERE idempotency_key = '" + occ(2).key + "'"),
      1);
  // Released, a fresh occurrence can be claimed again (at its new instant).
  EXPECT_EQ(s.claim(0, e2, {occ(1)}, 0).size(), 1u);
  ASSERT_EQ(s.reclaim(0, e2, {occ(2).key}, 0).size(), 1u);
  EXPECT_TRUE(s.release(0, e2, {occ(2).key}, {}).empty()) << "a retry deleted as if fresh";
  EXPECT_EQ(status_of(2), status::claimed);
}

TEST_F(Store, WindowScanAcrossTheYearBoundary) {
  pg::store s{conninfo};
  auto kiri = make_user("kiri@example.com", "Pacific/Kiritimati", "1990-01-01");
  auto pago = make_user("pago@example.com", "Pacific/Pago_Pago", "1990-12-31");
  auto utc = make_user("utc@example.com", "UTC", "1990-01-01");
  for (const auto& u : {kiri, pago, utc})
    ASSERT_TRUE(s.create_user(u));
  auto w =
      s.load_window(0, ms("2026-12-31T00:00:00Z"), ms("2027-01-01T00:00:00Z"), pg::default_rules());
  std::map<std::string, occurrence> by_user;
  for (const auto& o : w)
    by_user[o.user_id] = o;
  ASSERT_EQ(w.size(), 2u);
  ASSERT_TRUE(by_user.count(kiri.id));
  EXPECT_EQ(by_user[kiri.id].year, 2027); // local 1 Jan 2027, due on UTC's 31 Dec
  EXPECT_EQ(by_user[kiri.id].due_at, ms("2026-12-31T19:00:00Z"));
  EXPECT_EQ(by_user[kiri.id].key, kiri.id + ":birthday:2027");
  EXPECT_EQ(by_user[kiri.id].message, "Hey, Ada Lovelace it's your birthday");
  EXPECT_EQ(by_user[kiri.id].email, "kiri@example.com");
  ASSERT_TRUE(by_user.count(pago.id));
  EXPECT_EQ(by_user[pago.id].year, 2026);
  EXPECT_EQ(by_user[pago.id].due_at, ms("2026-12-31T20:00:00Z"));
  // Next window: only UTC's 1 Jan.
  auto next =
      s.load_window(0, ms("2027-01-01T00:00:00Z"), ms("2027-01-02T00:00:00Z"), pg::default_rules());
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].user_id, utc.id);
  EXPECT_EQ(next[0].due_at, ms("2027-01-01T09:00:00Z"));
}

TEST_F(Store, WindowScanOf29FebruaryUnderBothPolicies) {
  pg::store s{conninfo};
  auto leap = make_user("leap@example.com", "UTC", "2000-02-29");
  ASSERT_TRUE(s.create_user(leap));
  auto feb28 = pg::default_rules();
  auto mar1 = pg::default_rules();
  mar1.feb29 = feb29_policy::mar1;
  auto day = [&](std::string_view from, std::string_view to, const pg::schedule_rules& r) {
    return s.load_window(0, ms(from), ms(to), r);
  };
  // 2027 is common.
  auto a = day("2027-02-28T00:00:00Z", "2027-03-01T00:00:00Z", feb28);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].due_at, ms("2027-02-28T09:00:00Z"));
  EXPECT_TRUE(day("2027-03-01T00:00:00Z", "2027-03-02T00:00:00Z", feb28).empty());
  EXPECT_TRUE(day("2027-02-28T00:00:00Z", "2027-03-01T00:00:00Z", mar1).empty());
  auto b = day("2027-03-01T00:00:00Z", "2027-03-02T00:00:00Z", mar1);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].due_at, ms("2027-03-01T09:00:00Z"));
  // 2028 is leap: the real day under both.
  EXPECT_EQ(day("2028-02-29T00:00:00Z", "2028-03-01T00:00:00Z", feb28).size(), 1u);
  EXPECT_EQ(day("2028-02-29T00:00:00Z", "2028-03-01T00:00:00Z", mar1).size(), 1u);
  EXPECT_TRUE(day("2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z", feb28).empty());
}

TEST_F(Store, WindowScanSkipsIneligibleDeletedAndRecordedOccurrences) {
  pg::store s{conninfo};
  auto late = make_user("late@example.com", "UTC", "1990-06-01", ms("2027-06-01T10:00:00Z"));
  auto gone = make_user("gone@example.com", "UTC", "1990-06-01");
  auto done = make_user("done@example.com", "UTC", "1990-06-01");
  auto anniversary = make_user("ann@example.com", "UTC", "");
  anniversary.anniversary_date = "2015-06-01";
  for (const auto& u : {late, gone, done, anniversary})
    ASSERT_TRUE(s.create_user(u));
  ASSERT_TRUE(s.delete_user(gone.id, ms("2027-05-01T00:00:00Z")));
  auto e = s.acquire_lease(0, "n", seconds{60});
  auto w =
      s.load_window(0, ms("2027-06-01T00:00:00Z"), ms("2027-06-02T00:00:00Z"), pg::default_rules());
  ASSERT_EQ(w.size(), 2u); // done's birthday and the anniversary
  std::vector<occurrence> mine;
  for (const auto& o : w)
    if (o.user_id == done.id) mine.push_back(o);
  ASSERT_EQ(mine.size(), 1u);
  ASSERT_EQ(s.claim(0, e, mine, 0).size(), 1u);
  auto again =
      s.load_window(0, ms("2027-06-01T00:00:00Z"), ms("2027-06-02T00:00:00Z"), pg::default_rules());
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].occasion, "anniversary");
  EXPECT_EQ(again[0].message, "Hey, Ada Lovelace happy anniversary");
  EXPECT_EQ(again[0].key, anniversary.id + ":anniversary:2027");
}

TEST_F(Store, UsersEmailUniqueAmongLiveUsersAndDeleteCancelsPending) {
  pg::store s{conninfo};
  auto a = make_user("same@example.com", "Europe/Paris", "1990-01-01");
  auto b = make_user("same@example.com", "Asia/Tokyo", "1991-01-01");
  ASSERT_TRUE(s.create_user(a));
  auto dup = s.create_user(b);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.err().code, errc::duplicate);
  EXPECT_EQ(dup.err().message, "User with email same@example.com already exists");
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM users"), 1) << "no half-written row";
  auto e = s.acquire_lease(0, "n", seconds{60});
  occurrence o;
  o.user_id = a.id;
  o.occasion = "birthday";
  o.year = 2027;
  o.key = idempotency_key(a.id, "birthday", 2027);
  o.due_at = ms("2027-01-01T08:00:00Z");
  ASSERT_EQ(s.claim(0, e, {o}, 0).size(), 1u);
  auto del = s.delete_user(a.id, ms("2026-12-31T00:00:00Z"));
  ASSERT_TRUE(del);
  EXPECT_EQ(s.records_of_user(a.id)[0].status, status::cancelled);
  EXPECT_EQ(s.get_user(a.id).err().code, errc::not_found);
  EXPECT_EQ(s.delete_user(a.id, 0).err().code, errc::not_found);
  EXPECT_TRUE(s.create_user(b)) << "the email is free again once its user is deleted";
  EXPECT_TRUE(s.claim(0, e, {o}, 0).empty());
  // A deleted user's greeting cannot be claimed any more.
  auto o2 = o;
  o2.year = 2028;
  o2.key = idempotency_key(a.id, "birthday", 2028);
  EXPECT_TRUE(s.claim(0, e, {o2}, 0).empty());
  EXPECT_EQ(s.get_user("not-a-uuid").err().code, errc::not_found);
}

TEST_F(Store, ListUsersIsKeysetPaginated) {
  pg::store s{conninfo};
  bulk_users(25, 0);
  std::vector<std::string> seen;
  std::string cursor;
  while (true) {
    auto page = s.list_users(10, cursor);
    if (page.empty()) break;
    for (const auto& u : page)
      seen.push_back(u.id);
    cursor = page.back().id;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST_F(Store, ServerRestartedUnderLoadLosesAndDoublesNothing) {
  constexpr int n = 4'000;
  bulk_users(n, 1);
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::set<std::string> claimed;
  std::thread worker{[&] {
    pg::store s{conninfo};
    int64_t epoch = 0;
    for (int i = 1; i <= n; i += 100) {
      std::vector<occurrence> batch;
      std::vector<std::string> keys;
      for (int j = i; j < i + 100; ++j) {
        batch.push_back(occ(j));
        keys.push_back(batch.back().key);
      }
      bool lost = false;
      while (true) {
        try {
          if (epoch == 0) epoch = s.acquire_lease(1, "node-a", seconds{600});
          auto got = s.claim(1, epoch, batch, 0);
          // After a failure, a committed-but-unacknowledged claim must be
          // found, not stranded.
          if (lost) got = s.claimed_at_epoch(1, epoch, keys);
          claimed.insert(got.begin(), got.end());
          break;
        } catch (const pqxx::failure&) {
          // broken_connection, in_doubt_error (lost during COMMIT), or an
          // sql_error from a server shutting down.
          ++failures;
          lost = true;
          s.reset();
          std::this_thread::sleep_for(milliseconds{50});
        }
      }
      std::this_thread::sleep_for(milliseconds{2});
    }
    done = true;
  }};
  std::this_thread::sleep_for(milliseconds{150});
  server().crash(); // immediate shutdown, as a crash
  std::this_thread::sleep_for(milliseconds{300});
  auto restarted = server().restart();
  ASSERT_TRUE(restarted) << restarted.err().message;
  worker.join();
  EXPECT_GT(failures.load(), 0) << "the restart did not interrupt the load";
  EXPECT_EQ(claimed.size(), static_cast<size_t>(n));
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM send_records"), n);
}

TEST_F(Store, HorizonMovesForwardOnlyAndIsFenced) {
  pg::store s{conninfo};
  EXPECT_EQ(s.horizon(4), 0) << "no lease row yet";
  auto e1 = s.acquire_lease(4, "node-a", seconds{60});
  EXPECT_EQ(s.horizon(4), 0);
  EXPECT_TRUE(s.advance_horizon(4, e1, ms("2027-07-10T00:00:00Z")));
  EXPECT_TRUE(s.advance_horizon(4, e1, ms("2027-07-09T00:00:00Z"))) << "accepted, but no move";
  EXPECT_EQ(s.horizon(4), ms("2027-07-10T00:00:00Z")) << "the horizon moved back";
  auto e2 = s.acquire_lease(4, "node-a", seconds{60});
  EXPECT_FALSE(s.advance_horizon(4, e1, ms("2027-07-12T00:00:00Z"))) << "stale epoch moved it";
  EXPECT_EQ(s.horizon(4), ms("2027-07-10T00:00:00Z")) << "kept across a takeover";
  EXPECT_TRUE(s.advance_horizon(4, e2, ms("2027-07-12T00:00:00Z")));
  EXPECT_EQ(s.horizon(4), ms("2027-07-12T00:00:00Z"));
}

// Group commit and the bulk API: many users in one statement, each its own
// result; an email taken (by a live user, or earlier in the same statement)
// is a conflict for that one only; a retry after a lost commit recognises
// its own rows instead of calling them conflicts.
TEST_F(Store, ManyUsersInOneStatementEachWithItsOwnResult) {
  pg::store s{conninfo};
  ASSERT_TRUE(s.create_user(make_user("taken@example.com", "UTC", "1990-01-01")));
  auto a = make_user("m1@example.com", "UTC", "1990-01-02");
  auto b = make_user("taken@example.com", "UTC", "1990-01-03");
  auto c = make_user("m3@example.com", "Europe/Paris", "");
  c.location_city = "Paris, \"France\"\\";
  auto d = make_user("m1@example.com", "UTC", "1990-01-04"); // as a, earlier in the statement
  auto r = s.create_users({a, b, c, d});
  ASSERT_EQ(r.size(), 4u);
  ASSERT_TRUE(r[0]);
  EXPECT_EQ(r[0]->id, a.id);
  EXPECT_EQ(r[0]->birthday_date, "1990-01-02");
  ASSERT_FALSE(r[1]);
  EXPECT_EQ(r[1].err().code, errc::duplicate);
  EXPECT_NE(r[1].err().message.find("taken@example.com"), std::string::npos);
  ASSERT_TRUE(r[2]);
  EXPECT_EQ(r[2]->location_city, "Paris, \"France\"\\") << "array literal escaping";
  EXPECT_EQ(r[2]->birthday_date, "");
  ASSERT_FALSE(r[3]);
  EXPECT_EQ(r[3].err().code, errc::duplicate);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM users"), 3);
  // The same users asked for again: their ids are taken, so every one is a
  // conflict (a second create of one user is not a success).
  auto twice = s.create_users({a, b, c, d});
  for (const auto& x : twice) {
    ASSERT_FALSE(x);
    EXPECT_EQ(x.err().code, errc::duplicate);
  }
  // The same statement retried after its commit's acknowledgement was lost:
  // the rows with our ids and emails are ours, the conflicts stay
  // conflicts, nothing is doubled.
  auto again = s.create_users({a, b, c, d}, true);
  EXPECT_TRUE(again[0] && again[2]);
  EXPECT_FALSE(again[1] || again[3]);
  // An id taken by another email is not ours even then, and does not take
  // the rest of the statement with it.
  auto e = make_user("m5@example.com", "UTC", "1990-01-05");
  auto f = make_user("m6@example.com", "UTC", "1990-01-06");
  f.id = a.id;
  auto mixed = s.create_users({e, f}, true);
  ASSERT_TRUE(mixed[0]);
  ASSERT_FALSE(mixed[1]);
  EXPECT_EQ(mixed[1].err().code, errc::duplicate);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM users"), 4);
}

// -- send records by year (schema v9) ---------------------------------------------

TEST_F(Store, EachYearsRecordsHaveATableMadeByTheirFirstClaim) {
  bulk_users(4, 7);
  pg::store s{conninfo};
  auto epoch = s.acquire_lease(7, "node-a", seconds{60});
  EXPECT_TRUE(s.record_years().empty()) << "a fresh database has no year yet";
  EXPECT_EQ(s.claim(7, epoch, {occ(1, 2027), occ(2, 2031)}, ms("2027-01-01T09:00:00Z")).size(), 2u);
  EXPECT_EQ(s.record_years(), (std::vector<int32_t>{2027, 2031}));
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM send_records_2027"), 1);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM send_records_2031"), 1);
  // Still one record per key: the same keys claim nothing, in any year.
  EXPECT_TRUE(s.claim(7, epoch, {occ(1, 2027), occ(2, 2031)}, ms("2027-01-01T09:00:00Z")).empty());
  EXPECT_EQ(s.record_expired(7, epoch, {occ(3, 2029)}, "missed", 0).size(), 1u);
  EXPECT_EQ(s.record_years(), (std::vector<int32_t>{2027, 2029, 2031}));
  EXPECT_FALSE(s.ensure_record_year(2029)) << "made once";
  EXPECT_TRUE(s.ensure_record_year(2040));
}

TEST_F(Store, AYearDroppedByAnotherNodeIsMadeAgainByTheNextClaim) {
  bulk_users(4, 7);
  pg::store a{conninfo}, b{conninfo};
  auto epoch = a.acquire_lease(7, "node-a", seconds{60});
  ASSERT_EQ(a.claim(7, epoch, {occ(1, 2030)}, ms("2027-01-01T09:00:00Z")).size(), 1u);
  // b drops 2030 behind a's back; a still believes the year has its table.
  EXPECT_EQ(b.drop_record_years_before(2031), (std::vector<int32_t>{2030}));
  EXPECT_TRUE(b.record_years().empty());
  EXPECT_EQ(a.claim(7, epoch, {occ(2, 2030)}, ms("2027-01-01T09:00:00Z")),
            (std::vector<std::string>{occ(2, 2030).key}));
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM send_records"), 1);
}

TEST_F(Store, DroppingOldYearsKeepsEveryRowOfTheYearsKept) {
  bulk_users(10, 7);
  pg::store s{conninfo};
  auto epoch = s.acquire_lease(7, "node-a", seconds{60});
  std::vector<occurrence> batch;
  for (int y = 2020; y <= 2029; ++y)
    batch.push_back(occ(y - 2019, y));
  ASSERT_EQ(s.claim(7, epoch, batch, ms("2027-01-01T09:00:00Z")).size(), 10u);
  EXPECT_EQ(s.drop_record_years_before(2026),
            (std::vector<int32_t>{2020, 2021, 2022, 2023, 2024, 2025}));
  EXPECT_EQ(s.record_years(), (std::vector<int32_t>{2026, 2027, 2028, 2029}));
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM send_records"), 4);
  EXPECT_EQ(scalar<int>("SELECT min(year) FROM send_records"), 2026);
  EXPECT_TRUE(s.drop_record_years_before(2026).empty()) << "a second round drops nothing";
  // The kept years still take outcomes: the rows are where they were.
  outcome o;
  o.key = occ(10, 2029).key;
  o.status = "sent";
  o.at = ms("2029-01-01T09:00:01Z");
  EXPECT_EQ(s.record_outcomes(7, epoch, {o}).size(), 1u);
}

// A database of schema v8 with records in it: v9 moves every row into its
// year's table, columns and all, and the same keys are still claimed once.
TEST_F(Store, UpgradingToRecordsByYearKeepsEveryRecord) {
  {
    pqxx::connection d{conninfo};
    pqxx::nontransaction{d}.exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  }
  pqxx::connection c{conninfo};
  ASSERT_EQ(pg::migrate(c, 8), 8);
  bulk_users(3, 7);
  {
    pqxx::work w{c};
    w.exec("INSERT INTO send_records (idempotency_key, user_id, occasion, year, partition, due_at,"
           " status, attempts, owner_epoch, sent_at, delivery, sent_to, imported_key) VALUES"
           " ('" +
           occ(1, 2025).key + "', '" + uid(1) +
           "', 'birthday', 2025, 7, now(), 'sent', 1,"
           " 3, now(), 'delivered', 'u1@example.com', 'old-1'),"
           " ('" +
           occ(2, 2026).key + "', '" + uid(2) +
           "', 'birthday', 2026, 7, now(), 'dead', 12,"
           " 4, NULL, NULL, NULL, NULL)");
    w.commit();
  }
  EXPECT_EQ(pg::migrate(c), static_cast<int>(pg::migrations().size()) - 8);
  pg::store s{conninfo};
  EXPECT_EQ(s.record_years(), (std::vector<int32_t>{2025, 2026}));
  EXPECT_EQ(scalar<std::string>("SELECT status || attempts || delivery || sent_to || imported_key"
                                " FROM send_records_2025"),
            "sent1deliveredu1@example.comold-1");
  EXPECT_EQ(scalar<std::string>("SELECT status || attempts FROM send_records_2026"), "dead12");
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM pg_class WHERE relname LIKE 'send_records_v8%'"), 0);
  auto epoch = s.acquire_lease(7, "node-a", seconds{60});
  EXPECT_TRUE(s.claim(7, epoch, {occ(1, 2025), occ(2, 2026)}, 0).empty());
  EXPECT_EQ(s.claim(7, epoch, {occ(3, 2026)}, 0).size(), 1u);
}
