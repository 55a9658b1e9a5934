#include "actors/db_session.hpp"

#include <chrono>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>
#include <string>
#include <thread>

namespace candle {

namespace {

// Errors that mean "the connection is gone": retry on a new one. Class 08 is
// connection exceptions; 57P0x is the server shutting down or starting up.
bool connection_trouble(const pqxx::sql_error& e) {
  auto state = e.sqlstate();
  // No SQLSTATE: libpq made the error up itself because the server went
  // away mid-statement ("server closed the connection unexpectedly"; pqxx
  // 6.4 throws that as sql_error, not broken_connection, when it happens
  // while a result is read). A server-sent error always has one.
  return state.empty() || state.rfind("08", 0) == 0 || state.rfind("57P0", 0) == 0;
}

// A statement (with its commit) this slow is logged: what a lease renewal
// or a claim waited for is then in the node's log, not guessed.
constexpr auto slow_statement = std::chrono::seconds{1};

} // namespace

caf::error db_session::run(const char* what, const std::function<void(pg::store&, bool)>& f) {
  auto deadline = std::chrono::steady_clock::now() + opts.retry_for;
  auto pause = std::chrono::milliseconds{50};
  bool lost = false;
  for (;;) {
    std::string problem;
    try {
      auto started = std::chrono::steady_clock::now();
      f(*db, lost);
      auto took = std::chrono::steady_clock::now() - started;
      if (took >= slow_statement) {
        spdlog::warn("event=db.slow op={} ms={}", what,
                     std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
      }
      return {};
    } catch (const pqxx::broken_connection& e) {
      problem = e.what();
    } catch (const pqxx::in_doubt_error& e) {
      problem = e.what();
    } catch (const pqxx::sql_error& e) {
      if (!connection_trouble(e)) {
        spdlog::error("event=db.error op={} sqlstate={} error=\"{}\"", what, e.sqlstate(),
                      e.what());
        db->reset(); // the transaction is unusable; start clean
        return make_error(errc::internal, std::string{what} + ": " + e.what());
      }
      problem = e.what();
    } catch (const std::exception& e) {
      spdlog::error("event=db.error op={} error=\"{}\"", what, e.what());
      db->reset();
      return make_error(errc::internal, std::string{what} + ": " + e.what());
    }
    lost = true;
    db->reset();
    if (std::chrono::steady_clock::now() + pause > deadline) {
      spdlog::warn("event=db.unavailable op={} error=\"{}\"", what, problem);
      return make_error(errc::unavailable, "database unreachable: " + problem);
    }
    spdlog::debug("event=db.retry op={} error=\"{}\"", what, problem);
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds{1000});
  }
}

} // namespace candle
