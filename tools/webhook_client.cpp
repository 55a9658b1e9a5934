#include "tools/webhook_client.hpp"

#include "core/webhook.hpp"

#include <chrono>
#include <curl/curl.h>

namespace candle::net {

struct webhook_client::impl {
  std::string url, key;
  CURL* curl = nullptr;
};

namespace {

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

} // namespace

webhook_client::webhook_client(std::string url, std::string key) : impl_(std::make_unique<impl>()) {
  impl_->url = std::move(url);
  impl_->key = std::move(key);
  impl_->curl = curl_easy_init();
}

webhook_client::~webhook_client() {
  if (impl_->curl) curl_easy_cleanup(impl_->curl);
}

webhook_client::reply webhook_client::post(const std::string& body, const std::string& id,
                                           int64_t timestamp_s) {
  reply r;
  auto* c = impl_->curl;
  if (!c) {
    r.error = "curl_easy_init failed";
    return r;
  }
  auto sig = webhook::sign(impl_->key, id, timestamp_s, body);
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, ("webhook-id: " + id).c_str());
  headers =
      curl_slist_append(headers, ("webhook-timestamp: " + std::to_string(timestamp_s)).c_str());
  headers = curl_slist_append(headers, ("webhook-signature: " + sig).c_str());
  headers = curl_slist_append(headers, "Expect:"); // no 100-continue round trip
  curl_easy_setopt(c, CURLOPT_URL, impl_->url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30'000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  auto started = std::chrono::steady_clock::now();
  auto rc = curl_easy_perform(c);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  curl_slist_free_all(headers);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  if (rc != CURLE_OK) {
    r.error = curl_easy_strerror(rc);
    return r;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

webhook_client::reply webhook_client::get(const std::string& url) {
  reply r;
  auto* c = impl_->curl;
  if (!c) {
    r.error = "curl_easy_init failed";
    return r;
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30'000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  auto rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    r.error = curl_easy_strerror(rc);
    return r;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

} // namespace candle::net
