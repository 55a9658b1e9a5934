// The OpenAPI document (docs/openapi.json) names exactly the routes the node
// serves: every documented path and method exists, every route is documented.
#include "rest/dashboard.hpp"
#include "rest/errors.hpp"
#include "rest/openapi.hpp"
#include "rest/routes.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <set>

using namespace candle;

// Every error code has one status (rest/errors.hpp), the whole table.
TEST(Errors, EveryCodeHasOneStatus) {
  using http = boost::beast::http::status;
  const std::pair<errc, http> table[] = {
      {errc::unavailable, http::service_unavailable},
      {errc::overloaded, http::service_unavailable},
      {errc::not_found, http::not_found},
      {errc::conflict, http::conflict},
      {errc::invalid, http::bad_request},
      {errc::refused, http::internal_server_error},
      {errc::internal, http::internal_server_error},
      {errc::duplicate, http::conflict},
      {errc::invalid_argument, http::bad_request},
      {errc::unknown_zone, http::bad_request},
      {errc::invalid_date, http::bad_request},
      {errc::invalid_time, http::bad_request},
      {errc::out_of_range, http::bad_request},
  };
  ASSERT_EQ(std::size(table), static_cast<size_t>(errc::out_of_range)) << "a code without a row";
  for (const auto& [code, status] : table)
    EXPECT_EQ(candle::api::status_of(code), status) << to_string(code);
}

TEST(OpenApi, DocumentMatchesTheRoutes) {
  node_context ctx; // handlers are not called: only the table is read
  auto r = make_routes(ctx);
  std::set<std::string> served;
  for (const auto& [verb, pattern] : r.routes()) {
    std::string m{net::http::to_string(verb)};
    for (auto& c : m)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    served.insert(m + " " + pattern);
  }
  auto doc = boost::json::parse(openapi_json()).as_object();
  EXPECT_EQ(std::string(doc.at("openapi").as_string()).substr(0, 2), "3.");
  std::set<std::string> documented;
  for (const auto& [path, item] : doc.at("paths").as_object())
    for (const auto& [method, op] : item.as_object()) {
      documented.insert(std::string{method} + " " + std::string{path});
      EXPECT_TRUE(op.as_object().contains("responses")) << method << " " << path;
    }
  EXPECT_EQ(served, documented);
}

// GET /api/v1/dashboard's body: every state present (0 when the database
// has none), the share on time from the buckets up to 60 s, null before the
// first greeting, the forecast's hours and peak.
TEST(Dashboard, BodyFromItsParts) {
  dashboard_rows rows;
  rows.states = {"dead", "retrying"};
  rows.counts = {3, 5};
  forecast_report f;
  f.from = std::chrono::floor<std::chrono::seconds>(*parse_instant("2027-07-01T08:00:00Z"));
  f.per_hour = {0, 2, 7};
  f.total = 9;
  f.peak_at = f.from + std::chrono::hours{2};
  f.peak_count = 7;
  f.peak_zone = "Asia/Tokyo";
  f.peak_zone_count = 4;
  metrics::family::histogram_totals late;
  late.bounds = {1, 60, 300};
  late.counts = {6, 2, 1, 1}; // 8 of 10 within 60 s
  late.count = 10;
  auto now = *parse_instant("2027-07-01T08:30:00Z");
  auto j = dashboard_json(now, rows, f, late, {{"sent", 10}, {"dead", 3}});
  auto& g = j.at("greetings").as_object();
  EXPECT_EQ(g.at("dead").as_int64(), 3);
  EXPECT_EQ(g.at("retrying").as_int64(), 5);
  EXPECT_EQ(g.at("claimed").as_int64(), 0);
  EXPECT_EQ(g.at("expired").as_int64(), 0);
  EXPECT_EQ(j.at("thisNode").at("sent").as_int64(), 10);
  auto& l = j.at("lateness").as_object();
  EXPECT_DOUBLE_EQ(l.at("withinMinute").as_double(), 0.8);
  EXPECT_EQ(l.at("counts").as_array().size(), 4u);
  EXPECT_EQ(l.at("bounds").as_array().size(), 3u);
  auto& fc = j.at("forecast").as_object();
  EXPECT_EQ(fc.at("hours").as_array().size(), 3u);
  EXPECT_EQ(fc.at("peak").at("at").as_string(), "2027-07-01T10:00:00.000Z");
  EXPECT_EQ(fc.at("peak").at("zone").as_string(), "Asia/Tokyo");
  EXPECT_EQ(j.at("now").as_string(), "2027-07-01T08:30:00.000Z");

  late = {};
  late.bounds = {1};
  late.counts = {0, 0};
  f.peak_count = 0;
  auto empty = dashboard_json(now, {}, f, late, {});
  EXPECT_TRUE(empty.at("lateness").at("withinMinute").is_null());
  EXPECT_TRUE(empty.at("forecast").at("peak").is_null());
}
