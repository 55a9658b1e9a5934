// The PARTITION actor on CAF's deterministic test coordinator: simulated
// time, every message run on this thread, fakes for the database and the
// provider. Reads like a protocol trace: advance time, check what was sent.
#include "fixture.hpp"

using namespace candle;
using namespace candle::test;
using namespace std::chrono;

class Partition : public engine_fixture {
protected:
  /// A partition 11 s into 15 Jul 2027 08:59:50Z: user "early" (09:00Z) has
  /// been sent, "late" is due a day later.
  partition_actor early_sent_late_tomorrow() {
    add_user("early", "UTC", "1990-07-15");
    add_user("late", "UTC", "1990-07-16");
    start_clock("2027-07-15T08:59:50Z");
    auto p = spawn_partition();
    advance(seconds{11});
    return p;
  }
};

TEST_F(Partition, FiresAtItsInstantAndNotATickBefore) {
  add_user("ada", "Europe/London", "1990-07-15"); // due 2027-07-15T08:00Z (09:00 BST)
  start_clock("2027-07-15T07:00:00Z");
  auto p = spawn_partition();
  advance(hours{1} - milliseconds{1});
  tell(p, atom::tick::value); // any other wake-up one tick before must not send it
  EXPECT_TRUE(provider->sends.empty()) << "sent early";
  advance(milliseconds{1});
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].key, "ada:birthday:2027");
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T08:00:00Z"));
  EXPECT_EQ(db->records.at("ada:birthday:2027").status, status::sent);
  advance(hours{72});
  EXPECT_EQ(provider->sends.size(), 1u) << "sent twice";
}

TEST_F(Partition, AnUpdateMovesTheEntry) {
  auto u = add_user("ada", "Europe/London", "1990-07-15");
  start_clock("2027-07-15T07:00:00Z");
  auto p = spawn_partition();
  u.timezone = "America/New_York"; // 09:00 EDT = 13:00Z
  db->users[u.id] = u;
  tell(p, atom::upsert::value, u);
  advance(hours{1});
  EXPECT_TRUE(provider->sends.empty()) << "the old instant still fired";
  advance(hours{5} - milliseconds{1});
  EXPECT_TRUE(provider->sends.empty());
  advance(milliseconds{1});
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T13:00:00Z"));
}

TEST_F(Partition, AnUpdateWhoseNewInstantPassedSendsAtOnceButNeverTwice) {
  auto u = add_user("ada", "America/New_York", "1990-07-15"); // 13:00Z
  start_clock("2027-07-15T10:00:00Z");
  auto p = spawn_partition();
  u.timezone = "Europe/London"; // 08:00Z: already passed, nothing sent this year
  db->users[u.id] = u;
  tell(p, atom::upsert::value, u);
  ASSERT_EQ(provider->sends.size(), 1u) << "not sent at once";
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T10:00:00Z"));
  u.timezone = "America/Los_Angeles"; // 16:00Z, but this year's greeting was sent
  db->users[u.id] = u;
  tell(p, atom::upsert::value, u);
  advance(hours{12});
  EXPECT_EQ(provider->sends.size(), 1u);
}

TEST_F(Partition, ALateNotificationOfAnOlderVersionIsIgnored) {
  auto u = add_user("ada", "Europe/London", "1990-07-15"); // 08:00Z
  start_clock("2027-07-15T07:00:00Z");
  auto p = spawn_partition();
  auto older = u, newer = u;
  older.timezone = "Asia/Tokyo"; // would have passed: not eligible this year
  older.updated_at = u.updated_at + 1;
  newer.timezone = "America/New_York"; // 13:00Z
  newer.updated_at = u.updated_at + 2;
  db->users[u.id] = newer;
  tell(p, atom::upsert::value, newer);
  tell(p, atom::upsert::value, older); // arrives late
  advance(hours{6});
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].at, ms("2027-07-15T13:00:00Z")) << "the older version won";
}

