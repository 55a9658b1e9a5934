// The engine against a real PostgreSQL: 100,000 users across 50 zones, 16
// partitions with the real PERSISTENCE actor, a recording stand-in for
// delivery, and a frozen engine clock moved in 15-minute steps over three
// days. After every step the delivered set is exactly the set of greetings
// whose due instants have passed: none early, none missing, none twice.
#include "actors/lease_keeper.hpp"
#include "actors/partition.hpp"
#include "actors/persistence.hpp"
#include "pg_fixture.hpp"

#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace candle;
using namespace std::chrono;
using candle::test::pg_test;

namespace {

const char* zones[50] = {"UTC",
                         "Europe/London",
                         "Europe/Paris",
                         "Europe/Berlin",
                         "Europe/Moscow",
                         "Europe/Istanbul",
                         "Africa/Cairo",
                         "Africa/Lagos",
                         "Africa/Johannesburg",
                         "Africa/Nairobi",
                         "Asia/Dubai",
                         "Asia/Karachi",
                         "Asia/Kolkata",
                         "Asia/Kathmandu",
                         "Asia/Dhaka",
                         "Asia/Yangon",
                         "Asia/Bangkok",
                         "Asia/Shanghai",
                         "Asia/Tokyo",
                         "Asia/Seoul",
                         "Australia/Adelaide",
                         "Australia/Sydney",
                         "Australia/Lord_Howe",
                         "Pacific/Auckland",
                         "Pacific/Chatham",
                         "Pacific/Tongatapu",
                         "Pacific/Kiritimati",
                         "Pacific/Apia",
                         "Pacific/Honolulu",
                         "Pacific/Pago_Pago",
                         "America/Anchorage",
                         "America/Los_Angeles",
                         "America/Denver",
                         "America/Phoenix",
                         "America/Chicago",
                         "America/New_York",
                         "America/Halifax",
                         "America/St_Johns",
                         "America/Sao_Paulo",
                         "America/Argentina/Buenos_Aires",
                         "America/Santiago",
                         "America/Bogota",
                         "America/Mexico_City",
                         "America/Havana",
                         "Atlantic/Azores",
                         "Atlantic/Cape_Verde",
                         "Asia/Tehran",
                         "Asia/Kabul",
                         "Asia/Colombo",
                         "Indian/Chagos"};

struct recorder_state {
  std::mutex mtx;
  std::shared_ptr<engine_clock> clock;
  std::map<std::string, int> count;
  std::map<std::string, int64_t> at;
};

delivery_actor::behavior_type recorder(delivery_actor::pointer self,
                                       std::shared_ptr<recorder_state> st) {
  return {[self, st](atom::send, occurrence_list& batch, int64_t) {
            auto now =
                duration_cast<milliseconds>(st->clock->now(self->clock().now()).time_since_epoch())
                    .count();
            attempt_list out;
            std::lock_guard<std::mutex> guard{st->mtx};
            for (const auto& o : batch) {
              ++st->count[o.key];
              st->at[o.key] = now;
              out.push_back({o.key, attempt::sent, "", 0});
            }
            return out;
          },
          [](atom::withdraw, int32_t, int64_t) {}}; // answers at once: nothing waits
}

} // namespace

class EngineDays : public pg_test {};

