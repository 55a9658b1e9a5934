// replay-events: a provider's webhook traffic replayed at a node, and what
// the node made of it (issue 17's gate). Generates N delivery events for
// greetings the node has sent (or reads them from an NDJSON file), posts them
// signed at a given concurrency with duplicates and events out of order,
// then reads every greeting back and counts:
//   idempotency violations: an event stored twice or not at all (the
//     timeline against the ids posted), or "stored" answered for a repeat;
//   ordering violations: a greeting whose delivery state is not the highest
//     ranked state among its events (a late older event moved it back).
// Prints accepted, rejected, both counts and latency p50/p95/p99/max.
#include "core/delivery_state.hpp"
#include "core/time.hpp"
#include "core/webhook.hpp"
#include "tools/webhook_client.hpp"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <curl/curl.h>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace candle;
namespace json = boost::json;

namespace {

const char* usage = R"(usage: replay-events --url http://HOST:PORT --secret whsec_... [options]
Posts signed delivery events to HOST:PORT/api/v1/webhooks/provider and checks
what the node stored (GET /api/v1/greetings/{key}).

  --events N        events to post, duplicates included (default 30000)
  --concurrency C   connections posting at once (default 32)
  --batch B         events per request (default 1)
  --duplicates R    fraction of posts that repeat an earlier event (default 0.1)
  --reorder R       fraction of greetings whose events arrive newest first (default 0.2)
  --input FILE      NDJSON events {"id","type","key","at"} to post instead of generated
                    ones (each once, in file order, then the duplicates)
  --seed S          random seed (default 1)
Generated events go to greetings the node has sent that have no events yet:
deferred, then delivered, and for one in ten a bounce or a complaint after it.
)";

struct options {
  std::string url, secret, input;
  size_t events = 30000, concurrency = 32, batch = 1;
  double duplicates = 0.1, reorder = 0.2;
  unsigned seed = 1;
};

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    auto key = a.substr(0, eq);
    std::string v = eq != std::string::npos ? a.substr(eq + 1) : (i + 1 < argc ? argv[++i] : "");
    try {
      if (key == "--url")
        o.url = v;
      else if (key == "--secret")
        o.secret = v;
      else if (key == "--input")
        o.input = v;
      else if (key == "--events")
        o.events = std::stoul(v);
      else if (key == "--concurrency")
        o.concurrency = std::stoul(v);
      else if (key == "--batch")
        o.batch = std::stoul(v);
      else if (key == "--duplicates")
        o.duplicates = std::stod(v);
      else if (key == "--reorder")
        o.reorder = std::stod(v);
      else if (key == "--seed")
        o.seed = static_cast<unsigned>(std::stoul(v));
      else
        return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return !o.url.empty() && !o.secret.empty() && o.concurrency >= 1 && o.batch >= 1 &&
         o.batch <= 1000 && o.duplicates >= 0 && o.duplicates < 1 && o.reorder >= 0 &&
         o.reorder <= 1;
}

struct event {
  std::string id, type, key;
  int64_t at = 0;
  json::object to_json() const {
    return {{"id", id},
            {"type", type},
            {"key", key},
            {"at", format_instant(sys_millis{std::chrono::milliseconds{at}})}};
  }
};

