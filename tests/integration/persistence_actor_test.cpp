// The PERSISTENCE actor against a real PostgreSQL: replies, the bounded
// queue while the database is down, reconnecting by itself, and a server
// crash under load that loses and doubles nothing.
#include "actors/events.hpp"
#include "actors/lease_keeper.hpp"
#include "actors/persistence.hpp"
#include "actors/records_keeper.hpp"
#include "core/metrics.hpp"
#include "persistence/membership.hpp"
#include "pg_fixture.hpp"

#include <map>
#include <set>
#include <thread>

using namespace candle;
using namespace std::chrono;
using candle::test::pg_test;
using candle::test::uid;

namespace {

struct actor_env {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  actor_env() {
    register_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

occurrence occ(int i) {
  occurrence o;
  o.user_id = uid(i);
  o.occasion = "birthday";
  o.year = 2027;
  o.key = idempotency_key(o.user_id, "birthday", 2027);
  o.due_at = 1798794000000; // 2027-01-01T09:00Z
  return o;
}

// Blocking request helper: value or error.
template <class R, class... Ts>
caf::expected<R> ask(caf::actor_system& sys, const persistence_actor& h, Ts&&... xs) {
  caf::scoped_actor self{sys};
  caf::expected<R> out{caf::error{}};
  self->request(h, caf::infinite, std::forward<Ts>(xs)...)
      .receive([&](R& r) { out = std::move(r); }, [&](caf::error& e) { out = std::move(e); });
  return out;
}

} // namespace

class PersistenceActor : public pg_test {};

TEST_F(PersistenceActor, AnswersRequestsAndMapsErrors) {
  actor_env env;
  auto db = spawn_persistence(*env.sys, {conninfo});
  user u;
  u.id = uid(1);
  u.first_name = "Grace";
  u.last_name = "Hopper";
  u.email = "grace@example.com";
  u.timezone = "America/New_York";
  u.birthday_date = "1906-12-09";
  u.created_at = u.updated_at = 1'000;
  auto created = ask<user>(*env.sys, db, atom::create::value, u);
  ASSERT_TRUE(created) << env.sys->render(created.error());
  EXPECT_EQ(created->email, "grace@example.com");
  auto again = ask<user>(*env.sys, db, atom::create::value, user{u});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), static_cast<uint8_t>(errc::duplicate));
  EXPECT_EQ(again.error().category(), caf::atom("candle"));
  auto missing = ask<user>(*env.sys, db, atom::get::value, uid(2));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), static_cast<uint8_t>(errc::not_found));
  EXPECT_NE(env.sys->render(missing.error()).find("not_found"), std::string::npos);
  auto epoch =
      ask<int64_t>(*env.sys, db, atom::lease::value, int32_t{0}, std::string{"n"}, int64_t{60});
  ASSERT_TRUE(epoch);
  auto keys = ask<key_list>(*env.sys, db, atom::claim::value, int32_t{0}, *epoch,
                            occurrence_list{occ(1)}, int64_t{0});
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->size(), 1u);
  auto marked = ask<key_list>(*env.sys, db, atom::record::value, int32_t{0}, *epoch,
                              outcome_list{{occ(1).key, status::sent, "", 0, 5}});
  ASSERT_TRUE(marked);
  EXPECT_EQ(marked->size(), 1u);
  auto ok = ask<bool>(*env.sys, db, atom::ping::value);
  ASSERT_TRUE(ok);
  anon_send_exit(db, caf::exit_reason::user_shutdown);
}

// Polls `f` every 50 ms for up to 15 s.
template <class F> bool eventually(F f) {
  for (int i = 0; i < 300; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(milliseconds{50});
  }
  return false;
}

