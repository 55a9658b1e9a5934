// The OpenAPI document (docs/openapi.json) names exactly the routes the node
// serves: every documented path and method exists, every route is documented.
#include "node/openapi.hpp"
#include "node/routes.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <set>

using namespace candle;

TEST(OpenApi, DocumentMatchesTheRoutes) {
  node_context ctx; // handlers are not called: only the table is read
  auto r = make_routes(ctx);
  std::set<std::string> served;
  for (const auto& [verb, pattern] : r.routes()) {
    std::string m{net::http::to_string(verb)};
    for (auto& c : m)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    served.insert(m + " " + pattern);
  }
  auto doc = boost::json::parse(openapi_json()).as_object();
  EXPECT_EQ(std::string(doc.at("openapi").as_string()).substr(0, 2), "3.");
  std::set<std::string> documented;
  for (const auto& [path, item] : doc.at("paths").as_object())
    for (const auto& [method, op] : item.as_object()) {
      documented.insert(std::string{method} + " " + std::string{path});
      EXPECT_TRUE(op.as_object().contains("responses")) << method << " " << path;
    }
  EXPECT_EQ(served, documented);
}
