// Posts signed delivery events (contract.md, "Delivery events") to a node:
// the mock provider's loop back to Candle and tools/replay-events use it.
// One keep-alive connection per client; not thread-safe (one per thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace candle::net {

class webhook_client {
public:
  /// `key`: the raw HMAC key (core/webhook.hpp parse_secrets).
  webhook_client(std::string url, std::string key);
  ~webhook_client();
  webhook_client(const webhook_client&) = delete;
  webhook_client& operator=(const webhook_client&) = delete;

  struct reply {
    long status = 0; ///< 0: no HTTP answer (see error)
    std::string body;
    std::string error;
    double seconds = 0; ///< request to full answer
  };
  /// POSTs `body` with webhook-id `id`, webhook-timestamp `timestamp_s`
  /// and its v1 signature.
  reply post(const std::string& body, const std::string& id, int64_t timestamp_s);
  /// GETs `url` on the same connection (reading back what was posted).
  reply get(const std::string& url);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace candle::net
