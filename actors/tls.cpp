#include "actors/tls.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <memory>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace candle {

std::string check_tls_files(const tls_files& t) {
  if (!t.on()) return {};
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{SSL_CTX_new(TLS_method()), SSL_CTX_free};
  if (!ctx) return "tls: cannot create an OpenSSL context";
  auto why = [](const std::string& what) {
    char buf[256] = "";
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    ERR_clear_error();
    return what + " (" + buf + ")";
  };
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), t.certificate.c_str()) != 1)
    return why("tls.certificate: not a PEM certificate: " + t.certificate);
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), t.key.c_str(), SSL_FILETYPE_PEM) != 1)
    return why("tls.key: not a PEM private key: " + t.key);
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return why("tls.key: does not belong to tls.certificate");
  if (SSL_CTX_load_verify_locations(ctx.get(), t.ca.c_str(), nullptr) != 1)
    return why("tls.ca: not a PEM CA certificate: " + t.ca);
  return {};
}

void configure_network(caf::actor_system_config& cfg, const tls_files& t) {
  cfg.load<caf::io::middleman>();
  // Heartbeats on, the same values everywhere, so a paused peer's proxies go
  // down; an application identifier of Candle's own.
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds{1}});
  cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds{3}});
  cfg.set("middleman.app-identifiers", std::vector<std::string>{"candle-cluster-1"});
  if (!t.on()) return;
  cfg.load<caf::openssl::manager>();
  cfg.set("openssl.certificate", t.certificate);
  cfg.set("openssl.key", t.key);
  cfg.set("openssl.cafile", t.ca);
}

caf::io::middleman_actor connector(caf::actor_system& sys) {
  if (sys.has_openssl_manager()) return sys.openssl_manager().actor_handle();
  return sys.middleman().actor_handle();
}

} // namespace candle
