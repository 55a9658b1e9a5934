// Candle's domain values as plain structs: what the store reads and writes,
// what actors exchange, what the REST bridge renders. Instants are
// milliseconds since the Unix epoch (UTC); 0 means "none". Optional text
// fields use the empty string for "none" (CAF 0.17 cannot serialise
// std::optional).
#pragma once

#include <cstdint>
#include <string>

namespace candle {

struct user {
  std::string id; ///< UUID, made by the server
  std::string first_name;
  std::string last_name;
  std::string email; ///< stored lower-case
  std::string timezone;
  std::string birthday_date;    ///< YYYY-MM-DD or ""
  std::string anniversary_date; ///< YYYY-MM-DD or ""
  std::string location_city;
  std::string location_country;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t deleted_at = 0;
  int32_t partition = 0;
};

/// One greeting that is, or will be, due: enough to claim and to send it.
struct occurrence {
  std::string key; ///< {user_id}:{occasion}:{year}
  std::string user_id{};
  std::string occasion;
  int32_t year = 0;
  int64_t due_at = 0;
  int32_t partition = 0;
  std::string email;
  std::string message;
  /// The user's name when it was computed: the SMTP transport's To display
  /// name and Subject (core/mail.hpp).
  std::string first_name, last_name;
  int32_t attempts = 0;        ///< attempts already made (resumed records)
  int64_t next_attempt_at = 0; ///< when a resumed retry is due
  /// The user's updated_at this occurrence was computed from (0 = not
  /// known): a claim is refused once the user row has moved past it.
  int64_t version = 0;
  /// The epoch of the record that holds it (records found by a sweep), 0 else.
  int64_t owner_epoch = 0;
};

/// Send record states (contract.md, "Send record fields").
namespace status {
inline constexpr const char* claimed = "claimed";
inline constexpr const char* sent = "sent";
inline constexpr const char* retrying = "retrying";
inline constexpr const char* dead = "dead";
inline constexpr const char* expired = "expired";
inline constexpr const char* cancelled = "cancelled";
/// Not sent: the address is suppressed (a hard bounce or complaint).
inline constexpr const char* suppressed = "suppressed";
} // namespace status

/// A row of send_records, as the API shows it.
struct send_record {
  std::string key;
  std::string user_id{};
  std::string occasion;
  int32_t year = 0;
  int64_t due_at = 0;
  std::string status;
  int32_t attempts = 0;
  std::string last_error;
  int64_t sent_at = 0;
  int64_t next_attempt_at = 0;
  int64_t owner_epoch = 0;
  int32_t partition = 0;
  std::string delivery;   ///< latest delivery state (core/delivery_state.hpp), "" before sent
  std::string claimed_by; ///< the node whose partition claimed it last
  int64_t claimed_at = 0;
};

/// A delivery event the provider reported (contract.md, "Delivery events").
struct delivery_event {
  std::string id;   ///< the provider's event id: stored once
  std::string type; ///< deferred | delivered | bounced | complained
  std::string key;  ///< the greeting's idempotency key
  int64_t at = 0;   ///< when it happened, per the provider
  std::string reason;
  int64_t received_at = 0; ///< when Candle stored it (PostgreSQL's clock)
};

/// An address Candle does not send to.
struct suppression {
  std::string email;
  std::string reason;
  std::string type; ///< the event type that suppressed it
  std::string key;  ///< the greeting whose event did
  int64_t at = 0;
};

/// The result of one delivery attempt, to be recorded.
struct outcome {
  std::string key;
  std::string status;          ///< sent | retrying | dead
  std::string error;           ///< for retrying and dead
  int64_t next_attempt_at = 0; ///< for retrying
  int64_t at = 0;              ///< engine-clock instant of the attempt
  /// A greeting checked and sent without a claim has no record yet: its
  /// outcome is its first and only row, written from these (user_id set).
  /// Empty for a claimed greeting, whose record the outcome updates.
  std::string user_id{};
  std::string occasion{};
  int32_t year = 0;
  int64_t due_at = 0;
  std::string email{};
};

} // namespace candle
