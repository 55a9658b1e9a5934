"""A local cluster for the multi-node tests and scripts/cluster: one
PostgreSQL (candle-pg), the mock provider, several candled on loopback sharing
it through db.url. Everything waits on conditions, never on fixed sleeps.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from e2e_lib import Client, Failure, MockProvider, _wait_line, check, wait_for  # noqa: F401


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_local = threading.local()


def client_for(node):
    """A client of `node` for this thread (clients are not shared between
    the threads of a pool)."""
    clients = getattr(_local, "clients", None)
    if clients is None:
        clients = _local.clients = {}
    if node.name not in clients:
        clients[node.name] = Client(node.client.host, node.client.port)
    return clients[node.name]


def console(build, node, *args, ok=(0,)):
    """candlectl --json ARGS against a node's console; the document. `ok`:
    the exit statuses that still carry a document (audit exits 1 when it
    finds anything)."""
    p = subprocess.run([os.path.join(build, "tools", "candlectl"), "--port",
                        str(node.console_port), "--json", *args],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode in ok, f"candlectl {args} via {node.name}: {p.returncode} {p.stdout}"
                              f" {p.stderr}")
    return json.loads(p.stdout)


def partition_of(user_id, partitions):
    """core/partition.hpp: FNV-1a of the id, modulo the partition count."""
    h = 14695981039346656037
    for c in user_id.encode():
        h ^= c
        h = (h * 1099511628211) % (1 << 64)
    return h % partitions


class Database:
    """candle-pg in a scratch directory."""

    def __init__(self, path):
        self.path = path
        self.work = tempfile.mkdtemp(prefix="candle-cluster-")
        os.chmod(self.work, 0o755)

    def __enter__(self):
        self.proc = subprocess.Popen([self.path, os.path.join(self.work, "pg")],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = _wait_line(self.proc, r"url=(\S+)", "candle-pg", 90).group(1)
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if os.environ.get("KEEP_CLUSTER"):
            print(f"kept {self.work}")
            return
        loc = os.path.join(self.work, "pg", "cluster-location")
        if os.path.exists(loc):
            shutil.rmtree(open(loc).read().strip(), ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)


class ClusterNode:
    def __init__(self, candled, name, db_url, email_url, args, log_dir):
        self.candled, self.name = candled, name
        self.db_url, self.email_url, self.args = db_url, email_url, list(args)
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.proc = None

    def start(self):
        self.cluster_port = free_port()
        self.console_port = free_port()
        cmd = [self.candled, "--http.port=0", f"--console.port={self.console_port}",
               f"--cluster.port={self.cluster_port}", f"--cluster.node-id={self.name}",
               f"--db.url={self.db_url}", f"--email.url={self.email_url}", *self.args]
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        m = _wait_line(self.proc, r"rest=http://([0-9.]+):(\d+)", self.name, 60)
        self.startup_line = m.string
        self.client = Client(m.group(1), int(m.group(2)))
        self.rest = f"http://{m.group(1)}:{m.group(2)}"
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def req(self, method, path, body=None):
        return self.client.req(method, path, body)

    def cluster(self):
        r = self.req("GET", "/api/v1/cluster")
        check(r.status == 200, f"{self.name} /api/v1/cluster: {r.status} {r.text}")
        return r.json()["data"]

    def tail(self, n=30):
        try:
            lines = [x for x in open(self.log_path) if "partition.ready" not in x]
            return "".join(lines[-n:])
        except OSError:
            return ""


class Cluster:
    """candle-pg, the mock provider and nodes named node-1, node-2, ..."""

    def __init__(self, build, node_args=(), mock_args=(), db=None):
        self.build, self.db = build, db  # db: an object like Database (default candle-pg)
        self.node_args, self.mock_args = list(node_args), list(mock_args)
        self.nodes = {}
        self.count = 0

    def __enter__(self):
        self.db = (self.db or Database(os.path.join(self.build, "tools", "candle-pg"))).__enter__()
        self.mock = MockProvider(os.path.join(self.build, "examples", "candle-mock-provider"),
                                 *self.mock_args).__enter__()
        return self

    def __exit__(self, exc_type, *exc):
        failed = exc_type is not None and not (exc_type is SystemExit and not exc[0].code)
        for n in self.nodes.values():
            if n.alive():
                n.send(signal.SIGCONT)
            n.stop(signal.SIGKILL if failed else signal.SIGTERM)
        if failed:
            for n in self.nodes.values():
                print(f"--- {n.name} log (tail, without partition.ready) ---\n{n.tail()}")
        self.mock.__exit__(*exc)
        self.db.__exit__(*exc)

    def add(self, *extra):
        self.count += 1
        name = f"node-{self.count}"
        node = ClusterNode(os.path.join(self.build, "node", "candled"), name, self.db.url,
                           self.mock.url, [*self.node_args, *extra], self.db.work)
        self.nodes[name] = node.start()
        return node

    def live(self):
        return [n for n in self.nodes.values() if n.alive()]

    def any(self, but=None):
        for n in self.live():
            if n is not but and n.name != but:
                return n
        raise Failure("no live node")

    def shares(self, via=None):
        """{node id: partitions owned} of live nodes, and the unowned count, as
        one node sees them."""
        c = (via or self.any()).cluster()
        return {n["id"]: n["partitionsOwned"] for n in c["nodes"] if n["live"]}, c["unowned"]

    def balanced(self, names, partitions):
        """True when exactly `names` are live and each owns its fair share."""
        try:
            shares, unowned = self.shares()
        except Exception:  # noqa: BLE001 - a node may be restarting
            return False
        if unowned or sorted(shares) != sorted(names):
            return False
        lo, hi = partitions // len(names), -(-partitions // len(names))
        return all(lo <= shares[n] <= hi for n in names)

    def wait_balanced(self, names, partitions, timeout=60):
        wait_for(lambda: self.balanced(names, partitions), timeout,
                 f"fair shares over {names}")

    def owner_of(self, user_id, partitions):
        c = self.any().cluster()
        return c["partitions"][partition_of(user_id, partitions)]["node"]
