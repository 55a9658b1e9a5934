// Standard Webhooks signatures (contract.md, "Delivery events"), as pure
// functions over OpenSSL's HMAC-SHA256: the REST bridge verifies the raw body
// before it parses it; the mock provider and tools/replay-events sign with
// the same code.
//
// A secret is `whsec_` followed by the base64 of the key. The signed content
// is "{webhook-id}.{webhook-timestamp}.{body}"; the `webhook-signature`
// header is a space-separated list of `v1,<base64 HMAC-SHA256>` (a sender
// rotating its key sends one per key), and any one matching is enough.
#pragma once

#include "core/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace candle::webhook {

/// Seconds a webhook-timestamp may be away from our clock, either way.
inline constexpr int64_t tolerance_s = 300;

/// The keys of `text`: one or more `whsec_<base64>` secrets separated by
/// spaces or commas (several while the sender rotates its key).
result<std::vector<std::string>> parse_secrets(std::string_view text);

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under `key`.
std::string sign(std::string_view key, std::string_view id, int64_t timestamp,
                 std::string_view body);

/// Base64 (standard alphabet, padded); decode accepts only canonical input
/// and returns false on anything else.
std::string base64_encode(std::string_view bytes);
bool base64_decode(std::string_view text, std::string& out);

enum class verdict {
  ok,
  missing,   ///< a header is absent or empty
  malformed, ///< the timestamp is not decimal seconds
  stale,     ///< the timestamp is more than `tolerance_s` away from now
  no_match,  ///< no v1 signature matches any key
};
const char* to_string(verdict v);

/// Checks a request's three headers and raw body against `keys` at
/// `now_s` (Unix seconds). Signatures are compared in constant time.
verdict verify(const std::vector<std::string>& keys, std::string_view id,
               std::string_view timestamp, std::string_view signatures, std::string_view body,
               int64_t now_s);

} // namespace candle::webhook
