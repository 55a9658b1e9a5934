#!/usr/bin/env python3
"""The doors of contract.md "Security" that exist today, each tried both
ways: the admin token on /api/v1/admin/* (401 without, 403 wrong, 200 right)
and on the console's state changes; no token on a non-loopback listener
(403); per-client request rate (429 + Retry-After) and connection caps (503);
refused configurations (exit 2 naming the options, never echoing a secret);
the token never in logs, /metrics or --help.

usage: security.py CANDLED MOCK_PROVIDER CANDLECTL
"""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from e2e_lib import MockProvider, Node, check, run_scenarios, wait_for  # noqa: E402

CANDLED, MOCK, CTL = sys.argv[1:4]
TOKEN = "e2e-admin-token-7f3a9c1d2b"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def code_of(r):
    return r.json()["error"]["code"]


def ctl(node, *args, env=None):
    e = dict(os.environ)
    e.pop("CANDLE_ADMIN_TOKEN", None)
    e.update(env or {})
    return subprocess.run([CTL, "--port", str(node.console_port), "--json", *args],
                          capture_output=True, text=True, timeout=20, env=e)


def with_token(candled, mock_path):
    with MockProvider(mock_path) as mock:
        with Node(candled, mock, "2027-03-01T00:00:00Z", f"--admin.token={TOKEN}", partitions=4,
                  console_port=free_port()) as node:
            for method, path, body in [("GET", "/api/v1/admin/clock", None),
                                       ("PUT", "/api/v1/admin/delivery", {"paused": True}),
                                       ("PUT", "/api/v1/admin/clock", {"speed": 5})]:
                r = node.req(method, path, body)
                check(r.status == 401 and code_of(r) == "UNAUTHORIZED", f"{path}: {r.status}")
                check(r.headers.get("WWW-Authenticate") == "Bearer", f"{r.headers}")
                for bad in ("Bearer wrong-token-0000000000", f"Basic {TOKEN}", f"Bearer {TOKEN}x"):
                    r = node.req(method, path, body, headers={"Authorization": bad})
                    check(r.status in (401, 403), f"{path} with {bad!r}: {r.status}")
                r = node.req(method, path, body, headers={"Authorization": "Bearer nope-nope-nope"})
                check(r.status == 403 and code_of(r) == "FORBIDDEN", f"{path}: {r.status}")
            good = {"Authorization": f"Bearer {TOKEN}"}
            # Nothing refused took effect.
            d = node.req("GET", "/api/v1/admin/delivery", headers=good)
            check(d.status == 200 and not d.json()["data"]["paused"], f"delivery {d.text}")
            c = node.req("GET", "/api/v1/admin/clock", headers={"Authorization": f"bearer {TOKEN}"})
            check(c.status == 200 and c.json()["data"]["speed"] == 0, f"clock {c.text}")
            # Everything else needs no token.
            check(node.req("GET", "/healthz").status == 200, "healthz")
            node.create_user(firstName="A", lastName="B", email="a@example.com", timezone="UTC")
            # The console: reading needs nothing, a state change the token.
            check(ctl(node, "status").returncode == 0, "console status without a token")
            p = ctl(node, "pause")
            check(p.returncode == 1 and '"refused"' in p.stdout, f"pause without token: {p.stdout}")
            p = ctl(node, "pause", env={"CANDLE_ADMIN_TOKEN": "wrong-token-0000000000"})
            check(p.returncode == 1 and '"refused"' in p.stdout, f"pause, wrong token: {p.stdout}")
            check(not node.req("GET", "/api/v1/admin/delivery", headers=good).json()["data"]
                  ["paused"], "a refused console pause took effect")
            p = ctl(node, "pause", "--for", "1m", env={"CANDLE_ADMIN_TOKEN": TOKEN})
            check(p.returncode == 0, f"pause with the token: {p.stdout} {p.stderr}")
            check(node.req("GET", "/api/v1/admin/delivery", headers=good).json()["data"]["paused"],
                  "not paused")
            check(ctl(node, "resume", env={"CANDLE_ADMIN_TOKEN": TOKEN}).returncode == 0, "resume")
            # The secret is never shown.
            metrics = node.req("GET", "/metrics").text
            check(TOKEN not in metrics, "token in /metrics")
            node.stop()
            log = open(os.path.join(node.work, "node.log")).read()
            check(TOKEN not in log, "token in the node's log")
            help_text = subprocess.run([candled, f"--admin.token={TOKEN}", "--help"],
                                       capture_output=True, text=True, timeout=10).stdout
            check("admin.token" in help_text and TOKEN not in help_text, "token in --help")


