#include "provider/provider_client.hpp"

#include "provider/curl_loop.hpp"

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
#include <string_view>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace candle::net {

namespace {

// A single send's answer is read for its error message only; a batch's
// carries a result per greeting (~100 bytes each).
constexpr size_t single_body_cap = 4096;
constexpr size_t batch_body_cap = 16 << 20;

struct response_body {
  std::string text;
  size_t cap = single_body_cap;
};

size_t on_body(char* data, size_t size, size_t n, void* out) {
  auto* body = static_cast<response_body*>(out);
  if (body->text.size() < body->cap)
    body->text.append(data, std::min(size * n, body->cap - body->text.size()));
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

// The answer and the whole response body (a batch reads its results from it).
using raw_callback = std::function<void(provider_answer, std::string)>;

struct job {
  std::string key, body;          // key: the Idempotency-Key header; empty for a batch
  bool batch = false;             // POST {url}/batch
  std::function<bool()> may_send; // empty = always
  raw_callback done;
};

// One transfer: its easy handle (reused across transfers) and buffers.
struct transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;
  response_body response;
  int64_t retry_after = 0;
  raw_callback done;
  std::chrono::steady_clock::time_point start;
  transfer_fence fence;
  size_t body_sent = 0; // of `body`, handed to libcurl
};

// libcurl asks for the body when it is about to write the request: the
// fence is asked once more (transfer_fence).
size_t read_body(char* out, size_t size, size_t n, void* clientp) {
  auto* t = static_cast<transfer*>(clientp);
  if (t->body_sent == 0 && t->fence.refuse()) return CURL_READFUNC_ABORT;
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

std::vector<provider_answer> read_batch_results(const std::string& body,
                                                const std::vector<std::string>& keys) {
  std::vector<provider_answer> out(keys.size());
  auto unreadable = [&](const std::string& why) {
    for (auto& a : out) {
      a = {};
      a.error = "batch answer unreadable: " + why;
    }
    return out;
  };
  boost::json::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec) return unreadable(ec.message());
  const auto* obj = v.if_object();
  const auto* results = obj ? obj->if_contains("results") : nullptr;
  if (!results || !results->is_array()) return unreadable("no \"results\" array");
  std::unordered_map<std::string_view, size_t> index;
  for (size_t i = 0; i < keys.size(); ++i)
    index.emplace(keys[i], i);
  std::vector<char> seen(keys.size(), 0);
  for (const auto& r : results->get_array()) {
    const auto* ro = r.if_object();
    const auto* key = ro ? ro->if_contains("key") : nullptr;
    const auto* status = ro ? ro->if_contains("status") : nullptr;
    if (!key || !key->is_string()) continue; // names no greeting of ours
    auto it = index.find(std::string_view{key->get_string().data(), key->get_string().size()});
    if (it == index.end()) continue;
    auto& a = out[it->second];
    provider_answer next;
    if (!status || !status->is_int64() || status->get_int64() < 100 || status->get_int64() > 599) {
      next.error = "batch answer: no valid status for this greeting";
    } else {
      next.status = static_cast<long>(status->get_int64());
      next.result = classify(next.status);
      if (next.result != provider_answer::sent) {
        next.error = "HTTP " + std::to_string(next.status);
        const auto* e = ro->if_contains("error");
        if (e && e->is_string()) next.error += ": " + std::string{e->get_string()};
      }
    }
    if (seen[it->second] && (a.result != next.result || a.status != next.status)) {
      a = {};
      a.error = "batch answer: contradicting results for this greeting";
    } else if (!seen[it->second]) {
      a = std::move(next);
    }
    seen[it->second] = 1;
  }
  for (size_t i = 0; i < out.size(); ++i)
    if (!seen[i]) out[i].error = "batch answer: no result for this greeting";
  return out;
}

// Transfers on a curl_loop (net/curl_loop.hpp): up to max_in_flight at once,
// the rest queued; easy handles are kept and reused.
struct provider_client::impl {
  std::string url, batch_url;
  std::string user_agent;
  long timeout_ms;
  size_t max_in_flight;
  std::unique_ptr<curl_loop> loop; // its thread runs start_queued() and finish()
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
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(c, CURLOPT_USERAGENT, user_agent.c_str());
    t->fence.arm(c);
    return t;
  }

