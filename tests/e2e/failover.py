#!/usr/bin/env python3
"""PostgreSQL fail-over end to end: a primary and a synchronous streaming
standby (Debian's PostgreSQL: initdb, pg_basebackup), two candled sharing them
through a multi-host db.url with target_session_attrs=read-write. A burst is
in progress when the primary is stopped with `-m immediate` and the standby
promoted; another when the (new) primary is gone for longer than the
retries and the lease TTL, then back. Each time: every greeting is sent,
re-sends stay within the in-doubt bound, writes work again within seconds,
nothing is left claimed. The URL's password is never shown.

Usage: failover.py BUILD_DIR
"""
import collections
import concurrent.futures
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import Cluster, free_port, partition_of, wait_for  # noqa: E402
from e2e_lib import Client, Failure, _run, check  # noqa: E402

PARTITIONS = 64
IN_FLIGHT = 32
NODE_ARGS = ["--clock.mode=simulated", "--clock.start=2027-07-01T00:00:00Z", "--clock.speed=0",
             "--cluster.lease-ttl=10s", f"--email.max-in-flight={IN_FLIGHT}",
             f"--schedule.partitions={PARTITIONS}", "--log.level=info"]
MOCK_ARGS = ["--latency", "40-80"]
# Seconds without a primary before the standby is promoted, and of the
# second outage (past the 10 s of retries and the lease TTL).
FAILOVER_GAP_S = float(os.environ.get("FAILOVER_GAP_S", "2"))
DOWN_S = float(os.environ.get("FAILOVER_DOWN_S", "14"))
# How long every greeting of a burst may take to reach the provider after an
# outage (about 7 s here; a run that shows the diagnostics sets it low).
SEND_WAIT_S = float(os.environ.get("FAILOVER_SEND_WAIT_S", "90"))
# What two nodes can have sent and not recorded is what may be re-sent:
# actors/delivery.hpp's in-doubt bound, per node twice the in-flight bound
# less one delivery chunk (half the in-flight bound here). Exact: when
# answers on their way to a partition were counted by nobody, each node
# went about a chunk past it (128-139 here).
CHUNK = IN_FLIGHT // 2
BOUND = 2 * (2 * IN_FLIGHT - CHUNK)
SECRET = "failover-secret-93e1"  # in the URL; trust auth never asks for it


def pg_bin():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                  key=lambda p: int(p.split("/")[-3]))
    if not dirs:
        raise Failure("no PostgreSQL under /usr/lib/postgresql (scripts/setup installs it)")
    return os.path.dirname(dirs[-1])


