#include "core/webhook.hpp"

#include "core/security.hpp"

#include <algorithm>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace candle::webhook {

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(bytes.data()),
                           static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  size_t pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = text[i];
    bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c == '=') {
      if (i + 2 < text.size()) return false; // only in the last two places
      ++pad;
    } else if (pad > 0 || !(alnum || c == '+' || c == '/')) {
      return false;
    }
  }
  out.assign(3 * text.size() / 4, '\0');
  auto n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(text.data()),
                           static_cast<int>(text.size()));
  if (n < 0) return false;
  out.resize(static_cast<size_t>(n) - pad); // EVP_DecodeBlock counts the padding
  return base64_encode(out) == text;        // canonical: no stray bits
}

namespace {

// The non-empty pieces of `text` between any of `separators`.
std::vector<std::string_view> tokens(std::string_view text, std::string_view separators) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while ((i = text.find_first_not_of(separators, i)) != std::string_view::npos) {
    auto end = std::min(text.find_first_of(separators, i), text.size());
    out.push_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

} // namespace

result<std::vector<std::string>> parse_secrets(std::string_view text) {
  std::vector<std::string> keys;
  for (auto one : tokens(text, " ,")) {
    constexpr std::string_view prefix = "whsec_";
    if (one.substr(0, prefix.size()) != prefix)
      return error{errc::invalid_argument, "each secret must start with whsec_"};
    std::string key;
    if (!base64_decode(one.substr(prefix.size()), key))
      return error{errc::invalid_argument, "the part after whsec_ must be base64"};
    if (key.size() < 16)
      return error{errc::out_of_range, "a secret's key must be at least 16 bytes"};
    keys.push_back(std::move(key));
  }
  if (keys.empty()) return error{errc::invalid_argument, "no secret given"};
  return keys;
}

namespace {

std::string mac(std::string_view key, std::string_view id, std::string_view timestamp,
                std::string_view body) {
  std::string content;
  content.reserve(id.size() + timestamp.size() + body.size() + 2);
  content.append(id).append(1, '.').append(timestamp).append(1, '.').append(body);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), out, &n);
  return std::string(reinterpret_cast<const char*>(out), n);
}

// Decimal seconds, at most 12 digits (no sign, no spaces).
bool parse_seconds(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 12) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

} // namespace

std::string sign(std::string_view key, std::string_view id, int64_t timestamp,
                 std::string_view body) {
  return "v1," + base64_encode(mac(key, id, std::to_string(timestamp), body));
}

const char* to_string(verdict v) {
  switch (v) {
  case verdict::ok:
    return "ok";
  case verdict::missing:
    return "missing";
  case verdict::malformed:
    return "malformed";
  case verdict::stale:
    return "stale";
  case verdict::no_match:
    return "no_match";
  }
  return "?";
}

verdict verify(const std::vector<std::string>& keys, std::string_view id,
               std::string_view timestamp, std::string_view signatures, std::string_view body,
               int64_t now_s) {
  if (id.empty() || timestamp.empty() || signatures.empty()) return verdict::missing;
  int64_t ts = 0;
  if (!parse_seconds(timestamp, ts)) return verdict::malformed;
  if (ts < now_s - tolerance_s || ts > now_s + tolerance_s) return verdict::stale;
  std::vector<std::string> expected;
  expected.reserve(keys.size());
  for (const auto& k : keys)
    expected.push_back(base64_encode(mac(k, id, timestamp, body)));
  bool match = false;
  for (auto one : tokens(signatures, " ")) {
    if (one.substr(0, 3) != "v1,") continue; // another scheme (v1a): not ours
    auto sig = one.substr(3);
    for (const auto& e : expected)
      match |= constant_time_equal(sig, e); // no early exit
  }
  return match ? verdict::ok : verdict::no_match;
}

} // namespace candle::webhook
