// Every actor interface of Candle, with the messages and types they exchange.
// Include this only in translation units that define or talk to actors: CAF
// headers are heavy.
#pragma once

#include "core/cluster_view.hpp"
#include "core/model.hpp"
#include "core/status.hpp"

#include <caf/all.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace candle {

// -- errors -------------------------------------------------------------------

/// A CAF error of category "candle" with Candle's code (core/result.hpp).
caf::error make_error(errc x, std::string context = {});

/// Renders Candle's errors for CAF (`cfg.add_error_category`).
std::string render_error(uint8_t code, caf::atom_value, const caf::message& context);

// -- atoms --------------------------------------------------------------------

namespace atom {
using claim = caf::atom_constant<caf::atom("claim")>;
using record = caf::atom_constant<caf::atom("record")>;
using reclaim = caf::atom_constant<caf::atom("reclaim")>;
using expire = caf::atom_constant<caf::atom("expire")>;
using window = caf::atom_constant<caf::atom("window")>;
using resume = caf::atom_constant<caf::atom("resume")>;
using lease = caf::atom_constant<caf::atom("lease")>;
using create = caf::atom_constant<caf::atom("create")>;
using get = caf::atom_constant<caf::atom("get")>;
using update = caf::atom_constant<caf::atom("update")>;
using remove = caf::atom_constant<caf::atom("remove")>;
using list = caf::atom_constant<caf::atom("list")>;
using records = caf::atom_constant<caf::atom("records")>;
using by_status = caf::atom_constant<caf::atom("by_status")>;
using ping = caf::atom_constant<caf::atom("ping")>;
using upsert = caf::atom_constant<caf::atom("upsert")>;
using tick = caf::atom_constant<caf::atom("tick")>;
using send = caf::atom_constant<caf::atom("send")>;
using status = caf::atom_constant<caf::atom("status")>;
using renew = caf::atom_constant<caf::atom("renew")>;
using crash = caf::atom_constant<caf::atom("crash")>;
using restart = caf::atom_constant<caf::atom("restart")>;
using lookup = caf::atom_constant<caf::atom("lookup")>;
using dashboard = caf::atom_constant<caf::atom("dashboard")>;
using horizon = caf::atom_constant<caf::atom("horizon")>;
using redrive = caf::atom_constant<caf::atom("redrive")>;
using pause = caf::atom_constant<caf::atom("pause")>;
using done = caf::atom_constant<caf::atom("done")>;
using release = caf::atom_constant<caf::atom("release")>;
using unlease = caf::atom_constant<caf::atom("unlease")>;
using handoff = caf::atom_constant<caf::atom("handoff")>;
using view = caf::atom_constant<caf::atom("view")>;
using clock = caf::atom_constant<caf::atom("clock")>;
using route = caf::atom_constant<caf::atom("route")>;
using leave = caf::atom_constant<caf::atom("leave")>;
using partitions = caf::atom_constant<caf::atom("partitions")>;
using upcoming = caf::atom_constant<caf::atom("upcoming")>;
using nodes = caf::atom_constant<caf::atom("nodes")>;
using failed = caf::atom_constant<caf::atom("failed")>;
using ingest = caf::atom_constant<caf::atom("ingest")>;
using greeting = caf::atom_constant<caf::atom("greeting")>;
using suppress = caf::atom_constant<caf::atom("suppress")>;
using unsuppress = caf::atom_constant<caf::atom("unsuppress")>;
using changes = caf::atom_constant<caf::atom("changes")>;
using confirm = caf::atom_constant<caf::atom("confirm")>;
using check = caf::atom_constant<caf::atom("check")>;
using sweep = caf::atom_constant<caf::atom("sweep")>;
using audit = caf::atom_constant<caf::atom("audit")>;
using withdraw = caf::atom_constant<caf::atom("withdraw")>;
} // namespace atom

