#include "core/ids.hpp"
#include "core/occurrence.hpp"
#include "rest/user_api.hpp"

#include <gtest/gtest.h>
#include <random>
#include <set>

using namespace candle;
using namespace candle::api;
namespace json = boost::json;

namespace {

sys_millis at(const char* iso) {
  return *parse_instant(iso);
}

const sys_millis now = at("2026-11-23T12:00:00Z");

field_errors errors_of(std::string_view body, bool creating = true) {
  auto parsed = parse_object(body);
  if (auto* e = std::get_if<field_errors>(&parsed)) return *e;
  auto r = read_user(std::get<json::object>(parsed), creating, now);
  if (auto* e = std::get_if<field_errors>(&r)) return *e;
  return {};
}

user_input input_of(std::string_view body, bool creating = true) {
  auto parsed = parse_object(body);
  EXPECT_TRUE(std::holds_alternative<json::object>(parsed)) << body;
  auto r = read_user(std::get<json::object>(parsed), creating, now);
  EXPECT_TRUE(std::holds_alternative<user_input>(r)) << body;
  return std::holds_alternative<user_input>(r) ? std::get<user_input>(r) : user_input{};
}

std::vector<std::string> fields(const field_errors& es) {
  std::vector<std::string> out;
  for (const auto& e : es)
    out.push_back(e.field);
  return out;
}

const char* valid = R"({"firstName":" Ada ","lastName":"Lovelace","email":"Ada@Example.COM",
  "timezone":"Europe/London","birthdayDate":"1815-12-10"})";

} // namespace

TEST(UserApi, ValidCreateIsTrimmedAndLowerCased) {
  auto in = input_of(valid);
  EXPECT_EQ(*in.first_name, "Ada");
  EXPECT_EQ(*in.email, "ada@example.com");
  EXPECT_EQ(*in.birthday_date, "1815-12-10");
  EXPECT_FALSE(in.anniversary_date);
  auto u = apply(user{}, in);
  EXPECT_EQ(u.last_name, "Lovelace");
  EXPECT_EQ(u.timezone, "Europe/London");
}

TEST(UserApi, MissingRequiredFieldsAreEachNamed) {
  EXPECT_EQ(fields(errors_of("{}")),
            (std::vector<std::string>{"firstName", "lastName", "email", "timezone"}));
  // An update may omit them.
  EXPECT_TRUE(errors_of("{}", false).empty());
}

TEST(UserApi, UnknownFieldsAreRejectedByNameAndServerFieldsIgnored) {
  auto es = errors_of(R"({"firstName":"A","lastName":"B","email":"a@b.co","timezone":"UTC",
                          "birthdate":"1990-01-01"})");
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(es[0].field, "birthdate");
  EXPECT_TRUE(errors_of(R"({"firstName":"A","lastName":"B","email":"a@b.co","timezone":"UTC",
      "id":"x","createdAt":"y","updatedAt":1,"deletedAt":null})")
                  .empty());
}

TEST(UserApi, EveryBadFieldIsReported) {
  auto es = errors_of(R"({"firstName":"","lastName":7,"email":"nope","timezone":"Mars/Base",
    "birthdayDate":"2023-02-29","anniversaryDate":"2999-01-01","locationCity":null})");
  EXPECT_EQ(fields(es), (std::vector<std::string>{"firstName", "lastName", "email", "timezone",
                                                  "birthdayDate", "anniversaryDate"}));
}

TEST(UserApi, Names) {
  EXPECT_EQ(check_name(std::string(100, 'x')), "");
  EXPECT_NE(check_name(std::string(101, 'x')), "");
  EXPECT_EQ(check_name("Zoë"), "");
  EXPECT_EQ(check_name(std::string(100, 'x').replace(0, 1, "ë")), ""); // 100 characters, 101 bytes
  EXPECT_NE(check_name(std::string{"a\0b", 3}), "");
  EXPECT_NE(check_name("a\nb"), "");
  EXPECT_FALSE(
      errors_of(R"({"firstName":"   ","lastName":"B","email":"a@b.co","timezone":"UTC"})").empty());
}

