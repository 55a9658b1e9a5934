// Candle's own PostgreSQL, run from Debian's server binaries when db.url is
// empty. The server is a child process of the node: it is initialised on
// first use, started on a unix socket only (no TCP port to collide on),
// stopped with the node, and killed with it (parent-death signal) so that a
// `kill -9` of the node never leaves an orphan holding the data directory.
//
// Call start() and restart() from a thread that lives as long as the server
// should (the main thread): Linux delivers the parent-death signal when the
// forking *thread* exits.
#pragma once

#include "core/result.hpp"

#include <memory>
#include <string>
#include <sys/types.h>

namespace candle::pg {

class embedded_postgres {
public:
  /// Locks `dir` for this process (a second node on the same directory is
  /// refused), initialises (first time) and starts a cluster for it,
  /// waits until it accepts connections and creates database `dbname`.
  ///
  /// As root, PostgreSQL (which refuses to run as root) runs as the OS user
  /// `postgres`. When that user cannot reach `dir` (a private parent such as
  /// /root or a mktemp directory), the cluster lives under
  /// /var/lib/candle/clusters/ and `dir/cluster-location` names it.
  static result<std::unique_ptr<embedded_postgres>> start(const std::string& dir,
                                                          const std::string& dbname = "candle");

  ~embedded_postgres();
  embedded_postgres(const embedded_postgres&) = delete;
  embedded_postgres& operator=(const embedded_postgres&) = delete;

  /// A libpq connection string for `dbname` on this server.
  std::string conninfo(const std::string& dbname) const;
  /// The same as a postgresql:// URL (for logs and db.url).
  std::string url(const std::string& dbname) const;
  const std::string& cluster_dir() const { return cluster_; }
  pid_t pid() const { return pid_; }

  /// Fast shutdown (SIGINT), waiting for the server to exit. Idempotent.
  void stop();
  /// Immediate shutdown (SIGQUIT): no checkpoint, WAL recovery on the next
  /// start, exactly as after a crash. For tests.
  void crash();
  /// Starts the server again after stop() or crash(). For tests.
  result<bool> restart();
  /// stop(), then removes the cluster directory. For test runners.
  void destroy();

private:
  embedded_postgres() = default;
  result<bool> launch();
  // The steps of start(), in order.
  result<bool> run_as();
  result<bool> locate_cluster();
  result<bool> initdb_if_new();
  result<bool> create_database(const std::string& dbname);

  std::string dir_;     // db.dir
  std::string cluster_; // the PostgreSQL data directory
  std::string bin_;     // Debian's server binaries
  bool as_postgres_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = -1;
  int lock_fd_ = -1; // flock on db.dir/.lock: one node per data directory
};

} // namespace candle::pg
