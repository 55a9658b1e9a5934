// User ids: RFC 4122 version-4 UUIDs in their canonical lower-case text form.
#pragma once

#include <string>
#include <string_view>

namespace candle {

/// 36 characters, hex digits with dashes at 8, 13, 18 and 23 (any version).
bool is_uuid(std::string_view s);

/// A fresh random version-4 UUID from the OS entropy (getrandom): unpredictable.
std::string make_uuid();

} // namespace candle
