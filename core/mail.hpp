// Internet mail for the SMTP transport (contract.md, "Email provider"): the
// message a greeting becomes (RFC 5322 headers, RFC 2047 encoded words for
// non-ASCII names, a quoted-printable UTF-8 body, CRLF lines of at most 78
// octets) and what a server's reply means. Pure functions: no I/O; the
// client (net/smtp_client.hpp) puts the text on the wire.
#pragma once

#include "core/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace candle::mail {

/// An envelope address (MAIL FROM / RCPT TO, and the address in From/To):
/// printable ASCII without spaces, '<', '>', '"', '(', ')', ',', ';', '\\',
/// one '@' with a non-empty local part and domain, at most 254 octets.
/// Anything else (CR, LF, NUL, a non-ASCII address that would need
/// SMTPUTF8) is refused with the reason: it can neither inject a command or a
/// header nor be misread by a server.
result<std::string> check_address(std::string_view address);

/// `smtp.from`: an address ("greetings@example.com") or a name and an
/// address ("Candle <greetings@example.com>").
struct sender {
  std::string name;    ///< may be empty
  std::string address; ///< checked by check_address()
};
result<sender> parse_sender(std::string_view text);

/// The domain of a checked address (after the last '@').
std::string_view domain_of(std::string_view address);

/// Text for a header: CR, LF and every other control character become a
/// space, so a value can never end its header line and start another.
std::string header_text(std::string_view text);

/// Whether every byte is printable ASCII (0x20..0x7e).
bool is_printable_ascii(std::string_view text);

/// A header line `{name}: {value}` CRLF-terminated, folded at 78 octets. An
/// unstructured value (Subject) that is printable ASCII is folded at spaces;
/// otherwise, or when it holds "=?", it becomes RFC 2047 encoded words
/// (UTF-8, B encoding), each whole UTF-8 characters, one per folded line.
std::string unstructured_header(std::string_view name, std::string_view value);

/// A mailbox header (From, To): `{name}: {display} <{address}>`. The display
/// name is an atom phrase when it is plain ASCII words, a quoted string when
/// it is ASCII with specials, encoded words otherwise; no display name gives
/// just `<address>`. The address must be checked.
std::string mailbox_header(std::string_view header, std::string_view display,
                           std::string_view address);

/// RFC 2047 encoded words for `text` (UTF-8), each at most 75 octets and
/// whole characters; `first_room` octets are left on the first line (the
/// rest start a folded line of their own). Joined with CRLF SP.
std::string encoded_words(std::string_view text, size_t first_room);

/// `<{key}@{domain}>` with the key made a dot-atom: ':' becomes '.', any
/// other character outside RFC 5322 atext (and '.' and '=' themselves)
/// becomes =XX. The same key always gives the same id, different keys
/// different ids.
std::string message_id(std::string_view key, std::string_view domain);

/// RFC 5322 date-time in UTC: "Mon, 07 Dec 2026 05:26:24 +0000".
std::string rfc5322_date(int64_t unix_ms);

/// Quoted-printable (RFC 2045) of UTF-8 text: line breaks (CRLF, LF or CR)
/// become CRLF, lines are at most 76 octets (soft breaks), '=' and bytes
/// outside printable ASCII are =XX, trailing white space is encoded, and a
/// '.' starting a line is =2E (no line can end the DATA phase whatever the
/// client does about dot-stuffing).
std::string quoted_printable(std::string_view text);

/// One greeting as a message.
struct message_fields {
  sender from;
  std::string to_name; ///< the user's name ("Zoë Dupont"); may be empty
  std::string to_address;
  std::string subject;
  std::string body; ///< UTF-8 text
  std::string key;  ///< the idempotency key: the Message-ID
  int64_t date_ms = 0;
};

/// The whole message, CRLF lines: From, To, Subject, Date, Message-ID,
/// MIME-Version, Content-Type text/plain; charset=UTF-8,
/// Content-Transfer-Encoding quoted-printable, a blank line, the body. Lines
/// are at most 78 octets but for Message-ID, kept whole on one line.
/// Fails (and builds nothing) when an address does not pass check_address().
result<std::string> build_message(const message_fields& m);

/// What a server's replies to one message mean. `phase` is the last command
/// the client sent (which reply `code` answers).
enum class phase { connect, hello, starttls, auth, mail, rcpt, data, body };
const char* to_string(phase p);

struct reply_verdict {
  enum kind { sent, transient, permanent } result = transient;
  bool suppress = false; ///< the mailbox does not exist: treat as a hard bounce
};

/// `completed`: the client finished the transfer without error. Then a 2xx
/// is sent. A 4xx, no reply (0), a dropped connection or a timeout is
/// transient. A 5xx to RCPT TO, DATA or the message is permanent and, when
/// it says the mailbox does not exist (enhanced status 5.1.1, or without
/// one a text like "user unknown"), suppresses the address. A 5xx before
/// RCPT (greeting, EHLO, STARTTLS, AUTH, MAIL FROM) is about the server or
/// Candle's account, not the recipient: transient, so the breaker sees it
/// and the greeting is retried (dead after email.max-attempts).
reply_verdict classify_reply(bool completed, long code, std::string_view text, phase at);

/// Whether a reply says the mailbox does not exist.
bool unknown_mailbox(long code, std::string_view text);

} // namespace candle::mail
