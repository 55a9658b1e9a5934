#include "core/logfmt.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

using namespace candle::logfmt;

namespace {

boost::json::object parsed(const std::string& line) {
  boost::system::error_code ec;
  auto v = boost::json::parse(line, ec);
  EXPECT_FALSE(ec) << line;
  return ec ? boost::json::object{} : v.as_object();
}

} // namespace

TEST(Logfmt, ParsesBareAndQuotedValues) {
  auto f = parse(R"(event=partition.fenced partition=3 reason="the lease may have expired")");
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].key, "event");
  EXPECT_EQ(f[0].value, "partition.fenced");
  EXPECT_FALSE(f[0].quoted);
  EXPECT_EQ(f[2].key, "reason");
  EXPECT_EQ(f[2].value, "the lease may have expired");
  EXPECT_TRUE(f[2].quoted);
}

TEST(Logfmt, QuotedValuesKeepInnerQuotesAndEquals) {
  // Call sites do not escape: a quote ends the value only before the end or
  // the next key=.
  auto f = parse(R"(event=x error="socket "/run/.s.PGSQL" failed: a=b" n=1 e="")");
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[1].value, R"(socket "/run/.s.PGSQL" failed: a=b)");
  EXPECT_EQ(f[2].value, "1");
  EXPECT_EQ(f[3].value, "");
  EXPECT_TRUE(f[3].quoted);
  auto g = parse(R"(a="say \"hi\"" b=)");
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].value, R"(say "hi")");
  EXPECT_EQ(g[1].value, "");
  EXPECT_EQ(parse("  a=1   b=2 ").size(), 2u) << "extra spaces";
}

TEST(Logfmt, WhatIsNotLogfmtParsesToNothing) {
  for (const char* m : {"plain words", "a=1 loose", "=1", "a=1 =2", R"(a="open)", ""})
    EXPECT_TRUE(parse(m).empty()) << m;
}

TEST(Logfmt, JsonLineHasTheSameKeysAndNumbersStayNumbers) {
  auto line = to_json("2027-07-01T09:00:00.012Z", "warning", 7,
                      R"(event=greeting.late key=abc:birthday:2027 late_ms=1234 ratio=-0.5e3 )"
                      R"(id=007 big=1e999x q="12")");
  auto o = parsed(line);
  EXPECT_EQ(o["ts"].as_string(), "2027-07-01T09:00:00.012Z");
  EXPECT_EQ(o["level"].as_string(), "warning");
  EXPECT_EQ(o["thread"].as_int64(), 7);
  EXPECT_EQ(o["event"].as_string(), "greeting.late");
  EXPECT_EQ(o["key"].as_string(), "abc:birthday:2027");
  EXPECT_EQ(o["late_ms"].as_int64(), 1234);
  EXPECT_DOUBLE_EQ(o["ratio"].as_double(), -500.0);
  EXPECT_EQ(o["id"].as_string(), "007") << "a leading zero is not a JSON number";
  EXPECT_EQ(o["big"].as_string(), "1e999x");
  EXPECT_EQ(o["q"].as_string(), "12") << "quoted stays a string";
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Logfmt, NumbersFollowJsonsGrammarExactly) {
  for (const char* v : {"0", "-0", "12", "-3.25", "1e5", "1E-5", "2.5e+10", "1e308", "-4e-300"}) {
    auto o = parsed(to_json("t", "info", 1, std::string{"v="} + v));
    EXPECT_TRUE(o["v"].is_number()) << v;
  }
  // A double cannot hold 1e999 (JSON parsers refuse it; found by fuzz_logfmt).
  for (const char* v : {"01", "+1", ".5", "1.", "1e", "--1", "0x10", "inf", "nan", "1_000", "-",
                        "1e999", "-0.4e-7777", "1e0001"}) {
    auto o = parsed(to_json("t", "info", 1, std::string{"v="} + v));
    ASSERT_TRUE(o["v"].is_string()) << v;
    EXPECT_EQ(o["v"].as_string(), v);
  }
}

TEST(Logfmt, ReservedAndRepeatedKeysAreRenamed) {
  auto o = parsed(to_json("T", "info", 1, "event=x level=debug ts=1 a=1 a=2 msg=m"));
  EXPECT_EQ(o["level"].as_string(), "info");
  EXPECT_EQ(o["_level"].as_string(), "debug");
  EXPECT_EQ(o["ts"].as_string(), "T");
  EXPECT_EQ(o["_ts"].as_int64(), 1);
  EXPECT_EQ(o["a"].as_int64(), 1);
  EXPECT_EQ(o["_a"].as_int64(), 2);
  EXPECT_EQ(o["_msg"].as_string(), "m");
}

TEST(Logfmt, AMessageThatIsNotLogfmtIsKeptWhole) {
  auto o = parsed(to_json("T", "error", 2, "CAF said: something broke"));
  EXPECT_EQ(o["msg"].as_string(), "CAF said: something broke");
  EXPECT_EQ(o.size(), 4u);
}

TEST(Logfmt, EscapesControlCharactersAndReplacesInvalidUtf8) {
  std::string out;
  append_json_string(out, std::string{"a\"b\\c\n\t\r\x01\x7f", 10});
  EXPECT_EQ(out, R"("a\"b\\c\n\t\r\u0001\u007f")");
  out.clear();
  append_json_string(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x82"); // é € 🎂 stay
  EXPECT_EQ(out, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x82\"");
  // A lone continuation byte, a truncated sequence, an overlong '/', a
  // surrogate, past U+10FFFF: each bad byte becomes U+FFFD.
  for (std::string bad :
       {"\x80", "\xc3", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"}) {
    std::string o;
    append_json_string(o, "x" + bad + "y");
    EXPECT_EQ(o.find_first_of("\x80\x81\x82\x90\xa0\xaf\xc0\xc3\xe2\xed\xf4\xff"),
              std::string::npos)
        << o;
    EXPECT_NE(o.find("\\ufffd"), std::string::npos) << o;
    boost::system::error_code ec;
    boost::json::parse(o, ec);
    EXPECT_FALSE(ec) << o;
  }
}
