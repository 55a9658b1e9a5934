#include "core/time.hpp"

#include <cstdio>

namespace candle {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads exactly `n` digits at `pos`; false when any is not a digit.
bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!is_digit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

error syntax(std::string_view what, std::string_view text) {
  return {errc::invalid_argument, "'" + std::string{text} + "' is not " + std::string{what}};
}

} // namespace

result<time_of_day> parse_time_of_day(std::string_view text) {
  int h = 0, m = 0;
  if (text.size() != 5 || !digits(text, 0, 2, h) || text[2] != ':' || !digits(text, 3, 2, m))
    return syntax("a time of day in HH:MM form", text);
  if (h > 23 || m > 59)
    return error{errc::invalid_time, "'" + std::string{text} + "' is not a valid time of day"};
  return time_of_day{h, m};
}

std::string format_time_of_day(time_of_day t) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", t.hour % 100, t.minute % 100);
  return buf;
}

result<date::year_month_day> parse_date(std::string_view text) {
  int y = 0, m = 0, d = 0;
  if (text.size() != 10 || !digits(text, 0, 4, y) || text[4] != '-' || !digits(text, 5, 2, m) ||
      text[7] != '-' || !digits(text, 8, 2, d))
    return syntax("a date in YYYY-MM-DD form", text);
  date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(m)},
                           date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok())
    return error{errc::invalid_date, "'" + std::string{text} + "' is not a real calendar date"};
  return ymd;
}

std::string format_date(date::year_month_day d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()) % 10000,
                static_cast<unsigned>(d.month()) % 100, static_cast<unsigned>(d.day()) % 100);
  return buf;
}

result<sys_millis> parse_instant(std::string_view text) {
  auto bad = [&] { return syntax("an ISO-8601 instant such as 2026-03-01T09:00:00Z", text); };
  if (text.size() < 17 || (text[10] != 'T' && text[10] != 't')) return bad();
  auto day = parse_date(text.substr(0, 10));
  if (!day) return day.err().code == errc::invalid_date ? day.err() : bad();
  int hh = 0, mm = 0, ss = 0;
  if (!digits(text, 11, 2, hh) || text[13] != ':' || !digits(text, 14, 2, mm)) return bad();
  size_t pos = 16;
  std::chrono::milliseconds frac{0};
  if (pos < text.size() && text[pos] == ':') {
    if (!digits(text, pos + 1, 2, ss)) return bad();
    pos += 3;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      size_t start = pos;
      int ms = 0, scale = 100;
      while (pos < text.size() && is_digit(text[pos])) {
        ms += (text[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start) return bad();
      frac = std::chrono::milliseconds{ms};
    }
  }
  if (hh > 23 || mm > 59 || ss > 59)
    return error{errc::invalid_time, "'" + std::string{text} + "' has an invalid time of day"};
  std::chrono::minutes offset{0};
  if (pos == text.size())
    return bad(); // a zone designator is required: a bare local time is ambiguous
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int oh = 0, om = 0;
    if (!digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !digits(text, pos + 4, 2, om) || oh > 23 || om > 59)
      return bad();
    offset = std::chrono::hours{oh} + std::chrono::minutes{om};
    if (text[pos] == '-') offset = -offset;
    pos += 6;
  } else {
    return bad();
  }
  if (pos != text.size()) return bad();
  auto local = date::sys_days{*day} + std::chrono::hours{hh} + std::chrono::minutes{mm} +
               std::chrono::seconds{ss};
  return sys_millis{local - offset} + frac;
}

std::string format_instant(sys_millis t) {
  auto day = date::floor<date::days>(t);
  date::year_month_day ymd{day};
  date::hh_mm_ss<std::chrono::milliseconds> tod{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(tod.hours().count()),
                static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                static_cast<int>(tod.subseconds().count()));
  return buf;
}

} // namespace candle
