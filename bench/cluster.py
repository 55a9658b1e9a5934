#!/usr/bin/env python3
"""Cluster benchmark (figures, not a test): real candled processes on
loopback, one PostgreSQL (candle-pg), the mock provider.

  take-over   kill -9 of a node -> every partition owned again (RUNS runs)
  hand-off    SIGTERM of a node -> its partitions owned by the others
  loaded      the same hand-off while a LOADED-greeting burst drains at
              100-200 ms provider latency, email.max-in-flight=32
  rebalance   a node joins -> fair shares again
  routing     REST update latency through the owning node vs another node
  burst       BURST greetings due at one instant with 1, 2 and 3 nodes

Usage: bench/cluster.py BUILD_DIR [--runs N] [--burst N] [--updates N] [--loaded N]
       [--only failover,loaded,routing,burst]
Prints one line per figure; docs/benchmarks.md has a run.
"""
import argparse
import os
import signal
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "e2e"))
from cluster_lib import Cluster, partition_of, wait_for  # noqa: E402
from e2e_lib import check  # noqa: E402

PARTITIONS = 256
ARGS = ["--clock.mode=simulated", "--clock.start=2027-07-01T00:00:00Z", "--clock.speed=0",
        "--log.level=warn"]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def summary(name, xs, unit="s"):
    print(f"{name}: n={len(xs)} p50={pct(xs, 50):.3f}{unit} max={max(xs):.3f}{unit}", flush=True)


def names(cluster):
    return [n.name for n in cluster.live()]


