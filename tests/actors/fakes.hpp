// In-memory stand-ins for the PERSISTENCE and DELIVERY actors, for
// deterministic partition tests. The fake store grants claims and checks
// exactly as the real fenced SQL does (one record per key, epochs, states); the fake
// provider records every send with the engine time it happened at.
#pragma once

#include "actors/actors.hpp"
#include "core/clock.hpp"
#include "core/schedule.hpp"

#include <map>
#include <memory>
#include <optional>
#include <set>

namespace candle::test {

struct fake_db_state {
  int64_t epoch = 0; // current lease epoch (bumped by each acquisition)
  std::map<std::string, user> users;
  std::map<std::string, send_record> records;
  schedule_rules rules = default_rules();
  int claims = 0;           // statements, to check batching
  int checks = 0;           // check statements (greetings sent without a claim)
  int releases = 0;         // release statements
  std::string holder;       // when set, leases for any other node are refused
  bool released = false;    // the current epoch's lease was handed back
  bool renew_fails = false; // the keeper's renewals fail (database unreachable)
  int64_t horizon = 0;
  /// The change feed: a transaction id per write, and the id of each
  /// user's last write (write() below); `running` holds an id back as the
  /// feed's horizon (a transaction not committed yet).
  int64_t next_xid = 1;
  std::map<std::string, int64_t> written;
  std::optional<int64_t> running;
  int changes_reads = 0;
  /// While true, sweeps are read at once but answered only when the fake
  /// receives a ping (in its own context): a sweep in flight.
  bool hold_sweeps = false;
  std::vector<std::pair<caf::typed_response_promise<occurrence_list>, occurrence_list>> held_sweeps;
  /// While true, outcome writes wait, unwritten, until the fake receives a
  /// ping: a write in flight.
  bool hold_records = false;
  struct held_record {
    caf::typed_response_promise<key_list> rp;
    int64_t epoch;
    outcome_list batch;
  };
  std::vector<held_record> held_records;
  /// Writes a user as a committed transaction would (bumping updated_at
  /// like the real update statement): the feed reads it.
  user& write(user u) {
    auto& slot = users[u.id];
    if (u.updated_at <= slot.updated_at) u.updated_at = slot.updated_at + 1;
    slot = std::move(u);
    written[slot.id] = next_xid++;
    return slot;
  }
};

struct fake_provider_state {
  std::shared_ptr<engine_clock> clock;
  caf::actor_clock* actor_clock = nullptr;
  struct sent {
    std::string key;
    int64_t at;
    std::string email;
  };
  std::vector<sent> sends;
  /// Scripted results per key, consumed in order; default: sent.
  std::map<std::string, std::vector<attempt::kind>> script;
  /// While true, requests are held (never answered): a send in flight.
  bool hold = false;
  std::vector<caf::typed_response_promise<attempt_list>> held;
  std::vector<occurrence_list> held_batches; // the batches of `held`, in order
  /// Set with `hold` false, the next send (even an empty one) first answers
  /// every held batch as sent: the answer arrives late.
  bool answer_held = false;
  /// While true, held batches wait in the queue (not on the wire): a
  /// withdraw answers them `withdrawn`. Otherwise a withdraw finds nothing.
  bool held_are_queued = false;
  int withdraws = 0; // withdraw messages received
  size_t count(const std::string& key) const {
    size_t n = 0;
    for (const auto& s : sends)
      n += s.key == key;
    return n;
  }
};

persistence_actor::behavior_type fake_db(persistence_actor::pointer self,
                                         std::shared_ptr<fake_db_state> st);

/// The fake store's answer to a LEASE KEEPER's renewal: the leases at its
/// current epoch, unless `renew_fails` (then it throws, as the store does).
std::vector<int32_t> fake_renew(fake_db_state& st,
                                const std::vector<std::pair<int32_t, int64_t>>& leases);

delivery_actor::behavior_type fake_provider(delivery_actor::pointer self,
                                            std::shared_ptr<fake_provider_state> st);

} // namespace candle::test
