#!/usr/bin/env python3
"""POST /api/v1/users/bulk throughput: a fresh node on its embedded
PostgreSQL, REQUESTS requests of 1,000 users each over CONNS connections;
prints users/s and the request latency percentiles, then the database's own
ceiling in the same run: as many rows of the same shape piped by CONNS
`psql \\copy` sessions at once into an empty copy of `users` (same columns,
indexes and constraints), without the HTTP, JSON and validation.
usage: bench/bulk.py [CANDLED] [REQUESTS] [CONNS]"""
import concurrent.futures
import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from e2e_lib import Client, _wait_line  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
candled = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build", "node", "candled")
requests = int(sys.argv[2]) if len(sys.argv) > 2 else 50
conns = int(sys.argv[3]) if len(sys.argv) > 3 else 2
work = tempfile.mkdtemp(prefix="candle-bulk-")
proc = subprocess.Popen([candled, "--http.port=0", "--console.port=0", f"--db.dir={work}/pg",
                         "--log.level=warn"], stdout=subprocess.PIPE,
                        stderr=open(os.path.join(work, "log"), "w"), text=True)
try:
    m = _wait_line(proc, r"rest=http://([0-9.]+):(\d+)", "candled")
    host, port = m.group(1), int(m.group(2))
    c = Client(host, port)
    while c.req("GET", "/readyz").status != 200:
        time.sleep(0.1)
    bodies = [json.dumps([{"firstName": "B", "lastName": str(r), "email": f"b{r}-{i}@example.com",
                           "timezone": "Europe/London", "birthdayDate": f"19{50 + i % 50}-06-15"}
                          for i in range(1000)]) for r in range(requests)]
    local = {}
    loc = os.path.join(work, "pg", "cluster-location")
    cluster = open(loc).read().strip() if os.path.exists(loc) else os.path.join(work, "pg", "cluster")
    psql = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", cluster, "-U", "candle", "-d", "candle"]

    def ceiling_rate(rows):
        subprocess.run(psql + ["-c", "CREATE TABLE ceiling (LIKE users INCLUDING ALL)"], check=True)
        cols = ("id, first_name, last_name, email, timezone, birthday_date, partition,"
                " created_at, updated_at")
        chunks = ["".join(f"{uuid.uuid4()}\tC\t{k}\tc{k}-{i}@example.com\tEurope/London\t"
                          f"19{50 + i % 50}-06-15\t{i % 256}\t2026-12-01T00:00:00Z\t2026-12-01T00:00:00Z\n"
                          for i in range(rows // conns)) for k in range(conns)]
        t = time.time()
        pipes = [subprocess.Popen(psql + ["-c", f"\\copy ceiling ({cols}) FROM STDIN"],
                                  stdin=subprocess.PIPE, text=True) for _ in chunks]

        def feed(p, chunk):
            p.stdin.write(chunk)
            p.stdin.close()
            return p.wait()
        with concurrent.futures.ThreadPoolExecutor(conns) as pool:
            assert all(rc == 0 for rc in pool.map(feed, pipes, chunks))
        took = time.time() - t
        subprocess.run(psql + ["-c", "DROP TABLE ceiling"], check=True)
        return (rows // conns) * conns / took

    def one(body):
        import threading
        cl = local.setdefault(threading.get_ident(), Client(host, port))
        t = time.time()
        r = cl.req("POST", "/api/v1/users/bulk", raw=body)
        assert r.status == 200 and r.json()["data"]["created"] == 1000, r.text[:300]
        return time.time() - t

    start = time.time()
    with concurrent.futures.ThreadPoolExecutor(conns) as pool:
        lat = sorted(pool.map(one, bodies))
    took = time.time() - start
    rate = requests * 1000 / took
    print(json.dumps({"requests": requests, "connections": conns, "users": requests * 1000,
                      "seconds": round(took, 2), "usersPerSec": round(rate),
                      "p50ms": round(lat[len(lat) // 2] * 1000), "p99ms": round(lat[int(len(lat) * 0.99) - 1] * 1000)}))
    ceiling = ceiling_rate(requests * 1000)
    print(json.dumps({"ceiling": "psql COPY, same rows and indexes", "rowsPerSec": round(ceiling),
                      "bulkToCeiling": round(rate / ceiling, 2)}))
finally:
    proc.terminate()
    proc.wait(30)
