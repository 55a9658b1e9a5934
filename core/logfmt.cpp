#include "core/logfmt.hpp"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <set>

namespace candle::logfmt {

namespace {

// A quote at `i` ends a quoted value when the message ends after it or the
// next field starts: a space, a key of letters, digits, '_', '.', '-', '='.
bool closes(std::string_view msg, size_t i) {
  if (i + 1 == msg.size()) return true;
  if (msg[i + 1] != ' ') return false;
  size_t k = i + 2;
  while (k < msg.size() && msg[k] == ' ')
    ++k;
  auto start = k;
  while (k < msg.size() && (std::isalnum(static_cast<unsigned char>(msg[k])) || msg[k] == '_' ||
                            msg[k] == '.' || msg[k] == '-'))
    ++k;
  return k < msg.size() && k > start && msg[k] == '=';
}

} // namespace

std::vector<field> parse(std::string_view msg) {
  std::vector<field> out;
  size_t i = 0, n = msg.size();
  while (i < n) {
    if (msg[i] == ' ') {
      ++i;
      continue;
    }
    auto eq = msg.find('=', i);
    auto sp = msg.find(' ', i);
    if (eq == std::string_view::npos || (sp != std::string_view::npos && sp < eq) || eq == i)
      return {};
    field f;
    f.key = std::string{msg.substr(i, eq - i)};
    i = eq + 1;
    if (i < n && msg[i] == '"') {
      f.quoted = true;
      ++i;
      bool closed = false;
      while (i < n) {
        char c = msg[i];
        if (c == '\\' && i + 1 < n && msg[i + 1] == '"') {
          f.value += '"';
          i += 2;
        } else if (c == '"' && closes(msg, i)) {
          ++i;
          closed = true;
          break;
        } else {
          f.value += c;
          ++i;
        }
      }
      if (!closed) return {};
    } else {
      auto end = msg.find(' ', i);
      if (end == std::string_view::npos) end = n;
      f.value = std::string{msg.substr(i, end - i)};
      i = end;
    }
    out.push_back(std::move(f));
  }
  return out;
}

namespace {

// Length of the valid UTF-8 sequence at s[i] (0 when it is not one).
size_t utf8_length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto c = b(i);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static const uint32_t min_of[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_of[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// A JSON number exactly as JSON spells it (no leading zeros, no '+', no
// bare '.', no inf/nan) that a double holds (an exponent of at most three
// digits, finite): JSON parsers refuse what overflows.
bool is_json_number(std::string_view v) {
  size_t i = 0, n = v.size();
  auto digits = [&] {
    auto start = i;
    while (i < n && v[i] >= '0' && v[i] <= '9')
      ++i;
    return i - start;
  };
  if (i < n && v[i] == '-') ++i;
  if (i >= n) return false;
  if (v[i] == '0')
    ++i;
  else if (digits() == 0)
    return false;
  if (i < n && v[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < n && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    if (i < n && (v[i] == '+' || v[i] == '-')) ++i;
    auto e = digits();
    if (e == 0 || e > 3) return false;
  }
  if (i != n || n > 32) return false;
  auto d = std::strtod(std::string{v}.c_str(), nullptr);
  return std::isfinite(d);
}

} // namespace

void append_json_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c == '\r') {
      out += "\\r";
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0xF];
      ++i;
    } else if (auto len = utf8_length(s, i); len > 0) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out += '"';
}

std::string to_json(std::string_view ts, std::string_view level, unsigned long thread,
                    std::string_view msg) {
  std::string out = "{\"ts\":";
  append_json_string(out, ts);
  out += ",\"level\":";
  append_json_string(out, level);
  out += ",\"thread\":";
  out += std::to_string(thread);
  auto fields = parse(msg);
  if (fields.empty()) {
    out += ",\"msg\":";
    append_json_string(out, msg);
  }
  std::set<std::string> seen{"ts", "level", "thread", "msg"};
  for (auto& f : fields) {
    auto key = f.key;
    while (!seen.insert(key).second)
      key = "_" + key;
    out += ',';
    append_json_string(out, key);
    out += ':';
    if (!f.quoted && is_json_number(f.value))
      out += f.value;
    else
      append_json_string(out, f.value);
  }
  out += '}';
  return out;
}

} // namespace candle::logfmt
