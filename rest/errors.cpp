#include "rest/errors.hpp"

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/sec.hpp>
#include <spdlog/spdlog.h>
#include <string>

namespace candle::api {

namespace {

bool is_candle(const caf::error& e) {
  return e.category() == caf::atom("candle");
}

// The text of a Candle error without its code prefix.
std::string message_of(const caf::error& e, caf::actor_system& sys) {
  if (is_candle(e) && !e.context().empty() && e.context().match_element<std::string>(0))
    return e.context().get_as<std::string>(0);
  return sys.render(e);
}

} // namespace

http::status status_of(errc code) {
  switch (code) {
  case errc::not_found:
    return http::status::not_found;
  case errc::conflict:
  case errc::duplicate:
    return http::status::conflict;
  case errc::invalid:
  case errc::invalid_argument:
  case errc::unknown_zone:
  case errc::invalid_date:
  case errc::invalid_time:
  case errc::out_of_range:
    return http::status::bad_request;
  case errc::unavailable:
  case errc::overloaded:
    return http::status::service_unavailable;
  case errc::refused:
  case errc::internal:
    break;
  }
  return http::status::internal_server_error;
}

net::response error_response(const caf::error& e, const net::request& req, caf::actor_system& sys) {
  auto status = http::status::internal_server_error;
  if (is_candle(e)) {
    auto code = static_cast<errc>(e.code());
    if (code == errc::duplicate) // contract.md: as the TypeScript service answers
      return net::failure(http::status::conflict, "UNIQUE_CONSTRAINT_ERROR", message_of(e, sys),
                          req);
    status = status_of(code);
  } else if (e == caf::sec::request_timeout) {
    status = http::status::service_unavailable;
  }
  if (status == http::status::internal_server_error)
    spdlog::error("event=rest.error path={} error=\"{}\"", std::string{req.target()},
                  sys.render(e));
  return net::failure(status, message_of(e, sys), req);
}

} // namespace candle::api
