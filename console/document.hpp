// The console's JSON documents (docs/console.md), built from what Candle's
// actors report: pure, no CAF. The CONSOLE actor answers with these and
// `candlectl` prints them (or renders them for people, console/cli.hpp).
#pragma once

#include "core/model.hpp"
#include "core/status.hpp"

#include <boost/json.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace candle::console {

/// Greetings by outcome, as the node's counters have them since start.
struct counts {
  double sent = 0, retried = 0, dead = 0, expired = 0;
};

/// Counts at a point of the node's monotonic clock (ms).
struct counts_sample {
  int64_t at_ms = 0;
  counts c;
};

/// Per-second rates between the oldest sample of `history` at most
/// `window_ms` older than `now` and `now`; `seconds` gets the span used (0
/// when there is none: then every rate is 0).
counts rates_of(const std::deque<counts_sample>& history, const counts_sample& now,
                int64_t window_ms, double& seconds);

/// Keeps `history` to the samples a window of `window_ms` before `now_ms`
/// may still use (the newest one older than the window stays as its start).
void trim_history(std::deque<counts_sample>& history, int64_t now_ms, int64_t window_ms);

struct status_input {
  std::string node_id, version, rest_url;
  int64_t up_ms = 0;
  int64_t clock_now_ms = 0;
  std::string clock_mode;
  double clock_speed = 1;
  int32_t partitions_total = 0, partitions_here = 0, partitions_owned = 0;
  uint64_t queued = 0;
  delivery_status delivery;
  counts totals, rates;
  double rate_window_s = 0;
};

/// The start of every document: {"schema", "command"}.
boost::json::object document(const char* command);

std::string status_doc(const status_input& in);
/// Also GET /api/v1/cluster's body (without schema and command).
boost::json::object cluster_json(const cluster_status& c, int32_t partitions);
std::string nodes_doc(const cluster_status& c, int32_t partitions);
std::string partitions_doc(const cluster_status& c, const partitions_report& r, int32_t partitions);
/// `next`: the user's next occurrence of each occasion.
/// `timelines[i]`: the delivery events of `records[i]`, oldest first
/// (shorter: none).
std::string user_doc(const user& u, const std::string& owner, const std::vector<occurrence>& next,
                     const std::vector<send_record>& records,
                     const std::vector<std::vector<delivery_event>>& timelines = {});
/// `zones`: user id -> IANA zone (for the local due time; "" = unknown).
/// `audit`: {"command":"audit","clean":bool,"unscheduled":[{key,partition,node}],
/// "unowned":[...],"unaudited":[partition...],"unreachable":[node...]}; clean
/// when every partition was audited and nothing was found.
std::string audit_doc(const cluster_status& c, const audit_report& r, int32_t partitions);
std::string upcoming_doc(uint64_t limit, const upcoming_report& r,
                         const std::map<std::string, std::string>& zones);
std::string failed_doc(const std::vector<std::string>& statuses, uint64_t limit,
                       const std::vector<send_record>& records);
std::string redrive_key_doc(const std::string& key);
std::string redrive_bulk_doc(const std::string& status, const std::string& occasion, bool dry_run,
                             uint64_t count, const std::vector<std::string>& sample);
/// command: "pause" or "resume".
std::string pause_doc(const char* command, const pause_state& p);

/// An instant in a zone, ISO-8601 with the zone's offset
/// (2027-03-05T09:00:00+01:00); "" when the zone is unknown.
std::string local_time(int64_t ms, const std::string& zone);

/// The first `limit` records of `lists` (one per status, each sorted by
/// key), in the order of the lists.
std::vector<send_record> first_records(std::vector<std::vector<send_record>> lists, uint64_t limit);

} // namespace candle::console
