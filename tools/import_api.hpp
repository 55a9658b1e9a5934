// candle-import's pure half (tools/candle_import.cpp does the I/O): a row
// from the old service or a CSV / NDJSON file, in the REST API's field
// names, validated by the REST API's own rules (api::read_user) into a
// Candle user; CSV records; PostgreSQL COPY text lines; what the old
// service's message_logs statuses mean to Candle.
#pragma once

#include "core/model.hpp"
#include "core/time.hpp"
#include "rest/user_api.hpp"

#include <boost/json.hpp>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace candle::imp {

/// A row as the REST API would take it to create a user, plus the
/// server-owned fields an import keeps: `id` (a UUID; absent: derived from
/// the email, so a re-run gives the same one), `createdAt` and `updatedAt`
/// (ISO-8601; absent: `now`; not after `now`, updatedAt not before
/// createdAt). Every problem is named, one per field.
std::variant<user, api::field_errors> read_row(const boost::json::object& row, sys_millis now,
                                               uint32_t partitions);

/// The id a row without one gets: a UUID (version 8, RFC 9562) from the
/// SHA-256 of the lower-case email. The same email always gives the same id.
std::string id_for_email(std::string_view email);

/// Reads CSV (RFC 4180: quoted fields with "" for a quote and line breaks
/// inside quotes; CRLF or LF). `next` gives one record, or nothing at the
/// end; a malformed record (an unterminated quote, text after a closing
/// quote) sets `error`.
class csv_reader {
public:
  explicit csv_reader(std::istream& in) : in_(in) {}
  std::optional<std::vector<std::string>> next(std::string& error);
  /// The line the last record started on (1-based).
  size_t line() const { return start_line_; }

private:
  std::istream& in_;
  size_t line_ = 0, start_line_ = 0;
};

/// A CSV record under its header as a row: empty fields are absent (for
/// optional fields, null), so "" never reaches a validator as a value.
/// A header naming something twice, or a record with another number of
/// fields, is an error naming it.
std::variant<boost::json::object, std::string> csv_row(const std::vector<std::string>& header,
                                                       const std::vector<std::string>& record);

/// One line of PostgreSQL's COPY text format (tab-separated, `\N` for
/// null, backslash escapes), with its newline.
std::string copy_line(const std::vector<std::optional<std::string>>& fields);

/// The old service's message_logs: which greetings it sent or may be
/// sending. SENT, QUEUED and SENDING become Candle `sent` records (the
/// greeting left or is about to leave: Candle must not send it again);
/// SCHEDULED, RETRYING and FAILED are not imported (never delivered: Candle
/// sends them by its own rules).
bool counts_as_sent(std::string_view old_status);
/// BIRTHDAY -> birthday, ANNIVERSARY -> anniversary, else "".
std::string occasion_of(std::string_view message_type);

} // namespace candle::imp
