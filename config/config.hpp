// The node's CAF configuration: every option of contract.md bound to a field
// of `settings`, read from the command line, CANDLE_* environment variables
// and an INI file (--config-file=), in that order of precedence.
#pragma once

#include "config/settings.hpp"

#include <caf/actor_system_config.hpp>
#include <string>
#include <vector>

namespace candle {

class node_config : public caf::actor_system_config {
public:
  node_config();

  settings values;

  /// The option groups Candle owns (CAF's own groups are left to CAF).
  static const std::vector<std::string>& groups();

  /// Full names of Candle's options, e.g. "db.url", "occasions.birthday.send-at".
  std::vector<std::string> option_names() const;

  /// Stores every Candle option's final value from `content` into its field.
  /// CAF 0.17 leaves options of dotted groups ([occasions.birthday] in the
  /// INI file) in `content` without storing them; this closes that gap.
  /// Returns "option: problem" for a value of the wrong type.
  std::vector<std::string> store_from_content();

  /// Whether `option` ("admin.fault-injection") is a boolean flag.
  bool is_flag(const std::string& option) const;

  /// Help text: usage, then each Candle option with type, default, meaning
  /// and environment variable.
  std::string help_text() const;

  /// Names in `content` under Candle's groups that are not options (a typo
  /// in the INI file). CAF accepts those silently; Candle refuses them.
  std::vector<std::string> unknown_settings() const;
};

/// "db.url" -> "CANDLE_DB_URL", "email.max-in-flight" -> "CANDLE_EMAIL_MAX_IN_FLIGHT".
std::string env_name(std::string_view option);

/// What the caller should do after reading the configuration.
struct load_outcome {
  enum kind { run, help, exit_ok, exit_usage } what = run;
  /// help: the text for stdout; exit_usage: the error(s), one per line.
  std::string message;
};

/// Reads configuration from `args` (without the program name), the
/// environment `envp` (null-terminated, as `environ`) and the INI file, then
/// validates it.
load_outcome load_config(node_config& cfg, const std::vector<std::string>& args, char** envp);

} // namespace candle
