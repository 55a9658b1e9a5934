// Candle's errors as HTTP answers: the one mapping from an error code
// (core/result.hpp, carried in CAF errors of category "candle") to the
// status and the contract's error envelope.
#pragma once

#include "core/result.hpp"
#include "net/envelope.hpp"

#include <caf/fwd.hpp>

namespace candle::api {

namespace http = boost::beast::http;

/// not_found 404, conflict and duplicate 409, the bad inputs 400,
/// unavailable and overloaded 503, the rest (refused, internal) 500.
http::status status_of(errc code);

/// The response for a request that failed with `e`: its status, and its
/// text without the code's prefix. A duplicate is 409 with the code
/// UNIQUE_CONSTRAINT_ERROR, as the TypeScript service answered; CAF's own
/// request timeout is 503; anything unexpected is 500 and logged.
net::response error_response(const caf::error& e, const net::request& req, caf::actor_system& sys);

} // namespace candle::api
