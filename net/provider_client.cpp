#include "net/provider_client.hpp"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <curl/curl.h>
#include <deque>
#include <mutex>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

namespace candle::net {

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t on_body(char* data, size_t size, size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() < 4096) // enough for an error message
    body->append(data, std::min(size * n, 4096 - body->size()));
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* out) {
  std::string line{data, size * n};
  constexpr const char* name = "retry-after:";
  if (line.size() > 12) {
    bool match = true;
    for (size_t i = 0; i < 12 && match; ++i)
      match = std::tolower(static_cast<unsigned char>(line[i])) == name[i];
    if (match) {
      auto v = std::strtol(line.c_str() + 12, nullptr, 10); // delta-seconds form
      if (v > 0) *static_cast<int64_t*>(out) = std::min<long>(v, 3600) * 1000;
    }
  }
  return size * n;
}

struct job {
  std::string key, body;
  std::function<bool()> may_send; // empty = always
  provider_client::callback done;
};

// One transfer: its easy handle (reused across transfers) and buffers.
struct transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body, response;
  int64_t retry_after = 0;
  provider_client::callback done;
  std::chrono::steady_clock::time_point start;
  std::function<bool()> may_send; // empty = always
  bool fenced = false;            // may_send() said no just before the request
  size_t body_sent = 0;           // of `body`, handed to libcurl
};

bool refused(const std::function<bool()>& may_send) {
  return may_send && !may_send();
}

// Called by libcurl once connected, before the request is sent: a fenced
// greeting stays off the wire.
int before_request(void* clientp, char*, char*, int, int) {
  auto* t = static_cast<transfer*>(clientp);
  t->fenced = refused(t->may_send);
  return t->fenced ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

// libcurl asks for the body when it is about to write the request, which can
// be a loop turn after before_request (a process paused in between would
// send on resuming): asked once more here, a fenced request is cut before it
// is complete, and a provider acts on complete requests only.
size_t read_body(char* out, size_t size, size_t n, void* clientp) {
  auto* t = static_cast<transfer*>(clientp);
  if (t->body_sent == 0 && refused(t->may_send)) {
    t->fenced = true;
    return CURL_READFUNC_ABORT;
  }
  auto k = std::min(size * n, t->body.size() - t->body_sent);
  std::memcpy(out, t->body.data() + t->body_sent, k);
  t->body_sent += k;
  return k;
}

} // namespace

provider_answer::kind classify(long status) {
  if (status >= 200 && status < 300) return provider_answer::sent;
  if (status == 408 || status == 429 || status >= 500 || status == 0)
    return provider_answer::transient;
  return provider_answer::permanent;
}

// libcurl's socket interface on epoll: each wake-up touches only the sockets
// that are ready (curl_multi_perform + poll walk every transfer, which cost
// O(in-flight) per answer at 256 in flight; seen with perf in bench/burst.sh).
struct provider_client::impl {
  std::string url;
  std::string user_agent;
  long timeout_ms;
  size_t max_in_flight;
  CURLM* multi = nullptr;
  int ep = -1;   // epoll instance: curl's sockets and `wake`
  int wake = -1; // eventfd: new work or stop
  bool timer_set = false;
  std::chrono::steady_clock::time_point timer_at;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<size_t> running{0};
  mutable std::mutex mtx;
  std::deque<job> queue;                         // guarded by mtx
  std::vector<std::unique_ptr<transfer>> idle;   // thread only
  std::vector<std::unique_ptr<transfer>> active; // thread only

