#include "rest/user_api.hpp"

#include "core/occurrence.hpp"
#include "net/router.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <cmath>
#include <set>

namespace candle::api {

namespace json = boost::json;

namespace {

constexpr size_t max_depth = 32;

// A SAX handler that only looks for duplicate keys (Boost.JSON keeps the
// last of duplicates silently; a request that says two things is refused).
struct duplicate_finder {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::vector<std::set<std::string>> objects; // keys seen, per open object
  std::vector<bool> is_object;                // per open container
  std::string key;
  std::string duplicate;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) {
    is_object.push_back(false);
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    is_object.pop_back();
    return true;
  }
  bool on_object_begin(json::error_code&) {
    is_object.push_back(true);
    objects.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    is_object.pop_back();
    objects.pop_back();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key.append(s.data(), s.size());
    if (!objects.back().insert(key).second) {
      duplicate = key;
      ec = json::make_error_code(json::error::syntax);
      return false;
    }
    key.clear();
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

field_errors body_error(std::string message) {
  return {{"body", std::move(message)}};
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    n += (c & 0xC0) != 0x80;
  return n;
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool email_local_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view{"!#$%&'*+/=?^_`{|}~.-"}.find(c) != std::string_view::npos;
}

} // namespace

bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

std::string_view view(const json::string& s) {
  return {s.data(), s.size()};
}

std::variant<json::value, field_errors> parse_json(std::string_view body) {
  if (trim(body).empty()) return body_error("a JSON body is required");
  json::parse_options opts;
  opts.max_depth = max_depth;
  json::error_code ec;
  {
    json::basic_parser<duplicate_finder> p{opts};
    p.write_some(false, body.data(), body.size(), ec);
    if (!p.handler().duplicate.empty())
      return body_error("duplicate key \"" + p.handler().duplicate + "\"");
  }
  if (ec) return body_error("malformed JSON: " + ec.message());
  auto v = json::parse(json::string_view{body.data(), body.size()}, ec, {}, opts);
  if (ec) return body_error("malformed JSON: " + ec.message());
  return v;
}

std::variant<json::object, field_errors> parse_object(std::string_view body) {
  if (trim(body).empty()) return body_error("a JSON object is required");
  auto parsed = parse_json(body);
  if (auto* errors = std::get_if<field_errors>(&parsed)) return std::move(*errors);
  auto& v = std::get<json::value>(parsed);
  if (!v.is_object()) return body_error("must be a JSON object");
  return std::move(v.as_object());
}

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && space(s.back()))
    s.remove_suffix(1);
  return s;
}

std::string check_name(std::string_view s) {
  auto n = utf8_length(s);
  if (n == 0) return "must not be empty";
  if (n > 100) return "must be at most 100 characters";
  if (has_control(s)) return "must not contain control characters";
  return {};
}

