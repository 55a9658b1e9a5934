#!/usr/bin/env python3
"""Mutual TLS (contract.md "Security"): two nodes with certificates from one
CA form a cluster over TLS (each asks the other's partitions); a node with
another CA's certificate shares the database but no CAF connection (its
peers list it unreachable); the console gets in only with a certificate from
the CA: plain and foreign ones are refused, exit 1.

usage: tls.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import Cluster, wait_for  # noqa: E402
from e2e_lib import _run, check  # noqa: E402

BUILD, SOURCE = sys.argv[1:3]
PARTITIONS = 16
CERTS = tempfile.mkdtemp(prefix="candle-tls-")
OTHER = os.path.join(CERTS, "other")


def tls_args(d, name):
    return [f"--tls.certificate={d}/{name}.pem", f"--tls.key={d}/{name}.key",
            f"--tls.ca={d}/ca.pem"]


def ctl(node, *args, certs=None, name="ctl"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDLE_TLS_")}
    if certs:
        env.update(CANDLE_TLS_CERTIFICATE=f"{certs}/{name}.pem", CANDLE_TLS_KEY=f"{certs}/{name}.key",
                   CANDLE_TLS_CA=f"{certs}/ca.pem")
    return subprocess.run([os.path.join(BUILD, "tools", "candlectl"), "--port",
                           str(node.console_port), "--json", *args],
                          capture_output=True, text=True, timeout=20, env=env)


def main():
    tool = os.path.join(SOURCE, "scripts", "tls-certs")
    subprocess.run([tool, CERTS, "node-1", "node-2", "ctl"], check=True)
    subprocess.run([tool, OTHER, "node-3", "ctl"], check=True)
    args = ["--clock.mode=simulated", "--clock.start=2027-07-01T00:00:00Z", "--clock.speed=0",
            "--cluster.lease-ttl=5s", f"--schedule.partitions={PARTITIONS}"]
    with Cluster(BUILD, args) as cluster:
        def two_nodes_over_tls():
            a = cluster.add(*tls_args(CERTS, "node-1"))
            b = cluster.add(*tls_args(CERTS, "node-2"))
            cluster.wait_balanced(["node-1", "node-2"], PARTITIONS)

            def asked_both():
                p = ctl(a, "partitions", certs=CERTS)
                if p.returncode != 0:
                    return False
                d = json.loads(p.stdout)
                return (not d["unreachable"] and
                        all(x["queued"] is not None for x in d["partitions"]))
            # node-1 reaches node-2's NODE actor over TLS for its partitions.
            wait_for(asked_both, 20, "node-1 to ask node-2's partitions over TLS")
            check(ctl(b, "status", certs=CERTS).returncode == 0, "console over TLS at node-2")

        def the_console_needs_a_certificate_from_the_ca():
            a = cluster.nodes["node-1"]
            for certs, what in [(None, "a plain console"), (OTHER, "another CA's certificate")]:
                p = ctl(a, "status", certs=certs)
                check(p.returncode == 1 and "unreachable" in p.stdout,
                      f"{what}: exit {p.returncode} {p.stdout} {p.stderr}")

        def a_node_with_another_ca_gets_no_connection():
            c = cluster.add(*tls_args(OTHER, "node-3"))
            a = cluster.nodes["node-1"]

            def unreachable():
                p = ctl(a, "partitions", certs=CERTS)
                return p.returncode == 0 and "node-3" in json.loads(p.stdout)["unreachable"]
            wait_for(unreachable, 30, "node-1 to list node-3 unreachable")
            check(ctl(c, "status", certs=CERTS).returncode == 1,
                  "node-3's console let in a certificate of another CA")

        def unusable_files_are_refused_at_start():
            # node-1's certificate with node-2's key; a key as the CA.
            for args, named in [
                    ([f"--tls.certificate={CERTS}/node-1.pem", f"--tls.key={CERTS}/node-2.key",
                      f"--tls.ca={CERTS}/ca.pem"], "tls.key"),
                    ([f"--tls.certificate={CERTS}/node-1.pem", f"--tls.key={CERTS}/node-1.key",
                      f"--tls.ca={CERTS}/node-1.key"], "tls.ca")]:
                p = subprocess.run([os.path.join(BUILD, "node", "candled"), "--http.port=0",
                                    "--console.port=0", "--db.dir=/nonexistent/x", *args],
                                   capture_output=True, text=True, timeout=20)
                check(p.returncode == 2 and named in p.stderr, f"{args}: {p.returncode} {p.stderr}")

        _run([(f.__name__, f) for f in [unusable_files_are_refused_at_start, two_nodes_over_tls,
                                        the_console_needs_a_certificate_from_the_ca,
                                        a_node_with_another_ca_gets_no_connection]])


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(CERTS, ignore_errors=True)
