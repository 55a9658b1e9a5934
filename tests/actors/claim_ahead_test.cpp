// Claiming ahead (schedule.claim-ahead): the send record is written before
// the instant and the greeting leaves at the instant; an edit or a delete in
// between must never send the old version, send nothing, or send twice.
#include "fixture.hpp"

#include <set>

using namespace candle;
using namespace candle::test;
using namespace std::chrono;

namespace {

class ClaimAhead : public engine_fixture {
protected:
  ClaimAhead() { claim_ahead = seconds{30}; }

  std::string status_of(const std::string& key) const {
    auto it = db->records.find(key);
    return it == db->records.end() ? "none" : it->second.status;
  }
};

const std::string ada_2027 = "ada:birthday:2027";

} // namespace

TEST_F(ClaimAhead, ClaimsBeforeTheInstantAndSendsExactlyAtIt) {
  add_user("ada", "Europe/London", "1990-07-15"); // due 2027-07-15T08:00Z
  start_clock("2027-07-15T07:00:00Z");
  auto p = spawn_partition();
  advance(minutes{59} + seconds{29});
  EXPECT_EQ(status_of(ada_2027), "none") << "claimed more than 30 s ahead";
  advance(seconds{1});
  EXPECT_EQ(status_of(ada_2027), status::claimed) << "not claimed 30 s ahead";
  auto s = ask<partition_status>(p, atom::status::value);
  EXPECT_EQ(s.queued, 1u) << "a held greeting still counts as queued";
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.next_due, ms("2027-07-15T08:00:00Z"));
  advance(seconds{30} - milliseconds{1});
  EXPECT_TRUE(provider->sends.empty()) << "sent before its instant";
  advance(milliseconds{1});
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T08:00:00Z"));
  EXPECT_EQ(status_of(ada_2027), status::sent);
  advance(hours{72});
  EXPECT_EQ(provider->sends.size(), 1u) << "sent twice";
}

TEST_F(ClaimAhead, AnEditThatMovesTheInstantGivesTheClaimBackAndSendsOnceAtTheNewOne) {
  auto u = add_user("ada", "Europe/London", "1990-07-15");
  start_clock("2027-07-15T07:59:40Z");
  auto p = spawn_partition();
  ASSERT_EQ(status_of(ada_2027), status::claimed);
  u.timezone = "America/New_York"; // 09:00 EDT = 13:00Z
  u.updated_at += 1;
  db->users[u.id] = u;
  tell(p, atom::upsert::value, u);
  EXPECT_EQ(db->releases, 1);
  EXPECT_EQ(status_of(ada_2027), "none") << "the early claim was not given back";
  advance(minutes{1});
  EXPECT_TRUE(provider->sends.empty()) << "the old instant still fired";
  advance(hours{5} - seconds{40} - milliseconds{1}); // 12:59:59.999
  EXPECT_TRUE(provider->sends.empty());
  EXPECT_EQ(status_of(ada_2027), status::claimed) << "not claimed again ahead of 13:00";
  advance(milliseconds{1});
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T13:00:00Z"));
  advance(hours{24});
  EXPECT_EQ(provider->sends.size(), 1u);
}

TEST_F(ClaimAhead, AnEditToAnInstantAlreadyPassedSendsAtOnce) {
  auto u = add_user("ada", "Europe/London", "1990-07-15"); // 08:00Z
  start_clock("2027-07-15T07:59:40Z");
  auto p = spawn_partition();
  u.timezone = "Asia/Tokyo"; // 09:00 JST = 00:00Z: passed, within the recovery window
  u.updated_at += 1;
  db->users[u.id] = u;
  tell(p, atom::upsert::value, u);
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T07:59:40Z"));
  advance(hours{24});
  EXPECT_EQ(provider->sends.size(), 1u);
}

