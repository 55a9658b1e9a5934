#!/usr/bin/env python3
"""End-to-end: the REST API of a real candled over real sockets.

Every endpoint's success and error paths with exact status and envelope
(contract.md, "REST API"); random valid users round-trip; a hostile client's
malformed and oversized requests interleaved with valid traffic leave the node
healthy and the data unchanged.

Usage: rest_api.py PATH_TO_CANDLED PATH_TO_MOCK_PROVIDER
"""
import json
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import Node, MockProvider, check, run_tests  # noqa: E402

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
START = "2026-06-15T06:00:00.000Z"


def user_body(i, **over):
    body = {
        "firstName": f"First{i}",
        "lastName": f"Last{i}",
        "email": f"user{i}@example.com",
        "timezone": "Europe/Paris",
        "birthdayDate": "1990-06-15",
    }
    body.update(over)
    return body


def expect_error(r, status, code, path=None, fields=None):
    check(r.status == status, f"status {r.status} != {status}: {r.text}")
    b = r.json()
    check(set(b) == {"error", "timestamp", "path"}, f"error envelope keys: {b}")
    check(b["error"]["code"] == code, f"code {b['error']['code']} != {code}")
    check(isinstance(b["error"]["message"], str) and b["error"]["message"], "message")
    check(ISO.match(b["timestamp"]), f"timestamp {b['timestamp']}")
    if path is not None:
        check(b["path"] == path, f"path {b['path']} != {path}")
    if fields is not None:
        got = [d["field"] for d in b["error"].get("details", [])]
        check(got == fields, f"fields {got} != {fields}")
    return b


def expect_success(r, status):
    check(r.status == status, f"status {r.status} != {status}: {r.text}")
    b = r.json()
    check(set(b) == {"success", "data", "timestamp"} and b["success"] is True, f"envelope {b}")
    check(ISO.match(b["timestamp"]), f"timestamp {b['timestamp']}")
    return b["data"]


def create(node, body, path="/api/v1/users"):
    return expect_success(node.req("POST", path, body), 201)


# -- tests ---------------------------------------------------------------------


def test_create_read(node):
    r = node.req("POST", "/api/v1/users", user_body(1, email="  Mixed.Case@Example.COM "))
    u = expect_success(r, 201)
    check(UUID.match(u["id"]), f"id {u['id']}")
    check(r.headers.get("Location") == f"/api/v1/users/{u['id']}", f"Location {r.headers}")
    check(u["email"] == "mixed.case@example.com", "email lower-cased and trimmed")
    check(u["createdAt"] == START and u["updatedAt"] == START, "timestamps on the engine clock")
    check(set(u) == {"id", "firstName", "lastName", "email", "timezone", "birthdayDate",
                     "anniversaryDate", "locationCity", "locationCountry", "createdAt",
                     "updatedAt", "deletedAt"}, f"user fields {sorted(u)}")
    check(u["anniversaryDate"] is None and u["locationCity"] is None, "absent optionals are null")
    check(u["deletedAt"] is None, "deletedAt is null for a live user")
    got = expect_success(node.req("GET", f"/api/v1/users/{u['id']}"), 200)
    check(got == u, f"read {got} != created {u}")
    expect_error(node.req("GET", "/api/v1/users/00000000-0000-4000-8000-000000000000"), 404,
                 "NOT_FOUND", "/api/v1/users/00000000-0000-4000-8000-000000000000")
    # A malformed id is 400 naming `id` (as the TypeScript service answers),
    # on every /users/{id} route and alias, and changes nothing.
    before = node.count_users()
    for method, path, body in [("GET", "/api/v1/users/not-a-uuid", None),
                               ("PUT", "/api/v1/users/not-a-uuid", {"lastName": "x"}),
                               ("DELETE", "/api/v1/users/123", None),
                               ("GET", "/api/v1/users/not-a-uuid/greetings", None),
                               ("PUT", "/user/not-a-uuid", {"lastName": "x"}),
                               ("DELETE", "/user/not-a-uuid", None)]:
        expect_error(node.req(method, path, body), 400, "VALIDATION_ERROR", path, ["id"])
    check(node.count_users() == before, "a malformed id changed something")


