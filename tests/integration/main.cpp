#include "pg_fixture.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto* env = new candle::test::pg_environment;
  candle::test::pg_environment::instance() = env;
  ::testing::AddGlobalTestEnvironment(env); // gtest owns it
  return RUN_ALL_TESTS();
}