/// One delivery attempt as the DELIVERY actor reports it.
struct attempt {
  /// withdrawn: not sent, taken back from delivery's queue by its partition,
  /// which is handing off (the record stays `claimed`: the next owner sends it).
  enum kind : int32_t { sent = 0, transient = 1, permanent = 2, withdrawn = 3 };
  std::string key;
  int32_t result = sent;
  std::string error;          ///< provider message or transport error
  int64_t retry_after_ms = 0; ///< the provider's Retry-After, if any
};

using key_list = std::vector<std::string>;
using occurrence_list = std::vector<occurrence>;
using outcome_list = std::vector<outcome>;
using user_list = std::vector<user>;
/// One user of a many-user create: the stored user, or (not created) the
/// one asked for, whose email is taken.
struct create_outcome {
  user u;
  bool created = false;
};
using create_outcomes = std::vector<create_outcome>;
using record_list = std::vector<send_record>;
using attempt_list = std::vector<attempt>;

/// What a bulk redrive matched (a dry run) or moved back to `retrying`.
struct redrive_batch {
  uint64_t count = 0;
  key_list sample;          ///< the first keys, at most 10
  occurrence_list redriven; ///< the greetings to reclaim (empty on a dry run)
};

using event_list = std::vector<delivery_event>;
using suppression_list = std::vector<suppression>;

/// What one ingestion request stored.
struct ingest_report {
  uint64_t stored = 0;     ///< new events
  uint64_t duplicates = 0; ///< ids already stored (or twice in the request)
  uint64_t unknown = 0;    ///< new events for keys without a send record
};

/// A greeting's send record with its delivery events, oldest first.
struct greeting_detail {
  send_record record;
  event_list events;
};

// -- interfaces -----------------------------------------------------------------

