// Memory converges to the database (docs/cluster.md, "Acknowledged writes"):
// a partition that hears of a write by no message at all still greets
// created users, never greets deleted ones and greets moved ones at their
// new instant; work nobody holds is found by the sweep. Every scenario here
// loses the CAF message that would have told the partition.
#include "core/metrics.hpp"
#include "fixture.hpp"

using namespace candle;
using namespace candle::test;
using namespace std::chrono;

namespace {

class Convergence : public engine_fixture {
protected:
  /// A user written as a committed transaction (read by the change feed,
  /// with a version the claims check).
  user written(std::string id, std::string zone, std::string birthday) {
    return db->write(add_user(std::move(id), std::move(zone), std::move(birthday)));
  }
  std::string status_of(const std::string& key) const {
    auto it = db->records.find(key);
    return it == db->records.end() ? "none" : it->second.status;
  }
  /// What a delete commits: the row soft-deleted, pending records cancelled.
  void delete_behind_its_back(const std::string& id) {
    auto u = db->users.at(id);
    u.deleted_at = ms("2027-07-15T00:00:00Z");
    db->write(u);
    for (auto& [k, r] : db->records)
      if (r.user_id == id && (r.status == status::claimed || r.status == status::retrying))
        r.status = status::cancelled;
  }
};

const std::string ada_2027 = "ada:birthday:2027";

} // namespace

TEST_F(Convergence, AUserCreatedWithNoMessageIsGreetedOnceFromTheFeed) {
  start_clock("2027-07-15T08:00:00Z");
  auto p = spawn_partition();
  written("ada", "UTC", "1990-07-15"); // 09:00Z; the REST tell was lost
  advance(hours{2});
  EXPECT_TRUE(provider->sends.empty()) << "nothing read it yet";
  written("bob", "UTC", "1990-07-15");
  tell(p, atom::changes::value); // a notification, or the node's poll
  advance(hours{1});
  ASSERT_EQ(provider->sends.size(), 2u) << "within the recovery window: both sent";
  EXPECT_EQ(provider->count(ada_2027), 1u);
  tell(p, atom::changes::value);
  advance(hours{24});
  EXPECT_EQ(provider->sends.size(), 2u) << "a write read twice is greeted once";
}

TEST_F(Convergence, NotificationsWithinTheGapAreFoldedIntoOneRead) {
  start_clock("2027-07-15T08:00:00Z");
  auto p = spawn_partition();
  auto before = db->changes_reads;
  tell(p, atom::changes::value);
  for (int i = 0; i < 20; ++i)
    tell(p, atom::changes::value);
  EXPECT_EQ(db->changes_reads, before + 1) << "one read, the rest wait for the gap";
  advance(seconds{1});
  EXPECT_EQ(db->changes_reads, before + 2) << "the folded asks: one more read";
  advance(seconds{10});
  EXPECT_EQ(db->changes_reads, before + 2) << "and nothing more without an ask";
}

TEST_F(Convergence, ADeleteHeardOnlyFromTheFeedIsNeverGreeted) {
  written("ada", "UTC", "1990-07-15");
  start_clock("2027-07-15T08:00:00Z");
  auto p = spawn_partition();
  delete_behind_its_back("ada");
  tell(p, atom::changes::value);
  advance(hours{2});
  EXPECT_TRUE(provider->sends.empty());
  EXPECT_EQ(status_of(ada_2027), "none");
}

TEST_F(Convergence, AMovedUserIsNotClaimedAtTheOldInstantAndIsGreetedAtTheNewOne) {
  auto u = written("ada", "Europe/London", "1990-07-15"); // 08:00Z
  start_clock("2027-07-15T07:00:00Z");
  auto p = spawn_partition();
  u.timezone = "America/New_York"; // 13:00Z, and no message, no notification
  db->write(u);
  advance(hours{1});
  EXPECT_TRUE(provider->sends.empty()) << "greeted at the old zone's 09:00";
  EXPECT_EQ(status_of(ada_2027), "none") << "the stale claim was refused";
  tell(p, atom::changes::value); // the poll
  advance(hours{5} - milliseconds{1});
  EXPECT_TRUE(provider->sends.empty());
  advance(milliseconds{1});
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T13:00:00Z"));
}

