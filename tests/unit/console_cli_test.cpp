#include "console/cli.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <limits>
#include <sstream>

using namespace candle;
using namespace candle::console;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

using words = std::vector<std::string>;

command parse_ok(const words& w) {
  auto r = parse_command(w);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.err().message);
  return r.ok() ? *r : command{};
}

/// The error of a parse that must fail: its code and that its message names `needle`.
void expect_error(const words& w, errc code, const std::string& needle) {
  auto r = parse_command(w);
  ASSERT_FALSE(r.ok()) << "parsed: " << w[0];
  EXPECT_EQ(r.err().code, code) << r.err().message;
  EXPECT_NE(r.err().message.find(needle), std::string::npos)
      << "'" << r.err().message << "' does not name '" << needle << "'";
  EXPECT_EQ(r.err().message.find('\n'), std::string::npos);
}

void expect_invocation_error(const words& argv, errc code, const std::string& needle) {
  auto r = parse_invocation(argv);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, code) << r.err().message;
  EXPECT_NE(r.err().message.find(needle), std::string::npos)
      << "'" << r.err().message << "' does not name '" << needle << "'";
}

words split_ok(std::string_view line) {
  auto r = split_line(line);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.err().message);
  return r.ok() ? *r : words{};
}

json::object doc(std::string_view text) {
  return json::parse(text).as_object();
}

/// Compares with tests/unit/golden/console/<name>.txt; UPDATE_GOLDEN=1 writes it instead.
void expect_golden(const std::string& name, const std::string& actual) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path{CANDLE_SOURCE_DIR} / "tests/unit/golden/console";
  fs::path file = dir / (name + ".txt");
  const char* update = std::getenv("UPDATE_GOLDEN");
  if (update && std::string_view{update} == "1") {
    fs::create_directories(dir);
    std::ofstream{file, std::ios::binary} << actual;
    return;
  }
  std::ifstream in{file, std::ios::binary};
  ASSERT_TRUE(in) << "no golden file " << file << " (UPDATE_GOLDEN=1 writes it)";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << "golden " << file;
}

/// Every rendering ends with a newline and has no trailing spaces.
void expect_tidy(const std::string& text) {
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    EXPECT_TRUE(line.empty() || line.back() != ' ') << "trailing space: '" << line << "'";
}

void expect_rendered(const std::string& golden, const json::object& d) {
  std::string text = render_text(d);
  expect_tidy(text);
  expect_golden(golden, text);
}

} // namespace

// ---------------------------------------------------------------------------
// Commands

TEST(ConsoleCommand, CommandsWithoutArguments) {
  for (const char* name : {"status", "nodes", "partitions", "resume", "help", "quit"}) {
    auto c = parse_ok({name});
    EXPECT_EQ(c.name, name);
    expect_error({name, "x"}, errc::invalid_argument, "'x'");
    expect_error({name, "--x"}, errc::invalid_argument, "--x");
  }
  expect_error({"status", "--json"}, errc::invalid_argument, "before the command");
}

TEST(ConsoleCommand, UnknownAndEmpty) {
  expect_error({"stauts"}, errc::invalid_argument, "unknown command 'stauts' (try help)");
  expect_error({"STATUS"}, errc::invalid_argument, "STATUS");
  expect_error({""}, errc::invalid_argument, "unknown command ''");
  auto r = parse_command({});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
}

TEST(ConsoleCommand, ChangesState) {
  EXPECT_TRUE(parse_ok({"redrive", "k"}).changes_state());
  EXPECT_TRUE(parse_ok({"pause"}).changes_state());
  EXPECT_TRUE(parse_ok({"resume"}).changes_state());
  for (const char* name :
       {"status", "nodes", "partitions", "upcoming", "failed", "watch", "help", "quit"})
    EXPECT_FALSE(parse_ok({name}).changes_state()) << name;
  EXPECT_FALSE(parse_ok({"user", "a@b.c"}).changes_state());
}

TEST(ConsoleCommand, User) {
  EXPECT_EQ(parse_ok({"user", "ada@example.com"}).user, "ada@example.com");
  EXPECT_EQ(parse_ok({"user", "0b7e6a52-0000-4000-8000-000000000001"}).user,
            "0b7e6a52-0000-4000-8000-000000000001");
  expect_error({"user"}, errc::invalid_argument, "<id|email>");
  expect_error({"user", "a", "b"}, errc::invalid_argument, "'b'");
  expect_error({"user", ""}, errc::invalid_argument, "empty");
  expect_error({"user", "--limit", "3"}, errc::invalid_argument, "--limit");
}

TEST(ConsoleCommand, Upcoming) {
  EXPECT_EQ(parse_ok({"upcoming"}).limit, 10u);
  EXPECT_EQ(parse_ok({"upcoming", "1"}).limit, 1u);
  EXPECT_EQ(parse_ok({"upcoming", "1000"}).limit, 1000u);
  EXPECT_EQ(parse_ok({"upcoming", "007"}).limit, 7u);
  expect_error({"upcoming", "0"}, errc::out_of_range, "'0'");
  expect_error({"upcoming", "1001"}, errc::out_of_range, "1..1000");
  expect_error({"upcoming", "99999999999999999999999"}, errc::out_of_range, "1..1000");
  expect_error({"upcoming", "-5"}, errc::invalid_argument, "'-5'");
  expect_error({"upcoming", "ten"}, errc::invalid_argument, "'ten'");
  expect_error({"upcoming", "1.5"}, errc::invalid_argument, "'1.5'");
  expect_error({"upcoming", "+5"}, errc::invalid_argument, "'+5'");
  expect_error({"upcoming", "5", "6"}, errc::invalid_argument, "'6'");
  expect_error({"upcoming", "--limit=5"}, errc::invalid_argument, "--limit");
}

