#!/usr/bin/env python3
"""Acknowledged writes are greeted whatever happens to the messages that tell
their owner (docs/cluster.md, "Acknowledged writes"). Three candled on one
PostgreSQL with leases that outlive the faults, so no take-over loads what
was missed: only the change feed and the instant's re-checks can.

  an owner SIGSTOPped for 6 s while users are created, deleted and moved
  through the other two nodes; a user written by SQL alone, with no message
  to anyone, and a user deleted by SQL just before their greeting's
  instant; every CAF link between the nodes cut for 12 s (nftables drops the
  cluster ports on loopback; each node still reaches PostgreSQL, the clients
  and the provider) while writes go through all three; writes during a
  kill -9 take-over and during a SIGTERM hand-off, the provider resetting a
  tenth of its connections. Last, the database goes away and the nodes are
  stopped: each exits within its bound (at once on a second signal).

Each phase ends with: every acknowledged create greeted exactly once, no
deleted user greeted, every moved user greeted once at the new zone's 09:00
and not at the old one's, and `candlectl audit` empty.

Usage: convergence.py BUILD_DIR [PHASE ...]
"""
import collections
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import Cluster, client_for, console, partition_of, wait_for  # noqa: E402
from e2e_lib import Failure, _run, check  # noqa: E402

PARTITIONS = 64
TTL_S = 20  # longer than every fault here: the owners keep their leases
NODE_ARGS = ["--clock.mode=simulated", "--clock.start=2027-07-01T00:00:00Z", "--clock.speed=0",
             f"--cluster.lease-ttl={TTL_S}s", "--email.max-in-flight=64",
             f"--schedule.partitions={PARTITIONS}", "--log.level=info"]
MOCK_ARGS = ["--latency", "2-8"]
# Within this of a write's acknowledgement its owner has it (docs/cluster.md):
# a notification read at once, at the latest the poll every third of the TTL.
BOUND_S = TTL_S / 3 + 5

def key(user_id):
    return f"{user_id}:birthday:2027"


class Writes:
    """Writes through the given nodes from many threads; each acknowledged
    (2xx) one is remembered: created ids, deleted ids, moved ids."""

    def __init__(self, nodes, day, tag):
        self.nodes, self.day, self.tag = nodes, day, tag
        self.created, self.deleted, self.moved = [], [], []
        self.lock = threading.Lock()

    def _via(self, i):
        return client_for(self.nodes[i % len(self.nodes)])

    def create(self, i):
        body = {"firstName": f"F{i}", "lastName": self.tag, "email": f"{self.tag}-{i}@example.com",
                "timezone": "UTC", "birthdayDate": f"1990-07-{self.day:02d}"}
        r = self._via(i).req("POST", "/api/v1/users", body)
        check(r.status == 201, f"create {i}: {r.status} {r.text}")
        with self.lock:
            self.created.append(r.json()["data"]["id"])

    def delete(self, i, user_id):
        r = self._via(i).req("DELETE", f"/api/v1/users/{user_id}")
        check(r.status == 200, f"delete {user_id}: {r.status} {r.text}")
        with self.lock:
            self.deleted.append(user_id)

    def move(self, i, user_id):
        # 09:00 at UTC-1 is 10:00Z.
        r = self._via(i).req("PUT", f"/api/v1/users/{user_id}", {"timezone": "Etc/GMT+1"})
        check(r.status == 200, f"move {user_id}: {r.status} {r.text}")
        with self.lock:
            self.moved.append(user_id)

    def run(self, creates, deletes=(), moves=(), threads=16):
        jobs = [(self.create, (i,)) for i in range(creates)]
        jobs += [(self.delete, (i, u)) for i, u in enumerate(deletes)]
        jobs += [(self.move, (i, u)) for i, u in enumerate(moves)]
        jobs.sort(key=lambda j: j[1][0])  # interleaved
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            for f in [pool.submit(fn, *args) for fn, args in jobs]:
                f.result()


