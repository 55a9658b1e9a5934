// libFuzzer: a request body through the user codec and validator. A body
// that validates, applied and rendered as the API renders users, validates
// again when written back (contract.md: a read object can be written back).
#include "rest/user_api.hpp"

#include <cstdlib>

using namespace candle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  bool creating = data[0] & 1;
  std::string_view body{reinterpret_cast<const char*>(data + 1), size - 1};
  auto parsed = api::parse_object(body);
  if (auto* problems = std::get_if<api::field_errors>(&parsed)) {
    if (problems->empty()) std::abort(); // a refusal always names a field
    return 0;
  }
  auto now = *parse_instant("2027-07-15T12:00:00Z");
  auto in = api::read_user(std::get<boost::json::object>(parsed), creating, now);
  if (auto* problems = std::get_if<api::field_errors>(&in)) {
    if (problems->empty()) std::abort();
    return 0;
  }
  user base;
  base.id = "00000000-0000-4000-8000-000000000000";
  base.first_name = base.last_name = "Base";
  base.email = "base@example.com";
  base.timezone = "UTC";
  auto u = api::apply(base, std::get<api::user_input>(in));
  auto again = api::parse_object(boost::json::serialize(api::user_json(u)));
  if (!std::holds_alternative<boost::json::object>(again)) std::abort();
  auto back = api::read_user(std::get<boost::json::object>(again), true, now);
  if (!std::holds_alternative<api::user_input>(back)) std::abort();
  return 0;
}
