// One connection's worth of email provider client: POST {email, message}
// with the greeting's Idempotency-Key, classify the answer. Blocking (libcurl
// easy handle, reused so the connection is kept alive); one per delivery
// worker thread. TLS works for https:// providers.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace candle::net {

struct provider_answer {
  enum kind { sent, transient, permanent } result = transient;
  long status = 0;            ///< HTTP status; 0 when no answer arrived
  std::string error;          ///< why it was not sent
  int64_t retry_after_ms = 0; ///< from a Retry-After header (seconds form)
};

/// 2xx sent; 408, 429 and 5xx transient; any other status permanent.
provider_answer::kind classify(long status);

class provider_client {
public:
  provider_client(std::string url, std::chrono::milliseconds timeout);
  ~provider_client();
  provider_client(const provider_client&) = delete;
  provider_client& operator=(const provider_client&) = delete;

  provider_answer post(const std::string& key, const std::string& email,
                       const std::string& message);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace candle::net