def move_clock(cluster, iso, speed=0):
    node = cluster.any()
    r = node.req("PUT", "/api/v1/admin/clock", {"now": iso, "speed": speed})
    check(r.status == 200, f"clock to {iso}: {r.status} {r.text}")


def sent(cluster):
    return collections.Counter(r["key"] for r in cluster.mock.requests())


def greeted_exactly(cluster, day, expected_9, deleted, moved, speed=0):
    """At 09:00Z of `day` the created (less deleted and moved) are greeted
    once and nobody else of theirs; at 10:00Z the moved ones once. With
    `speed`, the clock runs from there (retries come due)."""
    move_clock(cluster, f"2027-07-{day:02d}T09:00:30Z", speed)
    want = {key(u) for u in expected_9}
    try:
        wait_for(lambda: want <= set(sent(cluster)), 60, f"{len(want)} greetings at 09:00")
    except Failure:
        missing = want - set(sent(cluster))
        print(f"    {len(missing)} never greeted, e.g. {sorted(missing)[:3]}", flush=True)
        for m in sorted(missing)[:3]:
            uid = m.split(":")[0]
            r = cluster.any().req("GET", f"/api/v1/greetings?status=claimed&limit=3")
            print(f"    {m}: partition {partition_of(uid, PARTITIONS)}, owner "
                  f"{cluster.owner_of(uid, PARTITIONS)}; claimed: {r.text[:300]}", flush=True)
        raise
    time.sleep(2)  # anything wrongly sent at 09:00 has had time to arrive
    got = sent(cluster)
    check(not ({key(u) for u in deleted} & set(got)), "a deleted user was greeted")
    early = {key(u) for u in moved} & set(got)
    check(not early, f"{len(early)} moved users greeted at the old zone's 09:00")
    move_clock(cluster, f"2027-07-{day:02d}T10:00:30Z", speed)
    want_10 = {key(u) for u in moved}
    wait_for(lambda: want_10 <= set(sent(cluster)), 60, f"{len(want_10)} greetings at 10:00")
    time.sleep(1)
    got = sent(cluster)
    mine = {k: v for k, v in got.items() if k in want | want_10}
    twice = {k: v for k, v in mine.items() if v > 1}
    check(not twice, f"{len(twice)} greeted more than once: {list(twice.items())[:3]}")
    check(set(mine) == want | want_10, "not exactly the expected greetings")
    check(not ({key(u) for u in deleted} & set(got)), "a deleted user was greeted")
    r = cluster.any().req("PUT", "/api/v1/admin/clock", {"speed": 0})  # frozen again
    check(r.status == 200, f"freezing the clock: {r.status} {r.text}")
    return len(mine)


def audit_is_empty(build, cluster):
    """Clean through every node. After a fault the nodes may still be
    reconnecting to each other (backoff up to 10 s): an owner not reached
    yet is waited for, not a finding; anything found is."""
    for node in cluster.live():
        last = {}

        def clean():
            last["doc"] = doc = console(build, node, "audit", ok=(0, 1))
            check(not doc["unscheduled"] and not doc["unowned"],
                  f"audit through {node.name}: {json.dumps(doc)[:600]}")
            return doc["clean"] and not doc["unreachable"]
        try:
            wait_for(clean, 30, f"a complete audit through {node.name}")
        except Failure:
            print(f"    last audit: {json.dumps(last.get('doc'))[:600]}", flush=True)
            raise


def repairs(cluster):
    total = 0.0
    for n in cluster.live():
        for line in n.req("GET", "/metrics").text.splitlines():
            if line.startswith("candle_reconcile_repairs_total{"):
                total += float(line.split()[-1])
    return total


def psql(cluster, sql):
    p = subprocess.run(["psql", cluster.db.url, "-v", "ON_ERROR_STOP=1", "-qtAc", sql],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, f"psql: {p.stderr}")
    return p.stdout.strip()