TEST_F(Partition, ADeleteCancels) {
  add_user("ada", "Europe/London", "1990-07-15");
  start_clock("2027-07-15T07:00:00Z");
  auto p = spawn_partition();
  db->users["ada"].deleted_at = ms("2027-07-15T07:30:00Z");
  tell(p, atom::remove::value, std::string{"ada"});
  advance(hours{2});
  EXPECT_TRUE(provider->sends.empty());
  EXPECT_EQ(db->records.count("ada:birthday:2027"), 0u);
}

TEST_F(Partition, AJumpOfTheClockByADaySendsTheDaysGreetingsOnce) {
  // Frozen at midnight UTC; birthdays on 15 Jul all over the world.
  const char* zones[] = {"Pacific/Kiritimati", "Asia/Kathmandu",    "Europe/London",
                         "America/New_York",   "Pacific/Pago_Pago", "Pacific/Chatham"};
  int i = 0;
  for (auto z : zones)
    add_user("u" + std::to_string(i++), z, "1990-07-16");
  start_clock("2027-07-15T12:00:00Z", 0.0);
  auto p = spawn_partition();
  advance(hours{100});
  EXPECT_TRUE(provider->sends.empty()) << "a frozen clock moved";
  auto moved =
      clock->set(*parse_instant("2027-07-17T12:00:00Z"), std::nullopt, sched.clock().now());
  ASSERT_TRUE(moved);
  tell(p, atom::tick::value);
  EXPECT_EQ(provider->sends.size(), 6u);
  std::set<std::string> keys;
  for (const auto& s : provider->sends)
    keys.insert(s.key);
  EXPECT_EQ(keys.size(), 6u) << "a greeting was sent twice";
  tell(p, atom::tick::value);
  advance(hours{1});
  EXPECT_EQ(provider->sends.size(), 6u);
  for (const auto& [k, r] : db->records)
    EXPECT_EQ(r.status, status::sent) << k;
}

TEST_F(Partition, MissesBeyondTheRecoveryWindowAreExpiredNotSent) {
  add_user("old", "UTC", "1990-07-10");   // due 2027-07-10T09:00Z
  add_user("fresh", "UTC", "1990-07-14"); // due 2027-07-14T09:00Z
  start_clock("2027-07-09T00:00:00Z", 0.0);
  auto p = spawn_partition();
  // Jump six days: 10 Jul is 6 days late (beyond 48 h), 14 Jul 2 days late.
  ASSERT_TRUE(
      clock->set(*parse_instant("2027-07-15T09:00:00Z"), std::nullopt, sched.clock().now()));
  tell(p, atom::tick::value);
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].key, "fresh:birthday:2027");
  EXPECT_EQ(db->records.at("old:birthday:2027").status, status::expired);
  EXPECT_NE(db->records.at("old:birthday:2027").last_error.find("recovery window"),
            std::string::npos);
}

TEST_F(Partition, TransientFailuresRetryWithBackoffThenSucceed) {
  add_user("ada", "UTC", "1990-07-15");
  provider->script["ada:birthday:2027"] = {attempt::transient, attempt::transient};
  start_clock("2027-07-15T08:59:00Z");
  spawn_partition();
  advance(minutes{1});
  EXPECT_TRUE(provider->sends.empty());
  EXPECT_EQ(db->records.at("ada:birthday:2027").status, status::retrying);
  EXPECT_EQ(db->records.at("ada:birthday:2027").attempts, 1);
  // First retry within [0.5 s, 1 s], second within [1 s, 2 s] after that.
  advance(milliseconds{1000});
  EXPECT_EQ(db->records.at("ada:birthday:2027").attempts, 2);
  advance(milliseconds{2000});
  ASSERT_EQ(provider->sends.size(), 1u);
  auto& r = db->records.at("ada:birthday:2027");
  EXPECT_EQ(r.status, status::sent);
  EXPECT_EQ(r.attempts, 3);
}

