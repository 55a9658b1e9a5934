// candle-pg: the embedded PostgreSQL launcher on its own, for a local
// cluster (scripts/cluster) and multi-node tests: several candled share the
// one database through db.url. Prints the URL, runs until SIGINT/SIGTERM,
// then stops the server (the data directory is kept).
#include "persistence/embedded_pg.hpp"
#include "persistence/schema.hpp"

#include <csignal>
#include <iostream>
#include <pqxx/pqxx>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2 || std::string{argv[1]}.rfind("-", 0) == 0) {
    std::cerr << "usage: candle-pg DIR\n"
                 "Starts Candle's embedded PostgreSQL in DIR (created if missing), prints\n"
                 "`candle-pg ready: url=postgresql://...` for db.url, and runs until\n"
                 "SIGINT or SIGTERM.\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto pg = candle::pg::embedded_postgres::start(argv[1], "candle");
  if (!pg) {
    std::cerr << "candle-pg: " << pg.err().message << '\n';
    return 1;
  }
  try {
    // Migrated here once, so nodes starting together find the schema.
    pqxx::connection c{(*pg)->conninfo("candle")};
    candle::pg::migrate(c);
  } catch (const std::exception& e) {
    std::cerr << "candle-pg: " << e.what() << '\n';
    return 1;
  }
  std::cout << "candle-pg ready: url=" << (*pg)->url("candle") << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  (*pg)->stop();
  return 0;
}
