#include "net/router.hpp"

#include "core/metrics.hpp"

#include <chrono>

namespace candle::net {

void router::add(http::verb method, std::string pattern, route_handler h) {
  routes_.push_back({method, std::move(pattern), std::move(h)});
}

namespace {

// "/a/b/" -> {"a", "b", ""}; false when `path` does not start with '/'.
bool split(std::string_view path, std::vector<std::string_view>& out) {
  if (path.empty() || path.front() != '/') return false;
  size_t pos = 1;
  while (true) {
    auto next = path.find('/', pos);
    out.push_back(path.substr(pos, next == std::string_view::npos ? path.npos : next - pos));
    if (next == std::string_view::npos) return true;
    pos = next + 1;
  }
}

} // namespace

std::optional<path_params> router::match(std::string_view pattern, std::string_view path) {
  std::vector<std::string_view> want, have;
  if (!split(pattern, want) || !split(path, have) || want.size() != have.size())
    return std::nullopt;
  path_params params;
  for (size_t i = 0; i < want.size(); ++i) {
    auto w = want[i];
    if (w.size() >= 2 && w.front() == '{' && w.back() == '}') {
      if (have[i].empty()) return std::nullopt;
      params.emplace(std::string{w.substr(1, w.size() - 2)}, percent_decode(have[i]));
    } else if (w != have[i]) {
      return std::nullopt;
    }
  }
  return params;
}

namespace {

// Counts the response and its latency by method, route pattern and status.
responder measured(responder respond, std::string method, std::string route) {
  return [respond = std::move(respond), method = std::move(method), route = std::move(route),
          start = std::chrono::steady_clock::now()](response res) {
    auto& m = metrics::global();
    m.http_requests.add({method, route, std::to_string(res.result_int())});
    m.http_duration.observe(
        {method, route},
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    respond(std::move(res));
  };
}

} // namespace

void router::operator()(request&& req, responder respond) const {
  std::string_view target{req.target().data(), req.target().size()};
  auto path = target.substr(0, target.find('?'));
  // Only known verbs become label values: clients must not grow the metric.
  std::string method =
      req.method() == http::verb::unknown ? "other" : std::string{req.method_string()};
  std::string allow;
  for (const auto& r : routes_) {
    auto params = match(r.pattern, path);
    if (!params) continue;
    if (r.method == req.method())
      return r.h(std::move(req), *params, measured(std::move(respond), method, r.pattern));
    if (!allow.empty()) allow += ", ";
    allow += std::string{http::to_string(r.method)};
  }
  respond = measured(std::move(respond), method, "unmatched");
  if (allow.empty()) return respond(failure(http::status::not_found, "no such resource", req));
  auto res = failure(http::status::method_not_allowed,
                     "method " + std::string{req.method_string()} + " is not allowed here", req);
  res.set(http::field::allow, allow);
  respond(std::move(res));
}

} // namespace candle::net
