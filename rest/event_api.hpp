// The delivery-event API's pure half (contract.md, "Delivery events"): the
// webhook body read into events with every problem named, and events and
// suppressions rendered. The signature is checked before this runs
// (core/webhook.hpp).
#pragma once

#include "core/model.hpp"
#include "rest/user_api.hpp"

#include <boost/json.hpp>
#include <string_view>
#include <variant>
#include <vector>

namespace candle::api {

/// Most events one request may carry, and its largest body (1 MiB: a
/// thousand events of up to ~1 KiB; other routes keep 64 KiB).
inline constexpr size_t max_events = 1000;
inline constexpr size_t max_body = 1024 * 1024;

/// `{userId}:{occasion}:{year}`: a UUID, a lower-case occasion name, a
/// four-digit year.
bool is_greeting_key(std::string_view key);

/// A webhook body: a JSON array of events or one event object, each
/// `{"id", "type", "key", "at", "reason"?}`. Problems are named by field
/// (`[3].type` in an array). Fields other than these are ignored: providers
/// add their own.
std::variant<std::vector<delivery_event>, field_errors> read_events(std::string_view body);

using model::event_json;
using model::suppression_json;

} // namespace candle::api