TEST(ConsoleCommand, Failed) {
  auto c = parse_ok({"failed"});
  EXPECT_EQ(c.statuses, (words{"dead", "expired", "retrying"}));
  EXPECT_EQ(c.limit, 20u);

  c = parse_ok(
      {"failed", "--status", "retrying", "--status=dead", "--status", "retrying", "--limit", "5"});
  EXPECT_EQ(c.statuses, (words{"retrying", "dead"})); // deduplicated, order kept
  EXPECT_EQ(c.limit, 5u);
  EXPECT_EQ(parse_ok({"failed", "--limit=1000"}).limit, 1000u);
  EXPECT_EQ(parse_ok({"failed", "--limit", "1", "--status", "expired"}).statuses, words{"expired"});

  expect_error({"failed", "--status", "sent"}, errc::invalid_argument, "'sent'");
  expect_error({"failed", "--status", "dead,expired"}, errc::invalid_argument, "--status");
  expect_error({"failed", "--status"}, errc::invalid_argument, "--status: needs a value");
  expect_error({"failed", "--status="}, errc::invalid_argument, "--status: needs a value");
  expect_error({"failed", "--status", "--limit", "3"}, errc::invalid_argument,
               "--status: needs a value");
  expect_error({"failed", "--limit"}, errc::invalid_argument, "--limit: needs a value");
  expect_error({"failed", "--limit", "0"}, errc::out_of_range, "--limit");
  expect_error({"failed", "--limit=1001"}, errc::out_of_range, "1..1000");
  expect_error({"failed", "--limit", "x"}, errc::invalid_argument, "'x'");
  expect_error({"failed", "--limit", "1", "--limit", "2"}, errc::invalid_argument,
               "more than once");
  expect_error({"failed", "dead"}, errc::invalid_argument, "'dead'");
  expect_error({"failed", "--state", "dead"}, errc::invalid_argument,
               "--state' (accepted: --status --limit)");
}

TEST(ConsoleCommand, RedriveOneKey) {
  auto c = parse_ok({"redrive", "u1:birthday:2027"});
  EXPECT_EQ(c.key, "u1:birthday:2027");
  EXPECT_TRUE(c.statuses.empty());
  EXPECT_FALSE(c.dry_run);
  expect_error({"redrive"}, errc::invalid_argument, "<key> or --status");
  expect_error({"redrive", "a", "b"}, errc::invalid_argument, "'b'");
  expect_error({"redrive", ""}, errc::invalid_argument, "empty");
  expect_error({"redrive", "k", "--status", "dead"}, errc::invalid_argument, "not both");
  expect_error({"redrive", "--status=dead", "k"}, errc::invalid_argument, "not both");
  expect_error({"redrive", "k", "--dry-run"}, errc::invalid_argument, "--dry-run: only with");
  expect_error({"redrive", "k", "--occasion", "birthday"}, errc::invalid_argument,
               "--occasion: only with");
}

TEST(ConsoleCommand, RedriveBulk) {
  auto c = parse_ok({"redrive", "--status", "dead"});
  EXPECT_EQ(c.statuses, words{"dead"});
  EXPECT_TRUE(c.key.empty());
  EXPECT_TRUE(c.occasion.empty());
  EXPECT_FALSE(c.dry_run);

  c = parse_ok({"redrive", "--dry-run", "--occasion=anniversary", "--status=expired"});
  EXPECT_EQ(c.statuses, words{"expired"});
  EXPECT_EQ(c.occasion, "anniversary");
  EXPECT_TRUE(c.dry_run);

  expect_error({"redrive", "--status", "retrying"}, errc::invalid_argument, "'retrying'");
  expect_error({"redrive", "--status", "sent"}, errc::invalid_argument, "dead or expired");
  expect_error({"redrive", "--status", "dead", "--status", "expired"}, errc::invalid_argument,
               "more than once");
  expect_error({"redrive", "--status"}, errc::invalid_argument, "--status: needs a value");
  expect_error({"redrive", "--status", "dead", "--occasion"}, errc::invalid_argument,
               "--occasion: needs a value");
  expect_error({"redrive", "--status", "dead", "--dry-run=yes"}, errc::invalid_argument,
               "--dry-run: takes no value");
  expect_error({"redrive", "--status", "dead", "--dry-run", "--dry-run"}, errc::invalid_argument,
               "more than once");
  expect_error({"redrive", "--dry-run"}, errc::invalid_argument, "<key> or --status");
  expect_error({"redrive", "--limit", "3"}, errc::invalid_argument,
               "(accepted: --status --occasion --dry-run)");
}