// The LEASE KEEPER renews what it is given past the TTL and moves the fence
// deadline; a lease taken away closes its slot and is told to its partition;
// a forgotten lease, or one whose partition ended, runs out.
TEST_F(PersistenceActor, LeaseKeeperRenewsPastTheTtlAndLetsGoOfWhatItIsNotGiven) {
  actor_env env;
  pg::node_info me;
  me.id = "n";
  me.address = "127.0.0.1";
  me.version = "test";
  pg::membership alive{conninfo, me, seconds{15}}; // "n" is a live node
  ASSERT_TRUE(alive.join());
  pg::store s{conninfo};
  auto ttl = seconds{3}; // renewed every second
  std::map<int32_t, int64_t> e;
  auto fences = std::make_shared<fence_table>(32);
  auto t0 = steady_clock::now();
  for (int32_t p : {20, 21, 22}) {
    e[p] = s.acquire_lease(p, "n", ttl);
    ASSERT_GT(e[p], 0);
    fences->open(p, e[p], t0 + milliseconds{2700});
  }
  auto keeper = spawn_lease_keeper(*env.sys, {conninfo, "n", ttl.count(), fences});
  caf::scoped_actor part{*env.sys}; // stands in for partitions 20 and 21
  auto doomed = env.sys->spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](int) {}};
  }); // partition 22's, ended below
  caf::anon_send(keeper, atom::renew::value, int32_t{20}, e[20], caf::actor{part});
  caf::anon_send(keeper, atom::renew::value, int32_t{21}, e[21], caf::actor{part});
  caf::anon_send(keeper, atom::renew::value, int32_t{22}, e[22], doomed);

  // Renewed: the deadline moves past the first one, and after the TTL another
  // node still cannot take the lease.
  EXPECT_TRUE(eventually([&] { return fences->may_send(20, e[20], t0 + seconds{3}); }));
  std::this_thread::sleep_until(t0 + ttl + seconds{1});
  EXPECT_EQ(s.acquire_lease(20, "other", ttl), 0) << "kept past its TTL";
  EXPECT_TRUE(fences->may_send(20, e[20], steady_clock::now()));

  // Taken away (a newer epoch): the slot closes and the partition hears it.
  scalar<int64_t>("UPDATE partition_leases SET epoch = epoch + 1 WHERE partition = 21"
                  " RETURNING epoch");
  int64_t lost = 0;
  part->receive([&](atom::renew, int64_t epoch) { lost = epoch; },
                caf::after(seconds{10}) >> [] {});
  EXPECT_EQ(lost, e[21]);
  EXPECT_FALSE(fences->may_send(21, e[21], steady_clock::now()));

  // Forgotten, or its partition ended: the lease runs out and another node
  // takes it.
  caf::anon_send(keeper, atom::unlease::value, int32_t{20}, e[20]);
  caf::anon_send_exit(doomed, caf::exit_reason::user_shutdown);
  EXPECT_TRUE(eventually([&] { return s.acquire_lease(20, "other", ttl) > 0; }));
  EXPECT_TRUE(eventually([&] { return s.acquire_lease(22, "other", ttl) > 0; }));
  // A closed slot stays closed even if a renewal would succeed.
  EXPECT_FALSE(fences->extend(21, e[21], steady_clock::now() + seconds{10}));
  caf::anon_send_exit(keeper, caf::exit_reason::user_shutdown);
}

TEST_F(PersistenceActor, BoundedQueueRefusesWhileTheDatabaseIsDownThenReconnects) {
  actor_env env;
  persistence_options opts{conninfo};
  opts.workers = 1;
  opts.queue_limit = 3;
  opts.retry_for = milliseconds{1500};
  auto db = spawn_persistence(*env.sys, opts);
  ASSERT_TRUE(ask<bool>(*env.sys, db, atom::ping::value));
  server().crash();
  // 10 concurrent requests: 3 are queued (and fail as unavailable after
  // retry_for), the other 7 are refused at once as overloaded. (Pings and
  // leases use the control connection, outside the bound: reads here.)
  std::atomic<int> overloaded{0}, unavailable{0}, other{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 10; ++i)
    callers.emplace_back([&] {
      auto r = ask<user>(*env.sys, db, atom::get::value,
                         std::string{"00000000-0000-4000-8000-000000000001"});
      if (r)
        ++other;
      else if (r.error().code() == static_cast<uint8_t>(errc::overloaded))
        ++overloaded;
      else if (r.error().code() == static_cast<uint8_t>(errc::unavailable))
        ++unavailable;
      else
        ++other;
    });
  for (auto& t : callers)
    t.join();
  EXPECT_EQ(overloaded.load(), 7);
  EXPECT_EQ(unavailable.load(), 3);
  EXPECT_EQ(other.load(), 0);
  ASSERT_TRUE(server().restart());
  // The same actor, no restart of it: it reconnects on the next request.
  auto r = ask<bool>(*env.sys, db, atom::ping::value);
  EXPECT_TRUE(r) << env.sys->render(r.error());
  anon_send_exit(db, caf::exit_reason::user_shutdown);
}

