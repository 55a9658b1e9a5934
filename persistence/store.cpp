#include "persistence/store.hpp"

#include "core/delivery_state.hpp"
#include "core/ids.hpp"
#include "core/occasion.hpp"
#include "persistence/cluster_sql.hpp"

#include <algorithm>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <spdlog/spdlog.h>
#include <type_traits>
#include <unordered_map>

namespace candle::pg {

namespace {

// timestamptz <-> milliseconds since the epoch.
#define MS(col) "(EXTRACT(EPOCH FROM " col ") * 1000)::bigint"
#define TS(param) "to_timestamp(" param "::bigint / 1000.0)"

// The node that holds partition $1 (evaluated once per statement).
#define CLAIMER "(SELECT owner FROM partition_leases WHERE partition = $1)"

// The lease check every fenced write carries; share-locks the lease row so a
// takeover (which updates it) waits for the write and then sees its result.
#define FENCE                                                                                      \
  "EXISTS (SELECT 1 FROM partition_leases l WHERE l.partition = $1 AND l.epoch = $2"               \
  " AND l.expires_at > now() FOR SHARE)"

constexpr const char* user_columns =
    "id::text, first_name, last_name, email, timezone,"
    " coalesce(to_char(birthday_date, 'YYYY-MM-DD'), ''),"
    " coalesce(to_char(anniversary_date, 'YYYY-MM-DD'), ''),"
    " coalesce(location_city, ''), coalesce(location_country, ''), " MS("created_at") ", " MS(
        "updated_at") ", coalesce(" MS("deleted_at") ", 0), partition";

constexpr const char* record_columns = "idempotency_key, user_id::text, occasion, year, " MS(
    "due_at") ", status, attempts,"
              " coalesce(last_error, ''), coalesce(" MS("sent_at") ", 0), coalesce(" MS(
                  "next_attempt_at") ", 0), owner_epoch, partition,"
                                     // A sent greeting without events is `sent`.
                                     " coalesce(delivery, CASE WHEN status = 'sent' THEN 'sent' "
                                     "ELSE '' END),"
                                     " coalesce(claimed_by, ''), coalesce(" MS("claimed_at") ", 0)";

user user_of(const pqxx::row& r) {
  user u;
  u.id = r[0].as<std::string>();
  u.first_name = r[1].as<std::string>();
  u.last_name = r[2].as<std::string>();
  u.email = r[3].as<std::string>();
  u.timezone = r[4].as<std::string>();
  u.birthday_date = r[5].as<std::string>();
  u.anniversary_date = r[6].as<std::string>();
  u.location_city = r[7].as<std::string>();
  u.location_country = r[8].as<std::string>();
  u.created_at = r[9].as<int64_t>();
  u.updated_at = r[10].as<int64_t>();
  u.deleted_at = r[11].as<int64_t>();
  u.partition = r[12].as<int32_t>();
  return u;
}

send_record record_of(const pqxx::row& r) {
  send_record s;
  s.key = r[0].as<std::string>();
  s.user_id = r[1].as<std::string>();
  s.occasion = r[2].as<std::string>();
  s.year = r[3].as<int32_t>();
  s.due_at = r[4].as<int64_t>();
  s.status = r[5].as<std::string>();
  s.attempts = r[6].as<int32_t>();
  s.last_error = r[7].as<std::string>();
  s.sent_at = r[8].as<int64_t>();
  s.next_attempt_at = r[9].as<int64_t>();
  s.owner_epoch = r[10].as<int64_t>();
  s.partition = r[11].as<int32_t>();
  s.delivery = r[12].as<std::string>();
  s.claimed_by = r[13].as<std::string>();
  s.claimed_at = r[14].as<int64_t>();
  return s;
}

std::vector<std::string> keys_of(const pqxx::result& r) {
  std::vector<std::string> keys;
  keys.reserve(r.size());
  for (const auto& row : r)
    keys.push_back(row[0].as<std::string>());
  return keys;
}

// The event types that suppress an address, as an SQL list: 'bounced', ...
std::string suppressing_types() {
  std::string out;
  for (auto st : delivery::all_states)
    if (delivery::suppresses(st))
      out += std::string{out.empty() ? "" : ", "} + "'" + delivery::to_string(st) + "'";
  return out;
}

// What events do to their greetings, given a CTE `ev` (key, type, at,
// reason) of them: `moved`, each greeting's delivery state to the highest
// ranked event if that is ahead of it; `sup`, the addresses of bounces and
// complaints suppressed (the address the greeting went to, not the user's
// current one).
// clang-format off
std::string event_moves_sql() {
  auto rank = [](const char* col) { return delivery::rank_sql(col); };
  return
    " best AS (SELECT DISTINCT ON (key) key, type, at FROM ev ORDER BY key, " + rank("type") +
    "   DESC, at),"
    " moved AS (UPDATE send_records r SET delivery = b.type, delivery_at = b.at,"
    "   updated_at = now() FROM best b WHERE r.idempotency_key = b.key"
    "   AND " + rank("b.type") + " > " + rank("coalesce(r.delivery, 'sent')") + " RETURNING 1),"
    " sup AS (INSERT INTO suppressions (email, reason, type, key)"
    "   SELECT DISTINCT ON (r.sent_to) r.sent_to, coalesce(e.reason, e.type), e.type, e.key"
    "   FROM ev e JOIN send_records r ON r.idempotency_key = e.key"
    "   WHERE r.sent_to IS NOT NULL AND e.type IN (" + suppressing_types() + ")"
    "   ORDER BY r.sent_to, e.at ON CONFLICT (email) DO NOTHING RETURNING 1)";
}

// Delivery events (contract.md, "Delivery events"): one statement stores a
// batch once by id, moves each greeting's state to the highest ranked new
// event if that is ahead of it (core/delivery_state.hpp, re-checked on the
// current row under concurrent writers), suppresses the addresses of bounces
// and complaints, and returns the stored ids with whether their key is known.
void prepare_events(pqxx::connection& c) {
  c.prepare("ingest_events",
            "WITH ev AS (INSERT INTO delivery_events (id, key, type, at, reason)"
            "   SELECT t.i, t.k, t.t, " TS("t.a") ", NULLIF(t.r, '')"
            "   FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])"
            "     AS t(i, t, k, a, r) ORDER BY t.i"
            "   ON CONFLICT (id) DO NOTHING RETURNING id, key, type, at, reason)," +
            event_moves_sql() +
            " SELECT e.id, EXISTS (SELECT 1 FROM send_records r WHERE r.idempotency_key = e.key),"
            " (SELECT count(*) FROM moved), (SELECT count(*) FROM sup) FROM ev e");
  // The same moves for events already stored, of `keys` that had no record
  // when their events came: a greeting's row is written with its outcome,
  // and an event can be stored while that write is in flight (neither
  // transaction sees the other's row). Returns the keys that have a record.
  c.prepare("apply_stored_events",
            "WITH ev AS (SELECT key, type, at, reason FROM delivery_events"
            "   WHERE key = ANY($1::text[]))," +
            event_moves_sql() +
            " SELECT r.idempotency_key, (SELECT count(*) FROM sup) FROM send_records r"
            " WHERE r.idempotency_key = ANY($1::text[])");
  // clang-format on
  c.prepare("greeting", std::string{"SELECT "} + record_columns +
                            " FROM send_records WHERE idempotency_key = $1");
  c.prepare("events_of", "SELECT id, type, key, " MS("at") ", coalesce(reason, ''), " MS(
                             "received_at") " FROM delivery_events WHERE key = $1"
                                            " ORDER BY at, received_at, id");
  c.prepare("suppressions", "SELECT email, reason, type, key, " MS(
                                "at") " FROM suppressions"
                                      " WHERE email > $1 ORDER BY email LIMIT $2");
  c.prepare("unsuppress", "DELETE FROM suppressions WHERE email = lower($1) RETURNING 1");
  // After a user's update (same transaction): greetings not yet sent go to
  // the new address, and the ones recorded suppressed that are still ahead
  // ($3, the engine's now) are given back to be scheduled again unless the
  // new address is suppressed too.
  c.prepare("readdress",
            "WITH moved AS (UPDATE send_records SET sent_to = $2 WHERE user_id = $1::uuid"
            " AND status IN ('claimed', 'retrying') AND sent_to IS DISTINCT FROM $2 RETURNING 1)"
            " DELETE FROM send_records r WHERE r.user_id = $1::uuid AND r.status = 'suppressed'"
            " AND r.due_at > " TS(
                "$3") " AND r.sent_to IS DISTINCT FROM $2"
                      " AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = $2)");
}

// Statements prepared once per connection.
// clang-format off
std::string insert_outcomes_sql() {
  auto rank = [](const char* col) { return delivery::rank_sql(col); };
  return
    "WITH t AS (SELECT * FROM unnest($3::text[], $4::uuid[], $5::text[], $6::int[],"
    "   $7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::text[])"
    "   AS t(k, uid, o, y, d, s, e, n, a, email)),"
    " sup AS (INSERT INTO suppressions (email, reason, type, key)"
    "   SELECT DISTINCT ON (t.email) t.email, coalesce(ev.reason, ev.type), ev.type, ev.key"
    "   FROM t JOIN delivery_events ev ON ev.key = t.k"
    "   WHERE ev.type IN (" + suppressing_types() + ")"
    "   ORDER BY t.email, ev.at ON CONFLICT (email) DO NOTHING)"
    " INSERT INTO send_records (idempotency_key, user_id, occasion, year, partition, due_at,"
    "   status, attempts, next_attempt_at, last_error, owner_epoch, claimed_at, claimed_by,"
    "   sent_at, sent_to, delivery, delivery_at)"
    " SELECT t.k, t.uid, t.o, t.y, $1, " TS("t.d") ","
    // A retry's user is share-locked, as the claim does: a delete either
    // waits and then cancels the row, or committed first and this reads it.
    "   CASE WHEN t.s = 'retrying' AND NOT EXISTS (SELECT 1 FROM users u"
    "     WHERE u.id = t.uid AND u.deleted_at IS NULL FOR SHARE) THEN 'cancelled'"
    "     ELSE t.s END,"
    "   1, CASE WHEN t.s = 'retrying' THEN " TS("t.n") " END, NULLIF(t.e, ''), $2,"
    "   " TS("t.a") ", " CLAIMER ", CASE WHEN t.s = 'sent' THEN " TS("t.a") " END,"
    "   t.email, b.type, b.at"
    " FROM t LEFT JOIN LATERAL (SELECT ev.type, ev.at FROM delivery_events ev"
    "   WHERE ev.key = t.k AND " + rank("ev.type") + " > " + rank("'sent'") +
    "   ORDER BY " + rank("ev.type") + " DESC, ev.at LIMIT 1) b ON true"
    " WHERE " FENCE
    " ON CONFLICT (idempotency_key, year) DO NOTHING RETURNING idempotency_key";
}
// clang-format on

// Partition leases and horizons: taken, renewed, released, fenced (docs/cluster.md).
void prepare_leases(pqxx::connection& c) {
  c.prepare("acquire_lease",
            "INSERT INTO partition_leases AS p (partition, owner, expires_at, epoch)"
            " VALUES ($1, $2, now() + $3 * interval '1 second', 1)"
            " ON CONFLICT (partition) DO UPDATE SET owner = EXCLUDED.owner,"
            " expires_at = EXCLUDED.expires_at, epoch = p.epoch + 1"
            " WHERE p.owner IS NULL OR p.owner = EXCLUDED.owner OR p.expires_at <= now()"
            // The owner's process is gone (its session lock with it): its
            // sessions, and so its in-flight fenced writes, have ended.
            " OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = p.owner"
            " AND " CANDLE_SESSION_HELD("n") ")"
                                             " RETURNING epoch");
  c.prepare("release_lease",
            "WITH r AS (UPDATE partition_leases SET owner = NULL, expires_at = now()"
            " WHERE partition = $1 AND owner = $2 AND epoch = $3 AND expires_at > now()"
            " RETURNING partition)"
            " SELECT pg_notify('candle_leases', partition::text) FROM r");
  c.prepare("renew_lease", "UPDATE partition_leases SET expires_at = now() + $4 * interval '1 "
                           "second' WHERE partition = $1 AND owner = $2 AND epoch = $3"
                           " AND expires_at > now() RETURNING 1");
  c.prepare("renew_leases",
            "UPDATE partition_leases l SET expires_at = now() + $2 * interval '1 second'"
            " FROM unnest($3::int[], $4::bigint[]) AS t(p, e)"
            " WHERE l.partition = t.p AND l.owner = $1 AND l.epoch = t.e AND l.expires_at > now()"
            " RETURNING l.partition");
  c.prepare("horizon", "SELECT coalesce(" MS("horizon") ", 0) FROM partition_leases"
                                                        " WHERE partition = $1");
  c.prepare("advance_horizon",
            "UPDATE partition_leases SET horizon = GREATEST(coalesce(horizon, '-infinity'), " TS(
                "$3") ") WHERE partition = $1 AND epoch = $2 AND expires_at > now() RETURNING 1");
}

// A greeting checked at its instant and its one row (schedule.claim-ahead 0),
// an outcome of a claimed one, an expiry.
void prepare_record_outcomes(pqxx::connection& c) {
  // Checked right before sending, without a claim (schedule.claim-ahead 0):
  // a read, no row locked or written. A greeting may go when its user is
  // live and as the occurrence was computed, it has no record, and the
  // lease is current; a suppressed address comes back with its reason and
  // address, to be recorded `suppressed` instead.
  c.prepare(
      "check",
      "SELECT t.k, s.email IS NOT NULL, coalesce(s.reason, ''), u.email"
      " FROM unnest($3::text[], $4::uuid[], $5::int[], $6::bigint[]) AS t(k, uid, y, v)"
      " JOIN users u ON u.id = t.uid AND u.deleted_at IS NULL"
      " AND (t.v = 0 OR " MS(
          "u.updated_at") " = t.v)"
                          " LEFT JOIN suppressions s ON s.email = u.email"
                          " WHERE NOT EXISTS (SELECT 1 FROM send_records r WHERE r.idempotency_key "
                          "= t.k"
                          " AND r.year = t.y)"
                          " AND EXISTS (SELECT 1 FROM partition_leases l WHERE l.partition = $1"
                          " AND l.epoch = $2 AND l.expires_at > now())");
  c.prepare("record_suppressed",
            "INSERT INTO send_records (idempotency_key, user_id, occasion, year, partition,"
            " due_at, status, attempts, owner_epoch, claimed_at, claimed_by, last_error, sent_to)"
            " SELECT t.k, t.uid, t.o, t.y, $1, " TS("t.d") ", 'suppressed', 0, $2, " TS(
                "$8") ","
                      " " CLAIMER ", t.why, t.email"
                      " FROM unnest($3::text[], $4::uuid[], $5::text[], $6::int[], $7::bigint[],"
                      "   $9::text[], $10::text[]) AS t(k, uid, o, y, d, why, email)"
                      " WHERE " FENCE
                      " ON CONFLICT (idempotency_key, year) DO NOTHING RETURNING idempotency_key");
  // The outcome of a greeting sent without a claim is its only row: one
  // insert per batch, fenced, idempotent (a replay after a lost commit, or
  // a row another owner wrote, changes nothing). A retry for a user deleted
  // since the check is cancelled, as the delete cancels pending records.
  // Its delivery events may be stored already (a webhook faster than this
  // write, or SMTP's own 5.1.1 bounce): the row starts at the furthest of
  // them, and a bounce or complaint suppresses the address it went to, as
  // ingest_events does for a greeting that has its row.
  c.prepare("insert_outcomes", insert_outcomes_sql());
  c.prepare("record_outcomes",
            "UPDATE send_records r SET status = t.s, attempts = r.attempts + 1,"
            " last_error = NULLIF(t.e, ''),"
            " next_attempt_at = CASE WHEN t.s = 'retrying' THEN " TS(
                "t.n") " END,"
                       " sent_at = CASE WHEN t.s = 'sent' THEN " TS(
                           "t.a") " ELSE r.sent_at END,"
                                  " updated_at = now()"
                                  " FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], "
                                  "$7::bigint[])"
                                  "   AS t(k, s, e, n, a)"
                                  " WHERE r.idempotency_key = t.k AND r.partition = $1 AND "
                                  "r.owner_epoch = $2"
                                  // No filter on t.s here: it shrinks the planner's
                                  // row estimate for unnest() and, on a young table
                                  // without statistics, flips the plan to rescanning
                                  // unnest() per row. record_outcomes() validates.
                                  " AND r.status = 'claimed' AND " FENCE
                                  " RETURNING r.idempotency_key");
  c.prepare("record_expired",
            "INSERT INTO send_records (idempotency_key, user_id, occasion, year, partition,"
            " due_at, status, attempts, owner_epoch, last_error)"
            " SELECT t.k, u.id, t.o, t.y, $1, " TS(
                "t.d") ", 'expired', 0, $2, $8"
                       " FROM unnest($3::text[], $4::uuid[], $5::text[], $6::int[], $7::bigint[])"
                       "   AS t(k, uid, o, y, d)"
                       " JOIN users u ON u.id = t.uid AND u.deleted_at IS NULL"
                       " WHERE " FENCE
                       " ON CONFLICT (idempotency_key, year) DO NOTHING RETURNING idempotency_key");
}

// Claims (taken ahead when schedule.claim-ahead > 0, and a retry's), their
// release, and a claim taken ahead confirmed at its instant.
void prepare_record_claims(pqxx::connection& c) {
  // A suppressed address gets a `suppressed` record instead of a claim: it
  // is recorded once like any other and not returned, so nothing sends it.
  // clang-format off
  c.prepare("claim",
            "WITH c AS (INSERT INTO send_records (idempotency_key, user_id, occasion, year,"
            " partition, due_at, status, attempts, owner_epoch, claimed_at, claimed_by,"
            " last_error, sent_to)"
            " SELECT t.k, u.id, t.o, t.y, $1, " TS("t.d") ","
            " CASE WHEN s.email IS NULL THEN 'claimed' ELSE 'suppressed' END, 0, $2, " TS("$8") ","
            " " CLAIMER ", CASE WHEN s.email IS NOT NULL THEN 'suppressed: ' || s.reason END,"
            " u.email"
            " FROM unnest($3::text[], $4::uuid[], $5::text[], $6::int[], $7::bigint[],"
            "   $9::bigint[]) AS t(k, uid, o, y, d, v)"
            " JOIN users u ON u.id = t.uid AND u.deleted_at IS NULL"
            // The user as the occurrence was computed from it: a move, a new
            // date or address committed since is not greeted from a stale
            // queue (the owner reschedules from the newer row).
            " AND (t.v = 0 OR " MS("u.updated_at") " = t.v)"
            " LEFT JOIN suppressions s ON s.email = u.email"
            " WHERE " FENCE " FOR SHARE OF u"
            " ON CONFLICT (idempotency_key, year) DO NOTHING RETURNING idempotency_key, status)"
            " SELECT idempotency_key FROM c WHERE status = 'claimed'");
  // clang-format on
  c.prepare("claimed_at_epoch",
            "SELECT idempotency_key FROM send_records WHERE idempotency_key = ANY($3::text[])"
            " AND partition = $1 AND owner_epoch = $2 AND status = 'claimed'");
  c.prepare(
      "reclaim",
      "UPDATE send_records r SET status = 'claimed', owner_epoch = $2, claimed_by = " CLAIMER ","
      " claimed_at = " TS(
          "$4") ", updated_at = now()"
                " WHERE r.idempotency_key = ANY($3::text[]) AND r.partition = $1"
                " AND (r.status = 'retrying' OR (r.status = 'claimed' AND r.owner_epoch < $2))"
                " AND EXISTS (SELECT 1 FROM users u WHERE u.id = r.user_id AND u.deleted_at IS "
                "NULL)"
                " AND " FENCE " RETURNING r.idempotency_key");
  c.prepare("release",
            "WITH fresh AS (DELETE FROM send_records r WHERE r.idempotency_key = ANY($3::text[])"
            " AND r.partition = $1 AND r.owner_epoch = $2 AND r.status = 'claimed'"
            " AND r.attempts = 0 AND " FENCE " RETURNING r.idempotency_key),"
            " retry AS (UPDATE send_records r SET status = 'retrying', updated_at = now()"
            " WHERE r.idempotency_key = ANY($4::text[]) AND r.partition = $1"
            " AND r.owner_epoch = $2 AND r.status = 'claimed' AND " FENCE
            " RETURNING r.idempotency_key)"
            " SELECT idempotency_key FROM fresh UNION ALL SELECT idempotency_key FROM retry");
  // Claims taken ahead, before they are sent at their instant: still
  // `claimed` here and the user as they were claimed (not deleted, moved
  // or readdressed meanwhile).
  c.prepare("confirm", "SELECT r.idempotency_key FROM unnest($3::text[], $4::bigint[]) AS t(k, v)"
                       " JOIN send_records r ON r.idempotency_key = t.k AND r.partition = $1"
                       " AND r.owner_epoch = $2 AND r.status = 'claimed'"
                       " JOIN users u ON u.id = r.user_id AND u.deleted_at IS NULL"
                       " AND (t.v = 0 OR " MS("u.updated_at") " = t.v)");
}

// Send records by year (the tables), and the scans that find unfinished ones
// (resume, sweep).
void prepare_record_scans(pqxx::connection& c) {
  // send_records by year (schema v9): make a year's table, list the years.
  c.prepare("record_year", "SELECT candle_record_year($1)");
  c.prepare("record_years",
            "SELECT substring(c.relname FROM '^send_records_(-?[0-9]+)$')::integer AS y"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'send_records'::regclass"
            " AND c.relname ~ '^send_records_-?[0-9]+$' ORDER BY y");
  c.prepare("existing_keys",
            "SELECT idempotency_key FROM send_records WHERE idempotency_key = ANY($1::text[])");
  c.prepare(
      "resumable",
      "SELECT r.idempotency_key, r.user_id::text, r.occasion, r.year, " MS(
          "r.due_at") ","
                      " r.attempts, coalesce(" MS(
                          "r.next_attempt_at") ", 0), u.first_name, u.last_name,"
                                               " u.email FROM send_records r JOIN users u ON u.id "
                                               "= r.user_id"
                                               " WHERE r.partition = $1 AND u.deleted_at IS NULL"
                                               " AND (r.status = 'retrying' OR (r.status = "
                                               "'claimed' AND r.owner_epoch < $2))");
  // Every unfinished record of a partition (the sweep): claimed at any epoch
  // up to ours, or retrying; the owner keeps those no queue of its holds.
  // clang-format off
  c.prepare("unfinished",
            "SELECT r.idempotency_key, r.user_id::text, r.occasion, r.year, " MS("r.due_at") ","
            " r.attempts, coalesce(" MS("r.next_attempt_at") ", 0), u.first_name, u.last_name,"
            " u.email, r.owner_epoch, r.status"
            " FROM send_records r JOIN users u ON u.id = r.user_id"
            " WHERE r.partition = $1 AND u.deleted_at IS NULL AND r.owner_epoch <= $2"
            " AND r.status IN ('claimed', 'retrying')");
}

// Send records read (a user's, by status, one) and redriven.
void prepare_record_reads(pqxx::connection& c) {
  // clang-format on
  c.prepare("records_of_user", std::string{"SELECT "} + record_columns +
                                   " FROM send_records WHERE user_id = $1::uuid"
                                   " ORDER BY due_at, idempotency_key");
  // `sent` is most of the table and has no status index: it is read in key
  // order through the primary key. The other statuses use the partial index,
  // which a generic plan may only pick when the query itself excludes `sent`.
  c.prepare("records_sent", std::string{"SELECT "} + record_columns +
                                " FROM send_records WHERE status = 'sent' AND idempotency_key > $1"
                                " ORDER BY idempotency_key LIMIT $2");
  c.prepare("records_by_status",
            std::string{"SELECT "} + record_columns +
                " FROM send_records WHERE status = $1 AND status <> 'sent' AND idempotency_key > $2"
                " ORDER BY status, idempotency_key LIMIT $3");
  c.prepare("records_after", std::string{"SELECT "} + record_columns +
                                 " FROM send_records WHERE idempotency_key > $1"
                                 " ORDER BY idempotency_key LIMIT $2");
  c.prepare("record_status", "SELECT status FROM send_records WHERE idempotency_key = $1");
  // Bulk redrive: the records of a status (and occasion, '' = any) whose
  // user is not deleted.
#define CANDLE_REDRIVABLE                                                                          \
  " r.status = $1 AND ($2 = '' OR r.occasion = $2) AND u.id = r.user_id AND u.deleted_at IS NULL"
  c.prepare("redrive_count",
            "SELECT count(*) FROM send_records r, users u WHERE" CANDLE_REDRIVABLE);
  c.prepare("redrive_sample",
            "SELECT r.idempotency_key FROM send_records r, users u WHERE" CANDLE_REDRIVABLE
            " ORDER BY r.idempotency_key LIMIT 10");
  c.prepare(
      "redrive_bulk",
      "UPDATE send_records r SET status = 'retrying', attempts = 0, next_attempt_at = " TS(
          "$3") ", updated_at = now() FROM users u WHERE" CANDLE_REDRIVABLE
                " RETURNING r.idempotency_key, r.user_id::text, r.occasion, r.year, " MS(
                    "r.due_at") ", r.attempts, " MS("r.next_attempt_at") ","
                                                                         " u.first_name, "
                                                                         "u.last_name, u.email, "
                                                                         "r.partition");
#undef CANDLE_REDRIVABLE
  c.prepare(
      "redrive",
      "UPDATE send_records r SET status = 'retrying', attempts = 0, next_attempt_at = " TS(
          "$2") ", updated_at = now() FROM users u"
                " WHERE r.idempotency_key = $1 AND r.status IN ('dead', 'expired')"
                " AND u.id = r.user_id AND u.deleted_at IS NULL"
                " RETURNING r.idempotency_key, r.user_id::text, r.occasion, r.year, " MS(
                    "r.due_at") ", r.attempts, " MS("r.next_attempt_at") ","
                                                                         " u.first_name, "
                                                                         "u.last_name, u.email, "
                                                                         "r.partition");
}

// Users: writes, reads and the change feed.
void prepare_users(pqxx::connection& c) {
  c.prepare("create_user",
            std::string{"INSERT INTO users (id, first_name, last_name, email, timezone,"
                        " birthday_date, anniversary_date, location_city, location_country,"
                        " partition, created_at, updated_at) VALUES ($1::uuid, $2, $3, $4, $5,"
                        " NULLIF($6, '')::date, NULLIF($7, '')::date, NULLIF($8, ''),"
                        " NULLIF($9, ''), $10, " TS("$11") ", " TS("$12") ") RETURNING "} +
                user_columns);
  // Many users in one statement (group commit, the bulk API): a row whose
  // email a live user has (or an earlier row of the same statement), or
  // whose id is taken, is left out; the caller learns which from RETURNING.
  c.prepare("create_users",
            std::string{"INSERT INTO users (id, first_name, last_name, email, timezone,"
                        " birthday_date, anniversary_date, location_city, location_country,"
                        " partition, created_at, updated_at)"
                        " SELECT t.i::uuid, t.f, t.l, t.e, t.z, NULLIF(t.b, '')::date,"
                        " NULLIF(t.a, '')::date, NULLIF(t.c, ''), NULLIF(t.n, ''), t.p, " TS(
                            "t.ca") ", " TS("t.ua") " FROM unnest($1::text[], $2::text[],"
                                                    " $3::text[], $4::text[], $5::text[],"
                                                    " $6::text[], $7::text[], $8::text[],"
                                                    " $9::text[], $10::integer[],"
                                                    " $11::bigint[], $12::bigint[]) WITH"
                                                    " ORDINALITY AS t(i, f, l, e, z, b, a, c,"
                                                    " n, p, ca, ua, o) ORDER BY t.o"
                                                    " ON CONFLICT DO NOTHING RETURNING "} +
                user_columns);
  c.prepare("users_by_ids", std::string{"SELECT "} + user_columns +
                                " FROM users WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL");
  c.prepare("get_user", std::string{"SELECT "} + user_columns +
                            " FROM users WHERE id = $1::uuid AND deleted_at IS NULL");
  c.prepare(
      "update_user",
      std::string{"UPDATE users SET first_name = $2, last_name = $3, email = $4,"
                  " timezone = $5, birthday_date = NULLIF($6, '')::date,"
                  " anniversary_date = NULLIF($7, '')::date,"
                  " location_city = NULLIF($8, ''), location_country = NULLIF($9, ''),"
                  // Strictly increasing per user, in commit order: partitions
                  // use it to ignore a notification that arrives late.
                  " updated_at = GREATEST(" TS("$10") ", updated_at + interval '1 millisecond')"
                                                      " WHERE id = $1::uuid AND deleted_at IS NULL"
                                                      " RETURNING "} +
          user_columns);
  c.prepare("delete_user",
            std::string{"UPDATE users SET deleted_at = " TS(
                "$2") ","
                      " updated_at = " TS("$2") " WHERE id = $1::uuid"
                                                " AND deleted_at IS NULL RETURNING "} +
                user_columns);
  c.prepare("cancel_pending", "UPDATE send_records SET status = 'cancelled', updated_at = now()"
                              " WHERE user_id = $1::uuid AND status IN ('claimed', 'retrying')");
  c.prepare("list_users", std::string{"SELECT "} + user_columns +
                              " FROM users WHERE deleted_at IS NULL AND id > $1::uuid"
                              " ORDER BY id LIMIT $2");
  c.prepare("get_user_by_email", std::string{"SELECT "} + user_columns +
                                     " FROM users WHERE email = lower($1) AND deleted_at IS NULL");
  // The change feed (schema v8): the transaction horizon first, then the
  // partition's rows written by transactions in [cursor, horizon), deleted
  // ones too. Every transaction below the horizon has ended, so nothing
  // committed late is skipped; a row written again since is read again.
  c.prepare("xmin", "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint");
  c.prepare("changes", std::string{"SELECT "} + user_columns +
                           " FROM users WHERE partition = $1"
                           " AND changed_xid >= $2::text::xid8 AND changed_xid < $3::text::xid8");
}

// The dashboard's counts.
void prepare_dashboard(pqxx::connection& c) {
  // The dashboard: users per occasion, zone and calendar day (the
  // users_*_window indexes), and the records not sent (the status index).
  c.prepare("occasion_groups",
            "SELECT 'birthday', timezone, birthday_md, count(*) FROM users"
            " WHERE deleted_at IS NULL AND birthday_date IS NOT NULL"
            " AND birthday_md = ANY($1::smallint[]) GROUP BY timezone, birthday_md"
            " UNION ALL SELECT 'anniversary', timezone, anniversary_md, count(*) FROM users"
            " WHERE deleted_at IS NULL AND anniversary_date IS NOT NULL"
            " AND anniversary_md = ANY($1::smallint[]) GROUP BY timezone, anniversary_md");
  c.prepare("unsent_counts",
            "SELECT status, count(*) FROM send_records WHERE status <> 'sent' GROUP BY status"
            " ORDER BY status");
}

void prepare(pqxx::connection& c) {
  prepare_leases(c);
  prepare_record_outcomes(c);
  prepare_record_claims(c);
  prepare_record_scans(c);
  prepare_record_reads(c);
  prepare_users(c);
  prepare_dashboard(c);
  prepare_events(c);
}

// Calendar days (month*100+day) whose occurrences can fall in [from, to):
// local days are within a day of the UTC day, so widen by one on each side;
// 29 Feb occasions can land on 28 Feb or 1 Mar in common years.
std::vector<int64_t> window_month_days(int64_t from, int64_t to) {
  using namespace std::chrono;
  std::set<int64_t> mds;
  auto first = date::floor<date::days>(sys_millis{milliseconds{from}}) - date::days{1};
  auto last = date::floor<date::days>(sys_millis{milliseconds{to}}) + date::days{1};
  for (auto d = first; d <= last; d += date::days{1}) {
    date::year_month_day ymd{d};
    auto md = static_cast<int64_t>(static_cast<unsigned>(ymd.month()) * 100 +
                                   static_cast<unsigned>(ymd.day()));
    mds.insert(md);
    if (md == 228 || md == 301) mds.insert(229);
  }
  return {mds.begin(), mds.end()};
}

} // namespace

std::string array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string array_literal(const std::vector<int64_t>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(items[i]);
  }
  out += '}';
  return out;
}