TEST(ConsoleCommand, Pause) {
  EXPECT_EQ(parse_ok({"pause"}).duration, 0s);
  EXPECT_EQ(parse_ok({"pause", "--for", "2s"}).duration, 2s);
  EXPECT_EQ(parse_ok({"pause", "--for=1h30m"}).duration, 90min);
  expect_error({"pause", "5m"}, errc::invalid_argument, "'5m'");
  expect_error({"pause", "--for"}, errc::invalid_argument, "pause --for: needs a value");
  expect_error({"pause", "--for="}, errc::invalid_argument, "pause --for: needs a value");
  expect_error({"pause", "--for", "5x"}, errc::invalid_argument, "pause --for: bad duration '5x'");
  expect_error({"pause", "--for", "0s"}, errc::out_of_range, "pause --for");
  expect_error({"pause", "--for", "31d"}, errc::out_of_range, "'31d'");
  expect_error({"pause", "--for", "1s", "--for", "2s"}, errc::invalid_argument, "more than once");
  expect_error({"pause", "--interval", "1s"}, errc::invalid_argument, "(accepted: --for)");
}

TEST(ConsoleCommand, Watch) {
  EXPECT_EQ(parse_ok({"watch"}).duration, 1s);
  EXPECT_EQ(parse_ok({"watch", "--interval", "5s"}).duration, 5s);
  EXPECT_EQ(parse_ok({"watch", "--interval=1m"}).duration, 60s);
  expect_error({"watch", "--interval"}, errc::invalid_argument, "watch --interval: needs a value");
  expect_error({"watch", "--interval", "1"}, errc::invalid_argument, "'1'");
  expect_error({"watch", "--interval", "0s"}, errc::out_of_range, "--interval");
  expect_error({"watch", "2s"}, errc::invalid_argument, "'2s'");
  expect_error({"watch", "--for", "2s"}, errc::invalid_argument, "(accepted: --interval)");
}

// ---------------------------------------------------------------------------
// Global options

TEST(ConsoleInvocation, Defaults) {
  auto r = parse_invocation({});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->host, "127.0.0.1");
  EXPECT_EQ(r->port, 4242);
  EXPECT_FALSE(r->json);
  EXPECT_EQ(r->timeout, 4000ms);
  EXPECT_FALSE(r->cmd.has_value()); // interactive
}

TEST(ConsoleInvocation, OptionsThenCommand) {
  auto r = parse_invocation({"--host", "10.0.0.2", "--port", "4300", "--json", "--timeout", "2s",
                             "failed", "--status", "dead"});
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->host, "10.0.0.2");
  EXPECT_EQ(r->port, 4300);
  EXPECT_TRUE(r->json);
  EXPECT_EQ(r->timeout, 2000ms);
  ASSERT_TRUE(r->cmd.has_value());
  EXPECT_EQ(r->cmd->name, "failed");
  EXPECT_EQ(r->cmd->statuses, words{"dead"});

  r = parse_invocation({"--host=node2", "--port=1", "--timeout=1m30s", "status"});
  ASSERT_TRUE(r.ok()) << r.err().message;
  EXPECT_EQ(r->host, "node2");
  EXPECT_EQ(r->port, 1);
  EXPECT_EQ(r->timeout, 90000ms);
  EXPECT_EQ(r->cmd->name, "status");

  r = parse_invocation({"--port", "65535", "--port", "4243"}); // the last one counts
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->port, 4243);
  EXPECT_FALSE(r->cmd.has_value());
}

TEST(ConsoleInvocation, Help) {
  for (const char* h : {"-h", "--help"}) {
    auto r = parse_invocation({"--json", h});
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->cmd.has_value());
    EXPECT_EQ(r->cmd->name, "help");
    EXPECT_TRUE(r->json);
  }
  auto r = parse_invocation({"help"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cmd->name, "help");
  expect_invocation_error({"--help=x"}, errc::invalid_argument, "--help: takes no value");
}

TEST(ConsoleInvocation, Errors) {
  expect_invocation_error({"--port", "0"}, errc::out_of_range, "--port: must be 1..65535");
  expect_invocation_error({"--port", "65536"}, errc::out_of_range, "--port: must be 1..65535");
  expect_invocation_error({"--port=99999999999999999999"}, errc::out_of_range, "--port");
  expect_invocation_error({"--port", "http"}, errc::invalid_argument, "--port");
  expect_invocation_error({"--port", "-1"}, errc::invalid_argument, "--port");
  expect_invocation_error({"--port"}, errc::invalid_argument, "--port: needs a value");
  expect_invocation_error({"--port="}, errc::invalid_argument, "--port: needs a value");
  expect_invocation_error({"--port", "--json"}, errc::invalid_argument, "--port: needs a value");
  expect_invocation_error({"--host"}, errc::invalid_argument, "--host: needs a value");
  expect_invocation_error({"--host="}, errc::invalid_argument, "--host: needs a value");
  expect_invocation_error({"--timeout"}, errc::invalid_argument, "--timeout: needs a value");
  expect_invocation_error({"--timeout", "5"}, errc::invalid_argument, "--timeout: bad duration");
  expect_invocation_error({"--timeout", "0s"}, errc::out_of_range, "--timeout");
  expect_invocation_error({"--timeout=31d"}, errc::out_of_range, "--timeout");
  expect_invocation_error({"--json=1"}, errc::invalid_argument, "--json: takes no value");
  expect_invocation_error({"--verbose", "status"}, errc::invalid_argument, "'--verbose'");
  expect_invocation_error({"-v"}, errc::invalid_argument, "'-v'");
  expect_invocation_error({"stauts"}, errc::invalid_argument, "unknown command 'stauts'");
  expect_invocation_error({"--json", "upcoming", "0"}, errc::out_of_range, "upcoming");
  expect_invocation_error({"status", "--json"}, errc::invalid_argument, "before the command");
}

