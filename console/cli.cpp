#include "console/cli.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

namespace candle::console {

namespace json = boost::json;

namespace {

// ---------------------------------------------------------------------------
// Commands and their options: one table drives parsing, help and completion.

struct option_spec {
  const char* name;
  bool takes_value;
  bool repeatable;
  std::vector<std::string> values; ///< completion candidates for the value
};

struct command_spec {
  const char* name;
  const char* usage;
  const char* summary;
  std::vector<option_spec> options;
};

const std::vector<command_spec>& specs() {
  static const std::vector<command_spec> all = {
      {"status",
       "status",
       "this node: id, clock, partitions, queued, held, in flight, counts and rates, breaker, "
       "pause",
       {}},
      {"nodes",
       "nodes",
       "every node of the cluster: address, ports, live, heartbeat age, partitions owned",
       {}},
      {"partitions",
       "partitions",
       "every partition: owner, lease epoch, queued, in flight, next due",
       {}},
      {"user",
       "user <id|email>",
       "the user, its partition and owner, its next greetings, its send records",
       {}},
      {"upcoming",
       "upcoming [N]",
       "the next N (default 10, at most 1000) greetings across the cluster held in memory",
       {}},
      {"audit",
       "audit",
       "what the cluster should be doing and is not: greetings due in the recovery window "
       "that no owner holds, unfinished records that no owner holds (exit 1 when any)",
       {}},
      {"failed",
       "failed [--status dead|expired|retrying]... [--limit N]",
       "send records in those states (default: all three, limit 20, at most 1000)",
       {{"--status", true, true, {"dead", "expired", "retrying"}}, {"--limit", true, false, {}}}},
      {"redrive",
       "redrive <key> | redrive --status dead|expired [--occasion O] [--dry-run]",
       "send a dead or expired greeting again, or every one (of occasion O); --dry-run counts "
       "them and shows a sample",
       {{"--status", true, false, {"dead", "expired"}},
        {"--occasion", true, false, {}},
        {"--dry-run", false, false, {}}}},
      {"pause",
       "pause [--for DURATION]",
       "stop delivery cluster-wide until resume or until DURATION has passed",
       {{"--for", true, false, {}}}},
      {"resume", "resume", "lift the pause everywhere", {}},
      {"watch",
       "watch [--interval DURATION]",
       "status again every interval (default 1s) until Ctrl-C",
       {{"--interval", true, false, {}}}},
      {"help", "help", "the commands", {}},
      {"quit", "quit", "end the interactive console (also Ctrl-D)", {}},
  };
  return all;
}

const command_spec* find_spec(std::string_view name) {
  for (const auto& s : specs())
    if (name == s.name) return &s;
  return nullptr;
}

const option_spec* find_option(const command_spec& spec, std::string_view name) {
  for (const auto& o : spec.options)
    if (name == o.name) return &o;
  return nullptr;
}

/// An argument echoed in a message: quoted, on one line.
std::string quote(std::string_view s);

error invalid(std::string message) {
  return {errc::invalid_argument, std::move(message)};
}
error out_of_range(std::string message) {
  return {errc::out_of_range, std::move(message)};
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// "--x", "--x=v", "-x": an option; "-", "-5" and anything else: an argument.
bool looks_like_option(std::string_view w) {
  return w.size() > 1 && w[0] == '-' && !is_digit(w[1]);
}

/// Splits "--name=value" into name and value (has_value false without '=').
struct option_word {
  std::string name;
  std::string value;
  bool has_value = false;
};

option_word split_option(std::string_view w) {
  option_word out;
  auto eq = w.find('=');
  if (eq == std::string_view::npos) {
    out.name = std::string{w};
  } else {
    out.name = std::string{w.substr(0, eq)};
    out.value = std::string{w.substr(eq + 1)};
    out.has_value = true;
  }
  return out;
}

/// A whole number in [lo, hi]; `what` names it in the error.
result<uint64_t> parse_count(std::string_view text, uint64_t lo, uint64_t hi,
                             const std::string& what) {
  std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  bool digits = !text.empty() && std::all_of(text.begin(), text.end(), is_digit);
  if (!digits) return invalid(what + ": must be a whole number " + range + ", got " + quote(text));
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  (void)p;
  if (ec != std::errc{} || n < lo || n > hi)
    return out_of_range(what + ": must be " + range + ", got " + quote(text));
  return n;
}

/// A command's words split into options (in order) and arguments.
struct parsed_words {
  std::vector<std::pair<std::string, std::string>> options; ///< name, value ("" for flags)
  std::vector<std::string> arguments;
};

bool is_global_option(std::string_view name) {
  return name == "--host" || name == "--port" || name == "--json" || name == "--timeout" ||
         name == "--help" || name == "-h";
}

std::string accepted_options(const command_spec& spec) {
  if (spec.options.empty()) return "takes no options";
  std::string out = "accepted:";
  for (const auto& o : spec.options)
    out += std::string{" "} + o.name;
  return out;
}

result<parsed_words> split_words(const command_spec& spec, const std::vector<std::string>& words) {
  parsed_words out;
  std::vector<std::string> seen;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (!looks_like_option(w)) {
      out.arguments.push_back(w);
      continue;
    }
    auto ow = split_option(w);
    const option_spec* opt = find_option(spec, ow.name);
    std::string where = std::string{spec.name} + " " + ow.name;
    if (!opt) {
      std::string hint = is_global_option(ow.name) ? "global options go before the command"
                                                   : accepted_options(spec);
      return invalid(std::string{spec.name} + ": unknown option " + quote(ow.name) + " (" + hint +
                     ")");
    }
    if (!opt->repeatable && std::find(seen.begin(), seen.end(), ow.name) != seen.end())
      return invalid(where + ": given more than once");
    seen.push_back(ow.name);
    if (!opt->takes_value) {
      if (ow.has_value) return invalid(where + ": takes no value");
      out.options.emplace_back(ow.name, std::string{});
      continue;
    }
    if (!ow.has_value) {
      if (i + 1 >= words.size() || words[i + 1].rfind("--", 0) == 0)
        return invalid(where + ": needs a value");
      ow.value = words[++i];
    }
    if (ow.value.empty()) return invalid(where + ": needs a value");
    out.options.emplace_back(ow.name, ow.value);
  }
  return out;
}

std::string usage_hint(const command_spec& spec) {
  return std::string{" (usage: "} + spec.usage + ")";
}

// ---------------------------------------------------------------------------
// Text rendering helpers.

/// Control characters would break a line or a table: shown as spaces.
std::string sanitize(std::string_view s) {
  std::string out{s};
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

/// Columns on a terminal: UTF-8 code points (continuation bytes take none).
size_t width(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

std::string pad(std::string s, size_t w) {
  size_t have = width(s);
  if (have < w) s.append(w - have, ' ');
  return s;
}

std::string quote(std::string_view s) {
  return "'" + sanitize(s) + "'";
}

std::string rtrim(std::string s) {
  while (!s.empty() && s.back() == ' ')
    s.pop_back();
  return s;
}

std::string format_number(double x) {
  if (!std::isfinite(x)) return "-";
  if (x == std::floor(x) && std::fabs(x) < 1e15) return std::to_string(static_cast<int64_t>(x));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", x);
  std::string s = buf;
  while (!s.empty() && s.back() == '0')
    s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

const json::value* get(const json::object* o, std::string_view key) {
  if (!o) return nullptr;
  auto it = o->find(key);
  return it == o->end() ? nullptr : &it->value();
}

const json::object* get_object(const json::object* o, std::string_view key) {
  const json::value* v = get(o, key);
  return v ? v->if_object() : nullptr;
}

const json::array* get_array(const json::object* o, std::string_view key) {
  const json::value* v = get(o, key);
  return v ? v->if_array() : nullptr;
}

std::optional<double> number(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  if (v->is_double()) return v->get_double();
  return std::nullopt;
}

/// Any value as text: "-" for null or missing.
std::string text(const json::value* v) {
  if (!v || v->is_null()) return "-";
  if (v->is_string()) return sanitize(v->get_string());
  if (v->is_bool()) return v->get_bool() ? "yes" : "no";
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  if (v->is_double()) return format_number(v->get_double());
  return sanitize(json::serialize(*v));
}

std::string text(const json::object* o, std::string_view key) {
  return text(get(o, key));
}

std::optional<std::string> string_field(const json::object* o, std::string_view key) {
  const json::value* v = get(o, key);
  if (v && v->is_string()) return sanitize(v->get_string());
  return std::nullopt;
}

/// Milliseconds for people: "210ms", "2m3s".
std::string format_ms(const json::value* v) {
  auto ms = number(v);
  if (!ms || *ms < 0) return text(v);
  if (*ms < 1000) return format_number(std::floor(*ms)) + "ms";
  if (*ms >= 1e15) return text(v);
  return format_duration(std::chrono::seconds{static_cast<int64_t>(*ms / 1000)});
}

std::string rate(const json::value* v) {
  auto r = number(v);
  return r ? format_number(*r) + "/s" : "-";
}

/// "firstName" -> "first name".
std::string label_of(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c >= 'A' && c <= 'Z') {
      if (!out.empty()) out += ' ';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return sanitize(out);
}

std::string join(const json::array* a, std::string_view sep) {
  std::string out;
  if (!a) return out;
  for (size_t i = 0; i < a->size(); ++i) {
    if (i > 0) out += sep;
    out += text(&(*a)[i]);
  }
  return out;
}

/// Aligned columns, two spaces apart, no trailing spaces.
class table {
public:
  explicit table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string str() const {
    std::vector<size_t> widths;
    for (const auto& r : rows_) {
      if (widths.size() < r.size()) widths.resize(r.size(), 0);
      for (size_t i = 0; i < r.size(); ++i)
        widths[i] = std::max(widths[i], width(r[i]));
    }
    std::string out;
    for (const auto& r : rows_) {
      std::string line;
      for (size_t i = 0; i < r.size(); ++i) {
        if (i > 0) line += "  ";
        line += i + 1 < r.size() ? pad(r[i], widths[i]) : r[i];
      }
      out += rtrim(std::move(line)) + "\n";
    }
    return out;
  }

private:
  std::vector<std::vector<std::string>> rows_;
};

/// "label  value" lines, labels padded to the widest.
class lines {
public:
  void add(std::string label, std::string value) {
    rows_.emplace_back(std::move(label), std::move(value));
  }
  std::string str() const {
    size_t w = 0;
    for (const auto& r : rows_)
      w = std::max(w, width(r.first));
    std::string out;
    for (const auto& r : rows_)
      out += rtrim(pad(r.first, w) + "  " + r.second) + "\n";
    return out;
  }

private:
  std::vector<std::pair<std::string, std::string>> rows_;
};

std::string unreachable_line(const json::object& doc) {
  const json::array* u = get_array(&doc, "unreachable");
  if (!u || u->empty()) return {};
  return "unreachable: " + join(u, ", ") + "\n";
}

/// A note when a list came back exactly as long as its limit (there may be more).
std::string limit_note(const json::object& doc, size_t shown, std::string_view how) {
  auto limit = number(get(&doc, "limit"));
  if (!limit || shown == 0 || static_cast<double>(shown) < *limit) return {};
  return "(first " + std::to_string(shown) + "; " + std::string{how} + " shows more)\n";
}

std::string pause_text(const json::object* p) {
  if (!p) return "-";
  const json::value* paused = get(p, "paused");
  if (!paused || !paused->is_bool()) return "-";
  if (!paused->get_bool()) return "running";
  auto until = string_field(p, "until");
  std::string out = until ? "paused until " + *until : "paused (until resume)";
  if (auto by = string_field(p, "by")) out += " by " + *by;
  return out;
}

std::string render_status(const json::object& doc) {
  const json::object* node = get_object(&doc, "node");
  const json::object* clock = get_object(&doc, "clock");
  const json::object* parts = get_object(&doc, "partitions");
  const json::object* counts = get_object(&doc, "counts");
  const json::object* rates = get_object(&doc, "rates");

  auto up = number(get(node, "upMs"));
  std::string up_text =
      up && *up >= 0 && *up < 1e15
          ? format_duration(std::chrono::seconds{static_cast<int64_t>(*up / 1000)})
          : "-";
  std::string clock_text = text(clock, "now") + "  " + text(clock, "mode");
  if (string_field(clock, "mode").value_or("") == "simulated" && number(get(clock, "speed")))
    clock_text += " x" + text(clock, "speed");

  // The counts column is as wide as its widest number, then three spaces.
  const char* const count_names[] = {"sent", "retried", "dead", "expired"};
  size_t w = width(text(&doc, "queued"));
  for (const char* n : count_names)
    w = std::max(w, width(text(counts, n)));
  w += 3;

  lines l;
  l.add("node", text(node, "id") + " (" + text(node, "version") + ")  up " + up_text + "  " +
                    text(node, "restUrl"));
  l.add("clock", clock_text);
  l.add("partitions", text(parts, "here") + " here, " + text(parts, "owned") + " of " +
                          text(parts, "total") + " owned");
  l.add("queued", pad(text(&doc, "queued"), w) + "held " + text(&doc, "held") + "   in flight " +
                      text(&doc, "inFlight") + "/" + text(&doc, "maxInFlight"));
  // The adaptive limit, the greetings those requests carry, a 429's hold.
  if (get(&doc, "concurrencyLimit")) {
    std::string provider = "limit " + text(&doc, "concurrencyLimit") + ", " +
                           text(&doc, "greetingsInFlight") + " greetings in flight";
    if (const json::value* t = get(&doc, "throttledSeconds");
        t && t->is_number() && t->to_number<double>() > 0)
      provider += ", throttled (429) for " + text(t) + " s";
    l.add("provider", provider);
  }
  for (const char* n : count_names)
    l.add(n, pad(text(counts, n), w) + rate(get(rates, n)));
  l.add("breaker", text(&doc, "breaker"));
  // email.rate: this node's pace and how long what it holds takes at it.
  if (const json::value* r = get(&doc, "sendRate"); r && !r->is_null())
    l.add("rate", text(r) + "/s, held greetings drain in " + text(&doc, "drainSeconds") + " s");
  l.add("delivery", pause_text(get_object(&doc, "pause")));
  return l.str();
}

std::string render_nodes(const json::object& doc) {
  std::string out = text(&doc, "partitionCount") + " partitions, " + text(&doc, "unowned") +
                    " unowned, answered by " + text(&doc, "self") + "\n";
  const json::array* nodes = get_array(&doc, "nodes");
  if (!nodes || nodes->empty()) return out + "(no nodes)\n";
  table t{{"ID", "ADDRESS", "CLUSTER", "CONSOLE", "REST", "VERSION", "LIVE", "HEARTBEAT", "UP",
           "PARTITIONS"}};
  for (const auto& v : *nodes) {
    const json::object* n = v.if_object();
    t.add({text(n, "id"), text(n, "address"), text(n, "clusterPort"), text(n, "consolePort"),
           text(n, "restUrl"), text(n, "version"), text(n, "live"),
           format_ms(get(n, "heartbeatAgeMs")), format_ms(get(n, "upMs")),
           text(n, "partitionsOwned")});
  }
  return out + t.str();
}

std::string render_partitions(const json::object& doc) {
  std::string out = text(&doc, "partitionCount") + " partitions\n";
  const json::array* parts = get_array(&doc, "partitions");
  if (!parts || parts->empty()) {
    out += "(no partitions)\n";
  } else {
    table t{{"PARTITION", "NODE", "EPOCH", "QUEUED", "IN FLIGHT", "NEXT DUE"}};
    for (const auto& v : *parts) {
      const json::object* p = v.if_object();
      t.add({text(p, "partition"), text(p, "node"), text(p, "epoch"), text(p, "queued"),
             text(p, "inFlight"), text(p, "nextDue")});
    }
    out += t.str();
  }
  return out + unreachable_line(doc);
}

std::string render_audit(const json::object& doc) {
  std::string out;
  auto list = [&](const char* field, const char* what) {
    const json::array* rows = get_array(&doc, field);
    if (!rows || rows->empty()) return;
    out += std::to_string(rows->size()) + " " + what + "\n";
    table t{{"KEY", "PARTITION", "NODE"}};
    for (const auto& v : *rows) {
      const json::object* r = v.if_object();
      t.add({text(r, "key"), text(r, "partition"), text(r, "node")});
    }
    out += t.str();
  };
  list("unscheduled", "greetings due with no record that no owner holds");
  list("unowned", "unfinished records that no owner holds");
  if (const json::array* u = get_array(&doc, "unaudited"); u && !u->empty())
    out += "not audited (no loaded owner answered): partitions " + join(u, ", ") + "\n";
  if (out.empty())
    out = "clean: every greeting due is held or recorded, every unfinished record is held\n";
  return out + unreachable_line(doc);
}

std::string records_table(const json::array* records, bool with_sent, std::string_view none) {
  if (!records || records->empty()) return std::string{none} + "\n";
  std::vector<std::string> header = {"KEY", "STATUS", "ATTEMPTS", "DUE"};
  if (with_sent) header.emplace_back("SENT");
  header.emplace_back("NEXT ATTEMPT");
  header.emplace_back("LAST ERROR");
  table t{header};
  for (const auto& v : *records) {
    const json::object* r = v.if_object();
    std::vector<std::string> row = {text(r, "key"), text(r, "status"), text(r, "attempts"),
                                    text(r, "dueAt")};
    if (with_sent) row.push_back(text(r, "sentAt"));
    row.push_back(text(r, "nextAttemptAt"));
    row.push_back(text(r, "lastError"));
    t.add(std::move(row));
  }
  return t.str();
}

std::string render_user(const json::object& doc) {
  lines l;
  if (const json::object* u = get_object(&doc, "user")) {
    for (const auto& kv : *u)
      l.add(label_of(kv.key()), text(&kv.value()));
  } else {
    l.add("user", text(&doc, "user"));
  }
  l.add("partition", text(&doc, "partition"));
  l.add("owner", text(&doc, "owner"));
  std::string out = l.str();

  out += "\nnext greetings\n";
  const json::array* next = get_array(&doc, "next");
  if (!next || next->empty()) {
    out += "(no next greetings)\n";
  } else {
    table t{{"OCCASION", "DUE (UTC)", "DUE (LOCAL)", "KEY"}};
    for (const auto& v : *next) {
      const json::object* g = v.if_object();
      t.add({text(g, "occasion"), text(g, "dueAt"), text(g, "dueLocal"), text(g, "key")});
    }
    out += t.str();
  }
  out += "\nsend records\n";
  const json::array* records = get_array(&doc, "records");
  out += records_table(records, true, "(no send records)");
  // Each greeting's life after the send: claimed where, delivered or not.
  table life{{"KEY", "CLAIMED BY", "CLAIMED AT", "DELIVERY", "EVENTS"}};
  table events{{"KEY", "AT", "EVENT", "REASON"}};
  bool any = false, any_event = false;
  static const json::array none;
  for (const auto& v : records ? *records : none) {
    const json::object* r = v.if_object();
    const json::array* evs = get_array(r, "events");
    if (text(r, "claimedBy") == "-" && (!evs || evs->empty())) continue;
    any = true;
    life.add({text(r, "key"), text(r, "claimedBy"), text(r, "claimedAt"), text(r, "delivery"),
              std::to_string(evs ? evs->size() : 0)});
    for (const auto& e : evs ? *evs : none) {
      any_event = true;
      const json::object* eo = e.if_object();
      events.add({text(r, "key"), text(eo, "at"), text(eo, "type"), text(eo, "reason")});
    }
  }
  if (any) out += "\nlifecycle\n" + life.str();
  if (any_event) out += "\ndelivery events\n" + events.str();
  return out;
}

std::string render_upcoming(const json::object& doc) {
  std::string out;
  const json::array* gs = get_array(&doc, "greetings");
  if (!gs || gs->empty()) {
    out = "(no upcoming greetings)\n";
  } else {
    table t{
        {"DUE (UTC)", "DUE (LOCAL)", "TIMEZONE", "OCCASION", "EMAIL", "PARTITION", "NODE", "KEY"}};
    for (const auto& v : *gs) {
      const json::object* g = v.if_object();
      t.add({text(g, "dueAt"), text(g, "dueLocal"), text(g, "timezone"), text(g, "occasion"),
             text(g, "email"), text(g, "partition"), text(g, "node"), text(g, "key")});
    }
    out = t.str() + limit_note(doc, gs->size(), "upcoming N");
  }
  return out + unreachable_line(doc);
}

std::string render_failed(const json::object& doc) {
  const json::array* records = get_array(&doc, "records");
  std::string out = records_table(records, false, "(no failed greetings)");
  if (records) out += limit_note(doc, records->size(), "--limit N");
  return out;
}

std::string render_redrive(const json::object& doc) {
  if (!get(&doc, "count") && get(&doc, "key"))
    return "redrove " + text(&doc, "key") + ": now " + text(&doc, "status") + "\n";
  const json::value* dry = get(&doc, "dryRun");
  bool dry_run = dry && dry->is_bool() && dry->get_bool();
  auto count = number(get(&doc, "count"));
  std::string out = dry_run ? "would redrive " : "redrove ";
  out += text(&doc, "count") + " " + text(&doc, "status") +
         (count && *count == 1 ? " greeting" : " greetings");
  if (auto occasion = string_field(&doc, "occasion")) out += " (" + *occasion + ")";
  const json::array* sample = get_array(&doc, "sample");
  if (sample && !sample->empty()) {
    out += ": " + join(sample, ", ");
    if (!count || *count > static_cast<double>(sample->size())) out += ", ...";
  }
  return out + "\n";
}

std::string render_pause(const json::object& doc, bool resume) {
  const json::object* p = get_object(&doc, "pause");
  const json::value* paused = get(p, "paused");
  if (!paused || !paused->is_bool()) return "delivery: -\n";
  if (!paused->get_bool())
    return resume ? "delivery resumed cluster-wide\n" : "delivery running (not paused)\n";
  auto until = string_field(p, "until");
  std::string out = "delivery paused cluster-wide until " + until.value_or("resume");
  if (auto by = string_field(p, "by")) out += " by " + *by;
  return out + "\n";
}

std::string render_help(const json::object& doc) {
  // Usage on its own line, the summary indented under it: usages are too
  // long for a two-column table on a terminal.
  std::string out = "commands:\n";
  if (const json::array* cmds = get_array(&doc, "commands"))
    for (const auto& v : *cmds) {
      const json::object* c = v.if_object();
      out += "  " + text(c, "usage") + "\n      " + text(c, "summary") + "\n";
    }
  out += "durations: whole numbers with s, m, h or d, largest first (90s, 15m, 1h30m, 2d), "
         "1s..30d\n";
  return out;
}

std::string render_error(const json::object& doc) {
  const json::value* e = get(&doc, "error");
  const json::object* eo = e ? e->if_object() : nullptr;
  if (!eo) return "error: " + text(e) + "\n";
  if (auto message = string_field(eo, "message")) return "error: " + *message + "\n";
  return "error: " + text(eo, "code") + "\n";
}

std::string render_generic(const json::object& doc) {
  lines l;
  for (const auto& kv : doc)
    if (kv.key() != "schema") l.add(label_of(kv.key()), text(&kv.value()));
  std::string out = l.str();
  return out.empty() ? "(empty document)\n" : out;
}

} // namespace

// ---------------------------------------------------------------------------

bool command::changes_state() const {
  return name == "redrive" || name == "pause" || name == "resume";
}

const std::vector<std::string>& command_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& s : specs())
      out.emplace_back(s.name);
    return out;
  }();
  return names;
}

result<invocation> parse_invocation(const std::vector<std::string>& argv) {
  invocation inv;
  size_t i = 0;
  for (; i < argv.size() && looks_like_option(argv[i]); ++i) {
    auto ow = split_option(argv[i]);
    if (ow.name == "-h" || ow.name == "--help") {
      if (ow.has_value) return invalid(ow.name + ": takes no value");
      command help;
      help.name = "help";
      inv.cmd = std::move(help);
      return inv;
    }
    if (ow.name == "--json") {
      if (ow.has_value) return invalid("--json: takes no value");
      inv.json = true;
      continue;
    }
    if (ow.name != "--host" && ow.name != "--port" && ow.name != "--timeout")
      return invalid("unknown option " + quote(ow.name) +
                     " (accepted before the command: --host --port --json --timeout --help)");
    if (!ow.has_value) {
      if (i + 1 >= argv.size() || argv[i + 1].rfind("--", 0) == 0)
        return invalid(ow.name + ": needs a value");
      ow.value = argv[++i];
    }
    if (ow.value.empty()) return invalid(ow.name + ": needs a value");
    if (ow.name == "--host") {
      inv.host = ow.value;
    } else if (ow.name == "--port") {
      auto port = parse_count(ow.value, 1, 65535, "--port");
      if (!port) return port.err();
      inv.port = static_cast<uint16_t>(*port);
    } else {
      auto d = parse_duration(ow.value);
      if (!d) return error{d.err().code, "--timeout: " + d.err().message};
      inv.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    }
  }
  if (i < argv.size()) {
    auto cmd = parse_command({argv.begin() + static_cast<std::ptrdiff_t>(i), argv.end()});
    if (!cmd) return cmd.err();
    inv.cmd = std::move(*cmd);
  }
  return inv;
}

result<command> parse_command(const std::vector<std::string>& words) {
  if (words.empty()) return invalid("no command (try help)");
  const command_spec* spec = find_spec(words[0]);
  if (!spec) return invalid("unknown command " + quote(words[0]) + " (try help)");
  auto split = split_words(*spec, words);
  if (!split) return split.err();
  const auto& args = split->arguments;
  const std::string name = spec->name;

  command cmd;
  cmd.name = name;
  auto option = [&](std::string_view opt) -> const std::string* {
    for (const auto& [n, v] : split->options)
      if (n == opt) return &v;
    return nullptr;
  };

  if (name == "user") {
    if (args.empty()) return invalid("user: needs one argument <id|email>");
    if (args.size() > 1)
      return invalid("user: takes one argument <id|email>, got also " + quote(args[1]));
    if (args[0].empty()) return invalid("user: <id|email> must not be empty");
    cmd.user = args[0];
    return cmd;
  }
  if (name == "upcoming") {
    if (args.size() > 1)
      return invalid("upcoming: takes at most one argument N, got also " + quote(args[1]));
    cmd.limit = 10;
    if (!args.empty()) {
      auto n = parse_count(args[0], 1, 1000, "upcoming N");
      if (!n) return n.err();
      cmd.limit = *n;
    }
    return cmd;
  }
  if (name == "failed") {
    if (!args.empty())
      return invalid("failed: unexpected argument " + quote(args[0]) + usage_hint(*spec));
    cmd.limit = 20;
    for (const auto& [opt, value] : split->options) {
      if (opt == "--status") {
        if (value != "dead" && value != "expired" && value != "retrying")
          return invalid("failed --status: must be dead, expired or retrying, got " + quote(value));
        if (std::find(cmd.statuses.begin(), cmd.statuses.end(), value) == cmd.statuses.end())
          cmd.statuses.push_back(value);
      } else if (opt == "--limit") {
        auto n = parse_count(value, 1, 1000, "failed --limit");
        if (!n) return n.err();
        cmd.limit = *n;
      }
    }
    if (cmd.statuses.empty()) cmd.statuses = {"dead", "expired", "retrying"};
    return cmd;
  }
  if (name == "redrive") {
    const std::string* status = option("--status");
    if (args.size() > 1)
      return invalid("redrive: takes one <key>, got also " + quote(args[1]) + usage_hint(*spec));
    if (!args.empty() && status) return invalid("redrive: a <key> or --status, not both");
    if (args.empty() && !status)
      return invalid("redrive: needs a <key> or --status dead|expired" + usage_hint(*spec));
    if (!status) {
      if (option("--occasion")) return invalid("redrive --occasion: only with --status");
      if (option("--dry-run")) return invalid("redrive --dry-run: only with --status");
      if (args[0].empty()) return invalid("redrive: <key> must not be empty");
      cmd.key = args[0];
      return cmd;
    }
    if (*status != "dead" && *status != "expired")
      return invalid("redrive --status: must be dead or expired, got " + quote(*status));
    cmd.statuses = {*status};
    if (const std::string* occasion = option("--occasion")) cmd.occasion = *occasion;
    cmd.dry_run = option("--dry-run") != nullptr;
    return cmd;
  }
  if (name == "pause" || name == "watch") {
    if (!args.empty())
      return invalid(name + ": unexpected argument " + quote(args[0]) + usage_hint(*spec));
    const char* opt = name == "pause" ? "--for" : "--interval";
    cmd.duration = name == "pause" ? std::chrono::seconds{0} : std::chrono::seconds{1};
    if (const std::string* value = option(opt)) {
      auto d = parse_duration(*value);
      if (!d) return error{d.err().code, name + " " + opt + ": " + d.err().message};
      cmd.duration = *d;
    }
    return cmd;
  }
  // status nodes partitions resume help quit
  if (!args.empty()) return invalid(name + ": takes no arguments, got " + quote(args[0]));
  return cmd;
}

result<std::vector<std::string>> split_line(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '\\') {
      if (i + 1 >= line.size()) return invalid("backslash at the end of the line");
      word += line[++i];
      in_word = true;
    } else if (c == '\'') {
      auto end = line.find('\'', i + 1);
      if (end == std::string_view::npos) return invalid("unterminated ' quote");
      word.append(line.substr(i + 1, end - i - 1));
      i = end;
      in_word = true;
    } else if (c == '"') {
      // Inside double quotes a backslash escapes only " and \ (as in sh).
      size_t j = i + 1;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size() && (line[j + 1] == '"' || line[j + 1] == '\\'))
          ++j;
        word += line[j];
      }
      if (j >= line.size()) return invalid("unterminated \" quote");
      i = j;
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

