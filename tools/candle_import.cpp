// candle-import: moves users, and the greetings already sent, from the
// TypeScript birthday service Candle replaces (its PostgreSQL) or from CSV /
// NDJSON files into Candle's database. Every row is validated by the REST
// API's rules (net/import_api -> api::read_user); rows are written in
// batches through COPY and one statement per batch; ids and timestamps are
// kept, so a re-run changes nothing. docs/migration.md is the procedure.
#include "core/occurrence.hpp"
#include "core/partition.hpp"
#include "core/schedule.hpp"
#include "core/time.hpp"
#include "persistence/embedded_pg.hpp"
#include "persistence/schema.hpp"
#include "tools/import_api.hpp"

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <pqxx/tablewriter>
#include <set>
#include <thread>
#include <unordered_map>

using namespace candle;
namespace json = boost::json;
using clk = std::chrono::steady_clock;

namespace {

const char* usage =
    "usage: candle-import (--from postgresql://... | --csv FILE | --ndjson FILE)\n"
    "                     (--to postgresql://... | --db-dir DIR) [options]\n"
    "Imports users (and, from the old service's database, the greetings it sent)\n"
    "into Candle's database, validated by the REST API's rules.\n\n"
    "  --from URL        the old service's PostgreSQL (tables users, message_logs)\n"
    "  --csv FILE        users as CSV with a header of API field names (id, firstName,\n"
    "                    lastName, email, timezone, birthdayDate, anniversaryDate,\n"
    "                    locationCity, locationCountry, createdAt, updatedAt)\n"
    "  --ndjson FILE     users as one JSON object per line, the same names\n"
    "  --to URL          Candle's database (a node's db.url)\n"
    "  --db-dir DIR      Candle's embedded database in DIR (the node must be stopped)\n"
    "  --rejects FILE    every refused row with its reasons, one JSON object per line\n"
    "                    (default candle-import-rejects.ndjson)\n"
    "  --batch N         rows per COPY and statement (default 5000)\n"
    "  --partitions N    for a database no node has started yet (default 256)\n"
    "  --now ISO         the instant validation and the greeting years use (default: now)\n"
    "  --no-greetings    do not import message_logs\n"
    "  --dry-run         validate and check against the database; write nothing\n"
    "Exit 0 when the import ran (rejected rows are in the rejects file), 1 when it\n"
    "could not, 2 on a usage error.\n";

struct options {
  std::string from, csv, ndjson, to, db_dir, rejects = "candle-import-rejects.ndjson";
  size_t batch = 5000;
  int32_t partitions = 256;
  std::optional<sys_millis> now;
  bool greetings = true, dry_run = false;
};

std::optional<options> parse_args(int argc, char** argv, std::string& error) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (auto eq = a.find('='); eq != std::string::npos) {
        auto v = a.substr(eq + 1);
        a = a.substr(0, eq);
        return v;
      }
      if (i + 1 >= argc) return std::nullopt;
      return std::string{argv[++i]};
    };
    if (a == "--no-greetings") {
      o.greetings = false;
      continue;
    }
    if (a == "--dry-run") {
      o.dry_run = true;
      continue;
    }
    if (a == "--help" || a == "-h") {
      error = "help";
      return std::nullopt;
    }
    auto name = a.substr(0, a.find('='));
    auto v = value();
    if (!v) {
      error = name + " needs a value";
      return std::nullopt;
    }
    if (name == "--from")
      o.from = *v;
    else if (name == "--csv")
      o.csv = *v;
    else if (name == "--ndjson")
      o.ndjson = *v;
    else if (name == "--to")
      o.to = *v;
    else if (name == "--db-dir")
      o.db_dir = *v;
    else if (name == "--rejects")
      o.rejects = *v;
    else if (name == "--batch" || name == "--partitions") {
      char* end = nullptr;
      auto n = std::strtol(v->c_str(), &end, 10);
      if (end == v->c_str() || *end || n < 1 || n > (name == "--batch" ? 100'000 : 65'536)) {
        error =
            name + " must be a whole number from 1 to " + (name == "--batch" ? "100000" : "65536");
        return std::nullopt;
      }
      if (name == "--batch")
        o.batch = static_cast<size_t>(n);
      else
        o.partitions = static_cast<int32_t>(n);
    } else if (name == "--now") {
      auto t = parse_instant(*v);
      if (!t) {
        error = "--now must be an ISO-8601 instant";
        return std::nullopt;
      }
      o.now = *t;
    } else {
      error = "unknown option " + name;
      return std::nullopt;
    }
  }
  int sources = !o.from.empty() + !o.csv.empty() + !o.ndjson.empty();
  if (sources != 1) {
    error = "give exactly one of --from, --csv, --ndjson";
    return std::nullopt;
  }
  if (o.to.empty() == o.db_dir.empty()) {
    error = "give exactly one of --to, --db-dir";
    return std::nullopt;
  }
  return o;
}

