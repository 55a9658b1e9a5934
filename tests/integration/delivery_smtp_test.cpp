// The DELIVERY actor with email.transport=smtp against a scripted SMTP server:
// greetings become messages (names, subject, Message-ID), replies become
// attempts, a 5.1.1 goes to the EVENTS actor as a bounce, an address that is
// not one is dead without a connection, and fencing holds exactly as for HTTP.
#include "actors/delivery.hpp"
#include "scripted_smtp.hpp"

#include <gtest/gtest.h>
#include <mutex>
#include <thread>

using namespace candle;
using namespace std::chrono;
using candle::test::scripted_smtp;

namespace {

struct recorded_events {
  std::mutex mtx;
  event_list events;
};

// An EVENTS actor that keeps what it is asked to ingest.
events_actor::behavior_type fake_events(events_actor::pointer,
                                        std::shared_ptr<recorded_events> rec) {
  return {
      [rec](atom::ingest, event_list& evs) {
        std::lock_guard<std::mutex> g{rec->mtx};
        ingest_report r;
        r.stored = evs.size();
        for (auto& e : evs)
          rec->events.push_back(std::move(e));
        return r;
      },
      [](atom::greeting, std::string&) -> caf::result<greeting_detail> {
        return caf::make_error(caf::sec::unexpected_message);
      },
      [](atom::suppress, uint64_t, std::string&) { return suppression_list{}; },
      [](atom::unsuppress, std::string&) { return false; },
      [](atom::tick) {},
      [](atom::sweep) {},
  };
}

occurrence greeting(std::string email, std::string user) {
  occurrence o;
  o.user_id = user;
  o.occasion = "birthday";
  o.year = 2027;
  o.key = user + ":birthday:2027";
  o.email = std::move(email);
  o.first_name = "Zo\xc3\xab";
  o.last_name = "Dupont";
  o.message = "Hey, Zo\xc3\xab Dupont it's your birthday";
  o.partition = 2;
  return o;
}

struct fixture {
  scripted_smtp server;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<recorded_events> rec = std::make_shared<recorded_events>();
  std::shared_ptr<fence_table> fences = std::make_shared<fence_table>(4);
  delivery_control_actor d;

  fixture() {
    register_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    delivery_options opts;
    opts.smtp.enabled = true;
    opts.smtp.url = server.url();
    opts.smtp.from = "Candle <greetings@candle.example>";
    opts.timeout = seconds{5};
    opts.events = sys->spawn(fake_events, rec);
    opts.fences = fences;
    d = spawn_delivery(*sys, opts);
  }
  ~fixture() { caf::anon_send_exit(d, caf::exit_reason::user_shutdown); }

  attempt_list send(occurrence_list batch, int64_t epoch) {
    caf::scoped_actor self{*sys};
    attempt_list got;
    self->request(d, seconds{20}, atom::send::value, std::move(batch), epoch)
        .receive([&](attempt_list& r) { got = std::move(r); },
                 [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
    return got;
  }

  delivery_status status() {
    caf::scoped_actor self{*sys};
    delivery_status st;
    self->request(d, seconds{5}, atom::status::value)
        .receive([&](delivery_status& s) { st = s; }, [&](caf::error&) {});
    return st;
  }
};

} // namespace

TEST(DeliverySmtp, GreetingsBecomeMessagesAndRepliesBecomeAttempts) {
  fixture f;
  auto got = f.send({greeting("zoe@example.org", "u1"), greeting("unknown@example.org", "u2"),
                     greeting("reject@example.org", "u3"), greeting("later@example.org", "u4"),
                     greeting("zoe@example.org\r\nBcc: x@example.org", "u5")},
                    0);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].key, "u1:birthday:2027");
  EXPECT_EQ(got[0].result, attempt::sent) << got[0].error;
  EXPECT_EQ(got[1].result, attempt::permanent);
  EXPECT_NE(got[1].error.find("550 5.1.1"), std::string::npos) << got[1].error;
  EXPECT_EQ(got[2].result, attempt::permanent);
  EXPECT_EQ(got[2].error, "SMTP RCPT TO: 550 5.7.1 Refused by policy");
  EXPECT_EQ(got[3].result, attempt::transient);
  EXPECT_EQ(got[3].error, "SMTP RCPT TO: 451 4.3.0 Try again later");
  EXPECT_EQ(got[4].result, attempt::permanent);
  EXPECT_NE(got[4].error.find("invalid email address"), std::string::npos) << got[4].error;
  {
    std::lock_guard<std::mutex> g{f.server.mtx};
    ASSERT_EQ(f.server.messages.size(), 1u);
    const auto& m = f.server.messages[0];
    EXPECT_NE(m.find("From: Candle <greetings@candle.example>\r\n"), std::string::npos) << m;
    EXPECT_NE(m.find("To: =?UTF-8?B?Wm/DqyBEdXBvbnQ=?= <zoe@example.org>\r\n"), std::string::npos)
        << m;
    // "Happy birthday, Zoë!": the birthday's subject template.
    EXPECT_NE(m.find("Subject: =?UTF-8?B?SGFwcHkgYmlydGhkYXksIFpvw6sh?=\r\n"), std::string::npos)
        << m;
    EXPECT_NE(m.find("Message-ID: <u1.birthday.2027@candle.example>\r\n"), std::string::npos) << m;
    EXPECT_NE(m.find("\r\n\r\nHey, Zo=C3=AB Dupont it's your birthday\r\n"), std::string::npos)
        << m;
  }
  // Only the unknown mailbox is a bounce for the EVENTS actor.
  event_list evs;
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard<std::mutex> g{f.rec->mtx};
      evs = f.rec->events;
    }
    if (!evs.empty()) break;
    std::this_thread::sleep_for(milliseconds{20});
  }
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].id, "smtp:u2:birthday:2027");
  EXPECT_EQ(evs[0].type, "bounced");
  EXPECT_EQ(evs[0].key, "u2:birthday:2027");
  EXPECT_NE(evs[0].reason.find("550 5.1.1"), std::string::npos);
}

TEST(DeliverySmtp, NothingGoesOnTheWireOnceItsPartitionsLeaseMayHaveExpired) {
  fixture f;
  f.fences->open(2, 7, steady_clock::now() - milliseconds{1});
  auto fenced = f.send({greeting("zoe@example.org", "u1"), greeting("ada@example.org", "u2")}, 7);
  ASSERT_EQ(fenced.size(), 2u);
  for (const auto& a : fenced) {
    EXPECT_EQ(a.result, attempt::transient);
    EXPECT_NE(a.error.find("fenced"), std::string::npos) << a.error;
  }
  EXPECT_EQ(f.server.mail_commands.load(), 0) << "a fenced greeting reached the server";
  EXPECT_EQ(f.status().breaker, "closed");
  f.fences->open(2, 7, steady_clock::now() + seconds{30});
  auto ok = f.send({greeting("zoe@example.org", "u3")}, 7);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].result, attempt::sent) << ok[0].error;
  EXPECT_NE(f.send({greeting("zoe@example.org", "u4")}, 6)[0].error.find("fenced"),
            std::string::npos);
  EXPECT_EQ(f.server.mail_commands.load(), 1);
}
