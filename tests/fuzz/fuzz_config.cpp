// libFuzzer: the node's configuration (config/config.cpp over CAF's INI and
// command-line parsers). The input is lines: `CANDLE_*=…` lines are the
// environment, other lines command-line arguments, and everything after a
// line `----` is the INI file (given as --config-file). Whatever it is, the
// outcome is one of the four and an error names something.
#include "config/config.hpp"

#include <cstdlib>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

using namespace candle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};
  std::string_view ini;
  bool has_ini = false;
  if (auto sep = in.find("----\n");
      sep != std::string_view::npos && (sep == 0 || in[sep - 1] == '\n')) {
    ini = in.substr(sep + 5);
    in = in.substr(0, sep);
    has_ini = true;
  }
  std::vector<std::string> args, env;
  while (!in.empty()) {
    auto nl = in.find('\n');
    auto line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    // NUL cannot be in an argument or a variable.
    std::string s{line.substr(0, line.find('\0'))};
    // The INI file is ours: an input's own --config-file could name
    // /dev/zero or standard input (a hang, not a finding).
    if (s.find("config-file") != std::string::npos) continue;
    (s.rfind("CANDLE_", 0) == 0 ? env : args).push_back(std::move(s));
  }
  int fd = -1;
  if (has_ini) {
    fd = memfd_create("candle-fuzz.ini", MFD_CLOEXEC);
    if (fd < 0 || write(fd, ini.data(), ini.size()) != static_cast<ssize_t>(ini.size()))
      std::abort();
    args.insert(args.begin(), "--config-file=/proc/self/fd/" + std::to_string(fd));
  }
  std::vector<char*> envp;
  for (auto& e : env)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  node_config cfg;
  auto out = load_config(cfg, args, envp.data());
  switch (out.what) {
  case load_outcome::run:
  case load_outcome::exit_ok:
    break;
  case load_outcome::help:
  case load_outcome::exit_usage:
    if (out.message.empty()) std::abort(); // a refusal always says why
    break;
  default:
    std::abort();
  }
  if (fd >= 0) close(fd);
  return 0;
}