def no_token_off_loopback(candled, mock_path):
    with MockProvider(mock_path) as mock:
        node = Node(candled, mock, "2027-03-01T00:00:00Z", "--http.host=0.0.0.0", partitions=4)
        with node:
            r = node.req("GET", "/api/v1/admin/clock")
            check(r.status == 403 and code_of(r) == "FORBIDDEN", f"admin off loopback: {r.status}")
            check("admin.token" in r.json()["error"]["message"], f"{r.text}")
            check(node.req("GET", "/healthz").status == 200, "healthz off loopback")


def abuse_limits(candled, mock_path):
    with MockProvider(mock_path) as mock:
        with Node(candled, mock, "2027-03-01T00:00:00Z", "--http.rate-per-client=5",
                  "--http.burst-per-client=5", "--http.max-connections-per-client=3",
                  partitions=4) as node:
            # Asking as fast as we can: at most burst + rate x elapsed get in.
            start, admitted = time.time(), 0
            r = node.req("GET", "/healthz")
            while r.status == 200:
                admitted += 1
                r = node.req("GET", "/healthz")
            elapsed = time.time() - start
            check(admitted <= 5 + 5 * elapsed + 1, f"{admitted} admitted in {elapsed:.2f} s")
            check(r.status == 429 and code_of(r) == "TOO_MANY_REQUESTS", f"{r.status} {r.text}")
            after = int(r.headers.get("Retry-After", "0"))
            check(after >= 1, f"Retry-After {r.headers}")
            # The connection stays usable and the client is let in again later.
            wait_for(lambda: node.req("GET", "/healthz").status == 200, after + 5,
                     "admitted after Retry-After")
            # Connections: 3 per client; the next gets a 503 and is closed.
            node.client.conn and node.client.conn.close()
            node.client.conn = None
            held = [socket.create_connection(node.address, timeout=5) for _ in range(3)]
            try:
                fourth = node.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                check(b" 503 " in fourth.split(b"\r\n")[0] and b"too many connections" in fourth,
                      f"fourth connection: {fourth[:200]!r}")
            finally:
                for s in held:
                    s.close()
            wait_for(lambda: b" 200 " in node.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                                   b"Connection: close\r\n\r\n")[:20], 10,
                     "a connection again once the others closed")


def refused_configurations(candled, mock_path):
    del mock_path
    cases = [
        (["--cluster.port=4399", "--db.url=postgresql://127.0.0.1:1/x",
          "--cluster.advertise=192.0.2.10"], ["cluster.advertise", "tls.certificate"]),
        (["--tls.certificate=/tmp/c.pem"], ["tls.certificate", "tls.key", "tls.ca"]),
        (["--tls.ca=/tmp/ca.pem", "--tls.key=/tmp/k.pem"], ["tls.certificate"]),
        (["--admin.token=tooshort-secret"], ["admin.token"]),
        (["--tls.certificate=/nonexistent/c.pem", "--tls.key=/nonexistent/k.pem",
          "--tls.ca=/nonexistent/ca.pem"], ["tls.certificate", "cannot read"]),
    ]
    for args, named in cases:
        p = subprocess.run([candled, "--db.dir=/nonexistent/never-created", *args],
                           capture_output=True, text=True, timeout=20)
        check(p.returncode == 2, f"{args}: exit {p.returncode} {p.stderr}")
        for n in named:
            check(n in p.stderr, f"{args}: {n} not named in {p.stderr!r}")
        check("tooshort-secret" not in p.stderr + p.stdout, "a secret echoed in an error")
    check(not os.path.exists("/nonexistent/never-created"), "a refused start created files")


if __name__ == "__main__":
    run_scenarios(CANDLED, MOCK, [("with_token", with_token),
                                  ("no_token_off_loopback", no_token_off_loopback),
                                  ("abuse_limits", abuse_limits),
                                  ("refused_configurations", refused_configurations)])
