// Asking actors from the HTTP threads without blocking them: each call
// spawns a short-lived actor that sends one request and hands the reply (or
// the error) to a callback, on a CAF worker. The REST bridge is built on it.
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>

namespace candle {

template <class R, class Handle, class... Ts>
void ask_async(caf::actor_system& sys, Handle h, std::chrono::milliseconds timeout,
               std::function<void(R&)> on_value, std::function<void(caf::error&)> on_error,
               Ts... xs) {
  // The unused argument works around CAF 0.17.6: spawning a function actor
  // with no arguments dereferences a null shared_ptr<tuple<>> (UBSan).
  sys.spawn(
      [=](caf::event_based_actor* self, int) {
        self->request(h, timeout, xs...)
            .then([=](R& r) { on_value(r); }, [=](caf::error& e) { on_error(e); });
      },
      0);
}

/// Runs `f(self)` in a fresh short-lived event-based actor, for request
/// chains started from the HTTP threads.
template <class F> void run_async(caf::actor_system& sys, F f) {
  sys.spawn([f = std::move(f)](caf::event_based_actor* self, int) mutable { f(self); }, 0);
}

} // namespace candle