def test_validation(node):
    before = node.count_users()
    b = expect_error(node.req("POST", "/api/v1/users", {}), 400, "VALIDATION_ERROR",
                     "/api/v1/users", ["firstName", "lastName", "email", "timezone"])
    check(all(d["message"] for d in b["error"]["details"]), "each detail has a message")
    expect_error(node.req("POST", "/api/v1/users", user_body(2, birthdate="1990-01-01")), 400,
                 "VALIDATION_ERROR", fields=["birthdate"])
    expect_error(node.req("POST", "/api/v1/users",
                          user_body(2, timezone="Mars/Olympus", email="x@", firstName="",
                                    birthdayDate="2023-02-29", anniversaryDate="2999-01-01",
                                    locationCity="x" * 101)),
                 400, "VALIDATION_ERROR",
                 fields=["firstName", "email", "timezone", "birthdayDate", "anniversaryDate",
                         "locationCity"])
    expect_error(node.req("POST", "/api/v1/users", user_body(2, lastName="y" * 101)), 400,
                 "VALIDATION_ERROR", fields=["lastName"])
    expect_error(node.req("POST", "/api/v1/users", user_body(2, email=f"{'a' * 250}@b.com")), 400,
                 "VALIDATION_ERROR", fields=["email"])
    expect_error(node.req("POST", "/api/v1/users", user_body(2, firstName=5)), 400,
                 "VALIDATION_ERROR", fields=["firstName"])
    # Server-owned fields are accepted and ignored.
    u = create(node, user_body(3, id="11111111-1111-4111-8111-111111111111",
                               createdAt="2000-01-01T00:00:00Z", deletedAt=None))
    check(u["id"] != "11111111-1111-4111-8111-111111111111", "id is server-made")
    check(u["createdAt"] == START, "createdAt is server-made")
    # Zones: UTC, Etc/UTC, three-part names.
    for i, z in enumerate(["UTC", "Etc/UTC", "America/Argentina/Buenos_Aires", "Asia/Kathmandu"]):
        check(create(node, user_body(40 + i, timezone=z))["timezone"] == z, z)
    check(node.count_users() == before + 5, "only the valid creates were written")


def test_media_size_method(node):
    expect_error(node.req("POST", "/api/v1/users", raw=json.dumps(user_body(5)),
                          ctype="text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE")
    expect_error(node.req("POST", "/api/v1/users", raw=json.dumps(user_body(5)), ctype=None),
                 415, "UNSUPPORTED_MEDIA_TYPE")
    check(create(node, user_body(5), path="/api/v1/users")["email"] == "user5@example.com",
          "application/json; charset=utf-8 accepted")
    big = json.dumps(user_body(6, locationCity="x" * (70 * 1024)))
    expect_error(node.req("POST", "/api/v1/users", raw=big), 413, "PAYLOAD_TOO_LARGE")
    r = node.req("PATCH", "/api/v1/users")
    expect_error(r, 405, "METHOD_NOT_ALLOWED")
    check(set(r.headers["Allow"].replace(" ", "").split(",")) == {"POST", "GET"},
          f"Allow {r.headers['Allow']}")
    expect_error(node.req("GET", "/api/v1/nothing"), 404, "NOT_FOUND", "/api/v1/nothing")
    for raw in ["{", "[]", "null", '{"firstName":"a","firstName":"b"}', b'{"firstName":"\xff"}', "",
                '{"a":' + "[" * 100 + "]" * 100 + "}"]:
        expect_error(node.req("POST", "/api/v1/users", raw=raw), 400, "VALIDATION_ERROR",
                     fields=["body"])


def test_conflict(node):
    # An email in use: 409 UNIQUE_CONSTRAINT_ERROR naming it, as the TypeScript
    # service answers (contract.md); CONFLICT stays for other states (redrive).
    create(node, user_body(7))
    r = node.req("POST", "/api/v1/users", user_body(8, email="USER7@example.com"))
    expect_error(r, 409, "UNIQUE_CONSTRAINT_ERROR")
    check("user7@example.com" in r.json()["error"]["message"], f"email not named: {r.text}")
    other = create(node, user_body(9))
    r = node.req("PUT", f"/api/v1/users/{other['id']}", {"email": "user7@example.com"})
    expect_error(r, 409, "UNIQUE_CONSTRAINT_ERROR")
    check("user7@example.com" in r.json()["error"]["message"], f"email not named: {r.text}")


def test_concurrent_creates_of_one_email_give_one_201(node):
    # Group commit puts concurrent creates in one statement: each still gets
    # its own answer, and of many requests for one email exactly one wins.
    import concurrent.futures
    from e2e_lib import Client

    def one(i):
        c = Client(*node.address)
        return c.req("POST", "/api/v1/users", user_body(900 + i, email="race@example.com")).status

    for _ in range(3):
        before = node.count_users()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(one, range(16)))
        check(sorted(codes) == [201] + [409] * 15, f"codes {sorted(codes)}")
        check(node.count_users() == before + 1, "one user created")
        users = node.client.json("GET", "/api/v1/users?limit=1000")["data"]["users"]
        racer = [u for u in users if u["email"] == "race@example.com"]
        check(len(racer) == 1, f"{len(racer)} users with the email")
        expect_success(node.req("DELETE", f"/api/v1/users/{racer[0]['id']}"), 200)
    # Distinct emails at once: all created, each its own user.
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        made = list(pool.map(lambda i: Client(*node.address).req(
            "POST", "/api/v1/users", user_body(950 + i)).json()["data"], range(32)))
    check(sorted(u["email"] for u in made) == sorted(f"user{950 + i}@example.com" for i in range(32)),
          "each request answered with its own user")


