#!/usr/bin/env python3
"""End-to-end: email.transport=smtp (issue 37), the real candled against a real
SMTP server (python3-aiosmtpd, examples/smtp_server.py) started here, with
STARTTLS and a certificate from a test CA made here with openssl.

- every greeting arrives once (Message-IDs counted at the server), with From,
  To (RFC 2047 names: Zoë, 李雷, Şükrü), Subject from the occasion, Date,
  Message-ID <{key}@{from's domain}>, text/plain UTF-8, the body intact
  (read back with Python's email package);
- 451 twice: retried, then sent; 421 and the connection closed: retried,
  then sent; a dropped connection and a slow server
  (past email.timeout): retried, then sent; 550 5.7.1: dead with the
  server's text; 550 5.1.1: dead and the address suppressed;
- connections are reused: far fewer connections than messages; every one
  upgraded with STARTTLS and AUTHenticated once (the password from
  smtp.password-file, never in the node's log);
- with a CA that did not sign the server's certificate nothing is sent: the
  greeting is retried (transient), the error names the certificate.

Usage: smtp.py PATH_TO_CANDLED
"""
import email.header
import email.utils
import os
import shutil
import sys
import tempfile

try:
    import aiosmtpd  # noqa: F401
except ImportError:
    # python3-aiosmtpd is a Debian package (scripts/setup): Debian's own
    # interpreter has it when the one running this (pyenv, a venv) does not.
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    raise
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
from e2e_lib import Node, check, run_scenarios  # noqa: E402
from smtp_server import SmtpServer, make_ca  # noqa: E402

START = "2027-03-01T08:59:00.000Z"
DUE = "2027-03-01T09:00:00.000Z"
FROM = "Candle Greetings <greetings@candle.example>"


class NoProvider:
    url = "http://127.0.0.1:9/send-email"  # never used with email.transport=smtp


NAMES = [("Zoë", "Dupont"), ("李", "雷"), ("Şükrü", "Yılmaz"), ("Ada", "Lovelace"),
         ("Jean-Baptiste Émile", "de la Fontaine-Østergård Müller Ñúñez 王小明")]


USER, PASSWORD = "candle", "pw-Zx81-never-logged"


def smtp_args(srv, ca, *extra):
    return ("--email.transport=smtp", f"--smtp.url={srv.url}", f"--smtp.from={FROM}",
            f"--smtp.ca={ca}", "--email.timeout=2s", "--email.max-in-flight=4",
            "--email.breaker-threshold=50", *extra)


def greeting(node, key):
    r = node.req("GET", f"/api/v1/greetings/{key}")
    check(r.status == 200, f"GET greeting {key}: {r.status} {r.text}")
    return r.json()["data"]


def records(node, status):
    r = node.client.json("GET", f"/api/v1/greetings?status={status}&limit=1000")
    return r["data"]["greetings"]


