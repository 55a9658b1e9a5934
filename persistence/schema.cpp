#include "persistence/schema.hpp"

#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <spdlog/spdlog.h>

namespace candle::pg {

namespace {

// pg_advisory_lock key: "candle" in ASCII.
constexpr long long migration_lock = 0x63616e646c65;

const char* v1 = R"sql(
CREATE TABLE meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE users (
  id               uuid PRIMARY KEY,
  first_name       text NOT NULL,
  last_name        text NOT NULL,
  email            text NOT NULL CHECK (email = lower(email)),
  timezone         text NOT NULL,
  birthday_date    date,
  anniversary_date date,
  location_city    text,
  location_country text,
  partition        integer NOT NULL,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  deleted_at       timestamptz,
  -- month*100+day, for window scans by calendar day
  birthday_md      smallint GENERATED ALWAYS AS
    ((EXTRACT(MONTH FROM birthday_date) * 100 + EXTRACT(DAY FROM birthday_date))::smallint) STORED,
  anniversary_md   smallint GENERATED ALWAYS AS
    ((EXTRACT(MONTH FROM anniversary_date) * 100 + EXTRACT(DAY FROM anniversary_date))::smallint) STORED
);
-- Unique among live users, case-insensitively (emails are stored lower-case).
CREATE UNIQUE INDEX users_email_live ON users (email) WHERE deleted_at IS NULL;
CREATE INDEX users_birthday_window ON users (birthday_md, partition)
  WHERE deleted_at IS NULL AND birthday_date IS NOT NULL;
CREATE INDEX users_anniversary_window ON users (anniversary_md, partition)
  WHERE deleted_at IS NULL AND anniversary_date IS NOT NULL;
CREATE INDEX users_live_by_id ON users (id) WHERE deleted_at IS NULL;

CREATE TABLE partition_leases (
  partition  integer PRIMARY KEY,
  owner      text,
  expires_at timestamptz NOT NULL DEFAULT '-infinity',
  epoch      bigint NOT NULL DEFAULT 0
);

CREATE TABLE nodes (
  id           text PRIMARY KEY,
  address      text NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE send_records (
  idempotency_key text PRIMARY KEY,
  user_id         uuid NOT NULL REFERENCES users (id),
  occasion        text NOT NULL,
  year            integer NOT NULL,
  partition       integer NOT NULL,
  due_at          timestamptz NOT NULL,
  status          text NOT NULL
    CHECK (status IN ('claimed', 'sent', 'retrying', 'dead', 'expired', 'cancelled')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_error      text,
  owner_epoch     bigint NOT NULL,
  claimed_at      timestamptz,
  sent_at         timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX send_records_by_user ON send_records (user_id);
CREATE INDEX send_records_by_status ON send_records (status, idempotency_key);
CREATE INDEX send_records_resumable ON send_records (partition)
  WHERE status IN ('claimed', 'retrying');
)sql";

// Each partition's horizon: every occurrence due before it has a send record
// (claimed, expired, ...) or was never eligible. A new owner expires the misses
// between the horizon and now - recovery window.
const char* v2 = R"sql(
ALTER TABLE partition_leases ADD COLUMN horizon timestamptz;
)sql";

// Cheaper claims and outcomes (issue 8, measured with persistence_bench):
// the foreign key ran a trigger and a row lock per claimed greeting although
// the claim already joins the live user (users are never hard-deleted); the
// status index skips `sent`, the bulk of the table, which listing by status
// reads through the primary key instead.
const char* v3 = R"sql(
ALTER TABLE send_records DROP CONSTRAINT send_records_user_id_fkey;
DROP INDEX send_records_by_status;
CREATE INDEX send_records_by_status ON send_records (status, idempotency_key)
  WHERE status <> 'sent';
)sql";

// The cluster (issue 13): what peers need to reach a node and to tell it is
// alive (its advisory lock key: a session lock held while its process lives),
// and the cluster's simulated clock, which a joining node adopts.
const char* v4 = R"sql(
CREATE SEQUENCE node_lock_keys;
ALTER TABLE nodes
  ADD COLUMN lock_key     integer NOT NULL DEFAULT nextval('node_lock_keys'),
  ADD COLUMN cluster_port integer NOT NULL DEFAULT 0,
  ADD COLUMN console_port integer NOT NULL DEFAULT 0,
  ADD COLUMN rest_url     text NOT NULL DEFAULT '',
  ADD COLUMN version      text NOT NULL DEFAULT '';
CREATE TABLE cluster_clock (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  sim_ms    bigint NOT NULL,
  at        timestamptz NOT NULL DEFAULT now(),
  speed     double precision NOT NULL
);
)sql";

// The console (issue 14): the cluster's delivery pause, kept here so a
// timed pause ends by itself and a restarted node starts paused.
const char* v5 = R"sql(
CREATE TABLE cluster_pause (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  paused    boolean NOT NULL,
  until     timestamptz,
  by_whom   text NOT NULL DEFAULT '',
  version   bigint NOT NULL DEFAULT 1,
  at        timestamptz NOT NULL DEFAULT now()
);
)sql";

