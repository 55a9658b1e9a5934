#!/usr/bin/env python3
"""The Debian package end to end: `cpack -G DEB` builds
candle_<version>_amd64.deb; its control file has the dependencies computed
from the binaries (and adduser, tzdata), apt can satisfy them here, the
maintainer scripts parse, the conffile is declared, the files are where
Debian puts them; unpacked into a scratch root, the binaries find every
library, and candled started with the packaged unit's ExecStart and the
packaged /etc/candle/candle.ini (a free port and a scratch database given
through CANDLE_* variables, as /etc/default/candled would) becomes ready,
answers the packaged candlectl, and stops cleanly on SIGTERM.

usage: package.py BUILD_DIR SOURCE_DIR
"""
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import shutil

sys.path.insert(0, os.path.dirname(__file__))
from e2e_lib import Client, _run, _wait_line, check, wait_for  # noqa: E402
from cluster_lib import free_port  # noqa: E402

BUILD, SOURCE = sys.argv[1:3]
VERSION = re.search(r"project\(candle VERSION ([0-9.]+)",
                    open(os.path.join(SOURCE, "CMakeLists.txt")).read()).group(1)
WORK = tempfile.mkdtemp(prefix="candle-deb-")
ROOT = os.path.join(WORK, "root")
DEB = os.path.join(WORK, f"candle_{VERSION}_amd64.deb")


def sh(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)


def field(control, name):
    m = re.search(rf"^{name}: (.*)$", control, re.M)
    return m.group(1) if m else ""


def cpack_builds_the_deb():
    p = sh("cpack", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-G", "DEB", "-B", WORK,
           timeout=300)
    check(p.returncode == 0 and os.path.exists(DEB), f"cpack: {p.returncode}\n{p.stdout}{p.stderr}")


def the_control_file_names_what_it_needs():
    control = sh("dpkg-deb", "-f", DEB).stdout
    check(field(control, "Package") == "candle" and field(control, "Version") == VERSION,
          f"package and version:\n{control}")
    check(field(control, "Architecture") == "amd64", "architecture")
    depends = field(control, "Depends")
    # Computed by dpkg-shlibdeps from the binaries, not written by hand.
    for lib in ["libcaf-core0.17", "libcaf-io0.17", "libcaf-openssl0.17", "libpqxx-6.4",
                "libboost-json1.81.0", "libcurl4", "libspdlog1.10", "libedit2", "libssl3",
                "adduser", "tzdata"]:
        check(re.search(rf"(^|, ){re.escape(lib)}[ ,(-]?", depends), f"Depends lacks {lib}: {depends}")
    check("postgresql" in field(control, "Recommends"), "Recommends postgresql (the embedded database)")
    p = sh("apt-get", "install", "--simulate", "--no-install-recommends", DEB)
    check(p.returncode == 0 and re.search(r"^Inst candle ", p.stdout, re.M),
          f"apt cannot satisfy the dependencies:\n{p.stdout}{p.stderr}")


def the_files_are_where_debian_puts_them():
    listing = sh("dpkg-deb", "-c", DEB).stdout
    for path in ["./usr/bin/candled", "./usr/bin/candlectl", "./usr/bin/candle-mock-provider",
                 "./usr/bin/candle-import", "./usr/share/doc/candle/migration.md",
                 "./usr/lib/systemd/system/candled.service",
                 "./usr/lib/systemd/system/candled@.service", "./etc/candle/candle.ini",
                 "./usr/share/doc/candle/configuration.md",
                 "./usr/share/doc/candle/examples/prometheus/candle-rules.yml",
                 "./usr/share/doc/candle/examples/grafana/candle.json"]:
        check(re.search(rf" {re.escape(path)}$", listing, re.M), f"{path} missing:\n{listing}")
    check(re.search(r"^-rw-r----- root/root .* \./etc/candle/candle\.ini$", listing, re.M),
          "candle.ini readable by root (and, after postinst, the candle group) only")
    os.makedirs(ROOT)
    check(sh("dpkg-deb", "-x", DEB, ROOT).returncode == 0, "dpkg-deb -x")
    control = os.path.join(WORK, "DEBIAN")
    check(sh("dpkg-deb", "-e", DEB, control).returncode == 0, "dpkg-deb -e")
    check(open(os.path.join(control, "conffiles")).read().split() == ["/etc/candle/candle.ini"],
          "conffiles")
    for script in ["postinst", "prerm", "postrm"]:
        p = sh("sh", "-n", os.path.join(control, script))
        check(p.returncode == 0, f"{script}: {p.stderr}")
    post = open(os.path.join(control, "postinst")).read()
    check("adduser --system" in post and "candled.service" in post, "postinst makes the user, enables the unit")
    for b in ["candled", "candlectl", "candle-mock-provider", "candle-import"]:
        p = sh("ldd", os.path.join(ROOT, "usr/bin", b))
        check(p.returncode == 0 and "not found" not in p.stdout, f"{b}: {p.stdout}")


