// SQL shared by the lease statements (store.cpp) and membership
// (membership.cpp): how PostgreSQL tells that a node's process is alive.
// Every node holds pg_advisory_lock(lock_namespace, nodes.lock_key) on its
// membership connection for as long as it runs; the server drops it the
// moment that session ends, so a `kill -9` shows within about a second,
// while a paused (SIGSTOP) process keeps it and is only judged by its lease.
#pragma once

namespace candle::pg {

/// The first key of every node's session lock: "CAND" in ASCII.
constexpr int lock_namespace = 0x43414e44;

/// Run on every connection Candle opens: Candle's transactions are single
/// statements committed at once, so one idle inside a transaction for
/// seconds belongs to a paused process and must not keep its locks.
constexpr const char* idle_transaction_limit = "SET idle_in_transaction_session_timeout = '3s'";

} // namespace candle::pg

// True while node row `n` (an alias of `nodes`) has its session lock (advisory
// locks are server-wide: the database is part of the key).
#define CANDLE_SESSION_HELD(n)                                                                     \
  "EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory'"                                 \
  " AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())"             \
  " AND k.classid = 1128353348::oid AND k.objid = " n ".lock_key::oid"                             \
  " AND k.objsubid = 2 AND k.granted)"
