// Spawns the RECORDS KEEPER (actors.hpp): send records kept by year.
#pragma once

#include "actors/actors.hpp"
#include "core/clock.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace candle {

struct records_keeper_options {
  std::string conninfo;
  uint32_t keep_years = 3; ///< records.keep-years
  std::shared_ptr<engine_clock> clock;
  std::chrono::milliseconds every{std::chrono::hours{1}};
  std::chrono::milliseconds retry{std::chrono::minutes{1}}; ///< after a failed round
};

/// Detached, with its own connection.
records_keeper_actor spawn_records_keeper(caf::actor_system& sys, records_keeper_options opts);

} // namespace candle