// ---------------------------------------------------------------------------
// Interactive lines

TEST(ConsoleSplitLine, Words) {
  EXPECT_EQ(split_ok(""), words{});
  EXPECT_EQ(split_ok("   \t "), words{});
  EXPECT_EQ(split_ok("status"), words{"status"});
  EXPECT_EQ(split_ok("  failed\t--status  dead \n"), (words{"failed", "--status", "dead"}));
}

TEST(ConsoleSplitLine, Quotes) {
  EXPECT_EQ(split_ok("user 'Ada Lovelace'"), (words{"user", "Ada Lovelace"}));
  EXPECT_EQ(split_ok("user \"Ada Lovelace\""), (words{"user", "Ada Lovelace"}));
  EXPECT_EQ(split_ok("a'b c'd"), words{"ab cd"});                 // adjacent parts join
  EXPECT_EQ(split_ok("x '' y"), (words{"x", "", "y"}));           // empty word kept
  EXPECT_EQ(split_ok("\"\""), words{""});                         //
  EXPECT_EQ(split_ok("'say \"hi\"'"), words{"say \"hi\""});       // other quote literal
  EXPECT_EQ(split_ok("\"it's\""), words{"it's"});                 //
  EXPECT_EQ(split_ok("'a\\b'"), words{"a\\b"});                   // no escapes in '...'
  EXPECT_EQ(split_ok("\"a\\\"b\\\\c\\d\""), words{"a\"b\\c\\d"}); // \" and \\ only in "..."
}

TEST(ConsoleSplitLine, Escapes) {
  EXPECT_EQ(split_ok("a\\ b"), words{"a b"});
  EXPECT_EQ(split_ok("\\'x\\\""), words{"'x\""});
  EXPECT_EQ(split_ok("\\\\"), words{"\\"});
  EXPECT_EQ(split_ok("\\n"), words{"n"});
}

TEST(ConsoleSplitLine, Errors) {
  for (std::string_view line : {"user 'ada", "user \"ada", "'", "\"abc\\\"", "a\\"}) {
    auto r = split_line(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.err().code, errc::invalid_argument);
  }
  EXPECT_NE(split_line("user 'ada").err().message.find("unterminated '"), std::string::npos);
  EXPECT_NE(split_line("user \"ada").err().message.find("unterminated \""), std::string::npos);
}

TEST(ConsoleSplitLine, FeedsParseCommand) {
  auto c = parse_ok(split_ok("redrive --status dead --occasion 'birthday' --dry-run"));
  EXPECT_EQ(c.name, "redrive");
  EXPECT_EQ(c.occasion, "birthday");
  EXPECT_TRUE(c.dry_run);
}

// ---------------------------------------------------------------------------
// Durations

TEST(ConsoleDuration, Valid) {
  const std::pair<const char*, std::chrono::seconds> cases[] = {
      {"1s", 1s},    {"2s", 2s},         {"90s", 90s},     {"15m", 15min},
      {"1h", 1h},    {"1h30m", 90min},   {"2d", 48h},      {"1d2h3m4s", 93784s},
      {"1h0m", 1h},  {"0m1s", 1s},       {"30d", 720h},    {"29d23h59m60s", 720h},
      {"0001s", 1s}, {"2592000s", 720h}, {"43200m", 720h}, {"720h", 720h},
  };
  for (const auto& [text, expected] : cases) {
    auto r = parse_duration(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.err().message;
    EXPECT_EQ(*r, expected) << text;
  }
}

TEST(ConsoleDuration, OutOfRange) {
  for (const char* text : {"0s", "0d", "0h0m0s", "30d1s", "31d", "2592001s", "99999999999999d",
                           "99999999999999999999999999999s", "18446744073709551616s"}) {
    auto r = parse_duration(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.err().code, errc::out_of_range) << text;
    EXPECT_NE(r.err().message.find(std::string{"'"} + text + "'"), std::string::npos)
        << r.err().message;
  }
}

TEST(ConsoleDuration, Malformed) {
  for (const char* text :
       {"5",  "5x",   "s",    "1.5h", "-1s", "+1s", " 1s", "1s ", "1h 30m",      "1S",
        "1H", "1m1h", "1s1s", "1ms",  "1w",  "h1",  "1hm", "1hh", "ten seconds", "1d2x"}) {
    auto r = parse_duration(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.err().code, errc::invalid_argument) << text;
    EXPECT_NE(r.err().message.find(std::string{"'"} + text + "'"), std::string::npos)
        << r.err().message;
  }
  auto r = parse_duration("");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::invalid_argument);
  EXPECT_NE(r.err().message.find("empty"), std::string::npos);
}

TEST(ConsoleDuration, Format) {
  EXPECT_EQ(format_duration(0s), "0s");
  EXPECT_EQ(format_duration(1s), "1s");
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(123s), "2m3s");
  EXPECT_EQ(format_duration(3600s), "1h");
  EXPECT_EQ(format_duration(3601s), "1h1s");
  EXPECT_EQ(format_duration(48h), "2d");
  EXPECT_EQ(format_duration(93784s), "1d2h3m4s");
  EXPECT_EQ(format_duration(720h), "30d");
  EXPECT_EQ(format_duration(-90s), "-1m30s");
  EXPECT_EQ(format_duration(std::chrono::seconds{std::numeric_limits<int64_t>::min()}).front(),
            '-');
}