// Delivery events (issue 17): the provider's events, stored once by id; each
// greeting's latest delivery state, the node that claimed it and the address
// it goes to (a bounce suppresses that one, whatever the user's email is
// now); addresses not sent to. NOT VALID: existing rows already meet the wider check, and a
// large table is not scanned to prove it.
const char* v6 = R"sql(
ALTER TABLE send_records DROP CONSTRAINT send_records_status_check;
ALTER TABLE send_records ADD CONSTRAINT send_records_status_check CHECK
  (status IN ('claimed', 'sent', 'retrying', 'dead', 'expired', 'cancelled', 'suppressed')) NOT VALID;
ALTER TABLE send_records
  ADD COLUMN delivery    text,
  ADD COLUMN delivery_at timestamptz,
  ADD COLUMN claimed_by  text,
  ADD COLUMN sent_to     text;
CREATE TABLE delivery_events (
  id          text PRIMARY KEY,
  key         text NOT NULL,
  type        text NOT NULL CHECK (type IN ('deferred', 'delivered', 'bounced', 'complained')),
  at          timestamptz NOT NULL,
  reason      text,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_events_by_key ON delivery_events (key, at);
CREATE TABLE suppressions (
  email  text PRIMARY KEY CHECK (email = lower(email)),
  reason text NOT NULL,
  type   text NOT NULL,
  key    text NOT NULL,
  at     timestamptz NOT NULL DEFAULT now()
);
)sql";

// candle-import (issue 19): a greeting the old service sent keeps its key
// there (its message_logs.idempotency_key) beside Candle's.
const char* v7 = R"sql(
ALTER TABLE send_records ADD COLUMN imported_key text;
)sql";

// Memory converges to the database (issue 34): every committed write of a
// user row, by Candle or by hand, is readable by the partition's owner from a
// cursor over the writing transaction's id (xid8). A cursor over ids or
// timestamps assigned before commit skips a row whose transaction commits
// after a later one's, so readers only read below their snapshot's xmin, the
// transactional-outbox rule (store::changes). Inserts take the id from the
// column's default, updates from a row trigger; a statement trigger tells
// the owners' nodes which partitions changed (one notification per partition
// and transaction: PostgreSQL folds repeats). The column is added with a
// constant default so a large table is not rewritten; rows from before read
// 0, below every cursor, and were loaded from the window as before.
const char* v8 = R"sql(
ALTER TABLE users ADD COLUMN changed_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE users ALTER COLUMN changed_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX users_changes ON users (partition, changed_xid);
CREATE FUNCTION candle_user_touched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.changed_xid := pg_current_xact_id();
  RETURN NEW;
END $$;
CREATE TRIGGER users_touched BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION candle_user_touched();
CREATE FUNCTION candle_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('candle_changes', p::text) FROM (SELECT DISTINCT partition AS p FROM changed) d;
  RETURN NULL;
END $$;
CREATE TRIGGER users_inserted AFTER INSERT ON users REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION candle_users_changed();
CREATE TRIGGER users_updated AFTER UPDATE ON users REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION candle_users_changed();
)sql";

// send_records by year (issue 35): a billion users add a billion rows a
// year, and the hot indexes should hold one year, not all of history. The
// key already holds the year, so (key, year) is as unique as the key; each
// year is its own table (send_records_<year>), made before its first row
// (candle_record_year: by the store on demand, and ahead by the records
// keeper), and a year older than records.keep-years is dropped whole, which
// costs no vacuum. The rows move over in this migration's one transaction:
// on a large table plan the upgrade for it (docs/persistence.md).
const char* v9 = R"sql(
CREATE FUNCTION candle_record_year(y integer) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  name text := 'send_records_' || y;
BEGIN
  IF to_regclass(name) IS NOT NULL THEN RETURN false; END IF;
  -- Attaching takes the parent's lock: never wait behind a long reader for
  -- it with every writer queued behind us; the caller tries again.
  PERFORM set_config('lock_timeout', '5s', true);
  EXECUTE format('CREATE TABLE %I PARTITION OF send_records FOR VALUES FROM (%s) TO (%s)',
                 name, y, y + 1);
  RETURN true;
EXCEPTION WHEN duplicate_table OR unique_violation OR invalid_object_definition THEN
  IF to_regclass(name) IS NULL THEN RAISE; END IF;
  RETURN false; -- another session made it meanwhile