TEST(UserApi, Emails) {
  for (auto ok : {"a@b.co", "first.last+tag@sub.example.org", "x_y-z@a-b.io", "o'neil@x.ie"})
    EXPECT_EQ(check_email(ok), "") << ok;
  for (auto bad : {"", "a", "a@", "@b.co", "a@b", "a@@b.co", "a@b..co", ".a@b.co", "a.@b.co",
                   "a..b@c.co", "a b@c.co", "a@-b.co", "a@b-.co", "a@b.co.", "a@b_c.co"})
    EXPECT_NE(check_email(bad), "") << bad;
  EXPECT_NE(check_email(std::string(250, 'a') + "@b.com"), "");
}

TEST(UserApi, DatesAreRealAndNotInTheFuture) {
  EXPECT_EQ(check_date("2024-02-29", now), "");
  EXPECT_NE(check_date("2023-02-29", now), "");
  EXPECT_NE(check_date("2024-13-01", now), "");
  EXPECT_NE(check_date("24-01-01", now), "");
  EXPECT_NE(check_date("1799-12-31", now), "");
  // Today is allowed everywhere, also where it is already tomorrow (UTC+14).
  EXPECT_EQ(check_date("2026-11-23", now), "");
  EXPECT_EQ(check_date("2026-11-24", at("2026-11-23T10:00:00Z")), "");
  EXPECT_NE(check_date("2026-11-24", at("2026-11-23T09:59:59Z")), "");
  EXPECT_NE(check_date("2026-11-25", now), "");
}

TEST(UserApi, TimeZonesIncludingUtcAndThreePartNames) {
  for (auto z : {"UTC", "Etc/UTC", "America/Argentina/Buenos_Aires", "Asia/Kathmandu",
                 "Pacific/Kiritimati", "Etc/GMT+11"})
    EXPECT_TRUE(
        errors_of(std::string{R"({"firstName":"A","lastName":"B","email":"a@b.co","timezone":")"} +
                  z + "\"}")
            .empty())
        << z;
  for (auto z : {"", "Europe/Nowhere", "localtime", "../../etc/passwd"})
    EXPECT_EQ(fields(errors_of(std::string{R"({"timezone":")"} + z + "\"}", false)),
              std::vector<std::string>{"timezone"})
        << z;
}

TEST(UserApi, NullClearsOptionalFieldsButNotRequiredOnes) {
  auto in = input_of(R"({"birthdayDate":null,"locationCity":null})", false);
  ASSERT_TRUE(in.birthday_date);
  EXPECT_EQ(*in.birthday_date, "");
  user u;
  u.birthday_date = "2000-01-01";
  u.location_city = "Paris";
  u.anniversary_date = "2010-05-05";
  u = apply(u, in);
  EXPECT_EQ(u.birthday_date, "");
  EXPECT_EQ(u.location_city, "");
  EXPECT_EQ(u.anniversary_date, "2010-05-05");
  EXPECT_EQ(fields(errors_of(R"({"timezone":null})", false)), std::vector<std::string>{"timezone"});
}

TEST(UserApi, BodiesThatAreNotOneObjectAreRefused) {
  for (std::string_view b :
       {"", "   ", "[]", "1", "\"x\"", "null", "{", "{\"a\":}", "{\"a\":1,}", "{'a':1}",
        "{\"firstName\":\"A\"} {}", "{\"a\":1,\"a\":2}", "{\"x\":{\"y\":1,\"y\":2}}"})
    EXPECT_EQ(fields(errors_of(b)), std::vector<std::string>{"body"}) << b;
  // Invalid UTF-8 inside a string.
  EXPECT_EQ(fields(errors_of("{\"firstName\":\"\xff\xfe\"}")), std::vector<std::string>{"body"});
  // Nesting beyond the limit.
  EXPECT_EQ(fields(errors_of("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}")),
            std::vector<std::string>{"body"});
  // Huge numbers are just a wrong type for a string field.
  EXPECT_EQ(fields(errors_of(R"({"firstName":1e999999})", false)).size(), 1u);
}

