#!/usr/bin/env python3
"""End-to-end: delivery against a badly behaved provider (issue 5), with the
real candled, the real candle-mock-provider and the embedded PostgreSQL.

- 50% errors and 10% timeouts: every greeting ends `sent`, once per key;
- provider down for a simulated hour: the breaker holds greetings and
  limits probes; the backlog drains once it is back, once per key;
- pause / resume (kill switch): nothing is sent while paused; all after;
- the client never exceeds email.max-in-flight (the mock's own counter);
- email.rate: no second at the mock holds more, the backlog's drain time is
  shown, every greeting once.

Usage: delivery.py PATH_TO_CANDLED PATH_TO_MOCK_PROVIDER
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import MockProvider, Node, check, run_scenarios  # noqa: E402

START = "2026-06-15T07:00:00.000Z"
DUE = "2026-06-15T08:00:00.000Z"  # 09:00 in Europe/London (BST)


def make_users(node, n, tag):
    for i in range(n):
        node.create_user(firstName=f"F{i}", lastName=tag, email=f"{tag}{i}@example.com",
                         timezone="Europe/London", birthdayDate="1990-06-15")


def scenario_flaky(candled, mock_path):
    n = 300
    with MockProvider(mock_path, "--error-rate=0.5", "--timeout-rate=0.1", "--hang-ms=1500") as mock, \
            Node(candled, mock, START, "--email.timeout=250ms", "--email.max-attempts=30",
                 "--email.breaker-threshold=25",
                 partitions=8) as node:
        make_users(node, n, "flaky")
        node.advance(DUE)
        node.set_speed(600)  # backoff is on the engine clock: ten minutes per second
        node.wait_for(lambda: node.count_status("sent") == n, 180, "all sent")
        s = mock.stats()
        check(s["uniqueKeys"] == n and s["total"] == n and s["duplicates"] == 0,
              f"exactly once per key: {s}")
        check(s["failed"] > n // 3 and s["timedOut"] > 0, f"the provider did misbehave: {s}")
        check(node.count_status("dead") == 0, "none dead")
        print(f"  flaky: {n} sent once; provider errors {s['failed']}, timeouts {s['timedOut']}")


def scenario_down(candled, mock_path):
    n = 200
    with MockProvider(mock_path, "--down") as mock, \
            Node(candled, mock, START, "--email.max-in-flight=8", "--email.timeout=1s",
                 partitions=8) as node:
        make_users(node, n, "down")
        node.advance(DUE)
        node.wait_for(lambda: node.client.json("GET", "/api/v1/admin/delivery")["data"]["breaker"]
                      != "closed", 20, "breaker opens")
        first_wave = mock.stats()["failed"]
        check(first_wave <= 8 + 8, f"at most the in-flight bound fails before it opens: {first_wave}")
        # An hour passes on the engine clock in 4 s; the provider stays down.
        node.set_speed(900)
        time.sleep(4)
        node.set_speed(0)
        during = mock.stats()["failed"] - first_wave
        delivery = node.client.json("GET", "/api/v1/admin/delivery")["data"]
        check(during <= delivery["probes"] + 8, f"only probes reach a down provider: {during} "
                                                f"failures, {delivery}")
        check(node.count_status("dead") == 0, "nothing dead while the breaker held greetings")
        mock.control({"down": False})
        node.set_speed(60)
        node.wait_for(lambda: node.count_status("sent") == n, 120, "backlog drains")
        s = mock.stats()
        check(s["uniqueKeys"] == n and s["duplicates"] == 0, f"once per key: {s}")
        print(f"  down: first wave {first_wave} failures, {during} during the hour "
              f"({delivery['probes']} probes), then {n} sent once")


def scenario_pause(candled, mock_path):
    n = 100
    with MockProvider(mock_path) as mock, Node(candled, mock, START, partitions=8) as node:
        make_users(node, n, "pause")
        r = node.req("PUT", "/api/v1/admin/delivery", {"paused": True})
        check(r.status == 200 and r.json()["data"]["paused"] is True, f"pause: {r.text}")
        bad = node.req("PUT", "/api/v1/admin/delivery", {"paused": "yes"})
        check(bad.status == 400, f"bad pause body: {bad.status}")
        node.advance(DUE)
        node.wait_for(lambda: node.client.json("GET", "/api/v1/admin/delivery")["data"]["waiting"]
                      == n, 20, "greetings held")
        time.sleep(1)
        check(mock.stats()["total"] == 0, "nothing sent while paused")
        check(node.count_status("claimed") == 0 and node.count_status("sent") == 0,
              "held greetings are checked, not claimed, and not recorded before an attempt")
        r = node.req("PUT", "/api/v1/admin/delivery", {"paused": False})
        check(r.status == 200 and r.json()["data"]["paused"] is False, "resume")
        node.wait_for(lambda: node.count_status("sent") == n, 60, "sent after resume")
        s = mock.stats()
        check(s["uniqueKeys"] == n and s["duplicates"] == 0, f"once per key: {s}")
        print(f"  pause: {n} held, then sent once after resume")


def scenario_bound(candled, mock_path):
    n = 120
    with MockProvider(mock_path, "--latency=40-80") as mock, \
            Node(candled, mock, START, "--email.max-in-flight=4", partitions=8) as node:
        make_users(node, n, "bound")
        node.advance(DUE)
        node.wait_for(lambda: node.count_status("sent") == n, 60, "all sent")
        s = mock.stats()
        check(s["maxInFlight"] <= 4, f"never more than 4 at once: {s}")
        check(s["maxInFlight"] >= 2, f"but concurrent: {s}")
        print(f"  bound: {n} sent with at most {s['maxInFlight']} in flight (bound 4)")


def scenario_rate(candled, mock_path):
    n, rate = 600, 150
    with MockProvider(mock_path) as mock, \
            Node(candled, mock, START, f"--email.rate={rate}", partitions=8) as node:
        make_users(node, n, "rate")
        node.advance(DUE)
        d = node.wait_for(lambda: (lambda v: v if v["drainSeconds"] > 0 else None)(
            node.client.json("GET", "/api/v1/admin/delivery")["data"]), 10, "a backlog")
        # The only node owns every partition: its pace is the whole rate, less the margin.
        check(0.9 * rate <= d["sendRate"] < rate, f"pace {d}")
        node.wait_for(lambda: node.count_status("sent") == n, 60, "all sent")
        s = mock.stats()
        check(s["uniqueKeys"] == n and s["duplicates"] == 0, f"once per key: {s}")
        check(s["worstSecond"] <= rate, f"{s['worstSecond']} in one second > email.rate {rate}")
        check(s["worstSecond"] >= rate // 2, f"the rate was not used: {s}")
        at = sorted(r["at"] for r in mock.requests())
        first, last = (time.mktime(time.strptime(x[:19], "%Y-%m-%dT%H:%M:%S")) +
                       int(x[20:23]) / 1000 for x in (at[0], at[-1]))
        print(f"  rate: {n} sent in {last - first:.1f} s at email.rate={rate} (N/rate "
              f"{n / rate:.1f} s), worst second {s['worstSecond']}")


if __name__ == "__main__":
    run_scenarios(sys.argv[1], sys.argv[2],
                  [(sc.__name__, sc) for sc in
                   (scenario_flaky, scenario_down, scenario_pause, scenario_bound, scenario_rate)])
