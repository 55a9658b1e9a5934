#include "core/mail.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <date/date.h>

namespace candle::mail {

namespace {

constexpr size_t line_limit = 78; // RFC 5322 2.1.1: SHOULD; 998 MUST
constexpr const char* crlf = "\r\n";

bool is_atext(unsigned char c) {
  return std::isalnum(c) || std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

std::string base64(std::string_view in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    auto n = (static_cast<unsigned char>(in[i]) << 16) |
             (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += abc[(n >> 18) & 63];
    out += abc[(n >> 12) & 63];
    out += abc[(n >> 6) & 63];
    out += abc[n & 63];
  }
  if (i + 1 == in.size()) {
    auto n = static_cast<unsigned char>(in[i]) << 16;
    out += abc[(n >> 18) & 63];
    out += abc[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    auto n =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += abc[(n >> 18) & 63];
    out += abc[(n >> 12) & 63];
    out += abc[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

// Length of the UTF-8 sequence starting at `text[i]` (1 for a stray byte:
// invalid input is still cut on byte boundaries and never lost).
size_t char_length(std::string_view text, size_t i) {
  auto c = static_cast<unsigned char>(text[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
  if (i + n > text.size()) return 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return 1;
  return n;
}

// The most input octets, whole characters, whose B encoding fits `room`
// octets of encoded word ("=?UTF-8?B?" + base64 + "?=" is 12 + 4/3 n).
size_t take_fitting(std::string_view text, size_t from, size_t room) {
  if (room <= 12) return 0;
  size_t max_bytes = (room - 12) / 4 * 3;
  size_t n = 0;
  while (from + n < text.size()) {
    auto k = char_length(text, from + n);
    if (n + k > max_bytes) break;
    n += k;
  }
  return n;
}

const char hex_digits[] = "0123456789ABCDEF";

void hex(std::string& out, unsigned char c) {
  out += '=';
  out += hex_digits[c >> 4];
  out += hex_digits[c & 15];
}

} // namespace

bool is_printable_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

result<std::string> check_address(std::string_view a) {
  auto bad = [&](std::string why) -> result<std::string> {
    return error{errc::invalid_argument, "invalid email address: " + why};
  };
  if (a.empty()) return bad("empty");
  if (a.size() > 254) return bad("longer than 254 octets");
  for (char ch : a) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\r' || c == '\n') return bad("holds a line break");
    if (c < 0x20 || c == 0x7f) return bad("holds a control character");
    if (c >= 0x80) return bad("not ASCII (would need SMTPUTF8)");
    if (std::strchr(" <>\"(),;\\[]", c) != nullptr)
      return bad(std::string{"holds '"} + static_cast<char>(c) + "'");
  }
  auto at = a.rfind('@');
  if (at == std::string_view::npos) return bad("no '@'");
  if (a.find('@') != at) return bad("more than one '@'");
  if (at == 0) return bad("empty local part");
  if (at + 1 == a.size()) return bad("empty domain");
  return std::string{a};
}

result<sender> parse_sender(std::string_view text) {
  auto lt = text.find('<');
  if (lt == std::string_view::npos) {
    auto a = check_address(text);
    if (!a) return a.err();
    return sender{{}, std::move(*a)};
  }
  auto gt = text.find('>', lt);
  if (gt == std::string_view::npos || gt + 1 != text.size())
    return error{errc::invalid_argument, "expected 'address' or 'Name <address>'"};
  auto name = text.substr(0, lt);
  while (!name.empty() && name.back() == ' ')
    name.remove_suffix(1);
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
    name = name.substr(1, name.size() - 2);
  for (char c : name)
    if (c == '\r' || c == '\n' || (static_cast<unsigned char>(c) < 0x20) || c == '"' || c == '<')
      return error{errc::invalid_argument, "the name holds a control character, '\"' or '<'"};
  auto a = check_address(text.substr(lt + 1, gt - lt - 1));
  if (!a) return a.err();
  return sender{std::string{name}, std::move(*a)};
}

std::string_view domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view{} : address.substr(at + 1);
}

std::string header_text(std::string_view text) {
  std::string out{text};
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

std::string encoded_words(std::string_view text, size_t first_room) {
  std::string out;
  size_t i = 0;
  size_t room = first_room;
  bool first = true;
  while (i < text.size()) {
    auto n = take_fitting(text, i, room);
    if (n == 0 && !first) n = char_length(text, i); // cannot happen with room 75
    if (n == 0) {                                   // nothing fits on the first line
      out += "\r\n";
      room = 75;
      first = false;
      continue;
    }
    // More to come: end this word after the last space it holds, if any,
    // so words break where the name does (decoders that join adjacent
    // encoded words get the name exactly; those that put a space between
    // them, as Python's address parser does, at worst double that space).
    if (i + n < text.size()) {
      auto sp = text.substr(i, n).rfind(' ');
      if (sp != std::string_view::npos && sp > 0) n = sp + 1;
    }
    if (!first && !out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(text.substr(i, n)) + "?=";
    i += n;
    room = 75; // a folded line: one space, then at most 75 octets
    first = false;
  }
  return out;
}

std::string unstructured_header(std::string_view name, std::string_view value) {
  auto text = header_text(value);
  std::string out{name};
  out += ": ";
  if (is_printable_ascii(text) && text.find("=?") == std::string::npos) {
    // Fold at the last space that keeps the line within 78 octets; a word
    // longer than a line stays whole (998 is the hard limit; text this long
    // is not a subject).
    size_t col = out.size();
    std::string_view rest = text;
    std::string folded;
    while (col + rest.size() > line_limit) {
      auto room = line_limit - col;
      auto cut = rest.substr(0, room + 1).rfind(' ');
      if (cut == std::string_view::npos || cut == 0) {
        cut = rest.find(' ', 1);
        if (cut == std::string_view::npos) break;
      }
      folded += std::string{rest.substr(0, cut)} + "\r\n";
      rest = rest.substr(cut); // the space starts the folded line
      col = 0;
    }
    out += folded;
    out += rest;
  } else {
    out += encoded_words(text, line_limit - out.size());
  }
  return out + crlf;
}

std::string mailbox_header(std::string_view header, std::string_view display,
                           std::string_view address) {
  auto name = header_text(display);
  // Leading/trailing spaces carry nothing.
  while (!name.empty() && name.back() == ' ')
    name.pop_back();
  name.erase(0, std::min(name.size(), name.find_first_not_of(' ')));
  std::string out{header};
  out += ": ";
  std::string angle = "<" + std::string{address} + ">";
  if (name.empty()) return out + angle + crlf;
  if (is_printable_ascii(name) && name.find("=?") == std::string::npos) {
    bool atoms = std::all_of(name.begin(), name.end(), [](char c) {
      return c == ' ' || is_atext(static_cast<unsigned char>(c));
    });
    bool double_space = name.find("  ") != std::string::npos;
    if (atoms && !double_space) {
      out += name;
    } else {
      out += '"';
      for (char c : name) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
    if (out.size() + 1 + angle.size() > line_limit)
      out += "\r\n ";
    else
      out += ' ';
    return out + angle + crlf;
  }
  auto words = encoded_words(name, line_limit - out.size());
  out += words;
  auto last_line = out.size() - (out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  if (last_line + 1 + angle.size() > line_limit)
    out += "\r\n ";
  else
    out += ' ';
  return out + angle + crlf;
}

std::string message_id(std::string_view key, std::string_view domain) {
  std::string left;
  left.reserve(key.size() + 8);
  for (char ch : key) {
    auto c = static_cast<unsigned char>(ch);
    if (c == ':')
      left += '.';
    else if (c == '.' || c == '=' || !is_atext(c))
      hex(left, c);
    else
      left += ch;
  }
  if (left.empty()) left = "=00";
  // A dot-atom cannot start or end with '.', nor hold "..": ':' at those
  // places is spelled =3A instead.
  if (left.front() == '.') left.replace(0, 1, "=3A");
  if (left.back() == '.') left.replace(left.size() - 1, 1, "=3A");
  for (auto p = left.find(".."); p != std::string::npos; p = left.find(".."))
    left.replace(p + 1, 1, "=3A");
  return "<" + left + "@" + std::string{domain} + ">";
}

std::string rfc5322_date(int64_t unix_ms) {
  using namespace std::chrono;
  auto tp = date::sys_time<milliseconds>{milliseconds{unix_ms}};
  auto day = floor<date::days>(tp);
  date::year_month_day ymd{day};
  date::hh_mm_ss<seconds> hms{floor<seconds>(tp - day)};
  static const char* wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d +0000",
                wd[date::weekday{day}.c_encoding()], static_cast<unsigned>(ymd.day()),
                mon[static_cast<unsigned>(ymd.month()) - 1], static_cast<int>(ymd.year()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

std::string quoted_printable(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 8);
  std::string line; // the encoded current line
  auto flush_line = [&](bool hard) {
    out += line;
    if (hard) out += crlf;
    line.clear();
  };
  auto put = [&](std::string_view encoded) {
    // Soft break: "=" ends a line of at most 76 octets.
    if (line.size() + encoded.size() > 75) {
      line += '=';
      flush_line(true);
    }
    line += encoded;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      // Trailing white space before a hard break is encoded.
      if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
        auto ws = static_cast<unsigned char>(line.back());
        line.pop_back();
        std::string e;
        hex(e, ws);
        put(e);
      }
      flush_line(true);
      continue;
    }
    std::string e;
    bool at_line_start = line.empty();
    if (c == '=' || c >= 0x7f || (c < 0x20 && c != '\t') || (c == '.' && at_line_start))
      hex(e, c);
    else
      e.assign(1, static_cast<char>(c));
    put(e);
    // A soft break can start a new line with '.': re-encode it.
    if (c == '.' && line == ".") {
      line.clear();
      std::string d;
      hex(d, c);
      line += d;
    }
  }
  if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
    auto ws = static_cast<unsigned char>(line.back());
    line.pop_back();
    std::string e;
    hex(e, ws);
    put(e);
  }
  flush_line(false);
  if (out.empty() || out.size() < 2 || out.compare(out.size() - 2, 2, crlf) != 0) out += crlf;
  return out;
}

result<std::string> build_message(const message_fields& m) {
  auto from = check_address(m.from.address);
  if (!from) return error{errc::invalid_argument, "smtp.from: " + from.err().message};
  auto to = check_address(m.to_address);
  if (!to) return to.err();
  std::string out;
  out.reserve(512 + m.body.size() * 2);
  out += mailbox_header("From", m.from.name, *from);
  out += mailbox_header("To", m.to_name, *to);
  out += unstructured_header("Subject", m.subject);
  out += "Date: " + rfc5322_date(m.date_ms) + crlf;
  // One line whatever its length (under 998: a key and a domain): a folded
  // Message-ID is valid, but receivers that drop repeats compare it as text.
  out += "Message-ID: " + message_id(m.key, domain_of(*from)) + crlf;
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=UTF-8\r\n";
  out += "Content-Transfer-Encoding: quoted-printable\r\n";
  out += crlf;
  out += quoted_printable(m.body);
  return out;
}

const char* to_string(phase p) {
  switch (p) {
  case phase::connect:
    return "connect";
  case phase::hello:
    return "EHLO";
  case phase::starttls:
    return "STARTTLS";
  case phase::auth:
    return "AUTH";
  case phase::mail:
    return "MAIL FROM";
  case phase::rcpt:
    return "RCPT TO";
  case phase::data:
    return "DATA";
  case phase::body:
    return "end of data";
  }
  return "?";
}

bool unknown_mailbox(long code, std::string_view text) {
  if (code < 500 || code > 599) return false;
  // The enhanced status code (RFC 3463) follows the reply code: "550 5.1.1 ...".
  auto s = text;
  auto sp = s.find_first_not_of("0123456789");
  if (sp != std::string_view::npos && sp == 3)
    s = s.substr(4);
  else if (sp != 0)
    s = {};
  while (!s.empty() && s.front() == ' ')
    s.remove_prefix(1);
  if (s.size() >= 5 && s[0] == '5' && s[1] == '.' &&
      std::isdigit(static_cast<unsigned char>(s[2]))) {
    auto end = s.find_first_not_of("0123456789.");
    auto enhanced = s.substr(0, end);
    // X.1.1 bad destination mailbox address; X.1.10 a null MX (RFC 7505).
    return enhanced == "5.1.1" || enhanced == "5.1.10";
  }
  std::string lower;
  for (char c : text)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* p : {"user unknown", "unknown user", "unknown mailbox", "mailbox unknown",
                        "no such user", "no such mailbox", "mailbox not found",
                        "recipient address rejected: user unknown", "does not exist"})
    if (lower.find(p) != std::string::npos) return true;
  return false;
}

reply_verdict classify_reply(bool completed, long code, std::string_view text, phase at) {
  reply_verdict v;
  if (completed && code >= 200 && code < 300) {
    v.result = reply_verdict::sent;
    return v;
  }
  if (code >= 500 && code < 600 && (at == phase::rcpt || at == phase::data || at == phase::body)) {
    v.result = reply_verdict::permanent;
    v.suppress = unknown_mailbox(code, text);
    return v;
  }
  v.result = reply_verdict::transient;
  return v;
}

} // namespace candle::mail
