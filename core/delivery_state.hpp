// A greeting's delivery state after the provider accepted it (contract.md,
// "Delivery events"): the order events move it in, as data. The database
// applies the same order (`rank_sql` renders it), so there is one source.
//
//   sent -> deferred -> delivered -> bounced | complained
//
// A state only moves to a higher rank: an older event that arrives late is
// kept in the timeline and moves nothing back. Bounced and complained are
// final (a complaint or a late bounce can follow a delivery; nothing follows
// them).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace candle::delivery {

enum class state { sent, deferred, delivered, bounced, complained };

inline constexpr state all_states[] = {state::sent, state::deferred, state::delivered,
                                       state::bounced, state::complained};

const char* to_string(state s);
/// The state an event type names ("sent" is not an event type).
std::optional<state> event_type(std::string_view text);
/// Any state's name, "sent" included.
std::optional<state> state_of(std::string_view text);

int rank(state s);
/// Whether an event of type `incoming` moves a greeting now in `current`.
bool moves(state current, state incoming);
/// Whether an event of this type suppresses the address (a hard bounce or a
/// complaint).
bool suppresses(state type);

/// `CASE {column} WHEN 'sent' THEN 0 … END`: rank() in SQL.
std::string rank_sql(std::string_view column);

} // namespace candle::delivery