def test_bulk_create(node):
    create(node, user_body(1200))  # an email in use
    items = [user_body(1201), user_body(1202, timezone="Nowhere/City"), user_body(1203),
             user_body(1204, email="user1200@example.com"), "not an object",
             user_body(1205, email="USER1201@example.com"), user_body(1206, firstName="")]
    before = node.count_users()
    d = expect_success(node.req("POST", "/api/v1/users/bulk", items), 200)
    got = [(x["index"], x["status"]) for x in d["results"]]
    check(got == [(0, 201), (1, 400), (2, 201), (3, 409), (4, 400), (5, 409), (6, 400)],
          f"per-item results {got}")
    check(d["created"] == 2 and d["failed"] == 5, f"counts {d['created']} {d['failed']}")
    check(d["results"][1]["error"]["details"][0]["field"] == "timezone", f"{d['results'][1]}")
    check(d["results"][3]["error"]["code"] == "UNIQUE_CONSTRAINT_ERROR", f"{d['results'][3]}")
    check("item 0" in d["results"][5]["error"]["message"], f"{d['results'][5]}")
    check(node.count_users() == before + 2, "only the valid, new ones written")
    for x in (d["results"][0], d["results"][2]):
        u = expect_success(node.req("GET", f"/api/v1/users/{x['data']['id']}"), 200)
        check(u == x["data"], "the created user as stored")
    # NDJSON, the same rules.
    lines = "\n".join(json.dumps(user_body(1210 + i)) for i in range(3)) + "\n{bad\n"
    r = node.req("POST", "/api/v1/users/bulk", raw=lines, ctype="application/x-ndjson")
    d = expect_success(r, 200)
    check([x["status"] for x in d["results"]] == [201, 201, 201, 400], f"{d['results']}")
    # The whole request refused: not an array, empty, too many, wrong type.
    expect_error(node.req("POST", "/api/v1/users/bulk", {"a": 1}), 400, "VALIDATION_ERROR",
                 fields=["body"])
    expect_error(node.req("POST", "/api/v1/users/bulk", []), 400, "VALIDATION_ERROR",
                 fields=["body"])
    many = [user_body(2000 + i) for i in range(1001)]
    expect_error(node.req("POST", "/api/v1/users/bulk", many), 400, "VALIDATION_ERROR",
                 fields=["body"])
    check(node.req("POST", "/api/v1/users/bulk", raw="x", ctype="text/plain").status == 415,
          "media type")


