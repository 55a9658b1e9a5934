// The change feed and the re-checks that make a partition's memory converge
// to the database (docs/cluster.md, "Acknowledged writes"), against a real
// PostgreSQL: a transaction that commits after a later one is never skipped,
// writes by hand are read like Candle's own, and a claim or a claim taken
// ahead is refused once the user row moved on.
#include "pg_fixture.hpp"

#include <algorithm>
#include <set>

using namespace candle;
using namespace std::chrono;
using candle::test::ms;
using candle::test::pg_test;
using candle::test::uid;

namespace {

// A user row written by hand in `w`, as no Candle code would: no message,
// no partition told.
void insert_by_hand(pqxx::work& w, const std::string& id, const std::string& email) {
  w.exec("INSERT INTO users (id, first_name, last_name, email, timezone, birthday_date,"
         " partition, created_at, updated_at) VALUES ('" +
         id + "', 'By', 'Hand', '" + email + "', 'UTC', '1990-01-01', 3, now(), now())");
}

user make_user(int i, int32_t partition = 3) {
  user u;
  u.id = uid(700000 + i);
  u.first_name = "Ada";
  u.last_name = "Lovelace";
  u.email = "ada" + std::to_string(i) + "@example.com";
  u.timezone = "Europe/London";
  u.birthday_date = "1990-01-01";
  u.partition = partition;
  u.created_at = u.updated_at = ms("2000-01-01T00:00:00Z");
  return u;
}

std::set<std::string> ids(const change_batch& c) {
  std::set<std::string> out;
  for (const auto& u : c.users)
    out.insert(u.id);
  return out;
}

} // namespace

class Changes : public pg_test {};

TEST_F(Changes, ASlowTransactionCommittingAfterAFasterLaterOneIsReadNotSkipped) {
  pg::store s{conninfo};
  auto cursor = s.changes(3, 0).cursor;
  ASSERT_GT(cursor, 0);
  // The slow writer takes its transaction id first and commits last.
  pqxx::connection slow_conn{conninfo};
  pqxx::work slow{slow_conn};
  auto a = make_user(1);
  insert_by_hand(slow, a.id, "slow@example.com");
  auto slow_xid = slow.exec1("SELECT pg_current_xact_id()::text::bigint")[0].as<int64_t>();
  auto b = make_user(2);
  ASSERT_TRUE(s.create_user(b)); // a later transaction, committed first
  auto first = s.changes(3, cursor);
  EXPECT_TRUE(first.users.empty())
      << "nothing at or above the oldest running transaction is read yet";
  EXPECT_EQ(first.cursor, slow_xid) << "the horizon waits for the slow writer";
  slow.commit();
  auto second = s.changes(3, first.cursor);
  EXPECT_EQ(ids(second), (std::set<std::string>{a.id, b.id}));
  EXPECT_GT(second.cursor, first.cursor);
  EXPECT_TRUE(s.changes(3, second.cursor).users.empty()) << "each write is read once";
}

TEST_F(Changes, EveryKindOfWriteIsReadByItsPartitionOnly) {
  pg::store s{conninfo};
  auto cursor = s.changes(3, 0).cursor;
  auto other_cursor = s.changes(4, 0).cursor;
  auto a = make_user(1), b = make_user(2), c = make_user(3);
  ASSERT_TRUE(s.create_user(a));
  auto created = s.create_users({b, c});
  ASSERT_TRUE(created[0] && created[1]);
  auto moved = *s.get_user(b.id);
  moved.timezone = "Asia/Tokyo";
  ASSERT_TRUE(s.update_user(moved));
  ASSERT_TRUE(s.delete_user(c.id, ms("2026-12-07T00:00:00Z")));
  // By hand, with no message to anyone.
  pqxx::connection hand{conninfo};
  pqxx::work w{hand};
  auto d = make_user(4);
  insert_by_hand(w, d.id, "hand@example.com");
  w.commit();
  auto read = s.changes(3, cursor);
  ASSERT_EQ(ids(read), (std::set<std::string>{a.id, b.id, c.id, d.id}));
  for (const auto& u : read.users) {
    if (u.id == b.id) {
      EXPECT_EQ(u.timezone, "Asia/Tokyo") << "the latest row";
    }
    if (u.id == c.id) {
      EXPECT_NE(u.deleted_at, 0) << "a delete is read as a deleted row";
    }
  }
  EXPECT_TRUE(s.changes(4, other_cursor).users.empty());
  EXPECT_EQ(s.changes(3, 0).users.size(), 0u) << "cursor 0 only says where to start";
}