/// The PERSISTENCE actor: the only way to the database. Requests are queued
/// up to a bound (beyond it: `errc::overloaded`), run on detached workers with
/// their own connections (reconnecting by themselves), in order per partition.
/// Fenced writes name (partition, epoch).
using persistence_actor = caf::typed_actor<
    // Claim occurrences: (partition, epoch, batch, now) -> keys claimed.
    caf::replies_to<atom::claim, int32_t, int64_t, occurrence_list, int64_t>::with<key_list>,
    // Check occurrences right before sending them without a claim: (partition,
    // epoch, batch, now) -> keys that may go (no record, user as computed,
    // lease current; a suppressed address gets its `suppressed` record).
    caf::replies_to<atom::check, int32_t, int64_t, occurrence_list, int64_t>::with<key_list>,
    // Record delivery outcomes: (partition, epoch, batch) -> keys written
    // (claimed records updated, checked greetings' rows inserted).
    caf::replies_to<atom::record, int32_t, int64_t, outcome_list>::with<key_list>,
    // Re-claim retrying / stale-claimed records: (partition, epoch, keys, now).
    caf::replies_to<atom::reclaim, int32_t, int64_t, key_list, int64_t>::with<key_list>,
    // Give back claims taken ahead of their instant: (partition, epoch, fresh keys,
    // retry keys); fresh records are deleted, reclaimed retries go back to `retrying`.
    caf::replies_to<atom::release, int32_t, int64_t, key_list, key_list>::with<key_list>,
    // Record misses beyond the recovery window: (partition, epoch, batch, reason, now).
    caf::replies_to<atom::expire, int32_t, int64_t, occurrence_list, std::string,
                    int64_t>::with<key_list>,
    // Window scan: (partition, from, to) -> occurrences without a record.
    caf::replies_to<atom::window, int32_t, int64_t, int64_t>::with<occurrence_list>,
    // Records to resume: (partition, epoch) -> retrying and stale claimed ones.
    caf::replies_to<atom::resume, int32_t, int64_t>::with<occurrence_list>,
    // The change feed: (partition, cursor) -> user rows written since, next
    // cursor (cursor 0: only where to start).
    caf::replies_to<atom::changes, int32_t, int64_t>::with<change_batch>,
    // Claims taken ahead still ours with their user unchanged:
    // (partition, epoch, batch) -> keys confirmed.
    caf::replies_to<atom::confirm, int32_t, int64_t, occurrence_list>::with<key_list>,
    // Unfinished records (claimed up to epoch, or retrying), owner_epoch set:
    // (partition, epoch) -> the sweep's view.
    caf::replies_to<atom::sweep, int32_t, int64_t>::with<occurrence_list>,
    // Acquire a partition lease: (partition, node, ttl seconds) -> epoch (0 = held elsewhere).
    caf::replies_to<atom::lease, int32_t, std::string, int64_t>::with<int64_t>,
    // A partition's horizon (0 = none): (partition) -> epoch ms.
    caf::replies_to<atom::horizon, int32_t>::with<int64_t>,
    // Move it forward, fenced: (partition, epoch, to) -> accepted?
    caf::replies_to<atom::horizon, int32_t, int64_t, int64_t>::with<bool>,
    // Hand a held lease back at once and notify peers: (partition, node, epoch) -> was ours?
    caf::replies_to<atom::unlease, int32_t, std::string, int64_t>::with<bool>,
    // Users.
    caf::replies_to<atom::create, user>::with<user>,
    // Many users in one statement and commit (the bulk API), in order.
    caf::replies_to<atom::create, user_list>::with<create_outcomes>,
    caf::replies_to<atom::get, std::string>::with<user>,
    caf::replies_to<atom::update, user>::with<user>,
    caf::replies_to<atom::remove, std::string, int64_t>::with<user>,
    caf::replies_to<atom::list, uint64_t, std::string>::with<user_list>,
    // Send records of a user; by status after a key (keyset).
    caf::replies_to<atom::records, std::string>::with<record_list>,
    caf::replies_to<atom::by_status, std::string, uint64_t, std::string>::with<record_list>,
    // A dead or expired record back to retrying: (key, now) -> the greeting to reclaim.
    caf::replies_to<atom::redrive, std::string, int64_t>::with<occurrence>,
    // Every dead or expired record of a status (and occasion, "" = any) back to
    // retrying: (status, occasion, now, dry run) -> count, sample, the greetings.
    caf::replies_to<atom::redrive, std::string, std::string, int64_t, bool>::with<redrive_batch>,
    // A user by id or, with an '@', by email (not deleted).
    caf::replies_to<atom::lookup, std::string>::with<user>,
    // The dashboard's database figures: (month*100+day values) -> users per
    // occasion, zone and day among them, and records per unsent status.
    caf::replies_to<atom::dashboard, std::vector<int32_t>>::with<dashboard_rows>,
    // Readiness: a round trip to the database.
    caf::replies_to<atom::ping>::with<bool>>;

/// The DELIVERY actor: sends claimed greetings to the provider, one attempt
/// each, and answers with the attempts' results in the same order. The
/// int64 is the sender's lease epoch (0 = not fenced): a greeting goes on the
/// wire only while its partition's fence slot is open at that epoch
/// (core/fence.hpp), checked right before it is sent, so a node paused past
/// its lease sends nothing when it resumes (a transient "fenced" result).
using delivery_actor = caf::typed_actor<
    // Send a partition's batch: (greetings, its lease epoch) -> one attempt each.
    caf::replies_to<atom::send, occurrence_list, int64_t>::with<attempt_list>,
    // A partition hands off: (partition, epoch) greetings still waiting in
    // the queue (not on the wire) are answered `withdrawn` at once.
    caf::reacts_to<atom::withdraw, int32_t, int64_t>>;

