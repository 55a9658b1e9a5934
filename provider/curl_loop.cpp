#include "provider/curl_loop.hpp"

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <string>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <system_error>
#include <unistd.h>

namespace candle::net {

namespace {
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}
} // namespace

curl_loop::curl_loop(size_t max_connections, const char* who) {
  global_init();
  multi_ = curl_multi_init();
  // Keep as many idle connections as there may be transfers.
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(max_connections));
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ep_ < 0 || wake_ < 0) {
    auto err = errno;
    if (ep_ >= 0) ::close(ep_);
    if (wake_ >= 0) ::close(wake_);
    curl_multi_cleanup(multi_);
    throw std::system_error(err, std::generic_category(), std::string{who} + ": epoll/eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_;
  epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &curl_loop::on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &curl_loop::on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

curl_loop::~curl_loop() {
  stop();
  curl_multi_cleanup(multi_);
  ::close(ep_);
  ::close(wake_);
}

void curl_loop::run(hooks h) {
  hooks_ = std::move(h);
  thread_ = std::thread{[this] { loop(); }};
}

void curl_loop::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);
}

void curl_loop::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  wake();
  thread_.join();
}

int curl_loop::on_socket(CURL*, curl_socket_t s, int what, void* userp, void*) {
  auto* self = static_cast<curl_loop*>(userp);
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(self->ep_, EPOLL_CTL_DEL, s, nullptr);
    return 0;
  }
  epoll_event ev{};
  ev.data.fd = s;
  ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  if (epoll_ctl(self->ep_, EPOLL_CTL_MOD, s, &ev) != 0) epoll_ctl(self->ep_, EPOLL_CTL_ADD, s, &ev);
  return 0;
}

int curl_loop::on_timer(CURLM*, long ms, void* userp) {
  auto* self = static_cast<curl_loop*>(userp);
  self->timer_set_ = ms >= 0;
  if (ms >= 0) self->timer_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds{ms};
  return 0;
}

void curl_loop::loop() {
  constexpr int max_events = 128;
  epoll_event events[max_events];
  int still = 0;
  while (!stop_) {
    hooks_.start_queued();
    int wait_ms = 1000;
    if (timer_set_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      timer_at_ - std::chrono::steady_clock::now())
                      .count();
      wait_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 1000));
    }
    int n = epoll_wait(ep_, events, max_events, wait_ms);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_) {
        uint64_t count = 0;
        [[maybe_unused]] auto r = ::read(wake_, &count, sizeof count);
        continue;
      }
      int mask = 0;
      if (events[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
      if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
      curl_multi_socket_action(multi_, fd, mask, &still);
    }
    if (timer_set_ && std::chrono::steady_clock::now() >= timer_at_) {
      timer_set_ = false;
      curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &still);
    }
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &left))
      if (m->msg == CURLMSG_DONE) hooks_.finished(m->easy_handle, m->data.result);
  }
}

} // namespace candle::net
