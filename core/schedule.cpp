#include "core/schedule.hpp"

#include "core/occasion.hpp"

#include <algorithm>
#include <cmath>

namespace candle {

using namespace std::chrono;

schedule_rules default_rules() {
  schedule_rules r;
  for (const auto& o : builtin_occasions())
    r.occasions.push_back({o.name, o.send_at});
  return r;
}

const std::string& occasion_date(const user& u, const std::string& occasion) {
  static const std::string none;
  if (occasion == "birthday") return u.birthday_date;
  if (occasion == "anniversary") return u.anniversary_date;
  return none;
}

std::vector<occurrence> occurrences_in(const user& u, const schedule_rules& rules, int64_t from,
                                       int64_t to) {
  std::vector<occurrence> out;
  auto zone = find_zone(u.timezone);
  if (!zone || to <= from) return out;
  auto year_of = [](int64_t ms) {
    return static_cast<int>(
        date::year_month_day{date::floor<date::days>(sys_millis{milliseconds{ms}})}.year());
  };
  auto created = sys_millis{milliseconds{u.created_at}};
  for (const auto& occ : rules.occasions) {
    const auto* def = find_occasion(occ.name);
    auto day = parse_date(occasion_date(u, occ.name));
    if (def == nullptr || !day) continue;
    occasion_rule rule{*day, *zone, occ.send_at, rules.feb29};
    // Local years lie within a day of UTC years: one extra on each side.
    for (int y = year_of(from) - 1; y <= year_of(to) + 1; ++y) {
      auto d = due_in_year(rule, y);
      if (!d) continue;
      auto due_ms = duration_cast<milliseconds>(d->instant.time_since_epoch()).count();
      if (due_ms < from || due_ms >= to || !eligible(created, d->instant)) continue;
      occurrence o;
      o.user_id = u.id;
      o.occasion = occ.name;
      o.year = y;
      o.key = idempotency_key(u.id, occ.name, y);
      o.due_at = due_ms;
      o.partition = u.partition;
      o.email = u.email;
      o.version = u.updated_at;
      o.message = def->message.render({u.first_name, u.last_name});
      o.first_name = u.first_name;
      o.last_name = u.last_name;
      out.push_back(std::move(o));
    }
  }
  return out;
}

int64_t retry_delay_ms(int attempts_made, double u01) {
  constexpr int64_t base = 1'000, cap = 3'600'000;
  int shift = std::clamp(attempts_made - 1, 0, 30);
  int64_t d = std::min<int64_t>(cap, base << std::min(shift, 22));
  u01 = std::clamp(u01, 0.0, 1.0);
  return d / 2 + static_cast<int64_t>(std::floor(u01 * static_cast<double>(d - d / 2)));
}

} // namespace candle
