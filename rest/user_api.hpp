// The user API's pure half (contract.md, "REST API"): request bodies parsed
// and validated into field errors, users and send records rendered as the
// TypeScript service rendered them, query strings decoded. No I/O, no actors:
// the routes in node/ call these and talk to actors.
#pragma once

#include "core/model.hpp"
#include "core/model_json.hpp"
#include "core/time.hpp"
#include "net/envelope.hpp"

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace candle::api {

using net::field_error;
using field_errors = std::vector<field_error>;

/// A JSON request body: an object, or why not (field "body"). Rejects
/// malformed JSON, invalid UTF-8, nesting deeper than 32, duplicate keys at
/// any level, and anything but an object at the top.
std::variant<boost::json::object, field_errors> parse_object(std::string_view body);
/// The same checks for any JSON value at the top.
std::variant<boost::json::value, field_errors> parse_json(std::string_view body);

/// The user fields a request sets. Absent = unchanged; for the optional
/// fields an empty string means "cleared" (the request sent null).
struct user_input {
  std::optional<std::string> first_name, last_name, email, timezone;
  std::optional<std::string> birthday_date, anniversary_date;
  std::optional<std::string> location_city, location_country;
};

/// Reads and validates a create (`creating`: the four required fields must
/// be present) or update body. `now` bounds the dates (not in the future
/// anywhere on Earth). Returns every problem, one per field, or the input.
std::variant<user_input, field_errors> read_user(const boost::json::object& body, bool creating,
                                                 sys_millis now);

/// `base` with the fields of `in` applied.
user apply(user base, const user_input& in);

/// Single-field checks, exposed for tests. Each returns the problem or "".
std::string check_name(std::string_view s);
std::string check_email(std::string_view s);
std::string check_date(std::string_view s, sys_millis now);

/// Trims ASCII white space at both ends.
std::string_view trim(std::string_view s);

/// Whether `s` holds an ASCII control character (below 0x20, or DEL).
bool has_control(std::string_view s);
/// A JSON string's characters.
std::string_view view(const boost::json::string& s);

// The model's JSON (core/model_json.hpp), as the API answers it.
using model::instant;
using model::number;
using model::opt;
using model::record_json;
using model::user_json;

/// Decoded query parameters (`a=1&b=x%20y`); the last of repeated names wins.
std::map<std::string, std::string, std::less<>> parse_query(std::string_view target);

/// `limit` from a query: absent → `fallback`; otherwise an integer in
/// [1, max]. On failure sets `problem`.
std::optional<size_t> read_limit(const std::map<std::string, std::string, std::less<>>& q,
                                 size_t fallback, size_t max, std::string& problem);

} // namespace candle::api
