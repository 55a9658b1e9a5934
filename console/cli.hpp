// The pure part of `candlectl` (docs/console.md): command lines and
// interactive lines parsed into commands, durations, completion, and the
// console's JSON documents rendered as text for people. No CAF, no network.
#pragma once

#include "core/result.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace candle::console {

inline constexpr const char* schema = "candle.console/1";

/// One console command, parsed and validated.
struct command {
  std::string name; ///< status nodes partitions user upcoming failed redrive pause resume watch
                    ///< help quit
  std::string user; ///< user <id|email>
  std::string key;  ///< redrive <key>
  std::vector<std::string>
      statuses;         ///< failed --status (repeatable; default dead,expired,retrying);
                        ///< redrive --status (exactly one: dead|expired)
  std::string occasion; ///< redrive --occasion O
  bool dry_run = false; ///< redrive --dry-run
  uint64_t limit =
      0; ///< upcoming [N] (default 10, 1..1000); failed --limit N (default 20, 1..1000)
  std::chrono::seconds duration{0}; ///< pause --for D (0 = until resume); watch --interval D
                                    ///< (default 1s)
  bool changes_state() const;       ///< redrive, pause, resume
};

struct invocation {
  std::string host = "127.0.0.1";
  uint16_t port = 4242;
  bool json = false;
  std::chrono::milliseconds timeout{4000};
  std::optional<command> cmd; ///< none = interactive
};

/// argv without the program name: global options (--host H, --port P, --json, --timeout D, also
/// --opt=value forms, and -h/--help which yields cmd "help") come before the command; the rest are
/// the command's words. Errors (errc::invalid_argument / out_of_range) carry a one-line message
/// naming the offending option or argument, e.g. "--port: must be 1..65535".
result<invocation> parse_invocation(const std::vector<std::string>& argv);
/// A command from its words (argv after global options, or a split interactive line).
result<command> parse_command(const std::vector<std::string>& words);
/// Splits an interactive line into words: whitespace separated, '...' and "..." quoting, backslash
/// escapes; unterminated quote is an error.
result<std::vector<std::string>> split_line(std::string_view line);
/// "2s", "90s", "15m", "1h30m", "2d": units s m h d, concatenated, each a whole number; total
/// 1s..30d; anything else an error naming the text.
result<std::chrono::seconds> parse_duration(std::string_view text);
/// Inverse for display: 90 -> "1m30s", 3600 -> "1h", 0 -> "0s".
std::string format_duration(std::chrono::seconds d);
/// Text for people from a command's JSON document (docs/console.md), dispatching on
/// doc["command"]; a document with "error" renders as "error: <message>". Aligned tables for lists
/// (nodes, partitions, upcoming, failed, user records/next), key: value lines for status. Ends
/// with a newline. Must never throw on missing/odd fields (render "-" for null/missing).
std::string render_text(const boost::json::object& doc);
/// The help document: {"schema", "command":"help", "commands":[{"name","usage","summary"}...]}
/// covering every command in docs/console.md plus quit.
boost::json::object help_document();
/// Completion candidates for the word being typed: `before` is the line up to the start of that
/// word, `word` the partial word. First word: command names; after a command: its options (e.g.
/// after "failed": --status --limit; after "failed --status": dead expired retrying; after
/// "redrive": --status --occasion --dry-run; after "pause": --for). Sorted, only those starting
/// with `word`.
std::vector<std::string> completions(std::string_view before, std::string_view word);
/// The error document {"schema","command","error":{"code","message"}}.
boost::json::object error_document(std::string_view command, std::string_view code,
                                   std::string_view message);

/// Every command name (help and completion), in the order of docs/console.md, then quit.
const std::vector<std::string>& command_names();

} // namespace candle::console