TEST_F(Convergence, AMoveReadWhileTheOldClaimIsInFlightIsScheduledAfterItsAnswer) {
  auto u = written("ada", "Europe/London", "1990-07-15"); // 08:00Z
  start_clock("2027-07-15T07:59:59Z");
  auto p = spawn_partition();
  u.timezone = "America/New_York";
  db->write(u);
  // The claim and the feed's read go out in the same step: the claim is
  // refused (the row moved), and the read's user found that key busy.
  sched.advance_time(seconds{1});
  caf::anon_send(p, atom::changes::value);
  sched.run();
  EXPECT_TRUE(provider->sends.empty());
  advance(hours{5});
  ASSERT_EQ(provider->sends.size(), 1u) << "the newer row was dropped with the refused claim";
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T13:00:00Z"));
}

class ConvergenceAhead : public Convergence {
protected:
  ConvergenceAhead() { claim_ahead = seconds{30}; }
};

TEST_F(ConvergenceAhead, AClaimTakenAheadIsNotSentForAUserDeletedBehindItsBack) {
  written("ada", "UTC", "1990-07-15"); // 09:00Z
  start_clock("2027-07-15T08:59:40Z");
  auto p = spawn_partition();
  ASSERT_EQ(status_of(ada_2027), status::claimed) << "claimed ahead";
  delete_behind_its_back("ada"); // no message, no notification
  advance(seconds{20});
  EXPECT_TRUE(provider->sends.empty()) << "greeted after the delete was committed";
  EXPECT_EQ(status_of(ada_2027), status::cancelled);
  auto s = ask<partition_status>(p, atom::status::value);
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(s.in_flight, 0u);
}

TEST_F(ConvergenceAhead, AClaimTakenAheadOfAMovedUserIsGivenBackAndSentAtTheNewInstant) {
  auto u = written("ada", "UTC", "1990-07-15"); // 09:00Z
  start_clock("2027-07-15T08:59:40Z");
  auto p = spawn_partition();
  ASSERT_EQ(status_of(ada_2027), status::claimed);
  u.timezone = "Etc/GMT+1"; // 10:00Z
  db->write(u);
  advance(seconds{20});
  EXPECT_TRUE(provider->sends.empty()) << "greeted at the old instant";
  advance(hours{1});
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T10:00:00Z"));
}

TEST_F(ConvergenceAhead, ANewAddressKeepsTheClaimAndIsUsedAtTheSameInstant) {
  auto u = written("ada", "UTC", "1990-07-15"); // 09:00Z
  start_clock("2027-07-15T08:59:40Z");
  auto p = spawn_partition();
  u.email = "ada.new@example.com";
  db->write(u);
  advance(seconds{20});
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T09:00:00Z"));
  EXPECT_EQ(provider->sends[0].email, "ada.new@example.com");
}

