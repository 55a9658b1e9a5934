#include "core/metrics.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace candle::metrics {

family::family(std::string name, std::string help, kind k, std::vector<std::string> labels,
               std::vector<double> buckets)
    : name_(std::move(name)), help_(std::move(help)), kind_(k), labels_(std::move(labels)),
      buckets_(std::move(buckets)) {}

void family::add(const std::vector<std::string>& labels, double v) {
  if (labels.size() != labels_.size()) throw std::invalid_argument{name_ + ": label count"};
  if (kind_ == kind::counter && v < 0) throw std::invalid_argument{name_ + ": counters only grow"};
  std::lock_guard<std::mutex> g{mtx_};
  series_[labels].value += v;
}

void family::set(const std::vector<std::string>& labels, double v) {
  if (labels.size() != labels_.size() || kind_ != kind::gauge)
    throw std::invalid_argument{name_ + ": set on a non-gauge or wrong labels"};
  std::lock_guard<std::mutex> g{mtx_};
  series_[labels].value = v;
}

void family::observe(const std::vector<std::string>& labels, double v) {
  if (labels.size() != labels_.size() || kind_ != kind::histogram)
    throw std::invalid_argument{name_ + ": observe on a non-histogram or wrong labels"};
  std::lock_guard<std::mutex> g{mtx_};
  auto& s = series_[labels];
  if (s.bucket.empty()) s.bucket.assign(buckets_.size(), 0);
  for (size_t i = 0; i < buckets_.size(); ++i)
    if (v <= buckets_[i]) {
      ++s.bucket[i];
      break;
    }
  s.value += v;
  ++s.count;
}

double family::value(const std::vector<std::string>& labels) const {
  std::lock_guard<std::mutex> g{mtx_};
  auto it = series_.find(labels);
  return it == series_.end() ? 0 : it->second.value;
}

double family::sum(size_t label, const std::string& v) const {
  std::lock_guard<std::mutex> g{mtx_};
  double out = 0;
  for (const auto& [labels, x] : series_)
    if (label < labels.size() && labels[label] == v) out += x.value;
  return out;
}

uint64_t family::count(const std::vector<std::string>& labels) const {
  std::lock_guard<std::mutex> g{mtx_};
  auto it = series_.find(labels);
  return it == series_.end() ? 0 : it->second.count;
}

namespace {

std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& vals,
                      const char* extra_name = nullptr, const std::string& extra_value = {}) {
  if (names.empty() && !extra_name) return {};
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i] + "=\"" + escape_label(vals[i]) + '"';
  }
  if (extra_name) {
    if (!names.empty()) out += ',';
    out += std::string{extra_name} + "=\"" + extra_value + '"';
  }
  return out + '}';
}

const char* type_name(kind k) {
  switch (k) {
  case kind::counter:
    return "counter";
  case kind::gauge:
    return "gauge";
  default:
    return "histogram";
  }
}

} // namespace

family::histogram_totals family::totals() const {
  histogram_totals t;
  t.bounds = buckets_;
  t.counts.assign(buckets_.size() + 1, 0);
  std::lock_guard<std::mutex> g{mtx_};
  for (const auto& [vals, s] : series_) {
    uint64_t in_bounds = 0;
    for (size_t i = 0; i < s.bucket.size() && i < buckets_.size(); ++i) {
      t.counts[i] += s.bucket[i];
      in_bounds += s.bucket[i];
    }
    t.counts.back() += s.count - in_bounds;
    t.count += s.count;
    t.sum += s.value;
  }
  return t;
}

void family::render(std::string& out) const {
  out += "# HELP " + name_ + ' ' + help_ + '\n';
  out += "# TYPE " + name_ + ' ' + type_name(kind_) + '\n';
  std::lock_guard<std::mutex> g{mtx_};
  if (kind_ != kind::histogram && labels_.empty() && series_.empty()) {
    out += name_ + " 0\n"; // an unlabelled metric always has its one series
    return;
  }
  for (const auto& [vals, s] : series_) {
    if (kind_ != kind::histogram) {
      out += name_ + label_set(labels_, vals) + ' ' + format_value(s.value) + '\n';
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      cumulative += s.bucket[i];
      out += name_ + "_bucket" + label_set(labels_, vals, "le", format_value(buckets_[i])) + ' ' +
             std::to_string(cumulative) + '\n';
    }
    out += name_ + "_bucket" + label_set(labels_, vals, "le", "+Inf") + ' ' +
           std::to_string(s.count) + '\n';
    out += name_ + "_sum" + label_set(labels_, vals) + ' ' + format_value(s.value) + '\n';
    out += name_ + "_count" + label_set(labels_, vals) + ' ' + std::to_string(s.count) + '\n';
  }
}

family& registry::add(std::string name, std::string help, kind k, std::vector<std::string> labels,
                      std::vector<double> buckets) {
  std::lock_guard<std::mutex> g{mtx_};
  families_.push_back(std::make_unique<family>(std::move(name), std::move(help), k,
                                               std::move(labels), std::move(buckets)));
  return *families_.back();
}

