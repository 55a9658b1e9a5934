// The SMTP transport (email.transport=smtp; contract.md, "Email provider"):
// one message per greeting through any mail server or provider relay.
// Asynchronous like provider_client: one thread drives a libcurl multi handle
// with at most `max_in_flight` transfers at once (more wait in a queue),
// and easy handles are reused, so their SMTP connections stay open in the
// multi handle's connection cache and carry message after message (no
// connect, EHLO, TLS handshake or AUTH per greeting). STARTTLS is required
// (smtp://) unless the server is on loopback or `starttls_optional`;
// smtps:// is TLS from the start; certificates are verified (`ca` adds a
// private CA bundle). Answers arrive on the client's thread through each
// message's callback, classified by mail::classify_reply with the server's
// own reply text.
#pragma once

#include "provider/provider_client.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace candle::net {

struct smtp_options {
  std::string url; ///< smtp://host:port or smtps://host:port
  std::string user, password;
  std::string ca;                 ///< PEM bundle; empty = the system's
  bool starttls_optional = false; ///< smtp.starttls=optional
  std::chrono::milliseconds timeout{10'000};
  size_t max_in_flight = 256;
};

/// Whether `url` names a loopback host (127.0.0.0/8, ::1, localhost).
bool smtp_url_is_loopback(const std::string& url);

/// One SMTP transfer's answer: `status` is the last reply code (0 = none),
/// `error` the server's reply text or the transport error, `suppress` a
/// 5.1.1-style unknown mailbox.
struct smtp_answer : provider_answer {
  bool suppress = false;
};

class smtp_client {
public:
  using callback = std::function<void(smtp_answer)>;

  explicit smtp_client(smtp_options opts);
  /// Stops the thread; messages not answered yet get a transient "shutdown".
  ~smtp_client();
  smtp_client(const smtp_client&) = delete;
  smtp_client& operator=(const smtp_client&) = delete;

  /// Queues one message (thread-safe): `message` is the whole RFC 5322 text
  /// (mail::build_message), `from` and `to` the checked envelope addresses.
  /// Nothing goes on the wire unless `may_send()` (empty = always): asked
  /// when the transfer starts, again once the connection is ready, and once
  /// more when the message text is first asked for (after RCPT TO, before
  /// any of it is written; a message cut there is never delivered). `done`
  /// is called exactly once.
  void send(std::string from, std::string to, std::string message, std::function<bool()> may_send,
            callback done);

  /// Transfers running now.
  size_t in_flight() const;
  /// Connections libcurl opened so far (each reused as long as it lives).
  size_t connections_opened() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace candle::net
