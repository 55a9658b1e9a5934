#include "actors/records_keeper.hpp"

#include "core/retention.hpp"
#include "persistence/store.hpp"

#include <spdlog/spdlog.h>

namespace candle {

namespace {

struct records_keeper_state {
  static constexpr const char* name = "records-keeper";
  records_keeper_options opts;
  std::unique_ptr<pg::store> db;
};

using keeper_pointer = records_keeper_actor::stateful_pointer<records_keeper_state>;

records_keeper_actor::behavior_type records_keeper(keeper_pointer self,
                                                   records_keeper_options opts) {
  self->state.opts = std::move(opts);
  self->send(self, atom::tick::value);
  return {
      [self](atom::tick) {
        auto& st = self->state;
        auto next = st.opts.every;
        try {
          if (!st.db) st.db = std::make_unique<pg::store>(st.opts.conninfo);
          auto years = record_years_at(st.opts.clock->now(std::chrono::steady_clock::now()),
                                       st.opts.keep_years);
          for (auto y = years.make_from; y <= years.make_to; ++y)
            st.db->ensure_record_year(y);
          st.db->drop_record_years_before(years.keep_from);
        } catch (const std::exception& e) {
          spdlog::warn("event=records.upkeep_failed error=\"{}\" retry_s={}", e.what(),
                       std::chrono::duration_cast<std::chrono::seconds>(st.opts.retry).count());
          st.db.reset();
          next = st.opts.retry;
        }
        self->delayed_send(self, next, atom::tick::value);
      },
  };
}

} // namespace

records_keeper_actor spawn_records_keeper(caf::actor_system& sys, records_keeper_options opts) {
  return sys.spawn<caf::detached>(records_keeper, std::move(opts));
}

} // namespace candle
