// Occasions are data: a name, the user field holding its date, a local send
// time and a message template. Adding an occasion means adding an entry here
// (and a column), not a code path.
#pragma once

#include "core/result.hpp"
#include "core/time.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace candle {

/// The user values a template may refer to.
struct template_vars {
  std::string_view first_name;
  std::string_view last_name;
};

/// A parsed message template: literal text with `{firstName}` / `{lastName}`
/// placeholders. Unknown placeholders and stray braces are rejected when the
/// template is compiled, so rendering cannot fail.
class message_template {
public:
  static result<message_template> compile(std::string_view text);
  std::string render(const template_vars& vars) const;
  const std::string& source() const { return source_; }

private:
  enum class var { literal, first_name, last_name };
  struct piece {
    var kind;
    std::string text; // for literals
  };
  std::string source_;
  std::vector<piece> pieces_;
};

/// One kind of occasion.
struct occasion_def {
  std::string name;       ///< key component and API value: "birthday"
  std::string date_field; ///< the user field holding the date: "birthdayDate"
  time_of_day send_at;    ///< default local send time
  message_template message;
  message_template subject; ///< the Subject of an SMTP greeting (email.transport=smtp)
};

/// The built-in occasions, in a fixed order: birthday, anniversary.
const std::vector<occasion_def>& builtin_occasions();

/// Looks up a built-in occasion by name; nullptr when there is none.
const occasion_def* find_occasion(std::string_view name);

} // namespace candle
