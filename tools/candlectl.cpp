// candlectl: the console. Attaches to a node's CONSOLE actor over CAF's
// network layer and runs one command, or an interactive session (libedit:
// line editing, history, completion). docs/console.md is its manual.
//
// Never hangs: connecting and every request have a deadline (--timeout),
// and the process ends with _exit() so a connection the middleman is still
// blocked on (a stopped host) cannot hold it (caf-0.17-notes.md, "Network").
#include "actors/actors.hpp"
#include "actors/tls.hpp"
#include "console/cli.hpp"

#include <atomic>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <csignal>
#include <cstdio>
#include <editline/readline.h>
#include <iostream>
#include <optional>
#include <pwd.h>
#include <thread>
#include <unistd.h>

namespace {

using namespace candle;
namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

[[noreturn]] void finish(int code) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  ::_exit(code);
}

std::atomic<bool> interrupted{false};

extern "C" void on_sigint(int) {
  interrupted = true;
}

std::string who_am_i() {
  std::string name = "unknown";
  if (const auto* pw = ::getpwuid(::geteuid())) name = pw->pw_name;
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  return "console " + name + "@" + host + " pid " + std::to_string(::getpid());
}

// An answer: the document, or an error document and its one-line message.
struct answer {
  bool ok = false;
  std::string doc; // JSON text
  std::string message;
};

answer failure(const std::string& command, const std::string& code, const std::string& message) {
  return {false, json::serialize(console::error_document(command, code, message)), message};
}

class session {
public:
  session(caf::actor_system& sys, console::invocation inv)
      : sys_(sys), inv_(std::move(inv)), who_(who_am_i()) {
    // The node's admin.token, for state changes (never on the command line,
    // where `ps` would show it).
    if (const char* t = std::getenv("CANDLE_ADMIN_TOKEN")) token_ = t;
  }

