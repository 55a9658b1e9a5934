// Claim + mark throughput of the store against the embedded PostgreSQL
// (synchronous_commit=on, fsync on), for batch sizes 1, 100, 1000, 10000,
// next to the server's own ceiling for the same insert done server-side, and
// then the candidate write paths of one write per greeting (issue 35) side by
// side (and the path as built, through the store): rows/s and WAL bytes per
// greeting, each in alternating rounds.
// Not a test: prints figures. Usage: persistence_bench [rows]  (default 50000)
#include "persistence/embedded_pg.hpp"
#include "persistence/schema.hpp"
#include "persistence/store.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
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

// -- candidates for one write per greeting ------------------------------------
// Each writes `rows` greetings of its own year in batches and is timed from
// its first statement to its last commit; WAL is the server's, per greeting.

int64_t wal_lsn(pqxx::connection& c) {
  return pqxx::nontransaction{c}
      .exec1("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")[0]
      .as<int64_t>();
}

// The fence every write carries, as in persistence/store.cpp ($1 the epoch;
// partition 0).
#define BENCH_FENCE                                                                                \
  "EXISTS (SELECT 1 FROM partition_leases l WHERE l.partition = 0 AND l.epoch = $1"                \
  " AND l.expires_at > now() FOR SHARE)"

struct columns {
  std::string keys, users, occasions, years, dues;
};

columns columns_of(const std::vector<occurrence>& b) {
  std::vector<std::string> keys, users, occasions;
  std::vector<int64_t> years, dues;
  for (const auto& o : b) {
    keys.push_back(o.key);
    users.push_back(o.user_id);
    occasions.push_back(o.occasion);
    years.push_back(o.year);
    dues.push_back(o.due_at);
  }
  return {pg::array_literal(keys), pg::array_literal(users), pg::array_literal(occasions),
          pg::array_literal(years), pg::array_literal(dues)};
}

void prepare_candidates(pqxx::connection& c) {
  pqxx::nontransaction n{c};
  // (b) The claim as today into a table whose mark can be heap-only (HOT):
  // no index key or predicate holds `status` (pending work would be found
  // through a small table of its own, not written here), and pages are
  // half empty so a row's second version fits beside the first.
  n.exec("CREATE TABLE hot_records (LIKE send_records INCLUDING DEFAULTS) WITH (fillfactor = 50)");
  n.exec("ALTER TABLE hot_records ADD PRIMARY KEY (idempotency_key, year)");
  n.exec("CREATE INDEX ON hot_records (user_id)");
  n.exec("CREATE INDEX ON hot_records (partition, due_at)");
  c.prepare("hot_claim",
            "INSERT INTO hot_records (idempotency_key, user_id, occasion, year, partition,"
            " due_at, status, attempts, owner_epoch, claimed_at, claimed_by, sent_to)"
            " SELECT t.k, u.id, t.o, t.y, 0, to_timestamp(t.d / 1000.0), 'claimed', 0, $1, now(),"
            " 'bench', u.email"
            " FROM unnest($2::text[], $3::uuid[], $4::text[], $5::int[], $6::bigint[])"
            "   AS t(k, uid, o, y, d)"
            " JOIN users u ON u.id = t.uid AND u.deleted_at IS NULL"
            " WHERE " BENCH_FENCE " FOR SHARE OF u"
            " ON CONFLICT (idempotency_key, year) DO NOTHING RETURNING idempotency_key");
  c.prepare("hot_mark",
            "UPDATE hot_records r SET status = 'sent', attempts = r.attempts + 1,"
            " sent_at = now(), updated_at = now()"
            " FROM unnest($2::text[]) AS t(k)"
            " WHERE r.idempotency_key = t.k AND r.owner_epoch = $1"
            " AND r.status = 'claimed' AND " BENCH_FENCE " RETURNING r.idempotency_key");
  // (c) No claim: right before sending, a read checks each greeting (user
  // live and unchanged, no record yet, the lease current); after the
  // provider answered, one insert writes the final rows.
  c.prepare("check_unsent",
            "SELECT t.k FROM unnest($2::text[], $3::uuid[], $4::int[]) AS t(k, uid, y)"
            " JOIN users u ON u.id = t.uid AND u.deleted_at IS NULL"
            " WHERE NOT EXISTS (SELECT 1 FROM send_records r WHERE r.idempotency_key = t.k"
            " AND r.year = t.y) AND EXISTS (SELECT 1 FROM partition_leases l"
            " WHERE l.partition = 0 AND l.epoch = $1 AND l.expires_at > now())");
  c.prepare("insert_final",
            "INSERT INTO send_records (idempotency_key, user_id, occasion, year, partition,"
            " due_at, status, attempts, owner_epoch, claimed_at, claimed_by, sent_at, sent_to)"
            " SELECT t.k, t.uid, t.o, t.y, 0, to_timestamp(t.d / 1000.0), 'sent', 1, $1, now(),"
            " 'bench', now(), 'x@y.org'"
            " FROM unnest($2::text[], $3::uuid[], $4::text[], $5::int[], $6::bigint[])"
            "   AS t(k, uid, o, y, d)"
            " WHERE " BENCH_FENCE
            " ON CONFLICT (idempotency_key, year) DO NOTHING RETURNING idempotency_key");
  // (d) As (c), plus the claim by range: one row per partition and chunk
  // ("this epoch may send what is due up to X") before the chunk is sent.
  n.exec("CREATE TABLE claim_ranges (partition integer, epoch bigint, until timestamptz,"
         " PRIMARY KEY (partition, epoch, until))");
  c.prepare("claim_range", "INSERT INTO claim_ranges SELECT 0, $1, now() WHERE " BENCH_FENCE
                           " ON CONFLICT DO NOTHING");
}