/// The DELIVERY actor's whole interface: sending, plus the kill switch and
/// introspection for the admin API, plus its own internal messages.
using delivery_control_actor = delivery_actor::extend<
    // Kill switch: (pause, true) holds every greeting not yet sent; false resumes.
    caf::replies_to<atom::pause, bool>::with<delivery_status>,
    // The cluster's pause as the NODE actor hands it on: (paused, until wall ms, by).
    caf::replies_to<atom::pause, bool, int64_t, std::string>::with<delivery_status>,
    caf::replies_to<atom::status>::with<delivery_status>,
    // Internal: the provider client's answer to request `id`: one attempt per
    // greeting in it, the round trip in microseconds, the verdict on the
    // provider (see delivery.cpp) and its Retry-After in ms.
    caf::reacts_to<atom::done, uint64_t, attempt_list, int64_t, int32_t, int64_t>,
    // Internal: the breaker may admit a probe now.
    caf::reacts_to<atom::tick>>;

/// The PARTITION actor: owns the schedule of one user partition while it
/// holds the partition's lease. Keeps the occurrences due within the
/// look-ahead window in a due_queue, one timer for the earliest, claims what
/// comes due in batches, hands claimed greetings to delivery and records the
/// outcomes (retry with backoff, or dead).
using partition_actor = caf::typed_actor<
    // A user of this partition was created or changed: recompute its entries.
    caf::replies_to<atom::upsert, user>::with<bool>,
    // Many users of this partition at once (the bulk API).
    caf::replies_to<atom::upsert, user_list>::with<bool>,
    // A user was deleted (already soft-deleted in the database): drop its entries.
    caf::replies_to<atom::remove, std::string>::with<bool>,
    // Users of this partition were written (a notification, or the
    // partition's own timer): read the change feed.
    caf::reacts_to<atom::changes>,
    // Records of this partition were redriven (their notification, or the
    // partition's own timer): sweep for unfinished records after a grace.
    caf::reacts_to<atom::sweep>,
    // A redriven record (already `retrying` in the database): reclaim and send it.
    caf::replies_to<atom::resume, occurrence>::with<bool>,
    // Timer, or the engine clock changed: process what is due, re-arm.
    caf::reacts_to<atom::tick>,
    // The LEASE KEEPER found the lease at this epoch no longer ours.
    caf::reacts_to<atom::renew, int64_t>,
    // Hand the partition off: stop claiming and sending, wait for what is in
    // flight to be recorded, release the lease, answer, quit.
    caf::replies_to<atom::handoff>::with<bool>,
    // Introspection.
    caf::replies_to<atom::status>::with<partition_status>,
    // The N earliest occurrences in memory, by fire instant then key.
    caf::replies_to<atom::upcoming, uint64_t>::with<occurrence_list>,
    // What this partition should be doing and is not (candlectl audit);
    // `audited` is empty when it is not loaded.
    caf::replies_to<atom::audit>::with<audit_report>>;

/// The LEASE KEEPER, one per node, on its own thread and database
/// connection: renews every lease this node's partitions hold, in one
/// statement every third of the TTL, and moves each partition's fence
/// deadline after each renewal. Lease renewal is apart from the partitions'
/// work (Kafka's KIP-62 lesson: heartbeats on their own thread), so a node
/// whose scheduler is saturated — 1M users loading, a burst's claims — keeps
/// its leases. A lease found lost closes its fence slot and is told to its
/// partition, which ends.
using lease_keeper_actor = caf::typed_actor<
    // Keep (partition, epoch) renewed for this partition actor (monitored:
    // a partition that ends is forgotten).
    caf::reacts_to<atom::renew, int32_t, int64_t, caf::actor>,
    // Stop renewing (partition, epoch): handed off or fenced.
    caf::reacts_to<atom::unlease, int32_t, int64_t>,
    // The keeper's own timer.
    caf::reacts_to<atom::tick>>;

