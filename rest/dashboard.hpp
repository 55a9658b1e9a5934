// The operator's dashboard (GET /dashboard): a static page compiled into
// the binary (node/dashboard/) that reads the JSON API every few seconds,
// and the API's own routes: GET /api/v1/dashboard (greetings by state, this
// node's outcome counters and lateness, the next 48 h forecast) and
// GET /api/v1/dashboard/search?q= (a user's greetings by user id, email or
// greeting key). Actions go through the admin API with the token the page
// is given.
#pragma once

#include "core/forecast.hpp"
#include "core/metrics.hpp"
#include "net/router.hpp"
#include "rest/routes.hpp"

#include <boost/json.hpp>

namespace candle {

/// The body of GET /api/v1/dashboard from its parts (pure).
boost::json::object dashboard_json(sys_millis now, const dashboard_rows& rows,
                                   const forecast_report& forecast,
                                   const metrics::family::histogram_totals& lateness,
                                   const std::vector<std::pair<std::string, double>>& outcomes);

void add_dashboard_routes(net::router& r, node_context& ctx);

} // namespace candle
