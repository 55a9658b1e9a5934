// Delivery events against a real PostgreSQL: stored once under concurrent
// duplicate ingestion, the delivery state moving only forward, suppression
// at claim time and lifted by an email change.
#include "core/partition.hpp"
#include "pg_fixture.hpp"

#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <thread>

using namespace candle;
using namespace std::chrono;
using candle::test::pg_test;
using candle::test::uid;

namespace {

occurrence occ(int i, int year = 2027) { // ~09:00Z on 1 Jan of `year`
  return candle::test::birthday_of(i, year, 1798794000000 + (year - 2027) * 31'536'000'000LL);
}

delivery_event ev(std::string id, const std::string& type, const std::string& key, int64_t at,
                  std::string reason = {}) {
  return {std::move(id), type, key, at, std::move(reason), 0};
}

} // namespace

class Events : public pg_test {
protected:
  // A greeting of user i sent in partition 0.
  std::string sent_greeting(pg::store& s, int i, int year = 2027) {
    auto e = s.acquire_lease(0, "n", seconds{60});
    EXPECT_EQ(s.claim(0, e, {occ(i, year)}, 0).size(), 1u);
    EXPECT_EQ(s.record_outcomes(0, e, {{occ(i, year).key, status::sent, "", 0, 1}}).size(), 1u);
    return occ(i, year).key;
  }
  std::string delivery_of(const std::string& key) {
    return scalar<std::string>(
        "SELECT coalesce(delivery, 'sent') FROM send_records WHERE idempotency_key = '" + key +
        "'");
  }
};

TEST_F(Events, ConcurrentDuplicateIngestionStoresEachEventOnce) {
  bulk_users(100, 0);
  pg::store setup{conninfo};
  std::vector<std::string> keys;
  for (int i = 1; i <= 100; ++i)
    keys.push_back(sent_greeting(setup, i));
  // 2,000 events over 100 greetings, posted by 6 writers at once, each all
  // of them in its own order and batching (as a provider's retries would).
  std::vector<delivery_event> all;
  for (int i = 0; i < 2000; ++i) // each greeting: 10 deferrals and 10 deliveries
    all.push_back(ev("evt-" + std::to_string(i), (i / 100) % 2 ? "delivered" : "deferred",
                     keys[i % 100], 1'000'000 + i));
  constexpr int writers = 6;
  std::vector<std::set<std::string>> stored(writers);
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int w = 0; w < writers; ++w)
    ts.emplace_back([&, w] {
      pg::store s{conninfo};
      auto mine = all;
      std::mt19937 rng(static_cast<unsigned>(w));
      std::shuffle(mine.begin(), mine.end(), rng);
      size_t step = 50 + 37 * static_cast<size_t>(w);
      for (size_t i = 0; i < mine.size(); i += step) {
        std::vector<delivery_event> batch(mine.begin() + i,
                                          mine.begin() + std::min(mine.size(), i + step));
        try {
          auto got = s.ingest_events(batch);
          stored[w].insert(got.stored.begin(), got.stored.end());
        } catch (const std::exception& e) {
          ++failures;
          ADD_FAILURE() << e.what();
        }
      }
    });
  for (auto& t : ts)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::string> once;
  size_t twice = 0;
  for (const auto& s : stored)
    for (const auto& id : s)
      twice += once.insert(id).second ? 0 : 1;
  EXPECT_EQ(twice, 0u) << "an event was reported stored by two writers";
  EXPECT_EQ(once.size(), all.size());
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM delivery_events"), 2000);
  // Every greeting had a delivered event: whatever the order, it ends there.
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM send_records WHERE delivery = 'delivered'"), 100);
}