  void start(job&& j) {
    if (transfer_fence::refused(j.may_send)) {
      provider_answer a;
      a.error = "fenced: the sender's lease may have expired";
      a.fenced = true;
      j.done(std::move(a), {});
      return;
    }
    auto t = take_idle();
    t->fence.may_send = std::move(j.may_send);
    t->fence.fenced = false;
    if (t->headers) curl_slist_free_all(t->headers);
    t->headers = curl_slist_append(nullptr, "Content-Type: application/json");
    if (!j.batch) t->headers = curl_slist_append(t->headers, ("Idempotency-Key: " + j.key).c_str());
    t->headers = curl_slist_append(t->headers, "Expect:"); // no 100-continue round trip
    t->body = std::move(j.body);
    t->response.text.clear();
    t->response.cap = j.batch ? batch_body_cap : single_body_cap;
    t->retry_after = 0;
    t->done = std::move(j.done);
    t->start = std::chrono::steady_clock::now();
    auto* c = t->easy;
    curl_easy_setopt(c, CURLOPT_URL, j.batch ? batch_url.c_str() : url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers);
    t->body_sent = 0;
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(c, CURLOPT_READDATA, t.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(t->body.size()));
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t->response);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t->retry_after);
    curl_multi_add_handle(loop->multi(), c);
    active.push_back(std::move(t));
    ++running;
  }

  void finish(CURL* easy, CURLcode rc) {
    transfer* t = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    curl_multi_remove_handle(loop->multi(), easy);
    provider_answer a;
    a.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t->start).count();
    if (rc != CURLE_OK) {
      a.result = provider_answer::transient;
      a.error = std::string{"transport: "} + curl_easy_strerror(rc);
      a.fenced = rc == CURLE_ABORTED_BY_CALLBACK && t->fence.fenced;
    } else {
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &a.status);
      a.result = classify(a.status);
      a.retry_after_ms = t->retry_after;
      if (a.result != provider_answer::sent)
        a.error =
            "HTTP " + std::to_string(a.status) +
            (t->response.text.empty() ? "" : ": " + t->response.text.substr(0, single_body_cap));
    }
    auto done = std::move(t->done);
    auto response = std::move(t->response.text);
    for (auto it = active.begin(); it != active.end(); ++it)
      if (it->get() == t) {
        idle.push_back(std::move(*it));
        active.erase(it);
        break;
      }
    --running;
    done(std::move(a), std::move(response));
  }

  void enqueue(job j) {
    bool was_empty = false;
    {
      std::lock_guard<std::mutex> g{mtx};
      was_empty = queue.empty();
      queue.push_back(std::move(j));
    }
    // A non-empty queue is drained before the thread waits again (or waits
    // for a slot, which an answer frees): one wake-up per burst of posts.
    if (was_empty) loop->wake();
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

  ~impl() {
    for (auto& t : active) {
      curl_multi_remove_handle(loop->multi(), t->easy);
      provider_answer a;
      a.error = "shutdown";
      if (t->done) t->done(std::move(a), {});
    }
    for (auto& j : queue) {
      provider_answer a;
      a.error = "shutdown";
      j.done(std::move(a), {});
    }
    for (auto* list : {&active, &idle})
      for (auto& t : *list) {
        if (t->headers) curl_slist_free_all(t->headers);
        curl_easy_cleanup(t->easy);
      }
  }
};

provider_client::provider_client(std::string url, std::chrono::milliseconds timeout,
                                 size_t max_in_flight, std::string user_agent)
    : impl_(std::make_unique<impl>()) {
  impl_->url = std::move(url);
  impl_->batch_url = impl_->url + "/batch";
  impl_->user_agent = std::move(user_agent);
  impl_->timeout_ms = static_cast<long>(timeout.count());
  impl_->max_in_flight = std::max<size_t>(1, max_in_flight);
  impl_->loop = std::make_unique<curl_loop>(impl_->max_in_flight, "provider client");
  auto* m = impl_.get();
  m->loop->run(
      {[m] { m->start_queued(); }, [m](CURL* easy, CURLcode code) { m->finish(easy, code); }});
}

provider_client::~provider_client() {
  impl_->loop->stop(); // then impl's destructor answers what was left
}

void provider_client::post(std::string key, std::string email, std::string message, callback done) {
  post(std::move(key), std::move(email), std::move(message), {}, std::move(done));
}

void provider_client::post(std::string key, std::string email, std::string message,
                           std::function<bool()> may_send, callback done) {
  auto body = boost::json::serialize(boost::json::object{{"email", email}, {"message", message}});
  impl_->enqueue(
      job{std::move(key), std::move(body), false, std::move(may_send),
          [done = std::move(done)](provider_answer a, std::string) { done(std::move(a)); }});
}

void provider_client::post_batch(std::vector<batch_message> messages,
                                 std::function<bool()> may_send, batch_callback done) {
  boost::json::array list;
  list.reserve(messages.size());
  std::vector<std::string> keys;
  keys.reserve(messages.size());
  for (auto& m : messages) {
    list.push_back(boost::json::object{{"key", m.key}, {"email", m.email}, {"message", m.message}});
    keys.push_back(std::move(m.key));
  }
  auto body = boost::json::serialize(boost::json::object{{"messages", std::move(list)}});
  impl_->enqueue(job{
      {},
      std::move(body),
      true,
      std::move(may_send),
      [keys = std::move(keys), done = std::move(done)](provider_answer a, std::string response) {
        if (a.result != provider_answer::sent) // the whole request failed
          return done(std::vector<provider_answer>(keys.size(), a));
        auto each = read_batch_results(response, keys);
        for (auto& r : each)
          r.seconds = a.seconds;
        done(std::move(each));
      }});
}

size_t provider_client::in_flight() const {
  return impl_->running;
}

} // namespace candle::net
