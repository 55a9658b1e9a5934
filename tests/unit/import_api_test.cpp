#include "core/ids.hpp"
#include "core/partition.hpp"
#include "tools/import_api.hpp"

#include <gtest/gtest.h>
#include <sstream>

using namespace candle;
namespace json = boost::json;

namespace {
sys_millis at(const char* iso) {
  return *parse_instant(iso);
}
const sys_millis now = at("2027-07-01T12:00:00Z");

json::object row(std::initializer_list<std::pair<const char*, const char*>> fields) {
  json::object o;
  for (auto& [k, v] : fields)
    o[k] = v;
  return o;
}

std::vector<std::string> fields_of(const std::variant<user, api::field_errors>& r) {
  std::vector<std::string> out;
  if (auto* e = std::get_if<api::field_errors>(&r))
    for (const auto& f : *e)
      out.push_back(f.field);
  return out;
}
} // namespace

TEST(ImportRow, KeepsIdAndTimestampsAndAssignsThePartition) {
  auto r = imp::read_row(row({{"id", "0F6C2B1E-3D4A-4B5C-8D9E-0A1B2C3D4E5F"},
                              {"firstName", "Ada"},
                              {"lastName", "Lovelace"},
                              {"email", "Ada@Example.org"},
                              {"timezone", "Europe/London"},
                              {"birthdayDate", "1990-02-28"},
                              {"createdAt", "2025-01-02T03:04:05.678Z"},
                              {"updatedAt", "2026-01-02T03:04:05Z"}}),
                         now, 256);
  ASSERT_TRUE(std::holds_alternative<user>(r)) << fields_of(r).size();
  auto& u = std::get<user>(r);
  EXPECT_EQ(u.id, "0f6c2b1e-3d4a-4b5c-8d9e-0a1b2c3d4e5f") << "lower-case, as Candle stores ids";
  EXPECT_EQ(u.email, "ada@example.org");
  EXPECT_EQ(u.created_at, at("2025-01-02T03:04:05.678Z").time_since_epoch().count());
  EXPECT_EQ(u.updated_at, at("2026-01-02T03:04:05Z").time_since_epoch().count());
  EXPECT_EQ(u.partition, partition_of(u.id, 256));
  EXPECT_EQ(u.birthday_date, "1990-02-28");
}

TEST(ImportRow, WithoutAnIdTheEmailGivesTheSameOneEveryTime) {
  auto a = imp::read_row(
      row({{"firstName", "A"}, {"lastName", "B"}, {"email", "x@y.org"}, {"timezone", "UTC"}}), now,
      16);
  auto b = imp::read_row(
      row({{"firstName", "C"}, {"lastName", "D"}, {"email", "X@Y.org"}, {"timezone", "UTC"}}), now,
      16);
  ASSERT_TRUE(std::holds_alternative<user>(a) && std::holds_alternative<user>(b));
  EXPECT_EQ(std::get<user>(a).id, std::get<user>(b).id);
  EXPECT_TRUE(is_uuid(std::get<user>(a).id));
  EXPECT_EQ(std::get<user>(a).id[14], '8') << "version 8";
  EXPECT_NE(imp::id_for_email("x@y.org"), imp::id_for_email("x@y.com"));
  EXPECT_EQ(std::get<user>(a).created_at, now.time_since_epoch().count()) << "absent: now";
}

