// Standard Webhooks signatures: the spec's vector, rotation, tolerance
// edges, malformed headers and secrets.
#include "core/webhook.hpp"

#include <gtest/gtest.h>

using namespace candle::webhook;

namespace {

// The example in the Standard Webhooks specification.
constexpr const char* spec_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* spec_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t spec_ts = 1614265330;
constexpr const char* spec_body = R"({"test": 2432232314})";
constexpr const char* spec_signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

std::vector<std::string> keys_of(const char* text) {
  auto k = parse_secrets(text);
  EXPECT_TRUE(k.ok()) << text;
  return k.ok() ? *k : std::vector<std::string>{};
}

verdict check(const std::vector<std::string>& keys, std::string_view sigs, int64_t now = spec_ts,
              std::string_view ts = "1614265330", std::string_view body = spec_body,
              std::string_view id = spec_id) {
  return verify(keys, id, ts, sigs, body, now);
}

} // namespace

TEST(Webhook, SignsTheSpecificationsExample) {
  auto keys = keys_of(spec_secret);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(sign(keys[0], spec_id, spec_ts, spec_body), spec_signature);
  EXPECT_EQ(check(keys, spec_signature), verdict::ok);
}

TEST(Webhook, AnyChangeToIdTimestampOrBodyBreaksTheSignature) {
  auto keys = keys_of(spec_secret);
  EXPECT_EQ(check(keys, spec_signature, spec_ts, "1614265330", R"({"test": 2432232315})"),
            verdict::no_match);
  EXPECT_EQ(check(keys, spec_signature, spec_ts, "1614265330", spec_body, "msg_other"),
            verdict::no_match);
  EXPECT_EQ(check(keys, spec_signature, spec_ts, "1614265331"), verdict::no_match);
  EXPECT_EQ(check(keys_of("whsec_AAAAAAAAAAAAAAAAAAAAAAAA"), spec_signature), verdict::no_match);
  // Not the same signature with one character changed or cut.
  std::string flipped = spec_signature;
  flipped.back() = 'F';
  EXPECT_EQ(check(keys, flipped), verdict::no_match);
  EXPECT_EQ(check(keys, std::string{spec_signature}.substr(0, 20)), verdict::no_match);
}

TEST(Webhook, OneMatchingSignatureInTheListIsEnoughAndOtherSchemesAreIgnored) {
  auto keys = keys_of(spec_secret);
  EXPECT_EQ(check(keys, std::string{"v1,bm90IHRoaXMgb25l "} + spec_signature), verdict::ok);
  EXPECT_EQ(check(keys, std::string{spec_signature} + " v1a,c29tZXRoaW5n"), verdict::ok);
  EXPECT_EQ(check(keys, std::string{"  "} + spec_signature + "  "), verdict::ok);
  // The right base64 under another scheme name is not a v1 signature.
  std::string v2 = std::string{"v2,"} + (spec_signature + 3);
  EXPECT_EQ(check(keys, v2), verdict::no_match);
  EXPECT_EQ(check(keys, "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), verdict::no_match);
  EXPECT_EQ(check(keys, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), verdict::no_match);
}

TEST(Webhook, RotationAcceptsEitherKeyDuringTheOverlap) {
  auto both = keys_of("whsec_AAAAAAAAAAAAAAAAAAAAAAAA,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(check(both, spec_signature), verdict::ok);
  auto spaced = keys_of(" whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw  whsec_AAAAAAAAAAAAAAAAAAAAAAAA ");
  EXPECT_EQ(spaced.size(), 2u);
  EXPECT_EQ(check(spaced, spec_signature), verdict::ok);
  auto old_only = keys_of("whsec_AAAAAAAAAAAAAAAAAAAAAAAA");
  auto old_sig = sign(old_only[0], spec_id, spec_ts, spec_body);
  EXPECT_EQ(check(both, old_sig), verdict::ok);
  EXPECT_EQ(check(keys_of(spec_secret), old_sig), verdict::no_match);
}

TEST(Webhook, TimestampToleranceIsFiveMinutesEitherWayInclusive) {
  auto keys = keys_of(spec_secret);
  EXPECT_EQ(check(keys, spec_signature, spec_ts + tolerance_s), verdict::ok);
  EXPECT_EQ(check(keys, spec_signature, spec_ts - tolerance_s), verdict::ok);
  EXPECT_EQ(check(keys, spec_signature, spec_ts + tolerance_s + 1), verdict::stale);
  EXPECT_EQ(check(keys, spec_signature, spec_ts - tolerance_s - 1), verdict::stale);
  // Stale is decided before the signature: whatever it says, an old request
  // is refused as stale (the correctly signed one above as well).
  EXPECT_EQ(check(keys, "v1,x", spec_ts + 10'000), verdict::stale);
}

TEST(Webhook, MalformedOrMissingHeaders) {
  auto keys = keys_of(spec_secret);
  EXPECT_EQ(check(keys, ""), verdict::missing);
  EXPECT_EQ(check(keys, spec_signature, spec_ts, ""), verdict::missing);
  EXPECT_EQ(check(keys, spec_signature, spec_ts, "1614265330", spec_body, ""), verdict::missing);
  for (const char* ts : {"-1614265330", "+1614265330", "1614265330.5", " 1614265330", "16142653x0",
                         "1614265330000000", "0x6036", "1e9"})
    EXPECT_EQ(check(keys, spec_signature, spec_ts, ts), verdict::malformed) << ts;
  for (const char* sig : {"v1,", "v1", ",", "v1,====", "v1,%%%%", " "})
    EXPECT_NE(check(keys, sig), verdict::ok) << sig;
}

TEST(Webhook, SecretsMustBeWhsecBase64OfAtLeast16Bytes) {
  for (const char* bad : {"", "   ", ",", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_",
                          "whsec_not base64!", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
                          "whsec_AAAA", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,secret"})
    EXPECT_FALSE(parse_secrets(bad).ok()) << bad;
}

TEST(Webhook, Base64RoundTripsAndRejectsNonCanonicalText) {
  std::string out;
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto e = base64_encode(s);
    if (s.empty()) {
      EXPECT_EQ(e, "");
      continue;
    }
    ASSERT_TRUE(base64_decode(e, out)) << e;
    EXPECT_EQ(out, s);
  }
  for (const char* bad : {"YQ", "YQ=", "Y===", "YQ=a", "YR==", "Y Q=", "YQ==YQ=="})
    EXPECT_FALSE(base64_decode(bad, out)) << bad;
}