TEST_F(Partition, PermanentFailureOrExhaustedAttemptsEndDead) {
  add_user("bad", "UTC", "1990-07-15");
  add_user("flaky", "UTC", "1990-07-15");
  provider->script["bad:birthday:2027"] = {attempt::permanent};
  provider->script["flaky:birthday:2027"] = {attempt::transient, attempt::transient,
                                             attempt::transient, attempt::transient,
                                             attempt::transient};
  start_clock("2027-07-15T09:00:00Z");
  spawn_partition();
  // Drive time in steps: each retry's timer is armed when the previous try ends.
  for (int i = 0; i < 30; ++i)
    advance(seconds{1});
  EXPECT_EQ(db->records.at("bad:birthday:2027").status, status::dead);
  EXPECT_EQ(db->records.at("bad:birthday:2027").attempts, 1);
  EXPECT_EQ(db->records.at("flaky:birthday:2027").status, status::dead);
  EXPECT_EQ(db->records.at("flaky:birthday:2027").attempts, 4); // max_attempts
  EXPECT_TRUE(provider->sends.empty());
}

TEST_F(Partition, ABurstIsCheckedInBatchesAndEachGreetingWrittenOnce) {
  for (int i = 0; i < 2500; ++i)
    add_user("u" + std::to_string(i), "UTC", "1990-07-15");
  start_clock("2027-07-15T08:00:00Z");
  spawn_partition();
  advance(hours{1});
  EXPECT_EQ(provider->sends.size(), 2500u);
  EXPECT_EQ(db->checks, 3) << "expected 3 check statements of up to 1000";
  EXPECT_EQ(db->claims, 0) << "claimed: a second write per greeting";
  ASSERT_EQ(db->records.size(), 2500u);
  for (const auto& [k, r] : db->records) {
    EXPECT_EQ(r.status, status::sent) << k;
    EXPECT_EQ(r.attempts, 1) << k;
  }
}

TEST_F(Partition, AGreetingWhoseOutcomeIsBeingWrittenIsNotScheduledAgain) {
  // Sent without a claim, a greeting has no record until its outcome's row
  // commits: meanwhile an edit of its user, a refill of the window and a
  // sweep must not take it for unscheduled.
  auto u = add_user("ada", "UTC", "1990-07-15");
  start_clock("2027-07-15T08:59:59Z");
  db->hold_records = true;
  auto p = spawn_partition();
  advance(seconds{1});
  ASSERT_EQ(provider->sends.size(), 1u);
  ASSERT_EQ(db->held_records.size(), 1u);
  EXPECT_TRUE(db->records.empty());
  u.last_name = "Lovelace-King"; // a name change keeps the instant
  tell(p, atom::upsert::value, db->write(u));
  tell(p, atom::changes::value);
  advance(hours{30}); // refills past the window's half, sweeps
  EXPECT_EQ(provider->sends.size(), 1u) << "sent again while its outcome was being written";
  auto st = ask<partition_status>(p, atom::status::value);
  EXPECT_EQ(st.in_flight, 1u);
  db->hold_records = false;
  caf::anon_send(db_handle, atom::ping::value);
  sched.run();
  advance(seconds{1});
  EXPECT_EQ(db->records.at("ada:birthday:2027").status, status::sent);
  EXPECT_EQ(ask<partition_status>(p, atom::status::value).in_flight, 0u);
  advance(hours{24});
  EXPECT_EQ(provider->sends.size(), 1u);
}

TEST_F(Partition, TheHorizonWaitsForACheckedGreetingsRowEvenWhenItsRetryIsQueued) {
  // A checked greeting's first attempt failed: its retry is queued at its
  // next attempt while its `retrying` row is still being written. The
  // horizon ("everything due before it has a record") must not pass it,
  // or a next owner starting after the recovery window would neither send
  // nor expire it.
  add_user("ada", "UTC", "1990-07-15");
  provider->script["ada:birthday:2027"] = {attempt::transient};
  start_clock("2027-07-15T08:59:59Z");
  db->hold_records = true;
  auto p = spawn_partition();
  advance(minutes{5});
  tell(p, atom::tick::value); // a wake-up: the horizon is written if it moved
  EXPECT_LE(db->horizon, ms("2027-07-15T09:00:00Z")) << "the horizon passed an unwritten row";
  db->hold_records = false;
  caf::anon_send(db_handle, atom::ping::value);
  sched.run();
  // (The fake answered the retry's reclaim before the held row existed,
  // which the real worker's per-partition order rules out: the sweep
  // finds the `retrying` row and finishes it.)
  tell(p, atom::changes::value);
  advance(minutes{5});
  EXPECT_EQ(db->records.at("ada:birthday:2027").status, status::sent);
  EXPECT_GT(db->horizon, ms("2027-07-15T09:00:00Z"));
}