TEST_F(EngineDays, HundredThousandUsersFiftyZonesThreeDaysExactlyOnce) {
  constexpr int users = 100'000, partitions = 16;
  {
    pqxx::connection c{conninfo};
    pqxx::work w{c};
    std::string zone_array = "ARRAY[";
    for (int i = 0; i < 50; ++i)
      zone_array += std::string{i ? "," : ""} + "'" + zones[i] + "'";
    zone_array += "]";
    // Birthdays on 13..17 Jul, so the three simulated days (14..16 Jul UTC)
    // see zones greeting on neighbouring local days at both ends.
    w.exec("INSERT INTO users (id, first_name, last_name, email, timezone, birthday_date,"
           " partition, created_at, updated_at)"
           " SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'F' || i,"
           " 'L', 'u' || i || '@x.org', (" +
           zone_array + ")[1 + i % 50], date '1990-07-13' + (i % 5), i % " +
           std::to_string(partitions) + ", '2020-01-01', '2020-01-01' FROM generate_series(1, " +
           std::to_string(users) + ") AS i");
    w.commit();
  }
  auto start = *parse_instant("2027-07-14T00:00:00Z");
  auto end = *parse_instant("2027-07-17T00:00:00Z");
  auto start_ms = duration_cast<milliseconds>(start.time_since_epoch()).count();
  auto end_ms = duration_cast<milliseconds>(end.time_since_epoch()).count();

  // Expected: every occurrence due in [start, end), from the pure calculus.
  std::map<std::string, int64_t> expected;
  for (int i = 1; i <= users; ++i) {
    user u;
    char id[40];
    std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
    u.id = id;
    u.timezone = zones[i % 50];
    auto day = date::sys_days{date::year{1990} / 7 / 13} + date::days{i % 5};
    u.birthday_date = format_date(date::year_month_day{day});
    u.created_at = 1'577'836'800'000; // 2020-01-01
    // [start, end]: the last step includes greetings due exactly at `end`.
    for (const auto& o : occurrences_in(u, default_rules(), start_ms, end_ms + 1))
      expected[o.key] = o.due_at;
  }
  ASSERT_GT(expected.size(), 50'000u);

  caf::actor_system_config cfg;
  register_types(cfg);
  caf::actor_system sys{cfg};
  auto clock = std::make_shared<engine_clock>(
      engine_clock::simulated(start, 0.0, std::chrono::steady_clock::now()));
  auto rec = std::make_shared<recorder_state>();
  rec->clock = clock;
  auto db = spawn_persistence(sys, {conninfo});
  auto delivery = sys.spawn(recorder, rec);
  auto fences = std::make_shared<fence_table>(static_cast<size_t>(partitions));
  lease_keeper_options ko;
  ko.conninfo = conninfo;
  ko.node = "test";
  ko.fences = fences;
  auto keeper = spawn_lease_keeper(sys, ko);
  std::vector<partition_actor> parts;
  for (int p = 0; p < partitions; ++p) {
    partition_options o;
    o.id = p;
    o.node = "test";
    o.clock = clock;
    o.db = db;
    o.delivery = delivery;
    o.fences = fences;
    o.keeper = keeper;
    // Recovery window short, so nothing before `start` is sent late.
    o.recovery_window = milliseconds{0};
    parts.push_back(sys.spawn(partition, o));
  }
  // However the test ends (an ASSERT returns early), the actors must exit or
  // the actor system's destructor waits for them forever.
  struct stop_all {
    std::vector<caf::actor> actors;
    ~stop_all() {
      for (auto& a : actors)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
  } guard;
  for (auto& p : parts)
    guard.actors.push_back(caf::actor_cast<caf::actor>(p));
  guard.actors.push_back(caf::actor_cast<caf::actor>(db));
  guard.actors.push_back(caf::actor_cast<caf::actor>(keeper));
  guard.actors.push_back(caf::actor_cast<caf::actor>(delivery));
  caf::scoped_actor self{sys};
  // Waits until every partition is idle: loaded, nothing in flight, nothing
  // due at the current engine time.
  auto settle = [&](int64_t now) {
    for (int spins = 0; spins < 2000; ++spins) {
      bool idle = true;
      for (auto& p : parts)
        self->request(p, seconds{10}, atom::status::value)
            .receive(
                [&](partition_status& s) {
                  idle = idle && s.epoch > 0 && s.window_end > 0 && s.in_flight == 0 &&
                         (s.next_due == 0 || s.next_due > now);
                },
                [&](caf::error& e) {
                  ADD_FAILURE() << sys.render(e);
                  idle = true;
                });
      if (idle) return true;
      std::this_thread::sleep_for(milliseconds{5});
    }
    return false;
  };
  ASSERT_TRUE(settle(start_ms));
  size_t steps = 0;
  for (auto t = start_ms; t < end_ms;) {
    t += 15 * 60 * 1000;
    ASSERT_TRUE(
        clock->set(sys_millis{milliseconds{t}}, std::nullopt, std::chrono::steady_clock::now()));
    for (auto& p : parts)
      caf::anon_send(p, atom::tick::value);
    ASSERT_TRUE(settle(t)) << "partitions did not settle at step " << steps;
    ++steps;
    std::lock_guard<std::mutex> lock{rec->mtx};
    size_t due_now = 0;
    for (const auto& [k, due] : expected)
      due_now += due <= t;
    ASSERT_EQ(rec->count.size(), due_now) << "at " << format_instant(sys_millis{milliseconds{t}});
    for (const auto& [k, n] : rec->count) {
      ASSERT_EQ(n, 1) << k << " sent " << n << " times";
      auto it = expected.find(k);
      ASSERT_NE(it, expected.end()) << k << " was not due in these days";
      ASSERT_LE(it->second, rec->at[k]) << k << " sent early";
      ASSERT_LT(rec->at[k] - it->second, 15 * 60 * 1000) << k << " sent a step late";
    }
  }
  EXPECT_EQ(steps, 288u);
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM partition_leases WHERE horizon >= '2027-07-16'"),
            partitions)
      << "a partition did not record its horizon";
  EXPECT_EQ(scalar<int>("SELECT count(*) FROM send_records WHERE status = 'sent'"),
            static_cast<int>(expected.size()));
}
