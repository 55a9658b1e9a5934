// Configuration sources and their precedence: command line > environment >
// INI file > default; unknown or malformed options are refused.
#include "config/config.hpp"

#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <regex>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace candle;

namespace {

struct temp_ini {
  std::string path;
  explicit temp_ini(const std::string& text) {
    char buf[] = "/tmp/candle-config-XXXXXX";
    int fd = mkstemp(buf);
    ::close(fd);
    path = buf;
    std::ofstream{path} << text;
  }
  ~temp_ini() { std::remove(path.c_str()); }
};

struct env_list {
  std::vector<std::string> store;
  std::vector<char*> ptrs;
  env_list(std::initializer_list<std::string> kvs) : store(kvs) {
    for (auto& s : store)
      ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
  }
  char** get() { return ptrs.data(); }
};

} // namespace

TEST(Config, DefaultsMatchTheContract) {
  node_config cfg;
  env_list env{};
  auto out = load_config(cfg, {}, env.get());
  ASSERT_EQ(out.what, load_outcome::run) << out.message;
  const auto& s = cfg.values;
  EXPECT_EQ(s.http.host, "127.0.0.1");
  EXPECT_EQ(s.http.port, 8080);
  EXPECT_EQ(s.db.url, "");
  EXPECT_EQ(s.db.dir, "./var/pg");
  EXPECT_EQ(s.email.url, "http://127.0.0.1:8025/send-email");
  EXPECT_EQ(s.email.timeout, std::chrono::seconds{10});
  EXPECT_EQ(s.email.max_in_flight, 256u);
  EXPECT_EQ(s.email.api, "single");
  EXPECT_EQ(s.email.batch_size, 500u);
  EXPECT_EQ(s.email.max_attempts, 12u);
  EXPECT_EQ(s.schedule.partitions, 256u);
  EXPECT_EQ(s.schedule.lookahead, std::chrono::hours{48});
  EXPECT_EQ(s.schedule.recovery_window, std::chrono::hours{48});
  EXPECT_EQ(s.records.keep_years, 3u);
  EXPECT_EQ(feb29_of(s), feb29_policy::feb28);
  EXPECT_EQ(send_at_of(s, "birthday"), (time_of_day{9, 0}));
  EXPECT_EQ(send_at_of(s, "anniversary"), (time_of_day{9, 0}));
  EXPECT_EQ(s.clock.mode, "system");
  EXPECT_FALSE(clock_start_of(s));
  EXPECT_EQ(s.clock.speed, 1.0);
  EXPECT_EQ(s.cluster.port, 0);
  EXPECT_EQ(s.cluster.advertise, "127.0.0.1");
  EXPECT_EQ(s.console.port, 4242);
  EXPECT_FALSE(s.admin.fault_injection);
}

TEST(Config, FaultInjectionIsOffUnlessAskedFor) {
  env_list env{"CANDLE_ADMIN_FAULT_INJECTION=true"};
  node_config cfg;
  auto out = load_config(cfg, {}, env.get());
  ASSERT_EQ(out.what, load_outcome::run) << out.message;
  EXPECT_TRUE(cfg.values.admin.fault_injection);
  node_config off;
  out = load_config(off, {"--admin.fault-injection=false"}, env.get());
  ASSERT_EQ(out.what, load_outcome::run) << out.message;
  EXPECT_FALSE(off.values.admin.fault_injection) << "the command line must win";
  node_config bad;
  out = load_config(bad, {"--admin.fault-injection=maybe"}, env.get());
  EXPECT_EQ(out.what, load_outcome::exit_usage);
}