std::string registry::render() const {
  std::string out;
  std::lock_guard<std::mutex> g{mtx_};
  for (const auto& f : families_)
    f->render(out);
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> lateness_buckets() {
  return {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400, 172800};
}

candle_metrics::candle_metrics()
    : http_requests(reg.add("candle_http_requests_total", "REST requests answered.", kind::counter,
                            {"method", "route", "status"})),
      http_duration(reg.add("candle_http_request_duration_seconds",
                            "Time from a parsed REST request to its response.", kind::histogram,
                            {"method", "route"}, latency_buckets())),
      greetings(reg.add("candle_greetings_total",
                        "Greetings by outcome: claimed, sent, retried (an attempt failed and was "
                        "rescheduled), dead, expired.",
                        kind::counter, {"occasion", "outcome"})),
      lateness(reg.add("candle_greeting_lateness_seconds",
                       "Sent instant minus due instant, on the engine clock.", kind::histogram,
                       {"occasion"}, lateness_buckets())),
      provider_duration(reg.add("candle_provider_request_duration_seconds",
                                "Email provider requests by result: sent, transient, permanent.",
                                kind::histogram, {"result"}, latency_buckets())),
      provider_in_flight(
          reg.add("candle_provider_in_flight", "Email provider requests in flight.", kind::gauge)),
      partitions_owned(reg.add("candle_partitions_owned", "Partitions whose lease this node holds.",
                               kind::gauge)),
      queued(reg.add("candle_partition_queued_occurrences",
                     "Occurrences held in the partitions' due queues (the look-ahead window).",
                     kind::gauge)),
      persistence_queue(reg.add("candle_persistence_queue_depth",
                                "Database requests queued or running.", kind::gauge)),
      persistence_batch(reg.add("candle_persistence_batch_rows",
                                "Rows per batched statement, by operation.", kind::histogram,
                                {"op"}, {1, 10, 100, 500, 1000, 5000, 10000})),
      breaker_state(reg.add("candle_delivery_breaker_state",
                            "Provider circuit breaker: 0 closed, 1 open, 2 half-open.",
                            kind::gauge)),
      delivery_paused(reg.add("candle_delivery_paused", "1 while delivery is paused (kill switch).",
                              kind::gauge)),
      delivery_waiting(reg.add("candle_delivery_waiting",
                               "Greetings held by delivery: paused, breaker open, or at the "
                               "in-flight bound.",
                               kind::gauge)),
      delivery_drain(reg.add("candle_delivery_drain_seconds",
                             "Seconds the greetings held take to go out at this node's share of "
                             "email.rate (0 without a rate).",
                             kind::gauge)),
      delivery_limit(reg.add("candle_delivery_concurrency_limit",
                             "Provider requests allowed in flight now: the adaptive limit, at "
                             "most email.max-in-flight.",
                             kind::gauge)),
      provider_throttled(reg.add("candle_provider_throttled_total",
                                 "Provider answers 429 (too many requests); each stops new "
                                 "requests for its Retry-After.",
                                 kind::counter)),
      delivery_events(reg.add("candle_delivery_events_total",
                              "Provider delivery events received, by type and outcome: stored, "
                              "duplicate (an id already stored), unknown (stored; no such "
                              "greeting).",
                              kind::counter, {"type", "outcome"})),
      webhook_rejected(reg.add("candle_webhook_rejected_total",
                               "Webhook requests refused, by reason: missing, malformed, stale, "
                               "no_match (signature), invalid (body), unavailable.",
                               kind::counter, {"reason"})),
      event_lag(reg.add("candle_delivery_event_lag_seconds",
                        "From an event's instant (the provider's `at`) to its storing.",
                        kind::histogram, {}, lateness_buckets())),
      suppressions(reg.add("candle_suppressions_added_total",
                           "Addresses suppressed by a bounce or complaint.", kind::counter)),
      reconcile_repairs(reg.add("candle_reconcile_repairs_total",
                                "Send records the partitions' sweep found that no queue held, "
                                "by kind: claimed (this epoch's claim, never sent), retrying "
                                "(a retry nobody scheduled), stale (an older epoch's claim). "
                                "0 in a healthy cluster: any other value names a bug.",
                                kind::counter, {"kind"})),
      changes_read(reg.add("candle_changes_read_total",
                           "User rows the partitions read from the database's change feed "
                           "(each committed write is read by its owner, whatever messages "
                           "were lost).",
                           kind::counter)),
      build_info(reg.add("candle_build_info",
                         "The running build: always 1, its version as a label.", kind::gauge,
                         {"version"})),
      partitions(reg.add("candle_partitions",
                         "Partitions in the cluster (schedule.partitions); compare with the sum "
                         "of candle_partitions_owned over the nodes.",
                         kind::gauge)) {}

candle_metrics& global() {
  static candle_metrics m;
  return m;
}

} // namespace candle::metrics