TEST_F(Partition, ClaimAheadWritesTheClaimThenTheOutcome) {
  // schedule.claim-ahead above 0: the older path, a claim row written ahead
  // and updated by the outcome.
  claim_ahead = seconds{30};
  for (int i = 0; i < 10; ++i)
    add_user("u" + std::to_string(i), "UTC", "1990-07-15");
  start_clock("2027-07-15T08:59:00Z");
  spawn_partition();
  advance(seconds{45});
  EXPECT_EQ(db->claims, 1);
  EXPECT_EQ(db->checks, 0);
  EXPECT_EQ(db->records.at("u0:birthday:2027").status, status::claimed);
  advance(seconds{15});
  EXPECT_EQ(provider->sends.size(), 10u);
  EXPECT_EQ(db->records.at("u0:birthday:2027").status, status::sent);
}

TEST_F(Partition, ACrashMidBatchLosesNothingAndSendsNothingTwice) {
  for (int i = 0; i < 50; ++i)
    add_user("u" + std::to_string(i), "UTC", "1990-07-15");
  start_clock("2027-07-15T08:59:00Z");
  provider->hold = true; // the provider never answers this batch
  auto first = spawn_partition();
  advance(minutes{1});
  ASSERT_EQ(provider->held.size(), 1u);
  EXPECT_TRUE(db->records.empty()) << "checked, not claimed: no row before the outcome";
  // The partition dies mid-batch; its in-flight requests never reached the
  // provider. A new incarnation takes the lease (a new epoch) and resumes.
  caf::anon_send_exit(first, caf::exit_reason::kill);
  sched.run();
  provider->hold = false;
  provider->held.clear();
  provider->held_batches.clear();
  spawn_partition();
  advance(seconds{1});
  EXPECT_EQ(provider->sends.size(), 50u);
  std::set<std::string> keys;
  for (const auto& s : provider->sends)
    keys.insert(s.key);
  EXPECT_EQ(keys.size(), 50u) << "a greeting was sent twice";
  for (const auto& [k, r] : db->records)
    EXPECT_EQ(r.status, status::sent) << k;
}

TEST_F(Partition, RestartAfterTheProviderAnsweredResendsOnlyWithTheSameKey) {
  add_user("ada", "UTC", "1990-07-15");
  start_clock("2027-07-15T09:00:00Z", 0.0);
  auto first = spawn_partition();
  ASSERT_EQ(provider->sends.size(), 1u);
  // Simulate a crash between the provider's answer and the outcome's row:
  // the greeting has no record, as if the write never landed.
  db->records.erase("ada:birthday:2027");
  caf::anon_send_exit(first, caf::exit_reason::kill);
  sched.run();
  spawn_partition();
  advance(milliseconds{1});
  // The only case the provider may see a key twice: same Idempotency-Key.
  EXPECT_EQ(provider->count("ada:birthday:2027"), 2u);
  EXPECT_EQ(db->records.at("ada:birthday:2027").status, status::sent);
}

TEST_F(Partition, StatusReportsTheSchedule) {
  add_user("ada", "UTC", "1990-07-16");
  start_clock("2027-07-15T09:00:00Z");
  auto p = spawn_partition();
  auto s = ask<partition_status>(p, atom::status::value);
  EXPECT_EQ(s.epoch, 1);
  EXPECT_EQ(s.queued, 1u);
  EXPECT_EQ(s.next_due, ms("2027-07-16T09:00:00Z"));
  EXPECT_EQ(s.window_end, ms("2027-07-17T09:00:00Z"));
}

