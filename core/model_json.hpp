// The model as JSON, one rendering for every reader: the REST API
// (rest/user_api.hpp, rest/event_api.hpp) and the console's documents
// (console/document.hpp) show a user, a send record and a delivery event
// alike, in contract.md's field names.
#pragma once

#include "core/model.hpp"

#include <boost/json.hpp>
#include <cstdint>
#include <string>

namespace candle::model {

/// A text field as JSON: null when empty.
boost::json::value opt(const std::string& s);
/// An instant (ms since the epoch) as ISO-8601: null when 0.
boost::json::value instant(int64_t ms);
/// A number as JSON, whole ones as integers (Boost.JSON writes the double 0
/// as "0E0").
boost::json::value number(double v);

boost::json::object user_json(const user& u);
boost::json::object record_json(const send_record& r);
boost::json::object event_json(const delivery_event& e);
boost::json::object suppression_json(const suppression& s);

} // namespace candle::model
