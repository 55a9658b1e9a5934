#include "core/process_metrics.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

using namespace candle::metrics;

namespace {
// A real /proc/<pid>/stat line (proc(5)) whose command name has a space
// and parentheses: fields are counted from its last ')'.
const char* stat_line =
    "4242 (candled (x) y) S 1 4242 4242 0 -1 4194560 2000 0 0 0 "
    "150 50 0 0 20 0 7 0 123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 "
    "1 0 0 0 0 0";
} // namespace

TEST(ProcessMetrics, ParsesStatPastACommandNameWithSpacesAndParentheses) {
  auto s = parse_proc_stat(stat_line);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->utime, 150u);
  EXPECT_EQ(s->stime, 50u);
  EXPECT_EQ(s->starttime, 123456u);
  EXPECT_EQ(s->vsize, 987654321u);
  EXPECT_EQ(s->rss, 2048);
}

TEST(ProcessMetrics, MalformedStatIsRefused) {
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("4242 candled S 1 2 3")) << "no ')'";
  EXPECT_FALSE(parse_proc_stat("4242 (candled) S 1 2 3")) << "too few fields";
  std::string bad = stat_line;
  bad.replace(bad.find(" 150 "), 5, " x50 ");
  EXPECT_FALSE(parse_proc_stat(bad)) << "a field that is not a number";
}

TEST(ProcessMetrics, BootTimeAndTheSoftFdLimit) {
  EXPECT_EQ(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"), 1700000000);
  EXPECT_FALSE(parse_boot_time("cpu 1 2 3\n"));
  EXPECT_FALSE(parse_boot_time("btime soon\n"));
  const char* limits =
      "Limit                     Soft Limit           Hard Limit           Units\n"
      "Max cpu time              unlimited            unlimited            seconds\n"
      "Max open files            1024                 524288               files\n";
  EXPECT_EQ(parse_max_open_files(limits), 1024);
  EXPECT_FALSE(
      parse_max_open_files("Max open files            unlimited            unlimited  files\n"));
  EXPECT_FALSE(parse_max_open_files("Max processes 10 10\n"));
}

TEST(ProcessMetrics, SampleFromTicksAndPages) {
  auto st = *parse_proc_stat(stat_line);
  auto s = to_sample(st, 1700000000, 100, 4096);
  EXPECT_DOUBLE_EQ(s.cpu_seconds, 2.0);
  EXPECT_DOUBLE_EQ(s.resident_bytes, 2048.0 * 4096);
  EXPECT_DOUBLE_EQ(s.virtual_bytes, 987654321.0);
  EXPECT_DOUBLE_EQ(s.start_time, 1700000000 + 1234.56);
}

TEST(ProcessMetrics, RendersTheSixStandardFamilies) {
  process_sample s;
  s.cpu_seconds = 1.5;
  s.resident_bytes = 4096;
  s.open_fds = 12;
  s.max_fds = 1024;
  s.start_time = 1700000000.25;
  auto text = render(s);
  for (const char* line :
       {"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n",
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 4096\n",
        "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes 0\n",
        "# TYPE process_open_fds gauge\nprocess_open_fds 12\n",
        "# TYPE process_max_fds gauge\nprocess_max_fds 1024\n",
        "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1700000000.25\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line << "\nin\n" << text;
}

TEST(ProcessMetrics, ThisProcessReadsPlausibly) {
  auto s = sample_self();
  EXPECT_GT(s.resident_bytes, 0);
  EXPECT_GT(s.virtual_bytes, s.resident_bytes);
  EXPECT_GE(s.open_fds, 3) << "stdin, stdout, stderr";
  EXPECT_GT(s.start_time, 1.6e9);
  EXPECT_LE(s.start_time, static_cast<double>(time(nullptr)) + 1);
}