TEST_F(Events, DeliveryStateMovesOnlyForwardAndTheTimelineKeepsEverything) {
  bulk_users(2, 0);
  pg::store s{conninfo};
  auto key = sent_greeting(s, 1);
  EXPECT_EQ(delivery_of(key), "sent");
  auto got = s.ingest_events({ev("a", "delivered", key, 2000)});
  EXPECT_EQ(got.stored.size(), 1u);
  EXPECT_EQ(got.moved, 1u);
  EXPECT_EQ(delivery_of(key), "delivered");
  // An older deferral arriving late is kept and moves nothing back.
  got = s.ingest_events({ev("b", "deferred", key, 1000, "greylisted")});
  EXPECT_EQ(got.stored.size(), 1u);
  EXPECT_EQ(got.moved, 0u);
  EXPECT_EQ(delivery_of(key), "delivered");
  // A repeat is not stored again and changes nothing.
  got = s.ingest_events({ev("a", "bounced", key, 9000)});
  EXPECT_TRUE(got.stored.empty());
  EXPECT_EQ(delivery_of(key), "delivered");
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM suppressions"), 0);
  // A later complaint moves it and suppresses the address.
  got = s.ingest_events({ev("c", "complained", key, 3000, "spam report")});
  EXPECT_EQ(got.moved, 1u);
  EXPECT_EQ(got.suppressed, 1u);
  EXPECT_EQ(delivery_of(key), "complained");
  std::vector<delivery_event> timeline;
  auto rec = s.greeting(key, timeline);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->delivery, "complained");
  EXPECT_EQ(rec->claimed_by, "n");
  ASSERT_EQ(timeline.size(), 3u);
  EXPECT_EQ(timeline[0].id, "b"); // oldest first, by the provider's instant
  EXPECT_EQ(timeline[0].reason, "greylisted");
  EXPECT_EQ(timeline[1].id, "a");
  EXPECT_EQ(timeline[2].id, "c");
  auto sup = s.suppressions(10, "");
  ASSERT_EQ(sup.size(), 1u);
  EXPECT_EQ(sup[0].email, "u1@example.com");
  EXPECT_EQ(sup[0].reason, "spam report");
  EXPECT_EQ(sup[0].type, "complained");
  EXPECT_EQ(sup[0].key, key);
  // Unknown keys are stored and reported, not errors.
  auto stranger = idempotency_key(uid(77), "birthday", 2027);
  got = s.ingest_events({ev("d", "delivered", stranger, 1)});
  EXPECT_EQ(got.stored.size(), 1u);
  EXPECT_EQ(got.unknown.count("d"), 1u);
  EXPECT_FALSE(s.greeting(stranger, timeline).ok());
  // Within one batch the highest ranked event wins, whatever its position.
  auto key2 = sent_greeting(s, 2);
  s.ingest_events({ev("e", "bounced", key2, 5, "550 no such user"), ev("f", "delivered", key2, 9),
                   ev("g", "deferred", key2, 1)});
  EXPECT_EQ(delivery_of(key2), "bounced");
  EXPECT_EQ(s.suppressions(10, "").size(), 2u);
  EXPECT_TRUE(s.unsuppress("U2@example.com"));
  EXPECT_FALSE(s.unsuppress("u2@example.com"));
  EXPECT_EQ(s.suppressions(10, "u1@example.com").size(), 0u);
}

TEST_F(Events, SuppressedAddressesAreRecordedSuppressedAtClaimUntilTheEmailChanges) {
  bulk_users(3, 0);
  pg::store s{conninfo};
  auto key = sent_greeting(s, 1);
  s.ingest_events({ev("x", "bounced", key, 10, "550 mailbox unavailable")});
  auto e = s.acquire_lease(0, "n", seconds{60});
  // Next year: user 1 is not claimed (recorded suppressed), user 2 is.
  auto got = s.claim(0, e, {occ(1, 2028), occ(2, 2028)}, 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], occ(2, 2028).key);
  EXPECT_EQ(scalar<std::string>("SELECT status || ' / ' || last_error FROM send_records"
                                " WHERE idempotency_key = '" +
                                occ(1, 2028).key + "'"),
            "suppressed / suppressed: 550 mailbox unavailable");
  // Recorded once: a second claim is not granted either.
  EXPECT_TRUE(s.claim(0, e, {occ(1, 2028)}, 0).empty());
  // A new address is not suppressed: the suppressed greeting still ahead is
  // given back (and claimed now), and so are the years after.
  auto u = s.get_user(uid(1));
  ASSERT_TRUE(u.ok());
  u->email = "new1@example.com";
  u->updated_at += 1; // the engine's now: long before 2028
  ASSERT_TRUE(s.update_user(*u).ok());
  EXPECT_EQ(s.claim(0, e, {occ(1, 2028)}, 0).size(), 1u);
  EXPECT_EQ(s.claim(0, e, {occ(1, 2029)}, 0).size(), 1u);
  // A bounce that arrives after the user moved suppresses the address the
  // greeting went to, not the new one.
  auto key3 = sent_greeting(s, 3);
  auto u3 = s.get_user(uid(3));
  u3->email = "moved3@example.com";
  u3->updated_at += 1;
  ASSERT_TRUE(s.update_user(*u3).ok());
  s.ingest_events({ev("y", "complained", key3, 20, "spam report")});
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM suppressions WHERE email = 'u3@example.com'"), 1);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM suppressions WHERE email = 'moved3@example.com'"), 0);
  e = s.acquire_lease(0, "n", seconds{60}); // sent_greeting took the lease again
  EXPECT_EQ(s.claim(0, e, {occ(3, 2028)}, 0).size(), 1u);
  // A claimed greeting follows the user's new address.
  auto u2 = s.get_user(uid(2));
  u2->email = "moved2@example.com";
  u2->updated_at += 1;
  ASSERT_TRUE(s.update_user(*u2).ok());
  EXPECT_EQ(scalar<std::string>("SELECT sent_to FROM send_records WHERE idempotency_key = '" +
                                occ(2, 2028).key + "'"),
            "moved2@example.com");
}
