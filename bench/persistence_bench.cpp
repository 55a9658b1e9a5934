// Claim + mark throughput of the store against the embedded PostgreSQL
// (synchronous_commit=on, fsync on), for batch sizes 1, 100, 1000, 10000,
// next to the server's own ceiling for the same insert done server-side.
// Not a test: prints figures. Usage: persistence_bench [rows]  (default 50000)
#include "persistence/embedded_pg.hpp"
#include "persistence/schema.hpp"
#include "persistence/store.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>
#include <string>
#include <thread>
#include <unistd.h>

using namespace candle;
using clk = std::chrono::steady_clock;

namespace {

std::string cpu_model() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string uid(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", i);
  return buf;
}

double seconds_since(clk::time_point t) {
  return std::chrono::duration<double>(clk::now() - t).count();
}

} // namespace

int main(int argc, char** argv) {
  int rows = argc > 1 ? std::atoi(argv[1]) : 50'000;
  spdlog::set_level(spdlog::level::warn);
  char tmpl[] = "/tmp/candle-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto server = pg::embedded_postgres::start(dir + "/pg", "bench");
  if (!server) {
    std::fprintf(stderr, "cannot start PostgreSQL: %s\n", server.err().message.c_str());
    return 1;
  }
  auto conninfo = (*server)->conninfo("bench");
  {
    pqxx::connection c{conninfo};
    pg::migrate(c);
    pqxx::work w{c};
    w.exec("INSERT INTO users (id, first_name, last_name, email, timezone, birthday_date,"
           " partition, created_at, updated_at)"
           " SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'F', 'L',"
           " 'u' || i || '@x.org', 'UTC', '1990-01-01', 0, now(), now()"
           " FROM generate_series(1, " +
           std::to_string(rows) + ") AS i");
    w.commit();
  }
  pg::store s{conninfo};
  auto epoch = s.acquire_lease(0, "bench", std::chrono::seconds{3600});
  std::string version;
  {
    pqxx::connection c{conninfo};
    pqxx::nontransaction n{c};
    version = n.exec1("SHOW server_version")[0].as<std::string>();
    std::printf("machine: %u cores (%s), PostgreSQL %s embedded, synchronous_commit=%s, "
                "fsync=%s\n",
                std::thread::hardware_concurrency(), cpu_model().c_str(), version.c_str(),
                n.exec1("SHOW synchronous_commit")[0].as<std::string>().c_str(),
                n.exec1("SHOW fsync")[0].as<std::string>().c_str());
  }
  std::printf("rows per batch size: %d (batch size 1: %d)\n\n", rows, std::min(rows, 2000));
  std::printf("%-10s %14s %14s %16s\n", "batch", "claim rows/s", "mark rows/s",
              "claim+mark rows/s");
  int year = 2030;
  for (int batch : {1, 100, 1000, 10000}) {
    int n = batch == 1 ? std::min(rows, 2000) : rows;
    ++year;
    std::vector<occurrence> all;
    all.reserve(n);
    for (int i = 1; i <= n; ++i) {
      occurrence o;
      o.user_id = uid(i);
      o.occasion = "birthday";
      o.year = year;
      o.key = idempotency_key(o.user_id, "birthday", year);
      o.due_at = 1'900'000'000'000;
      all.push_back(std::move(o));
    }
    size_t claimed = 0, marked = 0;
    auto t0 = clk::now();
    std::vector<std::string> keys;
    for (int i = 0; i < n; i += batch) {
      std::vector<occurrence> b(all.begin() + i, all.begin() + std::min(n, i + batch));
      auto got = s.claim(0, epoch, b, 0);
      claimed += got.size();
      keys.insert(keys.end(), got.begin(), got.end());
    }
    double claim_s = seconds_since(t0);
    auto t1 = clk::now();
    for (int i = 0; i < n; i += batch) {
      std::vector<outcome> b;
      for (int j = i; j < std::min(n, i + batch); ++j)
        b.push_back({keys[j], status::sent, "", 0, 1'900'000'000'000});
      marked += s.record_outcomes(0, epoch, b).size();
    }
    double mark_s = seconds_since(t1);
    if (claimed != static_cast<size_t>(n) || marked != static_cast<size_t>(n)) {
      std::fprintf(stderr, "batch %d: claimed %zu, marked %zu of %d\n", batch, claimed, marked, n);
      return 1;
    }
    std::printf("%-10d %14.0f %14.0f %16.0f\n", batch, n / claim_s, n / mark_s,
                n / (claim_s + mark_s));
  }
  // The ceiling: the same idempotent insert generated inside the server, one
  // statement, one commit, no client round trips or parameter parsing.
  {
    pqxx::connection c{conninfo};
    pqxx::work w{c};
    w.exec("SELECT candle_record_year(2099)");
    auto t = clk::now();
    w.exec("INSERT INTO send_records (idempotency_key, user_id, occasion, year, partition,"
           " due_at, status, owner_epoch)"
           " SELECT u.id::text || ':birthday:2099', u.id, 'birthday', 2099, 0, now(), 'claimed', " +
           std::to_string(epoch) + " FROM users u ON CONFLICT DO NOTHING");
    w.commit();
    std::printf("\nserver-side ceiling (INSERT .. SELECT .. ON CONFLICT DO NOTHING, one "
                "statement): %.0f rows/s\n",
                rows / seconds_since(t));
  }
  // The same for a bare table (text primary key only): what PostgreSQL does
  // here without send_records' secondary indexes, foreign key and row width.
  {
    pqxx::connection c{conninfo};
    pqxx::nontransaction{c}.exec("CREATE TABLE bench_bare (k text PRIMARY KEY)");
    pqxx::work w{c};
    auto t = clk::now();
    w.exec("INSERT INTO bench_bare SELECT id::text || ':birthday:2099' FROM users"
           " ON CONFLICT DO NOTHING");
    w.commit();
    std::printf("bare-table ceiling (text primary key only, same statement): %.0f rows/s\n",
                rows / seconds_since(t));
  }
  (*server)->destroy();
  std::filesystem::remove_all(dir);
  return 0;
}
