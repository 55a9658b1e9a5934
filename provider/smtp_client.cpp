#include "provider/smtp_client.hpp"

#include "core/mail.hpp"
#include "provider/curl_loop.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <curl/curl.h>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

namespace candle::net {

namespace {

constexpr size_t reply_cap = 512;

struct job {
  std::string from, to, message;
  std::function<bool()> may_send; // empty = always
  smtp_client::callback done;
};

// One transfer: its easy handle (reused, and with it its connection) and buffers.
struct transfer {
  CURL* easy = nullptr;
  curl_slist* rcpt = nullptr;
  std::string from, message;
  size_t sent = 0;        // of `message`, handed to libcurl
  bool reading = false;   // libcurl asked for the message: DATA was accepted
  std::string reply;      // the server's last reply (all its lines)
  bool reply_done = true; // the last line read ended a reply
  std::string refusal;    // the first complete 4xx/5xx reply: what failed the transfer
  char errbuf[CURL_ERROR_SIZE];
  smtp_client::callback done;
  transfer_fence fence; // asked before MAIL FROM and before DATA's message
  std::chrono::steady_clock::time_point start;
};

// The message, asked for after the server accepted DATA: the fence is asked
// once more, so a fenced message is cut before any of it is written (the
// server drops an incomplete DATA).
size_t read_message(char* out, size_t size, size_t n, void* clientp) {
  auto* t = static_cast<transfer*>(clientp);
  if (!t->reading) {
    t->reading = true;
    if (t->fence.refuse()) return CURL_READFUNC_ABORT;
  }
  auto k = std::min(size * n, t->message.size() - t->sent);
  std::memcpy(out, t->message.data() + t->sent, k);
  t->sent += k;
  return k;
}

// libcurl hands SMTP reply lines to the header callback: the last reply
// (every line of a multi-line one) is the server's text for an answer.
size_t on_reply_line(char* data, size_t size, size_t n, void* clientp) {
  auto* t = static_cast<transfer*>(clientp);
  std::string_view line{data, size * n};
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.remove_suffix(1);
  if (t->reply_done) t->reply.clear();
  if (!t->reply.empty()) t->reply += ' ';
  if (t->reply.size() < reply_cap)
    t->reply.append(line.substr(0, reply_cap - std::min(reply_cap, t->reply.size())));
  // "250-..." continues a reply, "250 ..." (or a bare code) ends it.
  t->reply_done = !(line.size() > 3 && line[3] == '-');
  // The first refusal is kept: after it libcurl may still QUIT ("221 Bye").
  if (t->reply_done && t->refusal.empty() && !t->reply.empty() &&
      (t->reply[0] == '4' || t->reply[0] == '5'))
    t->refusal = t->reply;
  return size * n;
}

// Which command the last reply answered, from what libcurl reports.
mail::phase phase_of(const transfer& t, CURLcode rc) {
  if (t.reading) return mail::phase::body;
  std::string_view e{t.errbuf};
  if (e.rfind("RCPT", 0) == 0) return mail::phase::rcpt;
  if (e.rfind("MAIL", 0) == 0) return mail::phase::mail;
  if (e.find("DATA") != std::string_view::npos) return mail::phase::data;
  // (libcurl says "Authentication failed"; a TLS error can name a certificate authority)
  if (rc == CURLE_LOGIN_DENIED || e.rfind("Authentication", 0) == 0) return mail::phase::auth;
  if (rc == CURLE_USE_SSL_FAILED || e.find("STARTTLS") != std::string_view::npos)
    return mail::phase::starttls;
  if (e.find("EHLO") != std::string_view::npos || e.find("HELO") != std::string_view::npos)
    return mail::phase::hello;
  return mail::phase::connect;
}

} // namespace

bool smtp_url_is_loopback(const std::string& url) {
  CURLU* u = curl_url();
  char* host = nullptr;
  bool loop = false;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) {
    std::string h{host};
    loop = h == "localhost" || h == "[::1]" || h == "::1" || h.rfind("127.", 0) == 0;
  }
  curl_free(host);
  curl_url_cleanup(u);
  return loop;
}

struct smtp_client::impl {
  smtp_options opts;
  long timeout_ms = 10'000;
  std::unique_ptr<curl_loop> loop; // its thread runs start_queued() and finish()
  std::atomic<size_t> running{0};
  std::atomic<size_t> connects{0};
  mutable std::mutex mtx;
  std::deque<job> queue;                         // guarded by mtx
  std::vector<std::unique_ptr<transfer>> idle;   // thread only
  std::vector<std::unique_ptr<transfer>> active; // thread only
  long use_ssl = CURLUSESSL_ALL;

