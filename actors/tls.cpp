#include "actors/tls.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>

namespace candle {

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
