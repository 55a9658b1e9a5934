// Prometheus metrics without a client library (none is packaged in Debian):
// counters, gauges and histograms with labels, and the text exposition
// format 0.0.4. Thread-safe; one process-wide registry (`metrics::global()`)
// that actors and the HTTP server update and GET /metrics renders.
//
// Families are defined once (see `candle_metrics` below for Candle's own);
// updates name the family and its label values in the declared order.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace candle::metrics {

enum class kind { counter, gauge, histogram };

class family {
public:
  family(std::string name, std::string help, kind k, std::vector<std::string> labels,
         std::vector<double> buckets = {});

  /// Counter: add v >= 0. Gauge: add v (may be negative).
  void add(const std::vector<std::string>& labels, double v = 1);
  /// Gauge only.
  void set(const std::vector<std::string>& labels, double v);
  /// Histogram only.
  void observe(const std::vector<std::string>& labels, double v);

  /// Current value of a counter or gauge series (0 when absent); for tests.
  double value(const std::vector<std::string>& labels) const;
  /// Sum of the counter or gauge series whose label number `label` is `v`.
  double sum(size_t label, const std::string& v) const;
  /// Observation count of a histogram series; for tests.
  uint64_t count(const std::vector<std::string>& labels) const;

  void render(std::string& out) const;

  /// A histogram's series added together: observations per bucket (not
  /// cumulative; `counts` has one more entry than `bounds`, for +Inf), the
  /// number and the sum of all.
  struct histogram_totals {
    std::vector<double> bounds;
    std::vector<uint64_t> counts;
    uint64_t count = 0;
    double sum = 0;
  };
  histogram_totals totals() const;

private:
  struct series {
    double value = 0;             // counter, gauge; histogram sum
    uint64_t count = 0;           // histogram
    std::vector<uint64_t> bucket; // histogram, non-cumulative
  };
  std::string name_, help_;
  kind kind_;
  std::vector<std::string> labels_;
  std::vector<double> buckets_;
  mutable std::mutex mtx_;
  std::map<std::vector<std::string>, series> series_;
};

class registry {
public:
  family& add(std::string name, std::string help, kind k, std::vector<std::string> labels = {},
              std::vector<double> buckets = {});
  /// Every family in definition order, in the text exposition format.
  std::string render() const;

private:
  mutable std::mutex mtx_;
  std::vector<std::unique_ptr<family>> families_;
};

/// Formats a sample value: integers without a fraction, others shortest
/// round-trip, +Inf/-Inf/NaN as Prometheus spells them.
std::string format_value(double v);
/// Escapes a label value (backslash, double quote, newline).
std::string escape_label(const std::string& v);

/// Bucket bounds (seconds).
std::vector<double> latency_buckets();  ///< 0.5 ms .. 10 s
std::vector<double> lateness_buckets(); ///< 0.1 s .. 2 days

/// Candle's metrics (docs/operations.md explains each).
struct candle_metrics {
  registry reg;
  family& http_requests;      ///< {method, route, status}
  family& http_duration;      ///< {method, route}
  family& greetings;          ///< {occasion, outcome}: claimed, sent, retried, dead, expired
  family& lateness;           ///< {occasion}: sent instant - due instant
  family& provider_duration;  ///< {result}: sent, transient, permanent
  family& provider_in_flight; ///< gauge
  family& partitions_owned;   ///< gauge
  family& queued;             ///< gauge: occurrences in partition heaps
  family& persistence_queue;  ///< gauge: requests waiting or running
  family& persistence_batch;  ///< {op}: rows per fenced statement
  family& breaker_state;      ///< gauge: 0 closed, 1 open, 2 half-open
  family& delivery_paused;    ///< gauge: 1 while the kill switch is on
  family& delivery_waiting;   ///< gauge: greetings held by delivery
  family& delivery_drain;     ///< gauge: seconds the held greetings take at email.rate
  family& delivery_limit;     ///< gauge: provider requests allowed in flight now (adaptive)
  family& provider_throttled; ///< counter: 429 answers (each holds sending for its Retry-After)
  family& delivery_events;    ///< {type, outcome}: stored, duplicate, unknown
  family& webhook_rejected;   ///< {reason}: signature verdicts, invalid, unavailable
  family& event_lag;          ///< histogram: event instant -> stored
  family& suppressions;       ///< counter: addresses suppressed
  family& reconcile_repairs;  ///< {kind}: work found only by the sweep (0 when healthy)
  family& changes_read;       ///< counter: user rows read from the change feed
  family& build_info;         ///< {version}: 1 (set at start)
  family& partitions;         ///< gauge: schedule.partitions (the cluster's, set at start)
  candle_metrics();
};

candle_metrics& global();

} // namespace candle::metrics
