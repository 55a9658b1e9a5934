// One thread driving a libcurl multi handle on epoll, for the clients that
// keep many transfers in flight (provider_client, smtp_client): libcurl's
// socket interface, so each wake-up touches only the sockets that are ready
// (curl_multi_perform + poll walk every transfer, which cost O(in-flight)
// per answer at 256 in flight; seen with perf in bench/burst.sh), its timer,
// and an eventfd that wakes the thread for new work or to stop.
//
// The owner keeps its queue and transfers; the loop calls `start_queued`
// before each wait and `finished` for each transfer libcurl is done with,
// both on the loop's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <curl/curl.h>
#include <functional>
#include <thread>

namespace candle::net {

/// Whether a transfer may still go out: `may_send` (empty: always), the
/// sender's lease as it is now (core/fence.hpp). Both clients ask when a job
/// is taken (`refused`), once the connection is ready (arm(): libcurl's
/// CURLOPT_PREREQFUNCTION, before the request or MAIL FROM), and once more
/// when libcurl first reads the body, which can be a loop turn later (a
/// process paused in between would send on resuming): a fenced transfer is
/// cut before it is complete, and a provider or SMTP server acts on complete
/// requests only.
struct transfer_fence {
  std::function<bool()> may_send; ///< empty = always
  bool fenced = false;            ///< may_send() said no just before the request

  /// Asks now: true (and `fenced`) when the transfer must not go out.
  bool refuse() {
    fenced = refused(may_send);
    return fenced;
  }
  static bool refused(const std::function<bool()>& may_send) { return may_send && !may_send(); }
  /// Makes `easy` ask this fence once its connection is ready.
  void arm(CURL* easy) {
    curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, before_request);
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, this);
  }

private:
  static int before_request(void* clientp, char*, char*, int, int) {
    return static_cast<transfer_fence*>(clientp)->refuse() ? CURL_PREREQFUNC_ABORT
                                                           : CURL_PREREQFUNC_OK;
  }
};

class curl_loop {
public:
  struct hooks {
    std::function<void()> start_queued;
    std::function<void(CURL*, CURLcode)> finished;
  };

  /// A multi handle keeping up to `max_connections` idle connections; `who`
  /// names the client in a failure to create the epoll instance or eventfd.
  curl_loop(size_t max_connections, const char* who);
  /// Stops the thread (if running), then frees the multi handle: remove the
  /// transfers from it before (in the owner's destructor, after stop()).
  ~curl_loop();
  curl_loop(const curl_loop&) = delete;
  curl_loop& operator=(const curl_loop&) = delete;

  CURLM* multi() const { return multi_; }
  /// Starts the thread.
  void run(hooks h);
  /// Wakes the thread: new work is queued.
  void wake();
  /// Ends the thread and waits for it; idempotent.
  void stop();

private:
  static int on_socket(CURL*, curl_socket_t s, int what, void* userp, void*);
  static int on_timer(CURLM*, long ms, void* userp);
  void loop();

  hooks hooks_;
  CURLM* multi_ = nullptr;
  int ep_ = -1;   // epoll instance: curl's sockets and `wake_`
  int wake_ = -1; // eventfd: new work or stop
  bool timer_set_ = false;
  std::chrono::steady_clock::time_point timer_at_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace candle::net
