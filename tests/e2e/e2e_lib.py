"""Shared by the Python end-to-end tests: start the real candle-mock-provider
and candled (embedded PostgreSQL in a scratch directory, simulated clock),
talk HTTP to them, and clean everything up, including a PostgreSQL cluster
that a root run placed outside its db.dir (see persistence/embedded_pg.hpp).
"""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import traceback


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


class Client:
    """One keep-alive HTTP/1.1 connection, reopened when the server closes it."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = None

    def req(self, method, path, body=None, raw=None, ctype="application/json", headers=None):
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if isinstance(data, str):
            data = data.encode("utf-8")
        h = dict(headers or {})
        if data is not None and ctype is not None:
            h["Content-Type"] = ctype
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                out = Response(r.status, r.headers, r.read())
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return out
            except (ConnectionError, http.client.HTTPException, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise

    def json(self, method, path, body=None):
        r = self.req(method, path, body)
        check(200 <= r.status < 300, f"{method} {path} -> {r.status} {r.text}")
        return r.json()


def _wait_line(proc, pattern, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise Failure(f"{what} exited with {proc.returncode}")
            continue
        m = re.search(pattern, line)
        if m:
            return m
    raise Failure(f"{what}: no line matching {pattern}")


class MockProvider:
    def __init__(self, path, *args):
        self.path, self.args = path, list(args)

    def __enter__(self):
        self.proc = subprocess.Popen([self.path, "--port=0", *self.args], stdout=subprocess.PIPE,
                                     text=True)
        m = _wait_line(self.proc, r"http://([0-9.]+):(\d+)/send-email", "mock provider")
        self.url = m.group(0)
        self.client = Client(m.group(1), int(m.group(2)))
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()

    def stats(self):
        return self.client.json("GET", "/stats")

    def keys(self):
        return [r["key"] for r in self.client.json("GET", "/requests")]

    def requests(self):
        return self.client.json("GET", "/requests")

    def control(self, change):
        return self.client.json("PUT", "/control", change)


class Node:
    """A candled on a fresh embedded database with a frozen simulated clock."""

    def __init__(self, path, mock, clock, *args, partitions=32, console_port=0):
        self.path, self.mock, self.clock, self.args = path, mock, clock, list(args)
        self.partitions = partitions
        self.console_port = console_port
        self.work = tempfile.mkdtemp(prefix="candle-e2e-")
        self.proc = None

    def start(self, *extra):
        self.log = open(os.path.join(self.work, "node.log"), "a")
        cmd = [self.path, "--http.port=0", f"--console.port={self.console_port}",
               f"--db.dir={self.work}/pg", "--clock.mode=simulated",
               f"--clock.start={self.clock}", "--clock.speed=0",
               f"--schedule.partitions={self.partitions}", f"--email.url={self.mock.url}",
               *self.args, *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        m = _wait_line(self.proc, r"rest=http://([0-9.]+):(\d+)", "candled")
        self.client = Client(m.group(1), int(m.group(2)))
        self.address = (m.group(1), int(m.group(2)))
        self.wait_for(lambda: self.client.req("GET", "/readyz").status == 200, 60, "readiness")
        return self

    def stop(self, sig=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        self.stop(9)
        log = os.path.join(self.work, "node.log")
        failed = exc_type is not None and not (exc_type is SystemExit and not exc[0].code)
        if failed and os.path.exists(log):
            print("--- node log (tail) ---\n" + "".join(open(log).readlines()[-25:]))
        loc = os.path.join(self.work, "pg", "cluster-location")
        if os.path.exists(loc):
            target = open(loc).read().strip()
            if target.startswith("/var/lib/candle/clusters/"):
                # The orphaned postgres notices its parent's death and exits.
                time.sleep(1)
                shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)

    def req(self, method, path, body=None, **kw):
        return self.client.req(method, path, body, **kw)

    def advance(self, iso):
        r = self.req("PUT", "/api/v1/admin/clock", {"now": iso})
        check(r.status == 200, f"clock to {iso}: {r.status} {r.text}")

    def raw(self, payload, timeout=3):
        """Sends bytes on a fresh connection and reads until the server closes it."""
        with socket.create_connection(self.address, timeout=timeout) as s:
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return data
                    data += chunk
            except OSError:
                return b""

    def count_users(self):
        n, cursor = 0, None
        while True:
            q = "/api/v1/users?limit=1000" + (f"&cursor={cursor}" if cursor else "")
            data = self.client.json("GET", q)["data"]
            n += len(data["users"])
            cursor = data["nextCursor"]
            if cursor is None:
                return n

    def create_user(self, **fields):
        r = self.req("POST", "/api/v1/users", fields)
        check(r.status == 201, f"create {fields}: {r.status} {r.text}")
        return r.json()["data"]

    def count_status(self, status):
        """How many send records have `status` (all pages)."""
        n, cursor = 0, None
        while True:
            q = f"/api/v1/greetings?status={status}&limit=1000" + (f"&cursor={cursor}" if cursor else "")
            data = self.client.json("GET", q)["data"]
            n += len(data["greetings"])
            cursor = data["nextCursor"]
            if cursor is None:
                return n

    def log_count(self, text):
        """Lines of the node's log (all its runs) that contain `text`."""
        self.log.flush()
        with open(os.path.join(self.work, "node.log")) as f:
            return sum(text in line for line in f)

    def set_speed(self, speed):
        r = self.req("PUT", "/api/v1/admin/clock", {"speed": speed})
        check(r.status == 200, f"speed {speed}: {r.status} {r.text}")

    def wait_for(self, fn, timeout=20, what="condition"):
        return wait_for(fn, timeout, what)