class StreamingPair:
    """A primary on 127.0.0.1 and a streaming standby it waits for on every
    commit (synchronous_standby_names='*': what an HA setup such as
    pg_auto_failover runs, so a promotion loses no acknowledged commit).
    Servers run as the postgres user when this runs as root."""

    def __init__(self):
        self.bin = pg_bin()
        self.work = tempfile.mkdtemp(prefix="candle-failover-")
        os.chmod(self.work, 0o755)
        self.user = "postgres" if os.geteuid() == 0 else None
        self.ports = {"primary": free_port(), "standby": free_port()}

    def run(self, *args, check_rc=True, timeout=60):
        p = subprocess.run([os.path.join(self.bin, args[0]), *args[1:]], user=self.user,
                           capture_output=True, text=True, timeout=timeout, cwd=self.work)
        if check_rc and p.returncode != 0:
            raise Failure(f"{args[0]} exited {p.returncode}: {p.stdout}{p.stderr}")
        return p.stdout.strip()

    def data(self, name):
        return os.path.join(self.work, name)

    def start(self, name, *settings):
        opts = " ".join(["-c listen_addresses=127.0.0.1", f"-p {self.ports[name]}",
                         "-c unix_socket_directories=''", "-c fsync=off",
                         "-c log_min_messages=warning", *settings])
        self.run("pg_ctl", "-D", self.data(name), "-l", self.data(name) + ".log", "-w", "-t",
                 "60", "-o", opts, "start")

    def stop(self, name):
        """Like a crash: no shutdown checkpoint, connections cut."""
        self.run("pg_ctl", "-D", self.data(name), "-m", "immediate", "stop")

    def sql(self, name, query):
        return self.run("psql", "-h", "127.0.0.1", "-p", str(self.ports[name]), "-U", "candle",
                        "-d", "postgres", "-XAtc", query)

    def __enter__(self):
        try:
            return self._set_up()
        except BaseException:
            self.__exit__()
            raise

    def _set_up(self):
        if self.user:
            shutil.chown(self.work, self.user, self.user)
        self.run("initdb", "-D", self.data("primary"), "-U", "candle", "-A", "trust", "-E",
                 "UTF8", "--locale=C", "--no-instructions")
        self.start("primary")
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.ports["primary"]), "-U",
                 "candle", "candle")
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.ports["primary"]), "-U",
                 "candle", "-D", self.data("standby"), "-R", "-X", "stream", "-c", "fast")
        self.start("standby")
        # Synchronous from now on (set on the primary only: the promoted
        # standby has no standby of its own to wait for).
        self.sql("primary", "ALTER SYSTEM SET synchronous_standby_names = '*'")
        self.sql("primary", "SELECT pg_reload_conf()")
        wait_for(lambda: self.sql("primary", "SELECT sync_state FROM pg_stat_replication")
                 == "sync", 30, "the standby to stream synchronously")
        hosts = ",".join(f"127.0.0.1:{self.ports[n]}" for n in ("primary", "standby"))
        self.url = (f"postgresql://candle:{SECRET}@{hosts}/candle"
                    "?target_session_attrs=read-write&connect_timeout=2")
        return self

    def fail_over(self, gap):
        """The primary dies (no shutdown checkpoint, connections cut); `gap`
        seconds later (a fail-over manager's detection time) the standby is
        promoted; returns when it accepts writes."""
        self.stop("primary")
        time.sleep(gap)
        self.run("pg_ctl", "-D", self.data("standby"), "-w", "-t", "60", "promote")

    def __exit__(self, *exc):
        for name in ("primary", "standby"):
            if os.path.exists(os.path.join(self.data(name), "postmaster.pid")):
                self.run("pg_ctl", "-D", self.data(name), "-m", "immediate", "stop",
                         check_rc=False)
        if os.environ.get("KEEP_CLUSTER"):
            print(f"kept {self.work}")
            return
        shutil.rmtree(self.work, ignore_errors=True)


def create_users(node, n, day):
    """n users born on 1990-07-{day}, created through `node` (4 at a time)."""
    client = threading.local()

    def one(i):
        if not hasattr(client, "c"):
            client.c = Client(node.client.host, node.client.port)
        body = {"firstName": f"F{i}", "lastName": "Failover", "timezone": "UTC",
                "email": f"fo-{day}-{node.name}-{i}@example.com", "birthdayDate": f"1990-07-{day:02d}"}
        r = client.c.req("POST", "/api/v1/users", body)
        check(r.status == 201, f"create via {node.name}: {r.status} {r.text}")
        return r.json()["data"]["id"]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(n)))


