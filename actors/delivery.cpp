#include "actors/delivery.hpp"

#include "core/metrics.hpp"
#include "net/provider_client.hpp"

#include <spdlog/spdlog.h>

namespace candle {

namespace {

struct worker_state {
  static constexpr const char* name = "delivery-worker";
  std::unique_ptr<net::provider_client> client;
};

delivery_actor::behavior_type worker(delivery_actor::stateful_pointer<worker_state> self,
                                     delivery_options opts) {
  self->state.client = std::make_unique<net::provider_client>(opts.url, opts.timeout);
  return {
      [self](atom::send, occurrence_list& batch) {
        attempt_list out;
        out.reserve(batch.size());
        auto& m = metrics::global();
        for (const auto& o : batch) {
          m.provider_in_flight.add({}, 1);
          auto start = std::chrono::steady_clock::now();
          auto a = self->state.client->post(o.key, o.email, o.message);
          m.provider_in_flight.add({}, -1);
          m.provider_duration.observe(
              {a.result == net::provider_answer::sent        ? "sent"
               : a.result == net::provider_answer::permanent ? "permanent"
                                                             : "transient"},
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          attempt r;
          r.key = o.key;
          r.result = a.result == net::provider_answer::sent        ? attempt::sent
                     : a.result == net::provider_answer::permanent ? attempt::permanent
                                                                   : attempt::transient;
          r.error = std::move(a.error);
          r.retry_after_ms = a.retry_after_ms;
          if (r.result != attempt::sent)
            spdlog::debug("event=delivery.failed key={} error=\"{}\"", o.key, r.error);
          out.push_back(std::move(r));
        }
        return out;
      },
  };
}

struct front_state {
  static constexpr const char* name = "delivery";
  std::vector<delivery_actor> workers;
  size_t next = 0;
};

delivery_actor::behavior_type front(delivery_actor::stateful_pointer<front_state> self,
                                    delivery_options opts) {
  for (size_t i = 0; i < std::max<size_t>(1, opts.workers); ++i) {
    auto w = self->spawn<caf::detached>(worker, opts);
    self->link_to(w);
    self->state.workers.push_back(w);
  }
  return {
      // Fan the batch out over the workers (chunks of at least 8), join the
      // answers in the batch's order.
      [self](atom::send a, occurrence_list& batch) -> caf::result<attempt_list> {
        auto& st = self->state;
        auto n = batch.size();
        auto chunks = std::max<size_t>(1, std::min(st.workers.size(), (n + 7) / 8));
        if (chunks == 1) {
          auto& w = st.workers[st.next++ % st.workers.size()];
          return self->delegate(w, a, std::move(batch));
        }
        auto rp = self->make_response_promise<attempt_list>();
        auto results = std::make_shared<std::vector<attempt_list>>(chunks);
        auto pending = std::make_shared<size_t>(chunks);
        size_t per = (n + chunks - 1) / chunks;
        for (size_t c = 0; c < chunks; ++c) {
          occurrence_list part(batch.begin() + std::min(n, c * per),
                               batch.begin() + std::min(n, (c + 1) * per));
          auto& w = st.workers[st.next++ % st.workers.size()];
          self->request(w, caf::infinite, a, std::move(part))
              .then(
                  [rp, results, pending, c](attempt_list& r) mutable {
                    (*results)[c] = std::move(r);
                    if (--*pending == 0) {
                      attempt_list all;
                      for (auto& part : *results)
                        std::move(part.begin(), part.end(), std::back_inserter(all));
                      rp.deliver(std::move(all));
                    }
                  },
                  [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
        }
        return rp;
      },
  };
}

} // namespace

delivery_actor spawn_delivery(caf::actor_system& sys, delivery_options opts) {
  return sys.spawn(front, std::move(opts));
}

} // namespace candle