// Rows in, one at a time: (where it came from, the row as API fields), or
// a reading problem for that place.
struct source_row {
  std::string where;
  json::object row;
  std::string problem; // not empty: the row could not be read
};

class source {
public:
  virtual ~source() = default;
  virtual bool next(source_row& out) = 0;
  virtual double progress() const = 0; // 0..1, or -1 when unknown
};

// A file read front to back: its progress is the share of its bytes read.
class file_source : public source {
public:
  explicit file_source(const std::string& path) : in_(path) {
    if (!in_) throw std::runtime_error("cannot read " + path);
    std::ifstream f{path, std::ios::ate | std::ios::binary};
    size_ = f ? static_cast<std::streamoff>(f.tellg()) : 0;
  }
  double progress() const override {
    auto at = const_cast<std::ifstream&>(in_).tellg(); // tellg is not const
    return size_ > 0 && at >= 0 ? static_cast<double>(at) / static_cast<double>(size_) : -1;
  }

protected:
  std::ifstream in_;

private:
  std::streamoff size_ = 0;
};

class ndjson_source : public file_source {
public:
  explicit ndjson_source(const std::string& path) : file_source(path) {}
  bool next(source_row& out) override {
    std::string line;
    while (std::getline(in_, line)) {
      ++line_;
      if (api::trim(line).empty()) continue;
      out = {"line " + std::to_string(line_), {}, {}};
      auto parsed = api::parse_object(line);
      if (auto* o = std::get_if<json::object>(&parsed))
        out.row = std::move(*o);
      else
        out.problem = std::get<api::field_errors>(parsed).front().message;
      return true;
    }
    return false;
  }

private:
  size_t line_ = 0;
};

class csv_source : public file_source {
public:
  explicit csv_source(const std::string& path) : file_source(path), reader_(in_) {
    std::string error;
    auto h = reader_.next(error);
    if (!h || !error.empty()) throw std::runtime_error(path + ": no header line");
    header_ = *h;
    for (auto& f : header_)
      f = std::string{api::trim(f)};
  }
  bool next(source_row& out) override {
    std::string error;
    auto rec = reader_.next(error);
    if (!rec && error.empty()) return false;
    out = {"line " + std::to_string(reader_.line()), {}, {}};
    if (!error.empty()) {
      out.problem = error;
      return true;
    }
    auto row = imp::csv_row(header_, *rec);
    if (auto* o = std::get_if<json::object>(&row))
      out.row = std::move(*o);
    else
      out.problem = std::get<std::string>(row);
    return true;
  }

private:
  imp::csv_reader reader_;
  std::vector<std::string> header_;
};

// The API field names of the old service's user columns, in the order both
// queries below select them (the greetings' query takes the first seven).
const char* const old_user_fields[] = {
    "id",           "firstName",       "lastName",     "email",           "timezone",
    "birthdayDate", "anniversaryDate", "locationCity", "locationCountry", "createdAt",
    "updatedAt"};