result<std::chrono::seconds> parse_duration(std::string_view text) {
  const std::string quoted = quote(text);
  const std::string bad = "bad duration " + quoted +
                          " (whole numbers with s, m, h or d, largest first: 90s, 15m, 1h30m, 2d)";
  if (text.empty()) return invalid("empty duration (e.g. 90s, 15m, 1h30m, 2d)");
  constexpr uint64_t cap = 10'000'000'000'000ULL; // far beyond 30d in any unit; no overflow
  constexpr uint64_t max_seconds = 30ULL * 86400;
  uint64_t total = 0;
  int last_rank = 5;
  size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(text[i])) return invalid(bad);
    uint64_t n = 0;
    for (; i < text.size() && is_digit(text[i]); ++i)
      n = std::min(cap, n * 10 + static_cast<uint64_t>(text[i] - '0'));
    if (i >= text.size()) return invalid(bad);
    uint64_t unit = 0;
    int rank = 0;
    switch (text[i]) {
    case 'd':
      unit = 86400, rank = 4;
      break;
    case 'h':
      unit = 3600, rank = 3;
      break;
    case 'm':
      unit = 60, rank = 2;
      break;
    case 's':
      unit = 1, rank = 1;
      break;
    default:
      return invalid(bad);
    }
    if (rank >= last_rank) return invalid(bad);
    last_rank = rank;
    ++i;
    total = std::min(cap * 86400, total + n * unit);
  }
  if (total < 1 || total > max_seconds)
    return out_of_range("duration " + quoted + " must be 1s..30d");
  return std::chrono::seconds{static_cast<int64_t>(total)};
}