TEST(ImportRow, TheRestApisRulesNameEveryBadField) {
  auto r = imp::read_row(row({{"id", "not-a-uuid"},
                              {"firstName", ""},
                              {"lastName", "L"},
                              {"email", "nope"},
                              {"timezone", "Mars/Olympus"},
                              {"birthdayDate", "1990-02-30"},
                              {"createdAt", "yesterday"},
                              {"nickname", "x"}}),
                         now, 16);
  auto f = fields_of(r);
  for (const char* name :
       {"id", "firstName", "email", "timezone", "birthdayDate", "createdAt", "nickname"})
    EXPECT_NE(std::find(f.begin(), f.end(), name), f.end()) << name;
  EXPECT_EQ(std::find(f.begin(), f.end(), "lastName"), f.end());
  // Timestamps: not in the future, updatedAt not before createdAt.
  auto t = imp::read_row(row({{"firstName", "A"},
                              {"lastName", "B"},
                              {"email", "a@b.org"},
                              {"timezone", "UTC"},
                              {"createdAt", "2027-07-02T00:00:00Z"}}),
                         now, 16);
  EXPECT_EQ(fields_of(t), std::vector<std::string>{"createdAt"});
  auto u = imp::read_row(row({{"firstName", "A"},
                              {"lastName", "B"},
                              {"email", "a@b.org"},
                              {"timezone", "UTC"},
                              {"createdAt", "2027-01-02T00:00:00Z"},
                              {"updatedAt", "2027-01-01T00:00:00Z"}}),
                         now, 16);
  EXPECT_EQ(fields_of(u), std::vector<std::string>{"updatedAt"});
  auto missing = imp::read_row(row({{"firstName", "A"}}), now, 16);
  EXPECT_EQ(fields_of(missing).size(), 3u) << "lastName, email, timezone required";
}

TEST(Csv, QuotesCommasLineBreaksAndCrlf) {
  std::istringstream in{"a,b,c\r\n1,\"x, \"\"y\"\"\",3\r\n\r\n\"multi\nline\",,\"\"\n"};
  imp::csv_reader r{in};
  std::string e;
  EXPECT_EQ(*r.next(e), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(*r.next(e), (std::vector<std::string>{"1", "x, \"y\"", "3"}));
  EXPECT_EQ(r.line(), 2u);
  EXPECT_EQ(*r.next(e), (std::vector<std::string>{"multi\nline", "", ""}));
  EXPECT_EQ(r.line(), 4u) << "blank line skipped";
  EXPECT_FALSE(r.next(e));
  EXPECT_TRUE(e.empty());
}

TEST(Csv, MalformedRecordsAreNamedAndReadingGoesOn) {
  std::istringstream bad{"\"ab\"c,d\nok,1\n"};
  imp::csv_reader r{bad};
  std::string e;
  r.next(e);
  EXPECT_EQ(e, "text after a closing quote");
  e.clear();
  EXPECT_EQ(*r.next(e), (std::vector<std::string>{"ok", "1"}));
  std::istringstream open{"\"never closed\nstill\n"};
  imp::csv_reader o{open};
  EXPECT_FALSE(o.next(e));
  EXPECT_EQ(e, "an unterminated quoted field");
}

TEST(Csv, RowsUnderTheHeader) {
  auto r = imp::csv_row({"firstName", "locationCity"}, {"Ada", ""});
  ASSERT_TRUE(std::holds_alternative<json::object>(r));
  EXPECT_EQ(std::get<json::object>(r).size(), 1u) << "an empty field is absent";
  EXPECT_EQ(std::get<std::string>(imp::csv_row({"a", "b"}, {"1"})), "has 1 fields, the header 2");
  EXPECT_EQ(std::get<std::string>(imp::csv_row({"a", "a"}, {"1", "2"})),
            "the header names a twice");
}

TEST(Copy, TextFormatEscapesAndNulls) {
  EXPECT_EQ(imp::copy_line(
                {std::string{"a\tb"}, std::nullopt, std::string{"c\\d\ne\r"}, std::string{""}}),
            "a\\tb\t\\N\tc\\\\d\\ne\\r\t\n");
}

TEST(OldService, StatusesAndTypes) {
  for (const char* s : {"SENT", "QUEUED", "SENDING"})
    EXPECT_TRUE(imp::counts_as_sent(s)) << s;
  for (const char* s : {"SCHEDULED", "RETRYING", "FAILED", "sent", ""})
    EXPECT_FALSE(imp::counts_as_sent(s)) << s;
  EXPECT_EQ(imp::occasion_of("BIRTHDAY"), "birthday");
  EXPECT_EQ(imp::occasion_of("ANNIVERSARY"), "anniversary");
  EXPECT_EQ(imp::occasion_of("birthday"), "");
}
