#include "net/router.hpp"

#include <gtest/gtest.h>

using namespace candle::net;

TEST(Router, MatchesLiteralAndCapturedSegments) {
  auto p = router::match("/api/v1/users/{id}", "/api/v1/users/abc");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->at("id"), "abc");
  EXPECT_TRUE(router::match("/healthz", "/healthz"));
  EXPECT_FALSE(router::match("/healthz", "/healthz/"));
  EXPECT_FALSE(router::match("/api/v1/users/{id}", "/api/v1/users/"));
  EXPECT_FALSE(router::match("/api/v1/users/{id}", "/api/v1/users"));
  EXPECT_FALSE(router::match("/api/v1/users/{id}", "/api/v1/users/a/b"));
  EXPECT_FALSE(router::match("/api/v1/users", "api/v1/users"));
  auto g = router::match("/api/v1/users/{id}/greetings", "/api/v1/users/u-1/greetings");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->at("id"), "u-1");
}

namespace {

response dispatch(const router& r, http::verb method, std::string target) {
  request req{method, target, 11};
  response out;
  r(std::move(req), [&](response res) { out = std::move(res); });
  return out;
}

} // namespace

TEST(Router, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  router r;
  int hits = 0;
  r.add(http::verb::get, "/things/{id}",
        [&](request&& req, const path_params& p, responder respond) {
          ++hits;
          respond(success(http::status::ok, boost::json::string{p.at("id")}, req));
        });
  r.add(http::verb::put, "/things/{id}", [&](request&&, const path_params&, responder) {});
  auto ok = dispatch(r, http::verb::get, "/things/7?x=1");
  EXPECT_EQ(ok.result(), http::status::ok);
  EXPECT_NE(ok.body().find("\"data\":\"7\""), std::string::npos);
  EXPECT_EQ(hits, 1);
  auto missing = dispatch(r, http::verb::get, "/nothing");
  EXPECT_EQ(missing.result(), http::status::not_found);
  EXPECT_NE(missing.body().find("\"code\":\"NOT_FOUND\""), std::string::npos);
  EXPECT_NE(missing.body().find("\"path\":\"/nothing\""), std::string::npos);
  auto wrong = dispatch(r, http::verb::delete_, "/things/7");
  EXPECT_EQ(wrong.result(), http::status::method_not_allowed);
  EXPECT_EQ(wrong[http::field::allow], "GET, PUT");
}
