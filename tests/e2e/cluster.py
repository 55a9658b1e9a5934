#!/usr/bin/env python3
"""Multi-node end to end: real candled processes on loopback sharing one
PostgreSQL (candle-pg) and the mock provider. Phases on one cluster, each a
burst of greetings due at one instant on its own day:

  three nodes own 85/86 partitions each; kill -9 of a node mid-burst (every
  key delivered, re-sends bounded by the in-flight bound); a fourth node
  joining mid-burst (shares rebalance, nothing twice or missing); SIGSTOP of a
  node past its lease TTL mid-burst (the others deliver everything, and it
  sends nothing after SIGCONT); SIGTERM mid-burst (nothing twice); updates and
  deletes sent to nodes that do not own the user's partition (exact greetings);
  candlectl through one node shows both, finds a user the other owns, and
  pauses the whole cluster.

Usage: cluster.py BUILD_DIR
"""
import collections
import datetime
import concurrent.futures
import os
import json
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import Cluster, client_for, console, partition_of, wait_for  # noqa: E402
from e2e_lib import Failure, _run, check  # noqa: E402

PARTITIONS = 256
TTL_S = 5
IN_FLIGHT = 64
# What one node can have sent and not recorded, so what its successors may
# re-send (actors/delivery.hpp): twice the in-flight bound less one delivery
# chunk (half the in-flight bound here).
IN_DOUBT = 2 * IN_FLIGHT - IN_FLIGHT // 2
NODE_ARGS = ["--clock.mode=simulated", "--clock.start=2027-07-01T00:00:00Z", "--clock.speed=0",
             f"--cluster.lease-ttl={TTL_S}s", f"--email.max-in-flight={IN_FLIGHT}",
             f"--schedule.partitions={PARTITIONS}", "--log.level=info"]
MOCK_ARGS = ["--latency", "10-30"]

def create_users(cluster, n, day, tag, zone="UTC"):
    """n users born on 1990-07-{day} in `zone`, created through every live
    node in turn (most writes land on a node that does not own the user)."""
    nodes = cluster.live()

    def one(i):
        node = nodes[i % len(nodes)]
        body = {"firstName": f"F{i}", "lastName": tag, "email": f"{tag}-{i}@example.com",
                "timezone": zone, "birthdayDate": f"1990-07-{day:02d}"}
        r = client_for(node).req("POST", "/api/v1/users", body)
        check(r.status == 201, f"create via {node.name}: {r.status} {r.text}")
        return r.json()["data"]["id"]

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        return list(pool.map(one, range(n)))


def keys_of(ids):
    return {f"{i}:birthday:2027" for i in ids}


def move_clock(cluster, iso):
    node = cluster.any()
    r = node.req("PUT", "/api/v1/admin/clock", {"now": iso})
    check(r.status == 200, f"clock to {iso} via {node.name}: {r.status} {r.text}")
    # The clock is the cluster's: every node reads it now.
    for n in cluster.live():
        got = n.req("GET", "/api/v1/admin/clock").json()["data"]["now"]
        check(iso_ms(got) >= iso_ms(iso), f"{n.name} clock {got} < {iso}")


def sends(cluster):
    return cluster.mock.requests()


def counted(cluster, keys):
    c = collections.Counter(r["key"] for r in sends(cluster))
    return {k: c[k] for k in keys}


def wait_delivered(cluster, keys, timeout=90):
    """Every key sent. The clock is frozen at the burst's instant, so a
    greeting that got a transient failure (its retry is due a second later
    on the engine clock) would wait for the next phase's clock move: after
    15 s, time is let pass, a simulated second per real second, as it would."""
    start, nudged = time.time(), 0
    def done():
        nonlocal nudged
        if all(v > 0 for v in counted(cluster, keys).values()):
            return True
        if time.time() - start > 15 + nudged:
            nudged += 1
            node = cluster.any()
            now = node.req("GET", "/api/v1/admin/clock").json()["data"]["now"]
            later = datetime.datetime.fromisoformat(now.replace("Z", "+00:00")) + \
                datetime.timedelta(seconds=1)
            node.req("PUT", "/api/v1/admin/clock", {"now": later.isoformat().replace("+00:00", "Z")})
        return False
    try:
        wait_for(done, timeout, f"all {len(keys)} greetings delivered")
    except Failure:
        describe_missing(cluster, [k for k, v in counted(cluster, keys).items() if v == 0])
        raise
    if nudged:
        print(f"    (the clock was moved {nudged} s for retries to come due)", flush=True)
    return counted(cluster, keys)


def resent(counts):
    return sum(v - 1 for v in counts.values() if v > 1)


