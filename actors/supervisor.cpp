#include "actors/supervisor.hpp"

#include <deque>
#include <spdlog/spdlog.h>

namespace candle {

namespace {

struct child_state {
  child_spec spec;
  caf::actor handle;
  std::chrono::milliseconds backoff{0};
  caf::actor_clock::time_point started;
  uint64_t restarts = 0;
};

struct supervisor_state {
  static constexpr const char* name = "supervisor";
  supervisor_options opts;
  std::map<std::string, child_state> children;
  std::deque<caf::actor_clock::time_point> recent; // restart instants, for the intensity limit
  bool stopping = false;
};

using self_ptr = caf::stateful_actor<supervisor_state>*;

void start_child(self_ptr self, child_state& c) {
  c.handle = c.spec.start(self);
  c.started = self->clock().now();
  self->monitor(c.handle);
}

caf::behavior supervisor(self_ptr self, supervisor_options opts) {
  auto& st = self->state;
  st.opts = std::move(opts);
  for (auto& spec : st.opts.children) {
    auto& c = st.children[spec.name];
    c.spec = spec;
    c.backoff = st.opts.min_backoff;
    start_child(self, c);
  }
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& s = self->state;
    if (s.stopping) return;
    for (auto& [name, c] : s.children) {
      if (c.handle.address() != msg.source) continue;
      auto now = self->clock().now();
      s.recent.push_back(now);
      while (!s.recent.empty() && now - s.recent.front() > s.opts.period)
        s.recent.pop_front();
      if (s.recent.size() > s.opts.max_restarts) {
        spdlog::critical("event=supervisor.give_up child={} restarts={} period_ms={}", name,
                         s.recent.size(), s.opts.period.count());
        self->quit(make_error(ec::internal, "restart intensity exceeded (child " + name + ")"));
        return;
      }
      // A child that ran for a while before failing starts over from the
      // shortest backoff; one that keeps failing waits longer each time.
      if (now - c.started > s.opts.period) c.backoff = s.opts.min_backoff;
      spdlog::warn("event=supervisor.child_down child={} reason=\"{}\" restart_in_ms={}", name,
                   self->system().render(msg.reason), c.backoff.count());
      c.handle = nullptr;
      self->delayed_send(self, c.backoff, atom::restart::value, name);
      c.backoff = std::min(c.backoff * 2, s.opts.max_backoff);
      return;
    }
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    self->state.stopping = true;
    for (auto& [name, c] : self->state.children)
      if (c.handle) self->send_exit(c.handle, msg.reason);
    self->quit(msg.reason);
  });
  return {
      [self](atom::restart, std::string& name) {
        auto& s = self->state;
        auto it = s.children.find(name);
        if (s.stopping || it == s.children.end() || it->second.handle) return;
        ++it->second.restarts;
        spdlog::info("event=supervisor.restart child={} restarts={}", name, it->second.restarts);
        start_child(self, it->second);
      },
      [self](atom::lookup, std::string& name) -> caf::result<caf::actor> {
        auto& s = self->state;
        auto it = s.children.find(name);
        if (it == s.children.end()) return make_error(ec::not_found, "no child " + name);
        if (!it->second.handle) return make_error(ec::unavailable, name + " is restarting");
        return it->second.handle;
      },
      [self](atom::tick t) {
        for (auto& [name, c] : self->state.children)
          if (c.handle) self->send(c.handle, t);
      },
      [self](atom::crash, std::string& name) {
        auto& s = self->state;
        auto it = s.children.find(name);
        if (it == s.children.end() || !it->second.handle) return false;
        spdlog::warn("event=supervisor.fault_injection child={}", name);
        self->send_exit(it->second.handle, caf::exit_reason::kill);
        return true;
      },
  };
}

} // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_options opts) {
  return sys.spawn(supervisor, std::move(opts));
}

} // namespace candle