TEST_F(Convergence, TheSweepSendsAClaimNobodyHoldsOnceAndCountsTheRepair) {
  add_user("ada", "UTC", "1990-07-15"); // 09:00Z
  start_clock("2027-07-15T09:00:10Z");
  auto p = spawn_partition();
  ASSERT_EQ(provider->count(ada_2027), 1u);
  // A claim whose answer was lost: claimed at this epoch, in no queue.
  add_user("bob", "UTC", "1990-07-15");
  auto bob = occurrences_in(db->users.at("bob"), db->rules, ms("2027-07-15T00:00:00Z"),
                            ms("2027-07-16T00:00:00Z"))[0];
  send_record r;
  r.key = bob.key;
  r.user_id = "bob";
  r.occasion = "birthday";
  r.year = 2027;
  r.due_at = bob.due_at;
  r.status = status::claimed;
  r.owner_epoch = db->epoch;
  db->records[bob.key] = r;
  auto& repairs = metrics::global().reconcile_repairs;
  auto before = repairs.value({"claimed"});
  tell(p, atom::changes::value);
  EXPECT_EQ(provider->count(bob.key), 0u) << "swept before its time";
  advance(seconds{61});
  tell(p, atom::changes::value);
  advance(seconds{1});
  EXPECT_EQ(provider->count(bob.key), 1u);
  EXPECT_EQ(status_of(bob.key), status::sent);
  EXPECT_EQ(repairs.value({"claimed"}), before + 1);
  advance(seconds{61});
  tell(p, atom::changes::value);
  advance(seconds{61});
  tell(p, atom::changes::value);
  EXPECT_EQ(provider->sends.size(), 2u) << "sent twice";
  EXPECT_EQ(repairs.value({"claimed"}), before + 1) << "a healthy partition repairs nothing";
}

TEST_F(Convergence, TheSweepLeavesWhatIsInFlightAlone) {
  add_user("ada", "UTC", "1990-07-15");
  start_clock("2027-07-15T08:59:59Z");
  auto p = spawn_partition();
  provider->hold = true; // on the wire, unanswered
  advance(seconds{61});
  ASSERT_EQ(provider->held.size(), 1u);
  auto before = metrics::global().reconcile_repairs.sum(0, "claimed");
  tell(p, atom::changes::value);
  EXPECT_EQ(metrics::global().reconcile_repairs.sum(0, "claimed"), before);
  EXPECT_EQ(provider->held_batches.size(), 1u) << "sent again while in flight";
}

TEST_F(Convergence, AWriteToAPartitionHandingOffIsNotAcceptedAsReached) {
  add_user("now", "UTC", "1990-07-15");
  start_clock("2027-07-15T08:59:59Z");
  auto p = spawn_partition();
  provider->hold = true;
  advance(seconds{1});
  ASSERT_EQ(provider->held.size(), 1u);
  caf::scoped_actor self{sys};
  [[maybe_unused]] auto handle = self->request(p, caf::infinite, atom::handoff::value);
  sched.run();
  EXPECT_FALSE(ask<bool>(p, atom::upsert::value, add_user("new", "UTC", "1990-07-16")))
      << "a draining partition cannot schedule it: the router must look again";
  EXPECT_FALSE(ask<bool>(p, atom::remove::value, std::string{"now"}));
}

TEST_F(Convergence, TheAuditNamesWhatNoQueueHoldsUntilTheFeedOrTheSweepTakesItIn) {
  start_clock("2027-07-15T09:00:00Z");
  auto p = spawn_partition();
  // Due an hour ago, unheard of: written after the partition loaded.
  written("ada", "UTC", "1990-07-15");
  auto ada = occurrences_in(db->users.at("ada"), db->rules, ms("2027-07-15T00:00:00Z"),
                            ms("2027-07-16T00:00:00Z"))[0];
  provider->hold = true; // what is taken in stays in flight: known, not reported
  auto r = ask<audit_report>(p, atom::audit::value);
  ASSERT_EQ(r.audited, std::vector<int32_t>{0});
  EXPECT_EQ(r.unscheduled, std::vector<std::string>{ada.key});
  EXPECT_TRUE(r.unowned.empty());
  tell(p, atom::changes::value);
  r = ask<audit_report>(p, atom::audit::value);
  EXPECT_TRUE(r.unscheduled.empty()) << "in flight after the feed read it";
  EXPECT_TRUE(r.unowned.empty());
}