TEST_F(Changes, AClaimIsRefusedOnceTheUserRowMovedOnAndAClaimAheadIsNotConfirmed) {
  pg::store s{conninfo};
  auto e = s.acquire_lease(3, "n", seconds{60});
  auto u = *s.create_user(make_user(1));
  auto computed =
      occurrences_in(u, default_rules(), ms("2027-01-01T00:00:00Z"), ms("2027-01-02T00:00:00Z"));
  ASSERT_EQ(computed.size(), 1u);
  auto o = computed[0];
  EXPECT_EQ(o.version, u.updated_at);
  // Moved after the occurrence was computed: the stale one is not claimed.
  auto moved = u;
  moved.timezone = "Asia/Tokyo";
  moved.updated_at = u.updated_at + 1000;
  auto m = *s.update_user(moved);
  EXPECT_TRUE(s.claim(3, e, {o}, 0).empty()) << "computed from a row that moved on";
  auto fresh =
      occurrences_in(m, default_rules(), ms("2026-12-31T00:00:00Z"), ms("2027-01-02T00:00:00Z"));
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_LT(fresh[0].due_at, o.due_at) << "Tokyo's 09:00 comes first";
  ASSERT_EQ(s.claim(3, e, fresh, 0).size(), 1u);
  EXPECT_EQ(s.confirm(3, e, fresh).size(), 1u) << "claimed here, user unchanged";
  EXPECT_TRUE(s.confirm(3, e + 1, fresh).empty()) << "not at another epoch";
  // An address change after the claim: no longer confirmed as claimed.
  auto readdressed = m;
  readdressed.email = "new@example.com";
  readdressed.updated_at = m.updated_at + 1000;
  ASSERT_TRUE(s.update_user(readdressed));
  EXPECT_TRUE(s.confirm(3, e, fresh).empty());
  // Deleted: the record is cancelled and nothing is confirmed, whatever the version.
  auto any = fresh;
  any[0].version = 0;
  EXPECT_EQ(s.confirm(3, e, any).size(), 1u);
  ASSERT_TRUE(s.delete_user(u.id, ms("2026-12-07T00:00:00Z")));
  EXPECT_TRUE(s.confirm(3, e, any).empty());
}

TEST_F(Changes, UnfinishedListsClaimedAndRetryingRecordsOfLiveUsersUpToTheEpoch) {
  pg::store s{conninfo};
  auto e = s.acquire_lease(3, "n", seconds{60});
  std::vector<occurrence> os;
  for (int i = 1; i <= 3; ++i) {
    auto u = *s.create_user(make_user(i));
    os.push_back(occurrences_in(u, default_rules(), ms("2027-01-01T00:00:00Z"),
                                ms("2027-01-02T00:00:00Z"))[0]);
  }
  ASSERT_EQ(s.claim(3, e, os, 0).size(), 3u);
  auto later = ms("2027-01-01T10:00:00Z");
  ASSERT_EQ(s.record_outcomes(3, e,
                              {{os[1].key, status::retrying, "HTTP 503", later, 0},
                               {os[2].key, status::sent, "", 0, later}})
                .size(),
            2u);
  auto found = s.unfinished(3, e);
  ASSERT_EQ(found.size(), 2u);
  std::sort(found.begin(), found.end(),
            [](const occurrence& a, const occurrence& b) { return a.key < b.key; });
  for (const auto& o : found) {
    EXPECT_EQ(o.owner_epoch, e);
    if (o.key == os[0].key) {
      EXPECT_EQ(o.next_attempt_at, 0) << "claimed: due at once";
    }
    if (o.key == os[1].key) {
      EXPECT_EQ(o.next_attempt_at, later);
    }
  }
  EXPECT_TRUE(s.unfinished(3, e - 1).empty()) << "nothing from a later epoch";
}
