// core/mail.hpp: the message an SMTP greeting becomes and what replies mean.
#include "core/mail.hpp"
#include "core/occasion.hpp"

#include <gtest/gtest.h>
#include <map>
#include <string>
#include <vector>

using namespace candle;
using namespace candle::mail;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    auto p = text.find("\r\n", start);
    if (p == std::string::npos) {
      if (start < text.size()) out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, p - start));
    start = p + 2;
  }
}

// Every line break is CRLF: no bare CR or LF anywhere.
void expect_crlf_only(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      ASSERT_LT(i + 1, text.size());
      EXPECT_EQ(text[i + 1], '\n') << "bare CR at " << i;
    }
    if (text[i] == '\n') {
      ASSERT_GT(i, 0u);
      EXPECT_EQ(text[i - 1], '\r') << "bare LF at " << i;
    }
  }
}

std::string unbase64(const std::string& in) {
  static const std::string abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0;
  unsigned acc = 0; // only the low 14 bits matter; unsigned so the shift may overflow
  for (char c : in) {
    if (c == '=') break;
    auto v = abc.find(c);
    EXPECT_NE(v, std::string::npos) << "not base64: " << c;
    acc = ((acc << 6) | static_cast<unsigned>(v)) & 0x3fffu;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += n;
  }
  return true;
}

// Decodes a header value made of encoded words (RFC 2047 B, UTF-8) joined
// by folding white space; checks each word is at most 75 octets and whole
// characters.
std::string decode_words(const std::string& value) {
  std::string out;
  size_t i = 0;
  while (i < value.size()) {
    if (value[i] == ' ' || value[i] == '\r' || value[i] == '\n') {
      ++i;
      continue;
    }
    EXPECT_EQ(value.compare(i, 10, "=?UTF-8?B?"), 0) << value.substr(i);
    auto end = value.find("?=", i + 10);
    EXPECT_NE(end, std::string::npos);
    if (end == std::string::npos) return out;
    EXPECT_LE(end + 2 - i, 75u) << "encoded word longer than 75 octets";
    auto part = unbase64(value.substr(i + 10, end - i - 10));
    EXPECT_TRUE(valid_utf8(part)) << "an encoded word splits a character";
    out += part;
    i = end + 2;
  }
  return out;
}

std::string qp_decode(const std::string& body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '=') {
      if (body.compare(i + 1, 2, "\r\n") == 0) {
        i += 2;
        continue;
      }
      out += static_cast<char>(std::stoi(body.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += body[i];
    }
  }
  return out;
}

// Headers of a built message: name -> unfolded value.
std::map<std::string, std::string> headers_of(const std::string& msg, std::string* body) {
  std::map<std::string, std::string> out;
  auto end = msg.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos);
  auto head = msg.substr(0, end + 2);
  if (body) *body = msg.substr(end + 4);
  std::string last;
  for (auto& l : lines_of(head)) {
    if (!l.empty() && l[0] == ' ') {
      out[last] += "\r\n" + l;
      continue;
    }
    auto colon = l.find(':');
    EXPECT_NE(colon, std::string::npos) << l;
    last = l.substr(0, colon);
    EXPECT_EQ(out.count(last), 0u) << "header twice: " << last;
    out[last] = l.substr(colon + 2);
  }
  return out;
}

message_fields sample() {
  message_fields m;
  m.from = {"Candle", "greetings@example.com"};
  m.to_name = "Ada Lovelace";
  m.to_address = "ada@example.org";
  m.subject = "Happy birthday, Ada!";
  m.body = "Hey, Ada Lovelace it's your birthday";
  m.key = "0b9c2a4e-1f6d-4c55-9a7e-2b1f3c4d5e6f:birthday:2026";
  m.date_ms = 1796620584000; // 2026-12-07T05:16:24Z
  return m;
}

} // namespace

TEST(Mail, CheckAddressAcceptsPlainAddresses) {
  for (const char* a : {"a@b", "ada@example.org", "first.last+tag@sub.example.co.uk",
                        "o'brien@example.ie", "x_y-z@example.com"})
    EXPECT_TRUE(check_address(a).ok()) << a;
}