TEST_F(Partition, ALeaseHeldElsewhereEndsThePartitionWithoutSending) {
  add_user("ada", "UTC", "1990-07-15");
  db->holder = "another-node";
  start_clock("2027-07-15T08:59:00Z");
  auto p = spawn_partition();
  advance(minutes{2});
  EXPECT_TRUE(provider->sends.empty()) << "sent without the lease";
  EXPECT_EQ(db->epoch, 0);
  EXPECT_TRUE(ended(p)) << "waited instead of leaving the decision to the node";
  db->holder.clear(); // the other node's lease expired: the node starts a new one
  spawn_partition();
  EXPECT_EQ(db->epoch, 1);
  ASSERT_EQ(provider->sends.size(), 1u) << "the missed greeting was not sent late";
  EXPECT_EQ(provider->sends[0].key, "ada:birthday:2027");
}

TEST_F(Partition, WithoutRenewalsItSendsNothingOnceTheLeaseMayHaveExpired) {
  auto p = early_sent_late_tomorrow();
  ASSERT_EQ(provider->sends.size(), 1u);
  // From here the database stops answering renewals (a network partition, or
  // this process paused past its lease). The lease ran from the start of the
  // last successful renewal; the partition gives up before it may expire.
  db->renew_fails = true;
  advance(seconds{30});
  EXPECT_FALSE(fences->may_send(0, db->epoch, sched.clock().now()))
      << "the deadline did not run out without renewals";
  advance(hours{25});
  EXPECT_EQ(provider->sends.size(), 1u) << "sent after the lease may have expired";
  EXPECT_TRUE(ended(p)) << "came due, and went on believing it owns";
}

TEST_F(Partition, ALeaseTheKeeperFindsLostEndsThePartitionAtOnce) {
  auto p = early_sent_late_tomorrow();
  ASSERT_EQ(provider->sends.size(), 1u);
  advance(seconds{40}); // renewed past its first TTL by the keeper
  EXPECT_FALSE(ended(p));
  EXPECT_TRUE(fences->may_send(0, db->epoch, sched.clock().now()));
  auto mine = db->epoch;
  ++db->epoch; // another node took the lease (this one was paused, say)
  advance(seconds{lease_ttl / 3 + 1});
  EXPECT_TRUE(ended(p)) << "the keeper's next round did not end it";
  EXPECT_FALSE(fences->may_send(0, mine, sched.clock().now())) << "the slot stayed open";
  advance(hours{25});
  EXPECT_EQ(provider->sends.size(), 1u) << "sent after losing the lease";
}

