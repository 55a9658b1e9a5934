#include "core/delivery_state.hpp"

namespace candle::delivery {

const char* to_string(state s) {
  switch (s) {
  case state::sent:
    return "sent";
  case state::deferred:
    return "deferred";
  case state::delivered:
    return "delivered";
  case state::bounced:
    return "bounced";
  case state::complained:
    return "complained";
  }
  return "?";
}

std::optional<state> state_of(std::string_view text) {
  for (auto s : all_states)
    if (text == to_string(s)) return s;
  return std::nullopt;
}

std::optional<state> event_type(std::string_view text) {
  auto s = state_of(text);
  if (s == state::sent) return std::nullopt;
  return s;
}

int rank(state s) {
  switch (s) {
  case state::sent:
    return 0;
  case state::deferred:
    return 1;
  case state::delivered:
    return 2;
  case state::bounced:
  case state::complained:
    return 3;
  }
  return 0;
}

bool moves(state current, state incoming) {
  return rank(incoming) > rank(current);
}

bool suppresses(state type) {
  return type == state::bounced || type == state::complained;
}

std::string rank_sql(std::string_view column) {
  std::string out = "CASE ";
  out.append(column);
  for (auto s : all_states)
    out.append(" WHEN '").append(to_string(s)).append("' THEN ").append(std::to_string(rank(s)));
  out.append(" END");
  return out;
}

} // namespace candle::delivery
