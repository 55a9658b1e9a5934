#!/usr/bin/env python3
"""POST /api/v1/users/bulk throughput: a fresh node on its embedded
PostgreSQL, REQUESTS requests of 1,000 users each over CONNS connections;
prints users/s and the request latency percentiles.
usage: bench/bulk.py [CANDLED] [REQUESTS] [CONNS]"""
import concurrent.futures
import json
import os
import sys
import time

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
    print(json.dumps({"requests": requests, "connections": conns, "users": requests * 1000,
                      "seconds": round(took, 2), "usersPerSec": round(requests * 1000 / took),
                      "p50ms": round(lat[len(lat) // 2] * 1000), "p99ms": round(lat[int(len(lat) * 0.99) - 1] * 1000)}))
finally:
    proc.terminate()
    proc.wait(30)