END $$;

ALTER TABLE send_records RENAME TO send_records_v8;
ALTER INDEX send_records_pkey RENAME TO send_records_v8_pkey;
ALTER INDEX send_records_by_user RENAME TO send_records_v8_by_user;
ALTER INDEX send_records_by_status RENAME TO send_records_v8_by_status;
ALTER INDEX send_records_resumable RENAME TO send_records_v8_resumable;

CREATE TABLE send_records (
  idempotency_key text NOT NULL,
  user_id         uuid NOT NULL,
  occasion        text NOT NULL,
  year            integer NOT NULL,
  partition       integer NOT NULL,
  due_at          timestamptz NOT NULL,
  status          text NOT NULL CONSTRAINT send_records_status_check CHECK
    (status IN ('claimed', 'sent', 'retrying', 'dead', 'expired', 'cancelled', 'suppressed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_error      text,
  owner_epoch     bigint NOT NULL,
  claimed_at      timestamptz,
  sent_at         timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  delivery        text,
  delivery_at     timestamptz,
  claimed_by      text,
  sent_to         text,
  imported_key    text,
  PRIMARY KEY (idempotency_key, year)
) PARTITION BY RANGE (year);
CREATE INDEX send_records_by_user ON send_records (user_id);
CREATE INDEX send_records_by_status ON send_records (status, idempotency_key)
  WHERE status <> 'sent';
CREATE INDEX send_records_resumable ON send_records (partition)
  WHERE status IN ('claimed', 'retrying');

SELECT candle_record_year(year) FROM (SELECT DISTINCT year FROM send_records_v8) y;
INSERT INTO send_records (idempotency_key, user_id, occasion, year, partition, due_at, status,
  attempts, next_attempt_at, last_error, owner_epoch, claimed_at, sent_at, updated_at, delivery,
  delivery_at, claimed_by, sent_to, imported_key)
SELECT idempotency_key, user_id, occasion, year, partition, due_at, status, attempts,
  next_attempt_at, last_error, owner_epoch, claimed_at, sent_at, updated_at, delivery,
  delivery_at, claimed_by, sent_to, imported_key FROM send_records_v8;
DROP TABLE send_records_v8;
)sql";

} // namespace

const std::vector<migration>& migrations() {
  static const std::vector<migration> all{
      {1, "initial schema", v1},
      {2, "partition horizon", v2},
      {3, "lighter send_records writes", v3},
      {4, "cluster membership and clock", v4},
      {5, "cluster delivery pause", v5},
      {6, "delivery events and suppressions", v6},
      {7, "imported greetings", v7},
      {8, "user change feed", v8},
      {9, "send records by year", v9},
  };
  return all;
}

int migrate(pqxx::connection& c, int up_to) {
  auto lock_sql = [](const char* fn) {
    return std::string{"SELECT "} + fn + "(" + std::to_string(migration_lock) + ")";
  };
  // A session-level lock: held across the per-migration transactions below,
  // released on unlock or when the connection closes (even after a crash).
  pqxx::nontransaction{c}.exec(lock_sql("pg_advisory_lock"));
  int applied = 0;
  try {
    pqxx::nontransaction{c}.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 " version integer PRIMARY KEY, name text NOT NULL,"
                                 " applied_at timestamptz NOT NULL DEFAULT now())");
    for (const auto& m : migrations()) {
      if (m.version > up_to) break;
      pqxx::work w{c};
      if (!w.exec("SELECT 1 FROM schema_migrations WHERE version = " + w.quote(m.version)).empty())
        continue;
      w.exec(m.sql);
      w.exec("INSERT INTO schema_migrations (version, name) VALUES (" + w.quote(m.version) + ", " +
             w.quote(m.name) + ")");
      w.commit();
      spdlog::info("event=db.migrated version={} name=\"{}\"", m.version, m.name);
      ++applied;
    }
  } catch (...) {
    try {
      pqxx::nontransaction{c}.exec(lock_sql("pg_advisory_unlock"));
    } catch (...) {
    }
    throw;
  }
  pqxx::nontransaction{c}.exec(lock_sql("pg_advisory_unlock"));
  return applied;
}

int32_t fixed_partition_count(pqxx::connection& c, int32_t requested) {
  pqxx::work w{c};
  w.exec("INSERT INTO meta (key, value) VALUES ('partitions', " + w.quote(requested) +
         ") ON CONFLICT (key) DO NOTHING");
  auto r = w.exec1("SELECT value::integer FROM meta WHERE key = 'partitions'");
  w.commit();
  return r[0].as<int32_t>();
}

} // namespace candle::pg