std::string check_email(std::string_view s) {
  if (s.empty()) return "must not be empty";
  if (s.size() > 255) return "must be at most 255 characters";
  auto at = s.find('@');
  if (at == std::string_view::npos || s.find('@', at + 1) != std::string_view::npos)
    return "must be a valid email address";
  auto local = s.substr(0, at);
  auto domain = s.substr(at + 1);
  bool ok = !local.empty() && local.size() <= 64 && local.front() != '.' && local.back() != '.' &&
            local.find("..") == std::string_view::npos;
  for (char c : local)
    ok = ok && email_local_char(c);
  // Domain: two or more labels of letters, digits and inner hyphens.
  size_t labels = 0;
  std::string_view rest = domain;
  while (ok) {
    auto dot = rest.find('.');
    auto label = rest.substr(0, dot);
    ok = !label.empty() && label.size() <= 63 && label.front() != '-' && label.back() != '-';
    for (char c : label)
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-');
    ++labels;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (!ok || labels < 2) return "must be a valid email address";
  return {};
}

std::string check_date(std::string_view s, sys_millis now) {
  auto d = parse_date(s);
  if (!d) return "must be a real calendar date in the form YYYY-MM-DD";
  if (d->year() < date::year{1800}) return "must be 1800-01-01 or later";
  // Not in the future anywhere: today's date is latest at UTC+14.
  auto latest_today = date::year_month_day{date::floor<date::days>(now + std::chrono::hours{14})};
  if (*d > latest_today) return "must not be in the future";
  return {};
}

std::variant<user_input, field_errors> read_user(const json::object& body, bool creating,
                                                 sys_millis now) {
  user_input in;
  field_errors errors;
  auto fail = [&](std::string_view field, std::string message) {
    errors.push_back({std::string{field}, std::move(message)});
  };
  for (const auto& [k, v] : body) {
    std::string_view key{k.data(), k.size()};
    if (key == "id" || key == "createdAt" || key == "updatedAt" || key == "deletedAt")
      continue; // server-owned: accepted and ignored, so a read object can be written back
    bool required = key == "firstName" || key == "lastName" || key == "email" || key == "timezone";
    bool optional = key == "birthdayDate" || key == "anniversaryDate" || key == "locationCity" ||
                    key == "locationCountry";
    if (!required && !optional) {
      fail(key, "unknown field");
      continue;
    }
    if (v.is_null() && optional) {
      std::optional<std::string>* slot = key == "birthdayDate"      ? &in.birthday_date
                                         : key == "anniversaryDate" ? &in.anniversary_date
                                         : key == "locationCity"    ? &in.location_city
                                                                    : &in.location_country;
      *slot = std::string{};
      continue;
    }
    if (!v.is_string()) {
      fail(key, v.is_null() ? "is required" : "must be a string");
      continue;
    }
    auto text = trim(view(v.as_string()));
    if (key == "firstName" || key == "lastName") {
      if (auto p = check_name(text); !p.empty())
        fail(key, p);
      else
        (key == "firstName" ? in.first_name : in.last_name) = std::string{text};
    } else if (key == "email") {
      auto e = lower(text);
      if (auto p = check_email(e); !p.empty())
        fail(key, p);
      else
        in.email = std::move(e);
    } else if (key == "timezone") {
      if (text.empty() || text.size() > 64 || has_control(text) || !find_zone(text))
        fail(key, "must be an IANA time zone name such as Europe/Paris");
      else
        in.timezone = std::string{text};
    } else if (key == "birthdayDate" || key == "anniversaryDate") {
      if (auto p = check_date(text, now); !p.empty())
        fail(key, p);
      else
        (key == "birthdayDate" ? in.birthday_date : in.anniversary_date) = std::string{text};
    } else { // locationCity, locationCountry
      auto& slot = key == "locationCity" ? in.location_city : in.location_country;
      if (utf8_length(text) > 100)
        fail(key, "must be at most 100 characters");
      else if (has_control(text))
        fail(key, "must not contain control characters");
      else
        slot = std::string{text};
    }
  }
  if (creating) {
    auto need = [&](const char* field, const std::optional<std::string>& slot) {
      bool reported = false;
      for (const auto& e : errors)
        reported = reported || e.field == field;
      if (!slot && !reported) fail(field, "is required");
    };
    need("firstName", in.first_name);
    need("lastName", in.last_name);
    need("email", in.email);
    need("timezone", in.timezone);
  }
  if (!errors.empty()) return errors;
  return in;
}

user apply(user base, const user_input& in) {
  auto set = [](std::string& field, const std::optional<std::string>& v) {
    if (v) field = *v;
  };
  set(base.first_name, in.first_name);
  set(base.last_name, in.last_name);
  set(base.email, in.email);
  set(base.timezone, in.timezone);
  set(base.birthday_date, in.birthday_date);
  set(base.anniversary_date, in.anniversary_date);
  set(base.location_city, in.location_city);
  set(base.location_country, in.location_country);
  return base;
}

std::map<std::string, std::string, std::less<>> parse_query(std::string_view target) {
  std::map<std::string, std::string, std::less<>> out;
  auto q = target.find('?');
  if (q == std::string_view::npos) return out;
  auto rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      out[net::percent_decode(pair.substr(0, eq), true)] =
          eq == std::string_view::npos ? std::string{}
                                       : net::percent_decode(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out;
}

std::optional<size_t> read_limit(const std::map<std::string, std::string, std::less<>>& q,
                                 size_t fallback, size_t max, std::string& problem) {
  auto it = q.find("limit");
  if (it == q.end() || it->second.empty()) return fallback; // "?limit=" as templates send it
  const auto& s = it->second;
  size_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || n < 1 || n > max) {
    problem = "must be an integer from 1 to " + std::to_string(max);
    return std::nullopt;
  }
  return n;
}

} // namespace candle::api