def test_update(node):
    u = create(node, user_body(10, anniversaryDate="2015-09-01", locationCity="Lyon"))
    node.advance("2026-06-15T06:30:00.000Z")
    v = expect_success(node.req("PUT", f"/api/v1/users/{u['id']}",
                                {"lastName": "Changed", "anniversaryDate": None,
                                 "timezone": "Asia/Tokyo"}), 200)
    check(v["lastName"] == "Changed" and v["anniversaryDate"] is None, f"update applied {v}")
    check(v["firstName"] == u["firstName"] and v["locationCity"] == "Lyon", "others kept")
    check(v["timezone"] == "Asia/Tokyo", "zone")
    check(v["updatedAt"] == "2026-06-15T06:30:00.000Z" and v["createdAt"] == START, "timestamps")
    check(expect_success(node.req("GET", f"/api/v1/users/{u['id']}"), 200) == v, "read back")
    # Write back what was read.
    w = expect_success(node.req("PUT", f"/api/v1/users/{u['id']}", v), 200)
    check({k: w[k] for k in w if k != "updatedAt"} == {k: v[k] for k in v if k != "updatedAt"},
          "round trip of a read object")
    expect_error(node.req("PUT", f"/api/v1/users/{u['id']}", {"timezone": None}), 400,
                 "VALIDATION_ERROR", fields=["timezone"])
    expect_error(node.req("PUT", f"/api/v1/users/{u['id']}", {"bogus": 1}), 400,
                 "VALIDATION_ERROR", fields=["bogus"])
    check(expect_success(node.req("GET", f"/api/v1/users/{u['id']}"), 200) == w,
          "failed updates changed nothing")
    expect_error(node.req("PUT", "/api/v1/users/00000000-0000-4000-8000-000000000000",
                          {"lastName": "x"}), 404, "NOT_FOUND")
    # The alias behaves the same.
    a = expect_success(node.req("PUT", f"/user/{u['id']}", {"firstName": "Alias"}), 200)
    check(a["firstName"] == "Alias", "PUT /user/{id}")


def test_delete_and_aliases(node):
    u = create(node, user_body(11), path="/user")
    d = expect_success(node.req("DELETE", f"/api/v1/users/{u['id']}"), 200)
    check(d == {"message": "User deleted successfully"}, f"delete data {d}")
    expect_error(node.req("GET", f"/api/v1/users/{u['id']}"), 404, "NOT_FOUND")
    expect_error(node.req("DELETE", f"/api/v1/users/{u['id']}"), 404, "NOT_FOUND")
    expect_error(node.req("PUT", f"/api/v1/users/{u['id']}", {"lastName": "x"}), 404, "NOT_FOUND")
    # The email is free again for a live user.
    v = create(node, user_body(11))
    d = expect_success(node.req("DELETE", f"/user/{v['id']}"), 200)
    check(d == {"message": "User deleted successfully"}, "DELETE /user/{id}")


def test_list(node):
    seen = []
    cursor = None
    pages = 0
    while True:
        q = "/api/v1/users?limit=3" + (f"&cursor={cursor}" if cursor else "")
        data = expect_success(node.req("GET", q), 200)
        check(set(data) == {"users", "nextCursor"}, f"list data keys {sorted(data)}")
        check(len(data["users"]) <= 3, "limit")
        seen += [u["id"] for u in data["users"]]
        pages += 1
        cursor = data["nextCursor"]
        if cursor is None:
            break
        check(pages < 100, "pagination ends")
    check(seen == sorted(seen) and len(set(seen)) == len(seen), "ordered, no repeats")
    check(len(seen) == node.count_users(), f"{len(seen)} listed vs {node.count_users()}")
    for q, field in [("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"),
                     ("cursor=abc", "cursor")]:
        expect_error(node.req("GET", "/api/v1/users?" + q), 400, "VALIDATION_ERROR",
                     "/api/v1/users", [field])