class LinksCut:
    """Drops every packet to or from the nodes' cluster ports (loopback) while
    in effect: nftables, a table of its own, removed on exit."""

    def __init__(self, ports):
        self.ports = ", ".join(str(p) for p in ports)
        self.table = f"candle_cut_{os.getpid()}"

    def _nft(self, script):
        p = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True)
        check(p.returncode == 0, f"nft: {p.stderr}")

    def __enter__(self):
        self._nft(f"table inet {self.table} {{\n"
                  "  chain out { type filter hook output priority 0; policy accept;\n"
                  f"    tcp dport {{ {self.ports} }} drop\n"
                  f"    tcp sport {{ {self.ports} }} drop\n"
                  "  }\n}\n")
        return self

    def __exit__(self, *exc):
        self._nft(f"delete table inet {self.table}\n")


def main():
    build = sys.argv[1]
    with Cluster(build, NODE_ARGS, MOCK_ARGS) as cluster:
        def three_nodes():
            for _ in range(3):
                cluster.add()
            cluster.wait_balanced(["node-1", "node-2", "node-3"], PARTITIONS)
            for n in cluster.live():
                wait_for(lambda n=n: n.req("GET", "/readyz").status == 200, 20, f"{n.name} ready")

        def writes_while_an_owner_is_stopped():
            day = 11
            move_clock(cluster, f"2027-07-{day - 1:02d}T12:00:00Z")
            base = Writes(cluster.live(), day, "base")
            base.run(150)
            stopped = cluster.nodes["node-3"]
            others = [cluster.nodes["node-1"], cluster.nodes["node-2"]]
            w = Writes(others, day, "stop")
            doomed, moving = base.created[:100], base.created[100:130]
            stopped.send(signal.SIGSTOP)
            started = time.time()
            try:
                writer = threading.Thread(target=w.run, args=(600, doomed, moving))
                writer.start()
                writer.join(max(0.0, 6 - (time.time() - started)))
            finally:
                stopped.send(signal.SIGCONT)
            writer.join(120)
            check(not writer.is_alive(), "writes did not finish")
            check(len(w.created) == 600 and len(w.deleted) == 100 and len(w.moved) == 30,
                  f"acknowledged: {len(w.created)} creates, {len(w.deleted)} deletes, "
                  f"{len(w.moved)} moves")
            expected = [u for u in base.created + w.created if u not in doomed and u not in moving]
            n = greeted_exactly(cluster, day, expected, w.deleted, w.moved)
            print(f"    SIGSTOP 6 s: {n} greetings, each once; 100 deleted, 30 moved", flush=True)
            audit_is_empty(build, cluster)

        def users_written_by_sql_alone():
            day = 12
            move_clock(cluster, f"2027-07-{day - 1:02d}T12:00:00Z")
            uid = str(uuid.uuid4())
            p = partition_of(uid, PARTITIONS)
            psql(cluster, "INSERT INTO users (id, first_name, last_name, email, timezone,"
                 " birthday_date, partition, created_at, updated_at) VALUES"
                 f" ('{uid}', 'By', 'Hand', 'by-hand@example.com', 'UTC', '1990-07-{day}',"
                 f" {p}, '2027-01-01', '2027-01-01')")
            r = cluster.any().req("GET", f"/api/v1/users/{uid}")
            check(r.status == 200, f"the user by SQL: {r.status}")
            # The second, created through the API, is queued by its owner and
            # then deleted by SQL alone just before its instant: the check at
            # the instant reads the row, whatever the owner was told.
            w = Writes(cluster.live(), day, "sql")
            w.run(1)
            gone = w.created[0]
            # Both scheduled by their owners within the bound, with no message.
            wait_for(lambda: all(
                any(g["key"] == key(u) for g in console(build, cluster.any(), "upcoming",
                                                        "1000")["greetings"])
                for u in (uid, gone)), BOUND_S, "both users in their owner's queue")
            move_clock(cluster, f"2027-07-{day:02d}T08:59:40Z")
            psql(cluster, f"UPDATE users SET deleted_at = now() WHERE id = '{gone}'")
            greeted_exactly(cluster, day, [uid], [gone], [])

        def links_cut_between_nodes():
            day = 13
            move_clock(cluster, f"2027-07-{day - 1:02d}T12:00:00Z")
            base = Writes(cluster.live(), day, "cutbase")
            base.run(150)
            w = Writes(cluster.live(), day, "cut")
            doomed, moving = base.created[:100], base.created[100:150]
            ports = [n.cluster_port for n in cluster.live()]
            with LinksCut(ports):
                started = time.time()
                writer = threading.Thread(target=w.run, args=(300, doomed, moving))
                writer.start()
                writer.join(max(0.0, 12 - (time.time() - started)))
                time.sleep(max(0.0, 12 - (time.time() - started)))
            writer.join(120)
            check(not writer.is_alive(), "writes did not finish")
            check(len(w.created) == 300 and len(w.deleted) == 100 and len(w.moved) == 50,
                  f"acknowledged: {len(w.created)}, {len(w.deleted)}, {len(w.moved)}")
            expected = [u for u in base.created + w.created if u not in doomed and u not in moving]
            n = greeted_exactly(cluster, day, expected, w.deleted, w.moved)
            print(f"    links cut 12 s: {n} greetings, each once; 100 deleted, 50 moved; "
                  f"repairs {repairs(cluster):.0f}", flush=True)
            audit_is_empty(build, cluster)

        def writes_during(day, tag, fault, via, restart):
            """Writes through `via` while `fault()` runs, with the provider
            resetting a tenth of its connections; `restart` brings the node back."""
            move_clock(cluster, f"2027-07-{day - 1:02d}T12:00:00Z")
            base = Writes(cluster.live(), day, f"{tag}base")
            base.run(100)
            cluster.mock.control({"resetRate": 0.1})
            w = Writes(via, day, tag)
            doomed, moving = base.created[:40], base.created[40:70]
            writer = threading.Thread(target=w.run, args=(300, doomed, moving))
            writer.start()
            fault()
            writer.join(120)
            check(not writer.is_alive(), "writes did not finish")
            check(len(w.created) == 300 and len(w.deleted) == 40 and len(w.moved) == 30,
                  f"acknowledged: {len(w.created)}, {len(w.deleted)}, {len(w.moved)}")
            restart()
            cluster.wait_balanced(["node-1", "node-2", "node-3"], PARTITIONS)
            expected = [u for u in base.created + w.created if u not in doomed and u not in moving]
            n = greeted_exactly(cluster, day, expected, w.deleted, w.moved, speed=1)
            resets = cluster.mock.stats()["resets"]
            cluster.mock.control({"resetRate": 0})
            print(f"    {tag}: {n} greetings, each once; 40 deleted, 30 moved; "
                  f"{resets} connections reset", flush=True)
            check(resets > 0, "the provider reset no connection")
            audit_is_empty(build, cluster)

        def writes_during_a_kill_9_take_over():
            victim = cluster.nodes["node-3"]
            writes_during(14, "kill", lambda: (time.sleep(0.5), victim.stop(signal.SIGKILL)),
                          [cluster.nodes["node-1"], cluster.nodes["node-2"]], victim.start)

        def writes_during_a_sigterm_hand_off():
            leaving = cluster.nodes["node-1"]
            writes_during(15, "term", lambda: (time.sleep(0.5), leaving.stop(signal.SIGTERM)),
                          [cluster.nodes["node-2"], cluster.nodes["node-3"]], leaving.start)

        def redrives_while_links_are_cut():
            # Dead greetings redriven through a node that is not their owner
            # while every CAF link is cut: the redrive's tell is lost, its
            # notification wakes the owner's sweep, each is sent once.
            day = 16
            move_clock(cluster, f"2027-07-{day - 1:02d}T12:00:00Z")
            w = Writes(cluster.live(), day, "redrive")
            w.run(30)
            keys = [key(u) for u in w.created]
            in_keys = ", ".join(f"'{k}'" for k in keys)
            cluster.mock.control({"rejectSuffix": "@example.com"})  # only these are due
            move_clock(cluster, f"2027-07-{day:02d}T09:00:30Z")
            wait_for(lambda: psql(cluster, "SELECT count(*) FROM send_records WHERE status ="
                                  f" 'dead' AND idempotency_key IN ({in_keys})") == "30", 30,
                     "30 dead greetings")
            cluster.mock.control({"rejectSuffix": ""})
            owners = {u: cluster.owner_of(u, PARTITIONS) for u in w.created}
            before = repairs(cluster)
            with LinksCut([n.cluster_port for n in cluster.live()]):
                def redrive(u):
                    via = cluster.any(but=owners[u])
                    r = client_for(via).req("POST", f"/api/v1/greetings/{key(u)}/redrive")
                    check(r.status == 202, f"redrive {key(u)}: {r.status} {r.text}")
                with concurrent.futures.ThreadPoolExecutor(16) as pool:
                    for f in [pool.submit(redrive, u) for u in w.created]:
                        f.result()
                # Sent by the owners while the links are still cut: the
                # durable path alone.
                wait_for(lambda: set(keys) <= set(sent(cluster)), BOUND_S,
                         "30 redriven greetings sent")
            time.sleep(1)
            got = sent(cluster)
            twice = {k: got[k] for k in keys if got[k] != 1}
            check(not twice, f"redriven greetings sent other than once: {twice}")
            print(f"    redrives with links cut: 30 sent once; repairs "
                  f"{repairs(cluster) - before:.0f}", flush=True)
            audit_is_empty(build, cluster)

        def shutdown_without_a_database_is_bounded():
            # The database goes first (as Ctrl-C on scripts/cluster does):
            # no lease can be released, no outcome written. One node gets
            # SIGTERM and must exit within the hand-off timeout (email.timeout
            # 10 s + 10 s) plus one lease TTL; another gets a second SIGTERM
            # and must exit at once.
            bound = 10 + 10 + TTL_S
            patient, hasty = cluster.nodes["node-2"], cluster.nodes["node-3"]
            started = time.time()
            # All at once, as a terminal's Ctrl-C signals the process group.
            cluster.db.proc.send_signal(signal.SIGTERM)
            patient.send(signal.SIGTERM)
            hasty.send(signal.SIGTERM)
            time.sleep(1)
            hasty.send(signal.SIGTERM)
            hasty.proc.wait(5)
            check(hasty.proc.returncode in (0, 3), f"hasty exit status {hasty.proc.returncode}")
            patient.proc.wait(bound + 10)
            took = time.time() - started
            check(patient.proc.returncode in (0, 3), f"exit status {patient.proc.returncode}")
            print(f"    without a database: exited after {took:.1f} s (bound {bound} s), status "
                  f"{patient.proc.returncode}; after a second signal: status "
                  f"{hasty.proc.returncode}", flush=True)
            cluster.nodes["node-1"].stop(signal.SIGKILL)
            cluster.db.proc.wait(60)

        phases = [three_nodes, writes_while_an_owner_is_stopped, users_written_by_sql_alone,
                  links_cut_between_nodes, writes_during_a_kill_9_take_over,
                  writes_during_a_sigterm_hand_off, redrives_while_links_are_cut,
                  shutdown_without_a_database_is_bounded]
        only = sys.argv[2:]
        _run([(f.__name__, f) for f in phases
              if not only or f is phases[0] or f.__name__ in only])


if __name__ == "__main__":
    main()
