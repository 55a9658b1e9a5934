#!/usr/bin/env python3
"""End-to-end scenarios (issue 7) with the real candled, the real
candle-mock-provider, the embedded PostgreSQL and real sockets:

- multizone: 14 zones (+14, +12:45, +5:45, -11, …) over three days in
  15-minute steps of a frozen clock: after each step the provider holds
  exactly the greetings whose due instants have passed;
- crash: 2,000 greetings due at one instant, kill -9 while they are sent,
  restart: every key arrives; keys sent twice (same Idempotency-Key, the node
  died between answer and record) are counted and reported;
- downtime: restart 20 h later -> missed greetings sent once and late;
  72 h later -> recorded expired, listed, one redriven;
- edits: zone updates before, after and during the send, a delete just
  before the due instant: never an extra greeting.

Usage: scenarios.py PATH_TO_CANDLED PATH_TO_MOCK_PROVIDER [SCENARIO...]
"""
import datetime as dt
import os
import sys
import threading
import time
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import MockProvider, Node, check, kill_mid_burst, run_scenarios  # noqa: E402

UTC = dt.timezone.utc


def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def due_at(zone, day, hour=9):
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def user(node, i, tag, zone, birthday):
    return node.create_user(firstName=f"F{i}", lastName=tag, email=f"{tag}{i}@example.com",
                            timezone=zone, birthdayDate=birthday)


def scenario_multizone(candled, mock_path):
    zones = ["Pacific/Kiritimati", "Pacific/Chatham", "Pacific/Auckland", "Australia/Lord_Howe",
             "Asia/Tokyo", "Asia/Kathmandu", "Asia/Kolkata", "Asia/Tehran", "Europe/Paris", "UTC",
             "America/St_Johns", "America/New_York", "America/Los_Angeles", "Pacific/Pago_Pago"]
    days = [dt.date(2027, 7, 15), dt.date(2027, 7, 16), dt.date(2027, 7, 17)]
    start = dt.datetime(2027, 7, 14, 18, 0, tzinfo=UTC)
    end = dt.datetime(2027, 7, 17, 21, 0, tzinfo=UTC)
    with MockProvider(mock_path) as mock, Node(candled, mock, iso(start), partitions=8) as node:
        expected = {}
        for i, zone in enumerate(zones):
            for d in days:
                u = user(node, len(expected), "mz", zone, f"1990-{d.month:02d}-{d.day:02d}")
                expected[f"{u['id']}:birthday:2027"] = due_at(zone, d)
        check(min(expected.values()) > start and max(expected.values()) < end, "all in range")
        t, steps = start, 0
        while t < end:
            t += dt.timedelta(minutes=15)
            steps += 1
            node.advance(iso(t))
            want = {k for k, due in expected.items() if due <= t}
            node.wait_for(lambda: mock.stats()["total"] >= len(want), 10, f"greetings at {iso(t)}")
            time.sleep(0.05)  # anything early would show up now
            got = mock.keys()
            check(len(got) == len(set(got)), f"a key twice at {iso(t)}")
            check(set(got) == want, f"at {iso(t)}: missing {want - set(got)}, early {set(got) - want}")
        check(mock.stats()["duplicates"] == 0, "no duplicates")
        print(f"  multizone: {len(expected)} greetings in {len(zones)} zones over {steps} steps, "
              "each once, none early, none late by a step")


def scenario_crash(candled, mock_path):
    n = 2000
    start = "2027-07-15T08:00:00.000Z"
    with MockProvider(mock_path, "--latency=100-200") as mock, \
            Node(candled, mock, start, "--email.max-in-flight=32", partitions=8) as node:
        for i in range(n):
            user(node, i, "crash", "UTC", "1990-07-15")
        node.advance("2027-07-15T09:00:00.000Z")
        at_kill, s = kill_mid_burst(node, mock, n, 400, "2027-07-15T09:01:00.000Z", pause_s=0.5)
        # Only keys answered but not yet recorded when the node died are sent
        # again: at most one delivery chunk (250) plus what was in flight (32).
        check(s["duplicates"] <= 250 + 32, f"resent keys bounded: {s}")
        print(f"  crash: killed after {at_kill} of {n} sends; after restart {s['uniqueKeys']} keys, "
              f"{s['duplicates']} sent again with the same Idempotency-Key (in doubt at the kill)")