TEST(Config, CommandLineBeatsEnvironmentBeatsFileBeatsDefault) {
  temp_ini ini{"[http]\nport=1111\n[db]\ndir=\"/from/file\"\n[email]\ntimeout=250ms\n"
               "[schedule]\nfeb29=\"mar1\"\n"};
  env_list env{"CANDLE_HTTP_PORT=2222", "CANDLE_DB_DIR=/from/env", "PATH=/usr/bin"};
  node_config cfg;
  auto out = load_config(cfg, {"--config-file=" + ini.path, "--http.port=3333"}, env.get());
  ASSERT_EQ(out.what, load_outcome::run) << out.message;
  EXPECT_EQ(cfg.values.http.port, 3333);                               // command line
  EXPECT_EQ(cfg.values.db.dir, "/from/env");                           // environment
  EXPECT_EQ(cfg.values.email.timeout, std::chrono::milliseconds{250}); // file
  EXPECT_EQ(cfg.values.schedule.feb29, "mar1");                        // file
  EXPECT_EQ(cfg.values.email.max_attempts, 12u);                       // default
}

TEST(Config, EnvironmentNamesCoverDashedAndNestedOptions) {
  EXPECT_EQ(env_name("db.url"), "CANDLE_DB_URL");
  EXPECT_EQ(env_name("email.max-in-flight"), "CANDLE_EMAIL_MAX_IN_FLIGHT");
  EXPECT_EQ(env_name("occasions.birthday.send-at"), "CANDLE_OCCASIONS_BIRTHDAY_SEND_AT");
  env_list env{"CANDLE_EMAIL_MAX_IN_FLIGHT=7", "CANDLE_OCCASIONS_ANNIVERSARY_SEND_AT=18:30",
               "CANDLE_SCHEDULE_LOOKAHEAD=12h", "CANDLE_DB_URL=postgresql://u:p@h:5432/db"};
  node_config cfg;
  auto out = load_config(cfg, {}, env.get());
  ASSERT_EQ(out.what, load_outcome::run) << out.message;
  EXPECT_EQ(cfg.values.email.max_in_flight, 7u);
  EXPECT_EQ(send_at_of(cfg.values, "anniversary"), (time_of_day{18, 30}));
  EXPECT_EQ(cfg.values.schedule.lookahead, std::chrono::hours{12});
  EXPECT_EQ(cfg.values.db.url, "postgresql://u:p@h:5432/db");
}

TEST(Config, NestedGroupsWorkInTheFile) {
  temp_ini ini{"[occasions.birthday]\nsend-at=\"07:15\"\n[clock]\nmode=\"simulated\"\n"
               "start=\"2026-03-01T00:00:00Z\"\nspeed=1440.0\n"};
  node_config cfg;
  env_list env{};
  auto out = load_config(cfg, {"--config-file=" + ini.path}, env.get());
  ASSERT_EQ(out.what, load_outcome::run) << out.message;
  EXPECT_EQ(send_at_of(cfg.values, "birthday"), (time_of_day{7, 15}));
  EXPECT_EQ(cfg.values.clock.mode, "simulated");
  ASSERT_TRUE(clock_start_of(cfg.values));
  EXPECT_EQ(format_instant(*clock_start_of(cfg.values)), "2026-03-01T00:00:00.000Z");
  EXPECT_EQ(cfg.values.clock.speed, 1440.0);
  // The command line still wins over a nested file section.
  node_config cli;
  out = load_config(cli, {"--config-file=" + ini.path, "--occasions.birthday.send-at=06:00"},
                    env.get());
  ASSERT_EQ(out.what, load_outcome::run) << out.message;
  EXPECT_EQ(send_at_of(cli.values, "birthday"), (time_of_day{6, 0}));
  // A typo inside a nested section is caught too.
  temp_ini typo{"[occasions.birthday]\nsendat=\"07:15\"\n"};
  node_config bad;
  out = load_config(bad, {"--config-file=" + typo.path}, env.get());
  EXPECT_EQ(out.what, load_outcome::exit_usage);
  EXPECT_NE(out.message.find("occasions.birthday.sendat"), std::string::npos) << out.message;
}