TEST(Mail, CheckAddressRefusesWhatCouldInjectOrMislead) {
  for (std::string a :
       {std::string{""}, std::string{"no-at"}, std::string{"@example.com"}, std::string{"a@"},
        std::string{"a@b@c"}, std::string{"a b@example.com"}, std::string{"a@example.com\r\n"},
        std::string{"a@example.com\r\nRCPT TO:<x@y>"}, std::string{"a\n@example.com"},
        std::string{"<a@example.com>"}, std::string{"a@example.com>"},
        std::string{"a\"@example.com"}, std::string{"a\\@example.com"},
        std::string{"zo\xc3\xab@example.com"}, std::string{"a\0b@example.com", 15},
        std::string(250, 'a') + "@example.com"}) {
    auto r = check_address(a);
    EXPECT_FALSE(r.ok()) << a;
    if (!r.ok()) {
      EXPECT_NE(r.err().message.find("invalid email address"), std::string::npos);
    }
  }
}

TEST(Mail, ParseSender) {
  auto a = parse_sender("greetings@example.com");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->name, "");
  EXPECT_EQ(a->address, "greetings@example.com");
  auto b = parse_sender("Candle Greetings <greetings@example.com>");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->name, "Candle Greetings");
  EXPECT_EQ(b->address, "greetings@example.com");
  auto c = parse_sender("\"Candle, Inc.\" <g@example.com>");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->name, "Candle, Inc.");
  EXPECT_FALSE(parse_sender("Candle <greetings@example.com").ok());
  EXPECT_FALSE(parse_sender("Candle <greetings@example.com> x").ok());
  EXPECT_FALSE(parse_sender("Can\r\ndle <g@example.com>").ok());
  EXPECT_FALSE(parse_sender("Candle <g@exa\nmple.com>").ok());
  EXPECT_FALSE(parse_sender("").ok());
  EXPECT_EQ(domain_of("greetings@example.com"), "example.com");
}

TEST(Mail, HeaderTextCannotBreakALine) {
  EXPECT_EQ(header_text("a\r\nBcc: x@y"), "a  Bcc: x@y");
  EXPECT_EQ(header_text("a\nb\rc\td\x01"
                        "e\x7f"),
            "a b c d e ");
}

TEST(Mail, MailboxHeaderAscii) {
  EXPECT_EQ(mailbox_header("To", "Ada Lovelace", "ada@example.org"),
            "To: Ada Lovelace <ada@example.org>\r\n");
  EXPECT_EQ(mailbox_header("To", "", "ada@example.org"), "To: <ada@example.org>\r\n");
  EXPECT_EQ(mailbox_header("To", "  ", "ada@example.org"), "To: <ada@example.org>\r\n");
  // Specials make a quoted string, with '"' and '\' escaped.
  EXPECT_EQ(mailbox_header("To", "Lovelace, Ada", "a@b"), "To: \"Lovelace, Ada\" <a@b>\r\n");
  EXPECT_EQ(mailbox_header("To", "Ada \"The\" L\\", "a@b"),
            "To: \"Ada \\\"The\\\" L\\\\\" <a@b>\r\n");
  EXPECT_EQ(mailbox_header("To", "O'Brien", "a@b"), "To: O'Brien <a@b>\r\n");
}

TEST(Mail, MailboxHeaderEncodesNonAsciiNames) {
  struct sample {
    const char* name;
  };
  for (std::string name : {"Zo\xc3\xab", "\xe6\x9d\x8e\xe9\x9b\xb7",
                           "\xc5\x9e\xc3\xbc"
                           "kr\xc3\xbc",
                           "Zo\xc3\xab M\xc3\xbcller-\xc5\x9e\xc3\xbckr\xc3\xbc"}) {
    auto h = mailbox_header("To", name, "u@example.org");
    expect_crlf_only(h);
    ASSERT_EQ(h.rfind("To: ", 0), 0u);
    auto lt = h.rfind(" <u@example.org>\r\n");
    ASSERT_NE(lt, std::string::npos) << h;
    EXPECT_EQ(decode_words(h.substr(4, lt - 4)), name);
    for (auto& l : lines_of(h))
      EXPECT_LE(l.size(), 78u) << l;
  }
  EXPECT_EQ(mailbox_header("To", "Zo\xc3\xab", "z@example.org"),
            "To: =?UTF-8?B?Wm/Dqw==?= <z@example.org>\r\n");
}

