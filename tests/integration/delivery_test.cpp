// The DELIVERY actor against a scripted provider on a real socket: what is
// sent (Idempotency-Key, JSON body) and how every kind of answer is
// classified (sent, transient with Retry-After, permanent, timeout, refused).
#include "actors/delivery.hpp"
#include "net/http_server.hpp"

#include <atomic>
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

namespace {

// A provider on a real socket that counts what reaches it and answers 200.
struct counting_provider {
  std::atomic<int> seen{0};
  std::string agent;
  std::mutex mtx;
  net::http_server server{{"127.0.0.1", 0, 2}, [this](net::request&& req, net::responder respond) {
                            ++seen;
                            {
                              std::lock_guard<std::mutex> g{mtx};
                              agent = std::string{req[http::field::user_agent]};
                            }
                            net::response res{http::status::ok, req.version()};
                            res.prepare_payload();
                            respond(std::move(res));
                          }};
  std::string url() {
    auto port = server.start();
    return "http://127.0.0.1:" + std::to_string(port ? *port : 0) + "/send-email";
  }
};

} // namespace

TEST(Delivery, NothingGoesOnTheWireOnceItsPartitionsLeaseMayHaveExpired) {
  counting_provider provider;
  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  delivery_options opts;
  opts.url = provider.url();
  opts.user_agent = "candled/test (node n-1)";
  auto fences = std::make_shared<fence_table>(4);
  opts.fences = fences;
  auto d = spawn_delivery(sys, opts);
  caf::scoped_actor self{sys};
  auto send = [&](occurrence_list batch, int64_t epoch) {
    for (auto& o : batch)
      o.partition = 2;
    attempt_list got;
    self->request(d, seconds{10}, atom::send::value, std::move(batch), epoch)
        .receive([&](attempt_list& r) { got = std::move(r); },
                 [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return got;
  };
  // Partition 2's lease deadline is already behind us (paused past its lease).
  fences->open(2, 7, steady_clock::now() - milliseconds{1});
  auto fenced = send({greeting("a@b.c", "k1"), greeting("a@b.c", "k2")}, 7);
  ASSERT_EQ(fenced.size(), 2u);
  for (const auto& a : fenced) {
    EXPECT_EQ(a.result, attempt::transient);
    EXPECT_NE(a.error.find("fenced"), std::string::npos) << a.error;
  }
  EXPECT_EQ(provider.seen.load(), 0) << "a fenced greeting reached the provider";
  // Fenced greetings say nothing about the provider: the breaker stays closed.
  delivery_status st;
  self->request(d, seconds{5}, atom::status::value)
      .receive([&](delivery_status& s) { st = s; }, [&](caf::error&) {});
  EXPECT_EQ(st.breaker, "closed");
  // Renewed: a deadline ahead is sent; an older epoch is not; no epoch is
  // not fenced at all.
  fences->open(2, 7, steady_clock::now() + seconds{30});
  auto ok = send({greeting("a@b.c", "k3")}, 7);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].result, attempt::sent);
  EXPECT_NE(send({greeting("a@b.c", "k4")}, 6)[0].error.find("fenced"), std::string::npos);
  EXPECT_EQ(send({greeting("a@b.c", "k5")}, 0)[0].result, attempt::sent);
  EXPECT_EQ(provider.seen.load(), 2);
  {
    std::lock_guard<std::mutex> g{provider.mtx};
    EXPECT_EQ(provider.agent, "candled/test (node n-1)");
  }
  caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
  provider.server.stop();
}

