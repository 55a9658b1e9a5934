// libFuzzer: a webhook request (three header lines, then the body) through
// the signature check and the event reader. Properties: the headers given
// never verify unless they are the body's real signature; the body signed
// properly always verifies and never once a byte changes; a refused body
// names a field; accepted events render and read back the same.
#include "core/delivery_state.hpp"
#include "core/webhook.hpp"
#include "rest/event_api.hpp"

#include <cstdlib>

using namespace candle;

namespace {

std::string_view line(std::string_view& in) {
  auto nl = in.find('\n');
  auto out = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> keys = *webhook::parse_secrets(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_AAAAAAAAAAAAAAAAAAAAAAAA");
  constexpr int64_t now = 1614265330;
  std::string_view in{reinterpret_cast<const char*>(data), size};
  auto id = line(in), ts = line(in), sig = line(in);
  auto body = in;
  auto v = webhook::verify(keys, id, ts, sig, body, now);
  if (v == webhook::verdict::ok) {
    // Only if one of the listed signatures is the real one.
    bool real = false;
    for (const auto& k : keys)
      real |= sig.find(webhook::sign(k, id, std::stoll(std::string{ts}), body).substr(3)) !=
              std::string_view::npos;
    if (!real) std::abort();
  }
  auto good = webhook::sign(keys[1], "msg", now, body);
  if (webhook::verify(keys, "msg", std::to_string(now), good, body, now) != webhook::verdict::ok)
    std::abort();
  if (!body.empty()) {
    std::string changed{body};
    changed[changed.size() / 2] ^= 1;
    if (webhook::verify(keys, "msg", std::to_string(now), good, changed, now) ==
        webhook::verdict::ok)
      std::abort();
  }
  auto parsed = api::read_events(body);
  if (auto* problems = std::get_if<api::field_errors>(&parsed)) {
    if (problems->empty()) std::abort();
    return 0;
  }
  const auto& events = std::get<std::vector<delivery_event>>(parsed);
  if (events.size() > api::max_events) std::abort();
  boost::json::array again;
  for (const auto& e : events) {
    if (!delivery::event_type(e.type) || !api::is_greeting_key(e.key) || e.id.empty()) std::abort();
    auto j = api::event_json(e);
    j.erase("receivedAt");
    again.push_back(std::move(j));
  }
  auto back = api::read_events(boost::json::serialize(again));
  const auto* same = std::get_if<std::vector<delivery_event>>(&back);
  if (!same || same->size() != events.size()) std::abort();
  for (size_t i = 0; i < events.size(); ++i)
    if ((*same)[i].id != events[i].id || (*same)[i].at != events[i].at ||
        (*same)[i].reason != events[i].reason || (*same)[i].key != events[i].key)
      std::abort();
  return 0;
}
