#include "net/http_server.hpp"

#include "core/rate_limit.hpp"

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <spdlog/spdlog.h>
#include <thread>
#include <vector>

namespace candle::net {

namespace {
constexpr const char* reset_field = "X-Candle-Reset-Connection";
} // namespace

response connection_reset() {
  response res{http::status::internal_server_error, 11};
  res.set(reset_field, "1");
  return res;
}

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// Options and handler, immutable once the server starts, and the per-client
// limits (under their mutex), shared by sessions.
struct shared_state {
  server_options opts;
  handler h;
  std::mutex mtx;
  std::unique_ptr<client_limits> limits;

  int64_t admit_request(const std::string& client) {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
                   .count();
    std::lock_guard<std::mutex> g{mtx};
    return limits->request(client, now);
  }
  bool open(const std::string& client) {
    std::lock_guard<std::mutex> g{mtx};
    return limits->open(client);
  }
  void close(const std::string& client) {
    std::lock_guard<std::mutex> g{mtx};
    limits->close(client);
  }
};

std::string client_of(const tcp::socket& s) {
  beast::error_code ec;
  auto ep = s.remote_endpoint(ec);
  return ec ? std::string{"?"} : ep.address().to_string();
}

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket socket, std::shared_ptr<shared_state> shared, std::string client,
          bool counted)
      : stream_(std::move(socket)), shared_(std::move(shared)), opts_(shared_->opts),
        client_(std::move(client)), counted_(counted) {}

  ~session() {
    if (counted_) shared_->close(client_);
  }

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(true); });
  }

  /// Over the connection caps: one 503, then closed.
  void refuse() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->reply_and_close(http::status::service_unavailable,
                            "too many connections (http.max-connections-per-client, "
                            "http.max-connections)");
    });
  }

private:
  void read(bool first) {
    parser_.emplace();
    // Beast checks a Content-Length against the limit while it reads the
    // header: the largest limit until the target is known (on_header).
    limit_ = opts_.body_limit;
    for (const auto& [p, n] : opts_.body_limits)
      limit_ = std::max(limit_, n);
    parser_->body_limit(limit_);
    parser_->header_limit(static_cast<std::uint32_t>(opts_.header_limit));
    stream_.expires_after(first ? opts_.request_timeout : opts_.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_error(ec);
    limit_ = opts_.body_limit;
    auto target = parser_->get().target();
    auto path = target.substr(0, target.find('?'));
    for (const auto& [p, n] : opts_.body_limits)
      if (path == p) limit_ = n;
    // The header was read under the largest limit: a declared length is
    // checked here, a chunked body as it arrives.
    if (auto n = parser_->content_length(); n && *n > limit_)
      return on_error(http::error::body_limit);
    parser_->body_limit(limit_);
    // The idle timer covered the wait for a new request; the rest of it must
    // arrive within the request timeout.
    stream_.expires_after(opts_.request_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec2, size_t) { self->on_read(ec2); });
  }

  void on_error(beast::error_code ec) {
    if (ec == http::error::body_limit)
      return reply_and_close(http::status::payload_too_large,
                             "request body exceeds " + std::to_string(limit_ / 1024) + " KiB");
    if (ec == http::error::header_limit)
      return reply_and_close(http::status::request_header_fields_too_large,
                             "request header too large");
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof)
      return stream_.close(); // the client is gone or silent: nothing to linger for
    if (ec.category() == beast::error_code{http::error::bad_target}.category() ||
        ec == http::error::partial_message)
      return reply_and_close(http::status::bad_request, "malformed HTTP request: " + ec.message());
    spdlog::debug("event=http.read_error error=\"{}\"", ec.message());
    close();
  }

  void on_read(beast::error_code ec) {
    if (ec) return on_error(ec);
    auto req = parser_->release();
    keep_alive_ = req.keep_alive();
    if (auto wait = shared_->admit_request(client_); wait > 0) {
      auto res = failure(http::status::too_many_requests,
                         "too many requests from " + client_ + " (http.rate-per-client)", req);
      res.set(http::field::retry_after, std::to_string((wait + 999) / 1000));
      return write(std::move(res));
    }
    auto self = shared_from_this();
    // No timer runs while the handler works: a slow answer is the handler's
    // business, not the client's fault.
    stream_.expires_never();
    shared_->h(std::move(req), [self](response res) {
      asio::post(self->stream_.get_executor(),
                 [self, r = std::move(res)]() mutable { self->write(std::move(r)); });
    });
  }

  void reply_and_close(http::status status, std::string message) {
    keep_alive_ = false;
    write(failure(status, message, "/"));
  }

  void write(response res) {
    if (res.count(reset_field) > 0) { // connection_reset(): an RST, no answer
      beast::error_code ignored;
      stream_.socket().set_option(asio::socket_base::linger{true, 0}, ignored);
      return stream_.close();
    }
    res.keep_alive(res.keep_alive() && keep_alive_);
    auto close_after = !res.keep_alive();
    auto sp = std::make_shared<response>(std::move(res));
    stream_.expires_after(opts_.request_timeout);
    http::async_write(stream_, *sp,
                      [self = shared_from_this(), sp, close_after](beast::error_code ec, size_t) {
                        if (ec || close_after) return self->close();
                        self->read(false);
                      });
  }

  // Our side is done first: send FIN, then read and drop what the client
  // still sends (for at most a second) before closing. Closing a socket with unread
  // bytes makes the kernel answer with a reset, which can destroy a response
  // the client has not read yet (a refused connection's 503 is written before
  // its request is read).
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds{1});
    drain();
  }

  void drain() {
    auto scratch = std::make_shared<std::array<char, 4096>>();
    stream_.async_read_some(asio::buffer(*scratch),
                            [self = shared_from_this(), scratch](beast::error_code ec, size_t) {
                              if (ec) return self->stream_.close();
                              self->drain();
                            });
  }

  beast::tcp_stream stream_;
  std::shared_ptr<shared_state> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const server_options& opts_; // points into *shared_
  size_t limit_ = 0;           // the body limit of the request being read
  std::string client_;
  bool counted_; // holds a place in the connection caps
  bool keep_alive_ = true;
};

} // namespace

