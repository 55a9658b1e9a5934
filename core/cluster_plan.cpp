#include "core/cluster_plan.hpp"

#include <algorithm>
#include <map>

namespace candle {

namespace {

std::vector<std::string> sorted_ids(const std::vector<member>& live) {
  std::vector<std::string> ids;
  for (const auto& m : live)
    ids.push_back(m.id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

} // namespace

size_t fair_share(const std::vector<std::string>& live, size_t partitions, const std::string& me) {
  auto ids = live;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  auto it = std::find(ids.begin(), ids.end(), me);
  if (it == ids.end()) return 0;
  auto rank = static_cast<size_t>(it - ids.begin());
  auto n = ids.size();
  return partitions / n + (rank < partitions % n ? 1 : 0);
}

round_plan plan_round(const std::string& me, const std::vector<member>& live,
                      const std::vector<lease_slot>& leases, const round_limits& limits,
                      const std::vector<int32_t>& releasing) {
  round_plan plan;
  auto ids = sorted_ids(live);
  auto partitions = leases.size();
  auto rank_it = std::find(ids.begin(), ids.end(), me);
  if (rank_it == ids.end() || partitions == 0) return plan;
  auto rank = static_cast<size_t>(rank_it - ids.begin());
  plan.target = fair_share(ids, partitions, me);

  std::map<std::string, size_t> owned;
  std::vector<int32_t> free, mine;
  for (const auto& l : leases) {
    if (l.owner.empty() || std::find(ids.begin(), ids.end(), l.owner) == ids.end())
      free.push_back(l.partition);
    else
      ++owned[l.owner];
    if (l.owner == me) mine.push_back(l.partition);
  }
  plan.owned = mine.size();

  if (plan.owned < plan.target) {
    // Nodes start their search at different places so that newcomers racing
    // for the same free leases rarely collide.
    std::sort(free.begin(), free.end());
    auto start = static_cast<int32_t>(rank * partitions / ids.size());
    std::stable_partition(free.begin(), free.end(), [start](int32_t p) { return p >= start; });
    free.resize(std::min(free.size(), plan.target - plan.owned));
    plan.acquire = std::move(free);
    return plan;
  }
  if (plan.owned == plan.target) return plan;

  // Above the share: what settled nodes below theirs still miss after the
  // free leases, handed out over the nodes above their share in id order so
  // that together they release no more than that.
  size_t missing = 0;
  for (const auto& m : live) {
    if (m.id == me || m.up < limits.join_delay) continue;
    auto want = fair_share(ids, partitions, m.id);
    auto have = owned[m.id];
    if (have < want) missing += want - have;
  }
  missing = missing > free.size() ? missing - free.size() : 0;
  for (const auto& id : ids) {
    if (missing == 0) break;
    auto want = fair_share(ids, partitions, id);
    auto have = owned[id];
    if (have <= want) continue;
    auto give = std::min({have - want, missing, limits.max_release});
    if (id == me) {
      std::vector<int32_t> candidates;
      size_t already = 0;
      for (auto p : mine)
        if (std::find(releasing.begin(), releasing.end(), p) == releasing.end())
          candidates.push_back(p);
        else
          ++already;
      give -= std::min(give, already);
      std::sort(candidates.begin(), candidates.end(), std::greater<>());
      candidates.resize(std::min(give, candidates.size()));
      plan.release = std::move(candidates);
      break;
    }
    missing -= give;
  }
  return plan;
}

std::vector<std::string> live_owners(const cluster_view& v, size_t partitions) {
  std::vector<std::string> out(partitions);
  for (const auto& l : v.leases) {
    if (l.partition < 0 || static_cast<size_t>(l.partition) >= partitions) continue;
    if (l.owner.empty() || l.expires_in_ms <= 0) continue;
    for (const auto& n : v.nodes)
      if (n.live && n.info.id == l.owner) out[static_cast<size_t>(l.partition)] = l.owner;
  }
  return out;
}

std::vector<member> live_members(const cluster_view& v) {
  std::vector<member> out;
  for (const auto& n : v.nodes)
    if (n.live) out.push_back({n.info.id, std::chrono::milliseconds{n.up_ms}});
  return out;
}

std::vector<lease_slot> slots_of(const cluster_view& v, size_t partitions, const std::string& me,
                                 const std::vector<int32_t>& running_here) {
  auto owners = live_owners(v, partitions);
  std::vector<lease_slot> out;
  for (size_t p = 0; p < partitions; ++p)
    out.push_back({static_cast<int32_t>(p), owners[p]});
  for (auto p : running_here)
    if (p >= 0 && static_cast<size_t>(p) < partitions) out[static_cast<size_t>(p)].owner = me;
  return out;
}

std::chrono::milliseconds fence_margin(std::chrono::milliseconds ttl) {
  return std::max(std::chrono::milliseconds{500}, ttl / 10);
}

} // namespace candle
