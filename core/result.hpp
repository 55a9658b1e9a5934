// A value-or-error return type for pure logic: failures are values, never
// exceptions escaping the core, so callers (REST validation, config checks,
// actors) decide how to report them.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace candle {

/// Why a pure computation failed. The REST bridge maps these to field errors.
enum class errc {
  invalid_argument, ///< malformed text (syntax)
  unknown_zone,     ///< not an IANA time zone name
  invalid_date,     ///< not a real calendar date
  invalid_time,     ///< not a valid wall-clock time of day
  out_of_range,     ///< well-formed but outside what the operation accepts
  not_found,        ///< no such user / record
  conflict,         ///< a state that forbids the change (e.g. redrive of a sent greeting)
  duplicate,        ///< violates a uniqueness rule (an email in use)
  unavailable,      ///< a dependency (the database) cannot be reached now
  refused,          ///< a fenced write whose lease epoch is no longer current
};

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