struct http_server::impl {
  std::shared_ptr<shared_state> shared = std::make_shared<shared_state>();
  server_options& opts = shared->opts;
  std::unique_ptr<asio::io_context> ctx = std::make_unique<asio::io_context>();
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  bool stopped = false;

  void accept() {
    acceptor->async_accept(asio::make_strand(*ctx), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (!ec) {
        auto client = client_of(s);
        bool admitted = shared->open(client);
        auto ses = std::make_shared<session>(std::move(s), shared, client, admitted);
        if (admitted)
          ses->run();
        else
          ses->refuse();
      }
      accept();
    });
  }
};

http_server::http_server(server_options opts, handler h) : impl_(std::make_unique<impl>()) {
  auto& o = opts;
  impl_->shared->limits = std::make_unique<client_limits>(
      o.rate_per_client, o.burst_per_client > 0 ? o.burst_per_client : 2 * o.rate_per_client,
      o.max_connections_per_client, o.max_connections);
  impl_->shared->opts = std::move(opts);
  impl_->shared->h = std::move(h);
}

http_server::~http_server() {
  stop();
}

result<uint16_t> http_server::start() {
  auto& m = *impl_;
  beast::error_code ec;
  auto addr = asio::ip::make_address(m.opts.host, ec);
  if (ec)
    return error{errc::invalid_argument, "http.host '" + m.opts.host + "' is not an IP address"};
  tcp::endpoint ep{addr, m.opts.port};
  m.acceptor.emplace(*m.ctx);
  auto fail = [&](const char* what) {
    return error{errc::invalid_argument, std::string{"cannot "} + what + " " + m.opts.host + ":" +
                                             std::to_string(m.opts.port) + ": " + ec.message()};
  };
  if (m.acceptor->open(ep.protocol(), ec); ec) return fail("open");
  if (m.acceptor->set_option(asio::socket_base::reuse_address(true), ec); ec)
    return fail("configure");
  if (m.acceptor->bind(ep, ec); ec) return fail("bind");
  if (m.acceptor->listen(asio::socket_base::max_listen_connections, ec); ec)
    return fail("listen on");
  auto port = m.acceptor->local_endpoint().port();
  m.accept();
  for (unsigned i = 0; i < std::max(1u, m.opts.threads); ++i)
    m.threads.emplace_back([ctx = m.ctx.get()] { ctx->run(); });
  return port;
}

void http_server::stop() {
  auto& m = *impl_;
  if (m.stopped) return;
  m.stopped = true;
  m.ctx->stop();
  for (auto& t : m.threads)
    t.join();
  m.threads.clear();
  if (m.acceptor) {
    beast::error_code ignored;
    m.acceptor->close(ignored); // no thread runs the context any more
  }
}

} // namespace candle::net
