#!/usr/bin/env python3
"""Candle's demo: a node on the embedded PostgreSQL, the mock provider, and
demo users over a dozen time zones on a simulated clock that runs a day in
about 30 seconds. Shows every greeting as it arrives, with the user's local
time, then a summary.

Usage: demo.py BUILD_DIR [--port N] [--exit] [--speed X] [--var DIR] [--smtp]
  --port N   REST port of the node (default 8080; 0 = any free port)
  --exit     stop after the summary (default: keep the node running)
  --speed X  simulated seconds per real second (default 2880: a day in 30 s)
  --var DIR  scratch directory (default var/demo; wiped at start)
  --smtp     send real email (email.transport=smtp) to a local SMTP server
             (examples/smtp_server.py, python3-aiosmtpd) instead of the mock
             provider; each message is kept in DIR/mail/NNNN.eml and shown
Ctrl-C stops everything the demo started.
"""
import argparse
import base64
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

# The simulated days: 28 Feb 2027 ("today", a common year, so 29 Feb
# birthdays are greeted on 28 Feb) and 1 Mar 2027 ("tomorrow").
START = "2027-02-27T18:00:00Z"  # before 09:00 on 28 Feb in UTC+14
END = dt.datetime(2027, 3, 1, 21, 0, tzinfo=dt.timezone.utc)  # after 09:00 on 1 Mar in UTC-11

USERS = [
    # first, last, zone, birthday, anniversary
    ("Tiare", "Kaufana", "Pacific/Kiritimati", "1990-02-28", None),       # +14
    ("Aroha", "Ngata", "Pacific/Chatham", "1985-03-01", None),             # +13:45
    ("Mere", "Tane", "Pacific/Auckland", "1996-02-29", None),              # +13, leap day
    ("Aiko", "Tanaka", "Asia/Tokyo", "1988-02-28", "2015-03-01"),          # +9
    ("Priya", "Shrestha", "Asia/Kathmandu", "1992-03-01", None),           # +5:45
    ("Arjun", "Mehta", "Asia/Kolkata", "2000-02-29", None),                # +5:30, leap day
    ("Leyla", "Aydin", "Europe/Istanbul", "1979-02-28", None),             # +3
    ("Sophie", "Martin", "Europe/Paris", "1991-03-01", "2019-02-28"),      # +1
    ("Oliver", "Smith", "Europe/London", "1984-02-28", None),              # 0
    ("Ana", "Silva", "America/Sao_Paulo", "1993-03-01", None),             # -3
    ("Emily", "Clark", "America/St_Johns", "1999-02-28", None),            # -3:30
    ("Jake", "Miller", "America/New_York", "1987-03-01", None),            # -5
    ("Maria", "Lopez", "America/Los_Angeles", "1995-02-28", None),         # -8
    ("Keola", "Kahale", "Pacific/Honolulu", "1982-03-01", None),           # -10
    ("Sione", "Tuilagi", "Pacific/Pago_Pago", "1990-02-28", None),         # -11
    ("Deleted", "Person", "Europe/Berlin", "1990-02-28", None),            # deleted before 09:00
    ("Moving", "Traveller", "Asia/Singapore", "1990-03-01", None),         # moved to America/Chicago
]


def log(msg):
    print(msg, flush=True)


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise SystemExit(f"demo: {method} {path} -> {e.code} {e.read().decode()}")


def start(cmd, pattern, what, stderr=None):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise SystemExit(f"demo: {what} exited with {proc.returncode} (see its log)")
        m = re.search(pattern, line or "")
        if m:
            return proc, m
    raise SystemExit(f"demo: {what} did not start")


