// "Write, then make the owner know": the second half, in one place. Every
// writer in a node — REST single and bulk creates, updates, deletes and
// redrives, the console's redrives — commits through PERSISTENCE first and
// then hands what it committed to tell_owners(), which tells each owning
// partition through the NODE actor (wherever the partition runs).
//
// The tell is the fast path only. The database already holds the change, and
// the owners' change feed (users) and sweep (records, woken by the redrive's
// notification) take it in whatever happens to this message
// (docs/cluster.md, "Acknowledged writes"). So telling never fails: an owner
// not reached is logged, and `done` is called once every tell is answered or
// timed out. candle-import, a separate process, has only the durable path.
#pragma once

#include "actors/actors.hpp"

#include <functional>
#include <map>
#include <memory>
#include <spdlog/spdlog.h>
#include <utility>
#include <vector>

namespace candle {

/// What a committed write changed for the partitions' schedules.
struct owner_news {
  user_list upserted;                                   ///< created or changed users
  std::vector<std::pair<int32_t, std::string>> removed; ///< (partition, user id) deleted
  occurrence_list resumed;                              ///< records redriven to `retrying`
};

/// How long one tell may take before the writer answers anyway.
constexpr std::chrono::seconds owner_tell_timeout{5};

/// Tells the owners of `news` (one message per partition for users, one per
/// deletion and per record), then calls `done` exactly once. `source` names
/// the writer in the log (`rest`, `console`).
template <class Self>
void tell_owners(Self* self, const node_actor& node, owner_news news, const char* source,
                 std::function<void()> done) {
  std::map<int32_t, user_list> by_partition;
  for (auto& u : news.upserted)
    by_partition[u.partition].push_back(std::move(u));
  auto n = by_partition.size() + news.removed.size() + news.resumed.size();
  if (n == 0) return done();
  auto left = std::make_shared<size_t>(n);
  auto one_done = [left, done] {
    if (--*left == 0) done();
  };
  auto on_reached = [one_done, source](bool reached) {
    if (!reached)
      spdlog::info("event={}.owner_not_reached effect=\"taken in by the owner's change feed\"",
                   source);
    one_done();
  };
  auto on_error = [one_done, source, self](caf::error& e) {
    spdlog::warn("event={}.owner_unreachable effect=\"taken in by the owner's change feed\" "
                 "error=\"{}\"",
                 source, self->system().render(e));
    one_done();
  };
  const auto t = owner_tell_timeout;
  for (auto& [p, users] : by_partition) {
    if (users.size() == 1)
      self->request(node, t, atom::upsert::value, std::move(users.front()), false)
          .then(on_reached, on_error);
    else
      self->request(node, t, atom::upsert::value, p, std::move(users), false)
          .then(on_reached, on_error);
  }
  for (auto& [p, id] : news.removed)
    self->request(node, t, atom::remove::value, p, std::move(id), false).then(on_reached, on_error);
  for (auto& o : news.resumed)
    self->request(node, t, atom::resume::value, std::move(o), false).then(on_reached, on_error);
}

} // namespace candle
