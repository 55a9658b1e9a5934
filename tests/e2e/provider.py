#!/usr/bin/env python3
"""End-to-end: delivery at provider scale (issue 16), the real candled against
the real candle-mock-provider on the embedded PostgreSQL.

- batch API with per-greeting errors, bounced mailboxes and whole requests
  failing: every good greeting sent once, bounces dead, requests batched;
- batch API and kill -9 in the middle of a burst: every greeting reaches the
  provider, re-sends (same key) bounded by twice what may be in flight;
- 429 with Retry-After (a provider quota): everything sent once, the node
  stops for the Retry-After instead of hammering (429s bounded), and shows it;
- latency 150-250 ms: the adaptive limit grows from its start (16) towards
  email.max-in-flight, never past it.

Usage: provider.py PATH_TO_CANDLED PATH_TO_MOCK_PROVIDER
"""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import Client, MockProvider, Node, check, kill_mid_burst, run_scenarios  # noqa: E402

START = "2026-06-15T07:00:00.000Z"
DUE = "2026-06-15T08:00:00.000Z"  # 09:00 in Europe/London (BST)


def make_users(node, n, tag, domain="example.com"):
    for i in range(n):
        node.create_user(firstName=f"F{i}", lastName=tag, email=f"{tag}{i}@{domain}",
                         timezone="Europe/London", birthdayDate="1990-06-15")


def delivery(node):
    return node.client.json("GET", "/api/v1/admin/delivery")["data"]