  std::unique_ptr<transfer> take_idle() {
    if (!idle.empty()) {
      auto t = std::move(idle.back());
      idle.pop_back();
      return t;
    }
    auto t = std::make_unique<transfer>();
    t->easy = curl_easy_init();
    auto* c = t->easy;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(c, CURLOPT_USERAGENT, user_agent.c_str());
    curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, before_request);
    curl_easy_setopt(c, CURLOPT_PREREQDATA, t.get());
    return t;
  }

  void start(job&& j) {
    if (refused(j.may_send)) {
      provider_answer a;
      a.error = "fenced: the sender's lease may have expired";
      a.fenced = true;
      j.done(std::move(a));
      return;
    }
    auto t = take_idle();
    t->may_send = std::move(j.may_send);
    t->fenced = false;
    if (t->headers) curl_slist_free_all(t->headers);
    t->headers = curl_slist_append(nullptr, "Content-Type: application/json");
    t->headers = curl_slist_append(t->headers, ("Idempotency-Key: " + j.key).c_str());
    t->headers = curl_slist_append(t->headers, "Expect:"); // no 100-continue round trip
    t->body = std::move(j.body);
    t->response.clear();
    t->retry_after = 0;
    t->done = std::move(j.done);
    t->start = std::chrono::steady_clock::now();
    auto* c = t->easy;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers);
    t->body_sent = 0;
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(c, CURLOPT_READDATA, t.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(t->body.size()));
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t->response);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t->retry_after);
    curl_multi_add_handle(multi, c);
    active.push_back(std::move(t));
    ++running;
  }

  void finish(CURL* easy, CURLcode rc) {
    transfer* t = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    curl_multi_remove_handle(multi, easy);
    provider_answer a;
    a.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t->start).count();
    if (rc != CURLE_OK) {
      a.result = provider_answer::transient;
      a.error = std::string{"transport: "} + curl_easy_strerror(rc);
      a.fenced = rc == CURLE_ABORTED_BY_CALLBACK && t->fenced;
    } else {
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &a.status);
      a.result = classify(a.status);
      a.retry_after_ms = t->retry_after;
      if (a.result != provider_answer::sent)
        a.error =
            "HTTP " + std::to_string(a.status) + (t->response.empty() ? "" : ": " + t->response);
    }
    auto done = std::move(t->done);
    for (auto it = active.begin(); it != active.end(); ++it)
      if (it->get() == t) {
        idle.push_back(std::move(*it));
        active.erase(it);
        break;
      }
    --running;
    done(std::move(a));
  }

  static int on_socket(CURL*, curl_socket_t s, int what, void* userp, void*) {
    auto* self = static_cast<impl*>(userp);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(self->ep, EPOLL_CTL_DEL, s, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.data.fd = s;
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    if (epoll_ctl(self->ep, EPOLL_CTL_MOD, s, &ev) != 0) epoll_ctl(self->ep, EPOLL_CTL_ADD, s, &ev);
    return 0;
  }

  static int on_timer(CURLM*, long ms, void* userp) {
    auto* self = static_cast<impl*>(userp);
    self->timer_set = ms >= 0;
    if (ms >= 0) self->timer_at = std::chrono::steady_clock::now() + std::chrono::milliseconds{ms};
    return 0;
  }

  void notify() {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake, &one, sizeof one);
  }

  // Starts queued work while slots are free.
  void start_queued() {
    std::unique_lock<std::mutex> g{mtx};
    while (active.size() < max_in_flight && !queue.empty()) {
      auto j = std::move(queue.front());
      queue.pop_front();
      g.unlock();
      start(std::move(j));
      g.lock();
    }
  }

  void collect() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left))
      if (m->msg == CURLMSG_DONE) finish(m->easy_handle, m->data.result);
  }

  void loop() {
    constexpr int max_events = 128;
    epoll_event events[max_events];
    int still = 0;
    while (!stop) {
      start_queued();
      int wait_ms = 1000;
      if (timer_set) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        timer_at - std::chrono::steady_clock::now())
                        .count();
        wait_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 1000));
      }
      int n = epoll_wait(ep, events, max_events, wait_ms);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == wake) {
          uint64_t count = 0;
          [[maybe_unused]] auto r = ::read(wake, &count, sizeof count);
          continue;
        }
        int mask = 0;
        if (events[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
        curl_multi_socket_action(multi, fd, mask, &still);
      }
      if (timer_set && std::chrono::steady_clock::now() >= timer_at) {
        timer_set = false;
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &still);
      }
      collect();
    }
  }

  ~impl() {
    for (auto& t : active) {
      curl_multi_remove_handle(multi, t->easy);
      provider_answer a;
      a.error = "shutdown";
      if (t->done) t->done(std::move(a));
    }
    for (auto& j : queue) {
      provider_answer a;
      a.error = "shutdown";
      j.done(std::move(a));
    }
    for (auto* list : {&active, &idle})
      for (auto& t : *list) {
        if (t->headers) curl_slist_free_all(t->headers);
        curl_easy_cleanup(t->easy);
      }
    if (multi) curl_multi_cleanup(multi);
    if (ep >= 0) ::close(ep);
    if (wake >= 0) ::close(wake);
  }
};

provider_client::provider_client(std::string url, std::chrono::milliseconds timeout,
                                 size_t max_in_flight, std::string user_agent)
    : impl_(std::make_unique<impl>()) {
  global_init();
  impl_->url = std::move(url);
  impl_->user_agent = std::move(user_agent);
  impl_->timeout_ms = static_cast<long>(timeout.count());
  impl_->max_in_flight = std::max<size_t>(1, max_in_flight);
  impl_->multi = curl_multi_init();
  // Keep as many idle connections as there may be transfers.
  curl_multi_setopt(impl_->multi, CURLMOPT_MAXCONNECTS, static_cast<long>(impl_->max_in_flight));
  impl_->ep = epoll_create1(EPOLL_CLOEXEC);
  impl_->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl_->ep < 0 || impl_->wake < 0)
    throw std::system_error(errno, std::generic_category(), "provider client: epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = impl_->wake;
  epoll_ctl(impl_->ep, EPOLL_CTL_ADD, impl_->wake, &ev);
  curl_multi_setopt(impl_->multi, CURLMOPT_SOCKETFUNCTION, &impl::on_socket);
  curl_multi_setopt(impl_->multi, CURLMOPT_SOCKETDATA, impl_.get());
  curl_multi_setopt(impl_->multi, CURLMOPT_TIMERFUNCTION, &impl::on_timer);
  curl_multi_setopt(impl_->multi, CURLMOPT_TIMERDATA, impl_.get());
  impl_->thread = std::thread{[this] { impl_->loop(); }};
}

provider_client::~provider_client() {
  impl_->stop = true;
  impl_->notify();
  impl_->thread.join();
}

void provider_client::post(std::string key, std::string email, std::string message, callback done) {
  post(std::move(key), std::move(email), std::move(message), {}, std::move(done));
}

void provider_client::post(std::string key, std::string email, std::string message,
                           std::function<bool()> may_send, callback done) {
  auto body = boost::json::serialize(boost::json::object{{"email", email}, {"message", message}});
  bool was_empty = false;
  {
    std::lock_guard<std::mutex> g{impl_->mtx};
    was_empty = impl_->queue.empty();
    impl_->queue.push_back({std::move(key), std::move(body), std::move(may_send), std::move(done)});
  }
  // A non-empty queue is drained before the client thread waits again (or
  // waits for a slot, which an answer frees): one wake-up per burst of posts.
  if (was_empty) impl_->notify();
}

size_t provider_client::in_flight() const {
  return impl_->running;
}

} // namespace candle::net
