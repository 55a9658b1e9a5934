#include "persistence/embedded_pg.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <random>
#include <spdlog/spdlog.h>
#include <sstream>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace candle::pg {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr int port = 5432; // only names the socket file: no TCP listener
constexpr const char* superuser = "candle";

error fail(std::string msg) {
  return error{errc::invalid_argument, std::move(msg)};
}

// The newest /usr/lib/postgresql/<major>/bin that has a server.
std::string find_bin_dir() {
  std::string best;
  int best_major = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator{"/usr/lib/postgresql", ec}) {
    auto name = entry.path().filename().string();
    int major = std::atoi(name.c_str());
    if (major > best_major && fs::exists(entry.path() / "bin" / "postgres")) {
      best_major = major;
      best = (entry.path() / "bin").string();
    }
  }
  return best;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t i = 0; i <= lines && pos != std::string::npos && pos > 0; ++i)
    pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

// In a forked child: undo what the node set for itself (blocked SIGINT and
// SIGTERM, ignored SIGPIPE survive exec), then become the server's OS user
// (when root).
void become(bool switch_user, uid_t uid, gid_t gid) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  if (!switch_user) return;
  if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0) _exit(126);
}

// In a forked child: stdout and stderr to `log` (appended).
void redirect_output(const std::string& log) {
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
}

