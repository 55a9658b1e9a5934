// The standard process_* metrics every Prometheus client library exports
// (CPU seconds, resident and virtual memory, open and maximum file
// descriptors, start time), read from Linux's /proc at scrape time. Parsing
// and rendering are pure; `sample_self()` is the I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace candle::metrics {

struct process_sample {
  double cpu_seconds = 0; ///< user + system
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;    ///< the soft limit; 0 when unlimited or unknown
  double start_time = 0; ///< seconds since the epoch
};

/// Fields of /proc/<pid>/stat (proc(5)), in clock ticks and pages.
struct proc_stat {
  unsigned long long utime = 0, stime = 0, starttime = 0, vsize = 0;
  long long rss = 0;
};

/// Parses /proc/<pid>/stat. The command name (field 2) may hold spaces and
/// parentheses: the fields after it are counted from its last ')'.
std::optional<proc_stat> parse_proc_stat(std::string_view text);
/// The boot time (`btime`, seconds since the epoch) from /proc/stat.
std::optional<long long> parse_boot_time(std::string_view text);
/// The soft "Max open files" limit from /proc/<pid>/limits (nullopt when
/// absent or "unlimited").
std::optional<long long> parse_max_open_files(std::string_view text);

/// Combines them: ticks per second and the page size are sysconf's.
process_sample to_sample(const proc_stat& st, long long boot_time, long long ticks_per_second,
                         long long page_size);

/// The six families in the text exposition format 0.0.4.
std::string render(const process_sample& s);

/// Reads this process's figures from /proc (fields it cannot read stay 0).
process_sample sample_self();

} // namespace candle::metrics