store::store(std::string conninfo) : conninfo_(std::move(conninfo)) {}

store::~store() = default;

pqxx::connection& store::conn() {
  if (conn_ && conn_->is_open()) return *conn_;
  conn_.reset();
  auto c = std::make_unique<pqxx::connection>(conninfo_);
  // A process paused between a statement and its COMMIT (SIGSTOP, a stalled
  // host) would hold its row locks, the lease rows' among them, for as long
  // as it is paused: the server ends such transactions instead.
  pqxx::nontransaction{*c}.exec(idle_transaction_limit);
  prepare(*c);
  conn_ = std::move(c);
  return *conn_;
}

void store::reset() {
  conn_.reset();
}

// -- send records by year (schema v9) --------------------------------------------

bool store::ensure_record_year(int32_t year) {
  if (years_.count(year)) return false;
  auto made = exec("record_year", year)[0][0].as<bool>();
  if (made) spdlog::info("event=records.year_created year={}", year);
  years_.insert(year);
  return made;
}

pqxx::result store::insert_records(const std::vector<int32_t>& years,
                                   const std::function<pqxx::result()>& insert) {
  for (auto y : years)
    ensure_record_year(y);
  try {
    return insert();
  } catch (const pqxx::sql_error& e) {
    // A year dropped by another node since we cached it ("no partition of
    // relation found for row" is a check_violation; the message may be in
    // the server's language, the SQLSTATE is not): once more, from the
    // catalog. The failed statement changed nothing; another check
    // violation fails the same way again and is thrown.
    if (e.sqlstate() != "23514") throw;
    years_.clear();
    for (auto y : years)
      ensure_record_year(y);
    return insert();
  }
}