std::vector<occurrence> greetings_of(int year, int n) {
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
  return all;
}

struct figure {
  double rows_per_s;
  double wal_per_row;
};

// Runs `write` over `all` in batches; fails loudly when a row is missing.
template <class Write>
figure run_candidate(pqxx::connection& c, const std::vector<occurrence>& all, int batch,
                     Write write) {
  auto wal0 = wal_lsn(c);
  auto t0 = clk::now();
  size_t written = 0;
  for (size_t i = 0; i < all.size(); i += batch) {
    std::vector<occurrence> b(all.begin() + i, all.begin() + std::min(all.size(), i + batch));
    written += write(b);
  }
  double s = seconds_since(t0);
  auto wal = wal_lsn(c) - wal0;
  if (written != all.size()) {
    std::fprintf(stderr, "candidate wrote %zu of %zu\n", written, all.size());
    std::exit(1);
  }
  return {all.size() / s, static_cast<double>(wal) / all.size()};
}

void candidates(pg::store& s, const std::string& conninfo, int64_t epoch, int rows) {
  pqxx::connection c{conninfo};
  prepare_candidates(c);
  auto in_txn = [&](const char* stmt, const std::vector<occurrence>& b) {
    auto cols = columns_of(b);
    pqxx::work w{c};
    auto r = std::string{stmt} == "check_unsent"
                 ? w.exec_prepared(stmt, epoch, cols.keys, cols.users, cols.years)
                 : w.exec_prepared(stmt, epoch, cols.keys, cols.users, cols.occasions, cols.years,
                                   cols.dues);
    w.commit();
    return r;
  };
  auto keys_of = [](const pqxx::result& r) {
    std::vector<std::string> k;
    for (const auto& row : r)
      k.push_back(row[0].as<std::string>());
    return k;
  };
  struct candidate {
    const char* name;
    std::function<size_t(const std::vector<occurrence>&)> write;
  };
  std::vector<candidate> all{
      {"(a) claim + mark (today)",
       [&](const std::vector<occurrence>& b) {
         auto keys = s.claim(0, epoch, b, 0);
         std::vector<outcome> out;
         for (const auto& k : keys)
           out.push_back({k, status::sent, "", 0, 1'900'000'000'000});
         return s.record_outcomes(0, epoch, out).size();
       }},
      {"(b) claim + HOT mark",
       [&](const std::vector<occurrence>& b) {
         auto keys = keys_of(in_txn("hot_claim", b));
         pqxx::work w{c};
         auto r = w.exec_prepared("hot_mark", epoch, pg::array_literal(keys));
         w.commit();
         return r.size();
       }},
      {"(c) check + insert sent",
       [&](const std::vector<occurrence>& b) {
         auto ok = keys_of(in_txn("check_unsent", b));
         if (ok.size() != b.size()) return size_t{0};
         return in_txn("insert_final", b).size();
       }},
      {"(e) as built: store check + record",
       [&](const std::vector<occurrence>& b) {
         auto ok = s.check(0, epoch, b, 0);
         if (ok.size() != b.size()) return size_t{0};
         std::vector<outcome> out;
         for (const auto& o : b) {
           outcome x{o.key, status::sent, "", 0, 1'900'000'000'000};
           x.user_id = o.user_id;
           x.occasion = o.occasion;
           x.year = o.year;
           x.due_at = o.due_at;
           x.email = "x@y.org";
           out.push_back(std::move(x));
         }
         return s.record_outcomes(0, epoch, out).size();
       }},
      {"(d) range claim + (c)",
       [&](const std::vector<occurrence>& b) {
         {
           pqxx::work w{c};
           w.exec_prepared("claim_range", epoch);
           w.commit();
         }
         auto ok = keys_of(in_txn("check_unsent", b));
         if (ok.size() != b.size()) return size_t{0};
         return in_txn("insert_final", b).size();
       }},
  };
  std::printf("\ncandidates for one write per greeting (issue 35), %d greetings each, two "
              "alternating rounds:\n",
              rows);
  std::printf("%-34s %8s %14s %14s\n", "write path", "batch", "rows/s", "WAL B/greeting");
  int year = 2040;
  for (int batch : {100, 1000}) {
    for (int round = 0; round < 2; ++round) {
      for (const auto& cand : all) {
        ++year;
        s.ensure_record_year(year);
        auto f = run_candidate(c, greetings_of(year, rows), batch, cand.write);
        std::printf("%-34s %8d %14.0f %14.0f\n", cand.name, batch, f.rows_per_s, f.wal_per_row);
      }
    }
  }
  pqxx::nontransaction n{c};
  auto hot = n.exec1("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                     " WHERE relname = 'hot_records'");
  std::printf("hot_records updates: %ld, heap-only: %ld (statistics as last reported)\n",
              hot[0].as<long>(), hot[1].as<long>());
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
    auto all = greetings_of(year, n);
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
  candidates(s, conninfo, epoch, std::min(rows, 20'000));
  (*server)->destroy();
  std::filesystem::remove_all(dir);
  return 0;
}