def start_burst(cluster, day, n, tag):
    ids = create_users(cluster, n, day, tag)
    cluster.mock.client.req("DELETE", "/requests")
    move_clock(cluster, f"2027-07-{day:02d}T09:00:00Z")
    return keys_of(ids)


def when_sent(cluster, n, timeout=60):
    wait_for(lambda: cluster.mock.stats()["total"] >= n, timeout, f"{n} sends")


def describe_missing(cluster, missing):
    """What a timed-out wait leaves to explain it: how many greetings never
    reached the provider, and for a few of them the owner of their
    partition and the node's view of that partition."""
    print(f"    {len(missing)} greetings never sent", flush=True)
    try:
        view = cluster.any().cluster()
        for key in missing[:5]:
            p = partition_of(key.split(":")[0], PARTITIONS)
            print(f"    {key}: partition {p}: {view['partitions'][p]}", flush=True)
        for status in ("claimed", "retrying", "dead"):
            r = cluster.any().req("GET", f"/api/v1/greetings?status={status}&limit=5")
            print(f"    records {status}: {r.text[:400]}", flush=True)
    except Exception as e:  # the description must not hide the failure
        print(f"    (could not describe: {e})", flush=True)


def no_record_left(cluster, status):
    r = cluster.any().req("GET", f"/api/v1/greetings?status={status}&limit=1")
    return r.status == 200 and not r.json()["data"]["greetings"]


