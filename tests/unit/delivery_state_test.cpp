// The delivery state's order, over every pair of states.
#include "core/delivery_state.hpp"

#include <gtest/gtest.h>

using namespace candle::delivery;

TEST(DeliveryState, EveryPairMovesOnlyForward) {
  // The contract's order: sent -> deferred -> delivered | bounced | complained,
  // with a bounce or complaint able to follow a delivery and nothing after them.
  auto expected = [](state from, state to) {
    switch (from) {
    case state::sent:
      return to != state::sent;
    case state::deferred:
      return to == state::delivered || to == state::bounced || to == state::complained;
    case state::delivered:
      return to == state::bounced || to == state::complained;
    case state::bounced:
    case state::complained:
      return false;
    }
    return false;
  };
  for (auto from : all_states)
    for (auto to : all_states)
      EXPECT_EQ(moves(from, to), expected(from, to)) << to_string(from) << " -> " << to_string(to);
}

TEST(DeliveryState, AnyArrivalOrderEndsInTheSameState) {
  // Events of one greeting applied in every order end where the highest
  // ranked (first of them, among equals) put it: no late event moves it back.
  std::vector<state> events{state::deferred, state::delivered, state::deferred, state::bounced};
  std::sort(events.begin(), events.end());
  do {
    auto s = state::sent;
    for (auto e : events)
      if (moves(s, e)) s = e;
    EXPECT_EQ(s, state::bounced);
  } while (std::next_permutation(events.begin(), events.end()));
}

TEST(DeliveryState, NamesAndEventTypes) {
  for (auto s : all_states)
    EXPECT_EQ(state_of(to_string(s)), s);
  EXPECT_EQ(event_type("sent"), std::nullopt);
  EXPECT_EQ(event_type("Delivered"), std::nullopt);
  EXPECT_EQ(event_type(""), std::nullopt);
  EXPECT_EQ(event_type("bounced"), state::bounced);
  EXPECT_TRUE(suppresses(state::bounced));
  EXPECT_TRUE(suppresses(state::complained));
  EXPECT_FALSE(suppresses(state::deferred));
  EXPECT_FALSE(suppresses(state::delivered));
}

TEST(DeliveryState, RankSqlRendersTheSameOrder) {
  EXPECT_EQ(rank_sql("r.delivery"),
            "CASE r.delivery WHEN 'sent' THEN 0 WHEN 'deferred' THEN 1 WHEN 'delivered' THEN 2"
            " WHEN 'bounced' THEN 3 WHEN 'complained' THEN 3 END");
}