def the_packaged_unit_starts_a_node_that_gets_ready():
    unit = open(os.path.join(ROOT, "usr/lib/systemd/system/candled.service")).read()
    check(re.search(r"^User=candle$", unit, re.M), "runs as the candle user")
    check(re.search(r"^EnvironmentFile=-/etc/default/candled$", unit, re.M), "environment file")
    argv = shlex.split(re.search(r"^ExecStart=(.*)$", unit, re.M).group(1))
    check(argv[0] == "/usr/bin/candled", f"ExecStart {argv}")
    # The packaged paths, inside the scratch root.
    argv = [ROOT + a if a.startswith("/") else re.sub(r"=(/.*)$", lambda m: "=" + ROOT + m.group(1), a)
            for a in argv]
    http, console = free_port(), free_port()
    state = os.path.join(WORK, "state")  # /var/lib/candle
    os.makedirs(state)
    env = dict(os.environ, CANDLE_HTTP_PORT=str(http), CANDLE_CONSOLE_PORT=str(console),
               CANDLE_DB_DIR=os.path.join(state, "pg"))
    if os.geteuid() == 0:
        # As the unit does, not as root: an unprivileged user (nobody here, the
        # candle user postinst makes there) that owns the state directory and
        # reads candle.ini through its group, as postinst sets it.
        import grp
        import pwd
        uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        os.chmod(WORK, 0o755)
        os.chown(state, uid, gid)
        os.chown(os.path.join(ROOT, "etc/candle/candle.ini"), 0, gid)
        argv = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv]
    log = open(os.path.join(WORK, "node.log"), "w")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                            cwd=state)
    try:
        m = _wait_line(proc, r"rest=http://([0-9.]+):(\d+)", "candled from the package")
        check((m.group(1), int(m.group(2))) == ("127.0.0.1", http), f"listening on {m.group(0)}")
        c = Client("127.0.0.1", http)
        wait_for(lambda: c.req("GET", "/readyz").status == 200, 60, "readiness")
        metrics = c.req("GET", "/metrics").text
        check(f'candle_build_info{{version="{VERSION}"}} 1' in metrics, "build info")
        p = sh(os.path.join(ROOT, "usr/bin/candlectl"), "--port", str(console), "status", timeout=20)
        check(p.returncode == 0, f"candlectl status: {p.returncode} {p.stdout} {p.stderr}")
        check(re.search(r"^ts=\S+ level=\w+ thread=\d+ event=", open(log.name).read(), re.M),
              "logfmt, as the packaged candle.ini says")
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(60) == 0, f"exit {proc.returncode} on SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        loc = os.path.join(state, "pg", "cluster-location")
        if os.path.exists(loc):
            shutil.rmtree(open(loc).read().strip(), ignore_errors=True)


if __name__ == "__main__":
    try:
        _run([(f.__name__, f) for f in [cpack_builds_the_deb, the_control_file_names_what_it_needs,
                                        the_files_are_where_debian_puts_them,
                                        the_packaged_unit_starts_a_node_that_gets_ready]])
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
