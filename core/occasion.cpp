#include "core/occasion.hpp"

namespace candle {

result<message_template> message_template::compile(std::string_view text) {
  message_template t;
  t.source_ = std::string{text};
  std::string literal;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '}')
      return error{errc::invalid_argument,
                   "unbalanced '}' in template at offset " + std::to_string(i)};
    if (c != '{') {
      literal.push_back(c);
      continue;
    }
    auto close = text.find('}', i);
    if (close == std::string_view::npos)
      return error{errc::invalid_argument,
                   "unclosed '{' in template at offset " + std::to_string(i)};
    auto name = text.substr(i + 1, close - i - 1);
    var kind;
    if (name == "firstName")
      kind = var::first_name;
    else if (name == "lastName")
      kind = var::last_name;
    else
      return error{errc::invalid_argument,
                   "unknown template variable '{" + std::string{name} + "}'"};
    if (!literal.empty()) t.pieces_.push_back({var::literal, std::move(literal)});
    literal.clear();
    t.pieces_.push_back({kind, {}});
    i = close;
  }
  if (!literal.empty()) t.pieces_.push_back({var::literal, std::move(literal)});
  return t;
}

std::string message_template::render(const template_vars& vars) const {
  std::string out;
  out.reserve(source_.size() + vars.first_name.size() + vars.last_name.size());
  for (const auto& p : pieces_) {
    switch (p.kind) {
    case var::literal:
      out += p.text;
      break;
    case var::first_name:
      out += vars.first_name;
      break;
    case var::last_name:
      out += vars.last_name;
      break;
    }
  }
  return out;
}

namespace {

occasion_def make(std::string name, std::string field, std::string_view tmpl,
                  std::string_view subject) {
  // The built-in templates are constants; compile() cannot fail on them (a
  // unit test renders each one).
  return {std::move(name), std::move(field), time_of_day{9, 0},
          std::move(message_template::compile(tmpl).value()),
          std::move(message_template::compile(subject).value())};
}

} // namespace

const std::vector<occasion_def>& builtin_occasions() {
  static const std::vector<occasion_def> all{
      make("birthday", "birthdayDate", "Hey, {firstName} {lastName} it's your birthday",
           "Happy birthday, {firstName}!"),
      make("anniversary", "anniversaryDate", "Hey, {firstName} {lastName} happy anniversary",
           "Happy anniversary, {firstName}!"),
  };
  return all;
}

const occasion_def* find_occasion(std::string_view name) {
  for (const auto& o : builtin_occasions())
    if (o.name == name) return &o;
  return nullptr;
}

} // namespace candle