std::vector<int32_t> store::record_years() {
  auto r = exec("record_years");
  std::vector<int32_t> years;
  for (const auto& row : r)
    years.push_back(row[0].as<int32_t>());
  return years;
}

std::vector<int32_t> store::drop_record_years_before(int32_t year) {
  std::vector<int32_t> dropped;
  for (auto y : record_years()) {
    if (y >= year) break;
    pqxx::work w{conn()};
    // Dropping a year locks the parent table: never queue every writer
    // behind a long reader for it; the next upkeep tries again.
    w.exec("SET LOCAL lock_timeout = '5s'");
    w.exec("DROP TABLE " + w.quote_name("send_records_" + std::to_string(y)));
    w.commit();
    years_.erase(y);
    dropped.push_back(y);
    spdlog::info("event=records.year_dropped year={} kept_from={}", y, year);
  }
  return dropped;
}

bool store::connected() const {
  return conn_ && conn_->is_open();
}

int64_t store::acquire_lease(int32_t partition, const std::string& node, std::chrono::seconds ttl) {
  // The lease row is share-locked by the owner's in-flight fenced writes; a
  // take-over waits for them, but not for long: the lease connection also
  // renews this node's own leases.
  try {
    pqxx::work w{conn()};
    w.exec("SET LOCAL lock_timeout = '1s'");
    auto r = w.exec_prepared("acquire_lease", partition, node, static_cast<int64_t>(ttl.count()));
    w.commit();
    return r.empty() ? 0 : r[0][0].as<int64_t>();
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == "55P03") return 0; // lock_not_available: busy, try again later
    throw;
  }
}