// In a forked child: replace the process with argv[0]; never returns.
[[noreturn]] void exec(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

// Whether the server's OS user can traverse into `path`.
bool reachable(bool switch_user, uid_t uid, gid_t gid, const std::string& path) {
  pid_t child = fork();
  if (child == 0) {
    become(switch_user, uid, gid);
    _exit(access(path.c_str(), X_OK) == 0 ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Runs a program as the server's user and waits; output goes to `log`.
int run(bool switch_user, uid_t uid, gid_t gid, const std::vector<std::string>& argv,
        const std::string& log) {
  pid_t child = fork();
  if (child == 0) {
    redirect_output(log);
    become(switch_user, uid, gid);
    exec(argv);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string random_id() {
  std::random_device rd;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string id;
  for (int i = 0; i < 16; ++i)
    id.push_back("0123456789abcdef"[hex(rd)]);
  return id;
}

// Waits up to `limit` for `pid` to exit; true if it did (and was reaped).
bool wait_exit(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    auto r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// Like wait_exit for a process that is not our child.
bool wait_gone(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// postmaster.pid left behind: either stale (the server died with its node)
// or a live server on this directory that outlived an older node. The
// latter is shut down; the former removed, so a reused PID cannot block us.
// Only called while holding db.dir's lock, so no live node owns the server.
void clear_previous_server(const std::string& cluster) {
  auto pidfile = cluster + "/postmaster.pid";
  if (!fs::exists(pidfile)) return;
  pid_t old = std::atoi(read_file(pidfile).c_str());
  bool ours = false;
  if (old > 0 && kill(old, 0) == 0) {
    std::error_code ec;
    auto exe = fs::read_symlink("/proc/" + std::to_string(old) + "/exe", ec).filename().string();
    auto cwd = fs::read_symlink("/proc/" + std::to_string(old) + "/cwd", ec);
    ours = exe == "postgres" && !ec && fs::equivalent(cwd, cluster, ec);
  }
  if (ours) {
    spdlog::warn("event=db.orphan_server pid={} action=shutdown", old);
    kill(old, SIGINT);
    if (!wait_gone(old, 15s)) {
      kill(old, SIGQUIT);
      wait_gone(old, 5s);
    }
  } else {
    spdlog::info("event=db.stale_pidfile pid={} action=remove", old);
    fs::remove(pidfile);
  }
}

} // namespace

result<std::unique_ptr<embedded_postgres>> embedded_postgres::start(const std::string& dir,
                                                                    const std::string& dbname) {
  std::unique_ptr<embedded_postgres> pg{new embedded_postgres};
  pg->bin_ = find_bin_dir();
  if (pg->bin_.empty())
    return fail("no PostgreSQL server under /usr/lib/postgresql (install Debian's 'postgresql'"
                " package: scripts/setup does)");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail("cannot create db.dir '" + dir + "': " + ec.message());
  pg->dir_ = fs::canonical(dir).string();
  // Held for the node's lifetime, released by the kernel however it ends.
  pg->lock_fd_ = open((pg->dir_ + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (pg->lock_fd_ < 0 || flock(pg->lock_fd_, LOCK_EX | LOCK_NB) != 0)
    return fail("db.dir '" + pg->dir_ + "' is in use by another candled (or cannot be locked)");
  if (auto r = pg->run_as(); !r) return r.err();
  if (auto r = pg->locate_cluster(); !r) return r.err();
  if (auto r = pg->initdb_if_new(); !r) return r.err();
  if (auto r = pg->launch(); !r) return r.err();
  if (auto r = pg->create_database(dbname); !r) return r.err();
  return pg;
}

// Root runs PostgreSQL as the OS user 'postgres'; anyone else as themselves.
result<bool> embedded_postgres::run_as() {
  if (geteuid() == 0) {
    auto* pw = getpwnam("postgres");
    if (pw == nullptr)
      return fail("running as root needs the OS user 'postgres' to run PostgreSQL (Debian's"
                  " postgresql package creates it)");
    as_postgres_ = true;
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
  } else {
    uid_ = geteuid();
    gid_ = getegid();
  }

  return true;
}

result<bool> embedded_postgres::locate_cluster() {
  std::error_code ec;
  // Where the cluster lives (see the header).
  auto pointer = dir_ + "/cluster-location";
  if (fs::exists(pointer)) {
    auto loc = read_file(pointer);
    loc.erase(loc.find_last_not_of(" \n\r\t") + 1);
    cluster_ = loc;
  } else if (!as_postgres_ || reachable(true, uid_, gid_, dir_)) {
    cluster_ = dir_ + "/cluster";
  } else {
    auto base = std::string{"/var/lib/candle/clusters"};
    fs::create_directories(base, ec);
    fs::permissions("/var/lib/candle",
                    fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, ec);
    fs::permissions(base, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec,
                    ec);
    cluster_ = base + "/" + random_id();
    std::ofstream{pointer} << cluster_ << "\n";
    spdlog::info("event=db.cluster_relocated reason=\"postgres user cannot reach {}\" cluster={}",
                 dir_, cluster_);
  }
  if (cluster_.size() + 20 > 107)
    return fail("database cluster path too long for a unix socket: " + cluster_);

  return true;
}

result<bool> embedded_postgres::initdb_if_new() {
  std::error_code ec;
  // First start (or an initdb that died half-way): initialise.
  if (!fs::exists(cluster_ + "/PG_VERSION")) {
    fs::remove_all(cluster_, ec);
    fs::create_directories(cluster_, ec);
    if (ec) return fail("cannot create " + cluster_ + ": " + ec.message());
    if (as_postgres_ && chown(cluster_.c_str(), uid_, gid_) != 0)
      return fail("cannot hand " + cluster_ + " to the postgres user: " + strerror(errno));
    chmod(cluster_.c_str(), 0700);
    auto log = dir_ + "/initdb.log";
    spdlog::info("event=db.initdb cluster={}", cluster_);
    int rc = run(as_postgres_, uid_, gid_,
                 {bin_ + "/initdb", "-D", cluster_, "-U", superuser, "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-instructions"},
                 log);
    if (rc != 0)
      return fail("initdb failed (exit " + std::to_string(rc) + "):\n" + tail(read_file(log), 10));
  }
  return true;
}

result<bool> embedded_postgres::create_database(const std::string& dbname) {
  // The application database.
  auto admin = conninfo("postgres");
  PGconn* c = PQconnectdb(admin.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    return fail("cannot connect to the embedded PostgreSQL: " + msg);
  }
  auto lit = "'" + dbname + "'";
  PGresult* res = PQexec(c, ("SELECT 1 FROM pg_database WHERE datname = " + lit).c_str());
  bool exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
  PQclear(res);
  if (!exists) {
    res = PQexec(c, ("CREATE DATABASE \"" + dbname + "\"").c_str());
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    std::string msg = PQerrorMessage(c);
    PQclear(res);
    if (!ok) {
      PQfinish(c);
      return fail("cannot create database " + dbname + ": " + msg);
    }
  }
  PQfinish(c);
  return true;
}

result<bool> embedded_postgres::launch() {
  clear_previous_server(cluster_);
  auto log = cluster_ + "/server.log";
  std::vector<std::string> argv{bin_ + "/postgres",
                                "-D",
                                cluster_,
                                "-k",
                                cluster_,
                                "-p",
                                std::to_string(port),
                                "-c",
                                "listen_addresses=",
                                "-c",
                                "unix_socket_permissions=0700",
                                "-c",
                                "fsync=on",
                                "-c",
                                "synchronous_commit=on",
                                "-c",
                                "max_connections=100",
                                "-c",
                                "shared_buffers=128MB",
                                "-c",
                                "max_wal_size=1GB",
                                "-c",
                                "log_min_messages=warning"};
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) return fail(std::string{"fork failed: "} + strerror(errno));
  if (child == 0) {
    // Own process group: a terminal's Ctrl-C reaches the node, which then
    // stops the server in order, instead of both at once.
    setpgid(0, 0);
    redirect_output(log);
    become(as_postgres_, uid_, gid_);
    // After the user switch (which clears it): die with the node, at once.
    prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (getppid() != parent) _exit(1);
    exec(argv);
  }
  pid_ = child;
  auto check = conninfo("postgres");
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(check.c_str()) == PQPING_OK) {
      spdlog::info("event=db.started pid={} cluster={}", pid_, cluster_);
      return true;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return fail("PostgreSQL exited during start-up:\n" + tail(read_file(log), 10));
    }
    std::this_thread::sleep_for(25ms);
  }
  crash();
  return fail("PostgreSQL did not accept connections within 60 s:\n" + tail(read_file(log), 10));
}

std::string embedded_postgres::conninfo(const std::string& dbname) const {
  return "host=" + cluster_ + " port=" + std::to_string(port) + " user=" + superuser +
         " dbname=" + dbname;
}

std::string embedded_postgres::url(const std::string& dbname) const {
  return "postgresql://" + std::string{superuser} + "@/" + dbname + "?host=" + cluster_;
}

void embedded_postgres::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGINT); // fast shutdown: roll back, checkpoint, exit
  if (!wait_exit(pid_, 20s)) {
    kill(pid_, SIGQUIT);
    if (!wait_exit(pid_, 5s)) {
      kill(pid_, SIGKILL);
      wait_exit(pid_, 5s);
    }
  }
  spdlog::info("event=db.stopped pid={}", pid_);
  pid_ = -1;
}

void embedded_postgres::crash() {
  if (pid_ <= 0) return;
  kill(pid_, SIGQUIT); // the postmaster kills its backends and exits at once
  if (!wait_exit(pid_, 10s)) {
    kill(pid_, SIGKILL);
    wait_exit(pid_, 5s);
  }
  pid_ = -1;
}

result<bool> embedded_postgres::restart() {
  if (pid_ > 0) return true;
  return launch();
}

void embedded_postgres::destroy() {
  stop();
  std::error_code ec;
  fs::remove_all(cluster_, ec);
  fs::remove(dir_ + "/cluster-location", ec);
}

embedded_postgres::~embedded_postgres() {
  stop();
}

} // namespace candle::pg