/// The RECORDS KEEPER, one per node, on its own thread and database
/// connection: at start and every hour it makes the send records' tables of
/// the current and the coming year (the engine clock's, so a simulated
/// clock's years) and drops the years older than `records.keep-years`
/// before the current one (core/retention.hpp). Every node runs it; each
/// step is idempotent, and a step that fails is tried again a minute later.
using records_keeper_actor = caf::typed_actor<
    // Its own timer.
    caf::reacts_to<atom::tick>>;

/// The NODE actor, one per node, published on `cluster.port`: decides which
/// partitions run here (plan_round over the membership view), starts and
/// hands off their PARTITION actors, keeps CAF connections to the other live
/// nodes, and routes REST writes to the owning partition wherever it runs.
/// A `forwarded` write came from a peer and is not forwarded again.
using node_actor = caf::typed_actor<
    // A user changed: reach its partition's actor -> reached?
    caf::replies_to<atom::upsert, user, bool>::with<bool>,
    // Users created together, all of partition p: (p, users, forwarded) -> reached?
    caf::replies_to<atom::upsert, int32_t, user_list, bool>::with<bool>,
    // A user was deleted: (partition, user id, forwarded) -> reached?
    caf::replies_to<atom::remove, int32_t, std::string, bool>::with<bool>,
    // A redriven record (already `retrying`): (occurrence, forwarded) -> reached?
    caf::replies_to<atom::resume, occurrence, bool>::with<bool>,
    // The cluster's clock: (simulated ms at wall-clock ms, speed, tell peers?).
    caf::replies_to<atom::clock, int64_t, int64_t, double, bool>::with<bool>,
    // The cluster's delivery pause: (state, tell peers?) -> applied here.
    caf::replies_to<atom::pause, pause_state, bool>::with<bool>,
    // Introspection.
    caf::replies_to<atom::status>::with<cluster_status>,
    // The status of every partition running here, and with `true` of every
    // partition at the connected peers too.
    caf::replies_to<atom::partitions, bool>::with<partitions_report>,
    // The N earliest greetings held here (and with `true` cluster-wide).
    caf::replies_to<atom::upcoming, uint64_t, bool>::with<upcoming_report>,
    // The audit of every partition here (and with `true` cluster-wide).
    caf::replies_to<atom::audit, bool>::with<audit_report>>;

/// The NODE actor's local interface: membership views, leaving, faults.
using node_control_actor = node_actor::extend<
    // A fresh membership view (heartbeat done); `true` = our session was lost.
    caf::reacts_to<atom::view, cluster_view, bool>,
    // Its MEMBER actor, asked for an early round when a peer goes down.
    caf::reacts_to<atom::view, caf::actor>,
    // SIGTERM: hand every partition off, then answer.
    caf::replies_to<atom::leave>::with<bool>,
    // Pause (for ms, 0 = until resumed) or resume delivery cluster-wide:
    // written by the MEMBER actor, then applied here and at every connected
    // peer -> the state written. (paused, for ms, by)
    caf::replies_to<atom::pause, bool, int64_t, std::string>::with<pause_state>,
    // Fault injection: kill partition N's actor as a bug would.
    caf::replies_to<atom::crash, int32_t>::with<bool>,
    // The engine clock changed here: every partition here re-arms.
    caf::reacts_to<atom::tick>,
    // Users of these partitions were written (MEMBER heard candle_changes):
    // those running here read their change feed.
    caf::reacts_to<atom::changes, std::vector<int32_t>>,
    // Records of these partitions were redriven (MEMBER heard
    // candle_changes 'r<partition>'): those running here sweep.
    caf::reacts_to<atom::sweep, std::vector<int32_t>>>;

