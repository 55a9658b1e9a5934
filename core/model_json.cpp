#include "core/model_json.hpp"

#include "core/time.hpp"

#include <chrono>
#include <cmath>

namespace candle::model {

namespace json = boost::json;

json::value opt(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

json::value instant(int64_t ms) {
  return ms == 0 ? json::value(nullptr)
                 : json::value(format_instant(sys_millis{std::chrono::milliseconds{ms}}));
}

json::value number(double v) {
  return v == std::floor(v) && std::fabs(v) < 1e15 ? json::value(static_cast<int64_t>(v))
                                                   : json::value(v);
}

json::object user_json(const user& u) {
  return {{"id", u.id},
          {"firstName", u.first_name},
          {"lastName", u.last_name},
          {"email", u.email},
          {"timezone", u.timezone},
          {"birthdayDate", opt(u.birthday_date)},
          {"anniversaryDate", opt(u.anniversary_date)},
          {"locationCity", opt(u.location_city)},
          {"locationCountry", opt(u.location_country)},
          {"createdAt", instant(u.created_at)},
          {"updatedAt", instant(u.updated_at)},
          {"deletedAt", instant(u.deleted_at)}};
}

json::object record_json(const send_record& r) {
  return {{"key", r.key},
          {"userId", r.user_id},
          {"occasion", r.occasion},
          {"year", r.year},
          {"dueAt", instant(r.due_at)},
          {"status", r.status},
          {"attempts", r.attempts},
          {"lastError", opt(r.last_error)},
          {"sentAt", instant(r.sent_at)},
          {"nextAttemptAt", instant(r.next_attempt_at)},
          {"delivery", opt(r.delivery)},
          {"claimedBy", opt(r.claimed_by)},
          {"claimedAt", instant(r.claimed_at)}};
}

json::object event_json(const delivery_event& e) {
  return {{"id", e.id},          {"type", e.type},          {"key", e.key},
          {"at", instant(e.at)}, {"reason", opt(e.reason)}, {"receivedAt", instant(e.received_at)}};
}

json::object suppression_json(const suppression& s) {
  return {{"email", s.email},
          {"reason", s.reason},
          {"type", s.type},
          {"key", s.key},
          {"at", instant(s.at)}};
}

} // namespace candle::model
