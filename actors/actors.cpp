#include "actors/actors.hpp"

namespace candle {

caf::error make_error(errc x, std::string context) {
  return caf::error{static_cast<uint8_t>(x), caf::atom("candle"),
                    caf::make_message(std::move(context))};
}

std::string render_error(uint8_t code, caf::atom_value, const caf::message& context) {
  std::string out = to_string(static_cast<errc>(code));
  if (!context.empty() && context.match_element<std::string>(0))
    out += ": " + context.get_as<std::string>(0);
  return out;
}

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<user>("candle.user");
  cfg.add_message_type<occurrence>("candle.occurrence");
  cfg.add_message_type<outcome>("candle.outcome");
  cfg.add_message_type<send_record>("candle.send_record");
  cfg.add_message_type<user_list>("candle.user_list");
  cfg.add_message_type<occurrence_list>("candle.occurrence_list");
  cfg.add_message_type<outcome_list>("candle.outcome_list");
  cfg.add_message_type<record_list>("candle.record_list");
  cfg.add_message_type<key_list>("candle.key_list");
  cfg.add_message_type<attempt>("candle.attempt");
  cfg.add_message_type<attempt_list>("candle.attempt_list");
  cfg.add_message_type<partition_status>("candle.partition_status");
  cfg.add_message_type<delivery_status>("candle.delivery_status");
  cfg.add_message_type<node_info>("candle.node_info");
  cfg.add_message_type<node_row>("candle.node_row");
  cfg.add_message_type<lease_row>("candle.lease_row");
  cfg.add_message_type<cluster_view>("candle.cluster_view");
  cfg.add_message_type<clock_anchor>("candle.clock_anchor");
  cfg.add_message_type<cluster_status>("candle.cluster_status");
  cfg.add_message_type<pause_state>("candle.pause_state");
  cfg.add_message_type<partitions_report>("candle.partitions_report");
  cfg.add_message_type<create_outcome>("candle.create_outcome");
  cfg.add_message_type<create_outcomes>("candle.create_outcomes");
  cfg.add_message_type<forecast_group>("candle.forecast_group");
  cfg.add_message_type<std::vector<forecast_group>>("candle.forecast_groups");
  cfg.add_message_type<dashboard_rows>("candle.dashboard_rows");
  cfg.add_message_type<std::vector<int32_t>>("candle.int32_list");
  cfg.add_message_type<upcoming_report>("candle.upcoming_report");
  cfg.add_message_type<redrive_batch>("candle.redrive_batch");
  cfg.add_message_type<change_batch>("candle.change_batch");
  cfg.add_message_type<audit_report>("candle.audit_report");
  cfg.add_message_type<delivery_event>("candle.delivery_event");
  cfg.add_message_type<event_list>("candle.event_list");
  cfg.add_message_type<suppression>("candle.suppression");
  cfg.add_message_type<suppression_list>("candle.suppression_list");
  cfg.add_message_type<ingest_report>("candle.ingest_report");
  cfg.add_message_type<greeting_detail>("candle.greeting_detail");
  cfg.add_message_type<std::vector<partition_status>>("candle.partition_status_list");
  cfg.add_error_category(caf::atom("candle"), render_error);
}

} // namespace candle
