// Candle's configuration values as a plain struct (no CAF), with the defaults
// of contract.md, "Configuration". config.hpp binds each field to a CAF
// option; validate() checks what the option parser cannot.
#pragma once

#include "core/occurrence.hpp"
#include "core/result.hpp"
#include "core/time.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace candle {

struct settings {
  struct http_group {
    std::string host = "127.0.0.1";
    uint16_t port = 8080;                      ///< 0 = pick a free port and print it
    double rate_per_client = 0;                ///< requests/s per client address; 0 = unlimited
    double burst_per_client = 0;               ///< 0 = twice the rate
    uint32_t max_connections_per_client = 256; ///< 0 = no cap
    uint32_t max_connections = 1024;           ///< 0 = no cap
  } http;
  struct db_group {
    std::string url;              ///< empty = embedded PostgreSQL in `dir`
    std::string dir = "./var/pg"; ///< embedded data directory
    uint32_t connections = 8;     ///< PostgreSQL connections for claims, outcomes and the API
  } db;
  struct email_group {
    std::string url = "http://127.0.0.1:8025/send-email";
    std::chrono::nanoseconds timeout = std::chrono::seconds{10};
    uint32_t max_in_flight = 256;
    std::string api = "single"; ///< single | batch (contract.md "Email provider")
    uint32_t batch_size = 500;  ///< greetings per request with api = batch
    double rate = 0;            ///< greetings per second for the whole cluster; 0 = no limit
    uint32_t max_attempts = 12;
    uint32_t breaker_threshold = 5;
    std::chrono::nanoseconds breaker_cooldown = std::chrono::seconds{1};
    bool paused = false;
    std::string transport = "http"; ///< http (the provider APIs) | smtp
  } email;
  /// email.transport=smtp (contract.md, "Email provider").
  struct smtp_group {
    std::string url;                   ///< smtp://host:port (STARTTLS) or smtps://host:port
    std::string user;                  ///< AUTH user; empty = no AUTH
    std::string password;              ///< never printed or logged
    std::string password_file;         ///< or the password from this file (first line)
    std::string from;                  ///< "address" or "Name <address>"
    std::string ca;                    ///< PEM bundle for a private CA; empty = the system's
    std::string starttls = "required"; ///< required (but loopback) | optional
  } smtp;
  struct schedule_group {
    uint32_t partitions = 256;
    std::chrono::nanoseconds lookahead = std::chrono::hours{48};
    std::chrono::nanoseconds recovery_window = std::chrono::hours{48};
    std::chrono::nanoseconds claim_ahead = std::chrono::seconds{0};
    std::string feb29 = "feb28";
  } schedule;
  /// Send records, kept by year (schema v9).
  struct records_group {
    uint32_t keep_years = 3; ///< past years kept besides the current one; older are dropped
  } records;
  struct occasions_group {
    std::string birthday_send_at = "09:00";
    std::string anniversary_send_at = "09:00";
  } occasions;
  struct clock_group {
    std::string mode = "system"; ///< system | simulated
    std::string start;           ///< ISO-8601 UTC; empty = now
    double speed = 1.0;          ///< 0 = frozen
  } clock;
  struct cluster_group {
    uint16_t port = 0; ///< 0 = off
    std::string advertise = "127.0.0.1";
    std::chrono::nanoseconds lease_ttl = std::chrono::seconds{15};
    std::string node_id; ///< empty = host-pid-random (embedded: kept in db.dir)
  } cluster;
  struct console_group {
    uint16_t port = 4242; ///< 0 = off
  } console;
  struct admin_group {
    bool fault_injection = false; ///< enables POST /api/v1/admin/crash/{actor}
    std::string token;            ///< bearer token for /api/v1/admin/*; never printed or logged
  } admin;
  struct webhooks_group {
    std::string secret; ///< whsec_… (several: rotation); "" = the endpoint is off; never printed
  } webhooks;
  struct tls_group {
    std::string certificate, key, ca; ///< PEM files; all or none
  } tls;
  struct log_group {
    std::string level = "info";    ///< trace | debug | info | warn | error | off
    std::string format = "logfmt"; ///< logfmt | json (one object per line)
  } log;
};

/// Checks the values the option parser accepts but Candle does not (an
/// unknown clock mode, a send time of 25:00, …). One message per problem,
/// each naming its option; empty when all is well.
std::vector<std::string> validate(const settings& s);

/// Typed views of validated text options.
feb29_policy feb29_of(const settings& s);
time_of_day send_at_of(const settings& s, std::string_view occasion);
/// The SMTP password: smtp.password, or the first line of smtp.password-file.
result<std::string> smtp_password_of(const settings& s);

/// The simulated clock's start, or nullopt for "now".
std::optional<sys_millis> clock_start_of(const settings& s);

} // namespace candle
