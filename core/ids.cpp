#include "core/ids.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sys/random.h>
#include <system_error>

namespace candle {

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

namespace {
// Bytes from the operating system's entropy (getrandom(2)), read 4 KiB at a
// time per thread: ids must not be predictable from ones already seen (a
// seeded mt19937_64 is, from a few hundred outputs), since an id is what
// the API takes to read, change or delete a user.
void random_bytes(unsigned char* out, size_t n) {
  thread_local std::array<unsigned char, 4096> pool{};
  thread_local size_t used = pool.size();
  while (n > 0) {
    if (used == pool.size()) {
      size_t got = 0;
      while (got < pool.size()) {
        auto r = ::getrandom(pool.data() + got, pool.size() - got, 0);
        if (r < 0) {
          if (errno == EINTR) continue;
          throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        got += static_cast<size_t>(r);
      }
      used = 0;
    }
    auto take = std::min(n, pool.size() - used);
    std::memcpy(out, pool.data() + used, take);
    // What was handed out is not kept around.
    std::memset(pool.data() + used, 0, take);
    used += take;
    out += take;
    n -= take;
  }
}
} // namespace

std::string make_uuid() {
  std::array<unsigned char, 16> b{};
  random_bytes(b.data(), b.size());
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40); // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80); // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 0xf];
  }
  return out;
}

} // namespace candle
