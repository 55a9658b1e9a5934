// "Write, then make the owner know": the second half, in one place. Every
// writer in a node — REST single and bulk creates, updates, deletes and
// redrives, the console's redrives — commits through PERSISTENCE first and
// then hands what it committed to tell_owners(), which tells each owning
// partition through the NODE actor (wherever the partition runs).
//
// The tell is the fast path only. The database already holds the change, and
// the owners' change feed (users) and sweep (records, woken by the redrive's
// notification) take it in whatever happens to this message
// (docs/cluster.md, "Acknowledged writes"). So the writer does not wait for
// it: the messages are sent (anonymously: no answer comes back) before the
// writer answers its client, so a client's next write is told after this
// one, and NODE says in the log when an owner was not reached.
// candle-import, a separate process, has only the durable path.
#pragma once

#include "actors/actors.hpp"

#include <map>
#include <utility>
#include <vector>

namespace candle {

/// What a committed write changed for the partitions' schedules.
struct owner_news {
  user_list upserted;                                   ///< created or changed users
  std::vector<std::pair<int32_t, std::string>> removed; ///< (partition, user id) deleted
  occurrence_list resumed;                              ///< records redriven to `retrying`
};

/// Tells the owners of `news`: one message per partition for users, one per
/// deletion and per record. Returns at once.
inline void tell_owners(const node_actor& node, owner_news news) {
  std::map<int32_t, user_list> by_partition;
  for (auto& u : news.upserted)
    by_partition[u.partition].push_back(std::move(u));
  for (auto& [p, users] : by_partition) {
    if (users.size() == 1)
      caf::anon_send(node, atom::upsert::value, std::move(users.front()), false);
    else
      caf::anon_send(node, atom::upsert::value, p, std::move(users), false);
  }
  for (auto& [p, id] : news.removed)
    caf::anon_send(node, atom::remove::value, p, std::move(id), false);
  for (auto& o : news.resumed)
    caf::anon_send(node, atom::resume::value, std::move(o), false);
}

} // namespace candle
