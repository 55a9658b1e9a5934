// The email provider client: POST {email, message} with the greeting's
// Idempotency-Key and classify the answer, or many greetings in one POST to
// {url}/batch (contract.md, "Email provider"). Asynchronous: one thread drives a
// libcurl multi handle with at most `max_in_flight` transfers at once (more
// wait in a queue), reusing connections (keep-alive) and easy handles; every
// request has `timeout`. TLS works for https:// providers. Answers arrive on
// the client's thread through each request's callback.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace candle::net {

struct provider_answer {
  enum kind { sent, transient, permanent } result = transient;
  long status = 0;            ///< HTTP status; 0 when no answer arrived
  std::string error;          ///< why it was not sent
  int64_t retry_after_ms = 0; ///< from a Retry-After header (seconds form)
  double seconds = 0;         ///< time from start to answer
  bool fenced = false;        ///< not sent: the caller's may_send() said no
};

/// 2xx sent; 408, 429 and 5xx transient; any other status permanent.
provider_answer::kind classify(long status);

/// One greeting of a batch request.
struct batch_message {
  std::string key, email, message;
};

/// Per-greeting answers from a batch response body (`{"results": [{"key",
/// "status", "error"?}]}`, any order), in `keys`' order. A greeting the body
/// does not answer, or answers twice differently, is transient; an unreadable
/// body makes every greeting transient.
std::vector<provider_answer> read_batch_results(const std::string& body,
                                                const std::vector<std::string>& keys);

class provider_client {
public:
  using callback = std::function<void(provider_answer)>;

  provider_client(std::string url, std::chrono::milliseconds timeout, size_t max_in_flight,
                  std::string user_agent = "candled");
  /// Stops the thread; requests not answered yet get a transient "shutdown".
  ~provider_client();
  provider_client(const provider_client&) = delete;
  provider_client& operator=(const provider_client&) = delete;

  /// Queues one request (thread-safe). `done` is called exactly once.
  void post(std::string key, std::string email, std::string message, callback done);
  /// The same, but nothing goes on the wire unless `may_send()` (a transient
  /// "fenced" answer instead): asked when the transfer starts and again just
  /// before the request is written, on the client's thread.
  void post(std::string key, std::string email, std::string message, std::function<bool()> may_send,
            callback done);

  /// Many greetings in one POST to {url}/batch. `done` is called exactly once
  /// with one answer per message, in order: a whole-request failure (non-2xx,
  /// timeout, transport, fenced) is every message's answer.
  using batch_callback = std::function<void(std::vector<provider_answer>)>;
  void post_batch(std::vector<batch_message> messages, std::function<bool()> may_send,
                  batch_callback done);

  /// Transfers running now.
  size_t in_flight() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace candle::net
