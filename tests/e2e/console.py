#!/usr/bin/env python3
"""candlectl against a real node (docs/console.md): every command with --json
against greetings in every state, a bulk redrive (the dry run changes
nothing, the real one sends exactly the redriven greetings once), a pause
that lifts itself, a stopped node and a closed port (exit 1 within 5 s), bad
usage (exit 2), and the interactive mode driven under tmux.

usage: console.py CANDLED MOCK_PROVIDER CANDLECTL
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from e2e_lib import MockProvider, Node, check, run_tests, wait_for  # noqa: E402

CANDLED, MOCK, CTL = sys.argv[1:4]
SCHEMA = "candle.console/1"
BOUNCE = "@bounce.test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ctl(node, *args, port=None, code=0, timeout=20):
    """Runs candlectl --json ARGS; checks the exit code; returns (doc, seconds)."""
    start = time.time()
    p = subprocess.run([CTL, "--port", str(port or node.console_port), "--json", *args],
                       capture_output=True, text=True, timeout=timeout)
    took = time.time() - start
    check(p.returncode == code,
          f"candlectl {' '.join(args)}: exit {p.returncode}, wanted {code}: {p.stdout} {p.stderr}")
    doc = json.loads(p.stdout) if p.stdout.strip() else None
    if doc is not None:
        check(doc.get("schema") == SCHEMA, f"no schema in {doc}")
    return doc, took


def doc_of(node, *args):
    d, _ = ctl(node, *args)
    check(d["command"] == args[0], f"command {d['command']} for {args}")
    check("error" not in d, f"{args}: {d}")
    return d


def records(node, status):
    return node.client.json("GET", f"/api/v1/greetings?status={status}&limit=1000")["data"][
        "greetings"]


def setup(node):
    """Users whose greetings end sent, dead, expired and retrying."""
    ids = {}
    for tag, n, day, suffix in [("sent", 3, "03-01", "@example.com"),
                                ("dead", 3, "03-01", BOUNCE),
                                ("expired", 2, "03-02", "@example.com"),
                                ("retrying", 2, "03-04", "@example.com")]:
        ids[tag] = [node.create_user(firstName=f"{tag}{i}", lastName="Console",
                                     email=f"{tag}{i}{suffix}", timezone="UTC",
                                     birthdayDate=f"1990-{day}")["id"] for i in range(n)]
    node.advance("2027-03-01T09:00:30Z")  # sent and dead
    wait_for(lambda: len(records(node, "sent")) == 3 and len(records(node, "dead")) == 3, 30,
             "3 sent and 3 dead")
    node.advance("2027-03-02T12:00:00Z")  # 3 h past 09:00 with a 2 h recovery window
    wait_for(lambda: len(records(node, "expired")) == 2, 30, "2 expired")
    node.mock.control({"errorRate": 1.0})
    node.advance("2027-03-04T09:00:30Z")
    wait_for(lambda: len(records(node, "retrying")) == 2, 30, "2 retrying")
    node.mock.control({"errorRate": 0.0})
    node.ids = ids


def test_status_nodes_partitions(node):
    s = doc_of(node, "status")
    check(s["partitions"] == {"total": 8, "here": 8, "owned": 8}, f"partitions {s['partitions']}")
    check(s["clock"]["now"] == "2027-03-04T09:00:30.000Z" and s["clock"]["speed"] == 0,
          f"clock {s['clock']}")
    check(s["counts"]["sent"] == 3 and s["counts"]["dead"] == 3 and s["counts"]["expired"] == 2,
          f"counts {s['counts']}")
    check(s["counts"]["retried"] >= 2, f"retried {s['counts']}")
    check(s["breaker"] in ("closed", "open", "half-open") and s["pause"]["paused"] is False,
          f"{s}")
    n = doc_of(node, "nodes")
    check(len(n["nodes"]) == 1 and n["nodes"][0]["self"] and n["nodes"][0]["live"], f"{n}")
    check(n["nodes"][0]["consolePort"] == node.console_port, f"console port {n['nodes'][0]}")
    p = doc_of(node, "partitions")
    check(len(p["partitions"]) == 8 and not p["unreachable"], f"{p}")
    check(all(x["node"] == n["self"] and x["epoch"] >= 1 for x in p["partitions"]), f"{p}")
    # The retrying greetings wait in memory for their backoff.
    check(sum(x["queued"] for x in p["partitions"]) >= 2, f"queued {p}")


def test_user_by_id_and_email(node):
    uid = node.ids["sent"][0]
    by_id = doc_of(node, "user", uid)
    by_email = doc_of(node, "user", "SENT0@example.com")
    check(by_id["user"] == by_email["user"], "by id and by email differ")
    check(by_id["user"]["email"] == "sent0@example.com", f"{by_id['user']}")
    check([r["status"] for r in by_id["records"]] == ["sent"], f"records {by_id['records']}")
    check(by_id["owner"] is not None and 0 <= by_id["partition"] < 8, f"{by_id}")
    nxt = by_id["next"]
    check(len(nxt) == 1 and nxt[0]["dueAt"] == "2028-03-01T09:00:00.000Z"
          and nxt[0]["dueLocal"] == "2028-03-01T09:00:00+00:00", f"next {nxt}")
    d, _ = ctl(node, "user", "nobody@example.com", code=1)
    check(d["error"]["code"] == "not_found", f"{d}")


def test_upcoming_and_failed(node):
    # A user due tomorrow, in a zone with an offset.
    u = node.create_user(firstName="Soon", lastName="Console", email="soon@example.com",
                         timezone="Asia/Kolkata", birthdayDate="1990-03-05")
    up = doc_of(node, "upcoming", "5")
    keys = [g["key"] for g in up["greetings"]]
    check(f"{u['id']}:birthday:2027" in keys, f"upcoming {keys}")
    soon = next(g for g in up["greetings"] if g["userId"] == u["id"])
    check(soon["dueAt"] == "2027-03-05T03:30:00.000Z"
          and soon["dueLocal"] == "2027-03-05T09:00:00+05:30"
          and soon["timezone"] == "Asia/Kolkata", f"{soon}")
    due = [g["dueAt"] for g in up["greetings"]]
    check(due == sorted(due) and len(due) <= 5, f"order {due}")
    f = doc_of(node, "failed")
    got = sorted((r["status"], r["userId"]) for r in f["records"])
    want = sorted([("dead", i) for i in node.ids["dead"]]
                  + [("expired", i) for i in node.ids["expired"]]
                  + [("retrying", i) for i in node.ids["retrying"]])
    check(got == want, f"failed {got}")
    only = doc_of(node, "failed", "--status", "expired", "--limit", "1")
    check(len(only["records"]) == 1 and only["records"][0]["status"] == "expired", f"{only}")


def test_bulk_redrive_dry_run_then_real(node):
    before = node.mock.stats()["total"]
    dry = doc_of(node, "redrive", "--status", "expired", "--dry-run")
    check(dry["dryRun"] and dry["count"] == 2 and len(dry["sample"]) == 2, f"{dry}")
    check(len(records(node, "expired")) == 2, "the dry run changed records")
    check(node.mock.stats()["total"] == before, "the dry run sent something")
    expired = {f"{i}:birthday:2027" for i in node.ids["expired"]}
    check(set(dry["sample"]) == expired, f"sample {dry['sample']}")
    real = doc_of(node, "redrive", "--status", "expired", "--occasion", "birthday")
    check(not real["dryRun"] and real["count"] == 2, f"{real}")
    wait_for(lambda: expired <= set(node.mock.keys()), 20, "the redriven greetings sent")
    wait_for(lambda: not records(node, "expired"), 20, "no expired record left")
    sent = [k for k in node.mock.keys() if k in expired]
    check(sorted(sent) == sorted(expired), f"sent {sent}")
    # Nothing else went out (the retrying ones wait for a clock that is frozen).
    check(node.mock.stats()["total"] == before + 2, f"{node.mock.stats()}")
    nothing = doc_of(node, "redrive", "--status", "expired")
    check(nothing["count"] == 0, f"{nothing}")


def test_redrive_one_key(node):
    node.mock.control({"rejectSuffix": "@nowhere.invalid"})
    key = f"{node.ids['dead'][0]}:birthday:2027"
    d = doc_of(node, "redrive", key)
    check(d["key"] == key and d["status"] == "retrying", f"{d}")
    wait_for(lambda: key in node.mock.keys(), 20, "the redriven key sent")
    again, _ = ctl(node, "redrive", key, code=1)  # sent now: not dead any more
    check(again["error"]["code"] in ("conflict", "invalid"), f"{again}")
    missing, _ = ctl(node, "redrive", "no-such-key", code=1)
    check(missing["error"]["code"] == "not_found", f"{missing}")


def test_pause_for_lifts_itself(node):
    u = node.create_user(firstName="Held", lastName="Console", email="held@example.com",
                         timezone="UTC", birthdayDate="1990-03-05")
    key = f"{u['id']}:birthday:2027"
    p = doc_of(node, "pause", "--for", "3s")
    check(p["pause"]["paused"] and p["pause"]["until"] and "console" in p["pause"]["by"], f"{p}")
    check(node.client.json("GET", "/api/v1/admin/delivery")["data"]["paused"], "not paused")
    # A greeting that comes due while paused is held, then sent once.
    node.advance("2027-03-05T09:00:10Z")
    wait_for(lambda: doc_of(node, "status")["held"] >= 1, 3, "the greeting held")
    s = doc_of(node, "status")
    check(s["pause"]["paused"], f"status while paused {s['pause']}")
    check(key not in node.mock.keys(), "sent while paused")
    wait_for(lambda: not doc_of(node, "status")["pause"]["paused"], 10, "the pause to lift")
    wait_for(lambda: key in node.mock.keys(), 20, "the held greeting sent")
    check(node.mock.keys().count(key) == 1, "held greeting sent twice")
    q = doc_of(node, "pause", "--for", "30d")  # the longest: beyond 32-bit milliseconds
    check(q["pause"]["paused"] and q["pause"]["until"], f"{q}")
    q = doc_of(node, "pause")
    check(q["pause"]["paused"] and q["pause"]["until"] is None, f"{q}")
    r = doc_of(node, "resume")
    check(r["pause"]["paused"] is False, f"{r}")
    check(not node.client.json("GET", "/api/v1/admin/delivery")["data"]["paused"], "still paused")


def test_pause_survives_a_restart(node):
    doc_of(node, "pause")
    node.stop(signal.SIGTERM)
    node.start()
    s = doc_of(node, "status")
    check(s["pause"]["paused"] and s["pause"]["until"] is None, f"after restart {s['pause']}")
    doc_of(node, "resume")
    check(not doc_of(node, "status")["pause"]["paused"], "resume after restart")


def test_stopped_node_and_closed_port(node):
    d, took = ctl(node, "status", port=free_port(), code=1)
    check(d["error"]["code"] == "unreachable" and took < 5, f"closed port: {took:.1f} s {d}")
    node.proc.send_signal(signal.SIGSTOP)
    try:
        for args in (["status"], ["pause"]):
            d, took = ctl(node, *args, code=1)
            check(took < 5 and d["error"]["code"] in ("unreachable", "timeout"),
                  f"stopped node: {took:.1f} s {d}")
    finally:
        node.proc.send_signal(signal.SIGCONT)
    doc_of(node, "status")
    check(not doc_of(node, "status")["pause"]["paused"], "a refused pause took effect")


def test_bad_usage(node):
    for args in (["stauts"], ["upcoming", "0"], ["pause", "--for", "2x"], ["failed", "--status",
                                                                            "sent"],
                 ["redrive"], ["redrive", "k", "--status", "dead"], ["--port", "99999", "status"]):
        p = subprocess.run([CTL, "--port", str(node.console_port), *args], capture_output=True,
                           text=True, timeout=10)
        check(p.returncode == 2 and p.stderr.strip(), f"{args}: exit {p.returncode} {p.stderr}")


class Tmux:
    def __init__(self, cmd, home):
        self.name = f"candlectl-{os.getpid()}"
        self.done = os.path.join(home, "exit")
        shell = f"HOME={home} {cmd}; echo $? > {self.done}"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", "160", "-y", "50",
                        shell], check=True)

    def keys(self, *k):
        subprocess.run(["tmux", "send-keys", "-t", self.name, *k], check=True)

    def screen(self):
        p = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name, "-S", "-200"],
                           capture_output=True, text=True)
        return p.stdout

    def close(self):
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def test_interactive_under_tmux(node):
    home = tempfile.mkdtemp(prefix="candlectl-home-")
    t = Tmux(f"{CTL} --port {node.console_port}", home)
    try:
        wait_for(lambda: "candle 127.0.0.1" in t.screen(), 10, "the prompt")
        t.keys("status", "Enter")
        wait_for(lambda: t.screen().count("breaker") == 1, 10, "status output")
        t.keys("Up", "Enter")  # history: status again
        wait_for(lambda: t.screen().count("breaker") == 2, 10, "status recalled from history")
        t.keys("upc", "Tab")  # completes to "upcoming "
        wait_for(lambda: "> upcoming" in t.screen(), 10, "completion of upc")
        t.keys("3", "Enter")
        wait_for(lambda: "DUE (UTC)" in t.screen() or "no upcoming greetings" in t.screen(), 10,
                 "upcoming output")
        t.keys("help", "Enter")
        wait_for(lambda: "redrive --status" in t.screen(), 10, "help")
        t.keys("nonsense", "Enter")
        wait_for(lambda: "unknown command" in t.screen(), 10, "an error, and the prompt again")
        t.keys("C-d")
        wait_for(lambda: os.path.exists(t.done) and open(t.done).read().strip(), 10, "exit")
        check(open(t.done).read().strip() == "0", f"exit {open(t.done).read()}")
        hist = open(os.path.join(home, ".candlectl_history")).read()
        check("status" in hist and "upcoming" in hist and "help" in hist, f"history {hist!r}")
    except Exception:
        print("--- tmux screen ---\n" + t.screen())
        raise
    finally:
        t.close()
        shutil.rmtree(home, ignore_errors=True)


def main():
    with MockProvider(MOCK, f"--reject-suffix={BOUNCE}") as mock:
        with Node(CANDLED, mock, "2027-03-01T00:00:00Z", "--schedule.recovery-window=2h",
                  "--email.breaker-threshold=1000", "--schedule.claim-ahead=0s",
                  partitions=8, console_port=free_port()) as node:
            setup(node)
            run_tests(node, [test_status_nodes_partitions, test_user_by_id_and_email,
                             test_upcoming_and_failed, test_bulk_redrive_dry_run_then_real,
                             test_redrive_one_key, test_pause_for_lifts_itself,
                             test_pause_survives_a_restart, test_stopped_node_and_closed_port,
                             test_bad_usage, test_interactive_under_tmux])


if __name__ == "__main__":
    main()
