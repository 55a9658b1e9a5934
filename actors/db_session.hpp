// One database connection as the persistence workers and the EVENTS actor
// use it: a store (persistence/store.hpp) and the loop that runs an
// operation on it until it succeeds, fails for a reason that is not the
// connection, or the database has been unreachable for `retry_for`.
#pragma once

#include "actors/actors.hpp"
#include "actors/persistence.hpp"
#include "core/result.hpp"
#include "persistence/store.hpp"

#include <functional>
#include <memory>
#include <optional>

namespace candle {

struct db_session {
  std::unique_ptr<pg::store> db;
  persistence_options opts;

  /// Runs `f(store, lost)` until it succeeds, the error is not about the
  /// connection, or retry_for has passed. `lost` tells `f` that an earlier
  /// try may have committed without our knowing, so it must reconcile.
  template <class F> auto attempt(const char* what, F f) -> caf::expected<decltype(f(*db, false))> {
    std::optional<decltype(f(*db, false))> out;
    if (auto e = run(what, [&](pg::store& s, bool lost) { out.emplace(f(s, lost)); })) return e;
    return std::move(*out);
  }

private:
  caf::error run(const char* what, const std::function<void(pg::store&, bool)>& f);
};

/// An attempt's answer: the value, or the error that ended the attempt.
template <class T> caf::result<T> finish(caf::expected<T>&& x) {
  if (x) return std::move(*x);
  return std::move(x.error());
}

/// The same for domain results: their error goes on as a CAF error.
template <class T> caf::result<T> finish(caf::expected<result<T>>&& x) {
  if (!x) return std::move(x.error());
  if (*x) return std::move(*x).value();
  return make_error(x->err().code, x->err().message);
}

} // namespace candle