/// The MEMBER actor: the node's membership connection (persistence/membership)
/// on a detached thread: a round (heartbeat + view, sent to the NODE actor)
/// every second and at once on a notification; the cluster clock.
using member_actor = caf::typed_actor<
    // Internal: the loop.
    caf::reacts_to<atom::tick>,
    // A round now (a peer went down, a write missed its owner): the fresh
    // view goes to the NODE actor and to the asker.
    caf::replies_to<atom::view>::with<cluster_view>,
    // Set the cluster clock: (simulated ms now, speed) -> the anchor written.
    caf::replies_to<atom::clock, int64_t, double>::with<clock_anchor>,
    // Set the cluster's delivery pause: (paused, for ms (0 = until resumed),
    // by) -> the state written (every node hears of it).
    caf::replies_to<atom::pause, bool, int64_t, std::string>::with<pause_state>,
    // Clean exit: remove our row, end the session.
    caf::replies_to<atom::leave>::with<bool>>;

/// The CONSOLE actor, one per node, published on `console.port`: answers
/// `candlectl` (docs/console.md) with one JSON document per request, from
/// this node's actors and, for the cluster, its peers' NODE actors. State
/// changes name who asks and are refused unless the console is loopback.
using console_actor = caf::typed_actor<
    caf::replies_to<atom::status>::with<std::string>,
    caf::replies_to<atom::nodes>::with<std::string>,
    caf::replies_to<atom::partitions>::with<std::string>,
    // user <id|email>
    caf::replies_to<atom::get, std::string>::with<std::string>,
    caf::replies_to<atom::upcoming, uint64_t>::with<std::string>,
    // audit: what the cluster should be doing and is not
    caf::replies_to<atom::audit>::with<std::string>,
    // failed: (statuses, limit)
    caf::replies_to<atom::failed, std::vector<std::string>, uint64_t>::with<std::string>,
    // State changes end with (who, admin token): the token must be admin.token
    // when one is set.
    // redrive one key: (key, who, token)
    caf::replies_to<atom::redrive, std::string, std::string, std::string>::with<std::string>,
    // redrive in bulk: (status, occasion, dry run, who, token)
    caf::replies_to<atom::redrive, std::string, std::string, bool, std::string,
                    std::string>::with<std::string>,
    // pause (true, for ms, who, token) / resume (false, 0, who, token)
    caf::replies_to<atom::pause, bool, int64_t, std::string, std::string>::with<std::string>,
    // Internal: sample the counters for rates.
    caf::reacts_to<atom::tick>>;

/// The EVENTS actor: delivery events in and out of the database on its own
/// connection. Concurrent ingestion requests are written together: while one
/// statement runs, the requests that arrive wait and then go in one
/// statement and one commit; each is answered after its events are committed.
using events_actor = caf::typed_actor<
    // Store events once by id and move each greeting's delivery state forward.
    caf::replies_to<atom::ingest, event_list>::with<ingest_report>,
    // A greeting's record and timeline: (key) -> detail, or not_found.
    caf::replies_to<atom::greeting, std::string>::with<greeting_detail>,
    // Suppressed addresses by email: (limit, after email).
    caf::replies_to<atom::suppress, uint64_t, std::string>::with<suppression_list>,
    // Lift one: (email) -> was suppressed?
    caf::replies_to<atom::unsuppress, std::string>::with<bool>,
    // Internal: write what is pending.
    caf::reacts_to<atom::tick>,
    // Internal: apply again the stored events of keys that had no record.
    caf::reacts_to<atom::sweep>>;