TEST_F(ClaimAhead, AnEditThatKeepsTheInstantKeepsTheClaimAndSendsTheNewAddress) {
  auto u = add_user("ada", "Europe/London", "1990-07-15");
  start_clock("2027-07-15T07:59:40Z");
  auto p = spawn_partition();
  u.email = "ada@new.example.com";
  u.updated_at += 1;
  db->users[u.id] = u;
  tell(p, atom::upsert::value, u);
  EXPECT_EQ(db->releases, 0);
  advance(seconds{20});
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].email, "ada@new.example.com");
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T08:00:00Z"));
}

TEST_F(ClaimAhead, ADeleteAfterTheClaimSendsNothing) {
  add_user("ada", "Europe/London", "1990-07-15");
  start_clock("2027-07-15T07:59:40Z");
  auto p = spawn_partition();
  ASSERT_EQ(status_of(ada_2027), status::claimed);
  // What the REST delete does in one transaction: the user and the claim.
  db->users["ada"].deleted_at = ms("2027-07-15T07:59:50Z");
  db->records.at(ada_2027).status = status::cancelled;
  tell(p, atom::remove::value, std::string{"ada"});
  advance(hours{1});
  EXPECT_TRUE(provider->sends.empty());
  EXPECT_EQ(status_of(ada_2027), status::cancelled);
  auto s = ask<partition_status>(p, atom::status::value);
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(s.in_flight, 0u);
}

TEST_F(ClaimAhead, ACrashWhileHeldSendsOnceAtTheInstant) {
  for (int i = 0; i < 20; ++i)
    add_user("u" + std::to_string(i), "UTC", "1990-07-15"); // 09:00Z
  start_clock("2027-07-15T08:59:40Z");
  auto first = spawn_partition();
  for (const auto& [k, r] : db->records)
    ASSERT_EQ(r.status, status::claimed);
  ASSERT_EQ(db->records.size(), 20u);
  caf::anon_send_exit(first, caf::exit_reason::kill);
  sched.run();
  spawn_partition(); // a new epoch resumes the claims of the old one
  advance(seconds{20} - milliseconds{1});
  EXPECT_TRUE(provider->sends.empty()) << "a resumed claim was sent before its instant";
  advance(milliseconds{1});
  EXPECT_EQ(provider->sends.size(), 20u);
  std::set<std::string> keys;
  for (const auto& s : provider->sends) {
    keys.insert(s.key);
    EXPECT_EQ(s.at, ms("2027-07-15T09:00:00Z"));
  }
  EXPECT_EQ(keys.size(), 20u) << "a greeting was sent twice";
  for (const auto& [k, r] : db->records)
    EXPECT_EQ(r.status, status::sent) << k;
}

TEST_F(ClaimAhead, ARetryIsReclaimedAheadAndGivenBackWithItsAttemptsWhenMoved) {
  auto u = add_user("ada", "Europe/London", "1990-07-15"); // 08:00Z
  provider->script[ada_2027] = {attempt::transient};
  start_clock("2027-07-15T07:59:40Z");
  auto p = spawn_partition();
  advance(seconds{20}); // the first attempt fails at 08:00
  EXPECT_TRUE(provider->sends.empty());
  // The retry, due about a second later, is reclaimed ahead at once and held.
  ASSERT_EQ(status_of(ada_2027), status::claimed);
  EXPECT_EQ(db->records.at(ada_2027).attempts, 1);
  u.timezone = "America/New_York"; // moves this year's greeting to 13:00Z
  u.updated_at += 1;
  db->users[u.id] = u;
  tell(p, atom::upsert::value, u);
  EXPECT_EQ(status_of(ada_2027), status::retrying) << "a released retry lost its record";
  EXPECT_EQ(db->records.at(ada_2027).attempts, 1);
  advance(hours{5}); // to 13:00
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T13:00:00Z"));
  EXPECT_EQ(status_of(ada_2027), status::sent);
  EXPECT_EQ(db->records.at(ada_2027).attempts, 2);
  advance(hours{24});
  EXPECT_EQ(provider->sends.size(), 1u);
}
