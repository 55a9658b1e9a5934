#include "net/provider_client.hpp"

#include <boost/json.hpp>
#include <cctype>
#include <cstdlib>
#include <curl/curl.h>
#include <mutex>

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

} // namespace

provider_answer::kind classify(long status) {
  if (status >= 200 && status < 300) return provider_answer::sent;
  if (status == 408 || status == 429 || status >= 500 || status == 0)
    return provider_answer::transient;
  return provider_answer::permanent;
}

struct provider_client::impl {
  std::string url;
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
};

provider_client::provider_client(std::string url, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
  global_init();
  impl_->url = std::move(url);
  impl_->curl = curl_easy_init();
  auto* c = impl_->curl;
  curl_easy_setopt(c, CURLOPT_URL, impl_->url.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); // thread-safe timeouts
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
}

provider_client::~provider_client() {
  if (impl_->headers) curl_slist_free_all(impl_->headers);
  if (impl_->curl) curl_easy_cleanup(impl_->curl);
}

provider_answer provider_client::post(const std::string& key, const std::string& email,
                                      const std::string& message) {
  auto* c = impl_->curl;
  if (impl_->headers) curl_slist_free_all(impl_->headers);
  impl_->headers = curl_slist_append(nullptr, "Content-Type: application/json");
  impl_->headers = curl_slist_append(impl_->headers, ("Idempotency-Key: " + key).c_str());
  impl_->headers = curl_slist_append(impl_->headers, "Expect:"); // no 100-continue round trip
  auto body = boost::json::serialize(boost::json::object{{"email", email}, {"message", message}});
  std::string response;
  int64_t retry_after = 0;
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, impl_->headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &retry_after);
  provider_answer a;
  auto rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    a.result = provider_answer::transient;
    a.error = std::string{"transport: "} + curl_easy_strerror(rc);
    return a;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
  a.result = classify(a.status);
  a.retry_after_ms = retry_after;
  if (a.result != provider_answer::sent)
    a.error = "HTTP " + std::to_string(a.status) + (response.empty() ? "" : ": " + response);
  return a;
}

} // namespace candle::net