std::string format_duration(std::chrono::seconds d) {
  int64_t c = d.count();
  uint64_t s = c < 0 ? 0 - static_cast<uint64_t>(c) : static_cast<uint64_t>(c);
  if (s == 0) return "0s";
  std::string out = c < 0 ? "-" : "";
  const std::pair<uint64_t, char> units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (const auto& [size, letter] : units) {
    if (s >= size) {
      out += std::to_string(s / size) + letter;
      s %= size;
    }
  }
  return out;
}

std::string render_text(const json::object& doc) {
  if (doc.contains("error")) return render_error(doc);
  std::string name = string_field(&doc, "command").value_or("");
  if (name == "status" || name == "watch") return render_status(doc);
  if (name == "nodes") return render_nodes(doc);
  if (name == "partitions") return render_partitions(doc);
  if (name == "audit") return render_audit(doc);
  if (name == "user") return render_user(doc);
  if (name == "upcoming") return render_upcoming(doc);
  if (name == "failed") return render_failed(doc);
  if (name == "redrive") return render_redrive(doc);
  if (name == "pause" || name == "resume") return render_pause(doc, name == "resume");
  if (name == "help") return render_help(doc);
  return render_generic(doc);
}

json::object help_document() {
  json::array commands;
  for (const auto& s : specs())
    commands.push_back(json::object{{"name", s.name}, {"usage", s.usage}, {"summary", s.summary}});
  return {{"schema", schema}, {"command", "help"}, {"commands", std::move(commands)}};
}