def wait_ready(api):
    for _ in range(600):
        try:
            with urllib.request.urlopen(api.base + "/readyz", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise SystemExit("demo: node not ready")


def forget(var):
    """Removes a previous demo's files, and its PostgreSQL cluster if a root
    run placed it outside db.dir (persistence/embedded_pg.hpp)."""
    loc = os.path.join(var, "pg", "cluster-location")
    if os.path.exists(loc):
        target = open(loc).read().strip()
        if target.startswith("/var/lib/candle/clusters/"):
            shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(var, ignore_errors=True)


def local(iso, zone):
    t = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return t.astimezone(ZoneInfo(zone))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--console-port", type=int, default=4242, help="0 = off")
    ap.add_argument("--exit", action="store_true")
    ap.add_argument("--speed", type=float, default=2880)
    ap.add_argument("--var", help="scratch directory (default var/demo in the repository)")
    ap.add_argument("--smtp", action="store_true",
                    help="deliver through a local SMTP server (email.transport=smtp)")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    var = args.var or os.path.join(root, "var", "demo")
    forget(var)
    os.makedirs(var)
    procs = []

    def stop(*_):
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        run(args, var, procs)
    except KeyboardInterrupt:
        log("\ndemo: stopping")
    finally:
        if args.exit:
            for p in procs:
                p.kill()
                p.wait()
            time.sleep(1)  # the orphaned PostgreSQL notices and exits
            forget(var)
    stop()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """The SMTP demo's 'provider': the messages examples/smtp_server.py kept."""

    def __init__(self, directory):
        self.directory = directory

    def messages(self):
        import email
        import email.policy
        if not os.path.isdir(self.directory):
            return []
        out = []
        for name in sorted(os.listdir(self.directory)):
            with open(os.path.join(self.directory, name), "rb") as f:
                out.append(email.message_from_binary_file(f, policy=email.policy.default))
        return out

    def requests(self):
        """Like the mock's /requests: key (from the Message-ID) and a line to show."""
        out = []
        for m in self.messages():
            left = str(m["Message-ID"]).strip("<>").split("@")[0]
            out.append({"key": left.replace(".", ":"),
                        "message": f"To: {m['To']} | Subject: {m['Subject']} | "
                                   f"{m.get_content().strip()}"})
        return out

    def stats(self):
        keys = [r["key"] for r in self.requests()]
        return {"failed": 0, "duplicates": len(keys) - len(set(keys)),
                "uniqueKeys": len(set(keys))}


def run(args, var, procs):
    # The mock posts signed delivery events back to the node's webhook.
    port = args.port or free_port()
    if args.smtp:
        return run_smtp(args, var, procs, port)
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    mock_log = open(os.path.join(var, "mock.log"), "w")
    mock, m = start([os.path.join(args.build, "examples", "candle-mock-provider"), "--port=0",
                     "--error-rate=0.2", "--latency=5-40",
                     f"--events-url=http://127.0.0.1:{port}/api/v1/webhooks/provider",
                     f"--events-secret={secret}", "--events-delay-ms=100",
                     "--events-duplicates=0.2", "--events-reorder=0.2"],
                    r"(http://[0-9.:]+)/send-email", "candle-mock-provider", mock_log)
    procs.append(mock)
    mock_api = Api(m.group(1))
    log(f"demo: mock provider at {m.group(0)} (20% of sends fail with 500, retried; delivery"
        " events posted back, some twice, some out of order)")
    node_log = open(os.path.join(var, "node.log"), "w")
    node, n = start([os.path.join(args.build, "node", "candled"), f"--http.port={port}",
                     f"--webhooks.secret={secret}",
                     f"--console.port={args.console_port}", f"--db.dir={var}/pg",
                     "--clock.mode=simulated",
                     f"--clock.start={START}", "--clock.speed=0", "--schedule.partitions=16",
                     f"--email.url={m.group(0)}", "--email.timeout=5s"],
                    r"candled ready: rest=(http://[0-9.:]+)", "candled", node_log)
    procs.append(node)
    show(args, var, node, n, lambda: mock_api.call("GET", "/requests"),
         lambda: mock_api.call("GET", "/stats"), True)


def run_smtp(args, var, procs, port):
    smtp_log = open(os.path.join(var, "smtp.log"), "w")
    server = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smtp_server.py")
    mail_dir = os.path.join(var, "mail")
    # python3-aiosmtpd is a Debian package: Debian's interpreter has it.
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    smtp, m = start([python, server, "--port=0", "--quiet", f"--dump={mail_dir}"],
                    r"(smtp://[0-9.:]+)", "smtp_server.py", smtp_log)
    procs.append(smtp)
    log(f"demo: SMTP server (python3-aiosmtpd) at {m.group(1)}; each message lands in {mail_dir}")
    node_log = open(os.path.join(var, "node.log"), "w")
    node, n = start([os.path.join(args.build, "node", "candled"), f"--http.port={port}",
                     f"--console.port={args.console_port}", f"--db.dir={var}/pg",
                     "--clock.mode=simulated",
                     f"--clock.start={START}", "--clock.speed=0", "--schedule.partitions=16",
                     "--email.transport=smtp", f"--smtp.url={m.group(1)}",
                     "--smtp.from=Candle demo <greetings@candle.example>", "--email.timeout=5s"],
                    r"candled ready: rest=(http://[0-9.:]+)", "candled", node_log)
    procs.append(node)
    box = Mailbox(mail_dir)
    show(args, var, node, n, box.requests, box.stats, False)


def show(args, var, node, n, requests, provider_stats, events):
    api = Api(n.group(1))
    log(f"demo: node at {n.group(1)}, embedded PostgreSQL in {var}/pg, log in {var}/node.log")
    wait_ready(api)
    zone_of, name_of = {}, {}
    ids = {}
    for first, last, zone, bday, anniv in USERS:
        body = {"firstName": first, "lastName": last, "timezone": zone,
                "email": f"{first.lower()}.{last.lower()}@example.com", "birthdayDate": bday}
        if anniv:
            body["anniversaryDate"] = anniv
        u = api.call("POST", "/api/v1/users", body)["data"]
        ids[first] = u["id"]
        zone_of[u["id"]], name_of[u["id"]] = zone, f"{first} {last}"
    log(f"demo: created {len(USERS)} users in {len(set(z for *_, z, _, _ in USERS))} time zones"
        " (birthdays on 28 Feb, 29 Feb and 1 Mar; anniversaries too)")
    api.call("DELETE", f"/api/v1/users/{ids['Deleted']}")
    log("demo: deleted Deleted Person (Europe/Berlin) before their greeting")
    moved = api.call("PUT", f"/api/v1/users/{ids['Moving']}", {"timezone": "America/Chicago"})
    zone_of[ids["Moving"]] = moved["data"]["timezone"]
    log("demo: moved Moving Traveller from Asia/Singapore to America/Chicago")
    api.call("PUT", "/api/v1/admin/clock", {"speed": args.speed})
    log(f"demo: simulated clock from {START} at {args.speed:g}x; greetings as they arrive:\n")
    shown = 0
    expected = 18  # 16 birthdays (not the deleted user's) + 2 anniversaries
    deadline = time.time() + 600
    end_seen = None
    while time.time() < deadline:
        now = api.call("GET", "/api/v1/admin/clock")["data"]["now"]
        sent = requests()
        for r in sent[shown:]:
            uid = r["key"].split(":")[0]
            zone = zone_of.get(uid, "UTC")
            recs = api.call("GET", f"/api/v1/users/{uid}/greetings")["data"]
            rec = next((x for x in recs if x["key"] == r["key"]), None)
            when = rec["sentAt"] if rec and rec["sentAt"] else now
            lt = local(when, zone)
            log(f"  {lt:%a %d %b %H:%M} {zone:<20} {r['message']}"
                + (f"  (attempt {rec['attempts']})" if rec and rec["attempts"] > 1 else ""))
        shown = len(sent)
        if dt.datetime.fromisoformat(now.replace("Z", "+00:00")) > END:
            # Past the last due instant: wait (30 s at most) for stragglers a
            # retry or a busy machine delayed, and for their records.
            end_seen = end_seen or time.time()
            recorded = len(api.call("GET", "/api/v1/greetings?status=sent&limit=1000")["data"]
                           ["greetings"])
            if (len(sent) >= expected and recorded >= expected) or time.time() - end_seen > 30:
                break
        time.sleep(0.25)
    stats = provider_stats()
    records = api.call("GET", "/api/v1/greetings?limit=1000")["data"]["greetings"]
    sent = [r for r in records if r["status"] == "sent"]
    # Lateness in real time: at 2880x a simulated minute passes in 21 ms.
    lateness = sorted((dt.datetime.fromisoformat(r["sentAt"].replace("Z", "+00:00"))
                       - dt.datetime.fromisoformat(r["dueAt"].replace("Z", "+00:00"))
                       ).total_seconds() / args.speed for r in sent)
    late = [x for x in lateness if x > 1.0]
    retried = [r for r in sent if r["attempts"] > 1]
    log(f"\ndemo: summary: sent={len(sent)} (expected {expected}) late={len(late)} "
        f"retried={len(retried)} provider-errors={stats['failed']} "
        f"duplicates={stats['duplicates']}")
    if lateness:
        log(f"demo: lateness in real time (sent - due, divided by the clock speed): "
            f"median {1000 * lateness[len(lateness) // 2]:.0f} ms, max {1000 * lateness[-1]:.0f} ms;"
            " late = more than 1 s")
    # Every sent greeting's delivery event comes back (the provider's webhook).
    deadline = time.time() + (20 if events else 0)
    delivered = []
    while time.time() < deadline:
        records = api.call("GET", "/api/v1/greetings?status=sent&limit=1000")["data"]["greetings"]
        delivered = [r for r in records if r["delivery"] == "delivered"]
        if len(delivered) >= len(sent):
            break
        time.sleep(0.25)
    if events:
        log(f"demo: delivery events: {len(delivered)} of {len(sent)} greetings delivered per the"
            f" provider's webhook (GET /api/v1/greetings/KEY shows each one's timeline)")
    else:
        log(f"demo: {stats['uniqueKeys']} messages at the SMTP server, one per Message-ID; the"
            f" first one whole:\n")
        first = sorted(os.listdir(os.path.join(var, "mail")))[:1]
        for name in first:
            with open(os.path.join(var, "mail", name), "rb") as f:
                log("    " + f.read().decode("utf-8", "replace").replace("\r\n", "\n    "))
    ok = len(sent) == expected and stats["duplicates"] == 0 and stats["uniqueKeys"] == expected
    ok = ok and (not events or len(delivered) == len(sent))
    log("demo: " + ("OK: every greeting once, none for the deleted user" if ok else "UNEXPECTED"))
    if args.exit:
        if not ok:
            log("".join(open(os.path.join(var, "node.log")).readlines()[-30:]))
            raise SystemExit(1)
        return
    log(f"""
The node keeps running (clock still at {args.speed:g}x). Try:
  open {n.group(1)}/dashboard in a browser (greetings by state, lateness, the next 48 hours, failed ones)
  curl -s {n.group(1)}/api/v1/users?limit=3
  curl -s -X POST -H 'Content-Type: application/json' {n.group(1)}/api/v1/users \\
       -d '{{"firstName":"You","lastName":"Here","email":"you@example.com","timezone":"Europe/Paris","birthdayDate":"1990-03-02"}}'
  curl -s '{n.group(1)}/api/v1/greetings?status=sent&limit=5'
  curl -s {n.group(1)}/metrics
  {os.path.join(args.build, "tools", "candlectl")} --port {args.console_port}{"   (the console: status, upcoming, user EMAIL, failed, pause --for 1m, help)" if args.console_port else "   (off: --console-port)"}
Ctrl-C stops the node, its PostgreSQL and the {"SMTP server" if not events else "mock provider"}.""")
    while node.poll() is None:
        time.sleep(0.5)


if __name__ == "__main__":
    main()
