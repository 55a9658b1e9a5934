// Percent-decoding (RFC 3986 %XX escapes), shared by the router's paths and
// query strings and by the redaction of connection strings.
#pragma once

#include <string>
#include <string_view>

namespace candle {

/// Decodes %XX escapes (and '+' as a space in query strings); malformed
/// escapes stay as they are.
std::string percent_decode(std::string_view s, bool plus_as_space = false);

} // namespace candle