def metric(node, name):
    for line in node.req("GET", "/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def scenario_batch(candled, mock_path):
    good, bounced = 400, 20
    with MockProvider(mock_path, "--error-rate=0.2", "--request-error-rate=0.3",
                      "--reject-suffix=@bounce.test", "--latency=5-20") as mock, \
            Node(candled, mock, START, "--email.api=batch", "--email.batch-size=40",
                 "--email.max-attempts=30", "--email.breaker-threshold=50", partitions=8) as node:
        make_users(node, good, "batch")
        make_users(node, bounced, "gone", domain="bounce.test")
        node.advance(DUE)
        node.set_speed(600)  # backoff runs on the engine clock
        node.wait_for(lambda: node.count_status("sent") == good, 120, "every good greeting sent")
        node.wait_for(lambda: node.count_status("dead") == bounced, 30, "bounces dead")
        s = mock.stats()
        check(s["uniqueKeys"] == good and s["total"] == good and s["duplicates"] == 0,
              f"exactly once per key: {s}")
        check(s["failed"] > good // 4, f"the provider did misbehave: {s}")
        # Batched: far fewer requests than greetings, none larger than the batch size.
        check(0 < s["batches"] < (good + bounced) // 2, f"greetings went in batches: {s}")
        check(all(r["agent"].startswith("candled/") for r in mock.requests()), "user agent")
        dead = node.client.json("GET", "/api/v1/greetings?status=dead&limit=1000")["data"]
        check(all("HTTP 400: mailbox unavailable" in (g.get("lastError") or "")
                  for g in dead["greetings"]), f"bounces carry the provider's answer: {dead}")
        print(f"  batch: {good} sent once in {s['batches']} requests (batch size 40), "
              f"{s['failed']} greeting failures injected, {bounced} bounces dead")


def scenario_batch_crash(candled, mock_path):
    n, batch, requests = 1500, 20, 8
    start = "2027-07-15T08:00:00.000Z"
    with MockProvider(mock_path, "--latency=100-200") as mock, \
            Node(candled, mock, start, "--email.api=batch", f"--email.batch-size={batch}",
                 f"--email.max-in-flight={requests}", partitions=8) as node:
        for i in range(n):
            node.create_user(firstName=f"F{i}", lastName="bcrash", email=f"bcrash{i}@example.com",
                             timezone="UTC", birthdayDate="1990-07-15")
        node.advance("2027-07-15T09:00:00.000Z")
        at_kill, s = kill_mid_burst(node, mock, n, 300, "2027-07-15T09:01:00.000Z")
        # What may be in doubt at a kill: twice the greetings in flight, which
        # are at most max(email.max-in-flight, 2 x email.batch-size).
        bound = 2 * max(requests, 2 * batch)
        check(s["duplicates"] <= bound, f"re-sent keys {s['duplicates']} > {bound}: {s}")
        print(f"  batch crash: killed after {at_kill} of {n}; after restart every key, "
              f"{s['duplicates']} re-sent with their key (bound {bound})")


def scenario_throttle(candled, mock_path):
    n, quota = 500, 100
    with MockProvider(mock_path, f"--quota={quota}", "--retry-after=1") as mock, \
            Node(candled, mock, START, "--email.max-attempts=50", partitions=8) as node:
        make_users(node, n, "quota")
        seen = {"throttled": 0.0}
        done = threading.Event()

        def watch():  # the hold shows in the status while it lasts (a connection of its own)
            own = Client(*node.address)
            while not done.is_set():
                try:
                    d = own.json("GET", "/api/v1/admin/delivery")["data"]
                    seen["throttled"] = max(seen["throttled"], d["throttledSeconds"])
                except Exception:  # noqa: BLE001 - the node may be busy; look again
                    pass
                done.wait(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            node.advance(DUE)
            node.set_speed(60)
            node.wait_for(lambda: node.count_status("sent") == n, 120, "all sent under the quota")
        finally:
            done.set()
            watcher.join()
        s = mock.stats()
        check(s["uniqueKeys"] == n and s["duplicates"] == 0, f"once per key: {s}")
        refused = s["failed"]
        check(refused > 0, f"the quota was hit: {s}")
        # Each 429 stops the node for its Retry-After (1 s): about one stop per
        # quota's worth of greetings, and only what was already in flight
        # (at most the limit, at most 256) meets the closed door each time.
        # A node that kept sending would be refused continuously.
        stops = node.log_count("event=delivery.throttled")
        check(1 <= stops <= n // quota + 2, f"{stops} stops for {n} greetings at {quota}/s")
        check(refused <= stops * 256, f"{refused} refusals in {stops} stops: {s}")
        check(metric(node, "candle_provider_throttled_total") >= 1, "429s counted")
        check(seen["throttled"] > 0, f"the hold showed in the status: {seen}")
        check(node.count_status("dead") == 0, "none dead")
        print(f"  throttle: {n} sent once under a quota of {quota}/s with {refused} 429s in "
              f"{stops} stops (Retry-After 1 s); status showed up to {seen['throttled']} s held")


def scenario_latency(candled, mock_path):
    n, ceiling = 1500, 600
    with MockProvider(mock_path, "--latency=150-250") as mock, \
            Node(candled, mock, START, f"--email.max-in-flight={ceiling}", partitions=8) as node:
        make_users(node, n, "far")
        check(delivery(node)["concurrencyLimit"] == 16, f"starts at 16: {delivery(node)}")
        node.advance(DUE)
        node.wait_for(lambda: node.count_status("sent") == n, 120, "all sent")
        s = mock.stats()
        d = delivery(node)
        check(s["uniqueKeys"] == n and s["duplicates"] == 0, f"once per key: {s}")
        # 16 in flight at 200 ms is 80 greetings/s; following the latency
        # means many more at once, and never past the ceiling.
        check(s["maxInFlight"] > 128, f"concurrency grew with the latency: {s}")
        check(s["maxInFlight"] <= ceiling, f"never past email.max-in-flight: {s}")
        check(16 < d["concurrencyLimit"] <= ceiling, f"the limit grew: {d}")
        print(f"  latency: {n} sent with up to {s['maxInFlight']} in flight at 150-250 ms "
              f"(limit now {d['concurrencyLimit']}, ceiling {ceiling})")


if __name__ == "__main__":
    run_scenarios(sys.argv[1], sys.argv[2],
                  [(sc.__name__, sc) for sc in
                   (scenario_batch, scenario_batch_crash, scenario_throttle, scenario_latency)])