bool store::release_lease(int32_t partition, const std::string& node, int64_t epoch) {
  return !exec("release_lease", partition, node, epoch).empty();
}

bool store::renew_lease(int32_t partition, const std::string& node, int64_t epoch,
                        std::chrono::seconds ttl) {
  auto r = exec("renew_lease", partition, node, epoch, static_cast<int64_t>(ttl.count()));
  return !r.empty();
}

std::vector<int32_t> store::renew_leases(const std::string& node,
                                         const std::vector<std::pair<int32_t, int64_t>>& leases,
                                         std::chrono::seconds ttl) {
  if (leases.empty()) return {};
  std::vector<int64_t> partitions, epochs;
  for (const auto& [p, e] : leases) {
    partitions.push_back(p);
    epochs.push_back(e);
  }
  auto r = exec("renew_leases", node, static_cast<int64_t>(ttl.count()), array_literal(partitions),
                array_literal(epochs));
  std::vector<int32_t> out;
  out.reserve(r.size());
  for (const auto& row : r)
    out.push_back(row[0].as<int32_t>());
  return out;
}

namespace {

// The columns of a batch of greetings (occurrences, or outcomes that carry
// their greeting) as the statements' arrays.
template <class Greeting> struct greeting_columns {
  std::vector<std::string> keys, users, occasions;
  std::vector<int64_t> years, dues, versions;
  std::vector<int32_t> distinct_years;
  explicit greeting_columns(const std::vector<Greeting>& batch) {
    std::set<int32_t> ys;
    for (const auto& o : batch) {
      if constexpr (std::is_same_v<Greeting, occurrence>) versions.push_back(o.version);
      keys.push_back(o.key);
      users.push_back(o.user_id);
      occasions.push_back(o.occasion);
      years.push_back(o.year);
      dues.push_back(o.due_at);
      ys.insert(o.year);
    }
    distinct_years.assign(ys.begin(), ys.end());
  }
};

} // namespace