TEST(Mail, LongNamesFoldIntoWholeCharacterWords) {
  // 1..80 repetitions of 1-, 2-, 3- and 4-octet characters: every word at
  // most 75 octets, whole characters, lines at most 78, the name intact.
  for (std::string unit : {std::string{"a"}, std::string{"\xc3\xab"}, std::string{"\xe6\x9d\x8e"},
                           std::string{"\xf0\x9f\x8e\x82"},
                           std::string{"\xc5\x9e\xc3\xbc"
                                       "k"}}) {
    for (int n = 1; n <= 80; ++n) {
      std::string name = "\xc3\xa9";
      for (int i = 0; i < n; ++i)
        name += unit;
      auto h = mailbox_header("To", name, "u@example.org");
      expect_crlf_only(h);
      auto lines = lines_of(h);
      for (size_t i = 0; i < lines.size(); ++i) {
        EXPECT_LE(lines[i].size(), 78u) << lines[i];
        if (i > 0) {
          EXPECT_EQ(lines[i][0], ' ') << "a folded line starts with white space";
        }
      }
      auto lt = h.rfind("<u@example.org>");
      auto value = h.substr(4, lt - 4);
      EXPECT_EQ(decode_words(value), name);
      auto s = unstructured_header("Subject", name);
      for (auto& l : lines_of(s))
        EXPECT_LE(l.size(), 78u) << l;
      EXPECT_EQ(decode_words(s.substr(9, s.size() - 11)), name);
    }
  }
}

TEST(Mail, EncodedWordsBreakAfterSpaces) {
  // A long name breaks after one of its spaces, the space inside the word.
  std::string name =
      "Jean-Baptiste \xc3\x89mile de la Fontaine-\xc3\x98sterg\xc3\xa5rd M\xc3\xbcller";
  auto words = encoded_words(name, 74);
  auto first_end = words.find("?=");
  ASSERT_NE(first_end, std::string::npos);
  auto first = unbase64(words.substr(10, first_end - 10));
  EXPECT_EQ(first.back(), ' ') << first;
  EXPECT_EQ(decode_words(words), name);
}

TEST(Mail, SubjectAsciiIsFoldedAtSpaces) {
  EXPECT_EQ(unstructured_header("Subject", "Happy birthday, Ada!"),
            "Subject: Happy birthday, Ada!\r\n");
  std::string longer;
  for (int i = 0; i < 30; ++i)
    longer += "word" + std::to_string(i) + " ";
  longer += "end";
  auto h = unstructured_header("Subject", longer);
  expect_crlf_only(h);
  std::string unfolded;
  for (auto& l : lines_of(h)) {
    EXPECT_LE(l.size(), 78u);
    unfolded += l;
  }
  EXPECT_EQ(unfolded, "Subject: " + longer);
  // "=?" in plain text would be decoded by readers: encoded instead.
  auto tricky = unstructured_header("Subject", "=?UTF-8?B?SGk=?=");
  EXPECT_EQ(decode_words(tricky.substr(9, tricky.size() - 11)), "=?UTF-8?B?SGk=?=");
}

TEST(Mail, MessageIdIsAValidMsgIdAndTheSameOnEveryBuild) {
  EXPECT_EQ(message_id("0b9c2a4e-1f6d:birthday:2026", "example.com"),
            "<0b9c2a4e-1f6d.birthday.2026@example.com>");
  // Different keys never give one id.
  EXPECT_NE(message_id("a:b", "d"), message_id("a.b", "d"));
  EXPECT_NE(message_id("a:b", "d"), message_id("a=2Eb", "d"));
  EXPECT_EQ(message_id("a.b", "d"), "<a=2Eb@d>");
  EXPECT_EQ(message_id("a b<>", "d"), "<a=20b=3C=3E@d>");
  // A dot-atom has no leading, trailing or double dots.
  EXPECT_EQ(message_id(":a::b:", "d"), "<=3Aa.=3Ab=3A@d>");
}

TEST(Mail, Rfc5322Date) {
  EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(1796620584000), "Mon, 07 Dec 2026 05:16:24 +0000");
  EXPECT_EQ(rfc5322_date(951782400999), "Tue, 29 Feb 2000 00:00:00 +0000");
}