def main():
    build = sys.argv[1]
    pair = StreamingPair()
    with Cluster(build, NODE_ARGS, MOCK_ARGS, db=pair) as cluster:
        def two_nodes_on_the_primary():
            a, b = cluster.add(), cluster.add()
            cluster.wait_balanced(["node-1", "node-2"], PARTITIONS)
            for n in (a, b):
                wait_for(lambda n=n: n.req("GET", "/readyz").status == 200, 20,
                         f"{n.name} ready")

        def burst_through(outage, day, what):
            """A 2,000-greeting burst; `outage()` once 300 are sent, returning
            when the database should take writes again."""
            a, b = cluster.nodes["node-1"], cluster.nodes["node-2"]
            ids = create_users(a, 1000, day) + create_users(b, 1000, day)
            keys = {f"{i}:birthday:2027" for i in ids}
            cluster.mock.client.req("DELETE", "/requests")
            r = a.req("PUT", "/api/v1/admin/clock", {"now": f"2027-07-{day:02d}T09:00:00Z"})
            check(r.status == 200, f"clock: {r.status} {r.text}")
            wait_for(lambda: cluster.mock.stats()["total"] >= 300, 60, "the burst under way")
            outage()
            back = time.time()
            before = cluster.mock.stats()["total"]
            check(before < len(keys), f"the burst was over ({before} sent) before the outage")

            # Writes work again: a user created through each node.
            wrote = set()

            def writes():
                for n in (a, b):
                    body = {"firstName": "After", "lastName": n.name, "timezone": "UTC",
                            "email": f"after-{day}-{n.name}@example.org",
                            "birthdayDate": "1990-01-02"}
                    # 409: an earlier try committed without our hearing it.
                    if n.name not in wrote and n.req("POST", "/api/v1/users", body).status in (
                            201, 409):
                        wrote.add(n.name)
                return len(wrote) == 2
            wait_for(writes, 30, "writes after the outage")
            writable = time.time() - back

            def counts():
                c = collections.Counter(x["key"] for x in cluster.mock.requests())
                return {k: c[k] for k in keys}
            try:
                got = wait_for(lambda: (lambda c: c if all(c.values()) else None)(counts()), SEND_WAIT_S,
                               f"all {len(keys)} greetings sent")
            except Failure:
                show_missing([k for k, v in counts().items() if not v])
                raise
            resent = sum(v - 1 for v in got.values() if v > 1)
            print(f"    {what}: {before} of {len(keys)} sent before it, {resent} re-sent with "
                  f"the same key (bound {BOUND}); writes again {writable:.1f} s after",
                  flush=True)
            check(resent <= BOUND, f"{resent} re-sends > {BOUND}")
            wait_for(lambda: all(n.req("GET", "/readyz").status == 200 for n in (a, b)), 30,
                     "both nodes ready again")

            def settled():
                r = a.req("GET", "/api/v1/greetings?status=claimed&limit=1")
                return r.status == 200 and not r.json()["data"]["greetings"]
            wait_for(settled, 30, "no greeting left claimed")

        def show_missing(missing):
            """What the nodes know of greetings never sent: a flake here is
            a lost greeting, so its trail is printed."""
            a = cluster.nodes["node-1"]
            parts = collections.Counter(partition_of(k.split(":")[0], PARTITIONS) for k in missing)
            print(f"    {len(missing)} never sent, by partition: {dict(parts)}", flush=True)
            for n in cluster.nodes.values():
                r = n.req("GET", "/api/v1/cluster")
                print(f"    {n.name} /api/v1/cluster: {r.status} {r.text[:2000]}", flush=True)
            for k in missing[:3]:
                r = a.req("GET", f"/api/v1/greetings/{k}")
                print(f"    {k}: partition {partition_of(k.split(':')[0], PARTITIONS)};"
                      f" GET {r.status} {r.text[:400]}", flush=True)
            for n in cluster.nodes.values():
                wanted = {f"partition={p} " for p in parts} | {f"partition={p}\n" for p in parts}
                lines = [x for x in open(n.log_path)
                         if "partition.ready" not in x and (any(w in x for w in wanted)
                                                            or "level=warning" in x
                                                            or "level=error" in x)]
                print(f"--- {n.name}: warnings and the missing partitions' lines"
                      f" ({len(lines)}, last 80) ---\n{''.join(lines[-80:])}", flush=True)

        def the_primary_dies_mid_burst():
            def fail_over():
                pair.fail_over(FAILOVER_GAP_S)
                check(pair.sql("standby", "SELECT pg_is_in_recovery()") == "f",
                      "standby not promoted")
            burst_through(fail_over, 5, f"fail-over after {FAILOVER_GAP_S:g} s")

        def the_database_gone_past_the_lease_mid_burst():
            # Longer than the 10 s of retries and the lease TTL: partitions
            # give up, fence themselves, and start again when it returns.
            def down_and_back():
                pair.stop("standby")
                time.sleep(DOWN_S)
                pair.start("standby")
            burst_through(down_and_back, 6, f"database down {DOWN_S:g} s")

        def the_password_is_never_shown():
            for n in cluster.nodes.values():
                check(SECRET not in open(n.log_path).read(), f"the password in {n.name}'s log")
                check(SECRET not in n.startup_line, f"the password in {n.name}'s start-up line")
                check(SECRET not in n.req("GET", "/metrics").text, "the password in /metrics")

        _run([(f.__name__, f) for f in (two_nodes_on_the_primary, the_primary_dies_mid_burst,
                                         the_database_gone_past_the_lease_mid_burst,
                                         the_password_is_never_shown)])


if __name__ == "__main__":
    main()
