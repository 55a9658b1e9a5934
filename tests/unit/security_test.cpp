#include "core/security.hpp"

#include <gtest/gtest.h>
#include <string>

using namespace candle;

TEST(Security, LoopbackAddresses) {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "127.255.255.255", "::1", "[::1]", "localhost"})
    EXPECT_TRUE(is_loopback(h)) << h;
  for (const char* h :
       {"0.0.0.0", "10.0.0.1", "128.0.0.1", "127.0.0", "127.0.0.1.2", "127.0.0.256", "127..0.1",
        "127.0.0.x", "", "::", "localhost.example.com", "1127.0.0.1", "127.0.0.1 ", "127.0000.0.1"})
    EXPECT_FALSE(is_loopback(h)) << h;
}

TEST(Security, ConstantTimeEqualIsEquality) {
  const std::string words[] = {"",
                               "a",
                               "b",
                               "ab",
                               "abc",
                               "abd",
                               "abcd",
                               std::string(64, 'x'),
                               std::string(63, 'x') + "y",
                               std::string("a\0b", 3),
                               std::string("a\0c", 3)};
  for (const auto& a : words)
    for (const auto& b : words)
      EXPECT_EQ(constant_time_equal(a, b), a == b) << "'" << a << "' '" << b << "'";
}

// Every combination of token set or not, listener loopback or not, and the
// header forms a client may send.
TEST(Security, AdminVerdicts) {
  const std::string token = "s3cret-token-0123456789";
  struct row {
    std::string header;
    admin_verdict with_token;
  };
  const row rows[] = {
      {"", admin_verdict::unauthorized},
      {"Bearer", admin_verdict::unauthorized},
      {"Bearer ", admin_verdict::unauthorized},
      {"Basic " + token, admin_verdict::unauthorized},
      {"Token " + token, admin_verdict::unauthorized},
      {token, admin_verdict::unauthorized},
      {"Bearer " + token, admin_verdict::allow},
      {"bearer " + token, admin_verdict::allow},
      {"BEARER " + token, admin_verdict::allow},
      {"Bearer  " + token, admin_verdict::forbidden}, // two spaces: not the token
      {"Bearer " + token + " ", admin_verdict::forbidden},
      {"Bearer " + token.substr(1), admin_verdict::forbidden},
      {"Bearer " + token + "x", admin_verdict::forbidden},
      {"Bearer wrong", admin_verdict::forbidden},
  };
  for (bool loopback : {true, false})
    for (const auto& r : rows) {
      EXPECT_EQ(judge_admin(token, loopback, r.header), r.with_token)
          << "'" << r.header << "' loopback=" << loopback;
      // No token: the header does not matter, the listener does.
      EXPECT_EQ(judge_admin("", loopback, r.header),
                loopback ? admin_verdict::allow : admin_verdict::forbidden)
          << "'" << r.header << "'";
    }
}

TEST(Security, ConnectionStringsArePrintedWithoutPasswords) {
  struct {
    const char* in;
    const char* out;
  } cases[] = {
      {"postgresql://candle:s3cret@db:5432/candle", "postgresql://candle:***@db:5432/candle"},
      {"postgres://u:p@h/d", "postgres://u:***@h/d"},
      {"postgresql://candle@db/candle", "postgresql://candle@db/candle"},
      {"postgresql://db/candle", "postgresql://db/candle"},
      {"postgresql://", "postgresql://"},
      // Multi-host (libpq's fail-over syntax) and parameters.
      {"postgresql://u:pw@h1:5432,h2:5433/db?target_session_attrs=read-write",
       "postgresql://u:***@h1:5432,h2:5433/db?target_session_attrs=read-write"},
      {"postgresql://h/db?user=u&password=pw&sslmode=require",
       "postgresql://h/db?user=u&password=***&sslmode=require"},
      {"postgresql://h/db?sslpassword=k&password=",
       "postgresql://h/db?sslpassword=***&password=***"},
      {"postgresql://u:p:q@h", "postgresql://u:***@h"},
      {"postgresql://h/db?pass%77ord=pw&x=%", "postgresql://h/db?pass%77ord=***&x=%"},
      {"postgresql://h/db?%70assword%3=pw", "postgresql://h/db?%70assword%3=pw"},
      // '@' after a '/' is not user information (libpq reads it the same way).
      {"postgresql://h/db?application_name=a@b", "postgresql://h/db?application_name=a@b"},
      // The key=value form, quoted values with escapes included.
      {"host=db user=candle password=s3cret dbname=candle",
       "host=db user=candle password=*** dbname=candle"},
      {"password = 's3 c\\'ret' host=h", "password = *** host=h"},
      {"password=ab\\ cd=x host=h", "password=*** host=h"},
      {"host=h password=ends\\", "host=h password=***"},
      {"  host=/run/pg  ", "  host=/run/pg  "},
      {"", ""},
      // Not readable: nothing of it is shown.
      {"host=h password='unterminated", "***"},
      {"host=h garbage", "***"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(redact_conninfo(c.in), c.out) << c.in;
}
