// One embedded PostgreSQL per test binary (started by the same launcher
// candled uses), and one fresh, migrated database per test.
#pragma once

#include "core/occurrence.hpp"
#include "persistence/embedded_pg.hpp"
#include "persistence/schema.hpp"
#include "persistence/store.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <unistd.h>

namespace candle::test {

/// The id bulk_users() gives user `i`.
inline std::string uid(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", i);
  return buf;
}

/// An ISO instant as milliseconds since the epoch.
inline int64_t ms(std::string_view iso) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             parse_instant(iso)->time_since_epoch())
      .count();
}

/// User i's birthday greeting of `year` (bulk_users' ids), due at `due_at`.
inline occurrence birthday_of(int i, int year, int64_t due_at) {
  occurrence o;
  o.user_id = uid(i);
  o.occasion = "birthday";
  o.year = year;
  o.key = idempotency_key(o.user_id, o.occasion, year);
  o.due_at = due_at;
  return o;
}

class pg_environment : public ::testing::Environment {
public:
  static pg_environment*& instance() {
    static pg_environment* env = nullptr;
    return env;
  }
  void SetUp() override {
    char tmpl[] = "/tmp/candle-it-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto pg = pg::embedded_postgres::start(dir_ + "/pg", "postgres");
    ASSERT_TRUE(pg) << pg.err().message;
    server = std::move(*pg);
  }
  void TearDown() override {
    if (server) server->destroy();
    server.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::unique_ptr<pg::embedded_postgres> server;

private:
  std::string dir_;
};

/// Base fixture: creates database test_<pid>_<n>, migrates it, drops it after.
class pg_test : public ::testing::Test {
protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    db_ = "test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    admin_exec("CREATE DATABASE " + db_);
    conninfo = server().conninfo(db_);
    pqxx::connection c{conninfo};
    pg::migrate(c);
  }
  void TearDown() override { admin_exec("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)"); }
  static pg::embedded_postgres& server() { return *pg_environment::instance()->server; }
  void admin_exec(const std::string& sql) {
    pqxx::connection c{server().conninfo("postgres")};
    pqxx::nontransaction{c}.exec(sql);
  }
  /// A query on the test database, first column of first row as T.
  template <class T> T scalar(const std::string& sql) {
    pqxx::connection c{conninfo};
    pqxx::nontransaction n{c};
    return n.exec1(sql)[0].as<T>();
  }
  /// Inserts users 1..n of `partition` (ids from uid(i)), UTC, born 1 Jan 1990.
  void bulk_users(int n, int partition) {
    pqxx::connection c{conninfo};
    pqxx::work w{c};
    w.exec("INSERT INTO users (id, first_name, last_name, email, timezone, birthday_date,"
           " partition, created_at, updated_at)"
           " SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'F' || i,"
           " 'L' || i, 'u' || i || '@example.com', 'UTC', '1990-01-01', " +
           std::to_string(partition) + ", '2000-01-01', '2000-01-01' FROM generate_series(1, " +
           std::to_string(n) + ") AS i");
    w.commit();
  }

  std::string conninfo;

private:
  std::string db_;
};

} // namespace candle::test