TEST(UserApi, RenderingMatchesTheContract) {
  user u;
  u.id = make_uuid();
  u.first_name = "A";
  u.last_name = "B";
  u.email = "a@b.co";
  u.timezone = "UTC";
  u.birthday_date = "2000-02-29";
  u.created_at = 1'700'000'000'000;
  u.updated_at = 1'700'000'000'123;
  auto j = user_json(u);
  EXPECT_EQ(
      json::serialize(j),
      R"({"id":")" + u.id +
          R"(","firstName":"A","lastName":"B","email":"a@b.co","timezone":"UTC","birthdayDate":"2000-02-29","anniversaryDate":null,"locationCity":null,"locationCountry":null,"createdAt":"2023-11-14T22:13:20.000Z","updatedAt":"2023-11-14T22:13:20.123Z","deletedAt":null})");
  send_record r;
  r.key = u.id + ":birthday:2026";
  r.status = "dead";
  r.last_error = "400 bad address";
  auto rj = record_json(r);
  EXPECT_EQ(rj.at("lastError"), "400 bad address");
  EXPECT_TRUE(rj.at("sentAt").is_null());
}

TEST(UserApi, UuidsAreVersion4AndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    auto id = make_uuid();
    ASSERT_TRUE(is_uuid(id));
    ASSERT_EQ(id[14], '4');
    ASSERT_NE(std::string_view{"89ab"}.find(id[19]), std::string_view::npos);
    ASSERT_TRUE(seen.insert(id).second);
  }
  EXPECT_FALSE(is_uuid("not-a-uuid"));
  EXPECT_FALSE(is_uuid("0000000-00000-0000-0000-0000000000000"));
}

TEST(UserApi, QueryStringsAndLimits) {
  auto q = parse_query("/api/v1/greetings?status=dead&limit=10&cursor=a%3Ab+c&flag");
  EXPECT_EQ(q.at("status"), "dead");
  EXPECT_EQ(q.at("cursor"), "a:b c");
  EXPECT_EQ(q.at("flag"), "");
  std::string problem;
  EXPECT_EQ(*read_limit(q, 50, 1000, problem), 10u);
  EXPECT_EQ(*read_limit({}, 50, 1000, problem), 50u);
  EXPECT_EQ(*read_limit({{"limit", ""}}, 50, 1000, problem), 50u);
  for (auto bad : {"0", "-1", "1001", "abc", "10x", "99999999999999999999999"}) {
    problem.clear();
    EXPECT_FALSE(read_limit({{"limit", bad}}, 50, 1000, problem)) << bad;
    EXPECT_FALSE(problem.empty());
  }
}

// Bounded random mutation of valid and invalid bodies: the parser and the
// validator must return (a user or field errors) for every input, and a user
// they accept must satisfy every field rule.
TEST(UserApi, FuzzParserAndValidator) {
  std::vector<std::string> seeds = {
      valid,
      R"({"firstName":"Zoë","lastName":"Ng","email":"z@n.io","timezone":"Asia/Kathmandu",
          "anniversaryDate":"2020-02-29","locationCity":"Kathmandu","locationCountry":null})",
      R"({"a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00"})", "{}", "[]"};
  const std::string alphabet = "{}[]\":,\\ nul0123456789-+.eE\x80\xff\x00tfaz@/_";
  std::mt19937 rng{20261123};
  size_t accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
      switch (rng() % 3) {
      case 0:
        s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
        break;
      case 1:
        if (pos < s.size()) s.erase(pos, 1 + rng() % 3);
        break;
      default:
        if (pos < s.size()) s[pos] = alphabet[rng() % alphabet.size()];
      }
    }
    auto parsed = parse_object(s);
    if (auto* errs = std::get_if<field_errors>(&parsed)) {
      ASSERT_FALSE(errs->empty());
      continue;
    }
    auto r = read_user(std::get<json::object>(parsed), true, now);
    if (auto* errs = std::get_if<field_errors>(&r)) {
      ASSERT_FALSE(errs->empty());
      continue;
    }
    ++accepted;
    auto u = apply(user{}, std::get<user_input>(r));
    ASSERT_EQ(check_name(u.first_name), "") << s;
    ASSERT_EQ(check_name(u.last_name), "") << s;
    ASSERT_EQ(check_email(u.email), "") << s;
    ASSERT_TRUE(find_zone(u.timezone)) << s;
    if (!u.birthday_date.empty()) ASSERT_EQ(check_date(u.birthday_date, now), "") << s;
  }
  EXPECT_GT(accepted, 0u); // the mutations leave some valid users
}
