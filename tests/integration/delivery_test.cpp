// The DELIVERY actor against a scripted provider on a real socket: what is
// sent (Idempotency-Key, JSON body) and how every kind of answer is
// classified (sent, transient with Retry-After, permanent, timeout, refused).
#include "actors/delivery.hpp"
#include "net/http_server.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <mutex>
#include <thread>

using namespace candle;
using namespace std::chrono;
namespace http = candle::net::http;

namespace {

struct seen_request {
  std::string key, content_type, email, message;
};

occurrence greeting(std::string email, std::string key) {
  occurrence o;
  o.key = std::move(key);
  o.email = std::move(email);
  o.message = "Hey, Zoë Ñúñez it's your birthday";
  return o;
}

} // namespace

TEST(Delivery, PostsTheContractsRequestAndClassifiesAnswers) {
  std::mutex mtx;
  std::vector<seen_request> seen;
  std::vector<std::thread> slow; // joined before the server goes away
  net::http_server provider{{"127.0.0.1", 0, 2}, [&](net::request&& req, net::responder respond) {
                              auto body = boost::json::parse(req.body()).as_object();
                              seen_request s{std::string{req["Idempotency-Key"]},
                                             std::string{req[http::field::content_type]},
                                             std::string{body.at("email").as_string()},
                                             std::string{body.at("message").as_string()}};
                              {
                                std::lock_guard<std::mutex> g{mtx};
                                seen.push_back(s);
                              }
                              net::response res{http::status::ok, req.version()};
                              auto to = s.email.substr(0, s.email.find('@'));
                              if (to == "busy") {
                                res.result(http::status::service_unavailable);
                                res.set(http::field::retry_after, "7");
                                res.body() = "<html>502 Bad Gateway</html>";
                              } else if (to == "limit") {
                                res.result(http::status::too_many_requests);
                              } else if (to == "bad") {
                                res.result(http::status::bad_request);
                                res.body() = "invalid address";
                              } else if (to == "slow") {
                                std::lock_guard<std::mutex> g{mtx};
                                slow.emplace_back([r = std::move(res), respond]() mutable {
                                  std::this_thread::sleep_for(milliseconds{600});
                                  r.prepare_payload();
                                  respond(std::move(r));
                                });
                                return;
                              }
                              res.prepare_payload();
                              respond(std::move(res));
                            }};
  auto port = provider.start();
  ASSERT_TRUE(port);
  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  delivery_options opts;
  opts.url = "http://127.0.0.1:" + std::to_string(*port) + "/send-email";
  opts.timeout = milliseconds{300};
  opts.max_in_flight = 3;
  auto d = spawn_delivery(sys, opts);
  occurrence_list batch{greeting("ok@example.com", "u1:birthday:2027"),
                        greeting("busy@example.com", "u2:birthday:2027"),
                        greeting("limit@example.com", "u3:birthday:2027"),
                        greeting("bad@example.com", "u4:birthday:2027"),
                        greeting("slow@example.com", "u5:birthday:2027")};
  for (int i = 0; i < 20; ++i) // enough to fan out over the workers
    batch.push_back(greeting("ok@example.com", "bulk" + std::to_string(i) + ":birthday:2027"));
  caf::scoped_actor self{sys};
  attempt_list got;
  self->request(d, seconds{10}, atom::send::value, batch, int64_t{0})
      .receive([&](attempt_list& r) { got = std::move(r); },
               [&](caf::error& e) { FAIL() << sys.render(e); });
  ASSERT_EQ(got.size(), batch.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i].key, batch[i].key) << "answers out of order";
  EXPECT_EQ(got[0].result, attempt::sent);
  EXPECT_EQ(got[1].result, attempt::transient);
  EXPECT_EQ(got[1].retry_after_ms, 7000);
  EXPECT_NE(got[1].error.find("503"), std::string::npos);
  EXPECT_EQ(got[2].result, attempt::transient) << "429 is worth retrying";
  EXPECT_EQ(got[3].result, attempt::permanent);
  EXPECT_NE(got[3].error.find("invalid address"), std::string::npos);
  EXPECT_EQ(got[4].result, attempt::transient) << "a timeout is worth retrying";
  EXPECT_NE(got[4].error.find("transport"), std::string::npos);
  for (size_t i = 5; i < got.size(); ++i)
    EXPECT_EQ(got[i].result, attempt::sent);
  std::unique_lock<std::mutex> g{mtx};
  ASSERT_GE(seen.size(), batch.size());
  for (const auto& s : seen) {
    EXPECT_EQ(s.content_type, "application/json");
    EXPECT_FALSE(s.key.empty());
    if (s.key == "u1:birthday:2027") {
      EXPECT_EQ(s.email, "ok@example.com");
      EXPECT_EQ(s.message, "Hey, Zoë Ñúñez it's your birthday");
    }
  }
  g.unlock();
  caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
  for (auto& t : slow)
    t.join();
  provider.stop();
}

TEST(Delivery, AnUnreachableProviderIsATransientFailure) {
  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  delivery_options opts;
  opts.url = "http://127.0.0.1:1/send-email"; // nothing listens on port 1
  opts.timeout = milliseconds{500};
  auto d = spawn_delivery(sys, opts);
  caf::scoped_actor self{sys};
  self->request(d, seconds{10}, atom::send::value, occurrence_list{greeting("a@b.c", "k")},
                int64_t{0})
      .receive(
          [&](attempt_list& r) {
            ASSERT_EQ(r.size(), 1u);
            EXPECT_EQ(r[0].result, attempt::transient);
            EXPECT_NE(r[0].error.find("transport"), std::string::npos);
          },
          [&](caf::error& e) { FAIL() << sys.render(e); });
  caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
}