def scenario_delivery(candled, work):
    ca, cert, key = make_ca(work, "good")
    pw_file = os.path.join(work, "smtp-password")
    with open(pw_file, "w") as f:
        f.write(PASSWORD + "\n")
    with SmtpServer(tls=(cert, key), slow_s=3.0, auth=(USER, PASSWORD)) as srv, \
            Node(candled, NoProvider, START, *smtp_args(srv, ca), f"--smtp.user={USER}",
                 f"--smtp.password-file={pw_file}", "--log.level=debug", partitions=4) as node:
        users = {}
        for i, (first, last) in enumerate(NAMES):
            u = node.create_user(firstName=first, lastName=last, email=f"name{i}@example.org",
                                 timezone="UTC", birthdayDate="1990-03-01")
            users[u["email"]] = u
        plain = 30
        for i in range(plain):
            u = node.create_user(firstName=f"F{i}", lastName="Plain", email=f"plain{i}@example.org",
                                 timezone="UTC", birthdayDate="1991-03-01")
            users[u["email"]] = u
        special = {}
        for tag in ("tempfail", "busy", "drop", "slow", "reject", "unknown"):
            u = node.create_user(firstName=tag.title(), lastName="Case", email=f"{tag}@example.org",
                                 timezone="UTC", birthdayDate="1992-03-01")
            special[tag] = u
        node.advance(DUE)
        node.set_speed(60)  # retries back off on the engine clock: a minute per second
        ok = len(users) + 4  # + tempfail, busy, drop, slow
        node.wait_for(lambda: node.count_status("sent") == ok, 45, f"{ok} greetings sent")
        node.wait_for(lambda: node.count_status("dead") == 2, 20, "reject and unknown dead")
        node.set_speed(0)

        msgs = srv.messages()
        ids = [m["Message-ID"] for _, _, m, _ in msgs]
        check(len(ids) == ok and len(set(ids)) == ok,
              f"every greeting once: {len(ids)} messages, {len(set(ids))} ids, {ok} expected")
        by_rcpt = {rcpts[0]: (frm, m, raw) for frm, rcpts, m, raw in msgs}
        for addr, u in list(users.items()) + [(special[t]["email"], special[t])
                                              for t in ("tempfail", "busy", "drop", "slow")]:
            check(addr in by_rcpt, f"{addr} got its greeting")
            frm, m, raw = by_rcpt[addr]
            k = f"{u['id']}:birthday:2027"
            check(frm == "greetings@candle.example", f"envelope MAIL FROM: {frm}")
            check(m["Message-ID"] == f"<{k.replace(':', '.')}@candle.example>",
                  f"Message-ID of {k}: {m['Message-ID']}")
            check(str(m["From"]) == FROM, f"From: {m['From']}")
            # RFC 2047 joins adjacent encoded words (email.header does);
            # Python's address parser puts a space between them: both read.
            to_raw = raw.split(b"\r\n\r\n")[0].decode().split("\r\nTo: ")[1].split("\r\nSubject:")[0]
            strict = str(email.header.make_header(email.header.decode_header(to_raw)))
            full = f"{u['firstName']} {u['lastName']}"
            check(strict == f"{full} <{addr}>", f"To (RFC 2047): {strict!r} for {full} <{addr}>")
            name, to = email.utils.parseaddr(str(m["To"]))
            check(to == addr and " ".join(name.split()) == full, f"To: {m['To']!r} for {full} <{addr}>")
            check(str(m["Subject"]) == f"Happy birthday, {u['firstName']}!", f"Subject: {m['Subject']}")
            check(m["Date"] is not None and m["Date"].datetime is not None, "Date parses")
            check(m.get_content_type() == "text/plain" and m.get_content_charset() == "utf-8",
                  f"Content-Type: {m['Content-Type']}")
            check(m.get_content().rstrip("\r\n") == f"Hey, {full} it's your birthday",
                  f"body: {m.get_content()!r}")
            for line in raw.split(b"\r\n"):
                # Message-ID is kept whole on its line (receivers compare it as text).
                limit = 998 if line.startswith(b"Message-ID: ") else 78
                check(len(line) <= limit, f"line of {len(line)} octets: {line!r}")
            if any(ord(c) > 127 for c in full):
                check(b"=?UTF-8?B?" in raw.split(b"\r\n\r\n")[0], "non-ASCII name encoded")
        # The failure classes.
        h = srv.handler
        check(h.seen["tempfail@example.org"] == 3, f"451 twice, then sent: {h.seen}")
        check(h.seen["busy@example.org"] == 2, f"421 once, then sent: {h.seen}")
        check(h.data_seen["drop@example.org"] == 2, f"dropped once, then sent: {h.data_seen}")
        check(h.seen["slow@example.org"] == 2, f"slow once (timed out), then sent: {h.seen}")
        for tag in ("tempfail", "busy", "drop", "slow"):
            g = greeting(node, f"{special[tag]['id']}:birthday:2027")
            rec = g.get("record", g)
            check(rec["status"] == "sent" and rec["attempts"] >= 2, f"{tag}: {rec}")
        dead = records(node, "dead")
        check(len(dead) == 2, f"exactly the 550 and the 5.1.1 dead: {dead}")
        rej = greeting(node, f"{special['reject']['id']}:birthday:2027")
        rej = rej.get("record", rej)
        check(rej["status"] == "dead" and "550 5.7.1 Message refused by policy" in rej["lastError"]
              and rej["attempts"] == 1, f"550: dead at once with the server's text: {rej}")
        unk = greeting(node, f"{special['unknown']['id']}:birthday:2027")
        rec = unk.get("record", unk)
        check(rec["status"] == "dead" and "5.1.1" in rec["lastError"], f"5.1.1 dead: {rec}")
        sup = node.wait_for(lambda: [s for s in node.client.json("GET", "/api/v1/suppressions")
                                     ["data"]["suppressions"]
                                     if s["email"] == "unknown@example.org"], 10,
                            "5.1.1 suppresses the address")
        check("5.1.1" in sup[0]["reason"], f"suppression reason: {sup}")
        check(not any(s["email"] == "reject@example.org" for s in
                      node.client.json("GET", "/api/v1/suppressions")["data"]["suppressions"]),
              "a policy 550 suppresses nothing")
        # Connections reused: at most max-in-flight open at once, plus one
        # per failure that closes its connection (libcurl ends a connection
        # after a refused transfer with QUIT).
        conns = srv.connections
        # Each failure above (451 twice, 421, drop, slow, 550, 5.1.1) ends
        # its connection: at most 7 more than the 4 in flight.
        check(conns <= 4 + 7, f"connections reused: {conns} connections for {len(msgs)} messages")
        check(srv.tls_sessions == conns, f"every connection upgraded with STARTTLS: "
                                         f"{srv.tls_sessions} of {conns}")
        check(len(srv.logins) == conns and all(ok for _, _, ok in srv.logins),
              f"one AUTH per connection, accepted: {len(srv.logins)} for {conns} connections")
        check(node.log_count(PASSWORD) == 0, "the password is never in the log")
        print(f"  {ok} messages once over {conns} connections (all STARTTLS); 451x2, 421, drop, "
              f"slow retried and sent; 550 dead; 5.1.1 dead and suppressed; dead={len(dead)}")


