// All of Candle's SQL, behind one class over one libpqxx connection. Blocking:
// call it from a detached actor or a test thread, never from CAF's workers.
//
// Writes that move send records are *fenced*: they name a partition and the
// caller's lease epoch and change nothing unless that epoch is current and
// unexpired (checked and share-locked in the same statement, so a takeover
// waits for an in-flight batch and then sees it).
#pragma once

#include "core/forecast.hpp"
#include "core/model.hpp"
#include "core/occurrence.hpp"
#include "core/result.hpp"
#include "core/schedule.hpp"
#include "core/status.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <pqxx/connection>
#include <pqxx/result>
#include <pqxx/transaction>
#include <set>
#include <string>
#include <vector>

namespace candle::pg {

using candle::default_rules;
using candle::schedule_rules;

class store {
public:
  explicit store(std::string conninfo);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  /// The connection, (re)opened on demand. Throws pqxx::broken_connection
  /// when the server cannot be reached.
  pqxx::connection& conn();
  /// Drops the connection (after an error) so the next call reconnects.
  void reset();
  bool connected() const;

  // -- leases ---------------------------------------------------------------

  /// Takes `partition` for `node` if it is free, expired, released, already
  /// ours, or held by a node whose process is gone (cluster_sql.hpp),
  /// bumping the epoch. Returns the new epoch, or 0 if another node holds it.
  int64_t acquire_lease(int32_t partition, const std::string& node, std::chrono::seconds ttl);
  /// Hands a lease held at `epoch` back (expiry now) and notifies peers on
  /// channel `candle_leases`; false when it was not ours any more.
  bool release_lease(int32_t partition, const std::string& node, int64_t epoch);
  /// Extends a lease we hold at `epoch`; false when it is no longer ours.
  bool renew_lease(int32_t partition, const std::string& node, int64_t epoch,
                   std::chrono::seconds ttl);
  /// Extends many of `node`'s leases, each at its epoch, in one statement
  /// (and one commit): the partitions still ours, in no particular order.
  std::vector<int32_t> renew_leases(const std::string& node,
                                    const std::vector<std::pair<int32_t, int64_t>>& leases,
                                    std::chrono::seconds ttl);

  /// The partition's horizon (epoch ms), 0 when none was ever recorded.
  int64_t horizon(int32_t partition);
  /// Moves the horizon forward to `to` (never back), fenced; false if the
  /// epoch is stale.
  bool advance_horizon(int32_t partition, int64_t epoch, int64_t to);

  // -- send records (fenced) ------------------------------------------------

  /// Claims occurrences (one statement): inserts `claimed` records, skipping
  /// keys that already have one. Returns the keys this call claimed.
  std::vector<std::string> claim(int32_t partition, int64_t epoch,
                                 const std::vector<occurrence>& batch, int64_t now);
  /// Which of `keys` are `claimed` at `epoch`: after a claim whose commit
  /// was lost with the connection, retry the claim and then ask this, so a
  /// committed-but-unacknowledged claim is not stranded.
  std::vector<std::string> claimed_at_epoch(int32_t partition, int64_t epoch,
                                            const std::vector<std::string>& keys);
  /// Which occurrences may be sent now without a claim (a read): the user
  /// live and as computed (`version`), no record yet, the lease at `epoch`
  /// current. An occurrence of a suppressed address is recorded
  /// `suppressed` instead (fenced) and not returned.
  std::vector<std::string> check(int32_t partition, int64_t epoch,
                                 const std::vector<occurrence>& batch, int64_t now);
  /// Records delivery outcomes at `epoch`: a `claimed` record owned at
  /// `epoch` is updated (one statement); an outcome carrying its greeting
  /// (`user_id` set: checked, not claimed) is inserted as its first and
  /// only row (one statement, nothing if a record exists). Fenced. Returns
  /// the keys written.
  std::vector<std::string> record_outcomes(int32_t partition, int64_t epoch,
                                           const std::vector<outcome>& batch);
  /// Moves `retrying` records, and stale `claimed` ones (a dead owner's), to
  /// `claimed` at `epoch` for another attempt. Returns the keys moved.
  std::vector<std::string> reclaim(int32_t partition, int64_t epoch,
                                   const std::vector<std::string>& keys, int64_t now);
  /// Gives back claims taken at `epoch` ahead of their instant (an edit moved
  /// or removed the occurrence): `fresh` records are deleted as if never
  /// claimed, `retries` go back to `retrying` with their attempts. Fenced;
  /// only records still `claimed` at `epoch` change. Returns the keys released.
  std::vector<std::string> release(int32_t partition, int64_t epoch,
                                   const std::vector<std::string>& fresh,
                                   const std::vector<std::string>& retries);
  /// Records occurrences missed beyond the recovery window as `expired`.
  std::vector<std::string> record_expired(int32_t partition, int64_t epoch,
                                          const std::vector<occurrence>& batch,
                                          const std::string& reason, int64_t now);

