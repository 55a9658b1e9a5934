// libFuzzer: raw bytes as an HTTP/1.1 request, parsed with the server's
// limits (Beast, 64 KiB body, 16 KiB headers), then dispatched by a router
// with captures and the error envelopes. Every dispatch answers exactly once.
#include "net/envelope.hpp"
#include "net/router.hpp"

#include <boost/beast/http.hpp>
#include <cstdlib>

namespace http = boost::beast::http;
using namespace candle;

namespace {
net::router make_router() {
  net::router r;
  auto echo = [](net::request&& req, const net::path_params& p, net::responder respond) {
    boost::json::object o;
    for (const auto& [k, v] : p)
      o[k] = v;
    respond(net::success(http::status::ok, o, req));
  };
  r.add(http::verb::get, "/api/v1/users/{id}", echo);
  r.add(http::verb::put, "/api/v1/users/{id}", echo);
  r.add(http::verb::get, "/api/v1/users/{id}/greetings", echo);
  r.add(http::verb::post, "/api/v1/greetings/{key}/redrive", echo);
  r.add(http::verb::get, "/healthz", echo);
  return r;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto router = make_router();
  http::request_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  parser.header_limit(16 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  auto req = parser.release();
  int answers = 0;
  router(std::move(req), [&](net::response&& res) {
    ++answers;
    (void)res.body().size();
  });
  if (answers != 1) std::abort();
  return 0;
}