def test_greetings_and_redrive(node):
    node.mock.control({"rejectSuffix": "@bounce.example"})
    ok = create(node, user_body(20, timezone="Europe/London"))
    bad = create(node, user_body(21, timezone="Europe/London", email="x@bounce.example"))
    gone = create(node, user_body(22, timezone="Europe/London"))
    expect_success(node.req("DELETE", f"/api/v1/users/{gone['id']}"), 200)
    node.advance("2026-06-15T08:00:00.000Z")  # 09:00 BST
    recs = node.wait_for(lambda: [r for r in expect_success(
        node.req("GET", f"/api/v1/users/{ok['id']}/greetings"), 200) if r["status"] == "sent"])
    r = recs[0]
    check(r["key"] == f"{ok['id']}:birthday:2026" and r["userId"] == ok["id"], f"record {r}")
    check(r["occasion"] == "birthday" and r["year"] == 2026 and r["attempts"] == 1, f"{r}")
    check(r["dueAt"] == "2026-06-15T08:00:00.000Z" and ISO.match(r["sentAt"]), f"{r}")
    dead = node.wait_for(lambda: [x for x in expect_success(
        node.req("GET", f"/api/v1/users/{bad['id']}/greetings"), 200) if x["status"] == "dead"])[0]
    check("mailbox unavailable" in dead["lastError"], f"dead with the reason: {dead}")
    keys = [x["key"] for x in expect_success(
        node.req("GET", "/api/v1/greetings?status=dead&limit=1000"), 200)["greetings"]]
    check(dead["key"] in keys, "listed by status")
    expect_error(node.req("GET", "/api/v1/greetings?status=bogus"), 400, "VALIDATION_ERROR",
                 fields=["status"])
    expect_error(node.req("GET", f"/api/v1/users/{gone['id']}/greetings"), 404, "NOT_FOUND")
    check(not any(k.startswith(gone["id"]) for k in node.mock.keys()), "deleted user not greeted")
    # Redrive: a sent greeting is a conflict, an unknown one 404, a dead one 202.
    expect_error(node.req("POST", f"/api/v1/greetings/{r['key']}/redrive"), 409, "CONFLICT")
    expect_error(node.req("POST", "/api/v1/greetings/nope/redrive"), 404, "NOT_FOUND")
    node.mock.control({"rejectSuffix": ""})
    red = expect_success(node.req("POST", f"/api/v1/greetings/{dead['key']}/redrive"), 202)
    check(red["key"] == dead["key"], f"redrive data {red}")
    node.wait_for(lambda: dead["key"] in node.mock.keys())
    stats = node.mock.stats()
    check(stats["duplicates"] == 0, f"no duplicates: {stats}")


def test_round_trip_property(node):
    rng = random.Random(20261123)
    zones = ["UTC", "Europe/Berlin", "Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns",
             "Australia/Lord_Howe", "Pacific/Kiritimati", "Etc/GMT+11", "America/Noronha"]

    def name():
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzéüø ' -") for _ in
                       range(rng.randint(1, 100))).strip() or "x"

    def day():
        y = rng.randint(1900, 2025)
        m = rng.randint(1, 12)
        d = rng.randint(1, 28 if m == 2 and y % 4 else 29 if m == 2 else 30 if m in (4, 6, 9, 11) else 31)
        return f"{y:04d}-{m:02d}-{d:02d}"

    for i in range(150):
        body = {"firstName": name(), "lastName": name(), "email": f"p{i}.{rng.randint(0, 10**9)}@x-{i}.org",
                "timezone": rng.choice(zones)}
        for f in ("birthdayDate", "anniversaryDate"):
            if rng.random() < 0.7:
                body[f] = day()
        for f in ("locationCity", "locationCountry"):
            if rng.random() < 0.5:
                body[f] = name()
        u = create(node, body)
        for k, v in body.items():
            check(u[k] == v, f"{k}: {u[k]!r} != {v!r}")
        check(expect_success(node.req("GET", f"/api/v1/users/{u['id']}"), 200) == u, "read")
        change = {"timezone": rng.choice(zones), "birthdayDate": rng.choice([None, day()]),
                  "lastName": name()}
        v = expect_success(node.req("PUT", f"/api/v1/users/{u['id']}", change), 200)
        for k, val in change.items():
            check(v[k] == val, f"updated {k}")
        check(expect_success(node.req("GET", f"/api/v1/users/{u['id']}"), 200) == v, "read 2")


