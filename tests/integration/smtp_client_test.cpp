// net/smtp_client against a scripted SMTP server on a real loopback socket:
// connections are reused across messages, the server's own reply text is the
// error, every reply class is classified, and a fenced message never
// reaches the server whole.
#include "core/mail.hpp"
#include "provider/smtp_client.hpp"
#include "scripted_smtp.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <gtest/gtest.h>
#include <mutex>
#include <thread>

using namespace candle;
using namespace std::chrono;
using candle::test::scripted_smtp;

namespace {

std::string message_to(const std::string& to, const std::string& key) {
  mail::message_fields m;
  m.from = {"Candle", "greetings@candle.example"};
  m.to_name = "Zo\xc3\xab Dupont";
  m.to_address = to;
  m.subject = "Happy birthday, Zo\xc3\xab!";
  m.body = "Hey, Zo\xc3\xab Dupont it's your birthday";
  m.key = key;
  m.date_ms = 1796620584000;
  return *mail::build_message(m);
}

net::smtp_answer send_one(net::smtp_client& c, const std::string& to,
                          std::function<bool()> may_send = {}) {
  std::promise<net::smtp_answer> p;
  auto f = p.get_future();
  c.send("greetings@candle.example", to, message_to(to, "k:" + to), std::move(may_send),
         [&p](net::smtp_answer a) { p.set_value(std::move(a)); });
  EXPECT_EQ(f.wait_for(seconds{20}), std::future_status::ready);
  return f.get();
}

net::smtp_options options(const scripted_smtp& s, size_t in_flight = 2) {
  net::smtp_options o;
  o.url = s.url();
  o.timeout = seconds{5};
  o.max_in_flight = in_flight;
  return o;
}

} // namespace

TEST(SmtpClient, LoopbackUrls) {
  EXPECT_TRUE(net::smtp_url_is_loopback("smtp://127.0.0.1:25"));
  EXPECT_TRUE(net::smtp_url_is_loopback("smtp://localhost:2525"));
  EXPECT_TRUE(net::smtp_url_is_loopback("smtp://[::1]:25"));
  EXPECT_FALSE(net::smtp_url_is_loopback("smtp://smtp.sendgrid.net:587"));
  EXPECT_FALSE(net::smtp_url_is_loopback("smtp://10.0.0.1:25"));
  EXPECT_FALSE(net::smtp_url_is_loopback("not a url"));
}

TEST(SmtpClient, MessagesShareFewConnections) {
  scripted_smtp server;
  net::smtp_client client{options(server, 2)};
  constexpr int n = 40;
  std::mutex mtx;
  std::condition_variable cv;
  int answered = 0, sent = 0;
  for (int i = 0; i < n; ++i) {
    auto to = "user" + std::to_string(i) + "@example.org";
    client.send("greetings@candle.example", to, message_to(to, "key:" + std::to_string(i)), {},
                [&](net::smtp_answer a) {
                  std::lock_guard<std::mutex> g{mtx};
                  ++answered;
                  sent += a.result == net::provider_answer::sent;
                  cv.notify_all();
                });
  }
  {
    std::unique_lock<std::mutex> g{mtx};
    ASSERT_TRUE(cv.wait_for(g, seconds{30}, [&] { return answered == n; }));
  }
  EXPECT_EQ(sent, n);
  // At most max_in_flight connections, each carrying many messages.
  EXPECT_LE(server.connections.load(), 2);
  EXPECT_EQ(client.connections_opened(), static_cast<size_t>(server.connections.load()));
  std::lock_guard<std::mutex> g{server.mtx};
  ASSERT_EQ(server.messages.size(), static_cast<size_t>(n));
  // Each message arrives byte for byte as built.
  for (int i = 0; i < n; ++i) {
    auto to = "user" + std::to_string(i) + "@example.org";
    auto built = message_to(to, "key:" + std::to_string(i));
    EXPECT_EQ(std::count(server.messages.begin(), server.messages.end(), built), 1) << to;
  }
}