std::vector<std::string> store::claim(int32_t partition, int64_t epoch,
                                      const std::vector<occurrence>& batch, int64_t now) {
  if (batch.empty()) return {};
  greeting_columns<occurrence> cols{batch};
  auto r = insert_records(cols.distinct_years, [&] {
    return exec("claim", partition, epoch, array_literal(cols.keys), array_literal(cols.users),
                array_literal(cols.occasions), array_literal(cols.years), array_literal(cols.dues),
                now, array_literal(cols.versions));
  });
  return keys_of(r);
}

int64_t store::horizon(int32_t partition) {
  auto r = exec("horizon", partition);
  return r.empty() ? 0 : r[0][0].as<int64_t>();
}

bool store::advance_horizon(int32_t partition, int64_t epoch, int64_t to) {
  auto r = exec("advance_horizon", partition, epoch, to);
  return !r.empty();
}

std::vector<std::string> store::claimed_at_epoch(int32_t partition, int64_t epoch,
                                                 const std::vector<std::string>& keys) {
  if (keys.empty()) return {};
  auto r = exec("claimed_at_epoch", partition, epoch, array_literal(keys));
  return keys_of(r);
}

std::vector<std::string> store::check(int32_t partition, int64_t epoch,
                                      const std::vector<occurrence>& batch, int64_t now) {
  if (batch.empty()) return {};
  greeting_columns<occurrence> cols{batch};
  auto r = exec("check", partition, epoch, array_literal(cols.keys), array_literal(cols.users),
                array_literal(cols.years), array_literal(cols.versions));
  std::vector<std::string> go;
  std::unordered_map<std::string, std::pair<std::string, std::string>> suppressed; // reason, email
  for (const auto& row : r) {
    auto key = row[0].as<std::string>();
    if (!row[1].as<bool>())
      go.push_back(std::move(key));
    else
      suppressed.emplace(std::move(key),
                         std::make_pair(row[2].as<std::string>(), row[3].as<std::string>()));
  }
  if (suppressed.empty()) return go;
  // As the check saw it: the address was suppressed, so this greeting is
  // recorded `suppressed` once and never sent (a later lift does not bring
  // this year's back: GET /greetings shows why).
  std::vector<occurrence> quiet;
  std::vector<std::string> reasons, emails;
  for (const auto& o : batch)
    if (auto it = suppressed.find(o.key); it != suppressed.end()) {
      quiet.push_back(o);
      reasons.push_back("suppressed: " + it->second.first);
      emails.push_back(it->second.second);
    }
  greeting_columns<occurrence> q{quiet};
  insert_records(q.distinct_years, [&] {
    return exec("record_suppressed", partition, epoch, array_literal(q.keys),
                array_literal(q.users), array_literal(q.occasions), array_literal(q.years),
                array_literal(q.dues), now, array_literal(reasons), array_literal(emails));
  });
  return go;
}