TEST(ConsoleDuration, RoundTrip) {
  auto check = [](int64_t s) {
    std::chrono::seconds d{s};
    std::string text = format_duration(d);
    auto back = parse_duration(text);
    ASSERT_TRUE(back.ok()) << s << " -> " << text << ": " << back.err().message;
    ASSERT_EQ(*back, d) << text;
  };
  for (int64_t s = 1; s <= 100'000; ++s)
    check(s);
  for (int64_t s = 100'000; s <= 30 * 86400; s += 997)
    check(s);
  check(30 * 86400);
}

// ---------------------------------------------------------------------------
// Completion

TEST(ConsoleCompletion, Commands) {
  EXPECT_EQ(completions("", ""),
            (words{"audit", "failed", "help", "nodes", "partitions", "pause", "quit", "redrive",
                   "resume", "status", "upcoming", "user", "watch"}));
  EXPECT_EQ(completions("", "p"), (words{"partitions", "pause"}));
  EXPECT_EQ(completions("  ", "re"), (words{"redrive", "resume"}));
  EXPECT_EQ(completions("", "status"), words{"status"});
  EXPECT_EQ(completions("", "x"), words{});
}

TEST(ConsoleCompletion, Options) {
  EXPECT_EQ(completions("failed ", ""), (words{"--limit", "--status"}));
  EXPECT_EQ(completions("failed ", "--s"), words{"--status"});
  EXPECT_EQ(completions("failed --status ", ""), (words{"dead", "expired", "retrying"}));
  EXPECT_EQ(completions("failed --status ", "e"), words{"expired"});
  EXPECT_EQ(completions("failed --status dead ", ""), (words{"--limit", "--status"}));
  EXPECT_EQ(completions("failed --limit 5 ", ""), words{"--status"}); // given once
  EXPECT_EQ(completions("failed --limit=5 ", "--"), words{"--status"});
  EXPECT_EQ(completions("failed ", "--status=r"), words{"--status=retrying"});
  EXPECT_EQ(completions("failed --limit ", ""), words{});
  EXPECT_EQ(completions("redrive ", ""), (words{"--dry-run", "--occasion", "--status"}));
  EXPECT_EQ(completions("redrive --status ", ""), (words{"dead", "expired"}));
  EXPECT_EQ(completions("redrive --status dead ", ""), (words{"--dry-run", "--occasion"}));
  EXPECT_EQ(completions("redrive --status dead --dry-run ", ""), words{"--occasion"});
  EXPECT_EQ(completions("redrive u1:birthday:2027 ", ""), words{});
  EXPECT_EQ(completions("pause ", ""), words{"--for"});
  EXPECT_EQ(completions("pause --for ", ""), words{});
  EXPECT_EQ(completions("watch ", "-"), words{"--interval"});
  EXPECT_EQ(completions("status ", ""), words{});
  EXPECT_EQ(completions("user ", ""), words{});
  EXPECT_EQ(completions("stauts ", ""), words{});
  EXPECT_EQ(completions("user 'ada ", ""), words{}); // inside a quote
}

// ---------------------------------------------------------------------------
// Documents rendered as text

TEST(ConsoleRender, ErrorDocument) {
  auto d = error_document("user", "not_found", "no user with email a@b.c");
  EXPECT_EQ(json::serialize(d), R"({"schema":"candle.console/1","command":"user","error":)"
                                R"({"code":"not_found","message":"no user with email a@b.c"}})");
  expect_rendered("error", d);
  EXPECT_EQ(render_text(doc(R"({"schema": "candle.console/1", "command": "status",
                                  "error": {"code": "timeout"}})")),
            "error: timeout\n");
  EXPECT_EQ(render_text(doc(R"({"command": "status", "error": null})")), "error: -\n");
}

TEST(ConsoleRender, Status) {
  expect_rendered("status", doc(R"({"schema": "candle.console/1", "command": "status",
 "node": {"id": "n1", "version": "0.1.0", "restUrl": "http://127.0.0.1:8080", "upMs": 123456},
 "clock": {"now": "2027-03-05T08:00:00.000Z", "mode": "simulated", "speed": 2880},
 "partitions": {"total": 256, "here": 128, "owned": 256},
 "queued": 1043, "held": 0, "inFlight": 3, "maxInFlight": 64,
 "concurrencyLimit": 40, "greetingsInFlight": 3,
 "counts": {"sent": 1200, "retried": 31, "dead": 2, "expired": 0},
 "rates": {"windowSeconds": 60, "sent": 20.5, "retried": 0.5, "dead": 0, "expired": 0},
 "breaker": "closed",
 "pause": {"paused": false, "until": null, "by": null}})"));
}

TEST(ConsoleRender, StatusPaused) {
  expect_rendered("status_paused", doc(R"({"schema": "candle.console/1", "command": "status",
 "node": {"id": "n2", "version": "0.1.0", "restUrl": "http://127.0.0.1:8081", "upMs": 90061000},
 "clock": {"now": "2027-03-05T08:00:00.000Z", "mode": "system", "speed": 1},
 "partitions": {"total": 256, "here": 0, "owned": 200},
 "queued": 12345678, "held": 12345678, "inFlight": 0, "maxInFlight": 64,
 "concurrencyLimit": 1, "greetingsInFlight": 0, "throttledSeconds": 2.5,
 "counts": {"sent": 0, "retried": 0, "dead": 0, "expired": 0},
 "rates": {"windowSeconds": 3, "sent": 0.333333, "retried": 0, "dead": 0, "expired": 0},
 "breaker": "half-open",
 "pause": {"paused": true, "until": "2027-03-05T08:00:02.000Z", "by": "console ada@host pid 42"}})"));
  std::string text = render_text(doc(R"({"command": "status",
 "pause": {"paused": true, "until": null, "by": "console ada@host pid 42"}})"));
  EXPECT_NE(text.find("delivery    paused (until resume) by console ada@host pid 42\n"),
            std::string::npos)
      << text;
}

TEST(ConsoleRender, StatusMissingFields) {
  expect_rendered("status_missing", doc(R"({"schema": "candle.console/1", "command": "status",
 "node": {"id": "n1", "version": null, "restUrl": null, "upMs": null},
 "clock": null, "queued": 5, "counts": {"sent": "many"}, "rates": [], "pause": {}})"));
}

TEST(ConsoleRender, Nodes) {
  expect_rendered("nodes", doc(R"({"schema": "candle.console/1", "command": "nodes", "self": "n1",
 "partitionCount": 256, "unowned": 0,
 "nodes": [{"id": "n1", "address": "127.0.0.1", "clusterPort": 4300, "consolePort": 4242,
            "restUrl": "http://127.0.0.1:8080", "version": "0.1.0", "live": true, "self": true,
            "heartbeatAgeMs": 210, "upMs": 120000, "partitionsOwned": 128},
           {"id": "node-two", "address": "10.0.0.12", "clusterPort": 4301, "consolePort": 4243,
            "restUrl": "http://10.0.0.12:8080", "version": "0.1.0", "live": false, "self": false,
            "heartbeatAgeMs": 12500, "upMs": null, "partitionsOwned": 0},
           {"id": "n3", "address": "10.0.0.13", "clusterPort": 4300, "consolePort": 4242,
            "restUrl": null, "version": "0.2.0", "live": true, "self": false,
            "heartbeatAgeMs": 0, "upMs": 3725000, "partitionsOwned": 128}]})"));
  expect_rendered("nodes_empty", doc(R"({"schema": "candle.console/1", "command": "nodes",
 "self": "n1", "partitionCount": 256, "unowned": 256, "nodes": []})"));
}

TEST(ConsoleRender, Audit) {
  expect_rendered("audit", doc(R"({"schema": "candle.console/1", "command": "audit",
 "clean": false,
 "unscheduled": [{"key": "00000000-0000-4000-8000-000000000001:birthday:2027", "partition": 17,
                  "node": "n2"}],
 "unowned": [{"key": "00000000-0000-4000-8000-000000000002:anniversary:2027", "partition": 3,
              "node": null}],
 "unaudited": [3, 4], "unreachable": ["n3"]})"));
  expect_rendered("audit_clean", doc(R"({"schema": "candle.console/1", "command": "audit",
 "clean": true, "unscheduled": [], "unowned": [], "unaudited": [], "unreachable": []})"));
  EXPECT_TRUE(parse_command({"audit"}).ok());
  auto extra = parse_command({"audit", "now"});
  ASSERT_FALSE(extra.ok());
  EXPECT_EQ(extra.err().message, "audit: takes no arguments, got 'now'");
}

TEST(ConsoleRender, Partitions) {
  expect_rendered("partitions", doc(R"({"schema": "candle.console/1", "command": "partitions",
 "partitionCount": 4,
 "partitions": [{"partition": 0, "node": "n1", "epoch": 3, "queued": 4, "inFlight": 0,
                 "nextDue": "2027-03-05T08:00:00.000Z"},
                {"partition": 1, "node": "n1", "epoch": 12, "queued": 0, "inFlight": 0,
                 "nextDue": null},
                {"partition": 2, "node": null, "epoch": 7, "queued": null, "inFlight": null,
                 "nextDue": null},
                {"partition": 3, "node": "n3", "epoch": 1, "queued": null, "inFlight": null,
                 "nextDue": null}],
 "unreachable": ["n3"]})"));
  expect_rendered("partitions_empty", doc(R"({"schema": "candle.console/1",
 "command": "partitions", "partitionCount": 256, "partitions": [], "unreachable": []})"));
}

namespace {
const char* const user_json = R"({"schema": "candle.console/1", "command": "user",
 "user": {"id": "0b7e6a52-0000-4000-8000-000000000001", "firstName": "Ada", "lastName": "Lovelace",
          "email": "ada@example.com", "timezone": "Europe/Paris", "birthdayDate": "1990-03-05",
          "anniversaryDate": null, "locationCity": "Paris", "locationCountry": null,
          "createdAt": "2027-01-01T00:00:00.000Z", "updatedAt": "2027-02-01T12:30:00.000Z"},
 "partition": 17, "owner": "n2",
 "next": [{"key": "0b7e6a52-0000-4000-8000-000000000001:birthday:2027", "occasion": "birthday",
           "dueAt": "2027-03-05T08:00:00.000Z", "dueLocal": "2027-03-05T09:00:00+01:00"}],
 "records": [{"key": "0b7e6a52-0000-4000-8000-000000000001:birthday:2026", "userId":
              "0b7e6a52-0000-4000-8000-000000000001", "occasion": "birthday", "year": 2026,
              "dueAt": "2026-03-05T08:00:00.000Z", "status": "sent", "attempts": 1,
              "lastError": null, "sentAt": "2026-03-05T08:00:00.412Z", "nextAttemptAt": null},
             {"key": "0b7e6a52-0000-4000-8000-000000000001:birthday:2025", "userId":
              "0b7e6a52-0000-4000-8000-000000000001", "occasion": "birthday", "year": 2025,
              "dueAt": "2025-03-05T08:00:00.000Z", "status": "dead", "attempts": 5,
              "lastError": "provider: 500 Internal Server Error", "sentAt": null,
              "nextAttemptAt": null}]})";
} // namespace