// -- serialization ----------------------------------------------------------------

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, user& x) {
  return f(caf::meta::type_name("candle.user"), x.id, x.first_name, x.last_name, x.email,
           x.timezone, x.birthday_date, x.anniversary_date, x.location_city, x.location_country,
           x.created_at, x.updated_at, x.deleted_at, x.partition);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, occurrence& x) {
  return f(caf::meta::type_name("candle.occurrence"), x.key, x.user_id, x.occasion, x.year,
           x.due_at, x.partition, x.email, x.message, x.first_name, x.last_name, x.attempts,
           x.next_attempt_at, x.version, x.owner_epoch);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, outcome& x) {
  return f(caf::meta::type_name("candle.outcome"), x.key, x.status, x.error, x.next_attempt_at,
           x.at, x.user_id, x.occasion, x.year, x.due_at, x.email);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, send_record& x) {
  return f(caf::meta::type_name("candle.send_record"), x.key, x.user_id, x.occasion, x.year,
           x.due_at, x.status, x.attempts, x.last_error, x.sent_at, x.next_attempt_at,
           x.owner_epoch, x.partition, x.delivery, x.claimed_by, x.claimed_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_event& x) {
  return f(caf::meta::type_name("candle.delivery_event"), x.id, x.type, x.key, x.at, x.reason,
           x.received_at);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, suppression& x) {
  return f(caf::meta::type_name("candle.suppression"), x.email, x.reason, x.type, x.key, x.at);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, ingest_report& x) {
  return f(caf::meta::type_name("candle.ingest_report"), x.stored, x.duplicates, x.unknown);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, greeting_detail& x) {
  return f(caf::meta::type_name("candle.greeting_detail"), x.record, x.events);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, attempt& x) {
  return f(caf::meta::type_name("candle.attempt"), x.key, x.result, x.error, x.retry_after_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_status& x) {
  return f(caf::meta::type_name("candle.delivery_status"), x.paused, x.breaker, x.in_flight,
           x.max_in_flight, x.waiting, x.probes, x.paused_until, x.paused_by, x.send_rate,
           x.drain_s, x.limit, x.greetings_in_flight, x.throttled_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_status& x) {
  return f(caf::meta::type_name("candle.partition_status"), x.id, x.epoch, x.queued, x.in_flight,
           x.next_due, x.window_end, x.sent, x.late, x.retried, x.dead, x.expired);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(caf::meta::type_name("candle.node_info"), x.id, x.address, x.cluster_port,
           x.console_port, x.rest_url, x.version);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_row& x) {
  return f(caf::meta::type_name("candle.node_row"), x.info, x.heartbeat_age_ms, x.up_ms, x.session,
           x.live);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, lease_row& x) {
  return f(caf::meta::type_name("candle.lease_row"), x.partition, x.owner, x.epoch,
           x.expires_in_ms);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, cluster_view& x) {
  return f(caf::meta::type_name("candle.cluster_view"), x.nodes, x.leases);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, clock_anchor& x) {
  return f(caf::meta::type_name("candle.clock_anchor"), x.sim_ms, x.at_ms, x.speed);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_status& x) {
  return f(caf::meta::type_name("candle.cluster_status"), x.self, x.have_view, x.view, x.running,
           x.peers);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, pause_state& x) {
  return f(caf::meta::type_name("candle.pause_state"), x.paused, x.until_ms, x.remaining_ms, x.by,
           x.version);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partitions_report& x) {
  return f(caf::meta::type_name("candle.partitions_report"), x.partitions, x.unreachable);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, create_outcome& x) {
  return f(caf::meta::type_name("candle.create_outcome"), x.u, x.created);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, forecast_group& x) {
  return f(caf::meta::type_name("candle.forecast_group"), x.occasion, x.zone, x.md, x.count);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dashboard_rows& x) {
  return f(caf::meta::type_name("candle.dashboard_rows"), x.groups, x.states, x.counts);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upcoming_report& x) {
  return f(caf::meta::type_name("candle.upcoming_report"), x.greetings, x.nodes, x.unreachable);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, audit_report& x) {
  return f(caf::meta::type_name("candle.audit_report"), x.unscheduled, x.unowned, x.audited,
           x.unreachable);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, change_batch& x) {
  return f(caf::meta::type_name("candle.change_batch"), x.users, x.cursor);
}

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, redrive_batch& x) {
  return f(caf::meta::type_name("candle.redrive_batch"), x.count, x.sample, x.redriven);
}

/// Registers Candle's message types and error category with a configuration.
void register_types(caf::actor_system_config& cfg);

} // namespace candle