TEST(Mail, QuotedPrintable) {
  EXPECT_EQ(quoted_printable("Hey, Ada"), "Hey, Ada\r\n");
  EXPECT_EQ(quoted_printable("Zo\xc3\xab"), "Zo=C3=AB\r\n");
  EXPECT_EQ(quoted_printable("a=b"), "a=3Db\r\n");
  EXPECT_EQ(quoted_printable("a \nb\t\r\nc"), "a=20\r\nb=09\r\nc\r\n");
  EXPECT_EQ(quoted_printable("end "), "end=20\r\n");
  // A line starting with '.' (the end of DATA) never leaves as one.
  EXPECT_EQ(quoted_printable(".\r\nx\n.hidden"), "=2E\r\nx\r\n=2Ehidden\r\n");
  EXPECT_EQ(quoted_printable("a\rb"), "a\r\nb\r\n");
  // Long text: soft breaks, every line at most 76 octets, decodes back.
  for (std::string unit : {std::string{"a"}, std::string{"\xc3\xab"}, std::string{"."},
                           std::string{"= "}, std::string{"\xe6\x9d\x8e."}}) {
    for (int n = 1; n < 300; n += 7) {
      std::string text;
      for (int i = 0; i < n; ++i)
        text += unit;
      auto qp = quoted_printable(text);
      expect_crlf_only(qp);
      for (auto& l : lines_of(qp)) {
        EXPECT_LE(l.size(), 76u) << l;
        EXPECT_NE(l.rfind(".", 0), 0u) << "a line starts with '.'";
        EXPECT_TRUE(l.empty() || (l.back() != ' ' && l.back() != '\t'));
      }
      EXPECT_EQ(qp_decode(qp), text + "\r\n");
    }
  }
}

TEST(Mail, BuildMessage) {
  auto m = sample();
  auto built = build_message(m);
  ASSERT_TRUE(built.ok()) << built.err().message;
  expect_crlf_only(*built);
  std::string body;
  auto h = headers_of(*built, &body);
  EXPECT_EQ(h["From"], "Candle <greetings@example.com>");
  EXPECT_EQ(h["To"], "Ada Lovelace <ada@example.org>");
  EXPECT_EQ(h["Subject"], "Happy birthday, Ada!");
  EXPECT_EQ(h["Date"], "Mon, 07 Dec 2026 05:16:24 +0000");
  EXPECT_EQ(h["Message-ID"], "<0b9c2a4e-1f6d-4c55-9a7e-2b1f3c4d5e6f.birthday.2026@example.com>");
  EXPECT_EQ(h["MIME-Version"], "1.0");
  EXPECT_EQ(h["Content-Type"], "text/plain; charset=UTF-8");
  EXPECT_EQ(h["Content-Transfer-Encoding"], "quoted-printable");
  EXPECT_EQ(h.size(), 8u);
  EXPECT_EQ(body, "Hey, Ada Lovelace it's your birthday\r\n");
  // A long Message-ID stays on its line (receivers compare it as text).
  auto long_key = build_message([] {
    auto l = sample();
    l.from.address = "greetings@mail.candle-greetings.example.com";
    return l;
  }());
  ASSERT_TRUE(long_key.ok());
  EXPECT_NE(long_key->find("\r\nMessage-ID: <0b9c2a4e-1f6d-4c55-9a7e-2b1f3c4d5e6f.birthday.2026@"
                           "mail.candle-greetings.example.com>\r\n"),
            std::string::npos);
  // The same greeting built again (a re-send) has the same Message-ID.
  m.date_ms += 3600000;
  auto again = build_message(m);
  EXPECT_EQ(headers_of(*again, nullptr)["Message-ID"], h["Message-ID"]);
}

TEST(Mail, BuildMessageNonAscii) {
  auto m = sample();
  m.to_name = "\xe6\x9d\x8e\xe9\x9b\xb7";
  m.subject = "Happy birthday, \xe6\x9d\x8e!";
  m.body = "Hey, \xe6\x9d\x8e \xe9\x9b\xb7 it's your birthday";
  auto built = build_message(m);
  ASSERT_TRUE(built.ok());
  std::string body;
  auto h = headers_of(*built, &body);
  EXPECT_EQ(decode_words(h["To"].substr(0, h["To"].find(" <"))), m.to_name);
  EXPECT_EQ(decode_words(h["Subject"]), m.subject);
  EXPECT_EQ(qp_decode(body), m.body + "\r\n");
}