  // Runs one command against the node; connects first if needed.
  answer run(const console::command& c) {
    auto deadline = steady_clock::now() + inv_.timeout;
    if (!console_) {
      auto err = connect(deadline);
      if (!err.empty()) return failure(c.name, "unreachable", err);
    }
    auto left = std::max(milliseconds{1},
                         std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now()));
    answer out;
    caf::scoped_actor self{sys_};
    auto on_doc = [&](std::string& doc) {
      out.ok = true;
      out.doc = std::move(doc);
    };
    auto on_error = [&](caf::error& e) {
      out = describe(c.name, e);
      if (e == caf::sec::request_timeout || e.category() != caf::atom("candle"))
        console_ = nullptr; // reconnect next time
    };
    auto ms = [](std::chrono::seconds s) { return static_cast<int64_t>(s.count()) * 1000; };
    const auto& n = c.name;
    if (n == "status" || n == "watch")
      self->request(console_, left, atom::status::value).receive(on_doc, on_error);
    else if (n == "nodes")
      self->request(console_, left, atom::nodes::value).receive(on_doc, on_error);
    else if (n == "partitions")
      self->request(console_, left, atom::partitions::value).receive(on_doc, on_error);
    else if (n == "user")
      self->request(console_, left, atom::get::value, c.user).receive(on_doc, on_error);
    else if (n == "audit")
      self->request(console_, std::max(left, milliseconds{60'000}), atom::audit::value)
          .receive(on_doc, on_error);
    else if (n == "upcoming")
      self->request(console_, left, atom::upcoming::value, c.limit).receive(on_doc, on_error);
    else if (n == "failed")
      self->request(console_, left, atom::failed::value, c.statuses, c.limit)
          .receive(on_doc, on_error);
    else if (n == "redrive" && !c.key.empty())
      self->request(console_, left, atom::redrive::value, c.key, who_, token_)
          .receive(on_doc, on_error);
    else if (n == "redrive") // one statement over every match: may take longer once connected
      self->request(console_, c.dry_run ? left : std::max(left, milliseconds{60'000}),
                    atom::redrive::value, c.statuses.at(0), c.occasion, c.dry_run, who_, token_)
          .receive(on_doc, on_error);
    else if (n == "pause")
      self->request(console_, left, atom::pause::value, true, ms(c.duration), who_, token_)
          .receive(on_doc, on_error);
    else if (n == "resume")
      self->request(console_, left, atom::pause::value, false, int64_t{0}, who_, token_)
          .receive(on_doc, on_error);
    else
      return failure(n, "invalid", "not a node command: " + n);
    return out;
  }

  const console::invocation& invocation() const { return inv_; }

private:
  // Asks the middleman to connect, with a deadline; checks that what
  // answers on the port is a console (a cluster port has the NODE actor).
  // A connect can fail with connection_timeout when a heartbeat tick lands
  // before the handshake ends (caf-0.17-notes.md): tried again until the
  // deadline.
  std::string connect(steady_clock::time_point deadline) {
    for (;;) {
      bool again = false;
      auto err = connect_once(deadline, again);
      if (!again) return err;
      if (steady_clock::now() + milliseconds{100} >= deadline)
        return "cannot reach " + inv_.host + ":" + std::to_string(inv_.port) +
               ": no handshake within " + std::to_string(inv_.timeout.count()) +
               " ms (is the node stopped?)";
      std::this_thread::sleep_for(milliseconds{50});
    }
  }

  std::string connect_once(steady_clock::time_point deadline, bool& again) {
    auto where = inv_.host + ":" + std::to_string(inv_.port);
    auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return "cannot reach " + where + ": timed out";
    std::string err;
    caf::scoped_actor self{sys_};
    self->request(connector(sys_), left, caf::connect_atom::value, inv_.host, inv_.port)
        .receive(
            [&](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>& ifs) {
              if (!ptr) {
                err = "nothing is published at " + where;
              } else if (ifs != sys_.message_types<console_actor>()) {
                err = where + " is not a Candle console (a cluster port?)";
              } else {
                console_ = caf::actor_cast<console_actor>(ptr);
              }
            },
            [&](caf::error& e) {
              again = e == caf::sec::connection_timeout;
              err = "cannot reach " + where + ": " +
                    (e == caf::sec::request_timeout
                         ? std::string{"timed out after "} + std::to_string(left.count()) + " ms"
                         : sys_.render(e));
            });
    return err;
  }

  answer describe(const std::string& command, const caf::error& e) {
    if (e.category() == caf::atom("candle")) {
      std::string message = to_string(static_cast<errc>(e.code()));
      const auto& ctx = e.context();
      if (!ctx.empty() && ctx.match_element<std::string>(0)) message = ctx.get_as<std::string>(0);
      return failure(command, to_string(static_cast<errc>(e.code())), message);
    }
    if (e == caf::sec::request_timeout)
      return failure(command, "timeout",
                     "the node at " + inv_.host + ":" + std::to_string(inv_.port) +
                         " did not answer in time");
    return failure(command, "unreachable",
                   "lost the node at " + inv_.host + ":" + std::to_string(inv_.port) + ": " +
                       sys_.render(e));
  }

  caf::actor_system& sys_;
  console::invocation inv_;
  std::string who_;
  std::string token_;
  console_actor console_;
};

// Prints an answer (the document, or text for people) and says whether it
// was one.
bool print(const session& s, const answer& a) {
  if (s.invocation().json) {
    std::cout << a.doc << std::endl;
    if (!a.ok) std::cerr << "candlectl: " << a.message << std::endl;
    return a.ok;
  }
  if (!a.ok) {
    std::cerr << "candlectl: " << a.message << std::endl;
    return false;
  }
  json::error_code ec;
  auto v = json::parse(a.doc, ec);
  if (ec || !v.is_object()) {
    std::cout << a.doc << std::endl;
    return true;
  }
  std::cout << console::render_text(v.as_object()) << std::flush;
  return true;
}

void print_help(const session& s) {
  auto doc = console::help_document();
  if (s.invocation().json) {
    std::cout << json::serialize(doc) << std::endl;
    return;
  }
  std::cout << "usage: candlectl [--host H] [--port P] [--json] [--timeout DURATION] [command]\n"
               "  (defaults: 127.0.0.1, 4242, text, 4s; no command: interactive)\n"
            << console::render_text(doc) << std::flush;
}

// `watch`: status every interval until Ctrl-C (then 0), or until the node
// stops answering (then 1).
int watch(session& s, const console::command& c) {
  interrupted = false;
  bool tty = ::isatty(STDOUT_FILENO) && !s.invocation().json;
  auto every = c.duration.count() > 0 ? std::chrono::duration_cast<milliseconds>(c.duration)
                                      : milliseconds{1000};
  while (!interrupted) {
    auto a = s.run(c);
    if (tty && a.ok) std::cout << "\033[H\033[2J";
    if (!print(s, a)) return 1;
    if (!tty && !s.invocation().json) std::cout << '\n';
    auto until = steady_clock::now() + every;
    while (!interrupted && steady_clock::now() < until)
      std::this_thread::sleep_for(milliseconds{50});
  }
  return 0;
}

int run_one(session& s, const console::command& c) {
  if (c.name == "help") {
    print_help(s);
    return 0;
  }
  if (c.name == "quit") return 0;
  if (c.name == "watch") return watch(s, c);
  auto a = s.run(c);
  if (!print(s, a)) return 1;
  if (c.name == "audit") { // findings are a failure for scripts
    json::error_code ec;
    auto v = json::parse(a.doc, ec);
    const json::value* clean = !ec && v.is_object() ? v.as_object().if_contains("clean") : nullptr;
    return clean && clean->is_bool() && clean->as_bool() ? 0 : 1;
  }
  return 0;
}

// -- interactive ------------------------------------------------------------------

std::vector<std::string> candidates;

char* next_candidate(const char*, int state) {
  static size_t i = 0;
  if (state == 0) i = 0;
  return i < candidates.size() ? ::strdup(candidates[i++].c_str()) : nullptr;
}

char** complete(const char* text, int start, int) {
  std::string_view before{rl_line_buffer, static_cast<size_t>(start)};
  candidates = console::completions(before, text);
  rl_attempted_completion_over = 1; // no file-name completion
  if (candidates.empty()) return nullptr;
  return rl_completion_matches(text, next_candidate);
}

int interactive(session& s) {
  std::string history;
  if (const char* home = std::getenv("HOME")) history = std::string{home} + "/.candlectl_history";
  using_history();
  if (!history.empty()) read_history(history.c_str());
  rl_attempted_completion_function = complete;
  auto prompt = "candle " + s.invocation().host + ":" + std::to_string(s.invocation().port) + "> ";
  int last = 0;
  while (char* raw = readline(prompt.c_str())) {
    std::string line{raw};
    std::free(raw);
    auto words = console::split_line(line);
    if (!words) {
      std::cerr << "candlectl: " << words.err().message << std::endl;
      continue;
    }
    if (words->empty()) continue;
    add_history(line.c_str());
    if (!history.empty()) write_history(history.c_str());
    auto c = console::parse_command(*words);
    if (!c) {
      std::cerr << "candlectl: " << c.err().message << std::endl;
      last = 2;
      continue;
    }
    if (c->name == "quit") break;
    last = run_one(s, *c);
  }
  (void)last;
  std::cout << std::endl;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  auto inv = console::parse_invocation(std::vector<std::string>(argv + 1, argv + argc));
  if (!inv) {
    std::cerr << "candlectl: " << inv.err().message << " (candlectl help lists the commands)"
              << std::endl;
    finish(2);
  }
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  caf::actor_system_config cfg;
  register_types(cfg);
  // The node's network settings (actors/tls.hpp); mutual TLS with the same
  // variables a node reads (CANDLE_TLS_CERTIFICATE, _KEY, _CA).
  auto env = [](const char* n) { return std::string{std::getenv(n) ? std::getenv(n) : ""}; };
  tls_files tls{env("CANDLE_TLS_CERTIFICATE"), env("CANDLE_TLS_KEY"), env("CANDLE_TLS_CA")};
  auto given = !tls.certificate.empty() + !tls.key.empty() + !tls.ca.empty();
  if (given != 0 && given != 3) {
    std::cerr << "candlectl: set CANDLE_TLS_CERTIFICATE, CANDLE_TLS_KEY and CANDLE_TLS_CA together"
              << std::endl;
    finish(2);
  }
  if (auto bad = check_tls_files(tls); !bad.empty()) {
    std::cerr << "candlectl: " << bad << " (CANDLE_TLS_*)" << std::endl;
    finish(2);
  }
  configure_network(cfg, tls);
  cfg.set("scheduler.max-threads", 2);
  std::optional<caf::actor_system> system;
  try {
    system.emplace(cfg);
  } catch (const std::exception& e) {
    std::cerr << "candlectl: TLS files: " << e.what() << std::endl;
    finish(2);
  }
  auto& sys = *system;
  session s{sys, *inv};
  if (!inv->cmd) finish(interactive(s));
  finish(run_one(s, *inv->cmd));
}