std::vector<std::string> store::record_outcomes(int32_t partition, int64_t epoch,
                                                const std::vector<outcome>& batch) {
  if (batch.empty()) return {};
  std::vector<std::string> keys, statuses, errors;
  std::vector<int64_t> nexts, ats;
  std::vector<outcome> fresh;
  for (const auto& o : batch) {
    if (o.status != status::sent && o.status != status::retrying && o.status != status::dead)
      throw std::invalid_argument("record_outcomes: status '" + o.status +
                                  "' is not an outcome (sent, retrying, dead)");
    if (!o.user_id.empty()) {
      fresh.push_back(o);
      continue;
    }
    keys.push_back(o.key);
    statuses.push_back(o.status);
    errors.push_back(o.error);
    nexts.push_back(o.next_attempt_at);
    ats.push_back(o.at);
  }
  std::vector<std::string> done;
  if (!fresh.empty()) done = insert_outcomes(partition, epoch, fresh);
  if (keys.empty()) return done;
  // The number of `claimed` rows swings with every burst, so the statistics
  // are always stale: they estimate a handful in the partition and the
  // planner nests the loop the wrong way round, re-running unnest() for each
  // claimed row (250 x 400 comparisons and 0.4 ms per rescan, seen with
  // auto_explain in bench/burst.sh). A hash join is linear whatever the
  // estimates say.
  pqxx::work w{conn()};
  w.exec("SET LOCAL enable_nestloop = off");
  auto r = w.exec_prepared("record_outcomes", partition, epoch, array_literal(keys),
                           array_literal(statuses), array_literal(errors), array_literal(nexts),
                           array_literal(ats));
  w.commit();
  auto updated = keys_of(r);
  done.insert(done.end(), updated.begin(), updated.end());
  return done;
}

std::vector<std::string> store::insert_outcomes(int32_t partition, int64_t epoch,
                                                const std::vector<outcome>& batch) {
  greeting_columns<outcome> cols{batch};
  std::vector<std::string> statuses, errors, emails;
  std::vector<int64_t> nexts, ats;
  for (const auto& o : batch) {
    statuses.push_back(o.status);
    errors.push_back(o.error);
    nexts.push_back(o.next_attempt_at);
    ats.push_back(o.at);
    emails.push_back(o.email);
  }
  auto r = insert_records(cols.distinct_years, [&] {
    return exec("insert_outcomes", partition, epoch, array_literal(cols.keys),
                array_literal(cols.users), array_literal(cols.occasions), array_literal(cols.years),
                array_literal(cols.dues), array_literal(statuses), array_literal(errors),
                array_literal(nexts), array_literal(ats), array_literal(emails));
  });
  return keys_of(r);
}

std::vector<std::string> store::reclaim(int32_t partition, int64_t epoch,
                                        const std::vector<std::string>& keys, int64_t now) {
  if (keys.empty()) return {};
  auto r = exec("reclaim", partition, epoch, array_literal(keys), now);
  return keys_of(r);
}

std::vector<std::string> store::release(int32_t partition, int64_t epoch,
                                        const std::vector<std::string>& fresh,
                                        const std::vector<std::string>& retries) {
  if (fresh.empty() && retries.empty()) return {};
  return keys_of(exec("release", partition, epoch, array_literal(fresh), array_literal(retries)));
}

std::vector<std::string> store::record_expired(int32_t partition, int64_t epoch,
                                               const std::vector<occurrence>& batch,
                                               const std::string& reason, int64_t) {
  if (batch.empty()) return {};
  greeting_columns<occurrence> cols{batch};
  auto r = insert_records(cols.distinct_years, [&] {
    return exec("record_expired", partition, epoch, array_literal(cols.keys),
                array_literal(cols.users), array_literal(cols.occasions), array_literal(cols.years),
                array_literal(cols.dues), reason);
  });
  return keys_of(r);
}

