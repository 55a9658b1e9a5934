#include "fakes.hpp"

namespace candle::test {

namespace {
caf::error unsupported() {
  return make_error(errc::internal, "not in the fake");
}

// The row the real INSERTs (claim, expire, a checked greeting's outcome)
// create for an occurrence or an outcome that carries its greeting.
template <class Greeting>
send_record new_record(const Greeting& o, const std::string& status, int64_t epoch) {
  send_record r;
  r.key = o.key;
  r.user_id = o.user_id;
  r.occasion = o.occasion;
  r.year = o.year;
  r.due_at = o.due_at;
  r.status = status;
  r.owner_epoch = epoch;
  return r;
}
// The outcomes' writes as the real statements make them (store::record_outcomes).
key_list apply_outcomes(fake_db_state* st, int64_t epoch, const outcome_list& batch) {
  key_list out;
  if (epoch != st->epoch) return out;
  for (const auto& o : batch) {
    if (!o.user_id.empty()) { // checked, not claimed: its first and only row
      if (st->records.count(o.key)) continue;
      auto& r = st->records[o.key] = new_record(o, o.status, epoch);
      if (o.status == status::retrying && st->users.at(o.user_id).deleted_at != 0)
        r.status = status::cancelled;
      r.attempts = 1;
      r.last_error = o.error;
      r.next_attempt_at = o.next_attempt_at;
      if (o.status == status::sent) r.sent_at = o.at;
      out.push_back(o.key);
      continue;
    }
    auto it = st->records.find(o.key);
    if (it == st->records.end() || it->second.status != status::claimed ||
        it->second.owner_epoch != epoch)
      continue;
    auto& r = it->second;
    r.status = o.status;
    r.attempts += 1;
    r.last_error = o.error;
    r.next_attempt_at = o.next_attempt_at;
    if (o.status == status::sent) r.sent_at = o.at;
    out.push_back(o.key);
  }
  return out;
}

} // namespace

persistence_actor::behavior_type fake_db(persistence_actor::pointer self,
                                         std::shared_ptr<fake_db_state> st) {
  return {
      [st](atom::claim, int32_t, int64_t epoch, occurrence_list& batch, int64_t) {
        ++st->claims;
        key_list out;
        if (epoch != st->epoch) return out;
        for (const auto& o : batch) {
          auto u = st->users.find(o.user_id);
          if (st->records.count(o.key) || u == st->users.end() || u->second.deleted_at != 0 ||
              (o.version != 0 && o.version != u->second.updated_at))
            continue;
          st->records[o.key] = new_record(o, status::claimed, epoch);
          out.push_back(o.key);
        }
        return out;
      },
      [st](atom::check, int32_t, int64_t epoch, occurrence_list& batch, int64_t) {
        ++st->checks;
        key_list out;
        if (epoch != st->epoch) return out;
        for (const auto& o : batch) {
          auto u = st->users.find(o.user_id);
          if (st->records.count(o.key) || u == st->users.end() || u->second.deleted_at != 0 ||
              (o.version != 0 && o.version != u->second.updated_at))
            continue;
          out.push_back(o.key);
        }
        return out;
      },
      [self, st](atom::record, int32_t, int64_t epoch,
                 outcome_list& batch) -> caf::result<key_list> {
        if (st->hold_records) { // written when the fake is pinged
          auto rp = self->make_response_promise<key_list>();
          st->held_records.push_back({rp, epoch, std::move(batch)});
          return rp;
        }
        return apply_outcomes(st.get(), epoch, batch);
      },
      [st](atom::reclaim, int32_t, int64_t epoch, key_list& keys, int64_t) {
        key_list out;
        if (epoch != st->epoch) return out;
        for (const auto& k : keys) {
          auto it = st->records.find(k);
          if (it == st->records.end()) continue;
          auto& r = it->second;
          if (r.status == status::retrying ||
              (r.status == status::claimed && r.owner_epoch < epoch)) {
            r.status = status::claimed;
            r.owner_epoch = epoch;
            out.push_back(k);
          }
        }
        return out;
      },
      [st](atom::release, int32_t, int64_t epoch, key_list& fresh, key_list& retries) {
        ++st->releases;
        key_list out;
        if (epoch != st->epoch) return out;
        auto claimed_here = [&](const std::string& k) {
          auto it = st->records.find(k);
          return it != st->records.end() && it->second.status == status::claimed &&
                         it->second.owner_epoch == epoch
                     ? it
                     : st->records.end();
        };
        for (const auto& k : fresh)
          if (auto it = claimed_here(k); it != st->records.end() && it->second.attempts == 0) {
            st->records.erase(it);
            out.push_back(k);
          }
        for (const auto& k : retries)
          if (auto it = claimed_here(k); it != st->records.end()) {
            it->second.status = status::retrying;
            out.push_back(k);
          }
        return out;
      },
      [st](atom::expire, int32_t, int64_t epoch, occurrence_list& batch, std::string& why,
           int64_t) {
        key_list out;
        if (epoch != st->epoch) return out;
        for (const auto& o : batch) {
          if (st->records.count(o.key)) continue;
          auto r = new_record(o, status::expired, epoch);
          r.last_error = why;
          st->records[o.key] = r;
          out.push_back(o.key);
        }
        return out;
      },
      [st](atom::window, int32_t p, int64_t from, int64_t to) {
        occurrence_list out;
        for (const auto& [id, u] : st->users) {
          if (u.deleted_at != 0 || u.partition != p) continue;
          for (auto& o : occurrences_in(u, st->rules, from, to))
            if (!st->records.count(o.key)) out.push_back(std::move(o));
        }
        return out;
      },
      [st](atom::resume, int32_t, int64_t epoch) {
        occurrence_list out;
        for (const auto& [k, r] : st->records) {
          if (!(r.status == status::retrying ||
                (r.status == status::claimed && r.owner_epoch < epoch)))
            continue;
          const auto& u = st->users.at(r.user_id);
          for (auto o : occurrences_in(u, st->rules, r.due_at, r.due_at + 1))
            if (o.key == k) {
              o.attempts = r.attempts;
              o.next_attempt_at = r.status == status::retrying ? r.next_attempt_at : 0;
              out.push_back(std::move(o));
            }
        }
        return out;
      },
      [st](atom::changes, int32_t p, int64_t cursor) {
        ++st->changes_reads;
        change_batch out;
        out.cursor = st->running.value_or(st->next_xid);
        if (cursor > 0)
          for (const auto& [id, xid] : st->written)
            if (xid >= cursor && xid < out.cursor && st->users.at(id).partition == p)
              out.users.push_back(st->users.at(id));
        return out;
      },
      [st](atom::confirm, int32_t, int64_t epoch, occurrence_list& batch) {
        key_list out;
        for (const auto& o : batch) {
          auto r = st->records.find(o.key);
          auto u = st->users.find(o.user_id);
          if (r != st->records.end() && r->second.status == status::claimed &&
              r->second.owner_epoch == epoch && u != st->users.end() && u->second.deleted_at == 0 &&
              (o.version == 0 || u->second.updated_at == o.version))
            out.push_back(o.key);
        }
        return out;
      },
      [self, st](atom::sweep, int32_t, int64_t epoch) -> caf::result<occurrence_list> {
        occurrence_list out;
        for (const auto& [k, r] : st->records) {
          if (r.owner_epoch > epoch ||
              (r.status != status::claimed && r.status != status::retrying))
            continue;
          const auto& u = st->users.at(r.user_id);
          if (u.deleted_at != 0) continue;
          for (auto o : occurrences_in(u, st->rules, r.due_at, r.due_at + 1))
            if (o.key == k) {
              o.attempts = r.attempts;
              o.owner_epoch = r.owner_epoch;
              o.version = 0;
              o.next_attempt_at =
                  r.status == status::retrying ? std::max<int64_t>(1, r.next_attempt_at) : 0;
              out.push_back(std::move(o));
            }
        }
        if (st->hold_sweeps) {
          auto rp = self->make_response_promise<occurrence_list>();
          st->held_sweeps.emplace_back(rp, std::move(out));
          return rp;
        }
        return out;
      },
      [st](atom::lease, int32_t, std::string& node, int64_t) -> int64_t {
        if (!st->holder.empty() && st->holder != node) return 0;
        st->released = false;
        return ++st->epoch;
      },
      [st](atom::unlease, int32_t, std::string&, int64_t epoch) {
        if (epoch != st->epoch || st->released) return false;
        st->released = true;
        return true;
      },
      [st](atom::horizon, int32_t) { return st->horizon; },
      [st](atom::horizon, int32_t, int64_t epoch, int64_t to) {
        if (epoch != st->epoch) return false;
        st->horizon = std::max(st->horizon, to);
        return true;
      },
      [](atom::create, user&) -> caf::result<user> { return unsupported(); },
      [](atom::create, user_list&) -> caf::result<create_outcomes> { return unsupported(); },
      [st](atom::get, std::string& id) -> caf::result<user> {
        auto u = st->users.find(id);
        if (u == st->users.end() || u->second.deleted_at != 0)
          return make_error(errc::not_found, "no user " + id);
        return u->second;
      },
      [](atom::update, user&) -> caf::result<user> { return unsupported(); },
      [](atom::remove, std::string&, int64_t) -> caf::result<user> { return unsupported(); },
      [](atom::list, uint64_t, std::string&) -> caf::result<user_list> { return unsupported(); },
      [](atom::records, std::string&) -> caf::result<record_list> { return unsupported(); },
      [](atom::by_status, std::string&, uint64_t, std::string&) -> caf::result<record_list> {
        return unsupported();
      },
      [](atom::redrive, std::string&, int64_t) -> caf::result<occurrence> { return unsupported(); },
      [](atom::redrive, std::string&, std::string&, int64_t, bool) -> caf::result<redrive_batch> {
        return unsupported();
      },
      [](atom::lookup, std::string&) -> caf::result<user> { return unsupported(); },
      [](atom::dashboard, std::vector<int32_t>&) -> caf::result<dashboard_rows> {
        return unsupported();
      },
      [st](atom::ping) {
        for (auto& [rp, found] : st->held_sweeps) // what the sweeps read, answered late
          rp.deliver(std::move(found));
        st->held_sweeps.clear();
        for (auto& h : std::exchange(st->held_records, {}))
          h.rp.deliver(apply_outcomes(st.get(), h.epoch, h.batch));
        return true;
      },
  };
}

delivery_actor::behavior_type fake_provider(delivery_actor::pointer self,
                                            std::shared_ptr<fake_provider_state> st) {
  return {
      [self, st](atom::send, occurrence_list& batch, int64_t) -> caf::result<attempt_list> {
        auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       st->clock->now(st->actor_clock->now()).time_since_epoch())
                       .count();
        if (st->answer_held && !st->hold) {
          st->answer_held = false;
          for (size_t i = 0; i < st->held.size(); ++i) {
            attempt_list answers;
            for (const auto& o : st->held_batches[i]) {
              answers.push_back({o.key, attempt::sent, "", 0});
              st->sends.push_back({o.key, now, o.email});
            }
            st->held[i].deliver(std::move(answers));
          }
          st->held.clear();
          st->held_batches.clear();
        }
        if (st->hold) {
          auto rp = self->make_response_promise<attempt_list>();
          st->held.push_back(rp);
          st->held_batches.push_back(batch);
          return rp;
        }
        attempt_list out;
        for (const auto& o : batch) {
          attempt a;
          a.key = o.key;
          auto& script = st->script[o.key];
          if (!script.empty()) {
            a.result = script.front();
            script.erase(script.begin());
            if (a.result != attempt::sent)
              a.error = a.result == attempt::permanent ? "HTTP 400" : "HTTP 503";
          }
          if (a.result == attempt::sent) st->sends.push_back({o.key, now, o.email});
          out.push_back(std::move(a));
        }
        return out;
      },
      [st](atom::withdraw, int32_t, int64_t) {
        ++st->withdraws;
        if (!st->held_are_queued) return;
        for (size_t i = 0; i < st->held.size(); ++i) {
          attempt_list answers;
          for (const auto& o : st->held_batches[i])
            answers.push_back({o.key, attempt::withdrawn, "withdrawn", 0});
          st->held[i].deliver(std::move(answers));
        }
        st->held.clear();
        st->held_batches.clear();
      },
  };
}

std::vector<int32_t> fake_renew(fake_db_state& st,
                                const std::vector<std::pair<int32_t, int64_t>>& leases) {
  if (st.renew_fails) throw std::runtime_error("database unreachable");
  std::vector<int32_t> held;
  for (const auto& [p, epoch] : leases)
    if (epoch == st.epoch && !st.released) held.push_back(p);
  return held;
}

} // namespace candle::test