TEST(Config, UnknownOrMalformedOptionsAreRefused) {
  struct bad_case {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string expect; // a fragment of the message
  };
  temp_ini typo{"[http]\nprot=9000\n"};
  std::vector<bad_case> cases{
      {{"--htp.port=1"}, {}, "htp.port"},
      {{"--http.port=abc"}, {}, "http.port"},
      {{"--http.port=70000"}, {}, "http.port"},
      {{"--email.timeout=10"}, {}, "email.timeout"},
      {{"stray"}, {}, "stray"},
      {{"--config-file=" + typo.path}, {}, "http.prot"},
      {{"--config-file=/nonexistent/candle.ini"}, {}, "candle.ini"},
      {{}, {"CANDLE_DB_URLL=x"}, "CANDLE_DB_URLL"},
      {{}, {"CANDLE_HTTP_PORT=x"}, "http.port"},
      {{"--clock.mode=fast"}, {}, "clock.mode"},
      {{"--clock.start=yesterday"}, {}, "clock.start"},
      {{"--clock.speed=-1.0"}, {}, "clock.speed"},
      {{"--schedule.feb29=feb30"}, {}, "schedule.feb29"},
      {{"--occasions.birthday.send-at=25:00"}, {}, "occasions.birthday.send-at"},
      {{"--email.max-in-flight=0"}, {}, "email.max-in-flight"},
      {{"--email.api=bulk"}, {}, "email.api"},
      {{"--email.batch-size=0"}, {}, "email.batch-size"},
      {{"--email.batch-size=10001"}, {}, "email.batch-size"},
      {{"--email.url=ftp://x"}, {}, "email.url"},
      {{"--schedule.partitions=0"}, {}, "schedule.partitions"},
      {{"--records.keep-years=0"}, {}, "records.keep-years"},
      {{"--records.keep-years=1001"}, {}, "records.keep-years"},
      {{}, {"CANDLE_RECORDS_KEEP_YEARS=0"}, "records.keep-years"},
      {{"--db.connections=0"}, {}, "db.connections"},
      {{"--db.connections=65"}, {}, "db.connections"},
      {{"--schedule.claim-ahead=25h"}, {}, "schedule.claim-ahead"}, // > lookahead / 2
      {{"--schedule.lookahead=1min", "--schedule.claim-ahead=31s"}, {}, "schedule.claim-ahead"},
      {{"--email.breaker-threshold=0"}, {}, "email.breaker-threshold"},
      {{"--db.url=mysql://x"}, {}, "db.url"},
      {{"--log.level=loud"}, {}, "log.level"},
      {{"--log.format=xml"}, {}, "log.format"},
      {{"--cluster.port=7001"}, {}, "set db.url"}, // a cluster needs a shared database
      {{"--cluster.lease-ttl=1s"}, {}, "cluster.lease-ttl"},
      {{"--cluster.node-id=a b"}, {}, "cluster.node-id"},
  };
  for (auto& c : cases) {
    std::vector<std::string> envs = c.env;
    std::vector<char*> ptrs;
    for (auto& e : envs)
      ptrs.push_back(e.data());
    ptrs.push_back(nullptr);
    node_config cfg;
    auto out = load_config(cfg, c.args, ptrs.data());
    EXPECT_EQ(out.what, load_outcome::exit_usage) << c.expect;
    EXPECT_NE(out.message.find(c.expect), std::string::npos)
        << "message for " << c.expect << ": " << out.message;
  }
}

