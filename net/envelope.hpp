// The REST envelopes of contract.md, kept byte-compatible with the TypeScript
// service: {"success":true,"data":…,"timestamp":…} and
// {"error":{"code","message","details"},"timestamp","path"}.
#pragma once

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace candle::net {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

struct field_error {
  std::string field;
  std::string message;
};

/// `code` for a status: 400 VALIDATION_ERROR, 404 NOT_FOUND, … (contract).
std::string_view error_code_for(http::status status);

std::string success_body(boost::json::value data);
std::string error_body(std::string_view code, std::string_view message, std::string_view path,
                       const std::vector<field_error>& details = {});

/// A JSON response with the envelope already rendered in `body`.
response json_response(http::status status, std::string body, unsigned version = 11,
                       bool keep_alive = true);
response success(http::status status, boost::json::value data, const request& req);
response failure(http::status status, std::string_view message, const request& req,
                 const std::vector<field_error>& details = {});
/// With a code of its own (409 UNIQUE_CONSTRAINT_ERROR for an email in use).
response failure(http::status status, std::string_view code, std::string_view message,
                 const request& req);
/// For errors found before a request could be parsed (no target known).
response failure(http::status status, std::string_view message, std::string_view path);

} // namespace candle::net
