#!/usr/bin/env python3
"""Bulk user generation for load tests and benchmarks.

Makes N users whose greetings come due where you want them:
  --burst ISO    every greeting due at that instant: the zones are those whose
                 local time is the send time (09:00) then, the birthday is the
                 local date there (2027-07-15T07:00:00Z -> Europe/Paris, …)
  --day DATE     greetings spread over that date as real zones spread them
                 (every IANA zone equally likely, birthday DATE)
and writes them either
  --rest URL     through the REST API (POST /api/v1/users, several connections)
  --psql ARGS    through PostgreSQL COPY (millions per minute), e.g.
                 --psql="-h /path/to/cluster -U candle -d candle"; the partition
                 column is computed as the node does (FNV-1a of the id mod
                 --partitions), created_at is --created.

Usage examples:
  tools/genusers.py 100000 --burst 2027-07-15T09:00:00Z --psql="-h $cluster -U candle -d candle"
  tools/genusers.py 2000 --day 2027-07-15 --rest http://127.0.0.1:8080 --connections 8
"""
import argparse
import datetime as dt
import http.client
import io
import json
import random
import subprocess
import sys
import threading
import urllib.parse
import uuid
import zoneinfo

SEND_AT = dt.time(9, 0)


def fnv1a(s):
    h = 14695981039346656037
    for b in s.encode():
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def zones():
    return sorted(z for z in zoneinfo.available_timezones()
                  if "/" in z and not z.startswith(("posix/", "right/", "Etc/")) or z == "UTC")


def burst_targets(instant):
    """(zone, birthday month-day) pairs whose 09:00 greeting is due at `instant`."""
    out = []
    for z in zones():
        local = instant.astimezone(zoneinfo.ZoneInfo(z))
        if local.time() == SEND_AT:
            out.append((z, local.date()))
    if not out:
        sys.exit(f"no zone has 09:00 local time at {instant.isoformat()}")
    return out


def make_users(args):
    rng = random.Random(args.seed)
    if args.burst:
        instant = dt.datetime.fromisoformat(args.burst.replace("Z", "+00:00"))
        targets = burst_targets(instant)
    else:
        day = dt.date.fromisoformat(args.day)
        targets = [(z, day) for z in zones()]
    for i in range(args.n):
        zone, day = targets[i % len(targets)] if args.burst else rng.choice(targets)
        year = rng.randint(1950, 2005)
        if day.month == 2 and day.day == 29:
            year = rng.choice([y for y in range(1952, 2005, 4)])
        yield {
            "firstName": f"Load{i}", "lastName": "User",
            "email": f"load{i}.{args.tag}@example.com", "timezone": zone,
            "birthdayDate": f"{year:04d}-{day.month:02d}-{day.day:02d}",
        }


def via_rest(args, users):
    url = urllib.parse.urlparse(args.rest)
    lock = threading.Lock()
    it = iter(users)
    counts = {"created": 0, "failed": 0}

    def worker():
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
        while True:
            with lock:
                u = next(it, None)
            if u is None:
                return
            conn.request("POST", "/api/v1/users", body=json.dumps(u),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            with lock:
                counts["created" if r.status == 201 else "failed"] += 1

    threads = [threading.Thread(target=worker) for _ in range(args.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"genusers: created {counts['created']}, failed {counts['failed']}")
    return 0 if counts["failed"] == 0 else 1


def via_copy(args, users):
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *args.psql.split(), "-c",
           "COPY users (id, first_name, last_name, email, timezone, birthday_date, partition,"
           " created_at, updated_at) FROM STDIN WITH (FORMAT csv)"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, text=True)
    buf = io.StringIO()
    n = 0
    for u in users:
        uid = str(uuid.uuid4())
        part = fnv1a(uid) % args.partitions
        buf.write(f"{uid},{u['firstName']},{u['lastName']},{u['email']},{u['timezone']},"
                  f"{u['birthdayDate']},{part},{args.created},{args.created}\n")
        n += 1
        if n % 10000 == 0:
            proc.stdin.write(buf.getvalue())
            buf = io.StringIO()
    proc.stdin.write(buf.getvalue())
    proc.stdin.close()
    rc = proc.wait()
    print(f"genusers: copied {n} users" if rc == 0 else f"genusers: psql failed ({rc})")
    return rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", type=int)
    when = ap.add_mutually_exclusive_group(required=True)
    when.add_argument("--burst", help="ISO instant at which every greeting is due")
    when.add_argument("--day", help="date whose greetings spread as the zones do")
    to = ap.add_mutually_exclusive_group(required=True)
    to.add_argument("--rest", help="node base URL")
    to.add_argument("--psql", help="psql connection arguments")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--partitions", type=int, default=256)
    ap.add_argument("--created", default="2020-01-01T00:00:00Z")
    ap.add_argument("--tag", default=uuid.uuid4().hex[:8], help="makes emails unique per run")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    users = make_users(args)
    sys.exit(via_rest(args, users) if args.rest else via_copy(args, users))


if __name__ == "__main__":
    main()