TEST(Mail, CrLfInAnyFieldNeverStartsAHeader) {
  for (std::string evil :
       {std::string{"Ada\r\nBcc: victim@example.com"}, std::string{"Ada\nBcc: victim@example.com"},
        std::string{"Ada\rBcc: victim@example.com"}, std::string{"\r\n\r\nbody injection"},
        std::string{"Zo\xc3\xab\r\nBcc: victim@example.com"}}) {
    auto m = sample();
    m.to_name = evil;
    m.subject = "Happy birthday, " + evil + "!";
    m.body = "Hey, " + evil + "\r\n.\r\nMAIL FROM:<x@y>";
    m.from.name = evil;
    auto built = build_message(m);
    ASSERT_TRUE(built.ok());
    expect_crlf_only(*built);
    std::string body;
    auto h = headers_of(*built, &body);
    EXPECT_EQ(h.count("Bcc"), 0u) << *built;
    EXPECT_EQ(h.size(), 8u) << *built;
    for (auto& l : lines_of(body))
      EXPECT_NE(l, ".") << "the body ends DATA early";
    // The text itself arrives whole (its line breaks as CRLF).
    EXPECT_NE(qp_decode(body).find("\r\n.\r\nMAIL FROM:<x@y>"), std::string::npos);
  }
  auto m = sample();
  m.to_address = "ada@example.org\r\nBcc: victim@example.com";
  EXPECT_FALSE(build_message(m).ok());
  m = sample();
  m.from.address = "g@example.com>\r\nRCPT TO:<victim@example.com";
  EXPECT_FALSE(build_message(m).ok());
}

TEST(Mail, SubjectsFromTheOccasionTemplates) {
  auto* b = find_occasion("birthday");
  auto* a = find_occasion("anniversary");
  ASSERT_TRUE(b && a);
  EXPECT_EQ(b->subject.render({"Zo\xc3\xab", "Dupont"}), "Happy birthday, Zo\xc3\xab!");
  EXPECT_EQ(a->subject.render({"Ada", "Lovelace"}), "Happy anniversary, Ada!");
}

TEST(Mail, ClassifyReplies) {
  using k = reply_verdict;
  EXPECT_EQ(classify_reply(true, 250, "250 2.0.0 Ok: queued", phase::body).result, k::sent);
  // 4xx at any step is transient.
  for (auto p : {phase::connect, phase::hello, phase::auth, phase::mail, phase::rcpt, phase::data,
                 phase::body}) {
    EXPECT_EQ(classify_reply(false, 421, "421 4.3.2 Service shutting down", p).result,
              k::transient);
    EXPECT_EQ(classify_reply(false, 451, "451 4.3.0 try again", p).result, k::transient);
    EXPECT_FALSE(classify_reply(false, 451, "451 4.1.1 mailbox busy", p).suppress);
  }
  // No reply: dropped connection, timeout, refused connection.
  EXPECT_EQ(classify_reply(false, 0, "", phase::connect).result, k::transient);
  EXPECT_EQ(classify_reply(false, 0, "", phase::body).result, k::transient);
  // A 2xx last reply but a transfer that did not complete: not sent.
  EXPECT_EQ(classify_reply(false, 250, "250 ok", phase::rcpt).result, k::transient);
  // 5xx about the recipient or the message: permanent.
  auto r = classify_reply(false, 550, "550 5.7.1 Message rejected as spam", phase::body);
  EXPECT_EQ(r.result, k::permanent);
  EXPECT_FALSE(r.suppress);
  r = classify_reply(false, 552, "552 5.3.4 Message too big", phase::data);
  EXPECT_EQ(r.result, k::permanent);
  // 5xx before RCPT: about the server or the account, transient.
  for (auto p : {phase::connect, phase::hello, phase::starttls, phase::auth, phase::mail})
    EXPECT_EQ(classify_reply(false, 535, "535 5.7.8 Authentication failed", p).result,
              k::transient);
  // Unknown mailbox: permanent and suppressed.
  r = classify_reply(false, 550, "550 5.1.1 <x@example.org>: Recipient address rejected",
                     phase::rcpt);
  EXPECT_EQ(r.result, k::permanent);
  EXPECT_TRUE(r.suppress);
  r = classify_reply(false, 550, "550 User unknown", phase::rcpt);
  EXPECT_TRUE(r.suppress);
  r = classify_reply(false, 550, "550 5.1.10 null MX", phase::rcpt);
  EXPECT_TRUE(r.suppress);
  r = classify_reply(false, 550, "550 5.1.2 bad destination system", phase::rcpt);
  EXPECT_FALSE(r.suppress);
  r = classify_reply(false, 553, "553 5.1.3 bad address syntax", phase::rcpt);
  EXPECT_EQ(r.result, k::permanent);
  EXPECT_FALSE(r.suppress);
  // An enhanced code says what it is: 5.7.1 mentioning "unknown" is policy.
  EXPECT_FALSE(unknown_mailbox(550, "550 5.7.1 unknown user policy"));
  EXPECT_FALSE(unknown_mailbox(450, "450 4.1.1 user unknown"));
}