std::vector<occurrence> store::load_window(int32_t partition, int64_t from, int64_t to,
                                           const schedule_rules& rules) {
  std::vector<occurrence> found;
  auto mds = array_literal(window_month_days(from, to));
  pqxx::work w{conn()};
  for (const auto& occ : rules.occasions) {
    if (find_occasion(occ.name) == nullptr) continue;
    // Column names come from the built-in occasion table, never from input.
    auto rows = w.exec_params(std::string{"SELECT "} + user_columns +
                                  " FROM users WHERE"
                                  " deleted_at IS NULL AND " +
                                  occ.name +
                                  "_date IS NOT NULL"
                                  " AND partition = $1 AND " +
                                  occ.name + "_md = ANY($2::smallint[])",
                              partition, mds);
    schedule_rules only{{occ}, rules.feb29};
    for (const auto& row : rows) {
      auto found_here = occurrences_in(user_of(row), only, from, to);
      if (found_here.empty() && !find_zone(row[4].as<std::string>()))
        spdlog::warn("event=window.skip user={} reason=\"unknown zone\"", row[0].as<std::string>());
      std::move(found_here.begin(), found_here.end(), std::back_inserter(found));
    }
  }
  if (!found.empty()) {
    std::vector<std::string> keys;
    for (const auto& o : found)
      keys.push_back(o.key);
    std::set<std::string> existing;
    for (const auto& row : w.exec_prepared("existing_keys", array_literal(keys)))
      existing.insert(row[0].as<std::string>());
    found.erase(std::remove_if(found.begin(), found.end(),
                               [&](const occurrence& o) { return existing.count(o.key) > 0; }),
                found.end());
  }
  w.commit();
  return found;
}

namespace {

// A record to send again, from the columns of "resumable" and "redrive":
// key, user, occasion, year, due, attempts, next attempt, first, last, email.
occurrence pending_of(const pqxx::row& row, int32_t partition) {
  occurrence o;
  o.key = row[0].as<std::string>();
  o.user_id = row[1].as<std::string>();
  o.occasion = row[2].as<std::string>();
  o.year = row[3].as<int32_t>();
  o.due_at = row[4].as<int64_t>();
  o.attempts = row[5].as<int32_t>();
  o.next_attempt_at = row[6].as<int64_t>();
  o.partition = partition;
  o.email = row[9].as<std::string>();
  o.first_name = row[7].as<std::string>();
  o.last_name = row[8].as<std::string>();
  if (const auto* def = find_occasion(o.occasion))
    o.message = def->message.render({o.first_name, o.last_name});
  return o;
}

} // namespace

change_batch store::changes(int32_t partition, int64_t cursor) {
  pqxx::work w{conn()};
  change_batch out;
  out.cursor = w.exec_prepared1("xmin")[0].as<int64_t>();
  if (cursor > 0 && cursor < out.cursor)
    for (const auto& row : w.exec_prepared("changes", partition, cursor, out.cursor))
      out.users.push_back(user_of(row));
  if (cursor > out.cursor) out.cursor = cursor; // never back
  w.commit();
  return out;
}

std::vector<std::string> store::confirm(int32_t partition, int64_t epoch,
                                        const std::vector<occurrence>& batch) {
  if (batch.empty()) return {};
  std::vector<std::string> keys;
  std::vector<int64_t> versions;
  for (const auto& o : batch) {
    keys.push_back(o.key);
    versions.push_back(o.version);
  }
  return keys_of(exec("confirm", partition, epoch, array_literal(keys), array_literal(versions)));
}

std::vector<occurrence> store::unfinished(int32_t partition, int64_t epoch) {
  std::vector<occurrence> out;
  for (const auto& row : exec("unfinished", partition, epoch)) {
    auto o = pending_of(row, partition);
    o.owner_epoch = row[10].as<int64_t>();
    // What tells the two apart for the caller: a claimed record has no
    // retry instant (due at once), a retrying one always has one.
    if (row[11].as<std::string>() == status::claimed)
      o.next_attempt_at = 0;
    else if (o.next_attempt_at == 0)
      o.next_attempt_at = 1;
    out.push_back(std::move(o));
  }
  return out;
}

std::vector<occurrence> store::load_resumable(int32_t partition, int64_t epoch,
                                              const schedule_rules&) {
  auto rows = exec("resumable", partition, epoch);
  std::vector<occurrence> out;
  for (const auto& row : rows)
    out.push_back(pending_of(row, partition));
  return out;
}

namespace {
// The TypeScript service's words (contract.md: the message names the email).
error email_in_use(const std::string& email) {
  return {errc::duplicate, "User with email " + email + " already exists"};
}
} // namespace

result<user> store::create_user(const user& u) {
  try {
    auto r = exec("create_user", u.id, u.first_name, u.last_name, u.email, u.timezone,
                  u.birthday_date, u.anniversary_date, u.location_city, u.location_country,
                  u.partition, u.created_at, u.updated_at);
    return user_of(r[0]);
  } catch (const pqxx::unique_violation&) {
    return email_in_use(u.email);
  }
}

std::vector<result<user>> store::create_users(const std::vector<user>& us, bool lost) {
  std::vector<std::string> ids, first, last, email, zone, bday, anniv, city, country;
  std::vector<int64_t> part, created, updated;
  for (const auto& u : us) {
    ids.push_back(u.id);
    first.push_back(u.first_name);
    last.push_back(u.last_name);
    email.push_back(u.email);
    zone.push_back(u.timezone);
    bday.push_back(u.birthday_date);
    anniv.push_back(u.anniversary_date);
    city.push_back(u.location_city);
    country.push_back(u.location_country);
    part.push_back(u.partition);
    created.push_back(u.created_at);
    updated.push_back(u.updated_at);
  }
  std::map<std::string, user> saved;
  for (const auto& row :
       exec("create_users", array_literal(ids), array_literal(first), array_literal(last),
            array_literal(email), array_literal(zone), array_literal(bday), array_literal(anniv),
            array_literal(city), array_literal(country), array_literal(part),
            array_literal(created), array_literal(updated))) {
    auto u = user_of(row);
    saved.emplace(u.id, std::move(u));
  }
  // Left out: a conflict, unless an earlier try of this very statement
  // committed without our hearing it (the retry after a lost connection):
  // then the row with our id and email is there, and it is ours.
  if (lost && saved.size() < us.size()) {
    std::map<std::string, std::string> missing; // id -> email asked for
    for (const auto& u : us)
      if (!saved.count(u.id)) missing.emplace(u.id, u.email);
    std::vector<std::string> ids_missing;
    for (const auto& [id, e] : missing)
      ids_missing.push_back(id);
    for (const auto& row : exec("users_by_ids", array_literal(ids_missing))) {
      auto u = user_of(row);
      if (missing[u.id] == u.email) saved.emplace(u.id, std::move(u));
    }
  }
  std::vector<result<user>> out;
  for (const auto& u : us) {
    auto it = saved.find(u.id);
    if (it != saved.end())
      out.emplace_back(it->second);
    else
      out.emplace_back(email_in_use(u.email));
  }
  return out;
}

result<user> store::get_user(const std::string& id) {
  if (!is_uuid(id)) return error{errc::not_found, "no user " + id};
  auto r = exec("get_user", id);
  if (r.empty()) return error{errc::not_found, "no user " + id};
  return user_of(r[0]);
}

result<user> store::update_user(const user& u) {
  if (!is_uuid(u.id)) return error{errc::not_found, "no user " + u.id};
  try {
    pqxx::work w{conn()};
    auto r = w.exec_prepared("update_user", u.id, u.first_name, u.last_name, u.email, u.timezone,
                             u.birthday_date, u.anniversary_date, u.location_city,
                             u.location_country, u.updated_at);
    if (r.empty()) return error{errc::not_found, "no user " + u.id};
    w.exec_prepared("readdress", u.id, u.email, u.updated_at);
    w.commit();
    return user_of(r[0]);
  } catch (const pqxx::unique_violation&) {
    return email_in_use(u.email);
  }
}

result<user> store::delete_user(const std::string& id, int64_t now) {
  if (!is_uuid(id)) return error{errc::not_found, "no user " + id};
  pqxx::work w{conn()};
  auto r = w.exec_prepared("delete_user", id, now);
  if (r.empty()) return error{errc::not_found, "no user " + id};
  w.exec_prepared("cancel_pending", id);
  w.commit();
  return user_of(r[0]);
}

