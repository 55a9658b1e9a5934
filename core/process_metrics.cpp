#include "core/process_metrics.hpp"

#include "core/metrics.hpp"

#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <vector>

namespace candle::metrics {

namespace {

bool to_number(std::string_view s, long long& out) {
  if (s.empty()) return false;
  std::string t{s};
  char* end = nullptr;
  errno = 0;
  out = std::strtoll(t.c_str(), &end, 10);
  return errno == 0 && end == t.c_str() + t.size();
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
      ++i;
    auto start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\n')
      ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

std::string read_file(const char* path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void family_text(std::string& out, const char* name, const char* help, const char* type, double v) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  out += name;
  out += ' ';
  out += format_value(v);
  out += '\n';
}

} // namespace

std::optional<proc_stat> parse_proc_stat(std::string_view text) {
  auto close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // After the name: field 3 (state) is index 0, so field k is index k - 3.
  auto f = words(text.substr(close + 1));
  if (f.size() < 22) return std::nullopt;
  long long v[5];
  const size_t at[5] = {14 - 3, 15 - 3, 22 - 3, 23 - 3, 24 - 3};
  for (size_t i = 0; i < 5; ++i)
    if (!to_number(f[at[i]], v[i])) return std::nullopt;
  if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0) return std::nullopt;
  proc_stat s;
  s.utime = static_cast<unsigned long long>(v[0]);
  s.stime = static_cast<unsigned long long>(v[1]);
  s.starttime = static_cast<unsigned long long>(v[2]);
  s.vsize = static_cast<unsigned long long>(v[3]);
  s.rss = v[4];
  return s;
}

std::optional<long long> parse_boot_time(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto end = text.find('\n', i);
    if (end == std::string_view::npos) end = text.size();
    auto w = words(text.substr(i, end - i));
    long long v = 0;
    if (w.size() == 2 && w[0] == "btime" && to_number(w[1], v)) return v;
    i = end + 1;
  }
  return std::nullopt;
}

std::optional<long long> parse_max_open_files(std::string_view text) {
  constexpr std::string_view label = "Max open files";
  auto at = text.find(label);
  if (at == std::string_view::npos) return std::nullopt;
  auto end = text.find('\n', at);
  auto w = words(text.substr(at + label.size(), end == std::string_view::npos
                                                    ? std::string_view::npos
                                                    : end - at - label.size()));
  long long v = 0;
  if (w.empty() || !to_number(w[0], v)) return std::nullopt; // "unlimited"
  return v;
}

process_sample to_sample(const proc_stat& st, long long boot_time, long long ticks_per_second,
                         long long page_size) {
  process_sample s;
  auto hz = static_cast<double>(ticks_per_second > 0 ? ticks_per_second : 100);
  s.cpu_seconds = static_cast<double>(st.utime + st.stime) / hz;
  s.resident_bytes = static_cast<double>(st.rss < 0 ? 0 : st.rss) * static_cast<double>(page_size);
  s.virtual_bytes = static_cast<double>(st.vsize);
  s.start_time = static_cast<double>(boot_time) + static_cast<double>(st.starttime) / hz;
  return s;
}

std::string render(const process_sample& s) {
  std::string out;
  family_text(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
              "counter", s.cpu_seconds);
  family_text(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
              s.resident_bytes);
  family_text(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge",
              s.virtual_bytes);
  family_text(out, "process_open_fds", "Number of open file descriptors.", "gauge", s.open_fds);
  family_text(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge",
              s.max_fds);
  family_text(out, "process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.", "gauge", s.start_time);
  return out;
}

process_sample sample_self() {
  process_sample s;
  auto st = parse_proc_stat(read_file("/proc/self/stat"));
  auto boot = parse_boot_time(read_file("/proc/stat"));
  if (st) s = to_sample(*st, boot.value_or(0), sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE));
  if (!boot) s.start_time = 0;
  if (auto* d = opendir("/proc/self/fd")) {
    size_t n = 0;
    while (auto* e = readdir(d))
      n += e->d_name[0] != '.' ? 1 : 0;
    closedir(d);
    s.open_fds = static_cast<double>(n > 0 ? n - 1 : 0); // less opendir's own
  }
  s.max_fds = static_cast<double>(parse_max_open_files(read_file("/proc/self/limits")).value_or(0));
  return s;
}

} // namespace candle::metrics