std::vector<std::string> completions(std::string_view before, std::string_view word) {
  std::vector<std::string> out;
  auto words = split_line(before);
  if (!words) return out;
  auto add = [&](const std::string& candidate, std::string_view partial) {
    if (candidate.compare(0, partial.size(), partial) == 0) out.push_back(candidate);
  };
  auto finish = [&] {
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  };
  if (words->empty()) {
    for (const auto& n : command_names())
      add(n, word);
    return finish();
  }
  const command_spec* spec = find_spec(words->front());
  if (!spec || spec->options.empty()) return finish();

  // The value of an option: "--status d" or "--status=d".
  auto values_of = [&](std::string_view opt, const std::string& prefix, std::string_view partial) {
    if (const option_spec* o = find_option(*spec, opt))
      for (const auto& v : o->values)
        if (v.compare(0, partial.size(), partial) == 0) out.push_back(prefix + v);
  };
  const std::string& last = words->back();
  if (words->size() > 1 && looks_like_option(last) && last.find('=') == std::string::npos) {
    const option_spec* o = find_option(*spec, last);
    if (o && o->takes_value) {
      values_of(last, "", word);
      return finish();
    }
  }
  if (auto eq = word.find('='); eq != std::string_view::npos && looks_like_option(word)) {
    std::string opt{word.substr(0, eq)};
    values_of(opt, opt + "=", word.substr(eq + 1));
    return finish();
  }

  // Options not given yet (repeatable ones always); redrive's forms exclude each other.
  std::vector<std::string> given;
  size_t arguments = 0;
  for (size_t i = 1; i < words->size(); ++i) {
    const std::string& w = (*words)[i];
    if (looks_like_option(w)) {
      auto ow = split_option(w);
      given.push_back(ow.name);
      const option_spec* o = find_option(*spec, ow.name);
      if (o && o->takes_value && !ow.has_value) ++i; // skip its value
    } else {
      ++arguments;
    }
  }
  bool is_redrive = std::string_view{spec->name} == "redrive";
  if (is_redrive && arguments > 0) return finish(); // redrive <key>: nothing more
  bool bulk = std::find(given.begin(), given.end(), "--status") != given.end();
  for (const auto& o : spec->options) {
    bool seen = std::find(given.begin(), given.end(), o.name) != given.end();
    if (seen && !o.repeatable) continue;
    if (is_redrive && bulk && std::string_view{o.name} == "--status") continue;
    add(o.name, word);
  }
  return finish();
}

json::object error_document(std::string_view command, std::string_view code,
                            std::string_view message) {
  return {{"schema", schema},
          {"command", command},
          {"error", json::object{{"code", code}, {"message", message}}}};
}

} // namespace candle::console
