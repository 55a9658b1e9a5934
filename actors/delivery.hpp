// The DELIVERY actor (interface in actors.hpp): sends claimed greetings to
// the provider through the asynchronous client (net/provider_client.hpp), at
// most `max_in_flight` at once, and answers each batch when all of it has an
// answer, in the batch's order. A circuit breaker (core/breaker.hpp) holds
// greetings while the provider is failing, letting single probes through;
// the kill switch (pause) holds them until resumed; email.rate paces this
// node's share; an adaptive limit (core/concurrency.hpp) keeps as many
// requests in flight as the provider's latency calls for, up to
// max_in_flight, and a 429 stops every request for its Retry-After. With the
// batch API one request carries many greetings. Held greetings are not attempts: nothing is counted
// or recorded for them until they are sent; they leave in the order they came (each partition hands
// its greetings over earliest due first; a chunk started is finished before the next, which the
// in-doubt bound relies on).
#pragma once

#include "actors/actors.hpp"
#include "core/fence.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace candle {

struct delivery_options {
  std::string url;
  std::chrono::milliseconds timeout{10'000};
  size_t max_in_flight = 256;
  uint32_t breaker_threshold = 5; ///< consecutive transient failures that open it
  std::chrono::milliseconds breaker_cooldown{1000};
  std::chrono::milliseconds breaker_max_cooldown{30'000};
  bool paused = false;
  std::string user_agent = "candled"; ///< names the node to the provider
  /// The partitions' lease deadlines (core/fence.hpp): a greeting goes out
  /// only while its partition's slot is open at the epoch it was sent with.
  /// Delivery also counts there, per slot, the greetings it answered and
  /// the partition has not recorded yet. No request starts while those sent
  /// and not yet recorded (in flight, answered in a batch not complete yet,
  /// and that count) reach 2 x capacity less one chunk (capacity: the
  /// greetings max_in_flight requests carry): what a crash can leave sent
  /// but unrecorded, and so re-sent by the next owner, stays under twice the
  /// in-flight bound.
  std::shared_ptr<fence_table> fences;
  /// The partitions' delivery chunk (they are answered whole): the slack kept
  /// under the in-doubt bound.
  size_t chunk_hint = 0;
  /// email.api=batch: up to `batch_size` greetings per request to {url}/batch.
  /// max_in_flight still counts requests; the greetings in them are bounded
  /// by capacity_of() (below), not by requests x batch size: that bound is
  /// also how far sending may run ahead of recording.
  bool batch_api = false;
  size_t batch_size = 500;
  /// The adaptive limit's first value (core/concurrency.hpp); 0 = 16.
  size_t initial_concurrency = 0;
  /// email.transport=smtp: each greeting is one message to this server
  /// (net/smtp_client.hpp, core/mail.hpp) instead of a POST to `url`;
  /// everything else here (breaker, limits, fencing, rate) is the same.
  struct smtp_settings {
    bool enabled = false;
    std::string url, user, password, from, ca;
    bool starttls_optional = false;
  } smtp;
  /// Where a 5.1.1 unknown mailbox goes as a `bounced` delivery event, so
  /// the address is suppressed like a hard bounce (none: not recorded).
  events_actor events;
  /// email.rate: greetings per second for the whole cluster (0 = no limit).
  /// This node paces its share, rate x partitions open here / partitions
  /// (send_pace, core/rate_limit.hpp).
  double rate = 0;
};

/// Greetings in flight at most: max_in_flight (one per request), with the
/// batch API at least two full batches. Not max_in_flight x batch_size: with
/// 256 x 500 in flight a 1M burst ran 256k greetings ahead of recording, the
/// database fell behind, lease renewals timed out, partitions fenced and
/// their successors re-sent 137,776 greetings (bench/burst.sh, this machine).
size_t capacity_of(const delivery_options& o);
size_t capacity_of(const delivery_options& o);

delivery_control_actor spawn_delivery(caf::actor_system& sys, delivery_options opts);

} // namespace candle
