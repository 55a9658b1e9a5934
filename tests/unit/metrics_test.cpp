#include "core/metrics.hpp"

#include <gtest/gtest.h>

using namespace candle::metrics;

TEST(Metrics, CountersAndGaugesRenderInTheTextFormat) {
  registry r;
  auto& c = r.add("t_requests_total", "Requests.", kind::counter, {"route", "status"});
  auto& g = r.add("t_in_flight", "In flight.", kind::gauge);
  c.add({"/a", "200"});
  c.add({"/a", "200"}, 2);
  c.add({"/b\"x\\y\nz", "404"});
  g.add({}, 3);
  g.add({}, -1);
  EXPECT_EQ(r.render(), "# HELP t_requests_total Requests.\n"
                        "# TYPE t_requests_total counter\n"
                        "t_requests_total{route=\"/a\",status=\"200\"} 3\n"
                        "t_requests_total{route=\"/b\\\"x\\\\y\\nz\",status=\"404\"} 1\n"
                        "# HELP t_in_flight In flight.\n"
                        "# TYPE t_in_flight gauge\n"
                        "t_in_flight 2\n");
  EXPECT_THROW(c.add({"/a", "200"}, -1), std::invalid_argument);
  EXPECT_THROW(c.add({"/a"}), std::invalid_argument);
  EXPECT_THROW(g.observe({}, 1), std::invalid_argument);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  registry r;
  auto& h = r.add("t_seconds", "Latency.", kind::histogram, {"op"}, {0.1, 1});
  h.observe({"x"}, 0.05);
  h.observe({"x"}, 0.1); // on the bound: counted in le="0.1"
  h.observe({"x"}, 0.5);
  h.observe({"x"}, 7);
  EXPECT_EQ(r.render(), "# HELP t_seconds Latency.\n"
                        "# TYPE t_seconds histogram\n"
                        "t_seconds_bucket{op=\"x\",le=\"0.1\"} 2\n"
                        "t_seconds_bucket{op=\"x\",le=\"1\"} 3\n"
                        "t_seconds_bucket{op=\"x\",le=\"+Inf\"} 4\n"
                        "t_seconds_sum{op=\"x\"} 7.65\n"
                        "t_seconds_count{op=\"x\"} 4\n");
  EXPECT_EQ(h.count({"x"}), 4u);
}

TEST(Metrics, HistogramTotalsAddTheSeriesPerBucket) {
  registry r;
  auto& h = r.add("t_seconds", "Latency.", kind::histogram, {"op"}, {0.1, 1});
  EXPECT_EQ(h.totals().counts, (std::vector<uint64_t>{0, 0, 0}));
  h.observe({"x"}, 0.05);
  h.observe({"y"}, 0.1);
  h.observe({"x"}, 0.5);
  h.observe({"y"}, 7);
  h.observe({"y"}, 70);
  auto t = h.totals();
  EXPECT_EQ(t.bounds, (std::vector<double>{0.1, 1}));
  EXPECT_EQ(t.counts, (std::vector<uint64_t>{2, 1, 2})) << "not cumulative; the last is +Inf";
  EXPECT_EQ(t.count, 5u);
  EXPECT_DOUBLE_EQ(t.sum, 77.65);
}

TEST(Metrics, Values) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(-2), "-2");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
}

TEST(Metrics, SumOverOneLabel) {
  registry r;
  auto& c = r.add("t_greetings_total", "Greetings.", kind::counter, {"occasion", "outcome"});
  c.add({"birthday", "sent"}, 3);
  c.add({"anniversary", "sent"}, 2);
  c.add({"birthday", "dead"});
  EXPECT_EQ(c.sum(1, "sent"), 5);
  EXPECT_EQ(c.sum(1, "dead"), 1);
  EXPECT_EQ(c.sum(0, "birthday"), 4);
  EXPECT_EQ(c.sum(1, "expired"), 0);
  EXPECT_EQ(c.sum(7, "sent"), 0); // no such label
}