// The old service's live users, by id, a page at a time from one cursor in
// one read-only snapshot (keyset pages, `id > last ORDER BY id LIMIT n`,
// were planned as a scan and sort of every remaining row each time:
// quadratic, 6,500 rows/s at 300k users).
class old_service_source : public source {
public:
  old_service_source(const std::string& url, size_t page) : conn_(url), page_(page) {
    pqxx::nontransaction n{conn_};
    total_ = n.exec1("SELECT count(*) FROM users WHERE deleted_at IS NULL")[0].as<int64_t>();
    deleted_ = n.exec1("SELECT count(*) FROM users WHERE deleted_at IS NOT NULL")[0].as<int64_t>();
  }
  bool next(source_row& out) override {
    if (at_ == rows_.size()) {
      if (done_) return false;
      if (!read_tx_) {
        read_tx_ = std::make_unique<pqxx::read_transaction>(conn_);
        read_tx_->exec(
            "DECLARE old_users NO SCROLL CURSOR FOR"
            " SELECT id::text, first_name, last_name, email, timezone, birthday_date::text,"
            " anniversary_date::text, location_city, location_country,"
            " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
            " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            " FROM users WHERE deleted_at IS NULL ORDER BY id");
      }
      auto r = read_tx_->exec("FETCH FORWARD " + std::to_string(page_) + " FROM old_users");
      rows_.clear();
      at_ = 0;
      for (const auto& row : r) {
        json::object o;
        for (int i = 0; i < 11; ++i)
          if (!row[i].is_null()) o[old_user_fields[i]] = row[i].c_str();
        rows_.push_back(std::move(o));
      }
      if (rows_.size() < page_) {
        done_ = true;
        read_tx_->commit(); // ends the snapshot (nothing was written)
        read_tx_.reset();
      }
      if (rows_.empty()) return false;
    }
    ++read_;
    auto& o = rows_[at_++];
    out = {"id " + std::string{api::view(o.at("id").as_string())}, std::move(o), {}};
    return true;
  }
  double progress() const override {
    return total_ > 0 ? static_cast<double>(read_) / static_cast<double>(total_) : -1;
  }
  int64_t deleted() const { return deleted_; }
  pqxx::connection& conn() { return conn_; }

private:
  pqxx::connection conn_;
  std::unique_ptr<pqxx::read_transaction> read_tx_; // the cursor's, once reading
  size_t page_;
  std::vector<json::object> rows_;
  size_t at_ = 0;
  bool done_ = false;
  int64_t total_ = 0, deleted_ = 0, read_ = 0;
};

struct counts {
  int64_t read = 0, imported = 0, existing = 0, rejected = 0, greetings = 0, greetings_existing = 0;
};

class rejects_file {
public:
  explicit rejects_file(const std::string& path) : out_(path, std::ios::trunc), path_(path) {
    if (!out_) throw std::runtime_error("cannot write " + path);
  }
  // From the reading thread and the writer's (batch_writer).
  void add(const std::string& where, const json::object& row, const api::field_errors& errors) {
    std::lock_guard l{m_};
    json::array es;
    for (const auto& e : errors)
      es.push_back(json::object{{"field", e.field}, {"message", e.message}});
    out_ << json::serialize(json::object{{"source", where}, {"row", row}, {"errors", es}}) << '\n';
  }
  const std::string& path() const { return path_; }

private:
  std::mutex m_;
  std::ofstream out_;
  std::string path_;
};

// COPY ... FROM STDIN with lines made by imp::copy_line. libpqxx 6.4's
// tablewriter takes raw lines; stream_to, its successor, only typed rows.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
class copy_in {
public:
  copy_in(pqxx::transaction_base& t, const char* table) : w_{t, table} {}
  void line(std::string l) {
    l.pop_back(); // the writer adds the newline
    w_.write_raw_line(l);
  }
  void complete() { w_.complete(); }

private:
  pqxx::tablewriter w_;
};
#pragma GCC diagnostic pop

std::string iso_ms(int64_t ms) {
  return format_instant(sys_millis{std::chrono::milliseconds{ms}});
}

struct pending {
  std::string where;
  json::object row;
  user u;
};

// One batch into users: COPY into a temporary table, the rows whose email a
// live Candle user with another id has are refused, the rest inserted
// unless their id is there already. One transaction; rolled back on a dry run.
void write_batch(pqxx::connection& c, std::vector<pending>& batch, bool dry_run, counts& n,
                 rejects_file& rejects) {
  if (batch.empty()) return;
  pqxx::work w{c};
  w.exec("CREATE TEMP TABLE IF NOT EXISTS import_users (id uuid, first_name text,"
         " last_name text, email text, timezone text, birthday_date date, anniversary_date date,"
         " location_city text, location_country text, partition integer,"
         " created_at timestamptz, updated_at timestamptz) ON COMMIT DELETE ROWS");
  {
    copy_in t{w, "import_users"};
    auto opt = [](const std::string& s) -> std::optional<std::string> {
      return s.empty() ? std::nullopt : std::optional<std::string>{s};
    };
    for (const auto& p : batch) {
      const auto& u = p.u;
      auto line = imp::copy_line(
          {u.id, u.first_name, u.last_name, u.email, u.timezone, opt(u.birthday_date),
           opt(u.anniversary_date), opt(u.location_city), opt(u.location_country),
           std::to_string(u.partition), iso_ms(u.created_at), iso_ms(u.updated_at)});
      t.line(std::move(line));
    }
    t.complete();
  }
  // One index probe per imported row (a plain join was planned as a hash of
  // all of `users` per batch: quadratic in the users already there).
  std::map<std::string, std::string> taken; // import id -> the Candle user holding the email
  for (const auto& row : w.exec("SELECT i.id::text, t.id::text FROM import_users i CROSS JOIN"
                                " LATERAL (SELECT u.id FROM users u WHERE u.email = i.email AND"
                                " u.deleted_at IS NULL AND u.id <> i.id LIMIT 1) t"))
    taken[row[0].c_str()] = row[1].c_str();
  if (!taken.empty()) {
    std::string ids = "{";
    for (const auto& [id, holder] : taken)
      ids += (ids.size() > 1 ? "," : "") + id;
    w.exec_params("DELETE FROM import_users WHERE id = ANY($1::uuid[])", ids + "}");
  }
  for (const auto& p : batch)
    if (auto it = taken.find(p.u.id); it != taken.end()) {
      rejects.add(p.where, p.row, {{"email", "already used by user " + it->second}});
      ++n.rejected;
    }
  auto inserted = w.exec("INSERT INTO users (id, first_name, last_name, email, timezone,"
                         " birthday_date, anniversary_date, location_city, location_country,"
                         " partition, created_at, updated_at) SELECT * FROM import_users"
                         " ON CONFLICT (id) DO NOTHING")
                      .affected_rows();
  n.imported += static_cast<int64_t>(inserted);
  n.existing += static_cast<int64_t>(batch.size() - taken.size() - inserted);
  if (dry_run)
    w.abort();
  else
    w.commit();
  batch.clear();
}

// Writes batches on its own thread while the caller reads and checks the
// next ones, so reading (the old database's scan, the checks here) and
// writing (Candle's database) overlap on two cores. Two batches wait at
// most; a failed write stops it and is thrown from the next push or finish.
class batch_writer {
public:
  batch_writer(pqxx::connection& c, bool dry_run, rejects_file& rejects)
      : c_(c), dry_run_(dry_run), rejects_(rejects), thread_([this] { run(); }) {}
  batch_writer(const batch_writer&) = delete;
  batch_writer& operator=(const batch_writer&) = delete;
  ~batch_writer() { // unfinished (the reading failed): what waits is dropped
    if (!thread_.joinable()) return;
    {
      std::lock_guard l{m_};
      queue_.clear();
    }
    stop();
  }
  void push(std::vector<pending>&& batch) {
    if (batch.empty()) return;
    std::unique_lock l{m_};
    space_.wait(l, [&] { return queue_.size() < 2 || error_; });
    if (error_) std::rethrow_exception(error_);
    queue_.push_back(std::move(batch));
    batch.clear();
    work_.notify_one();
  }
  // Waits for every batch; what they imported, found there or refused.
  counts finish() {
    stop();
    if (error_) std::rethrow_exception(error_);
    return n_;
  }
  counts written() {
    std::lock_guard l{m_};
    return n_;
  }

private:
  void stop() {
    {
      std::lock_guard l{m_};
      done_ = true;
    }
    work_.notify_one();
    thread_.join();
  }
  void run() {
    for (;;) {
      std::vector<pending> batch;
      {
        std::unique_lock l{m_};
        work_.wait(l, [&] { return !queue_.empty() || done_; });
        if (queue_.empty() || error_) return;
        batch = std::move(queue_.front());
        queue_.pop_front();
      }
      counts got;
      try {
        write_batch(c_, batch, dry_run_, got, rejects_);
      } catch (...) {
        std::lock_guard l{m_};
        error_ = std::current_exception();
        space_.notify_all();
        return;
      }
      std::lock_guard l{m_};
      n_.imported += got.imported;
      n_.existing += got.existing;
      n_.rejected += got.rejected;
      space_.notify_all();
    }
  }

