"""A controllable SMTP server for the SMTP transport's tests and demo, on python3-aiosmtpd
(Debian): it keeps every message it accepted, counts connections, offers
STARTTLS with a certificate from a test CA made here with openssl, and answers
by recipient, so one run exercises every failure class:

  unknown@...     550 5.1.1 at RCPT TO (unknown mailbox)
  reject@...      550 5.7.1 at RCPT TO (policy: permanent)
  tempfail@...    451 4.3.0 at RCPT TO the first two times, then accepted
  busy@...        421 4.3.2 at RCPT TO and the connection closed, the first time
  drop@...        the connection is dropped at DATA the first time
  slow@...        RCPT TO answered after `slow_s` the first time (past the
                  client's timeout), then at once
  anything else   accepted

Usable as a module (SmtpServer, make_ca; tests/e2e/smtp.py) or on its own
(scripts/run --smtp): prints each message it accepts, --dump also writes it
to DIR/NNNN.eml:
  smtp_server.py --port 2525 [--dump DIR]
"""
import argparse
import asyncio
import email
import email.policy
import os
import ssl
import subprocess
import threading
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult


def make_ca(directory, name, hosts=("127.0.0.1",)):
    """A CA and a server certificate it signed (SAN: hosts, localhost), in
    `directory`. Returns (ca.pem, cert.pem, key.pem)."""
    os.makedirs(directory, exist_ok=True)
    ca_key, ca = os.path.join(directory, f"{name}-ca.key"), os.path.join(directory, f"{name}-ca.pem")
    key, csr = os.path.join(directory, f"{name}.key"), os.path.join(directory, f"{name}.csr")
    cert, ext = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.ext")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", f"/CN={name} test CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    sans = ",".join([f"IP:{h}" for h in hosts] + ["DNS:localhost"])
    with open(ext, "w") as f:
        f.write(f"subjectAltName={sans}\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    return ca, cert, key


# aiosmtpd 1.4 sets its own deprecated Session.login_data after every AUTH.
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")


class Handler:
    def __init__(self, slow_s=3.0):
        self.lock = threading.Lock()
        self.messages = []  # (envelope from, recipients, email.message.EmailMessage, raw bytes)
        self.seen = {}      # recipient -> RCPT TO count
        self.data_seen = {}
        self.slow_s = slow_s
        self.rejected = []  # (recipient, reply)

    def _count(self, table, key):
        with self.lock:
            table[key] = table.get(key, 0) + 1
            return table[key]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        n = self._count(self.seen, address)
        reply = None
        if local.startswith("unknown"):
            reply = f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        elif local.startswith("reject"):
            reply = "550 5.7.1 Message refused by policy"
        elif local.startswith("busy") and n == 1:
            # 421: the server is going away; it closes the connection too.
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
            reply = "421 4.3.2 Service shutting down, closing transmission channel"
        elif local.startswith("tempfail") and n <= 2:
            reply = "451 4.3.0 Temporary local problem, try again"
        elif local.startswith("slow") and n == 1:
            await asyncio.sleep(self.slow_s)
        if reply:
            with self.lock:
                self.rejected.append((address, reply))
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        n = self._count(self.data_seen, rcpt)
        if rcpt.split("@")[0].lower().startswith("drop") and n == 1:
            server.transport.close()
            return "421 4.4.2 connection dropped"
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg, raw))
        return "250 2.0.0 Ok: queued"


class CountingSMTP(SMTP):
    connections = 0
    tls_sessions = 0
    lock = threading.Lock()

    def connection_made(self, transport):
        # Called again on the TLS transport after STARTTLS: counted apart.
        with CountingSMTP.lock:
            if self.transport is None:
                CountingSMTP.connections += 1
            else:
                CountingSMTP.tls_sessions += 1
        super().connection_made(transport)


class SmtpServer:
    """aiosmtpd on 127.0.0.1 in a thread; `tls` = (cert, key) offers STARTTLS;
    `auth` = (user, password) requires AUTH (over TLS) before MAIL FROM."""

    def __init__(self, port=0, tls=None, slow_s=3.0, auth=None):
        self.handler = Handler(slow_s)
        self.port = port or _free_port()
        kw = {}
        if tls:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(tls[0], tls[1])
            kw["tls_context"] = ctx
        self.logins = []
        if auth:
            def check(server, session, envelope, mechanism, data):
                ok = (data.login.decode(), data.password.decode()) == tuple(auth)
                self.logins.append((mechanism, data.login.decode(), ok))
                return AuthResult(success=ok)
            kw["auth_required"] = True
            kw["authenticator"] = check
        self.controller = _Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                      ready_timeout=10, decode_data=False, **kw)

    def __enter__(self):
        self.controller.start()
        # The controller's own readiness probe is not counted.
        time.sleep(0.2)
        CountingSMTP.connections = 0
        CountingSMTP.tls_sessions = 0
        self.url = f"smtp://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    @property
    def connections(self):
        return CountingSMTP.connections

    @property
    def tls_sessions(self):
        return CountingSMTP.tls_sessions

    def messages(self):
        with self.handler.lock:
            return list(self.handler.messages)


class _Controller(Controller):
    def factory(self):
        return CountingSMTP(self.handler, **self.SMTP_kwargs)


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=2525)
    ap.add_argument("--dump", help="write each accepted message to DIR/NNNN.eml")
    ap.add_argument("--quiet", action="store_true", help="print only the server's URL")
    a = ap.parse_args()
    with SmtpServer(a.port) as srv:
        print(f"smtp server on {srv.url}", flush=True)
        written = 0
        try:
            while True:
                time.sleep(0.5)
                msgs = srv.messages()
                for i in range(written, len(msgs)):
                    mail_from, rcpts, msg, raw = msgs[i]
                    if not a.quiet:
                        print(f"--- message {i + 1}: MAIL FROM <{mail_from}> RCPT TO {rcpts}\n"
                              + raw.decode("utf-8", "replace").replace("\r\n", "\n"), flush=True)
                    if a.dump:
                        os.makedirs(a.dump, exist_ok=True)
                        with open(os.path.join(a.dump, f"{i + 1:04d}.eml"), "wb") as f:
                            f.write(raw)
                written = len(msgs)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
