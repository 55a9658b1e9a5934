#include "core/occurrence.hpp"

#include <stdexcept>

namespace candle {

result<feb29_policy> parse_feb29_policy(std::string_view text) {
  if (text == "feb28") return feb29_policy::feb28;
  if (text == "mar1") return feb29_policy::mar1;
  return error{errc::invalid_argument,
               "'" + std::string{text} + "' is not a 29 Feb policy (feb28 or mar1)"};
}

std::string_view to_string(feb29_policy p) {
  return p == feb29_policy::feb28 ? "feb28" : "mar1";
}

result<const date::time_zone*> find_zone(std::string_view name) {
  auto unknown = [&] {
    return error{errc::unknown_zone, "'" + std::string{name} + "' is not an IANA time zone"};
  };
  // The OS database also lists "localtime" (a link to /etc/localtime): it is
  // machine-dependent and not an IANA name.
  if (name.empty() || name == "localtime") return unknown();
  try {
    return date::locate_zone(name);
  } catch (const std::runtime_error&) {
    return unknown();
  }
}

date::year_month_day occasion_day(date::month_day md, date::year y, feb29_policy p) {
  if (md.month() == date::February && md.day() == date::day{29} && !y.is_leap())
    return p == feb29_policy::feb28 ? y / date::February / 28 : y / date::March / 1;
  return y / md.month() / md.day();
}

std::pair<sys_seconds, local_fit> resolve_local(const date::time_zone* zone,
                                                date::local_seconds local) {
  auto info = zone->get_info(local);
  // `first` is the period before the transition. Reading a gap time with the
  // earlier offset moves it forward by exactly the gap's length; reading an
  // overlap time with it yields the earlier of its two instants.
  auto first = sys_seconds{local.time_since_epoch()} - info.first.offset;
  switch (info.result) {
  case date::local_info::nonexistent:
    return {first, local_fit::gap};
  case date::local_info::ambiguous:
    return {first, local_fit::overlap};
  default:
    return {first, local_fit::exact};
  }
}

result<due> due_in_year(const occasion_rule& rule, int y) {
  if (!rule.date.ok())
    return error{errc::invalid_date, "the occasion date is not a real calendar date"};
  if (rule.zone == nullptr) return error{errc::unknown_zone, "no time zone"};
  if (y <= static_cast<int>(rule.date.year()))
    return error{errc::out_of_range, "no occurrence in or before the date's own year"};
  if (y > 9999) return error{errc::out_of_range, "year beyond 9999"};
  auto day = occasion_day(rule.date.month() / rule.date.day(), date::year{y}, rule.feb29);
  auto local = date::local_days{day} + rule.send_at.since_midnight();
  auto [instant, fit] = resolve_local(rule.zone, date::local_seconds{local});
  return due{y, instant, fit};
}

result<due> next_due_after(const occasion_rule& rule, sys_seconds after) {
  // A local day is never more than about a day and a half from the UTC day of
  // the same date, so the answer lies in the UTC year of `after` or the next;
  // start one year earlier to cover zones ahead of UTC around New Year.
  auto utc_year = static_cast<int>(date::year_month_day{date::floor<date::days>(after)}.year());
  int y = std::max(utc_year - 1, static_cast<int>(rule.date.year()) + 1);
  for (int i = 0; i < 4; ++i, ++y) {
    auto d = due_in_year(rule, y);
    if (!d) return d.err();
    if (d->instant > after) return d;
  }
  return error{errc::out_of_range, "no occurrence found after the given instant"};
}

std::string idempotency_key(std::string_view user_id, std::string_view occasion, int year) {
  std::string key;
  key.reserve(user_id.size() + occasion.size() + 8);
  key.append(user_id).append(1, ':').append(occasion).append(1, ':').append(std::to_string(year));
  return key;
}

} // namespace candle
