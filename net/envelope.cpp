#include "net/envelope.hpp"

#include "core/time.hpp"

namespace candle::net {

namespace {

std::string now_iso() {
  return format_instant(date::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()));
}

// The path without its query string, as the TypeScript service reported it.
std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

} // namespace

std::string_view error_code_for(http::status status) {
  switch (status) {
  case http::status::bad_request:
    return "VALIDATION_ERROR";
  case http::status::unauthorized:
    return "UNAUTHORIZED";
  case http::status::forbidden:
    return "FORBIDDEN";
  case http::status::not_found:
    return "NOT_FOUND";
  case http::status::method_not_allowed:
    return "METHOD_NOT_ALLOWED";
  case http::status::conflict:
    return "CONFLICT";
  case http::status::payload_too_large:
    return "PAYLOAD_TOO_LARGE";
  case http::status::unsupported_media_type:
    return "UNSUPPORTED_MEDIA_TYPE";
  case http::status::request_header_fields_too_large:
    return "HEADERS_TOO_LARGE";
  case http::status::too_many_requests:
    return "TOO_MANY_REQUESTS";
  case http::status::service_unavailable:
    return "UNAVAILABLE";
  default:
    return "INTERNAL_ERROR";
  }
}

std::string success_body(boost::json::value data) {
  boost::json::object o;
  o["success"] = true;
  o["data"] = std::move(data);
  o["timestamp"] = now_iso();
  return boost::json::serialize(o);
}

std::string error_body(std::string_view code, std::string_view message, std::string_view path,
                       const std::vector<field_error>& details) {
  boost::json::object err;
  err["code"] = code;
  err["message"] = message;
  if (!details.empty()) {
    boost::json::array arr;
    for (const auto& d : details)
      arr.push_back(boost::json::object{{"field", d.field}, {"message", d.message}});
    err["details"] = std::move(arr);
  }
  boost::json::object o;
  o["error"] = std::move(err);
  o["timestamp"] = now_iso();
  o["path"] = path_of(path);
  return boost::json::serialize(o);
}

response json_response(http::status status, std::string body, unsigned version, bool keep_alive) {
  response res{status, version};
  res.set(http::field::content_type, "application/json; charset=utf-8");
  res.set(http::field::server, "candle");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response success(http::status status, boost::json::value data, const request& req) {
  return json_response(status, success_body(std::move(data)), req.version(), req.keep_alive());
}

response failure(http::status status, std::string_view message, const request& req,
                 const std::vector<field_error>& details) {
  return json_response(status,
                       error_body(error_code_for(status), message,
                                  std::string_view{req.target().data(), req.target().size()},
                                  details),
                       req.version(), req.keep_alive());
}

response failure(http::status status, std::string_view code, std::string_view message,
                 const request& req) {
  return json_response(
      status, error_body(code, message, std::string_view{req.target().data(), req.target().size()}),
      req.version(), req.keep_alive());
}

response failure(http::status status, std::string_view message, std::string_view path) {
  return json_response(status, error_body(error_code_for(status), message, path), 11, false);
}

} // namespace candle::net