def main():
    build = sys.argv[1]
    with Cluster(build, NODE_ARGS, MOCK_ARGS) as cluster:
        def three_nodes_share_the_partitions():
            for _ in range(3):
                cluster.add()
            cluster.wait_balanced(["node-1", "node-2", "node-3"], PARTITIONS)
            shares, _ = cluster.shares()
            check(sorted(shares.values()) == [85, 85, 86], f"shares {shares}")
            for n in cluster.live():
                wait_for(lambda n=n: n.req("GET", "/readyz").status == 200, 10,
                         f"{n.name} ready")

        def kill_9_mid_burst():
            keys = start_burst(cluster, 5, 3000, "kill")
            when_sent(cluster, 600)
            cluster.nodes["node-2"].stop(signal.SIGKILL)
            counts = wait_delivered(cluster, keys)
            n = resent(counts)
            print(f"    kill -9: {len(keys)} delivered, {n} re-sent with the same key "
                  f"(bound {IN_DOUBT})", flush=True)
            check(n <= IN_DOUBT, f"{n} re-sends > {IN_DOUBT}")
            cluster.wait_balanced(["node-1", "node-3"], PARTITIONS)
            wait_for(lambda: no_record_left(cluster, "claimed"), 30, "no claimed record left")

        def a_node_joining_mid_burst():
            keys = start_burst(cluster, 6, 2000, "join")
            when_sent(cluster, 400)
            cluster.add()  # node-4
            counts = wait_delivered(cluster, keys)
            check(resent(counts) == 0, f"{resent(counts)} greetings sent twice")
            cluster.wait_balanced(["node-1", "node-3", "node-4"], PARTITIONS)

        def sigstop_past_the_lease_mid_burst():
            keys = start_burst(cluster, 7, 3000, "stop")
            when_sent(cluster, 600)
            paused = cluster.nodes["node-3"]
            paused.send(signal.SIGSTOP)
            stopped_at = time.time()
            try:
                counts = wait_delivered(cluster, keys, TTL_S + 60)
                # Taken over within the TTL plus a few seconds (contract.md).
                wait_for(lambda: cluster.balanced(["node-1", "node-4"], PARTITIONS),
                         max(1.0, stopped_at + TTL_S + 8 - time.time()), "the others to take over")
                wait_for(lambda: time.time() - stopped_at > TTL_S + 2, TTL_S + 5,
                         "the TTL to pass")
            finally:
                resumed_ms = int(time.time() * 1000)
                paused.send(signal.SIGCONT)
            n = resent(counts)
            print(f"    SIGSTOP: {len(keys)} delivered by the others, {n} re-sent "
                  f"(bound {IN_DOUBT})", flush=True)
            check(n <= IN_DOUBT, f"{n} re-sends > {IN_DOUBT}")
            # It comes back, is given its share again, and never sent after SIGCONT.
            cluster.wait_balanced(["node-1", "node-3", "node-4"], PARTITIONS)
            late = [r for r in sends(cluster) if "(node node-3)" in r.get("agent", "")
                    and iso_ms(r["at"]) >= resumed_ms]
            check(not late, f"node-3 sent {len(late)} greetings after SIGCONT: {late[:3]}")
            check(resent(counted(cluster, keys)) == n, "greetings re-sent after SIGCONT")

        def sigterm_mid_burst():
            keys = start_burst(cluster, 8, 2000, "term")
            when_sent(cluster, 400)
            leaving = cluster.nodes["node-1"]
            leaving.send(signal.SIGTERM)
            wait_for(lambda: not leaving.alive(), 30, "node-1 to exit")
            counts = wait_delivered(cluster, keys)
            check(resent(counts) == 0, f"{resent(counts)} greetings sent twice after SIGTERM")
            cluster.wait_balanced(["node-3", "node-4"], PARTITIONS)

        def writes_through_nodes_that_do_not_own_the_user():
            ids = create_users(cluster, 30, 9, "edit")
            cluster.mock.client.req("DELETE", "/requests")
            # 20 s before 09:00: every greeting waits in its owner's queue, to
            # be checked against its user's row at its instant.
            move_clock(cluster, "2027-07-09T08:59:40Z")
            deleted, moved, kept = ids[:10], ids[10:20], ids[20:]
            non_owners = 0
            for i in deleted + moved:
                owner = cluster.owner_of(i, PARTITIONS)
                via = cluster.any(but=owner)
                non_owners += via.name != owner
                if i in deleted:
                    r = via.req("DELETE", f"/api/v1/users/{i}")
                else:
                    r = via.req("PUT", f"/api/v1/users/{i}", {"timezone": "Etc/GMT+1"})  # 10:00Z
                check(r.status == 200, f"write via {via.name}: {r.status} {r.text}")
            check(non_owners == 20, f"only {non_owners} of 20 writes went to a non-owner")
            move_clock(cluster, "2027-07-09T09:00:30Z")
            wait_delivered(cluster, keys_of(kept))
            got = set(r["key"] for r in sends(cluster))
            check(not (got & keys_of(deleted)), "a deleted user was greeted")
            check(not (got & keys_of(moved)), "a moved greeting went out at the old instant")
            move_clock(cluster, "2027-07-09T10:00:30Z")
            counts = wait_delivered(cluster, keys_of(moved))
            check(set(counts.values()) == {1}, f"moved greetings not once: {counts}")
            got = collections.Counter(r["key"] for r in sends(cluster))
            check(not (set(got) & keys_of(deleted)), "a deleted user was greeted")
            check(set(got) == keys_of(kept) | keys_of(moved) and set(got.values()) == {1},
                  f"not exactly the expected greetings: {len(got)}")

        def the_console_speaks_for_the_cluster():
            a, b = cluster.nodes["node-3"], cluster.nodes["node-4"]
            n = console(build, a, "nodes")
            check(sorted(x["id"] for x in n["nodes"] if x["live"]) == ["node-3", "node-4"],
                  f"nodes {n['nodes']}")
            p = console(build, a, "partitions")
            check({x["node"] for x in p["partitions"]} == {"node-3", "node-4"}
                  and not p["unreachable"] and all(x["queued"] is not None
                                                   for x in p["partitions"]), f"partitions {p}")
            ids = create_users(cluster, 20, 10, "console")  # due within the look-ahead
            theirs = [i for i in ids if cluster.owner_of(i, PARTITIONS) == "node-4"]
            check(theirs, "no user owned by node-4")
            u = console(build, a, "user", theirs[0])
            check(u["owner"] == "node-4" and u["user"]["id"] == theirs[0], f"user {u}")
            up = console(build, a, "upcoming", "1000")
            mine = [g for g in up["greetings"] if g["key"] in keys_of(ids)]
            check(len(mine) == 20 and {g["node"] for g in mine} == {"node-3", "node-4"},
                  f"upcoming {len(mine)} of 20 from {set(g['node'] for g in mine)}")
            # The pause is the cluster's: asked of one node, the other holds at once.
            console(build, a, "pause", "--for", "1m")
            check(b.req("GET", "/api/v1/admin/delivery").json()["data"]["paused"],
                  "node-4 not paused")
            console(build, b, "resume")
            check(not a.req("GET", "/api/v1/admin/delivery").json()["data"]["paused"],
                  "node-3 still paused")

        phases = [three_nodes_share_the_partitions, kill_9_mid_burst, a_node_joining_mid_burst,
                  sigstop_past_the_lease_mid_burst, sigterm_mid_burst,
                  writes_through_nodes_that_do_not_own_the_user, the_console_speaks_for_the_cluster]
        only = sys.argv[2:]  # for a run by hand: the phases to keep (the first always runs)
        _run([(f.__name__, f) for f in phases
              if not only or f is phases[0] or f.__name__ in only])


def iso_ms(iso):
    t = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int(t.timestamp() * 1000)


if __name__ == "__main__":
    main()