  pqxx::connection& c_;
  bool dry_run_;
  rejects_file& rejects_;
  std::mutex m_;
  std::condition_variable work_, space_;
  std::deque<std::vector<pending>> queue_;
  bool done_ = false;
  std::exception_ptr error_;
  counts n_;
  std::thread thread_; // last: starts once the rest is there
};

// message_logs: what the old service sent or is sending becomes a `sent`
// record under Candle's key for that occurrence (the old key kept), for the
// current and the previous year. Run before the users are written, so a node
// that sees an imported user (a running cluster, through its change feed) sees
// its sent greetings too and never claims one of them. The user's row comes
// from the old database through the same rules as the users' import.
void import_greetings(pqxx::connection& old, pqxx::connection& c, sys_millis now, bool dry_run,
                      const schedule_rules& rules, uint32_t partitions, counts& n) {
  auto year_now =
      static_cast<int>(date::year_month_day{std::chrono::floor<date::days>(now)}.year());
  pqxx::nontransaction r{old};
  auto logs = r.exec_params(
      "SELECT m.message_type, m.status, m.idempotency_key,"
      " (extract(epoch FROM m.scheduled_send_time) * 1000)::bigint,"
      " (extract(epoch FROM coalesce(m.actual_send_time, m.scheduled_send_time)) * 1000)::bigint,"
      " u.id::text, u.first_name, u.last_name, u.email, u.timezone, u.birthday_date::text,"
      " u.anniversary_date::text"
      " FROM message_logs m JOIN users u ON u.id = m.user_id AND u.deleted_at IS NULL"
      " WHERE m.status IN ('SENT', 'QUEUED', 'SENDING')"
      " AND m.scheduled_send_time >= make_timestamptz($1, 1, 1, 0, 0, 0, 'UTC') - interval '2 "
      "days'",
      year_now - 1);
  // send_records is kept by year (schema v9). Making a year's table locks
  // the parent: done in its own short transaction here, not inside the
  // import's, which would hold every claim of the cluster until it commits.
  if (!dry_run)
    for (int y = year_now - 2; y <= year_now + 1; ++y)
      pqxx::nontransaction{c}.exec("SELECT candle_record_year(" + std::to_string(y) + ")");
  pqxx::work w{c};
  w.exec("CREATE TEMP TABLE IF NOT EXISTS import_records (idempotency_key text, user_id uuid,"
         " occasion text, year integer, partition integer, due_at timestamptz,"
         " sent_at timestamptz, sent_to text, imported_key text) ON COMMIT DELETE ROWS");
  int64_t rows = 0;
  {
    copy_in t{w, "import_records"};
    std::set<std::string> keys;
    for (const auto& row : logs) {
      auto occasion = imp::occasion_of(row[0].c_str());
      if (occasion.empty() || !imp::counts_as_sent(row[1].c_str())) continue;
      json::object fields;
      for (int i = 0; i < 7; ++i)
        if (!row[5 + i].is_null()) fields[old_user_fields[i]] = row[5 + i].c_str();
      auto read = imp::read_row(fields, now, partitions);
      if (!std::holds_alternative<user>(read)) continue; // the users' import rejects it
      const auto& u = std::get<user>(read);
      auto zone = find_zone(u.timezone);
      auto day = parse_date(occasion_date(u, occasion));
      auto rule = std::find_if(rules.occasions.begin(), rules.occasions.end(),
                               [&](const auto& o) { return o.name == occasion; });
      if (!zone || !day || rule == rules.occasions.end()) continue;
      // The occurrence the old service scheduled: Candle's due instant nearest to it.
      auto scheduled = std::chrono::floor<std::chrono::seconds>(
          sys_millis{std::chrono::milliseconds{row[3].as<int64_t>()}});
      auto y0 =
          static_cast<int>(date::year_month_day{std::chrono::floor<date::days>(scheduled)}.year());
      std::optional<due> best;
      for (int y = y0 - 1; y <= y0 + 1; ++y) {
        auto d = due_in_year(occasion_rule{*day, *zone, rule->send_at, rules.feb29}, y);
        if (d && (!best || std::chrono::abs(d->instant - scheduled) <
                               std::chrono::abs(best->instant - scheduled)))
          best = *d;
      }
      if (!best || best->year < year_now - 1 || best->year > year_now) continue;
      auto key = idempotency_key(u.id, occasion, best->year);
      if (!keys.insert(key).second) continue;
      auto due_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(best->instant.time_since_epoch())
              .count();
      t.line(imp::copy_line({key, u.id, occasion, std::to_string(best->year),
                             std::to_string(u.partition), iso_ms(due_ms),
                             iso_ms(row[4].as<int64_t>()), u.email, std::string{row[2].c_str()}}));
      ++rows;
    }
    t.complete();
  }
  // Any other year (and every year in a dry run, rolled back with it).
  w.exec("SELECT candle_record_year(y) FROM (SELECT DISTINCT year AS y FROM import_records) d");
  auto inserted =
      w.exec("INSERT INTO send_records (idempotency_key, user_id, occasion, year, partition,"
             " due_at, status, attempts, owner_epoch, sent_at, claimed_by, sent_to, imported_key)"
             " SELECT idempotency_key, user_id, occasion, year, partition, due_at, 'sent', 1, 0,"
             " sent_at, 'candle-import', sent_to, imported_key FROM import_records"
             " ON CONFLICT (idempotency_key, year) DO NOTHING")
          .affected_rows();
  n.greetings += static_cast<int64_t>(inserted);
  n.greetings_existing += rows - static_cast<int64_t>(inserted);
  if (dry_run)
    w.abort();
  else
    w.commit();
}

} // namespace

