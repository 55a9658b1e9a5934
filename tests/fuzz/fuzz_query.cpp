// libFuzzer: request targets through query parsing, percent-decoding,
// `limit` reading and path matching.
#include "net/router.hpp"
#include "rest/user_api.hpp"

#include <cstdlib>

using namespace candle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view target{reinterpret_cast<const char*>(data), size};
  auto q = api::parse_query(target);
  std::string problem;
  auto limit = api::read_limit(q, 50, 1000, problem);
  if (limit && (*limit < 1 || *limit > 1000)) std::abort();
  if (!limit && problem.empty()) std::abort();
  (void)net::percent_decode(target, true);
  auto path = target.substr(0, target.find('?'));
  if (auto p = net::router::match("/api/v1/users/{id}/greetings", path))
    if (p->at("id").empty()) std::abort(); // empty segments never match a capture
  return 0;
}
