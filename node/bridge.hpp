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
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(h, timeout, xs...)
        .then([=](R& r) { on_value(r); }, [=](caf::error& e) { on_error(e); });
  });
}

} // namespace candle
