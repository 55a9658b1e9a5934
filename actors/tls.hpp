// Mutual TLS for cluster and console traffic through CAF's OpenSSL module
// (contract.md "Security", caf-0.17-notes.md "Network"): with the three PEM
// files set, every connection needs a certificate from `ca`, both ways.
// One place decides plain or TLS for publishing and for connecting.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <cstdint>
#include <string>

namespace candle {

struct tls_files {
  std::string certificate, key, ca;
  bool on() const { return !certificate.empty() && !key.empty() && !ca.empty(); }
};

/// Loads the three files as CAF's OpenSSL module will (it loads them only
/// at the first connection, and an unusable file then ends the process):
/// "" when they work together, else what is wrong, naming the option.
std::string check_tls_files(const tls_files& t);

/// Loads the middleman, Candle's middleman settings (heartbeats, application
/// identifier: the same in candled and candlectl) and, when `t.on()`, the
/// OpenSSL module with the three files.
void configure_network(caf::actor_system_config& cfg, const tls_files& t);

/// What to send `connect_atom` to: the OpenSSL manager when TLS is on, else
/// the middleman.
caf::io::middleman_actor connector(caf::actor_system& sys);

/// Publishes `whom` with its typed interface (plain or TLS, as the system
/// was configured).
template <class Handle>
caf::expected<uint16_t> publish_actor(caf::actor_system& sys, const Handle& whom, uint16_t port,
                                      const char* address) {
  if (sys.has_openssl_manager()) return caf::openssl::publish(whom, port, address, true);
  return sys.middleman().publish(whom, port, address, true);
}

} // namespace candle