TEST(SmtpClient, RepliesAreClassifiedWithTheServersText) {
  scripted_smtp server;
  net::smtp_client client{options(server)};
  auto ok = send_one(client, "ada@example.org");
  EXPECT_EQ(ok.result, net::provider_answer::sent);
  EXPECT_EQ(ok.status, 250);

  auto unknown = send_one(client, "unknown@example.org");
  EXPECT_EQ(unknown.result, net::provider_answer::permanent);
  EXPECT_TRUE(unknown.suppress);
  EXPECT_EQ(unknown.status, 550);
  EXPECT_EQ(unknown.error, "SMTP RCPT TO: 550 5.1.1 <unknown@example.org>: Recipient address "
                           "rejected: User unknown");

  auto reject = send_one(client, "reject@example.org");
  EXPECT_EQ(reject.result, net::provider_answer::permanent);
  EXPECT_FALSE(reject.suppress);
  EXPECT_EQ(reject.error, "SMTP RCPT TO: 550 5.7.1 Refused by policy");

  auto later = send_one(client, "later@example.org");
  EXPECT_EQ(later.result, net::provider_answer::transient);
  EXPECT_EQ(later.error, "SMTP RCPT TO: 451 4.3.0 Try again later");

  auto drop = send_one(client, "drop@example.org");
  EXPECT_EQ(drop.result, net::provider_answer::transient);
  EXPECT_NE(drop.error.find("SMTP transport"), std::string::npos) << drop.error;

  // A 5xx before RCPT TO is about Candle's account, not the recipient: retried.
  std::promise<net::smtp_answer> p;
  auto f = p.get_future();
  client.send("refused@candle.example", "ada@example.org",
              message_to("ada@example.org", "k:refused"), {},
              [&p](net::smtp_answer a) { p.set_value(std::move(a)); });
  ASSERT_EQ(f.wait_for(seconds{20}), std::future_status::ready);
  auto refused = f.get();
  EXPECT_EQ(refused.result, net::provider_answer::transient);
  EXPECT_FALSE(refused.suppress);
  EXPECT_EQ(refused.error, "SMTP MAIL FROM: 553 5.7.1 Sender address rejected: not owned by user");

  // After all that the client still delivers.
  EXPECT_EQ(send_one(client, "zoe@example.org").result, net::provider_answer::sent);
  std::lock_guard<std::mutex> g{server.mtx};
  EXPECT_EQ(server.messages.size(), 2u);
}

TEST(SmtpClient, AnUnreachableServerIsTransient) {
  int port = 0;
  {
    scripted_smtp gone; // bound, then closed: nothing listens there
    port = gone.port;
  }
  net::smtp_options o;
  o.url = "smtp://127.0.0.1:" + std::to_string(port);
  o.timeout = seconds{2};
  net::smtp_client client{o};
  auto a = send_one(client, "ada@example.org");
  EXPECT_EQ(a.result, net::provider_answer::transient);
  EXPECT_EQ(a.status, 0);
  EXPECT_NE(a.error.find("SMTP transport"), std::string::npos) << a.error;
}

TEST(SmtpClient, AFencedMessageNeverReachesTheServerWhole) {
  scripted_smtp server;
  net::smtp_client client{options(server)};
  // Refused from the start: nothing is even connected for it.
  auto never = send_one(client, "ada@example.org", [] { return false; });
  EXPECT_EQ(never.result, net::provider_answer::transient);
  EXPECT_TRUE(never.fenced);
  EXPECT_EQ(server.mail_commands.load(), 0);
  // Refused once the connection is ready (the second question): no MAIL FROM.
  auto asked = std::make_shared<std::atomic<int>>(0);
  auto at_connect = send_one(client, "ada@example.org", [asked] { return ++*asked < 2; });
  EXPECT_TRUE(at_connect.fenced) << at_connect.error;
  EXPECT_EQ(server.mail_commands.load(), 0);
  // Refused when the message is first asked for (after DATA's 354): the
  // server gets an incomplete DATA and keeps nothing.
  auto late = std::make_shared<std::atomic<int>>(0);
  auto at_data = send_one(client, "ada@example.org", [late] { return ++*late < 3; });
  EXPECT_TRUE(at_data.fenced) << at_data.error;
  EXPECT_EQ(at_data.result, net::provider_answer::transient);
  for (int i = 0; i < 100 && server.incomplete.load() == 0; ++i)
    std::this_thread::sleep_for(milliseconds{20});
  EXPECT_EQ(server.incomplete.load(), 1);
  std::lock_guard<std::mutex> g{server.mtx};
  EXPECT_TRUE(server.messages.empty());
}