def kill_mid_burst(node, mock, n, sending, clock, pause_s=0):
    """kill -9 once the provider holds `sending` greetings, restart the node at
    `clock`, wait until all `n` are recorded sent and check every key reached
    the provider and nothing is left claimed or retrying. Returns (sends at
    the kill, the mock's stats)."""
    node.wait_for(lambda: mock.stats()["total"] >= sending, 60, "sending under way")
    node.stop(9)
    at_kill = mock.stats()["total"]
    if pause_s:
        time.sleep(pause_s)
    node.clock = clock
    node.start()
    node.wait_for(lambda: node.count_status("sent") == n, 120, "every greeting recorded sent")
    s = mock.stats()
    check(s["uniqueKeys"] == n, f"every key reached the provider: {s}")
    check(node.count_status("claimed") == 0 and node.count_status("retrying") == 0, "settled")
    return at_kill, s


def wait_for(fn, timeout, what):
    """Polls fn until it returns something true (returned), or fails."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise Failure(f"timed out after {timeout:.0f} s waiting for {what}")


def _run(named, on_failure=None):
    """Runs (name, fn) pairs, prints ok/FAIL for each and the closing count,
    and exits 1 when any failed."""
    passed = failed = 0
    for name, fn in named:
        start = time.time()
        try:
            fn()
            passed += 1
            print(f"ok   {name} ({time.time() - start:.1f} s)", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            failed += 1
            traceback.print_exc()
            print(f"FAIL {name}: {e}", flush=True)
    if failed and on_failure:
        on_failure()
    print(f"{passed} passed, {failed} failed")
    raise SystemExit(1 if failed else 0)


def run_tests(node, tests):
    """Tests sharing one node: test(node) each; the node's log on failure."""
    def show_log():
        log = os.path.join(node.work, "node.log")
        if os.path.exists(log):
            print("--- node log (tail) ---")
            print("".join(open(log).readlines()[-30:]))
    _run([(t.__name__, lambda t=t: t(node)) for t in tests], show_log)


def run_scenarios(candled, mock_path, scenarios):
    """Scenarios with a node each: scenario(candled, mock_path) per (name, scenario)."""
    _run([(name, lambda sc=sc: sc(candled, mock_path)) for name, sc in scenarios])
