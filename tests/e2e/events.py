#!/usr/bin/env python3
"""End-to-end: delivery events (issue 17), the real candled against the real
candle-mock-provider posting signed events back.

- the mock's events (late, duplicated, reordered) flow back: records reach
  delivered, bounced and complained; a late older deferral moves nothing back;
  the timeline and the suppressions show it;
- a bounce suppresses the next year's greeting (simulated clock): recorded
  `suppressed`, never sent; an email change lifts it the year after, and so
  does DELETE /api/v1/suppressions/{email};
- forged, stale, unsigned and tampered requests are refused (401) and store
  nothing; a replayed request is 200 and stores nothing; a malformed body is
  400 naming every problem and stores nothing, valid events beside included.

- `candlectl user` shows each record's lifecycle and event timeline.

Usage: events.py PATH_TO_CANDLED PATH_TO_MOCK_PROVIDER PATH_TO_CANDLECTL
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import MockProvider, Node, check, run_scenarios  # noqa: E402

KEY = b"candle-e2e-webhook-key-0123456789"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
START = "2027-03-01T08:59:00.000Z"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signed(body, msg_id="msg-1", ts=None, key=KEY):
    ts = int(time.time()) if ts is None else ts
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + raw, hashlib.sha256).digest()
    return raw, {"webhook-id": msg_id, "webhook-timestamp": str(ts),
                 "webhook-signature": "v1," + base64.b64encode(mac).decode()}


def post(node, body, **kw):
    raw, headers = signed(body, **kw)
    return node.req("POST", "/api/v1/webhooks/provider", raw=raw, headers=headers)


def greeting(node, key):
    """The record with its timeline; {} while it has none (404)."""
    r = node.req("GET", f"/api/v1/greetings/{key}")
    check(r.status in (200, 404), f"GET greeting {key}: {r.status} {r.text}")
    return r.json()["data"] if r.status == 200 else {}


def key_of(user, year):
    return f"{user['id']}:birthday:{year}"


def users(node):
    out = {}
    for name, email in [("alice", "alice@example.com"), ("bob", "bob@bounce.test"),
                        ("carol", "carol@complain.test")]:
        out[name] = node.create_user(firstName=name, lastName="E2E", email=email,
                                     timezone="UTC", birthdayDate="1990-03-01")
    return out


def scenario_events_flow_back_and_suppress(candled, mock_path):
    port = free_port()
    with MockProvider(mock_path, f"--events-url=http://127.0.0.1:{port}/api/v1/webhooks/provider",
                      f"--events-secret={SECRET}", "--events-delay-ms=100",
                      "--bounce-suffix=@bounce.test", "--complain-suffix=@complain.test",
                      "--events-duplicates=1", "--events-reorder=1") as mock, \
            Node(candled, mock, START, f"--http.port={port}", f"--webhooks.secret={SECRET}",
                 partitions=4, console_port=free_port()) as node:
        u = users(node)
        node.advance("2027-03-01T09:00:01.000Z")
        want = {"alice": "delivered", "bob": "bounced", "carol": "complained"}
        for name, state in want.items():
            k = key_of(u[name], 2027)
            node.wait_for(lambda k=k, s=state: greeting(node, k).get("delivery") == s, 30,
                          f"{name} {state}")
        node.wait_for(lambda: mock.stats()["events"]["pending"] == 0, 30, "every event posted")
        a = greeting(node, key_of(u["alice"], 2027))
        types = [e["type"] for e in a["events"]]
        # The deferral is older than the delivery and arrived after it: kept,
        # first in the timeline, and the state stayed delivered.
        check(types == ["deferred", "delivered"], f"alice's timeline: {a['events']}")
        check(a["status"] == "sent" and a["claimedBy"] and a["claimedAt"], f"record: {a}")
        c = greeting(node, key_of(u["carol"], 2027))
        check([e["type"] for e in c["events"]] == ["deferred", "delivered", "complained"],
              f"carol's timeline: {c['events']}")
        # Duplicates were posted (every event twice) and stored once.
        s = mock.stats()["events"]
        stored = sum(len(greeting(node, key_of(u[n], 2027))["events"]) for n in u)
        check(s["posted"] == 2 * stored, f"each event posted twice, stored once: {s}, {stored}")
        sup = node.client.json("GET", "/api/v1/suppressions")["data"]["suppressions"]
        check(sorted(x["email"] for x in sup) == ["bob@bounce.test", "carol@complain.test"],
              f"suppressions: {sup}")
        bob = [x for x in sup if x["email"] == "bob@bounce.test"][0]
        check(bob["type"] == "bounced" and "550" in bob["reason"] and
              bob["key"] == key_of(u["bob"], 2027), f"bob's suppression: {bob}")
        # The console shows the same life: claimed where, delivered, events.
        p = subprocess.run([CTL, "--port", str(node.console_port), "--json", "user",
                            "alice@example.com"], capture_output=True, text=True, timeout=20)
        check(p.returncode == 0, f"candlectl user: {p.returncode} {p.stdout} {p.stderr}")
        rec = json.loads(p.stdout)["records"][0]
        check(rec["delivery"] == "delivered" and rec["claimedBy"] == a["claimedBy"] and
              [e["type"] for e in rec["events"]] == ["deferred", "delivered"], f"console: {rec}")
        p = subprocess.run([CTL, "--port", str(node.console_port), "user", "alice@example.com"],
                           capture_output=True, text=True, timeout=20)
        check(p.returncode == 0 and "delivery events" in p.stdout and "lifecycle" in p.stdout
              and "delivered" in p.stdout, f"console text: {p.stdout}")
        metrics = node.req("GET", "/metrics").text
        check('candle_delivery_events_total{type="delivered",outcome="duplicate"}' in metrics,
              "duplicates counted")

        # Next year: alice is greeted; bob and carol are recorded suppressed.
        node.advance("2028-03-01T08:59:00.000Z")
        node.advance("2028-03-01T09:00:01.000Z")
        node.wait_for(lambda: greeting(node, key_of(u["alice"], 2028)).get("status") == "sent", 30,
                      "alice greeted in 2028")
        for name in ("bob", "carol"):
            r = node.req("GET", f"/api/v1/greetings/{key_of(u[name], 2028)}")
            check(r.status == 200, f"{name} 2028 recorded: {r.status} {r.text}")
            rec = r.json()["data"]
            check(rec["status"] == "suppressed" and rec["lastError"].startswith("suppressed: "),
                  f"{name} 2028: {rec}")
        sent = set(mock.keys())
        check(key_of(u["bob"], 2028) not in sent and key_of(u["carol"], 2028) not in sent,
              "nothing sent to a suppressed address")
        r = node.req("GET", "/api/v1/greetings?status=suppressed")
        check(r.status == 200 and len(r.json()["data"]["greetings"]) == 2, f"by status: {r.text}")

        # Bob changes his address; carol's suppression is lifted by hand.
        r = node.req("PUT", f"/api/v1/users/{u['bob']['id']}", {"email": "bob@example.com"})
        check(r.status == 200, f"bob's new email: {r.status} {r.text}")
        r = node.req("DELETE", "/api/v1/suppressions/carol@complain.test")
        check(r.status == 200, f"lift carol: {r.status} {r.text}")
        r = node.req("DELETE", "/api/v1/suppressions/carol@complain.test")
        check(r.status == 404, f"lifted twice: {r.status} {r.text}")
        node.advance("2029-03-01T08:59:00.000Z")
        node.advance("2029-03-01T09:00:01.000Z")
        for name in ("alice", "bob", "carol"):
            k = key_of(u[name], 2029)
            node.wait_for(lambda k=k: k in set(mock.keys()), 30, f"{name} greeted in 2029")
        s = mock.stats()
        check(s["duplicates"] == 0, f"one send per key: {s}")


def scenario_refused_requests_store_nothing(candled, mock_path):
    with MockProvider(mock_path) as mock, \
            Node(candled, mock, START, f"--webhooks.secret={SECRET}", partitions=4) as node:
        u = users(node)
        node.advance("2027-03-01T09:00:01.000Z")
        k = key_of(u["alice"], 2027)
        node.wait_for(lambda: greeting(node, k).get("status") == "sent", 30, "alice sent")
        event = {"id": "evt-1", "type": "delivered", "key": k, "at": "2027-03-01T09:00:02Z"}

        def stored():
            return len(greeting(node, k)["events"])

        raw, headers = signed([event])
        refused = {
            "no headers": node.req("POST", "/api/v1/webhooks/provider", raw=raw),
            "forged": post(node, [event], key=b"another-key-of-sufficient-length"),
            "stale": post(node, [event], ts=int(time.time()) - 301),
            "future": post(node, [event], ts=int(time.time()) + 301),
            "tampered": node.req("POST", "/api/v1/webhooks/provider",
                                 raw=raw.replace(b"delivered", b"bounced"), headers=headers),
            "bad timestamp": node.req("POST", "/api/v1/webhooks/provider", raw=raw,
                                      headers={**headers, "webhook-timestamp": "yesterday"}),
        }
        for what, r in refused.items():
            check(r.status == 401, f"{what}: {r.status} {r.text}")
        check(stored() == 0 and greeting(node, k)["delivery"] == "sent", "refused: nothing stored")
        check(node.req("GET", "/api/v1/suppressions").json()["data"]["suppressions"] == [],
              "the tampered bounce suppressed nothing")
        # Malformed events, correctly signed: 400 naming each, nothing stored.
        r = post(node, [event, {"id": "evt-2", "type": "opened", "key": k, "at": "x"},
                        {"type": "bounced", "key": "nope", "at": "2027-03-01T09:00:02Z"}, 7])
        check(r.status == 400, f"malformed: {r.status} {r.text}")
        fields = sorted(d["field"] for d in r.json()["error"]["details"])
        check(fields == ["[1].at", "[1].type", "[2].id", "[2].key", "[3]"], f"fields: {fields}")
        check(stored() == 0, "a malformed batch stores none of it")
        r = post(node, b"{not json")
        check(r.status == 400 and r.json()["error"]["details"][0]["field"] == "body", r.text)
        # Accepted once; the same request replayed is 200 and changes nothing.
        r = post(node, [event])
        check(r.status == 200 and r.json()["data"]["stored"] == 1, f"first: {r.status} {r.text}")
        r = post(node, [event])
        check(r.status == 200 and r.json()["data"] == {"received": 1, "stored": 0,
                                                       "duplicates": 1, "unknown": 0},
              f"replayed: {r.text}")
        check(stored() == 1 and greeting(node, k)["delivery"] == "delivered", "stored once")
        # One object, not an array; an unknown greeting is stored and counted.
        stranger = "00000000-0000-4000-8000-000000000001:birthday:2027"
        r = post(node, {"id": "evt-3", "type": "bounced", "key": stranger,
                        "at": "2027-03-01T09:00:03Z", "reason": "550"})
        check(r.status == 200 and r.json()["data"]["unknown"] == 1, f"unknown: {r.text}")
        check(node.req("GET", f"/api/v1/greetings/{stranger}").status == 404, "no record")
        check(node.req("GET", "/api/v1/greetings/not-a-key").status == 400, "bad key: 400")
        # A provider's largest batch (1,000 events, ~150 KB) fits; one more is refused.
        many = [{"id": f"bulk-{i}", "type": "delivered", "key": stranger,
                 "at": "2027-03-01T09:00:04Z", "reason": "x" * 40} for i in range(1001)]
        r = post(node, many[:1000])
        check(r.status == 200 and r.json()["data"]["stored"] == 1000, f"1,000: {r.status} {r.text[:200]}")
        r = post(node, many)
        check(r.status == 400 and "1000" in r.text, f"1,001: {r.status} {r.text[:200]}")
        m = node.req("GET", "/metrics").text
        for reason in ("missing", "no_match", "stale", "malformed", "invalid"):
            check(f'candle_webhook_rejected_total{{reason="{reason}"}}' in m, f"metric {reason}")
        check(mock.stats()["duplicates"] == 0, "nothing sent twice")


def scenario_endpoint_off_without_secret(candled, mock_path):
    with MockProvider(mock_path) as mock, Node(candled, mock, START, partitions=2) as node:
        r = post(node, [])
        check(r.status == 404 and "webhooks.secret" in r.text, f"off: {r.status} {r.text}")


CTL = sys.argv[3] if len(sys.argv) > 3 else "candlectl"

if __name__ == "__main__":
    candled, mock_path = sys.argv[1], sys.argv[2]
    run_scenarios(candled, mock_path, [
        ("events flow back, bounces suppress, an email change lifts it",
         scenario_events_flow_back_and_suppress),
        ("forged, stale, tampered, malformed and replayed requests store nothing",
         scenario_refused_requests_store_nothing),
        ("the endpoint is off without webhooks.secret", scenario_endpoint_off_without_secret),
    ])