  // -- send records by year --------------------------------------------------

  /// Makes `year`'s table of send records unless it exists (schema v9);
  /// true when this call made it. Claims and expiries make their years
  /// themselves; the records keeper makes the coming year ahead.
  bool ensure_record_year(int32_t year);
  /// The years that have a table, oldest first.
  std::vector<int32_t> record_years();
  /// Drops every year's records older than `year`, whole; the years dropped.
  /// Throws when the parent's lock is not had within 5 s (nothing dropped
  /// from that year on).
  std::vector<int32_t> drop_record_years_before(int32_t year);

  // -- scans ----------------------------------------------------------------

  /// Occurrences of live users of `partition` due in [from, to) that are
  /// eligible (user created by the due instant) and have no send record.
  std::vector<occurrence> load_window(int32_t partition, int64_t from, int64_t to,
                                      const schedule_rules& rules);
  /// The change feed: `partition`'s user rows (deleted ones too) written
  /// by transactions from `cursor` (an xid8) up to the oldest one still
  /// running, and that one as the next cursor. A cursor of 0 reads nothing
  /// and only returns where to start: take it before the window is loaded.
  change_batch changes(int32_t partition, int64_t cursor);
  /// Of claims taken ahead at `epoch`, those still `claimed` with their user
  /// as the occurrence was computed (not deleted, `version` unchanged).
  std::vector<std::string> confirm(int32_t partition, int64_t epoch,
                                   const std::vector<occurrence>& batch);
  /// Every `claimed` (up to `epoch`, `owner_epoch` set) or `retrying` record
  /// of a live user in `partition`: the sweep's view of unfinished work.
  std::vector<occurrence> unfinished(int32_t partition, int64_t epoch);
  /// Records of `partition` to resume: `retrying` ones, and `claimed` ones
  /// whose owner epoch is older than `epoch` (their sender died mid-flight).
  std::vector<occurrence> load_resumable(int32_t partition, int64_t epoch,
                                         const schedule_rules& rules);

  // -- users ----------------------------------------------------------------

  /// Inserts a user (id, partition and timestamps must be set). A live user
  /// with the same email is a `conflict`.
  result<user> create_user(const user& u);
  result<user> get_user(const std::string& id);
  /// Replaces the user's fields; `not_found` if absent or deleted.
  result<user> update_user(const user& u);
  /// Soft-deletes and cancels pending (claimed/retrying) greetings, in one
  /// transaction. `not_found` if absent or already deleted.
  result<user> delete_user(const std::string& id, int64_t now);
  /// Live users ordered by id, after `after_id` (keyset pagination).
  std::vector<user> list_users(size_t limit, const std::string& after_id);

