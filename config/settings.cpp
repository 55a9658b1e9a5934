#include "config/settings.hpp"

#include "core/mail.hpp"
#include "core/security.hpp"
#include "core/webhook.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <unistd.h>

namespace candle {

namespace {

void check(std::vector<std::string>& out, bool ok, std::string option, std::string what) {
  if (!ok) out.push_back(std::move(option) + ": " + std::move(what));
}

template <class T>
void check_result(std::vector<std::string>& out, const result<T>& r, std::string option) {
  if (!r) out.push_back(std::move(option) + ": " + r.err().message);
}

// http.*: the REST server and its per-client limits.
void check_http(const settings& s, std::vector<std::string>& out) {
  check(out, !s.http.host.empty(), "http.host", "must not be empty");
  check(out, std::isfinite(s.http.rate_per_client) && s.http.rate_per_client >= 0,
        "http.rate-per-client", "must be a finite number >= 0");
  check(out,
        std::isfinite(s.http.burst_per_client) && s.http.burst_per_client >= 0 &&
            (s.http.burst_per_client == 0 || s.http.burst_per_client >= 1),
        "http.burst-per-client", "must be 0 (twice the rate) or at least 1");
}

// db.*: the database.
void check_db(const settings& s, std::vector<std::string>& out) {
  check(out, s.db.url.empty() || s.db.url.rfind("postgres", 0) == 0, "db.url",
        "must be a postgres:// or postgresql:// URL (or empty for the embedded database)");
  check(out, !s.db.dir.empty(), "db.dir", "must not be empty");
  check(out, s.db.connections >= 1 && s.db.connections <= 64, "db.connections",
        "must be between 1 and 64");
}

// email.*: the provider, its limits and the transport (smtp.* with email.transport=smtp).
void check_email(const settings& s, std::vector<std::string>& out) {
  using namespace std::chrono;
  check(out, s.email.url.rfind("http://", 0) == 0 || s.email.url.rfind("https://", 0) == 0,
        "email.url", "must be an http:// or https:// URL");
  check(out, s.email.timeout > nanoseconds::zero(), "email.timeout", "must be positive");
  check(out, s.email.max_in_flight >= 1, "email.max-in-flight", "must be at least 1");
  check(out, s.email.api == "single" || s.email.api == "batch", "email.api",
        "'" + s.email.api + "' is not a provider API (single or batch)");
  check(out, s.email.batch_size >= 1 && s.email.batch_size <= 10000, "email.batch-size",
        "must be between 1 and 10000");
  check(out,
        std::isfinite(s.email.rate) && s.email.rate >= 0 &&
            (s.email.rate == 0 || s.email.rate >= 1),
        "email.rate", "must be 0 (no limit) or at least 1 greeting per second");
  check(out, s.email.max_attempts >= 1, "email.max-attempts", "must be at least 1");
  check(out, s.email.breaker_threshold >= 1, "email.breaker-threshold", "must be at least 1");
  check(out, s.email.breaker_cooldown > nanoseconds::zero(), "email.breaker-cooldown",
        "must be positive");
  check(out, s.email.transport == "http" || s.email.transport == "smtp", "email.transport",
        "'" + s.email.transport + "' is not a transport (http or smtp)");
  if (s.email.transport == "smtp") {
    check(out, s.smtp.url.rfind("smtp://", 0) == 0 || s.smtp.url.rfind("smtps://", 0) == 0,
          "smtp.url",
          s.smtp.url.empty() ? "required with email.transport=smtp (smtp://host:port or "
                               "smtps://host:port)"
                             : "must be an smtp:// or smtps:// URL");
    check(out, s.smtp.url.find_first_of("\r\n ") == std::string::npos, "smtp.url",
          "must not hold spaces or line breaks");
    // Credentials in the URL would travel wherever the URL is shown.
    check(out, s.smtp.url.find('@') == std::string::npos, "smtp.url",
          "credentials go in smtp.user and smtp.password(-file), not in the URL");
    if (s.smtp.from.empty())
      out.push_back("smtp.from: required with email.transport=smtp (the From address)");
    else
      check_result(out, mail::parse_sender(s.smtp.from), "smtp.from");
    check(out, s.smtp.password.empty() || s.smtp.password_file.empty(), "smtp.password",
          "set smtp.password or smtp.password-file, not both");
    check(out, s.smtp.user.empty() == (s.smtp.password.empty() && s.smtp.password_file.empty()),
          "smtp.user",
          "smtp.user and a password (smtp.password or smtp.password-file) go together");
    if (!s.smtp.password_file.empty()) check_result(out, smtp_password_of(s), "smtp.password-file");
    check(out, s.smtp.ca.empty() || ::access(s.smtp.ca.c_str(), R_OK) == 0, "smtp.ca",
          "cannot read " + s.smtp.ca);
    check(out, s.smtp.starttls == "required" || s.smtp.starttls == "optional", "smtp.starttls",
          "'" + s.smtp.starttls + "' is not required or optional");
    check(out, s.email.api == "single", "email.api",
          "the SMTP transport sends one message per greeting: email.api must be single");
  }
}

// schedule.*, records.*, occasions.*: what is sent when.
void check_schedule(const settings& s, std::vector<std::string>& out) {
  using namespace std::chrono;
  check(out, s.schedule.partitions >= 1 && s.schedule.partitions <= 65536, "schedule.partitions",
        "must be between 1 and 65536");
  check(out, s.schedule.lookahead >= minutes{1}, "schedule.lookahead", "must be at least 1min");
  check(out,
        s.schedule.claim_ahead >= nanoseconds::zero() &&
            s.schedule.claim_ahead <= s.schedule.lookahead / 2,
        "schedule.claim-ahead", "must be between 0 and half of schedule.lookahead");
  check(out, s.schedule.recovery_window >= nanoseconds::zero(), "schedule.recovery-window",
        "must not be negative");
  check_result(out, parse_feb29_policy(s.schedule.feb29), "schedule.feb29");
  check(out, s.records.keep_years >= 1 && s.records.keep_years <= 1000, "records.keep-years",
        "must be between 1 and 1000 (past years of send records kept besides the current one)");
  check_result(out, parse_time_of_day(s.occasions.birthday_send_at), "occasions.birthday.send-at");
  check_result(out, parse_time_of_day(s.occasions.anniversary_send_at),
               "occasions.anniversary.send-at");
}

// clock.*: the engine clock.
void check_clock(const settings& s, std::vector<std::string>& out) {
  check(out, s.clock.mode == "system" || s.clock.mode == "simulated", "clock.mode",
        "'" + s.clock.mode + "' is not a clock mode (system or simulated)");
  if (!s.clock.start.empty()) check_result(out, parse_instant(s.clock.start), "clock.start");
  check(out, std::isfinite(s.clock.speed) && s.clock.speed >= 0, "clock.speed",
        "must be a finite number >= 0");
}

// cluster.*, tls.*, admin.*, webhooks.*: the cluster and who may talk to it.
void check_cluster(const settings& s, std::vector<std::string>& out) {
  check(out, !s.cluster.advertise.empty(), "cluster.advertise", "must not be empty");
  // contract.md "Security": TLS is all three options or none; cluster
  // traffic leaves loopback only over it.
  auto tls_given = static_cast<int>(!s.tls.certificate.empty()) +
                   static_cast<int>(!s.tls.key.empty()) + static_cast<int>(!s.tls.ca.empty());
  check(out, tls_given == 0 || tls_given == 3, "tls",
        "set tls.certificate, tls.key and tls.ca together (or none of them)");
  for (const auto& [name, file] :
       {std::pair{"tls.certificate", &s.tls.certificate}, std::pair{"tls.key", &s.tls.key},
        std::pair{"tls.ca", &s.tls.ca}})
    check(out, file->empty() || ::access(file->c_str(), R_OK) == 0, name, "cannot read " + *file);
  check(out, s.cluster.port == 0 || is_loopback(s.cluster.advertise) || tls_given == 3,
        "cluster.advertise",
        "'" + s.cluster.advertise +
            "' is not a loopback address: cluster traffic off loopback needs mutual TLS "
            "(tls.certificate, tls.key, tls.ca)");
  check(out, s.admin.token.empty() || s.admin.token.size() >= 16, "admin.token",
        "must be at least 16 characters");
  if (!s.webhooks.secret.empty())
    check_result(out, webhook::parse_secrets(s.webhooks.secret), "webhooks.secret");
  check(out, s.cluster.port == 0 || !s.db.url.empty(), "cluster.port",
        "a cluster needs a shared database: set db.url (the embedded one is this node's alone)");
  check(out,
        s.cluster.lease_ttl >= std::chrono::seconds{3} &&
            s.cluster.lease_ttl <= std::chrono::hours{1},
        "cluster.lease-ttl", "must be between 3s and 1h");
  check(out,
        s.cluster.node_id.size() <= 100 &&
            std::all_of(s.cluster.node_id.begin(), s.cluster.node_id.end(),
                        [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                                 c == '_' || c == '.';
                        }),
        "cluster.node-id", "at most 100 characters of letters, digits, '-', '_' and '.'");
}

// log.*: what is logged and how.
void check_log(const settings& s, std::vector<std::string>& out) {
  static const char* levels[] = {"trace", "debug", "info", "warn", "error", "off"};
  bool level_ok = false;
  for (auto l : levels)
    level_ok = level_ok || s.log.level == l;
  check(out, level_ok, "log.level", "must be one of trace, debug, info, warn, error, off");
  check(out, s.log.format == "logfmt" || s.log.format == "json", "log.format",
        "must be logfmt or json");
}

} // namespace

std::vector<std::string> validate(const settings& s) {
  std::vector<std::string> out;
  check_http(s, out);
  check_db(s, out);
  check_email(s, out);
  check_schedule(s, out);
  check_clock(s, out);
  check_cluster(s, out);
  check_log(s, out);
  return out;
}

feb29_policy feb29_of(const settings& s) {
  auto p = parse_feb29_policy(s.schedule.feb29);
  return p ? *p : feb29_policy::feb28;
}

time_of_day send_at_of(const settings& s, std::string_view occasion) {
  auto text =
      occasion == "anniversary" ? s.occasions.anniversary_send_at : s.occasions.birthday_send_at;
  auto t = parse_time_of_day(text);
  return t ? *t : time_of_day{9, 0};
}

result<std::string> smtp_password_of(const settings& s) {
  if (s.smtp.password_file.empty()) return s.smtp.password;
  std::ifstream in{s.smtp.password_file};
  if (!in) return error{errc::invalid_argument, "cannot read " + s.smtp.password_file};
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty())
    return error{errc::invalid_argument, s.smtp.password_file + " holds no password"};
  return line;
}

std::optional<sys_millis> clock_start_of(const settings& s) {
  if (s.clock.start.empty()) return std::nullopt;
  auto t = parse_instant(s.clock.start);
  return t ? std::optional<sys_millis>{*t} : std::nullopt;
}

} // namespace candle