  std::unique_ptr<transfer> take_idle() {
    if (!idle.empty()) {
      auto t = std::move(idle.back());
      idle.pop_back();
      return t;
    }
    auto t = std::make_unique<transfer>();
    t->easy = curl_easy_init();
    auto* c = t->easy;
    curl_easy_setopt(c, CURLOPT_URL, opts.url.c_str());
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_USE_SSL, use_ssl);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!opts.ca.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, opts.ca.c_str());
    if (!opts.user.empty()) {
      curl_easy_setopt(c, CURLOPT_USERNAME, opts.user.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, opts.password.c_str());
    }
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(c, CURLOPT_READDATA, t.get());
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_reply_line);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(c, CURLOPT_PRIVATE, t.get());
    t->fence.arm(c);
    return t;
  }

  void start(job&& j) {
    if (transfer_fence::refused(j.may_send)) {
      smtp_answer a;
      a.error = "fenced: the sender's lease may have expired";
      a.fenced = true;
      j.done(std::move(a));
      return;
    }
    auto t = take_idle();
    t->fence.may_send = std::move(j.may_send);
    t->fence.fenced = false;
    t->reading = false;
    t->sent = 0;
    t->reply.clear();
    t->refusal.clear();
    t->reply_done = true;
    t->errbuf[0] = '\0';
    t->from = "<" + j.from + ">";
    t->message = std::move(j.message);
    if (t->rcpt) curl_slist_free_all(t->rcpt);
    t->rcpt = curl_slist_append(nullptr, ("<" + j.to + ">").c_str());
    t->done = std::move(j.done);
    t->start = std::chrono::steady_clock::now();
    auto* c = t->easy;
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, t->from.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, t->rcpt);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(t->message.size()));
    curl_multi_add_handle(loop->multi(), c);
    active.push_back(std::move(t));
    ++running;
  }

  void finish(CURL* easy, CURLcode rc) {
    transfer* t = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    long code = 0, opened = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &opened);
    connects += static_cast<size_t>(std::max(0L, opened));
    curl_multi_remove_handle(loop->multi(), easy);
    smtp_answer a;
    a.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t->start).count();
    a.status = code;
    // The refusal's own code: CURLINFO_RESPONSE_CODE can be a later reply.
    if (t->refusal.size() >= 3 && std::isdigit(static_cast<unsigned char>(t->refusal[0])))
      code = std::strtol(t->refusal.substr(0, 3).c_str(), nullptr, 10);
    auto at = phase_of(*t, rc);
    auto v = mail::classify_reply(rc == CURLE_OK, code, t->refusal, at);
    a.result = v.result == mail::reply_verdict::sent        ? provider_answer::sent
               : v.result == mail::reply_verdict::permanent ? provider_answer::permanent
                                                            : provider_answer::transient;
    a.suppress = v.suppress;
    if (a.result != provider_answer::sent) {
      a.fenced = rc == CURLE_ABORTED_BY_CALLBACK && t->fence.fenced;
      // The server's own words when it answered the failing step; libcurl's
      // otherwise (no reply: refused, dropped, timed out, TLS).
      if (code >= 400 && !t->refusal.empty())
        a.error = std::string{"SMTP "} + mail::to_string(at) + ": " + t->refusal;
      else
        a.error = std::string{"SMTP transport: "} + curl_easy_strerror(rc) +
                  (t->errbuf[0] ? std::string{" ("} + t->errbuf + ")" : std::string{});
    }
    auto done = std::move(t->done);
    t->message.clear();
    for (auto it = active.begin(); it != active.end(); ++it)
      if (it->get() == t) {
        idle.push_back(std::move(*it));
        active.erase(it);
        break;
      }
    --running;
    done(std::move(a));
  }

  void enqueue(job j) {
    bool was_empty = false;
    {
      std::lock_guard<std::mutex> g{mtx};
      was_empty = queue.empty();
      queue.push_back(std::move(j));
    }
    if (was_empty) loop->wake();
  }

  void start_queued() {
    std::unique_lock<std::mutex> g{mtx};
    while (active.size() < opts.max_in_flight && !queue.empty()) {
      auto j = std::move(queue.front());
      queue.pop_front();
      g.unlock();
      start(std::move(j));
      g.lock();
    }
  }

  ~impl() {
    for (auto& t : active) {
      curl_multi_remove_handle(loop->multi(), t->easy);
      smtp_answer a;
      a.error = "shutdown";
      if (t->done) t->done(std::move(a));
    }
    for (auto& j : queue) {
      smtp_answer a;
      a.error = "shutdown";
      j.done(std::move(a));
    }
    for (auto* list : {&active, &idle})
      for (auto& t : *list) {
        if (t->rcpt) curl_slist_free_all(t->rcpt);
        curl_easy_cleanup(t->easy);
      }
  }
};

smtp_client::smtp_client(smtp_options opts) : impl_(std::make_unique<impl>()) {
  auto& m = *impl_;
  m.opts = std::move(opts);
  m.opts.max_in_flight = std::max<size_t>(1, m.opts.max_in_flight);
  m.timeout_ms = static_cast<long>(m.opts.timeout.count());
  // smtp://: STARTTLS or nothing, unless loopback or smtp.starttls=optional
  // (then TLS when the server offers it). smtps:// is TLS from the start.
  m.use_ssl = (m.opts.starttls_optional || smtp_url_is_loopback(m.opts.url)) ? CURLUSESSL_TRY
                                                                             : CURLUSESSL_ALL;
  m.loop = std::make_unique<curl_loop>(m.opts.max_in_flight, "smtp client");
  auto* self = impl_.get();
  m.loop->run({[self] { self->start_queued(); },
               [self](CURL* easy, CURLcode code) { self->finish(easy, code); }});
}

smtp_client::~smtp_client() {
  impl_->loop->stop(); // then impl's destructor answers what was left
}

void smtp_client::send(std::string from, std::string to, std::string message,
                       std::function<bool()> may_send, callback done) {
  impl_->enqueue(job{std::move(from), std::move(to), std::move(message), std::move(may_send),
                     std::move(done)});
}

size_t smtp_client::in_flight() const {
  return impl_->running;
}

size_t smtp_client::connections_opened() const {
  return impl_->connects;
}

} // namespace candle::net