// Greetings the node has sent whose delivery is still "sent", up to `want`.
std::vector<std::string> sent_greetings(net::webhook_client& c, const std::string& base,
                                        size_t want) {
  std::vector<std::string> keys;
  std::string cursor;
  while (keys.size() < want) {
    auto r = c.get(base + "/api/v1/greetings?status=sent&limit=1000" +
                   (cursor.empty() ? "" : "&cursor=" + cursor));
    if (r.status != 200) {
      std::cerr << "replay-events: listing sent greetings: " << r.status << " " << r.error << '\n';
      break;
    }
    auto data = json::parse(r.body).at("data").as_object();
    for (const auto& g : data.at("greetings").as_array()) {
      const auto& o = g.as_object();
      if (o.at("delivery").is_string() && o.at("delivery").as_string() == "sent")
        keys.emplace_back(o.at("key").as_string());
    }
    if (data.at("nextCursor").is_null()) break;
    cursor = std::string{data.at("nextCursor").as_string()};
  }
  if (keys.size() > want) keys.resize(want);
  return keys;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  auto i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o)) {
    std::cerr << usage;
    return 2;
  }
  auto keys_ok = webhook::parse_secrets(o.secret);
  if (!keys_ok) {
    std::cerr << "replay-events: --secret: " << keys_ok.err().message << '\n';
    return 2;
  }
  auto key = keys_ok->front();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto base = o.url;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  auto endpoint = base + "/api/v1/webhooks/provider";
  std::mt19937_64 rng{o.seed};
  std::uniform_real_distribution<double> u{0, 1};

  // The unique events, in the order they are first posted.
  std::vector<event> unique;
  auto run = std::to_string(::getpid()) + "-" +
             std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  auto first = static_cast<size_t>(static_cast<double>(o.events) * (1 - o.duplicates) + 0.5);
  size_t reordered = 0;
  if (!o.input.empty()) {
    std::ifstream in{o.input};
    std::string line;
    while (std::getline(in, line) && unique.size() < first) {
      if (line.empty()) continue;
      auto v = json::parse(line).as_object();
      auto at = parse_instant(std::string{v.at("at").as_string()});
      if (!at) {
        std::cerr << "replay-events: " << o.input << ": bad at in " << line << '\n';
        return 2;
      }
      unique.push_back({std::string{v.at("id").as_string()}, std::string{v.at("type").as_string()},
                        std::string{v.at("key").as_string()}, at->time_since_epoch().count()});
    }
  } else {
    net::webhook_client lister{endpoint, key};
    // About 2.1 events per greeting.
    auto greetings = sent_greetings(lister, base, first / 2 + 1);
    if (greetings.empty()) {
      std::cerr << "replay-events: the node has no sent greetings without events to report on\n";
      return 1;
    }
    auto t0 = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count() -
              60'000;
    std::vector<std::vector<event>> per;
    size_t n = 0, g = 0;
    while (n < first) {
      std::vector<event> evs;
      auto k = greetings[g++ % greetings.size()];
      if (g > greetings.size()) break; // every greeting used once
      auto id = [&] { return "replay-" + run + "-" + std::to_string(n + evs.size()); };
      evs.push_back({id(), "deferred", k, t0 + static_cast<int64_t>(g)});
      evs.push_back({id(), "delivered", k, t0 + 1000 + static_cast<int64_t>(g)});
      if (u(rng) < 0.1)
        evs.push_back({id(), u(rng) < 0.5 ? "bounced" : "complained", k,
                       t0 + 2000 + static_cast<int64_t>(g)});
      if (u(rng) < o.reorder) {
        std::reverse(evs.begin(), evs.end()); // newest first: the older ones arrive late
        ++reordered;
      }
      n += evs.size();
      per.push_back(std::move(evs));
    }
    // Greetings interleaved, each greeting's events in its own order.
    std::vector<size_t> next(per.size(), 0), live(per.size());
    for (size_t i = 0; i < per.size(); ++i)
      live[i] = i;
    while (!live.empty()) {
      auto j = std::uniform_int_distribution<size_t>{0, live.size() - 1}(rng);
      auto& p = per[live[j]];
      unique.push_back(p[next[live[j]]++]);
      if (next[live[j]] == p.size()) {
        live[j] = live.back();
        live.pop_back();
      }
    }
  }
  // Duplicates: repeats of events already posted, later in the stream.
  std::vector<event> stream = unique;
  auto dups = o.events > unique.size() ? o.events - unique.size() : 0;
  for (size_t i = 0; i < dups; ++i) {
    auto pos = std::uniform_int_distribution<size_t>{1, stream.size()}(rng);
    auto of = std::uniform_int_distribution<size_t>{0, std::min(pos, unique.size()) - 1}(rng);
    stream.insert(stream.begin() + static_cast<long>(pos), unique[of]);
  }

  // Post.
  std::vector<std::string> bodies;
  for (size_t i = 0; i < stream.size(); i += o.batch) {
    json::array a;
    for (size_t j = i; j < std::min(stream.size(), i + o.batch); ++j)
      a.push_back(stream[j].to_json());
    bodies.push_back(json::serialize(a));
  }
  std::atomic<size_t> next_body{0};
  std::mutex mtx;
  std::vector<double> latencies;
  uint64_t accepted = 0, rejected = 0, stored = 0, answered_duplicates = 0;
  std::map<std::string, uint64_t> failures;
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> posters;
  for (size_t t = 0; t < o.concurrency; ++t)
    posters.emplace_back([&, t] {
      net::webhook_client c{endpoint, key};
      std::vector<double> mine;
      uint64_t ok = 0, bad = 0, st = 0, du = 0;
      std::map<std::string, uint64_t> why;
      for (;;) {
        auto i = next_body++;
        if (i >= bodies.size()) break;
        auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
        auto r = c.post(bodies[i], "msg-" + run + "-" + std::to_string(t) + "-" + std::to_string(i),
                        now_s);
        mine.push_back(r.seconds * 1000);
        if (r.status == 200) {
          ++ok;
          auto d = json::parse(r.body).at("data").as_object();
          st += d.at("stored").to_number<uint64_t>();
          du += d.at("duplicates").to_number<uint64_t>();
        } else {
          ++bad;
          ++why[r.status ? std::to_string(r.status) : r.error];
        }
      }
      std::lock_guard<std::mutex> g{mtx};
      latencies.insert(latencies.end(), mine.begin(), mine.end());
      accepted += ok;
      rejected += bad;
      stored += st;
      answered_duplicates += du;
      for (const auto& [k, v] : why)
        failures[k] += v;
    });
  for (auto& p : posters)
    p.join();
  auto wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // Read back and check.
  std::map<std::string, std::vector<const event*>> by_key;
  for (const auto& e : unique)
    by_key[e.key].push_back(&e);
  uint64_t idempotency = 0, ordering = 0, unreadable = 0;
  net::webhook_client reader{endpoint, key};
  for (const auto& [k, evs] : by_key) {
    auto r = reader.get(base + "/api/v1/greetings/" + k);
    if (r.status != 200) {
      ++unreadable; // an unknown key (--input) has no record to check
      continue;
    }
    auto d = json::parse(r.body).at("data").as_object();
    std::set<std::string> posted, seen;
    for (const auto* e : evs)
      posted.insert(e->id);
    size_t ours = 0;
    for (const auto& v : d.at("events").as_array()) {
      std::string id{v.as_object().at("id").as_string()};
      if (!posted.count(id)) continue;
      ++ours;
      seen.insert(id);
    }
    idempotency += (ours != posted.size() || seen.size() != posted.size()) ? 1 : 0;
    auto best = delivery::state::sent;
    for (const auto* e : evs)
      if (auto t = delivery::event_type(e->type); t && delivery::rank(*t) > delivery::rank(best))
        best = *t;
    std::string have =
        d.at("delivery").is_string() ? std::string{d.at("delivery").as_string()} : "";
    auto got = delivery::state_of(have);
    if (!got || delivery::rank(*got) != delivery::rank(best)) ++ordering;
  }
  // Every unique event answered "stored" exactly once in all.
  if (rejected == 0 && stored != unique.size()) ++idempotency;

  std::vector<double> lat = latencies;
  auto mx = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  std::printf("replay-events: %zu events (%zu unique, %zu repeats, %zu greetings, %zu reordered) "
              "in %zu requests at concurrency %zu, %.2f s\n",
              stream.size(), unique.size(), dups, by_key.size(), reordered, bodies.size(),
              o.concurrency, wall);
  std::printf("accepted %llu  rejected %llu  stored %llu  answered-duplicate %llu\n",
              static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(rejected),
              static_cast<unsigned long long>(stored),
              static_cast<unsigned long long>(answered_duplicates));
  for (const auto& [k, v] : failures)
    std::printf("  rejected %llu: %s\n", static_cast<unsigned long long>(v), k.c_str());
  std::printf("idempotency violations %llu  ordering violations %llu  (greetings not readable: "
              "%llu)\n",
              static_cast<unsigned long long>(idempotency),
              static_cast<unsigned long long>(ordering),
              static_cast<unsigned long long>(unreadable));
  std::printf("latency ms p50 %.2f  p95 %.2f  p99 %.2f  max %.2f   throughput %.0f events/s\n",
              percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 0.99), mx,
              static_cast<double>(stream.size()) / wall);
  return (rejected == 0 && idempotency == 0 && ordering == 0) ? 0 : 1;
}