TEST_F(Partition, AHandOffRecordsWhatIsInFlightThenReleasesTheLeaseAndSendsNothingMore) {
  add_user("now", "UTC", "1990-07-15");        // 09:00Z
  add_user("soon", "Etc/GMT+1", "1990-07-15"); // 10:00Z, answered late
  add_user("later", "UTC", "1990-07-16");      // a day later: for the next owner
  start_clock("2027-07-15T08:59:59Z");
  auto p = spawn_partition();
  advance(seconds{1});
  ASSERT_EQ(db->records.at("now:birthday:2027").status, status::sent);
  provider->hold = true; // the next batch is on the wire until we answer it
  advance(hours{1});
  ASSERT_EQ(provider->held.size(), 1u);
  caf::scoped_actor self{sys};
  auto handle = self->request(p, caf::infinite, atom::handoff::value);
  advance(seconds{2});
  EXPECT_FALSE(db->released) << "released while a greeting was in flight";
  provider->hold = false; // the provider answers late: sent
  provider->answer_held = true;
  caf::anon_send(delivery_handle, atom::send::value, occurrence_list{}, int64_t{0});
  advance(seconds{1});
  EXPECT_TRUE(db->released) << "the lease was not handed back";
  bool answered = false;
  std::move(handle).receive([&](bool ok) { answered = ok; },
                            [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  EXPECT_TRUE(answered);
  EXPECT_EQ(db->records.at("soon:birthday:2027").status, status::sent)
      << "the in-flight outcome was not recorded before the release";
  EXPECT_TRUE(ended(p));
  advance(hours{25});
  EXPECT_EQ(provider->sends.size(), 2u) << "sent after handing off";
  EXPECT_EQ(db->records.count("later:birthday:2027"), 0u) << "claimed after handing off";
}

TEST_F(Partition, AHandOffTakesBackWhatWaitsInDeliverysQueueAndTheNextOwnerSendsItOnce) {
  add_user("a", "UTC", "1990-07-15"); // 09:00Z
  add_user("b", "UTC", "1990-07-15");
  start_clock("2027-07-15T08:59:59Z");
  auto p = spawn_partition();
  provider->hold = true; // queued behind other partitions' greetings: not on the wire
  provider->held_are_queued = true;
  advance(seconds{1});
  ASSERT_EQ(provider->held.size(), 1u);
  caf::scoped_actor self{sys};
  auto handle = self->request(p, caf::infinite, atom::handoff::value);
  sched.run();
  EXPECT_EQ(provider->withdraws, 1);
  EXPECT_TRUE(db->released) << "the hand-off waited for the queue";
  bool answered = false;
  std::move(handle).receive([&](bool ok) { answered = ok; },
                            [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  EXPECT_TRUE(answered);
  EXPECT_TRUE(ended(p));
  EXPECT_TRUE(provider->sends.empty());
  for (const auto* k : {"a:birthday:2027", "b:birthday:2027"})
    EXPECT_EQ(db->records.count(k), 0u) << k << ": withdrawn, not an attempt, not recorded";
  EXPECT_EQ(fences->in_doubt(), 0) << "withdrawn greetings left counted in doubt";
  provider->hold = false;
  db->released = false;
  spawn_partition(); // the next owner: a new epoch loads them
  advance(seconds{2});
  EXPECT_EQ(provider->count("a:birthday:2027"), 1u);
  EXPECT_EQ(provider->count("b:birthday:2027"), 1u);
  EXPECT_EQ(db->records.at("a:birthday:2027").status, status::sent);
}

TEST_F(Partition, DowntimeBeyondTheRecoveryWindowExpiresOldMissesAndSendsRecentOnes) {
  add_user("old", "UTC", "1990-07-10");    // due 10 Jul 09:00Z: 5 days missed
  add_user("recent", "UTC", "1990-07-14"); // due 14 Jul 09:00Z: 1 day missed
  add_user("future", "UTC", "1990-07-20");
  start_clock("2027-07-09T00:00:00Z", 0.0);
  auto first = spawn_partition();
  EXPECT_EQ(db->horizon, ms("2027-07-09T00:00:00Z")) << "the horizon was not recorded";
  // The node goes down for six days.
  caf::anon_send_exit(first, caf::exit_reason::kill);
  sched.run();
  ASSERT_TRUE(
      clock->set(*parse_instant("2027-07-15T09:00:00Z"), std::nullopt, sched.clock().now()));
  auto second = spawn_partition();
  EXPECT_EQ(db->records.at("old:birthday:2027").status, status::expired);
  EXPECT_NE(db->records.at("old:birthday:2027").last_error.find("recovery window"),
            std::string::npos);
  ASSERT_EQ(provider->sends.size(), 1u);
  EXPECT_EQ(provider->sends[0].key, "recent:birthday:2027");
  EXPECT_EQ(db->records.count("future:birthday:2027"), 0u);
  // Conservative while the late greeting was in flight; caught up on the next pass.
  tell(second, atom::tick::value);
  EXPECT_GE(db->horizon, ms("2027-07-15T09:00:00Z")) << "the horizon did not move on";
  auto st = ask<partition_status>(second, atom::status::value);
  EXPECT_EQ(st.sent, 1u);
  EXPECT_EQ(st.late, 1u) << "the day-old greeting was not counted late";
  EXPECT_EQ(st.expired, 1u);
}