namespace {

// The record of `id`'s birthday in `st` (`dead` to start with; what a
// redrive commits, store::redrive: `retrying`, attempts 0, due again at
// `now`). Returns what the redrive's tell carries.
occurrence record_behind_its_back(fake_db_state& db, const std::string& id, int64_t now,
                                  const char* st = status::retrying) {
  auto o = occurrences_in(db.users.at(id), db.rules, ms("2027-07-14T00:00:00Z"),
                          ms("2027-07-15T00:00:00Z"))[0];
  send_record r;
  r.key = o.key;
  r.user_id = id;
  r.occasion = "birthday";
  r.year = 2027;
  r.due_at = o.due_at;
  r.status = st;
  r.next_attempt_at = now;
  db.records[o.key] = r;
  o.next_attempt_at = now;
  return o;
}

} // namespace

TEST_F(Convergence, ARedriveHeardOnlyFromItsNotificationIsSentOnceAfterTheGrace) {
  add_user("ada", "UTC", "1990-07-14"); // yesterday's, dead: the partition holds nothing of it
  record_behind_its_back(*db, "ada", 0, status::dead);
  start_clock("2027-07-15T12:00:00Z");
  auto p = spawn_partition();
  ASSERT_TRUE(provider->sends.empty());
  auto o = record_behind_its_back(*db, "ada", ms("2027-07-15T12:00:00Z"));
  auto& repairs = metrics::global().reconcile_repairs;
  auto before = repairs.value({"retrying"});
  tell(p, atom::sweep::value); // the notification; the tell over CAF was lost
  tell(p, atom::sweep::value); // a second redrive within the grace: one sweep
  advance(milliseconds{900});
  EXPECT_EQ(provider->count(o.key), 0u) << "swept within the grace its tell has";
  advance(milliseconds{200});
  EXPECT_EQ(provider->count(o.key), 1u) << "the redrive was not taken in";
  EXPECT_EQ(status_of(o.key), status::sent);
  EXPECT_EQ(repairs.value({"retrying"}), before + 1) << "a lost tell is a repair";
  tell(p, atom::sweep::value);
  advance(seconds{2});
  EXPECT_EQ(provider->count(o.key), 1u) << "sent twice";
}

TEST_F(Convergence, ARedriveToldInTimeIsSentOnceAndNotCountedAsARepair) {
  add_user("ada", "UTC", "1990-07-14");
  record_behind_its_back(*db, "ada", 0, status::dead);
  start_clock("2027-07-15T12:00:00Z");
  auto p = spawn_partition();
  auto o = record_behind_its_back(*db, "ada", ms("2027-07-15T12:00:00Z"));
  auto& repairs = metrics::global().reconcile_repairs;
  auto before = repairs.value({"retrying"});
  provider->hold = true; // still on the wire when the sweep reads
  tell(p, atom::sweep::value);
  EXPECT_TRUE(ask<bool>(p, atom::resume::value, o));
  advance(seconds{2});
  EXPECT_EQ(provider->held.size(), 1u);
  EXPECT_EQ(repairs.value({"retrying"}), before) << "the told redrive counted as a repair";
}

TEST_F(Convergence, ASweepAskedWhileOneIsInFlightRunsAgainAfterIt) {
  add_user("ada", "UTC", "1990-07-14");
  record_behind_its_back(*db, "ada", 0, status::dead);
  start_clock("2027-07-15T12:00:00Z");
  auto p = spawn_partition();
  db->hold_sweeps = true; // the next sweep's answer waits
  advance(seconds{61});
  tell(p, atom::changes::value); // the minute's sweep reads, before the redrive commits
  auto o = record_behind_its_back(*db, "ada", ms("2027-07-15T12:01:01Z"));
  tell(p, atom::sweep::value);
  advance(seconds{2}); // the grace passed while the first sweep is in flight
  EXPECT_EQ(provider->count(o.key), 0u);
  db->hold_sweeps = false;
  caf::anon_send(db_handle, atom::ping::value); // the first answers without the record
  sched.run();
  advance(seconds{1});
  EXPECT_EQ(provider->count(o.key), 1u) << "the sweep asked meanwhile did not run";
}
