// The database schema as numbered migrations, applied at start-up under an
// advisory lock so that nodes starting together apply each exactly once.
#pragma once

#include <pqxx/connection>
#include <string>
#include <vector>

namespace candle::pg {

struct migration {
  int version;
  std::string name;
  std::string sql;
};

/// Every migration, in order. Append only: a released migration never changes.
const std::vector<migration>& migrations();

/// Applies the missing migrations (up to version `up_to`: tests of an
/// upgrade); returns how many were applied (0 when the schema is current).
/// Safe to call from several processes at once.
int migrate(pqxx::connection& c, int up_to = 1 << 30);

/// The partition count fixed at the database's first start: stores
/// `requested` the first time and returns the stored value ever after.
int32_t fixed_partition_count(pqxx::connection& c, int32_t requested);

} // namespace candle::pg
