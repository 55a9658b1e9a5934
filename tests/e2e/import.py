#!/usr/bin/env python3
"""candle-import end to end: the old service's schema (tests/e2e/fixtures)
in one database of an embedded PostgreSQL, Candle's in another. Users with
every edge (a deleted one, an email that differs only in case, a bad zone,
29 Feb, an anniversary) and message_logs in every status; a dry run writes
nothing; the import keeps ids and timestamps, names each rejected row's
fields in the rejects file and records what the old service sent (SENT,
QUEUED, SENDING; this year and last) as sent; a re-run changes nothing.
Then a node starts on Candle's database at 10:00 UTC on the day, with some
of the day's greetings already sent by the "old service": those are not
sent again, the one it had not sent yet is caught up, and the one due
later goes out at its instant. CSV and NDJSON files go through the same
rules.

usage: import.py BUILD_DIR
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_lib import Database  # noqa: E402
from e2e_lib import Client, MockProvider, _run, _wait_line, check, wait_for  # noqa: E402

BUILD = sys.argv[1]
IMPORT = os.path.join(BUILD, "tools", "candle-import")
CANDLED = os.path.join(BUILD, "node", "candled")
MOCK = os.path.join(BUILD, "examples", "candle-mock-provider")
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                       "old_service_schema.sql")
NOW = "2027-07-01T10:00:00Z"
WORK = tempfile.mkdtemp(prefix="candle-import-")

U = {  # name -> (id, email, zone, birthday, anniversary, deleted)
    "sent_london": ("11111111-1111-4111-8111-111111111111", "sent@example.org", "Europe/London", "1990-07-01", None, False),
    "unsent_london": ("22222222-2222-4222-8222-222222222222", "unsent@example.org", "Europe/London", "1991-07-01", None, False),
    "later_ny": ("33333333-3333-4333-8333-333333333333", "later@example.org", "America/New_York", "1980-07-01", None, False),
    "queued_tokyo": ("44444444-4444-4444-8444-444444444444", "queued@example.org", "Asia/Tokyo", "1985-07-01", None, False),
    "sending_anniv": ("55555555-5555-4555-8555-555555555555", "anniv@example.org", "Europe/London", None, "2000-07-01", False),
    "deleted": ("66666666-6666-4666-8666-666666666666", "gone@example.org", "UTC", "1970-07-01", None, True),
    "case_a": ("77777777-7777-4777-8777-777777777777", "Same@example.org", "UTC", "1970-01-02", None, False),
    "case_b": ("88888888-8888-4888-8888-888888888888", "same@EXAMPLE.org", "UTC", "1970-01-03", None, False),
    "bad_zone": ("99999999-9999-4999-8999-999999999999", "zone@example.org", "Mars/Base", "1970-01-04", None, False),
    "leap": ("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "leap@example.org", "UTC", "1992-02-29", None, False),
    "failed_last_year": ("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", "failed@example.org", "UTC", "1975-03-10", None, False),
}
LOGS = [  # (user, type, scheduled UTC, actual, status, old key)
    ("sent_london", "BIRTHDAY", "2027-07-01T08:00:00Z", "2027-07-01T08:00:02Z", "SENT", "old-k1"),
    ("sent_london", "BIRTHDAY", "2026-07-01T08:00:00Z", "2026-07-01T08:00:03Z", "SENT", "old-k1-2026"),
    ("sent_london", "BIRTHDAY", "2024-07-01T08:00:00Z", "2024-07-01T08:00:03Z", "SENT", "old-k1-2024"),
    ("unsent_london", "BIRTHDAY", "2027-07-01T08:00:00Z", None, "SCHEDULED", "old-k2"),
    ("later_ny", "BIRTHDAY", "2027-07-01T13:00:00Z", None, "SCHEDULED", "old-k3"),
    ("queued_tokyo", "BIRTHDAY", "2027-07-01T00:00:00Z", None, "QUEUED", "old-k4"),
    ("sending_anniv", "ANNIVERSARY", "2027-07-01T08:00:00Z", None, "SENDING", "old-k5"),
    ("failed_last_year", "BIRTHDAY", "2027-03-10T09:00:00Z", None, "FAILED", "old-k6"),
    ("leap", "BIRTHDAY", "2027-02-28T09:00:00Z", "2027-02-28T09:00:01Z", "SENT", "old-k7"),
]


def key(name, occasion, year):
    return f"{U[name][0]}:{occasion}:{year}"


def sql_value(v):
    return "NULL" if v is None else "'" + str(v).replace("'", "''") + "'"


class Databases:
    def __init__(self):
        self.pg = Database(os.path.join(BUILD, "tools", "candle-pg"))

    def __enter__(self):
        self.pg.__enter__()
        self.candle = self.pg.url
        self.old = re.sub(r"/candle\?", "/oldsvc?", self.pg.url)
        self.psql(self.candle, "CREATE DATABASE oldsvc")
        self.psql(self.old, open(FIXTURE).read())
        rows = []
        for i, (name, (uid, email, tz, bday, anniv, deleted)) in enumerate(U.items()):
            rows.append(f"({sql_value(uid)}, 'F{i}', 'Old', {sql_value(email)}, {sql_value(tz)},"
                        f" {sql_value(bday)}, {sql_value(anniv)}, 'Lisbon', NULL,"
                        f" '2020-01-0{1 + i % 9}T00:00:00Z', '2021-01-0{1 + i % 9}T00:00:00Z',"
                        f" {sql_value('2022-01-01T00:00:00Z' if deleted else None)})")
        self.psql(self.old, "INSERT INTO users (id, first_name, last_name, email, timezone,"
                  " birthday_date, anniversary_date, location_city, location_country, created_at,"
                  " updated_at, deleted_at) VALUES " + ",".join(rows))
        logs = [f"({sql_value(U[u][0])}, '{t}', 'Happy', '{s}', {sql_value(a)}, '{st}', '{k}')"
                for u, t, s, a, st, k in LOGS]
        self.psql(self.old, "INSERT INTO message_logs (user_id, message_type, message_content,"
                  " scheduled_send_time, actual_send_time, status, idempotency_key) VALUES "
                  + ",".join(logs))
        return self

    def __exit__(self, *exc):
        self.pg.__exit__(*exc)

    def psql(self, url, sql):
        p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", url, "-c", sql],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, f"psql: {p.stderr}")
        return p.stdout.strip()


def changes_read(c):
    """The node's candle_changes_read_total: users its change feeds read."""
    for line in c.req("GET", "/metrics").text.splitlines():
        if line.startswith("candle_changes_read_total"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def run_import(*args):
    p = subprocess.run([IMPORT, *args], capture_output=True, text=True, timeout=120, cwd=WORK)
    return p


def main():
    with Databases() as db:
        def count(sql):
            return int(db.psql(db.candle, sql))

        def a_dry_run_writes_nothing():
            p = run_import("--from", db.old, "--to", db.candle, "--now", NOW, "--dry-run",
                           "--rejects", os.path.join(WORK, "dry.ndjson"))
            check(p.returncode == 0, f"exit {p.returncode}: {p.stderr}")
            check("dry run, nothing written" in p.stdout and "8 imported" in p.stdout, p.stdout)
            check(count("SELECT count(*) FROM users") == 0, "users written by a dry run")
            check(count("SELECT count(*) FROM send_records") == 0, "records written by a dry run")

        def the_import_keeps_ids_rejects_with_reasons_and_records_what_was_sent():
            rejects = os.path.join(WORK, "rejects.ndjson")
            p = run_import("--from", db.old, "--to", db.candle, "--now", NOW, "--rejects", rejects,
                           "--batch", "3")
            check(p.returncode == 0, f"exit {p.returncode}: {p.stderr}")
            print("    " + p.stdout.strip(), flush=True)
            check(re.search(r"10 read, 8 imported, 0 already there, 2 rejected", p.stdout), p.stdout)
            check("1 deleted users skipped" in p.stdout, p.stdout)
            bad = [json.loads(x) for x in open(rejects)]
            fields = sorted((b["row"]["email"], [e["field"] for e in b["errors"]]) for b in bad)
            check(fields == [("same@EXAMPLE.org", ["email"]), ("zone@example.org", ["timezone"])],
                  f"rejects {fields}")
            # Ids, timestamps, lower-cased email, partition from the id.
            row = db.psql(db.candle, "SELECT id, email, to_char(created_at AT TIME ZONE 'UTC',"
                          " 'YYYY-MM-DD'), location_city FROM users WHERE id = "
                          f"'{U['leap'][0]}'")
            check(row == f"{U['leap'][0]}|leap@example.org|2020-01-01|Lisbon", f"leap user {row}")
            check(count(f"SELECT count(*) FROM users WHERE id = '{U['deleted'][0]}'") == 0,
                  "a deleted user imported")
            sent = set(db.psql(db.candle, "SELECT idempotency_key || '=' || imported_key FROM"
                               " send_records WHERE status = 'sent'").split())
            want = {key("sent_london", "birthday", 2027) + "=old-k1",
                    key("sent_london", "birthday", 2026) + "=old-k1-2026",
                    key("queued_tokyo", "birthday", 2027) + "=old-k4",
                    key("sending_anniv", "anniversary", 2027) + "=old-k5",
                    key("leap", "birthday", 2027) + "=old-k7"}
            check(sent == want, f"sent records {sorted(sent)}\nwant {sorted(want)}")
            due = db.psql(db.candle, "SELECT to_char(due_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI')"
                          f" FROM send_records WHERE idempotency_key = '{key('leap', 'birthday', 2027)}'")
            check(due == "02-28 09:00", f"29 Feb in a common year is 28 Feb (feb28): {due}")

        def a_rerun_changes_nothing():
            before = db.psql(db.candle, "SELECT md5(string_agg(u::text, ',' ORDER BY id)) FROM users u")
            p = run_import("--from", db.old, "--to", db.candle, "--now", NOW,
                           "--rejects", os.path.join(WORK, "again.ndjson"))
            check(p.returncode == 0 and "0 imported, 8 already there" in p.stdout and
                  "0 greetings recorded as sent (5 already there)" in p.stdout, p.stdout)
            after = db.psql(db.candle, "SELECT md5(string_agg(u::text, ',' ORDER BY id)) FROM users u")
            check(before == after, "users changed by a re-run")

        def files_go_through_the_same_rules():
            csv = os.path.join(WORK, "users.csv")
            with open(csv, "w") as f:
                f.write("firstName,lastName,email,timezone,birthdayDate,locationCity\n"
                        "Cee,Ess,csv@example.org,Europe/Paris,1990-12-24,\"Paris, France\"\n"
                        "Bad,Date,bad@example.org,UTC,1990-02-30,\n"
                        "Dup,Email,SENT@example.org,UTC,,\n")
            p = run_import("--csv", csv, "--to", db.candle, "--now", NOW,
                           "--rejects", os.path.join(WORK, "csv.ndjson"))
            check(p.returncode == 0 and "3 read, 1 imported, 0 already there, 2 rejected" in p.stdout,
                  f"{p.stdout}{p.stderr}")
            why = [json.loads(x) for x in open(os.path.join(WORK, "csv.ndjson"))]
            check([w["source"] for w in why] == ["line 3", "line 4"], f"sources {why}")
            check(why[0]["errors"][0]["field"] == "birthdayDate", f"{why[0]}")
            check("already used by user " + U["sent_london"][0] in why[1]["errors"][0]["message"],
                  f"{why[1]}")
            check(db.psql(db.candle, "SELECT location_city FROM users WHERE email = 'csv@example.org'")
                  == "Paris, France", "quoted CSV field")
            nd = os.path.join(WORK, "users.ndjson")
            with open(nd, "w") as f:
                f.write(json.dumps({"firstName": "En", "lastName": "Dee", "email": "nd@example.org",
                                    "timezone": "Asia/Kolkata", "anniversaryDate": "2010-05-05"}) + "\n")
                f.write("{not json\n")
                f.write(json.dumps({"firstName": "En", "lastName": "Dee", "email": "nd2@example.org",
                                    "timezone": "UTC", "createdAt": "2030-01-01T00:00:00Z"}) + "\n")
            p = run_import("--ndjson", nd, "--to", db.candle, "--now", NOW,
                           "--rejects", os.path.join(WORK, "nd.ndjson"))
            check(p.returncode == 0 and "3 read, 1 imported, 0 already there, 2 rejected" in p.stdout,
                  f"{p.stdout}{p.stderr}")
            why = [json.loads(x) for x in open(os.path.join(WORK, "nd.ndjson"))]
            check([e["field"] for w in why for e in w["errors"]] == ["row", "createdAt"], f"{why}")
            p = run_import("--ndjson", nd, "--to", db.candle, "--now", NOW,
                           "--rejects", os.path.join(WORK, "nd2.ndjson"))
            check("1 already there" in p.stdout, f"the same id again without one in the file: {p.stdout}")
            bad = run_import("--csv", csv, "--ndjson", nd, "--to", db.candle)
            check(bad.returncode == 2 and "exactly one of" in bad.stderr, f"usage: {bad.stderr}")

        def a_node_on_the_imported_data_greets_nobody_twice():
            with MockProvider(MOCK) as mock:
                var = os.path.join(WORK, "node")
                os.makedirs(var)
                proc = subprocess.Popen(
                    [CANDLED, "--http.port=0", "--console.port=0", f"--db.url={db.candle}",
                     "--clock.mode=simulated", f"--clock.start={NOW}", "--clock.speed=0",
                     f"--email.url={mock.url}", "--schedule.partitions=256"],
                    stdout=subprocess.PIPE, stderr=open(os.path.join(var, "node.log"), "w"),
                    text=True)
                try:
                    m = _wait_line(proc, r"rest=http://([0-9.]+):(\d+)", "candled")
                    c = Client(m.group(1), int(m.group(2)))
                    wait_for(lambda: c.req("GET", "/readyz").status == 200, 60, "ready")
                    # The one the old service had not sent (due 08:00 UTC) is caught up.
                    wait_for(lambda: key("unsent_london", "birthday", 2027) in
                             [r["key"] for r in mock.requests()], 30, "the unsent greeting")
                    r = c.req("PUT", "/api/v1/admin/clock", {"now": "2027-07-01T13:00:30Z"})
                    check(r.status == 200, f"clock {r.status}")
                    wait_for(lambda: key("later_ny", "birthday", 2027) in
                             [r["key"] for r in mock.requests()], 30, "New York at 09:00 EDT")
                    sent = collections.Counter(r["key"] for r in mock.requests())
                    check(sent == collections.Counter({key("unsent_london", "birthday", 2027): 1,
                                                       key("later_ny", "birthday", 2027): 1}),
                          f"sent {dict(sent)}")
                    # Imported while the node runs: the owner's change feed
                    # (candle_changes) reads the new user, greeted today.
                    read_before = changes_read(c)
                    live = os.path.join(WORK, "live.csv")
                    with open(live, "w") as f:
                        f.write("firstName,lastName,email,timezone,birthdayDate\n"
                                "Late,Comer,late@example.org,America/Los_Angeles,1999-07-01\n")
                    p = run_import("--csv", live, "--to", db.candle, "--now", "2027-07-01T13:00:30Z",
                                   "--rejects", os.path.join(WORK, "live.ndjson"))
                    check("1 imported" in p.stdout, f"{p.stdout}{p.stderr}")
                    uid = db.psql(db.candle, "SELECT id FROM users WHERE email = 'late@example.org'")
                    wait_for(lambda: changes_read(c) > read_before, 15, "the owner's change feed read it")
                    r = c.req("PUT", "/api/v1/admin/clock", {"now": "2027-07-01T16:00:30Z"})
                    check(r.status == 200, f"clock {r.status}")
                    wait_for(lambda: f"{uid}:birthday:2027" in [r["key"] for r in mock.requests()],
                             30, "the user imported into the running node greeted at 09:00 PDT")
                finally:
                    proc.terminate()
                    proc.wait(30)

        _run([(f.__name__, f) for f in [a_dry_run_writes_nothing,
                                        the_import_keeps_ids_rejects_with_reasons_and_records_what_was_sent,
                                        a_rerun_changes_nothing, files_go_through_the_same_rules,
                                        a_node_on_the_imported_data_greets_nobody_twice]])


if __name__ == "__main__":
    main()
