#include "core/security.hpp"

#include "core/percent.hpp"

#include <algorithm>
#include <cctype>

namespace candle {

bool is_loopback(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  // 127.a.b.c with every part a number 0..255.
  if (host.substr(0, 4) != "127.") return false;
  int parts = 0;
  size_t i = 0;
  while (i <= host.size()) {
    size_t j = host.find('.', i);
    if (j == std::string_view::npos) j = host.size();
    auto part = host.substr(i, j - i);
    if (part.empty() || part.size() > 3) return false;
    int v = 0;
    for (char c : part) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      v = v * 10 + (c - '0');
    }
    if (v > 255) return false;
    ++parts;
    i = j + 1;
  }
  return parts == 4;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  // Walk the longer one whole, so the time says nothing about where they differ.
  size_t n = a.size() > b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0;
}

admin_verdict judge_admin(std::string_view token, bool loopback, std::string_view authorization) {
  if (token.empty()) return loopback ? admin_verdict::allow : admin_verdict::forbidden;
  // "Bearer <token>", the scheme case-insensitively (RFC 7235), one space.
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size()) return admin_verdict::unauthorized;
  for (size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i])
      return admin_verdict::unauthorized;
  auto given = authorization.substr(scheme.size());
  return constant_time_equal(given, token) ? admin_verdict::allow : admin_verdict::forbidden;
}

namespace {

bool secret_key(std::string_view key) {
  return key == "password" || key == "sslpassword";
}

// The `?a=b&c=d` part of a URL.
std::string redact_query(std::string_view q) {
  std::string out;
  size_t start = 0;
  while (start <= q.size()) {
    auto end = std::min(q.find('&', start), q.size());
    auto pair = q.substr(start, end - start);
    auto eq = pair.find('=');
    // libpq percent-decodes parameter names too (`pass%77ord`).
    if (eq != std::string_view::npos && secret_key(percent_decode(pair.substr(0, eq))))
      out.append(pair.substr(0, eq + 1)).append("***");
    else
      out.append(pair);
    if (end == q.size()) break;
    out += '&';
    start = end + 1;
  }
  return out;
}

// libpq's URI form: credentials end at the first '@' before any '/'.
std::string redact_url(std::string_view url, size_t after_scheme) {
  std::string out{url.substr(0, after_scheme)};
  auto rest = url.substr(after_scheme);
  auto stop = rest.find_first_of("@/");
  if (stop != std::string_view::npos && rest[stop] == '@') {
    auto userinfo = rest.substr(0, stop);
    auto colon = userinfo.find(':');
    out.append(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) out += ":***";
    rest = rest.substr(stop);
  }
  auto q = rest.find('?');
  out.append(rest.substr(0, q));
  if (q != std::string_view::npos) out.append("?").append(redact_query(rest.substr(q + 1)));
  return out;
}

bool space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// The `key = value key='quoted \' value'` form; anything it cannot read is
// not printed at all.
std::string redact_keywords(std::string_view s) {
  std::string out;
  size_t i = 0;
  auto copy_spaces = [&] {
    while (i < s.size() && space(s[i]))
      out += s[i++];
  };
  for (;;) {
    copy_spaces();
    if (i == s.size()) return out;
    auto key_start = i;
    while (i < s.size() && s[i] != '=' && !space(s[i]))
      ++i;
    auto key = s.substr(key_start, i - key_start);
    out.append(key);
    copy_spaces();
    if (key.empty() || i == s.size() || s[i] != '=') return "***";
    out += s[i++];
    copy_spaces();
    auto value_start = i;
    if (i < s.size() && s[i] == '\'') {
      for (++i; i < s.size() && s[i] != '\''; ++i)
        if (s[i] == '\\') ++i;
      if (i >= s.size()) return "***";
      ++i;
    } else {
      for (; i < s.size() && !space(s[i]); ++i)
        if (s[i] == '\\') ++i; // an escaped character, a space among them
      i = std::min(i, s.size());
    }
    out.append(secret_key(key) ? std::string_view{"***"} : s.substr(value_start, i - value_start));
  }
}

} // namespace

std::string redact_conninfo(std::string_view conninfo) {
  for (std::string_view scheme : {"postgresql://", "postgres://"})
    if (conninfo.substr(0, scheme.size()) == scheme) return redact_url(conninfo, scheme.size());
  return redact_keywords(conninfo);
}

} // namespace candle
