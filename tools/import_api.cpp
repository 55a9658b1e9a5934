#include "tools/import_api.hpp"

#include "core/ids.hpp"
#include "core/partition.hpp"

#include <openssl/sha.h>
#include <set>

namespace candle::imp {

namespace json = boost::json;

std::string id_for_email(std::string_view email) {
  std::string e{email};
  for (auto& c : e)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  std::string input = "candle-import:" + e;
  unsigned char h[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), h);
  h[6] = static_cast<unsigned char>((h[6] & 0x0F) | 0x80); // version 8
  h[8] = static_cast<unsigned char>((h[8] & 0x3F) | 0x80); // RFC 4122 variant
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[h[i] >> 4];
    out += hex[h[i] & 0xF];
  }
  return out;
}

std::variant<user, api::field_errors> read_row(const json::object& row, sys_millis now,
                                               uint32_t partitions) {
  api::field_errors errors;
  auto fail = [&](const char* field, std::string message) {
    errors.push_back({field, std::move(message)});
  };
  auto stamp = [&](const char* field, int64_t fallback) -> int64_t {
    auto it = row.find(field);
    if (it == row.end() || it->value().is_null()) return fallback;
    if (!it->value().is_string()) {
      fail(field, "must be a string");
      return fallback;
    }
    auto t = parse_instant(api::view(it->value().as_string()));
    if (!t) {
      fail(field, "must be an ISO-8601 instant such as 2024-01-31T09:00:00Z");
      return fallback;
    }
    if (*t > now) {
      fail(field, "must not be in the future");
      return fallback;
    }
    return t->time_since_epoch().count();
  };
  std::string id;
  if (auto it = row.find("id"); it != row.end() && !it->value().is_null()) {
    if (!it->value().is_string() || !is_uuid(api::view(it->value().as_string())))
      fail("id", "must be a UUID");
    else
      id = std::string{api::view(it->value().as_string())};
    for (auto& c : id)
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  auto now_ms = now.time_since_epoch().count();
  auto created = stamp("createdAt", now_ms);
  auto updated = stamp("updatedAt", created);
  if (updated < created) fail("updatedAt", "must not be before createdAt");
  auto in = api::read_user(row, true, now);
  if (auto* e = std::get_if<api::field_errors>(&in))
    errors.insert(errors.end(), e->begin(), e->end());
  if (!errors.empty()) return errors;
  user u = api::apply(user{}, std::get<api::user_input>(in));
  u.id = id.empty() ? id_for_email(u.email) : id;
  u.created_at = created;
  u.updated_at = updated;
  u.partition = partition_of(u.id, partitions);
  return u;
}

std::optional<std::vector<std::string>> csv_reader::next(std::string& error) {
  std::string line;
  // Skip blank lines between records.
  do {
    if (!std::getline(in_, line)) return std::nullopt;
    ++line_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
  } while (line.empty());
  start_line_ = line_;
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false, was_quoted = false;
  size_t i = 0;
  for (;;) {
    if (i == line.size()) {
      if (quoted) { // a line break inside quotes
        if (!std::getline(in_, line)) {
          error = "an unterminated quoted field";
          return std::nullopt;
        }
        ++line_;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        field += '\n';
        i = 0;
        continue;
      }
      fields.push_back(std::move(field));
      return fields;
    }
    char c = line[i++];
    if (quoted) {
      if (c == '"' && i < line.size() && line[i] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (was_quoted) {
      error = "text after a closing quote";
      return std::vector<std::string>{}; // the caller reports it; reading goes on
    } else {
      field += c;
    }
  }
}

std::variant<json::object, std::string> csv_row(const std::vector<std::string>& header,
                                                const std::vector<std::string>& record) {
  if (record.size() != header.size())
    return "has " + std::to_string(record.size()) + " fields, the header " +
           std::to_string(header.size());
  json::object row;
  for (size_t i = 0; i < header.size(); ++i) {
    if (row.contains(header[i])) return "the header names " + header[i] + " twice";
    if (!record[i].empty()) row[header[i]] = record[i];
  }
  return row;
}

std::string copy_line(const std::vector<std::optional<std::string>>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += '\t';
    if (!fields[i]) {
      out += "\\N";
      continue;
    }
    for (char c : *fields[i]) {
      switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
      }
    }
  }
  out += '\n';
  return out;
}

bool counts_as_sent(std::string_view s) {
  return s == "SENT" || s == "QUEUED" || s == "SENDING";
}

std::string occasion_of(std::string_view t) {
  return t == "BIRTHDAY" ? "birthday" : t == "ANNIVERSARY" ? "anniversary" : "";
}

} // namespace candle::imp
