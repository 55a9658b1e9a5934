// A value-or-error return type for pure logic: failures are values, never
// exceptions escaping the core, so callers (REST validation, config checks,
// actors) decide how to report them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace candle {

/// Candle's one error code: pure logic returns it in a result, the actors
/// send it as a CAF error of category "candle" (actors.hpp: make_error), and
/// the REST API answers each with one HTTP status (rest/errors.hpp). The
/// numbers cross the cluster between nodes of different versions during a
/// rolling restart: never renumber, only append.
enum class errc : uint8_t {
  unavailable = 1,  ///< a dependency (the database) cannot be reached now
  overloaded,       ///< a bounded queue is full: try again later
  not_found,        ///< no such user / record
  conflict,         ///< a state that forbids the change (e.g. redrive of a sent greeting)
  invalid,          ///< bad input that passed the edge's validation
  refused,          ///< a fenced write whose lease epoch is no longer current
  internal,         ///< a bug or an unexpected database error
  duplicate,        ///< violates a uniqueness rule (an email in use)
  invalid_argument, ///< malformed text (syntax)
  unknown_zone,     ///< not an IANA time zone name
  invalid_date,     ///< not a real calendar date
  invalid_time,     ///< not a valid wall-clock time of day
  out_of_range,     ///< well-formed but outside what the operation accepts
};

/// The code's name ("not_found"), as logs and CAF's rendering show it.
inline const char* to_string(errc x) {
  switch (x) {
  case errc::unavailable:
    return "unavailable";
  case errc::overloaded:
    return "overloaded";
  case errc::not_found:
    return "not_found";
  case errc::conflict:
    return "conflict";
  case errc::invalid:
    return "invalid";
  case errc::refused:
    return "refused";
  case errc::internal:
    return "internal";
  case errc::duplicate:
    return "duplicate";
  case errc::invalid_argument:
    return "invalid_argument";
  case errc::unknown_zone:
    return "unknown_zone";
  case errc::invalid_date:
    return "invalid_date";
  case errc::invalid_time:
    return "invalid_time";
  case errc::out_of_range:
    return "out_of_range";
  }
  return "unknown";
}

struct error {
  errc code;
  std::string message;
};

template <class T> class result {
public:
  result(T value) : v_(std::move(value)) {}
  result(error err) : v_(std::move(err)) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const error& err() const { return std::get<1>(v_); }

private:
  std::variant<T, error> v_;
};

} // namespace candle