def scenario_downtime(candled, mock_path):
    zones = ["UTC", "Europe/Paris", "America/New_York", "America/Los_Angeles", "Asia/Kolkata",
             "Pacific/Honolulu"]
    with MockProvider(mock_path) as mock, \
            Node(candled, mock, "2027-07-14T22:00:00.000Z", partitions=8) as node:
        a = {f"{user(node, i, 'downa', z, '1990-07-15')['id']}:birthday:2027": due_at(z, dt.date(2027, 7, 15))
             for i, z in enumerate(zones)}
        b = {f"{user(node, i, 'downb', z, '1990-07-16')['id']}:birthday:2027": due_at(z, dt.date(2027, 7, 16))
             for i, z in enumerate(zones)}
        node.advance("2027-07-15T00:00:00.000Z")
        node.stop(15)
        # Down for 20 hours: every Jul 15 greeting is missed but within the window.
        node.clock = "2027-07-15T20:00:00.000Z"
        node.start()
        node.wait_for(lambda: set(mock.keys()) == set(a), 30, "missed greetings sent")
        for k in a:
            rec = [r for r in node.client.json("GET", f"/api/v1/users/{k.split(':')[0]}/greetings")["data"]
                   if r["key"] == k][0]
            sent = dt.datetime.fromisoformat(rec["sentAt"].replace("Z", "+00:00"))
            check(rec["status"] == "sent" and (sent - a[k]).total_seconds() > 60, f"late: {rec}")
        metrics = node.req("GET", "/metrics").text
        check('candle_greeting_lateness_seconds_bucket{occasion="birthday",le="60"} 0' in metrics,
              "counted late in the lateness histogram")
        node.stop(15)
        # Down for 72 hours: the Jul 16 greetings are older than the 48 h window.
        node.clock = "2027-07-19T00:00:00.000Z"
        node.start()
        node.wait_for(lambda: node.count_status("expired") == len(b), 30, "missed beyond the window")
        listed = node.client.json("GET", "/api/v1/greetings?status=expired")["data"]["greetings"]
        check({r["key"] for r in listed} == set(b), "expired ones listed")
        check(all("recovery window" in (r["lastError"] or "") for r in listed), "with the reason")
        time.sleep(0.5)
        check(set(mock.keys()) == set(a), "nothing expired was sent")
        one = sorted(b)[0]
        r = node.req("POST", f"/api/v1/greetings/{one}/redrive")
        check(r.status == 202, f"redrive: {r.status} {r.text}")
        node.wait_for(lambda: one in mock.keys(), 20, "redriven greeting sent")
        time.sleep(0.3)
        check(set(mock.keys()) == set(a) | {one} and mock.stats()["duplicates"] == 0, "once each")
        print(f"  downtime: {len(a)} sent late after 20 h, {len(b)} expired after 72 h, 1 redriven")


def scenario_edits(candled, mock_path):
    day = "1990-07-15"
    with MockProvider(mock_path, "--latency=150-250") as mock, \
            Node(candled, mock, "2027-07-15T07:00:00.000Z", partitions=8) as node:
        before = user(node, 0, "edit", "UTC", day)       # moved before its due instant
        after = user(node, 1, "edit", "UTC", day)        # moved after it was sent
        deleted = user(node, 2, "edit", "UTC", day)      # deleted just before
        racing = [user(node, 10 + i, "race", "UTC", day) for i in range(60)]
        key = lambda u: f"{u['id']}:birthday:2027"  # noqa: E731
        r = node.req("PUT", f"/api/v1/users/{before['id']}", {"timezone": "America/New_York"})
        check(r.status == 200, "update before")
        node.advance("2027-07-15T08:59:59.000Z")
        check(node.req("DELETE", f"/api/v1/users/{deleted['id']}").status == 200, "delete")
        node.advance("2027-07-15T09:00:00.000Z")
        # Move every racing user to Chicago (due 14:00Z) while their 09:00 sends run.
        errors = []

        def move(u):
            res = node_client().req("PUT", f"/api/v1/users/{u['id']}", {"timezone": "America/Chicago"})
            if res.status != 200:
                errors.append(res.status)

        def node_client():
            from e2e_lib import Client
            return Client(*node.address)

        threads = [threading.Thread(target=move, args=(u,)) for u in racing]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        check(not errors, f"updates failed: {errors}")
        node.wait_for(lambda: key(after) in mock.keys(), 20, "09:00 greeting")
        time.sleep(1)
        r = node.req("PUT", f"/api/v1/users/{after['id']}", {"timezone": "America/Los_Angeles"})
        check(r.status == 200, "update after")
        for t in ["2027-07-15T13:00:00.000Z", "2027-07-15T14:00:00.000Z", "2027-07-15T16:00:00.000Z",
                  "2027-07-16T12:00:00.000Z"]:
            node.advance(t)
            time.sleep(0.8)
        keys = mock.keys()
        check(len(keys) == len(set(keys)), f"a key twice: {len(keys) - len(set(keys))}")
        want = {key(before), key(after)} | {key(u) for u in racing}
        check(set(keys) == want, f"missing {want - set(keys)}, extra {set(keys) - want}")
        moved_before = [r for r in mock.requests() if r["key"] == key(before)]
        check(len(moved_before) == 1, "moved user greeted once")
        check(node.count_status("sent") == len(want), "records agree")
        print(f"  edits: moved before due, after send, {len(racing)} during the send, one deleted "
              f"just before: {len(keys)} greetings, each once")


if __name__ == "__main__":
    names = sys.argv[3:] or ["multizone", "crash", "downtime", "edits"]
    run_scenarios(sys.argv[1], sys.argv[2], [(n, globals()[f"scenario_{n}"]) for n in names])
