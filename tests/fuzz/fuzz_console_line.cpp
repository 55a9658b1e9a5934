// libFuzzer: an interactive console line through word splitting, command
// parsing (with durations) and completion; a parsed command's words parse
// to the same command again.
#include "console/cli.hpp"

#include <cstdlib>

using namespace candle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line{reinterpret_cast<const char*>(data), size};
  (void)console::completions(line.substr(0, size / 2), line.substr(size / 2));
  (void)console::parse_duration(line);
  auto words = console::split_line(line);
  if (!words) return 0;
  auto c = console::parse_command(*words);
  if (!c) {
    if (c.err().message.empty()) std::abort(); // a refusal always says why
    return 0;
  }
  auto again = console::parse_command(*words);
  if (!again || again->name != c->name || again->limit != c->limit) std::abort();
  return 0;
}