int main(int argc, char** argv) {
  std::string error;
  auto opts = parse_args(argc, argv, error);
  if (!opts) {
    if (error == "help") {
      std::cout << usage;
      return 0;
    }
    std::cerr << "candle-import: " << error << "\n" << usage;
    return 2;
  }
  auto& o = *opts;
  auto now = o.now.value_or(
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
  try {
    std::unique_ptr<pg::embedded_postgres> embedded;
    std::string conninfo = o.to;
    if (!o.db_dir.empty()) {
      auto pg = pg::embedded_postgres::start(o.db_dir, "candle");
      if (!pg) throw std::runtime_error(pg.err().message);
      embedded = std::move(*pg);
      conninfo = embedded->conninfo("candle");
    }
    pqxx::connection c{conninfo};
    pg::migrate(c);
    auto partitions = pg::fixed_partition_count(c, o.partitions);
    std::unique_ptr<source> src;
    old_service_source* old = nullptr;
    if (!o.from.empty()) {
      auto s = std::make_unique<old_service_source>(o.from, o.batch);
      old = s.get();
      src = std::move(s);
    } else if (!o.csv.empty()) {
      src = std::make_unique<csv_source>(o.csv);
    } else {
      src = std::make_unique<ndjson_source>(o.ndjson);
    }
    rejects_file rejects{o.rejects};
    counts n;
    std::vector<pending> batch;
    batch.reserve(o.batch);
    std::unordered_map<std::string, std::string> emails; // in this import: email -> where
    std::optional<batch_writer> writer;
    auto started = clk::now();
    auto last_report = started;
    auto report = [&](bool final) {
      auto s = std::chrono::duration<double>(clk::now() - started).count();
      auto rate = s > 0 ? static_cast<double>(n.read) / s : 0.0;
      auto p = src->progress();
      auto w = writer ? writer->written() : counts{};
      std::fprintf(stderr, "candle-import: %lld read, %lld imported, %lld rejected, %.0f rows/s",
                   static_cast<long long>(n.read), static_cast<long long>(n.imported + w.imported),
                   static_cast<long long>(n.rejected + w.rejected), rate);
      if (!final && p > 0.001) std::fprintf(stderr, ", %.0f %%, ETA %.0f s", p * 100, s / p - s);
      std::fprintf(stderr, "\n");
    };
    if (old && o.greetings) // first: see import_greetings
      import_greetings(old->conn(), c, now, o.dry_run, default_rules(),
                       static_cast<uint32_t>(partitions), n);
    writer.emplace(c, o.dry_run, rejects);
    source_row r;
    while (src->next(r)) {
      ++n.read;
      if (!r.problem.empty()) {
        rejects.add(r.where, r.row, {{"row", r.problem}});
        ++n.rejected;
        continue;
      }
      auto read = imp::read_row(r.row, now, static_cast<uint32_t>(partitions));
      if (auto* errors = std::get_if<api::field_errors>(&read)) {
        rejects.add(r.where, r.row, *errors);
        ++n.rejected;
        continue;
      }
      auto& u = std::get<user>(read);
      if (auto [it, fresh] = emails.emplace(u.email, r.where); !fresh) {
        rejects.add(r.where, r.row, {{"email", "the same as " + it->second + "'s"}});
        ++n.rejected;
        continue;
      }
      batch.push_back({r.where, std::move(r.row), std::move(u)});
      if (batch.size() >= o.batch) {
        writer->push(std::move(batch));
        batch.reserve(o.batch);
      }
      if (clk::now() - last_report > std::chrono::seconds{1}) {
        report(false);
        last_report = clk::now();
      }
    }
    writer->push(std::move(batch));
    auto w = writer->finish();
    writer.reset();
    n.imported += w.imported;
    n.existing += w.existing;
    n.rejected += w.rejected;
    if (old && o.greetings && !o.dry_run) // greetings of users refused above
      pqxx::nontransaction{c}.exec(
          "DELETE FROM send_records r WHERE r.claimed_by = 'candle-import' AND NOT EXISTS"
          " (SELECT 1 FROM users u WHERE u.id = r.user_id)");
    report(true);
    auto s = std::chrono::duration<double>(clk::now() - started).count();
    std::cout << "candle-import" << (o.dry_run ? " (dry run, nothing written)" : "") << ": "
              << n.read << " read, " << n.imported << " imported, " << n.existing
              << " already there, " << n.rejected << " rejected"
              << (n.rejected ? " (" + rejects.path() + ")" : std::string{});
    if (old)
      std::cout << ", " << old->deleted() << " deleted users skipped, " << n.greetings
                << " greetings recorded as sent (" << n.greetings_existing << " already there)";
    std::cout << "; " << static_cast<int64_t>(s > 0 ? static_cast<double>(n.read) / s : 0)
              << " rows/s" << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "candle-import: " << e.what() << '\n';
    return 1;
  }
}