TEST(ConsoleRender, User) {
  expect_rendered("user", doc(user_json));
  expect_rendered("user_empty", doc(R"({"schema": "candle.console/1", "command": "user",
 "user": {"id": "0b7e6a52-0000-4000-8000-000000000002", "firstName": "Émile", "lastName": "Zola",
          "email": "emile@example.com", "timezone": "Pacific/Chatham", "birthdayDate": null,
          "anniversaryDate": null, "locationCity": null, "locationCountry": null,
          "createdAt": "2027-01-01T00:00:00.000Z", "updatedAt": "2027-01-01T00:00:00.000Z"},
 "partition": 200, "owner": null, "next": [], "records": []})"));
}

TEST(ConsoleRender, Upcoming) {
  expect_rendered("upcoming", doc(R"({"schema": "candle.console/1", "command": "upcoming",
 "limit": 10,
 "greetings": [{"key": "0b7e6a52-0000-4000-8000-000000000001:birthday:2027", "userId":
                "0b7e6a52-0000-4000-8000-000000000001", "occasion": "birthday",
                "email": "ada@example.com", "dueAt": "2027-03-05T08:00:00.000Z",
                "dueLocal": "2027-03-05T09:00:00+01:00", "timezone": "Europe/Paris",
                "partition": 17, "node": "n2"},
               {"key": "0b7e6a52-0000-4000-8000-000000000003:anniversary:2027", "userId":
                "0b7e6a52-0000-4000-8000-000000000003", "occasion": "anniversary",
                "email": "kate@example.org", "dueAt": "2027-03-05T09:00:00.000Z",
                "dueLocal": "2027-03-05T20:00:00+11:00", "timezone": "Australia/Melbourne",
                "partition": 3, "node": "n1"}],
 "unreachable": []})"));
  expect_rendered("upcoming_empty", doc(R"({"schema": "candle.console/1", "command": "upcoming",
 "limit": 10, "greetings": [], "unreachable": ["n2", "n3"]})"));
  expect_rendered("upcoming_limit", doc(R"({"schema": "candle.console/1", "command": "upcoming",
 "limit": 1,
 "greetings": [{"key": "u1:birthday:2027", "userId": "u1", "occasion": "birthday",
                "email": "ada@example.com", "dueAt": "2027-03-05T08:00:00.000Z",
                "dueLocal": "2027-03-05T09:00:00+01:00", "timezone": "Europe/Paris",
                "partition": 17, "node": "n2"}],
 "unreachable": []})"));
}

