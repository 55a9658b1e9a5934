// Per-client limits for the REST listener (contract.md "Security"): token
// buckets for the request rate and counters for open connections. Pure and
// not thread-safe: the HTTP server holds one under a mutex. Time is the
// caller's monotonic clock in milliseconds.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace candle {

/// `rate` tokens per second, at most `burst` kept; starts full.
struct token_bucket {
  double tokens = 0;
  int64_t at_ms = 0;
};

/// Takes one token at `now_ms` if there is one: 0, else how many ms until
/// there will be (at least 1). `rate` > 0, `burst` >= 1.
int64_t take_token(token_bucket& b, int64_t now_ms, double rate, double burst);

/// The pace of one node's share of a cluster-wide send rate (email.rate):
/// `share` = rate x owned / partitions; a bucket of `burst` (5 ms of sends;
/// at least 2 from 100/s, else 1) refilled at `per_second` admits at most
/// burst + per_second in any second, kept at 95 % of the share (at least
/// half of it), so that the nodes together never put more than `rate` into a
/// second, with room for the network's jitter. Exact while each node's share
/// is at least 1/s.
/// per_second 0 when there is no limit.
struct send_pace {
  double per_second = 0;
  double burst = 1;
};
send_pace pace_for(double rate, size_t owned, size_t partitions);

class client_limits {
public:
  /// `rate` requests per second per client (0 = no rate limit), `burst`
  /// requests at once; connections at most `per_client` per client and
  /// `total` in all (0 = no cap).
  client_limits(double rate, double burst, size_t per_client, size_t total);

  /// A request from `client` now: 0 = go on, else ms to wait (Retry-After).
  int64_t request(const std::string& client, int64_t now_ms);
  /// A new connection: false = refused (then no close() for it).
  bool open(const std::string& client);
  void close(const std::string& client);

  size_t connections() const { return total_open_; }
  size_t tracked_clients() const { return buckets_.size(); }

private:
  void sweep(int64_t now_ms);

  double rate_, burst_;
  size_t per_client_, total_;
  size_t total_open_ = 0;
  std::unordered_map<std::string, token_bucket> buckets_;
  std::unordered_map<std::string, size_t> open_;
  int64_t last_sweep_ms_ = 0;
};

} // namespace candle
