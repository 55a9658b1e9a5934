// Candle's one error code (core/result.hpp).
#include "core/result.hpp"

#include <gtest/gtest.h>
#include <set>
#include <string>

using namespace candle;

namespace {

constexpr errc last = errc::out_of_range;

} // namespace

// The numbers cross the cluster inside CAF errors, between nodes of two
// versions during a rolling restart: these were the actors' codes before
// the two enums became one, and must not move.
TEST(Errc, TheCodesSentBetweenNodesKeepTheirNumbers) {
  EXPECT_EQ(static_cast<int>(errc::unavailable), 1);
  EXPECT_EQ(static_cast<int>(errc::overloaded), 2);
  EXPECT_EQ(static_cast<int>(errc::not_found), 3);
  EXPECT_EQ(static_cast<int>(errc::conflict), 4);
  EXPECT_EQ(static_cast<int>(errc::invalid), 5);
  EXPECT_EQ(static_cast<int>(errc::refused), 6);
  EXPECT_EQ(static_cast<int>(errc::internal), 7);
  EXPECT_EQ(static_cast<int>(errc::duplicate), 8);
}

TEST(Errc, EveryCodeHasItsOwnName) {
  std::set<std::string> names;
  for (int c = 1; c <= static_cast<int>(last); ++c) {
    std::string name = to_string(static_cast<errc>(c));
    EXPECT_NE(name, "unknown") << "code " << c;
    EXPECT_TRUE(names.insert(name).second) << "code " << c << " named like another: " << name;
  }
  EXPECT_STREQ(to_string(static_cast<errc>(0)), "unknown");
  EXPECT_STREQ(to_string(static_cast<errc>(static_cast<int>(last) + 1)), "unknown");
}
