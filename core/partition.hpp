// Which partition owns a user: a stable hash of the user id modulo the
// partition count fixed at cluster creation. Stable across builds, machines
// and releases (FNV-1a), because partitions are persisted.
#pragma once

#include <cstdint>
#include <string_view>

namespace candle {

constexpr uint64_t fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

constexpr int32_t partition_of(std::string_view user_id, uint32_t partitions) {
  return static_cast<int32_t>(fnv1a(user_id) % partitions);
}

} // namespace candle
