// Who may use the admin routes (contract.md "Security"), as pure functions:
// the REST bridge asks `judge_admin` for every /api/v1/admin/* request.
#pragma once

#include <string>
#include <string_view>

namespace candle {

/// 127.0.0.0/8, ::1 and `localhost`: addresses only this machine reaches.
bool is_loopback(std::string_view host);

/// Equal strings, in a time that depends on the lengths only (a token is
/// never compared byte by byte with an early exit).
bool constant_time_equal(std::string_view a, std::string_view b);

enum class admin_verdict {
  allow,
  unauthorized, ///< 401: a token is set and the request has none (or not a Bearer one)
  forbidden,    ///< 403: a wrong token, or no token set and a listener off loopback
};

/// `token`: admin.token ("" = none); `loopback`: the REST listener's address is
/// loopback; `authorization`: the request's Authorization header ("" = none).
admin_verdict judge_admin(std::string_view token, bool loopback, std::string_view authorization);

/// A PostgreSQL connection string fit to print: the password of a URL's
/// user information (`postgresql://user:***@h1:5432,h2:5432/db`) and every
/// `password`/`sslpassword` parameter, in a URL's query or in the
/// `key=value` form, replaced by `***`.
std::string redact_conninfo(std::string_view conninfo);

} // namespace candle
