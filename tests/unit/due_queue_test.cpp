#include "core/due_queue.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <map>
#include <random>

using namespace candle;

namespace {
occurrence occ(std::string user, std::string occasion, int64_t due) {
  occurrence o;
  o.user_id = std::move(user);
  o.occasion = std::move(occasion);
  o.year = 2027;
  o.key = o.user_id + ":" + o.occasion + ":2027";
  o.due_at = due;
  return o;
}
} // namespace

TEST(DueQueue, PopsInDueOrderAndNothingEarly) {
  due_queue q;
  q.upsert(occ("b", "birthday", 200));
  q.upsert(occ("a", "birthday", 100));
  q.upsert(occ("c", "birthday", 300));
  EXPECT_EQ(q.next_due(), 100);
  EXPECT_TRUE(q.pop_due(99, 10).empty()) << "popped before its instant";
  auto got = q.pop_due(200, 10);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].user_id, "a");
  EXPECT_EQ(got[1].user_id, "b");
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.next_due(), 300);
}

TEST(DueQueue, UpsertReplacesByKey) {
  due_queue q;
  q.upsert(occ("a", "birthday", 100));
  q.upsert(occ("a", "birthday", 500)); // moved later
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.next_due(), 500);
  EXPECT_TRUE(q.pop_due(400, 10).empty());
  q.upsert(occ("a", "birthday", 50)); // moved earlier
  auto got = q.pop_due(60, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].due_at, 50);
  EXPECT_TRUE(q.pop_due(1000, 10).empty()) << "a replaced entry fired twice";
}

TEST(DueQueue, RetriesFireAfterTheirBackoffNotTheirDueInstant) {
  due_queue q;
  auto retry = occ("a", "birthday", 100);
  retry.next_attempt_at = 400;
  q.upsert(retry);
  q.upsert(occ("b", "birthday", 300));
  EXPECT_EQ(q.next_due(), 300);
  auto got = q.pop_due(399, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].user_id, "b");
  got = q.pop_due(400, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].due_at, 100) << "the due instant is kept for lateness";
}

TEST(DueQueue, RemoveUserCancelsAllItsOccasions) {
  due_queue q;
  q.upsert(occ("a", "birthday", 100));
  q.upsert(occ("a", "anniversary", 150));
  q.upsert(occ("b", "birthday", 120));
  EXPECT_EQ(q.remove_user("a").size(), 2u);
  EXPECT_TRUE(q.remove_user("a").empty());
  auto got = q.pop_due(1000, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].user_id, "b");
  EXPECT_TRUE(q.empty());
}

TEST(DueQueue, BatchLimitAndRandomisedAgainstAModel) {
  std::mt19937 rng{42};
  due_queue q;
  std::map<std::string, occurrence> model;
  for (int step = 0; step < 20000; ++step) {
    auto user = "u" + std::to_string(rng() % 300);
    auto occasion = rng() % 2 ? "birthday" : "anniversary";
    switch (rng() % 4) {
    case 0:
    case 1: {
      auto o = occ(user, occasion, static_cast<int64_t>(rng() % 10000));
      model[o.key] = o;
      q.upsert(o);
      break;
    }
    case 2: {
      size_t n = 0;
      for (auto it = model.begin(); it != model.end();)
        if (it->second.user_id == user) {
          it = model.erase(it);
          ++n;
        } else {
          ++it;
        }
      ASSERT_EQ(q.remove_user(user).size(), n);
      break;
    }
    case 3: {
      int64_t now = rng() % 10000;
      auto got = q.pop_due(now, 7);
      std::vector<occurrence> expect;
      for (const auto& [k, o] : model)
        if (o.due_at <= now) expect.push_back(o);
      std::sort(expect.begin(), expect.end(), [](const auto& a, const auto& b) {
        return a.due_at != b.due_at ? a.due_at < b.due_at : a.key < b.key;
      });
      expect.resize(std::min<size_t>(expect.size(), 7));
      ASSERT_EQ(got.size(), expect.size());
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].key, expect[i].key);
        model.erase(got[i].key);
      }
      break;
    }
    }
    ASSERT_EQ(q.size(), model.size());
  }
}

// earliest(n) is what pop_due would hand out first, without removing anything:
// checked against a sorted copy over random queues with updates and deletes.
TEST(DueQueue, EarliestMatchesTheOrderPopDueWouldUse) {
  std::mt19937_64 rng{7};
  for (int round = 0; round < 200; ++round) {
    due_queue q;
    std::map<std::string, occurrence> model;
    int ops = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < ops; ++i) {
      auto user = "u" + std::to_string(rng() % 20);
      auto o = occ(user, rng() % 2 ? "birthday" : "anniversary", static_cast<int64_t>(rng() % 10));
      if (rng() % 5 == 0) o.next_attempt_at = static_cast<int64_t>(rng() % 20);
      if (rng() % 7 == 0) {
        q.remove_user(user);
        for (auto it = model.begin(); it != model.end();)
          it = it->second.user_id == user ? model.erase(it) : std::next(it);
      } else {
        q.upsert(o);
        model[o.key] = o;
      }
    }
    std::vector<std::pair<int64_t, std::string>> want;
    for (const auto& [k, o] : model)
      want.emplace_back(due_queue::fire_at(o), k);
    std::sort(want.begin(), want.end());
    auto n = static_cast<size_t>(rng() % 25);
    auto got = q.earliest(n);
    ASSERT_EQ(got.size(), std::min(n, want.size()));
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(got[i].key, want[i].second) << "round " << round << " index " << i;
    EXPECT_EQ(q.size(), model.size()); // nothing removed
    auto popped = q.pop_due(1'000, got.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(popped[i].key, got[i].key);
  }
}
