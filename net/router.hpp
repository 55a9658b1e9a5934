// Routes requests by method and path pattern ("/api/v1/users/{id}") to
// handlers. Unknown paths get 404, a known path with another method 405 with
// an Allow header, both in the contract's error envelope.
#pragma once

#include "core/percent.hpp"
#include "net/http_server.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace candle::net {

using candle::percent_decode; // core/percent.hpp

using path_params = std::map<std::string, std::string, std::less<>>;
using route_handler = std::function<void(request&&, const path_params&, responder)>;

class router {
public:
  void add(http::verb method, std::string pattern, route_handler h);

  /// Every (method, pattern) added, in order (for the OpenAPI check).
  std::vector<std::pair<http::verb, std::string>> routes() const {
    std::vector<std::pair<http::verb, std::string>> out;
    for (const auto& r : routes_)
      out.emplace_back(r.method, r.pattern);
    return out;
  }

  /// Dispatches one request; suitable as the server's handler.
  void operator()(request&& req, responder respond) const;

  /// Matches `path` (no query string) against `pattern`; captures `{name}`
  /// segments. Empty segments never match a capture.
  static std::optional<path_params> match(std::string_view pattern, std::string_view path);

private:
  struct route {
    http::verb method;
    std::string pattern;
    route_handler h;
  };
  std::vector<route> routes_;
};

} // namespace candle::net