  std::vector<send_record> records_of_user(const std::string& user_id);
  /// Records with `status` ("" = any) after `after_key`, by key.
  /// Users per (occasion, zone, month*100+day) for those days (the
  /// dashboard's forecast, core/forecast.hpp): live users only.
  std::vector<forecast_group> occasion_groups(const std::vector<int32_t>& mds);
  /// Send records per status other than `sent` (the partial status index).
  std::vector<std::pair<std::string, int64_t>> unsent_counts();
  /// Many users in one statement and one commit, each created unless its
  /// email is taken (by a live user, or an earlier one of `us`): the results
  /// in order. A user whose id is taken is a conflict too, unless `lost`
  /// (an earlier try of this statement may have committed unheard): then a
  /// live row with its id and email is that try's, and is its result.
  std::vector<result<user>> create_users(const std::vector<user>& us, bool lost = false);
  std::vector<send_record> records_by_status(const std::string& status, size_t limit,
                                             const std::string& after_key);
  /// Moves a `dead` or `expired` record back to `retrying` with no attempts,
  /// due at `now`, and returns it to be reclaimed by its partition.
  /// `not_found` without such a record (or live user), `conflict` in another state.
  result<occurrence> redrive(const std::string& key, int64_t now);
  /// Every dead or expired record of `status` (and `occasion`, "" = any)
  /// whose user is not deleted: how many, the first keys (at most 10) and,
  /// unless a dry run, the same as redrive() for each, in one statement.
  struct bulk_redrive {
    uint64_t count = 0;
    std::vector<std::string> sample;
    std::vector<occurrence> redriven;
  };
  result<bulk_redrive> redrive_all(const std::string& status, const std::string& occasion,
                                   int64_t now, bool dry_run);
  /// A user by id or, when the text has an '@', by email; deleted ones are not found.
  result<user> find_user(const std::string& id_or_email);

  // -- delivery events ------------------------------------------------------

  struct ingested {
    std::set<std::string> stored;  ///< ids new to the table
    std::set<std::string> unknown; ///< of those, the ones whose key has no send record
    uint64_t moved = 0;            ///< greetings whose delivery state moved
    uint64_t suppressed = 0;       ///< addresses newly suppressed
  };
  /// Stores events once by id (one statement): a greeting's delivery state
  /// moves only forward, bounces and complaints suppress the address.
  ingested ingest_events(const std::vector<delivery_event>& events);
  struct applied {
    std::set<std::string> recorded; ///< of the keys, those that have a record
    uint64_t suppressed = 0;        ///< addresses newly suppressed
  };
  /// Applies the stored events of `keys` (whose events came when they had
  /// no record) as ingest_events would have: the delivery state moved
  /// forward, bounces and complaints suppressing the address.
  applied apply_stored_events(const std::vector<std::string>& keys);
  /// A greeting's record, and its events oldest first in `events`.
  result<send_record> greeting(const std::string& key, std::vector<delivery_event>& events);
  /// Suppressed addresses by email, after `after_email`.
  std::vector<suppression> suppressions(size_t limit, const std::string& after_email);
  /// Lifts a suppression; false if the address was not suppressed.
  bool unsuppress(const std::string& email);

private:
  /// Runs one prepared statement in its own transaction and commits it.
  template <class... Args> pqxx::result exec(const char* statement, Args&&... args) {
    pqxx::work w{conn()};
    auto r = w.exec_prepared(statement, std::forward<Args>(args)...);
    w.commit();
    return r;
  }

  /// Runs `insert` of send records once each of `years` has its table.
  pqxx::result insert_records(const std::vector<int32_t>& years,
                              const std::function<pqxx::result()>& insert);
  std::vector<std::string> insert_outcomes(int32_t partition, int64_t epoch,
                                           const std::vector<outcome>& batch);

  std::string conninfo_;
  std::unique_ptr<pqxx::connection> conn_;
  std::set<int32_t> years_; ///< years known to have a table
};

/// `{"a","b"}`: a PostgreSQL array literal with every element quoted.
std::string array_literal(const std::vector<std::string>& items);
std::string array_literal(const std::vector<int64_t>& items);

} // namespace candle::pg