def test_hostile_client(node):
    before = node.count_users()
    bad = [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{\"firstName\":",  # truncated, then closed
        b"GET /api/v1/users HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
        b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 99999999\r\n\r\n",
        b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\nZZZ\r\n",
        b"\x00\x01\x02\x03" * 100,
    ]
    valid = 0
    for round_ in range(5):
        for payload in bad:
            node.raw(payload)
            create(node, user_body(1000 + valid))
            valid += 1
        for raw in ['{"firstName":' + "1" * 5000 + "}", '{"firstName":1e999999}',
                    '{"firstName":"\\ud800"}', '{"firstName":"a\\u0000b","lastName":"b",'
                    '"email":"n@x.io","timezone":"UTC"}']:
            r = node.req("POST", "/api/v1/users", raw=raw)
            check(r.status == 400, f"{raw[:40]} -> {r.status}")
    check(node.req("GET", "/healthz").status == 200, "healthy after the burst")
    check(node.count_users() == before + valid, "exactly the valid creates were written")


def test_slow_client_is_cut_off(node):
    """A request that never completes is closed after the 10 s request
    timeout, while other clients are served meanwhile."""
    import socket
    s = socket.create_connection(node.address, timeout=20)
    s.sendall(b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n")
    start = time.time()
    create(node, user_body(5000))  # others are served meanwhile
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    elapsed = time.time() - start
    s.close()
    check(8 <= elapsed <= 16, f"closed after {elapsed:.1f} s")
    check(b"201" not in data, "nothing was created from the partial request")
    check(node.req("GET", "/healthz").status == 200, "healthy")


def test_metrics_and_health(node):
    h = expect_success(node.req("GET", "/healthz"), 200)
    check(h["status"] == "ok", f"healthz {h}")
    ready = expect_success(node.req("GET", "/readyz"), 200)
    check(ready["partitionsOwned"] == node.partitions, f"readyz {ready}")
    r = node.req("GET", "/metrics")
    check(r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4"),
          f"metrics {r.status} {r.headers['Content-Type']}")
    sample = re.compile(r'^[a-z_:][a-z0-9_:]*(\{([a-z_]+="([^"\\\n]|\\.)*",?)*\})? '
                        r'(-?[0-9.e+-]+|\+Inf|NaN)$')
    values = {}
    for line in r.text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        check(sample.match(line), f"not a sample line: {line!r}")
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    check(values.get('candle_http_requests_total{method="POST",route="/api/v1/users",status="201"}', 0)
          > 100, "request counter by route and status")
    check(values.get('candle_greetings_total{occasion="birthday",outcome="sent"}', 0) >= 2,
          "greetings sent by occasion")
    check(values.get('candle_greetings_total{occasion="birthday",outcome="dead"}', 0) >= 1, "dead")
    check(values.get("candle_partitions_owned") == node.partitions, "partitions owned")
    inf = values.get('candle_http_request_duration_seconds_bucket{method="GET",route="/api/v1/users/{id}",le="+Inf"}')
    cnt = values.get('candle_http_request_duration_seconds_count{method="GET",route="/api/v1/users/{id}"}')
    check(inf is not None and inf == cnt, "histogram +Inf bucket equals count")
    check('candle_greeting_lateness_seconds_count{occasion="birthday"}' in values, "lateness")
    check('candle_provider_request_duration_seconds_count{result="sent"}' in values, "provider")
    doc = node.req("GET", "/api/v1/openapi.json")
    check(doc.status == 200 and doc.json()["openapi"].startswith("3."), "OpenAPI served")
    check("/api/v1/users/{id}" in doc.json()["paths"], "OpenAPI paths")


def test_zz_bulk_full_batch(node):
    # Last (it adds 1,000 users): a full batch fits the body limit.
    full = [user_body(3000 + i) for i in range(1000)]
    d = expect_success(node.req("POST", "/api/v1/users/bulk", full), 200)
    check(d["created"] == 1000 and d["failed"] == 0, f"{d['created']} of a full batch")


if __name__ == "__main__":
    candled, mock_path = sys.argv[1], sys.argv[2]
    with MockProvider(mock_path) as mock, Node(candled, mock, clock=START) as node:
        run_tests(node, [v for k, v in list(globals().items()) if k.startswith("test_")])
