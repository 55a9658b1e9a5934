#include "core/security.hpp"

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

} // namespace candle