std::vector<user> store::list_users(size_t limit, const std::string& after_id) {
  auto after = after_id.empty() ? std::string{"00000000-0000-0000-0000-000000000000"} : after_id;
  if (!is_uuid(after)) return {};
  auto rows = exec("list_users", after, static_cast<int64_t>(limit));
  std::vector<user> out;
  for (const auto& row : rows)
    out.push_back(user_of(row));
  return out;
}

std::vector<send_record> store::records_of_user(const std::string& user_id) {
  if (!is_uuid(user_id)) return {};
  auto rows = exec("records_of_user", user_id);
  std::vector<send_record> out;
  for (const auto& row : rows)
    out.push_back(record_of(row));
  return out;
}

std::vector<forecast_group> store::occasion_groups(const std::vector<int32_t>& mds) {
  std::string days = "{";
  for (size_t i = 0; i < mds.size(); ++i)
    days += (i ? "," : "") + std::to_string(mds[i]);
  days += "}";
  std::vector<forecast_group> out;
  for (const auto& row : exec("occasion_groups", days))
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<int>(),
                   row[3].as<int64_t>()});
  return out;
}

std::vector<std::pair<std::string, int64_t>> store::unsent_counts() {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& row : exec("unsent_counts"))
    out.emplace_back(row[0].as<std::string>(), row[1].as<int64_t>());
  return out;
}

std::vector<send_record> store::records_by_status(const std::string& status, size_t limit,
                                                  const std::string& after_key) {
  auto n = static_cast<int64_t>(limit);
  auto rows = status.empty()                   ? exec("records_after", after_key, n)
              : status == candle::status::sent ? exec("records_sent", after_key, n)
                                               : exec("records_by_status", status, after_key, n);
  std::vector<send_record> out;
  for (const auto& row : rows)
    out.push_back(record_of(row));
  return out;
}

namespace {
// Redriven records are the owners' to reclaim: `r<partition>` on
// candle_changes, sent at commit, wakes each owner's sweep (the durable path
// when the owner is not told over CAF; docs/cluster.md).
void notify_redriven(pqxx::work& w, const std::set<int32_t>& partitions) {
  for (auto p : partitions)
    w.exec_params("SELECT pg_notify('candle_changes', $1)", "r" + std::to_string(p));
}
} // namespace

result<occurrence> store::redrive(const std::string& key, int64_t now) {
  pqxx::work w{conn()};
  auto r = w.exec_prepared("redrive", key, now);
  if (r.empty()) {
    auto st = w.exec_prepared("record_status", key);
    if (st.empty()) return error{errc::not_found, "no greeting " + key};
    auto status = st[0][0].as<std::string>();
    if (status == "dead" || status == "expired")
      return error{errc::not_found, "the user of " + key + " was deleted"};
    return error{errc::conflict,
                 "greeting " + key + " is " + status + "; only dead or expired ones are redriven"};
  }
  auto o = pending_of(r[0], r[0][10].as<int32_t>());
  notify_redriven(w, {o.partition});
  w.commit();
  return o;
}

result<user> store::find_user(const std::string& id_or_email) {
  if (id_or_email.find('@') == std::string::npos) return get_user(id_or_email);
  auto r = exec("get_user_by_email", id_or_email);
  if (r.empty()) return error{errc::not_found, "no user with email " + id_or_email};
  return user_of(r[0]);
}

result<store::bulk_redrive> store::redrive_all(const std::string& status,
                                               const std::string& occasion, int64_t now,
                                               bool dry_run) {
  if (status != "dead" && status != "expired")
    return error{errc::invalid_argument,
                 "only dead or expired greetings are redriven, not " + status};
  pqxx::work w{conn()};
  bulk_redrive out;
  out.count = w.exec_prepared1("redrive_count", status, occasion)[0].as<uint64_t>();
  for (const auto& row : w.exec_prepared("redrive_sample", status, occasion))
    out.sample.push_back(row[0].as<std::string>());
  if (!dry_run) {
    // One statement: every matching record moves, or none does.
    std::set<int32_t> partitions;
    for (const auto& row : w.exec_prepared("redrive_bulk", status, occasion, now)) {
      out.redriven.push_back(pending_of(row, row[10].as<int32_t>()));
      partitions.insert(out.redriven.back().partition);
    }
    out.count = out.redriven.size();
    notify_redriven(w, partitions);
  }
  w.commit();
  return out;
}

store::applied store::apply_stored_events(const std::vector<std::string>& keys) {
  applied out;
  if (keys.empty()) return out;
  for (int tries = 1;; ++tries) {
    try {
      auto r = exec("apply_stored_events", array_literal(keys));
      for (const auto& row : r) {
        out.recorded.insert(row[0].as<std::string>());
        out.suppressed = row[1].as<uint64_t>();
      }
      return out;
    } catch (const pqxx::transaction_rollback&) {
      if (tries == 5) throw; // a deadlock with another writer of these greetings
    }
  }
}

store::ingested store::ingest_events(const std::vector<delivery_event>& events) {
  ingested out;
  if (events.empty()) return out;
  std::vector<std::string> ids, types, keys, reasons;
  std::vector<int64_t> ats;
  // In id order, and inserted in it: concurrent writers of overlapping
  // batches wait for each other instead of deadlocking on the ids.
  std::vector<const delivery_event*> sorted;
  for (const auto& e : events)
    sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](const delivery_event* a, const delivery_event* b) { return a->id < b->id; });
  for (const auto* p : sorted) {
    const auto& e = *p;
    if (!delivery::event_type(e.type))
      throw std::invalid_argument("ingest_events: '" + e.type + "' is not an event type");
    ids.push_back(e.id);
    types.push_back(e.type);
    keys.push_back(e.key);
    ats.push_back(e.at);
    reasons.push_back(e.reason);
  }
  pqxx::result r;
  for (int tries = 1;; ++tries) {
    try {
      r = exec("ingest_events", array_literal(ids), array_literal(types), array_literal(keys),
               array_literal(ats), array_literal(reasons));
      break;
    } catch (const pqxx::transaction_rollback&) {
      // A deadlock with another writer of the same greetings (the server
      // rolled this statement back whole): run it again.
      if (tries == 5) throw;
    }
  }
  for (const auto& row : r) {
    auto id = row[0].as<std::string>();
    if (!row[1].as<bool>()) out.unknown.insert(id);
    out.stored.insert(std::move(id));
    out.moved = row[2].as<uint64_t>();
    out.suppressed = row[3].as<uint64_t>();
  }
  return out;
}

result<send_record> store::greeting(const std::string& key, std::vector<delivery_event>& events) {
  pqxx::work w{conn()};
  auto r = w.exec_prepared("greeting", key);
  if (r.empty()) return error{errc::not_found, "no greeting " + key};
  events.clear();
  for (const auto& row : w.exec_prepared("events_of", key))
    events.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                      row[3].as<int64_t>(), row[4].as<std::string>(), row[5].as<int64_t>()});
  w.commit();
  return record_of(r[0]);
}

std::vector<suppression> store::suppressions(size_t limit, const std::string& after_email) {
  std::vector<suppression> out;
  for (const auto& row : exec("suppressions", after_email, static_cast<int64_t>(limit)))
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                   row[3].as<std::string>(), row[4].as<int64_t>()});
  return out;
}

bool store::unsuppress(const std::string& email) {
  return !exec("unsuppress", email).empty();
}

} // namespace candle::pg