TEST(ConsoleRender, Failed) {
  expect_rendered("failed", doc(R"({"schema": "candle.console/1", "command": "failed",
 "statuses": ["dead", "expired", "retrying"], "limit": 20,
 "records": [{"key": "u1:birthday:2027", "userId": "u1", "occasion": "birthday", "year": 2027,
              "dueAt": "2027-03-05T08:00:00.000Z", "status": "dead", "attempts": 5,
              "lastError": "provider: 503 Service Unavailable", "sentAt": null,
              "nextAttemptAt": null},
             {"key": "u2:anniversary:2027", "userId": "u2", "occasion": "anniversary",
              "year": 2027, "dueAt": "2027-03-04T09:00:00.000Z", "status": "expired",
              "attempts": 0, "lastError": null, "sentAt": null, "nextAttemptAt": null},
             {"key": "u3:birthday:2027", "userId": "u3", "occasion": "birthday", "year": 2027,
              "dueAt": "2027-03-05T07:00:00.000Z", "status": "retrying", "attempts": 2,
              "lastError": "timeout after 5000 ms", "sentAt": null,
              "nextAttemptAt": "2027-03-05T08:00:30.000Z"}]})"));
  expect_rendered("failed_empty", doc(R"({"schema": "candle.console/1", "command": "failed",
 "statuses": ["dead"], "limit": 20, "records": []})"));
  expect_rendered("failed_limit", doc(R"({"schema": "candle.console/1", "command": "failed",
 "statuses": ["dead"], "limit": 1,
 "records": [{"key": "u1:birthday:2027", "userId": "u1", "occasion": "birthday", "year": 2027,
              "dueAt": "2027-03-05T08:00:00.000Z", "status": "dead", "attempts": 5,
              "lastError": "provider: 503 Service Unavailable", "sentAt": null,
              "nextAttemptAt": null}]})"));
}

