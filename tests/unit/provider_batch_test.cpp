// Reading a batch answer (contract.md "Email provider", email.api=batch):
// a result per greeting, in any order, each classified like a single send.
#include "provider/provider_client.hpp"

#include <gtest/gtest.h>

using namespace candle::net;

namespace {
const std::vector<std::string> keys{"u1:birthday:2027", "u2:birthday:2027", "u3:birthday:2027"};
}

TEST(BatchResults, EachGreetingGetsItsOwnResultInAnyOrder) {
  auto out = read_batch_results(R"({"results": [
      {"key": "u3:birthday:2027", "status": 503, "error": "busy"},
      {"key": "u1:birthday:2027", "status": 200},
      {"key": "u2:birthday:2027", "status": 400, "error": "mailbox unavailable"}]})",
                                keys);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].result, provider_answer::sent);
  EXPECT_EQ(out[0].status, 200);
  EXPECT_EQ(out[1].result, provider_answer::permanent);
  EXPECT_EQ(out[1].error, "HTTP 400: mailbox unavailable");
  EXPECT_EQ(out[2].result, provider_answer::transient);
  EXPECT_EQ(out[2].status, 503);
}

TEST(BatchResults, A429ForOneGreetingIsTransient) {
  auto out = read_batch_results(R"({"results": [{"key": "u1:birthday:2027", "status": 429},
      {"key": "u2:birthday:2027", "status": 202}, {"key": "u3:birthday:2027", "status": 408}]})",
                                keys);
  EXPECT_EQ(out[0].result, provider_answer::transient);
  EXPECT_EQ(out[0].status, 429);
  EXPECT_EQ(out[1].result, provider_answer::sent);
  EXPECT_EQ(out[2].result, provider_answer::transient);
}

// A greeting the answer does not mention may or may not have been sent: it
// is retried with its key (the provider drops a repeated key).
TEST(BatchResults, AGreetingWithoutAResultIsTransient) {
  auto out = read_batch_results(R"({"results": [{"key": "u2:birthday:2027", "status": 200},
      {"key": "someone-else", "status": 200}, {"status": 200}, 7]})",
                                keys);
  EXPECT_EQ(out[0].result, provider_answer::transient);
  EXPECT_NE(out[0].error.find("no result"), std::string::npos);
  EXPECT_EQ(out[1].result, provider_answer::sent);
  EXPECT_EQ(out[2].result, provider_answer::transient);
}

TEST(BatchResults, ContradictingResultsForOneKeyAreTransientRepeatsAreFine) {
  auto out = read_batch_results(R"({"results": [
      {"key": "u1:birthday:2027", "status": 200}, {"key": "u1:birthday:2027", "status": 500},
      {"key": "u2:birthday:2027", "status": 200}, {"key": "u2:birthday:2027", "status": 200},
      {"key": "u3:birthday:2027", "status": "200"}]})",
                                keys);
  EXPECT_EQ(out[0].result, provider_answer::transient);
  EXPECT_NE(out[0].error.find("contradicting"), std::string::npos);
  EXPECT_EQ(out[1].result, provider_answer::sent);
  EXPECT_EQ(out[2].result, provider_answer::transient); // a status that is not a number
}

TEST(BatchResults, AnUnreadableAnswerRetriesEveryGreeting) {
  for (const char* body : {"", "not json", "[]", R"({"results": 5})", R"({"status": "ok"})",
                           R"({"results": [{"key": "u1:birthday:2027", "status": 99}]})"}) {
    auto out = read_batch_results(body, keys);
    ASSERT_EQ(out.size(), 3u) << body;
    for (const auto& a : out)
      EXPECT_EQ(a.result, provider_answer::transient) << body;
  }
}