def psql(cluster, sql):
    host = cluster.db.url.split("host=")[1]
    out = subprocess.run(["psql", "-X", "-q", "-At", "-h", host, "-U", "candle", "-d", "candle",
                          "-c", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def fully_owned_without(cluster, gone):
    """Every lease unexpired and held by a node other than `gone`, read from
    PostgreSQL itself (the nodes' views lag by up to a round)."""
    return psql(cluster, "SELECT count(*) FROM partition_leases WHERE owner IS NULL OR"
                f" owner = '{gone}' OR expires_at <= now()") == "0" and psql(
        cluster, "SELECT count(*) FROM partition_leases") == str(PARTITIONS)


def failover(build, runs):
    takeover, handoff, rebalance = [], [], []
    with Cluster(build, ARGS) as c:
        for _ in range(3):
            c.add()
        c.wait_balanced(names(c), PARTITIONS, 120)
        for _ in range(runs):
            victim = c.live()[-1]
            t0 = time.time()
            victim.stop(signal.SIGKILL)
            wait_for(lambda: fully_owned_without(c, victim.name), 60, "take-over")
            takeover.append(time.time() - t0)
            c.wait_balanced(names(c), PARTITIONS, 60)
            t0 = time.time()
            c.add()
            c.wait_balanced(names(c), PARTITIONS, 120)
            rebalance.append(time.time() - t0)
        for _ in range(runs):
            leaving = c.live()[-1]
            t0 = time.time()
            leaving.send(signal.SIGTERM)
            wait_for(lambda: fully_owned_without(c, leaving.name), 60, "hand-off")
            handoff.append(time.time() - t0)
            wait_for(lambda: not leaving.alive(), 60, "exit")
            c.add()
            c.wait_balanced(names(c), PARTITIONS, 120)
    summary("take-over after kill -9 (every partition owned again)", takeover)
    summary("hand-off after SIGTERM (its partitions owned by the others)", handoff)
    summary("rebalance after a join (start of the process to fair shares)", rebalance)


def routing(build, updates):
    with Cluster(build, ARGS) as c:
        for _ in range(3):
            c.add()
        c.wait_balanced(names(c), PARTITIONS, 120)
        nodes = c.live()
        ids = []
        for i in range(updates):
            r = nodes[0].req("POST", "/api/v1/users", {
                "firstName": "R", "lastName": str(i), "email": f"route-{i}@example.com",
                "timezone": "UTC", "birthdayDate": "1990-08-01"})
            check(r.status == 201, r.text)
            ids.append(r.json()["data"]["id"])
        owners = {p["partition"]: p["node"] for p in nodes[0].cluster()["partitions"]}
        by_name = {n.name: n for n in nodes}
        lat = {"owner": [], "non-owner": []}
        for k, i in enumerate(ids):
            owner = owners[partition_of(i, PARTITIONS)]
            other = next(n for n in nodes if n.name != owner)
            for kind, via in (("owner", by_name[owner]), ("non-owner", other)):
                t0 = time.perf_counter()
                r = via.req("PUT", f"/api/v1/users/{i}", {"lastName": f"{kind}{k}"})
                lat[kind].append((time.perf_counter() - t0) * 1000)
                check(r.status == 200, r.text)
        for kind, xs in lat.items():
            print(f"REST update through the {kind}: n={len(xs)} p50={pct(xs, 50):.2f}ms "
                  f"p99={pct(xs, 99):.2f}ms", flush=True)


def burst(build, n, nodes):
    with Cluster(build, ARGS + ["--email.max-in-flight=256"]) as c:
        host = c.db.url.split("host=")[1]
        subprocess.run([sys.executable, os.path.join(here, "..", "tools", "genusers.py"), str(n),
                        "--burst", "2027-07-15T09:00:00Z", f"--partitions={PARTITIONS}",
                        f"--psql=-h {host} -U candle -d candle"], check=True,
                       stdout=subprocess.DEVNULL)
        for _ in range(nodes):
            c.add("--clock.start=2027-07-15T08:58:00Z")
        c.wait_balanced(names(c), PARTITIONS, 180)
        node = c.any()
        t0 = time.time()
        r = node.req("PUT", "/api/v1/admin/clock", {"now": "2027-07-15T09:00:00Z"})
        check(r.status == 200, r.text)
        wait_for(lambda: c.mock.stats()["uniqueKeys"] >= n, 900, "the burst")
        took = time.time() - t0
        dup = c.mock.stats()["duplicates"]
        print(f"burst of {n} with {nodes} node(s): {took:.1f} s, {n / took:.0f}/s, "
              f"duplicates={dup}", flush=True)


def handoff_loaded(build, runs, n):
    """SIGTERM of one of three nodes while a burst of `n` drains through a
    slow provider: until every lease is held by the others (PostgreSQL), the
    node's own hand-off time (its log), and the burst complete once each."""
    took, own = [], []
    for _ in range(runs):
        with Cluster(build, ARGS + ["--email.max-in-flight=32"], ["--latency", "100-200"]) as c:
            host = c.db.url.split("host=")[1]
            subprocess.run([sys.executable, os.path.join(here, "..", "tools", "genusers.py"),
                            str(n), "--burst", "2027-07-15T09:00:00Z",
                            f"--partitions={PARTITIONS}", f"--psql=-h {host} -U candle -d candle"],
                           check=True, stdout=subprocess.DEVNULL)
            for _ in range(3):
                c.add("--clock.start=2027-07-15T08:58:00Z", "--log.level=info")
            c.wait_balanced(names(c), PARTITIONS, 180)
            r = c.any().req("PUT", "/api/v1/admin/clock", {"now": "2027-07-15T09:00:00Z"})
            check(r.status == 200, r.text)
            wait_for(lambda: c.mock.stats()["uniqueKeys"] >= n // 10, 120, "the burst started")
            leaving = c.live()[-1]
            t0 = time.time()
            leaving.send(signal.SIGTERM)
            wait_for(lambda: fully_owned_without(c, leaving.name), 60, "hand-off")
            took.append(time.time() - t0)
            wait_for(lambda: not leaving.alive(), 60, "exit")
            with open(leaving.log_path) as f:
                for line in f:
                    if "event=shutdown.handed_off" in line:
                        own.append(float(line.split(" ms=")[1].split()[0]) / 1000)
            wait_for(lambda: c.mock.stats()["uniqueKeys"] >= n, 300, "the burst")
            dup = c.mock.stats()["duplicates"]
            print(f"  loaded hand-off: {took[-1]:.2f} s until the others own it all; the node"
                  f" handed off in {own[-1] if own else float('nan'):.2f} s; burst complete,"
                  f" duplicates={dup}", flush=True)
    summary(f"hand-off after SIGTERM under a {n} burst (owned by the others)", took)
    if own:
        summary("  of which the leaving node's own hand-off (shutdown.handed_off)", own)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--burst", type=int, default=100000)
    ap.add_argument("--updates", type=int, default=500)
    ap.add_argument("--loaded", type=int, default=3000)
    ap.add_argument("--only", default="failover,routing,burst")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; every process on this machine", flush=True)
    only = a.only.split(",")
    if "failover" in only:
        failover(a.build, a.runs)
    if "loaded" in only:
        handoff_loaded(a.build, a.runs, a.loaded)
    if "routing" in only:
        routing(a.build, a.updates)
    if "burst" in only:
        for k in (1, 2, 3):
            burst(a.build, a.burst, k)


if __name__ == "__main__":
    main()