TEST(ConsoleRender, Redrive) {
  expect_rendered("redrive_key", doc(R"({"schema": "candle.console/1", "command": "redrive",
 "key": "u1:birthday:2027", "status": "retrying"})"));
  expect_rendered("redrive_dry_run", doc(R"({"schema": "candle.console/1", "command": "redrive",
 "status": "dead", "occasion": "birthday", "dryRun": true, "count": 12,
 "sample": ["u1:birthday:2027", "u2:birthday:2027", "u3:birthday:2027"]})"));
  expect_rendered("redrive_bulk", doc(R"({"schema": "candle.console/1", "command": "redrive",
 "status": "expired", "occasion": null, "dryRun": false, "count": 2,
 "sample": ["u1:anniversary:2027", "u2:birthday:2027"]})"));
  EXPECT_EQ(render_text(doc(R"({"schema": "candle.console/1", "command": "redrive",
 "status": "dead", "occasion": null, "dryRun": true, "count": 0, "sample": []})")),
            "would redrive 0 dead greetings\n");
  EXPECT_EQ(render_text(doc(R"({"schema": "candle.console/1", "command": "redrive",
 "status": "dead", "occasion": "anniversary", "dryRun": false, "count": 1,
 "sample": ["u9:anniversary:2027"]})")),
            "redrove 1 dead greeting (anniversary): u9:anniversary:2027\n");
}

TEST(ConsoleRender, PauseAndResume) {
  expect_rendered("pause", doc(R"({"schema": "candle.console/1", "command": "pause",
 "pause": {"paused": true, "until": "2027-03-05T08:00:02.000Z", "by": "console ada@host pid 42"}})"));
  expect_rendered("pause_until_resume", doc(R"({"schema": "candle.console/1", "command": "pause",
 "pause": {"paused": true, "until": null, "by": "console ada@host pid 42"}})"));
  expect_rendered("resume", doc(R"({"schema": "candle.console/1", "command": "resume",
 "pause": {"paused": false, "until": null, "by": null}})"));
}

TEST(ConsoleRender, Help) {
  auto h = help_document();
  EXPECT_EQ(h.at("schema").as_string(), schema);
  EXPECT_EQ(h.at("command").as_string(), "help");
  words names;
  for (const auto& c : h.at("commands").as_array()) {
    const auto& o = c.as_object();
    names.emplace_back(o.at("name").as_string());
    EXPECT_FALSE(o.at("usage").as_string().empty());
    EXPECT_FALSE(o.at("summary").as_string().empty());
    EXPECT_EQ(o.at("usage").as_string().subview().substr(0, names.back().size()), names.back());
  }
  EXPECT_EQ(names, (words{"status", "nodes", "partitions", "user", "upcoming", "audit", "failed",
                          "redrive", "pause", "resume", "watch", "help", "quit"}));
  EXPECT_EQ(names, command_names());
  // Every command in help parses (in its simplest form).
  for (const auto& n : names) {
    words w{n};
    if (n == "user") w.push_back("a@b.c");
    if (n == "redrive") w.push_back("k");
    EXPECT_TRUE(parse_command(w).ok()) << n;
  }
  expect_rendered("help", h);
}

TEST(ConsoleRender, WatchDocumentsRenderAsStatus) {
  auto d = doc(R"({"schema": "candle.console/1", "command": "watch", "breaker": "open"})");
  EXPECT_NE(render_text(d).find("breaker     open\n"), std::string::npos) << render_text(d);
}

TEST(ConsoleRender, NeverThrowsOnOddDocuments) {
  const char* const odd[] = {
      R"({})",
      R"({"command": 5})",
      R"({"command": null, "x": [1, 2]})",
      R"({"command": "quit"})",
      R"({"command": "frobnicate", "schema": "candle.console/1", "a": {"b": 1}})",
      R"({"command": "status", "node": 1, "clock": "x", "partitions": [], "pause": true})",
      R"({"command": "status", "node": {"upMs": -5}, "rates": {"sent": 1e300}})",
      R"({"command": "nodes", "nodes": [1, "x", null, [], {"heartbeatAgeMs": -1}]})",
      R"({"command": "nodes", "nodes": {}})",
      R"({"command": "partitions", "partitions": [null, {}], "unreachable": [1, {"n": 2}]})",
      R"({"command": "partitions", "unreachable": "n3"})",
      R"({"command": "user", "user": "x", "next": [null], "records": [5]})",
      R"({"command": "user"})",
      R"({"command": "upcoming", "greetings": [{}], "limit": "ten"})",
      R"({"command": "failed", "records": [{}, 3], "limit": null})",
      R"({"command": "failed", "records": "none"})",
      R"({"command": "redrive"})",
      R"({"command": "redrive", "count": "x", "sample": [null, 1]})",
      R"({"command": "redrive", "count": 5, "dryRun": "yes", "sample": {}})",
      R"({"command": "pause"})",
      R"({"command": "pause", "pause": {"paused": "yes"}})",
      R"({"command": "resume", "pause": {"paused": true, "until": 5, "by": 7}})",
      R"({"command": "help"})",
      R"({"command": "help", "commands": [1, null, {"usage": 2}]})",
      R"({"command": "status", "error": "boom"})",
      R"({"command": "status", "error": {"code": 5, "message": 7}})",
      R"({"command": "user", "user": {"firstName": "a\nb\tc"}})",
  };
  for (const char* text : odd) {
    std::string out;
    EXPECT_NO_THROW(out = render_text(doc(text))) << text;
    expect_tidy(out);
  }
  // Control characters never break a line.
  EXPECT_EQ(render_text(doc(R"({"command": "user", "user": {"firstName": "a\nb"}})")).find("a\nb"),
            std::string::npos);
}