def scenario_wrong_ca(candled, work):
    _, cert, key = make_ca(work, "server")
    wrong_ca, _, _ = make_ca(work, "other")
    with SmtpServer(tls=(cert, key)) as srv, \
            Node(candled, NoProvider, START, *smtp_args(srv, wrong_ca), partitions=4) as node:
        u = node.create_user(firstName="Zoë", lastName="Dupont", email="zoe@example.org",
                             timezone="UTC", birthdayDate="1990-03-01")
        node.advance(DUE)
        k = f"{u['id']}:birthday:2027"

        def failed_once():
            r = node.req("GET", f"/api/v1/greetings/{k}")
            if r.status == 404:  # not claimed yet
                return None
            check(r.status == 200, f"GET greeting {k}: {r.status} {r.text}")
            g = r.json()["data"]
            rec = g.get("record", g)
            # Failed and due again: `claimed` until the partition's retry
            # turn rewrites it `retrying`; never sent.
            return rec if rec["attempts"] >= 1 and rec["lastError"] else None
        try:
            rec = node.wait_for(failed_once, 20, "a failed attempt")
        except Exception:
            print("record:", node.req("GET", f"/api/v1/greetings/{k}").text)
            raise
        check("SSL" in rec["lastError"] or "certificate" in rec["lastError"],
              f"the error names the certificate: {rec['lastError']}")
        check(rec["status"] in ("claimed", "retrying"), f"transient, retried: {rec}")
        check(srv.messages() == [], "nothing sent over an unverified connection")
        check(srv.connections >= 1, "it did connect")
        print(f"  wrong CA: retrying, nothing sent ({rec['lastError'][:90]})")


def main():
    candled = sys.argv[1]
    work = tempfile.mkdtemp(prefix="candle-smtp-")
    try:
        run_scenarios(candled, work, [("delivery, failures and reuse over STARTTLS", scenario_delivery),
                                      ("a wrong CA is refused", scenario_wrong_ca)])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