TEST_F(PersistenceActor, DatabaseCrashUnderLoadLosesAndDoublesNothing) {
  constexpr int n = 3'000;
  bulk_users(n, 2);
  actor_env env;
  persistence_options opts{conninfo};
  opts.retry_for = seconds{30};
  auto db = spawn_persistence(*env.sys, opts);
  auto epoch =
      ask<int64_t>(*env.sys, db, atom::lease::value, int32_t{2}, std::string{"n"}, int64_t{600});
  ASSERT_TRUE(epoch);
  std::set<std::string> claimed, marked;
  // The load runs on a thread; the crash and restart on this one (the
  // server's parent thread must outlive it, see embedded_pg.hpp).
  std::thread load{[&] {
    for (int i = 1; i <= n; i += 50) {
      occurrence_list batch;
      for (int j = i; j < i + 50; ++j)
        batch.push_back(occ(j));
      auto keys =
          ask<key_list>(*env.sys, db, atom::claim::value, int32_t{2}, *epoch, batch, int64_t{0});
      if (!keys) {
        ADD_FAILURE() << env.sys->render(keys.error());
        return;
      }
      claimed.insert(keys->begin(), keys->end());
      outcome_list outs;
      for (const auto& k : *keys)
        outs.push_back({k, status::sent, "", 0, 1});
      auto done = ask<key_list>(*env.sys, db, atom::record::value, int32_t{2}, *epoch, outs);
      if (!done) {
        ADD_FAILURE() << env.sys->render(done.error());
        return;
      }
      marked.insert(done->begin(), done->end());
      std::this_thread::sleep_for(milliseconds{3});
    }
  }};
  std::this_thread::sleep_for(milliseconds{120});
  server().crash();
  std::this_thread::sleep_for(milliseconds{300});
  auto restarted = server().restart();
  EXPECT_TRUE(restarted);
  load.join();
  EXPECT_EQ(claimed.size(), static_cast<size_t>(n)) << "a claim was lost";
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM send_records WHERE status = 'sent'"), n);
  EXPECT_EQ(scalar<int>("SELECT max(attempts) FROM send_records"), 1) << "an outcome doubled";
  anon_send_exit(db, caf::exit_reason::user_shutdown);
}

TEST_F(PersistenceActor, EventsFromConcurrentRequestsAreWrittenTogetherAndStoredOnce) {
  actor_env env;
  auto events = spawn_events(*env.sys, {conninfo});
  // 64 requests of 20 events at once, every event posted by two of them.
  constexpr int requests = 64;
  auto key = idempotency_key(uid(1), "birthday", 2027);
  auto& batches = metrics::global().persistence_batch;
  auto statements_before = batches.count({"events"});
  caf::scoped_actor self{*env.sys};
  for (int r = 0; r < requests; ++r) {
    event_list evs;
    for (int i = 0; i < 20; ++i) {
      int n = (r / 2) * 20 + i; // requests 2k and 2k+1 carry the same ids
      evs.push_back({"id-" + std::to_string(n), "delivered", key, 1000 + n, "", 0});
    }
    self->send(events, atom::ingest::value, std::move(evs));
  }
  uint64_t stored = 0, duplicates = 0, unknown = 0;
  for (int r = 0; r < requests; ++r)
    self->receive(
        [&](ingest_report& x) {
          stored += x.stored;
          duplicates += x.duplicates;
          unknown += x.unknown;
        },
        [&](caf::error& e) { ADD_FAILURE() << env.sys->render(e); });
  EXPECT_EQ(stored, requests / 2 * 20u);
  EXPECT_EQ(duplicates, requests / 2 * 20u);
  EXPECT_EQ(unknown, stored) << "no send record for the key: every stored event is unknown";
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM delivery_events"), requests / 2 * 20);
  auto statements = batches.count({"events"}) - statements_before;
  EXPECT_GE(statements, 1u);
  EXPECT_LT(statements, static_cast<uint64_t>(requests)) << "requests were not grouped";
  // Reads through the same actor.
  self->request(events, caf::infinite, atom::greeting::value, key)
      .receive([&](greeting_detail&) { ADD_FAILURE() << "no send record: not found expected"; },
               [&](caf::error& e) { EXPECT_EQ(e.code(), static_cast<uint8_t>(errc::not_found)); });
  caf::anon_send_exit(events, caf::exit_reason::user_shutdown);
}

// The RECORDS KEEPER on a simulated clock in mid-2031 keeping two past years:
// it makes 2031 and 2032 ahead and drops 2020-2028 whole, whatever years
// are there; a year's rows go with it and the kept years' stay.
TEST_F(PersistenceActor, TheRecordsKeeperMakesTheComingYearAndDropsThoseBeyondKeepYears) {
  bulk_users(3, 0);
  pg::store s{conninfo};
  for (int y = 2020; y <= 2030; ++y)
    s.ensure_record_year(y);
  auto epoch = s.acquire_lease(0, "node-a", seconds{60});
  ASSERT_EQ(s.claim(0, epoch,
                    {candle::test::birthday_of(1, 2028, 0), candle::test::birthday_of(2, 2029, 0)},
                    0)
                .size(),
            2u);
  actor_env env;
  records_keeper_options o;
  o.conninfo = conninfo;
  o.keep_years = 2;
  o.clock = std::make_shared<engine_clock>(engine_clock::simulated(
      *parse_instant("2031-06-01T12:00:00Z"), 0, std::chrono::steady_clock::now()));
  auto keeper = spawn_records_keeper(*env.sys, o);
  auto want = std::vector<int32_t>{2029, 2030, 2031, 2032};
  for (int i = 0; i < 200 && s.record_years() != want; ++i)
    std::this_thread::sleep_for(milliseconds{50});
  EXPECT_EQ(s.record_years(), want);
  EXPECT_EQ(scalar<std::string>("SELECT string_agg(year::text, ',') FROM send_records"), "2029");
  caf::anon_send_exit(keeper, caf::exit_reason::user_shutdown);
}
