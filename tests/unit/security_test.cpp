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
