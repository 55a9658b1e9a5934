// A small asynchronous HTTP/1.1 server on Boost.Beast, running on its own
// threads so that nothing it does blocks CAF's workers. Handlers answer
// through a responder that may be called from any thread (e.g. from a CAF
// reply), exactly once. The server object must outlive every responder it
// handed out: stop() ends the threads, destruction frees the io_context.
#pragma once

#include "core/result.hpp"
#include "net/envelope.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace candle::net {

using responder = std::function<void(response)>;

/// A response that is never sent: the server resets the connection (RST)
/// instead, as a crashed or overloaded peer would. For fault injection
/// (candle-mock-provider --reset-rate).
response connection_reset();
using handler = std::function<void(request&&, responder)>;

struct server_options {
  std::string host = "127.0.0.1";
  uint16_t port = 0; ///< 0 = any free port
  unsigned threads = 1;
  size_t body_limit = 64 * 1024; ///< larger bodies get 413
  /// Per-path exceptions to body_limit: (exact target path, limit).
  std::vector<std::pair<std::string, size_t>> body_limits{};
  size_t header_limit = 16 * 1024; ///< larger headers get 431
  /// Time allowed to receive one whole request (defeats slow clients).
  std::chrono::milliseconds request_timeout{10'000};
  /// Time a keep-alive connection may sit idle between requests.
  std::chrono::milliseconds idle_timeout{60'000};
  /// Requests per second per client address (0 = unlimited), and how many
  /// at once; beyond: 429 with Retry-After, the connection stays open.
  double rate_per_client = 0;
  double burst_per_client = 0; ///< 0 = twice the rate
  /// Open connections per client address and in all (0 = no cap); beyond:
  /// 503 and the connection is closed.
  size_t max_connections_per_client = 256;
  size_t max_connections = 1024;
};

class http_server {
public:
  http_server(server_options opts, handler h);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds, listens and starts the threads. Returns the bound port.
  result<uint16_t> start();
  /// Stops accepting, closes connections and joins the threads. Idempotent.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace candle::net
