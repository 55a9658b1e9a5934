#include "console/document.hpp"

#include "console/cli.hpp"
#include "core/cluster_plan.hpp"
#include "core/model_json.hpp"
#include "core/occurrence.hpp"
#include "core/partition.hpp"
#include "core/time.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <date/tz.h>
#include <set>

namespace candle::console {

namespace json = boost::json;

namespace {

json::value instant(int64_t ms) {
  return ms == 0 ? json::value(nullptr)
                 : json::value(format_instant(sys_millis{std::chrono::milliseconds{ms}}));
}

json::value opt(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

// Whole numbers as integers: Boost.JSON writes the double 0 as "0E0".
json::value number(double x) {
  if (x == std::floor(x) && std::fabs(x) < 1e15) return json::value(static_cast<int64_t>(x));
  return json::value(std::round(x * 100) / 100);
}

json::object counts_json(const counts& c) {
  return {{"sent", number(c.sent)},
          {"retried", number(c.retried)},
          {"dead", number(c.dead)},
          {"expired", number(c.expired)}};
}

json::object pause_json(bool paused, int64_t until, const std::string& by) {
  return {{"paused", paused},
          {"until", paused ? instant(until) : json::value(nullptr)},
          {"by", paused ? opt(by) : json::value(nullptr)}};
}

json::array strings(const std::vector<std::string>& v, size_t max = SIZE_MAX) {
  json::array out;
  for (size_t i = 0; i < v.size() && i < max; ++i)
    out.push_back(json::value(v[i]));
  return out;
}

std::string text(json::object o) {
  return json::serialize(o);
}

} // namespace

counts rates_of(const std::deque<counts_sample>& history, const counts_sample& now,
                int64_t window_ms, double& seconds) {
  seconds = 0;
  const counts_sample* from = nullptr;
  for (const auto& s : history)
    if (s.at_ms < now.at_ms && now.at_ms - s.at_ms <= window_ms) {
      from = &s;
      break;
    }
  if (!from) return {};
  seconds = static_cast<double>(now.at_ms - from->at_ms) / 1000.0;
  auto per_s = [&](double a, double b) { return std::max(0.0, (b - a) / seconds); };
  return {per_s(from->c.sent, now.c.sent), per_s(from->c.retried, now.c.retried),
          per_s(from->c.dead, now.c.dead), per_s(from->c.expired, now.c.expired)};
}

void trim_history(std::deque<counts_sample>& history, int64_t now_ms, int64_t window_ms) {
  while (!history.empty() && now_ms - history.front().at_ms > window_ms)
    history.pop_front();
}

json::object document(const char* command) {
  return {{"schema", schema}, {"command", command}};
}

std::string status_doc(const status_input& in) {
  auto d = document("status");
  d["node"] = json::object{
      {"id", in.node_id}, {"version", in.version}, {"restUrl", in.rest_url}, {"upMs", in.up_ms}};
  d["clock"] = json::object{{"now", instant(in.clock_now_ms)},
                            {"mode", in.clock_mode},
                            {"speed", number(in.clock_speed)}};
  d["partitions"] = json::object{
      {"total", in.partitions_total}, {"here", in.partitions_here}, {"owned", in.partitions_owned}};
  d["queued"] = in.queued;
  d["held"] = in.delivery.waiting;
  d["inFlight"] = in.delivery.in_flight;
  d["maxInFlight"] = in.delivery.max_in_flight;
  d["concurrencyLimit"] = in.delivery.limit;
  d["greetingsInFlight"] = in.delivery.greetings_in_flight;
  d["throttledSeconds"] = number(static_cast<double>(in.delivery.throttled_ms) / 1000);
  d["counts"] = counts_json(in.totals);
  auto rates = counts_json(in.rates);
  rates["windowSeconds"] = number(std::round(in.rate_window_s));
  d["rates"] = std::move(rates);
  d["breaker"] = in.delivery.breaker;
  d["sendRate"] =
      in.delivery.send_rate > 0 ? json::value(number(in.delivery.send_rate)) : json::value(nullptr);
  d["drainSeconds"] = number(in.delivery.drain_s);
  d["pause"] = pause_json(in.delivery.paused, in.delivery.paused_until, in.delivery.paused_by);
  return text(std::move(d));
}

json::object cluster_json(const cluster_status& c, int32_t partitions) {
  auto owners = live_owners(c.view, static_cast<size_t>(partitions));
  std::map<std::string, int64_t> owned;
  for (const auto& o : owners)
    if (!o.empty()) ++owned[o];
  json::array nodes;
  for (const auto& n : c.view.nodes)
    nodes.push_back(json::object{{"id", n.info.id},
                                 {"address", n.info.address},
                                 {"clusterPort", n.info.cluster_port},
                                 {"consolePort", n.info.console_port},
                                 {"restUrl", n.info.rest_url},
                                 {"version", n.info.version},
                                 {"live", n.live},
                                 {"self", n.info.id == c.self},
                                 {"heartbeatAgeMs", n.heartbeat_age_ms},
                                 {"upMs", n.up_ms},
                                 {"partitionsOwned", owned[n.info.id]}});
  json::array map;
  for (const auto& l : c.view.leases) {
    auto p = static_cast<size_t>(l.partition);
    json::value owner =
        p < owners.size() && !owners[p].empty() ? json::value(owners[p]) : json::value(nullptr);
    map.push_back(json::object{{"partition", l.partition}, {"node", owner}, {"epoch", l.epoch}});
  }
  int64_t unowned = 0;
  for (const auto& o : owners)
    unowned += o.empty() ? 1 : 0;
  return {{"self", c.self},
          {"partitionCount", partitions},
          {"unowned", unowned},
          {"nodes", std::move(nodes)},
          {"partitions", std::move(map)}};
}

std::string nodes_doc(const cluster_status& c, int32_t partitions) {
  auto d = document("nodes");
  auto all = cluster_json(c, partitions);
  for (const char* k : {"self", "partitionCount", "unowned", "nodes"})
    d[k] = all[k];
  return text(std::move(d));
}

std::string partitions_doc(const cluster_status& c, const partitions_report& r,
                           int32_t partitions) {
  auto owners = live_owners(c.view, static_cast<size_t>(partitions));
  std::map<int32_t, const partition_status*> reported;
  for (const auto& p : r.partitions)
    reported[p.id] = &p;
  std::map<int32_t, int64_t> epochs;
  for (const auto& l : c.view.leases)
    epochs[l.partition] = l.epoch;
  json::array list;
  for (int32_t p = 0; p < partitions; ++p) {
    const auto& owner = owners[static_cast<size_t>(p)];
    auto it = reported.find(p);
    json::object row{{"partition", p}, {"node", opt(owner)}};
    if (it != reported.end()) {
      row["epoch"] = it->second->epoch;
      row["queued"] = it->second->queued;
      row["inFlight"] = it->second->in_flight;
      row["nextDue"] = instant(it->second->next_due);
    } else {
      auto e = epochs.find(p);
      row["epoch"] = e == epochs.end() ? json::value(nullptr) : json::value(e->second);
      row["queued"] = nullptr;
      row["inFlight"] = nullptr;
      row["nextDue"] = nullptr;
    }
    list.push_back(std::move(row));
  }
  auto d = document("partitions");
  d["partitionCount"] = partitions;
  d["partitions"] = std::move(list);
  d["unreachable"] = strings(r.unreachable);
  return text(std::move(d));
}

std::string local_time(int64_t ms, const std::string& zone) {
  if (zone.empty()) return {};
  auto z = find_zone(zone);
  if (!z) return {};
  auto t = date::floor<std::chrono::seconds>(sys_millis{std::chrono::milliseconds{ms}});
  return date::format("%FT%T%Ez", date::make_zoned(*z, t));
}

std::string user_doc(const user& u, const std::string& owner, const std::vector<occurrence>& next,
                     const std::vector<send_record>& records,
                     const std::vector<std::vector<delivery_event>>& timelines) {
  auto d = document("user");
  d["user"] = model::user_json(u);
  d["partition"] = u.partition;
  d["owner"] = opt(owner);
  json::array upcoming;
  for (const auto& o : next)
    upcoming.push_back(json::object{{"key", o.key},
                                    {"occasion", o.occasion},
                                    {"dueAt", instant(o.due_at)},
                                    {"dueLocal", opt(local_time(o.due_at, u.timezone))}});
  d["next"] = std::move(upcoming);
  json::array recs;
  for (size_t i = 0; i < records.size(); ++i) {
    auto r = model::record_json(records[i]);
    json::array events;
    if (i < timelines.size())
      for (const auto& e : timelines[i])
        events.push_back(model::event_json(e));
    r["events"] = std::move(events);
    recs.push_back(std::move(r));
  }
  d["records"] = std::move(recs);
  return text(std::move(d));
}

std::string audit_doc(const cluster_status& c, const audit_report& r, int32_t partitions) {
  auto owners = live_owners(c.view, static_cast<size_t>(partitions));
  auto rows = [&](const std::vector<std::string>& keys) {
    json::array out;
    for (const auto& k : keys) {
      auto p = static_cast<int32_t>(
          partition_of(k.substr(0, k.find(':')), static_cast<uint32_t>(partitions)));
      out.push_back(json::object{
          {"key", k}, {"partition", p}, {"node", opt(owners[static_cast<size_t>(p)])}});
    }
    return out;
  };
  std::set<int32_t> audited(r.audited.begin(), r.audited.end());
  json::array unaudited;
  for (int32_t p = 0; p < partitions; ++p)
    if (!audited.count(p)) unaudited.push_back(p);
  auto d = document("audit");
  d["clean"] = r.unscheduled.empty() && r.unowned.empty() && unaudited.empty();
  d["unscheduled"] = rows(r.unscheduled);
  d["unowned"] = rows(r.unowned);
  d["unaudited"] = std::move(unaudited);
  json::array unreachable;
  for (const auto& n : r.unreachable)
    unreachable.push_back(json::string{n});
  d["unreachable"] = std::move(unreachable);
  return text(std::move(d));
}

std::string upcoming_doc(uint64_t limit, const upcoming_report& r,
                         const std::map<std::string, std::string>& zones) {
  auto d = document("upcoming");
  d["limit"] = limit;
  json::array list;
  for (size_t i = 0; i < r.greetings.size(); ++i) {
    const auto& o = r.greetings[i];
    auto z = zones.find(o.user_id);
    std::string zone = z == zones.end() ? std::string{} : z->second;
    list.push_back(
        json::object{{"key", o.key},
                     {"userId", o.user_id},
                     {"occasion", o.occasion},
                     {"email", o.email},
                     {"dueAt", instant(o.due_at)},
                     {"dueLocal", opt(local_time(o.due_at, zone))},
                     {"timezone", opt(zone)},
                     {"partition", o.partition},
                     {"node", i < r.nodes.size() ? opt(r.nodes[i]) : json::value(nullptr)}});
  }
  d["greetings"] = std::move(list);
  d["unreachable"] = strings(r.unreachable);
  return text(std::move(d));
}

std::vector<send_record> first_records(std::vector<std::vector<send_record>> lists,
                                       uint64_t limit) {
  std::vector<send_record> out;
  for (auto& l : lists)
    for (auto& r : l) {
      if (out.size() >= limit) return out;
      out.push_back(std::move(r));
    }
  return out;
}

std::string failed_doc(const std::vector<std::string>& statuses, uint64_t limit,
                       const std::vector<send_record>& records) {
  auto d = document("failed");
  d["statuses"] = strings(statuses);
  d["limit"] = limit;
  json::array recs;
  for (const auto& r : records)
    recs.push_back(model::record_json(r));
  d["records"] = std::move(recs);
  return text(std::move(d));
}

std::string redrive_key_doc(const std::string& key) {
  auto d = document("redrive");
  d["key"] = key;
  d["status"] = status::retrying;
  return text(std::move(d));
}

std::string redrive_bulk_doc(const std::string& status, const std::string& occasion, bool dry_run,
                             uint64_t count, const std::vector<std::string>& sample) {
  auto d = document("redrive");
  d["status"] = status;
  d["occasion"] = opt(occasion);
  d["dryRun"] = dry_run;
  d["count"] = count;
  d["sample"] = strings(sample, 10);
  return text(std::move(d));
}

std::string pause_doc(const char* command, const pause_state& p) {
  auto d = document(command);
  d["pause"] = pause_json(p.paused, p.until_ms, p.by);
  return text(std::move(d));
}

} // namespace candle::console