// email.transport=smtp: the smtp.* options are checked at start-up, each bad
// value refused with a message naming it (nothing is started).
TEST(Config, SmtpTransportOptions) {
  temp_ini secret{"s3cret-pass\n"};
  temp_ini empty{""};
  auto load = [](std::vector<std::string> args) {
    node_config cfg;
    env_list env{};
    auto out = load_config(cfg, args, env.get());
    return std::make_pair(out, cfg.values);
  };
  {
    auto [out, s] = load({});
    ASSERT_EQ(out.what, load_outcome::run);
    EXPECT_EQ(s.email.transport, "http");
    EXPECT_EQ(s.smtp.starttls, "required");
  }
  const std::string ok_url = "--smtp.url=smtp://mail.example.com:587";
  const std::string ok_from = "--smtp.from=Candle <greetings@example.com>";
  {
    auto [out, s] = load({"--email.transport=smtp", ok_url, ok_from, "--smtp.user=apikey",
                          "--smtp.password-file=" + secret.path});
    ASSERT_EQ(out.what, load_outcome::run) << out.message;
    EXPECT_EQ(s.email.transport, "smtp");
    auto pw = smtp_password_of(s);
    ASSERT_TRUE(pw.ok());
    EXPECT_EQ(*pw, "s3cret-pass"); // the first line, without its line break
  }
  {
    auto [out, s] = load({"--email.transport=smtp", "--smtp.url=smtps://mail.example.com:465",
                          "--smtp.from=g@example.com", "--smtp.user=u", "--smtp.password=p",
                          "--smtp.starttls=optional"});
    ASSERT_EQ(out.what, load_outcome::run) << out.message;
    EXPECT_EQ(*smtp_password_of(s), "p");
  }
  struct bad_case {
    std::vector<std::string> args;
    std::string expect;
  };
  std::vector<bad_case> cases{
      {{"--email.transport=pigeon"}, "email.transport"},
      {{"--email.transport=smtp", ok_from}, "smtp.url: required"},
      {{"--email.transport=smtp", "--smtp.url=http://x", ok_from}, "smtp.url"},
      {{"--email.transport=smtp", "--smtp.url=smtp://u:s3cret@mail.example.com:587", ok_from},
       "not in the URL"},
      {{"--email.transport=smtp", ok_url}, "smtp.from: required"},
      {{"--email.transport=smtp", ok_url, "--smtp.from=not an address"}, "smtp.from"},
      {{"--email.transport=smtp", ok_url, "--smtp.from=Candle <g@example.com"}, "smtp.from"},
      {{"--email.transport=smtp", ok_url, ok_from, "--smtp.user=u"}, "smtp.user"},
      {{"--email.transport=smtp", ok_url, ok_from, "--smtp.password=p"}, "smtp.user"},
      {{"--email.transport=smtp", ok_url, ok_from, "--smtp.user=u", "--smtp.password=p",
        "--smtp.password-file=" + secret.path},
       "not both"},
      {{"--email.transport=smtp", ok_url, ok_from, "--smtp.user=u",
        "--smtp.password-file=/nonexistent/pw"},
       "smtp.password-file: cannot read /nonexistent/pw"},
      {{"--email.transport=smtp", ok_url, ok_from, "--smtp.user=u",
        "--smtp.password-file=" + empty.path},
       "holds no password"},
      {{"--email.transport=smtp", ok_url, ok_from, "--smtp.ca=/nonexistent/ca.pem"}, "smtp.ca"},
      {{"--email.transport=smtp", ok_url, ok_from, "--smtp.starttls=never"}, "smtp.starttls"},
      {{"--email.transport=smtp", ok_url, ok_from, "--email.api=batch"}, "email.api"},
  };
  for (auto& c : cases) {
    auto [out, s] = load(c.args);
    EXPECT_EQ(out.what, load_outcome::exit_usage) << c.expect;
    EXPECT_NE(out.message.find(c.expect), std::string::npos)
        << "message for " << c.expect << ": " << out.message;
    // The password is never in a message.
    EXPECT_EQ(out.message.find("s3cret"), std::string::npos);
  }
}

// docs/configuration.md's option table names exactly the options candled
// has (the operator's reference cannot drift from the code).
TEST(Config, TheDocumentedOptionTableMatchesTheOptions) {
  node_config cfg;
  std::set<std::string> real;
  std::regex opt{R"(^  --([a-z0-9-]+\.[a-z0-9.-]+)=)"}; // one option per line
  std::istringstream help{cfg.help_text()};
  for (std::string h; std::getline(help, h);)
    if (std::smatch m; std::regex_search(h, m, opt)) real.insert(m[1]);
  ASSERT_GT(real.size(), 10u);
  std::ifstream in{CANDLE_SOURCE_DIR "/docs/configuration.md"};
  ASSERT_TRUE(in) << "docs/configuration.md";
  std::set<std::string> documented;
  std::regex name{R"(`([a-z0-9-]+\.[a-z0-9.-]+)`)"};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| `", 0) != 0) continue; // table rows naming options
    auto first = line.substr(0, line.find(" | ", 2));
    for (std::sregex_iterator it{first.begin(), first.end(), name}, end; it != end; ++it)
      documented.insert((*it)[1]);
  }
  EXPECT_EQ(documented, real);
}
