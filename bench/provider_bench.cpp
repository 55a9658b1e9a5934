// Requests/s and latency of the provider client (net/provider_client.hpp)
// against a provider, e.g. candle-mock-provider on loopback. Not a test:
// prints figures. Usage: provider_bench URL [requests] [in-flight...]
//   (defaults: 20000 requests; in-flight 1 16 64 256)
#include "provider/provider_client.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace candle;
using clk = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: provider_bench URL [requests] [in-flight...]\n");
    return 2;
  }
  std::string url = argv[1];
  size_t n = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 20000;
  std::vector<size_t> bounds;
  for (int i = 3; i < argc; ++i)
    bounds.push_back(std::strtoul(argv[i], nullptr, 10));
  if (bounds.empty()) bounds = {1, 16, 64, 256};
  std::printf("provider client -> %s, %zu requests per run, %u cores\n", url.c_str(), n,
              std::thread::hardware_concurrency());
  std::printf("%10s %12s %10s %10s %10s %8s\n", "in-flight", "requests/s", "p50 ms", "p99 ms",
              "max ms", "failed");
  static int run = 0;
  for (auto bound : bounds) {
    net::provider_client client{url, std::chrono::seconds{10}, bound};
    std::mutex mtx;
    std::condition_variable cv;
    std::vector<double> latencies;
    latencies.reserve(n);
    size_t failed = 0;
    ++run;
    auto start = clk::now();
    for (size_t i = 0; i < n; ++i)
      client.post("bench" + std::to_string(run) + "-" + std::to_string(i), "someone@example.com",
                  "Hey, Bench Mark it's your birthday", [&](net::provider_answer a) {
                    std::lock_guard<std::mutex> g{mtx};
                    latencies.push_back(a.seconds * 1000);
                    if (a.result != net::provider_answer::sent) ++failed;
                    if (latencies.size() == n) cv.notify_one();
                  });
    std::unique_lock<std::mutex> g{mtx};
    cv.wait(g, [&] { return latencies.size() == n; });
    double secs = std::chrono::duration<double>(clk::now() - start).count();
    std::sort(latencies.begin(), latencies.end());
    std::printf("%10zu %12.0f %10.2f %10.2f %10.2f %8zu\n", bound, static_cast<double>(n) / secs,
                latencies[n / 2], latencies[n * 99 / 100], latencies.back(), failed);
  }
  return 0;
}
