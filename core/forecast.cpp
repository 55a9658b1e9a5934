#include "core/forecast.hpp"

#include <algorithm>
#include <map>

namespace candle {

using std::chrono::duration_cast;
using std::chrono::floor;

std::vector<int> forecast_days(sys_seconds now, int span) {
  // Zones run from 12 h behind UTC to 14 h ahead: the local days of
  // [now, end) lie within these (a little wider on one side; harmless).
  auto first = floor<date::days>(now - std::chrono::hours{14});
  auto last = floor<date::days>(now + std::chrono::hours{span} + std::chrono::hours{14});
  std::vector<int> out;
  bool feb29_moved = false;
  for (auto d = first; d <= last; d += date::days{1}) {
    date::year_month_day ymd{d};
    auto md = static_cast<int>(static_cast<unsigned>(ymd.month())) * 100 +
              static_cast<int>(static_cast<unsigned>(ymd.day()));
    out.push_back(md);
    if (!ymd.year().is_leap() && (md == 228 || md == 301)) feb29_moved = true;
  }
  if (feb29_moved) out.push_back(229);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

forecast_report forecast(const std::vector<forecast_group>& groups, const schedule_rules& rules,
                         sys_seconds now, int span) {
  forecast_report r;
  r.from = floor<std::chrono::hours>(now);
  r.per_hour.assign(static_cast<size_t>(std::max(0, span)), 0);
  auto end = r.from + std::chrono::hours{span};
  // instant -> zone -> count
  std::map<sys_seconds, std::map<std::string, int64_t>> at;
  auto year = static_cast<int>(date::year_month_day{floor<date::days>(now)}.year());
  auto years = {year - 1, year, year + 1};
  for (const auto& g : groups) {
    auto rule = std::find_if(rules.occasions.begin(), rules.occasions.end(),
                             [&](const auto& o) { return o.name == g.occasion; });
    if (rule == rules.occasions.end() || g.count <= 0) continue;
    auto zone = find_zone(g.zone);
    if (!zone) continue;
    date::month_day md{date::month{static_cast<unsigned>(g.md / 100)},
                       date::day{static_cast<unsigned>(g.md % 100)}};
    if (!md.ok()) continue;
    for (int y : years) {
      auto day = occasion_day(md, date::year{y}, rules.feb29);
      if (!day.ok()) continue;
      auto local = date::local_seconds{date::local_days{day}} + rule->send_at.since_midnight();
      auto instant = resolve_local(*zone, local).first;
      if (instant < now || instant >= end) continue;
      auto h = duration_cast<std::chrono::hours>(instant - r.from).count();
      r.per_hour[static_cast<size_t>(h)] += g.count;
      r.total += g.count;
      at[instant][g.zone] += g.count;
    }
  }
  for (const auto& [instant, zones] : at) {
    int64_t n = 0;
    for (const auto& z : zones)
      n += z.second;
    if (n > r.peak_count) {
      r.peak_count = n;
      r.peak_at = instant;
      r.peak_zone.clear();
      r.peak_zone_count = 0;
      for (const auto& [zone, c] : zones)
        if (c > r.peak_zone_count) {
          r.peak_zone = zone;
          r.peak_zone_count = c;
        }
    }
  }
  return r;
}

} // namespace candle
