#include "rest/event_api.hpp"

#include "core/delivery_state.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"

namespace candle::api {

namespace json = boost::json;

namespace {

// One event object; problems are appended with `prefix` ("" or "[3].").
void read_event(const json::value& v, const std::string& prefix, std::vector<delivery_event>& out,
                field_errors& problems) {
  if (!v.is_object()) {
    problems.push_back(
        {prefix.empty() ? "body" : prefix.substr(0, prefix.size() - 1), "must be an event object"});
    return;
  }
  const auto& o = v.as_object();
  delivery_event e;
  auto before = problems.size();
  auto text = [&](const char* name, bool required, size_t max, std::string& into) {
    auto it = o.find(name);
    if (it == o.end() || (!required && it->value().is_null())) {
      if (required) problems.push_back({prefix + name, "is required"});
      return false;
    }
    if (!it->value().is_string()) {
      problems.push_back({prefix + name, "must be a string"});
      return false;
    }
    auto s = view(it->value().as_string());
    if (required && s.empty()) {
      problems.push_back({prefix + name, "must not be empty"});
      return false;
    }
    if (s.size() > max) {
      problems.push_back({prefix + name, "must be at most " + std::to_string(max) + " characters"});
      return false;
    }
    if (has_control(s)) {
      problems.push_back({prefix + name, "must not contain control characters"});
      return false;
    }
    into.assign(s);
    return true;
  };
  text("id", true, 200, e.id);
  if (text("type", true, 20, e.type) && !delivery::event_type(e.type))
    problems.push_back(
        {prefix + "type", "must be one of deferred, delivered, bounced, complained"});
  if (text("key", true, 200, e.key) && !is_greeting_key(e.key))
    problems.push_back({prefix + "key", "must be a greeting key {userId}:{occasion}:{year}"});
  std::string at;
  if (text("at", true, 40, at)) {
    auto t = parse_instant(at);
    if (!t)
      problems.push_back({prefix + "at", t.err().message});
    else
      e.at = t->time_since_epoch().count();
  }
  text("reason", false, 1000, e.reason);
  if (problems.size() == before) out.push_back(std::move(e));
}

} // namespace

bool is_greeting_key(std::string_view key) {
  auto first = key.find(':');
  auto last = key.rfind(':');
  if (first == std::string_view::npos || first == last) return false;
  if (!is_uuid(std::string{key.substr(0, first)})) return false;
  auto occasion = key.substr(first + 1, last - first - 1);
  if (occasion.empty() || occasion.size() > 50) return false;
  for (char c : occasion)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  auto year = key.substr(last + 1);
  if (year.size() != 4) return false;
  for (char c : year)
    if (c < '0' || c > '9') return false;
  return true;
}

std::variant<std::vector<delivery_event>, field_errors> read_events(std::string_view body) {
  auto parsed = parse_json(body);
  if (auto* errors = std::get_if<field_errors>(&parsed)) return std::move(*errors);
  const auto& v = std::get<json::value>(parsed);
  std::vector<delivery_event> out;
  field_errors problems;
  if (v.is_array()) {
    const auto& a = v.as_array();
    if (a.size() > max_events)
      return field_errors{
          {"body", "at most " + std::to_string(max_events) + " events per request"}};
    for (size_t i = 0; i < a.size(); ++i)
      read_event(a[i], "[" + std::to_string(i) + "].", out, problems);
  } else if (v.is_object()) {
    read_event(v, "", out, problems);
  } else {
    problems.push_back({"body", "must be an event object or an array of them"});
  }
  if (!problems.empty()) return problems;
  return out;
}

} // namespace candle::api
