#include "config/config.hpp"

#include <algorithm>
#include <caf/config_value.hpp>
#include <caf/settings.hpp>
#include <cctype>
#include <cstring>
#include <map>
#include <regex>
#include <set>

namespace candle {

node_config::node_config() {
  // CAF's work-stealing scheduler polls: an idle node spent 8.6 % of a core
  // on it here, 2.0 % with the sharing policy (a condition variable), and
  // bursts ran as fast either way (docs/benchmarks.md). --scheduler.policy
  // (or [scheduler] policy in the file) still chooses.
  set("scheduler.policy", caf::atom("sharing"));
  auto& v = values;
  opt_group{custom_options_, "http"}
      .add(v.http.host, "host", "REST bridge address")
      .add(v.http.port, "port", "REST bridge port (0 = pick a free port and print it)")
      .add(v.http.rate_per_client, "rate-per-client",
           "requests per second per client address (0 = unlimited); beyond: 429 + Retry-After")
      .add(v.http.burst_per_client, "burst-per-client",
           "requests a client may send at once (0 = twice rate-per-client)")
      .add(v.http.max_connections_per_client, "max-connections-per-client",
           "open connections per client address (0 = no cap); beyond: 503")
      .add(v.http.max_connections, "max-connections", "open connections in all (0 = no cap)");
  opt_group{custom_options_, "db"}
      .add(v.db.url, "url", "PostgreSQL URL; empty = embedded PostgreSQL in db.dir")
      .add(v.db.dir, "dir", "data directory of the embedded PostgreSQL")
      .add(v.db.connections, "connections",
           "database connections for claims, outcomes and the API (plus one for leases)");
  opt_group{custom_options_, "email"}
      .add(v.email.url, "url", "provider endpoint")
      .add(v.email.timeout, "timeout", "per-request timeout, e.g. 10s")
      .add(v.email.max_in_flight, "max-in-flight",
           "concurrent provider requests per node (the adaptive limit's ceiling)")
      .add(v.email.api, "api", "single (one POST per greeting) or batch (many per POST)")
      .add(v.email.batch_size, "batch-size", "greetings per request with email.api=batch")
      .add(v.email.rate, "rate",
           "greetings per second the provider takes from the whole cluster (0 = no limit)")
      .add(v.email.max_attempts, "max-attempts", "attempts before a greeting is dead")
      .add(v.email.breaker_threshold, "breaker-threshold",
           "consecutive provider failures that open the circuit breaker")
      .add(v.email.breaker_cooldown, "breaker-cooldown",
           "first wait before an open breaker lets a probe through (doubles per failed probe)")
      .add(v.email.paused, "paused", "start with delivery paused (kill switch on)")
      .add(v.email.transport, "transport",
           "http (the provider APIs, email.api) or smtp (any mail server or relay, smtp.*)");
  opt_group{custom_options_, "smtp"}
      .add(v.smtp.url, "url",
           "smtp://host:port (STARTTLS required unless loopback or smtp.starttls=optional) or "
           "smtps://host:port")
      .add(v.smtp.user, "user", "AUTH user (empty: no AUTH)")
      .add(v.smtp.password, "password", "AUTH password; never printed or logged")
      .add(v.smtp.password_file, "password-file", "read the AUTH password from this file")
      .add(v.smtp.from, "from", "From: 'address' or 'Name <address>' (required with smtp)")
      .add(v.smtp.ca, "ca", "PEM bundle of a private CA for the server's certificate")
      .add(v.smtp.starttls, "starttls", "required|optional: STARTTLS on smtp:// URLs");
  opt_group{custom_options_, "schedule"}
      .add(v.schedule.partitions, "partitions", "user partitions (fixed at first start)")
      .add(v.schedule.lookahead, "lookahead", "how far ahead occurrences are kept in memory")
      .add(v.schedule.recovery_window, "recovery-window",
           "missed greetings younger than this are still sent")
      .add(v.schedule.claim_ahead, "claim-ahead",
           "0: greetings checked at their instant, one write each; above 0: claimed this long "
           "ahead (two writes)")
      .add(v.schedule.feb29, "feb29", "when 29 Feb occasions fire in common years: feb28|mar1");
  opt_group{custom_options_, "records"}.add(
      v.records.keep_years, "keep-years",
      "past years of send records kept besides the current one; older years are dropped whole");
  opt_group{custom_options_, "occasions.birthday"}.add(v.occasions.birthday_send_at, "send-at",
                                                       "local send time, HH:MM");
  opt_group{custom_options_, "occasions.anniversary"}.add(v.occasions.anniversary_send_at,
                                                          "send-at", "local send time, HH:MM");
  opt_group{custom_options_, "clock"}
      .add(v.clock.mode, "mode", "system|simulated")
      .add(v.clock.start, "start", "simulated clock start, ISO-8601 UTC (default: now)")
      .add(v.clock.speed, "speed", "simulated clock speed (0 = frozen)");
  opt_group{custom_options_, "cluster"}
      .add(v.cluster.port, "port", "CAF middleman port (0 = off)")
      .add(v.cluster.advertise, "advertise", "address other nodes use to reach this one")
      .add(v.cluster.lease_ttl, "lease-ttl",
           "partition lease length on PostgreSQL's clock, renewed every third, e.g. 15s")
      .add(v.cluster.node_id, "node-id",
           "this node's name in the cluster (default: host-pid-random; unique among live nodes)");
  opt_group{custom_options_, "console"}.add(v.console.port, "port",
                                            "candlectl console port (0 = off)");
  opt_group{custom_options_, "admin"}
      .add(v.admin.fault_injection, "fault-injection",
           "enable POST /api/v1/admin/crash/{actor} (tests only)")
      .add(v.admin.token, "token",
           "bearer token for /api/v1/admin/* (empty: admin routes on a loopback http.host only)");
  opt_group{custom_options_, "webhooks"}.add(
      v.webhooks.secret, "secret",
      "Standard Webhooks secret(s) whsec_... for provider delivery events (empty: endpoint off)");
  opt_group{custom_options_, "tls"}
      .add(v.tls.certificate, "certificate", "PEM certificate for cluster and console traffic")
      .add(v.tls.key, "key", "PEM private key of tls.certificate")
      .add(v.tls.ca, "ca", "PEM CA whose certificates are let in");
  opt_group{custom_options_, "log"}
      .add(v.log.level, "level", "trace|debug|info|warn|error|off")
      .add(v.log.format, "format", "logfmt|json (one JSON object per line)");
}

const std::vector<std::string>& node_config::groups() {
  static const std::vector<std::string> all{"http",  "db",       "email",   "schedule", "occasions",
                                            "clock", "cluster",  "console", "admin",    "tls",
                                            "log",   "webhooks", "smtp",    "records"};
  return all;
}

namespace {

bool ours(caf::string_view category) {
  std::string cat{category.begin(), category.end()};
  auto top = cat.substr(0, cat.find('.'));
  const auto& g = node_config::groups();
  return std::find(g.begin(), g.end(), top) != g.end();
}

void collect_leaves(const caf::settings& dict, const std::string& prefix,
                    std::vector<std::string>& out) {
  for (const auto& [key, value] : dict) {
    auto name = prefix.empty() ? key : prefix + "." + key;
    if (auto sub = caf::get_if<caf::settings>(&value))
      collect_leaves(*sub, name, out);
    else
      out.push_back(name);
  }
}

} // namespace

std::vector<std::string> node_config::option_names() const {
  std::vector<std::string> names;
  for (const auto& opt : custom_options_)
    if (ours(opt.category())) {
      auto n = opt.full_name();
      names.emplace_back(n.begin(), n.end());
    }
  return names;
}

std::string node_config::help_text() const {
  std::string out = "usage: candled [--group.key=value ...] [--config-file=FILE]\n\n"
                    "Options (command line > CANDLE_* environment > config file > default):\n";
  for (const auto& opt : custom_options_) {
    if (!ours(opt.category())) continue;
    auto name = opt.full_name();
    std::string n{name.begin(), name.end()};
    auto type = opt.type_name();
    auto desc = opt.description();
    std::string def;
    if (auto v = opt.get()) def = caf::to_string(*v);
    out += "  --" + n + "=<" + std::string{type.begin(), type.end()} + ">\n      " +
           std::string{desc.begin(), desc.end()} +
           "\n      default: " + (def.empty() || def == "\"\"" ? "(empty)" : def) +
           "   env: " + env_name(n) + "\n";
  }
  out += "\nThe INI file takes the same options grouped in sections, e.g.\n"
         "  [http]\n  port=8080\n  [occasions.birthday]\n  send-at=\"09:00\"\n"
         "CAF's own options (scheduler, middleman, ...): --long-help\n";
  return out;
}

std::vector<std::string> node_config::store_from_content() {
  std::vector<std::string> problems;
  for (const auto& opt : custom_options_) {
    if (!ours(opt.category())) continue;
    auto name = opt.full_name();
    if (auto value = caf::get_if(&content, name)) {
      if (auto err = opt.check(*value))
        problems.push_back(std::string{name.begin(), name.end()} + ": invalid value " +
                           caf::to_string(*value));
      else
        opt.store(*value);
    }
  }
  return problems;
}

bool node_config::is_flag(const std::string& option) const {
  for (const auto& opt : custom_options_) {
    auto n = opt.full_name();
    if (std::string{n.begin(), n.end()} == option) return opt.is_flag();
  }
  return false;
}

std::vector<std::string> node_config::unknown_settings() const {
  std::vector<std::string> leaves;
  for (const auto& [key, value] : content)
    if (ours(key))
      if (auto sub = caf::get_if<caf::settings>(&value)) collect_leaves(*sub, key, leaves);
  auto known = option_names();
  std::vector<std::string> unknown;
  for (auto& l : leaves)
    if (std::find(known.begin(), known.end(), l) == known.end()) unknown.push_back(l);
  return unknown;
}

// CAF renders parse errors as `parser_error(code, ({"argument" = "--x=1"}))`
// or with "line"/"column" for the file; turn that into a sentence.
std::string explain_parse_error(const std::string& rendered) {
  std::smatch m;
  std::string code = "invalid";
  if (std::regex_search(rendered, m, std::regex{R"(\((\w+))"})) code = m[1];
  if (std::regex_search(rendered, m, std::regex{R"re("argument" = "([^"]*)")re"})) {
    if (code == "not_an_option") return "unknown option '" + m[1].str() + "'";
    return "invalid value in '" + m[1].str() + "' (" + code + ")";
  }
  std::smatch lm, cm;
  if (std::regex_search(rendered, lm, std::regex{R"("line" = (\d+))"}) &&
      std::regex_search(rendered, cm, std::regex{R"("column" = (\d+))"}))
    return "configuration file, line " + lm[1].str() + " column " + cm[1].str() + ": " + code;
  return rendered;
}

std::string env_name(std::string_view option) {
  std::string out = "CANDLE_";
  for (char c : option)
    out.push_back(c == '.' || c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  return out;
}

load_outcome load_config(node_config& cfg, const std::vector<std::string>& args, char** envp) {
  auto usage = [](std::string msg) {
    return load_outcome{load_outcome::exit_usage, std::move(msg)};
  };
  // Environment values go first as command-line arguments: CAF lets a later
  // argument win and the command line beat the INI file, which gives exactly
  // command line > environment > file > default.
  std::vector<std::string> combined;
  std::set<std::string> bound;
  auto names = cfg.option_names();
  for (const auto& name : names)
    bound.insert(env_name(name));
  std::string errors;
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv{*e};
    if (kv.rfind("CANDLE_", 0) != 0) continue;
    auto eq = kv.find('=');
    std::string key{kv.substr(0, eq)};
    if (eq == std::string_view::npos || bound.count(key) == 0) {
      errors += "unknown environment variable " + key + " (Candle's are: ";
      for (auto it = bound.begin(); it != bound.end(); ++it)
        errors += (it == bound.begin() ? "" : ", ") + *it;
      errors += ")\n";
      continue;
    }
    for (const auto& name : names)
      if (env_name(name) == key)
        combined.push_back("--" + name + "=" + std::string{kv.substr(eq + 1)});
  }
  if (!errors.empty()) return usage(errors);
  for (const auto& a : args)
    if (a == "--help" || a == "-h" || a == "-?") return {load_outcome::help, cfg.help_text()};
  combined.insert(combined.end(), args.begin(), args.end());
  // CAF 0.17 takes booleans only as bare flags: accept =true/1/yes (flag) and
  // =false/0/no (omitted) too, so environment variables can carry them.
  std::vector<std::string> flags;
  for (const auto& opt : cfg.option_names())
    if (cfg.is_flag(opt)) flags.push_back("--" + opt);
  std::vector<std::string> normalised;
  std::map<std::string, bool> flag_value; // the last occurrence wins
  for (auto& a : combined) {
    auto eq = a.find('=');
    auto name = a.substr(0, eq);
    if (std::find(flags.begin(), flags.end(), name) == flags.end()) {
      normalised.push_back(std::move(a));
      continue;
    }
    auto v = eq == std::string::npos ? std::string{"true"} : a.substr(eq + 1);
    if (v == "true" || v == "1" || v == "yes")
      flag_value[name] = true;
    else if (v == "false" || v == "0" || v == "no")
      flag_value[name] = false;
    else
      return usage("invalid value in '" + a + "' (a flag: true or false)");
  }
  for (const auto& [name, on] : flag_value)
    if (on) normalised.push_back(name);
  combined = std::move(normalised);
  if (auto err = cfg.parse(combined)) {
    return usage(explain_parse_error(cfg.render(err)) +
                 "\n(see --help for the options and their types; durations look like 10s or 48h)");
  }
  if (cfg.cli_helptext_printed) return {load_outcome::exit_ok, {}};
  if (!cfg.remainder.empty())
    return usage("unexpected argument '" + cfg.remainder.front() +
                 "' (options are written --group.key=value)");
  for (const auto& p : cfg.store_from_content())
    errors += p + "\n";
  for (const auto& u : cfg.unknown_settings())
    errors += "unknown option '" + u + "' in the configuration file\n";
  for (const auto& problem : validate(cfg.values))
    errors += problem + "\n";
  if (!errors.empty()) return usage(errors);
  return {};
}

} // namespace candle