TEST(Delivery, NoRequestStartsWhileTwiceTheInFlightBoundIsSentButUnrecorded) {
  counting_provider provider;
  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  delivery_options opts;
  opts.url = provider.url();
  opts.max_in_flight = 4;
  auto fences = std::make_shared<fence_table>(4);
  opts.fences = fences;
  fences->open(1, 3, steady_clock::now() + hours{1});
  fences->open(2, 5, steady_clock::now() + hours{1});
  auto d = spawn_delivery(sys, opts);
  // What was answered to a partition counts until it has recorded it: here,
  // 8 greetings answered earlier to partition 1 and not recorded yet.
  fences->doubt(1, 3, 8);
  caf::scoped_actor self{sys};
  std::atomic<bool> answered{false};
  attempt_list got;
  auto waiter = std::thread{[&] {
    caf::scoped_actor s2{sys};
    occurrence_list batch{greeting("a@b.c", "d1"), greeting("a@b.c", "d2"),
                          greeting("a@b.c", "d3")};
    for (auto& o : batch)
      o.partition = 2;
    s2->request(d, seconds{20}, atom::send::value, batch, int64_t{5})
        .receive(
            [&](attempt_list& r) {
              got = std::move(r);
              answered = true;
            },
            [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  }};
  // Held back: 8 sent but unrecorded = 2 x max_in_flight.
  std::this_thread::sleep_for(milliseconds{300});
  EXPECT_EQ(provider.seen.load(), 0) << "sent past the in-doubt bound";
  EXPECT_FALSE(answered.load());
  fences->doubt(1, 3, -8); // partition 1 recorded those outcomes
  waiter.join();
  EXPECT_TRUE(answered.load());
  EXPECT_EQ(provider.seen.load(), 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].result, attempt::sent);
  // Counted in partition 2's slot from the moment they were answered, not
  // from when the partition gets to the answer: no moment counts them
  // nowhere (that gap let each node send about a chunk past the bound).
  EXPECT_EQ(fences->in_doubt(), 3);
  fences->close(2, 5); // the partition stops: what it had not recorded is dropped
  EXPECT_EQ(fences->in_doubt(), 0);
  caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
  provider.server.stop();
}

// A partition handing off takes back what waits in the queue behind a slow
// provider: answered `withdrawn` at once, never sent; what is on the wire
// finishes; another partition's greetings are untouched.
TEST(Delivery, AWithdrawAnswersWhatWaitsAndLeavesTheWireAndOtherPartitionsAlone) {
  std::atomic<int> seen{0};
  std::mutex mtx;
  std::vector<std::thread> slow; // joined before the server goes away
  net::http_server provider{{"127.0.0.1", 0, 2}, [&](net::request&& req, net::responder respond) {
                              ++seen;
                              net::response res{http::status::ok, req.version()};
                              std::lock_guard<std::mutex> g{mtx};
                              slow.emplace_back([r = std::move(res), respond]() mutable {
                                std::this_thread::sleep_for(milliseconds{300});
                                r.prepare_payload();
                                respond(std::move(r));
                              });
                            }};
  auto port = provider.start();
  ASSERT_TRUE(port);
  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  delivery_options opts;
  opts.url = "http://127.0.0.1:" + std::to_string(*port) + "/send-email";
  opts.max_in_flight = 2; // chunks of one: half the bound, as partitions send them
  auto fences = std::make_shared<fence_table>(4);
  fences->open(2, 7, steady_clock::now() + seconds{60});
  fences->open(3, 4, steady_clock::now() + seconds{60});
  opts.fences = fences;
  auto d = spawn_delivery(sys, opts);
  caf::scoped_actor self{sys};
  auto one = [&](int32_t partition, int64_t epoch, std::string key) {
    auto o = greeting("a@b.c", std::move(key));
    o.partition = partition;
    return self->request(d, seconds{30}, atom::send::value, occurrence_list{o}, epoch);
  };
  auto wire1 = one(2, 7, "p2-a");                   // on the wire
  auto wire2 = one(2, 7, "p2-b");                   // on the wire: the bound is full
  auto queued = one(2, 7, "p2-c");                  // waits
  auto other = one(3, 4, "p3-a");                   // another partition's, waits
  for (int i = 0; i < 1000 && seen.load() < 2; ++i) // the provider got both
    std::this_thread::sleep_for(milliseconds{10});
  ASSERT_EQ(seen.load(), 2);
  self->send(d, atom::withdraw::value, int32_t{2}, int64_t{7});
  auto result_of = [&](auto& handle) {
    attempt_list got;
    std::move(handle).receive([&](attempt_list& r) { got = std::move(r); },
                              [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return got.size() == 1 ? got[0].result : -1;
  };
  EXPECT_EQ(result_of(queued), attempt::withdrawn);
  EXPECT_EQ(result_of(wire1), attempt::sent) << "what was on the wire was not finished";
  EXPECT_EQ(result_of(wire2), attempt::sent);
  fences->doubt(2, 7, -3); // partition 2 recorded two and let the withdrawn one go
  EXPECT_EQ(result_of(other), attempt::sent) << "another partition's greeting was touched";
  EXPECT_EQ(seen.load(), 3) << "a withdrawn greeting reached the provider";
  caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
  for (auto& t : slow)
    t.join();
  provider.stop();
}
