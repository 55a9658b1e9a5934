#!/usr/bin/env python3
"""Monitoring conventions, checked with the tools operators use: a node's
GET /metrics passes `promtool check metrics` (Debian's prometheus package)
and has the standard process_* families and candle_build_info; with
--log.format=json every log line is one JSON object with the logfmt keys;
the example alerting rules pass `promtool check rules` and their unit tests
(`promtool test rules`); every query of the Grafana dashboard names metrics
the node exports.

usage: monitoring.py CANDLED MOCK_PROVIDER SOURCE_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from e2e_lib import Failure, MockProvider, Node, check, run_tests  # noqa: E402

CANDLED, MOCK, SOURCE = sys.argv[1:4]
PROMTOOL = shutil.which("promtool")
if not PROMTOOL:
    raise Failure("promtool not found (scripts/setup installs Debian's prometheus package)")
PROM_DIR = os.path.join(SOURCE, "examples", "prometheus")
VERSION = re.search(r"project\(candle VERSION ([0-9.]+)",
                    open(os.path.join(SOURCE, "CMakeLists.txt")).read()).group(1)


def metrics_text(node):
    r = node.req("GET", "/metrics")
    check(r.status == 200, f"/metrics: {r.status}")
    return r.text


def families(text):
    """Family name -> type, from the # TYPE lines."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^# TYPE (\S+) (\S+)$", text, re.M)}


def test_promtool_accepts_the_metrics(node):
    node.req("GET", "/api/v1/users?limit=1")  # an HTTP series and a histogram with samples
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=metrics_text(node),
                       capture_output=True, text=True, timeout=30)
    # Exit 0 and nothing printed: no format error and no lint problem.
    check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
          f"promtool check metrics: exit {p.returncode}\n{p.stdout}{p.stderr}")


def test_process_metrics_and_build_info(node):
    text = metrics_text(node)
    f = families(text)
    for name, kind in [("process_cpu_seconds_total", "counter"),
                       ("process_resident_memory_bytes", "gauge"),
                       ("process_virtual_memory_bytes", "gauge"), ("process_open_fds", "gauge"),
                       ("process_max_fds", "gauge"), ("process_start_time_seconds", "gauge"),
                       ("candle_build_info", "gauge"), ("candle_partitions", "gauge")]:
        check(f.get(name) == kind, f"{name} is {f.get(name)}, not {kind}")
    value = {m.group(1): float(m.group(2))
             for m in re.finditer(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", text, re.M)}
    check(value.get(f'candle_build_info{{version="{VERSION}"}}') == 1.0,
          f"candle_build_info for {VERSION}: {[k for k in value if 'build_info' in k]}")
    check(value.get("candle_partitions") == node.partitions, "candle_partitions")
    pid = node.proc.pid
    rss = int(open(f"/proc/{pid}/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    check(0.5 * rss < value["process_resident_memory_bytes"] < 2 * rss,
          f"RSS {value['process_resident_memory_bytes']} vs /proc's {rss}")
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    check(abs(value["process_open_fds"] - fds) <= 5, f"fds {value['process_open_fds']} vs {fds}")
    started = os.stat(f"/proc/{pid}").st_mtime
    check(abs(value["process_start_time_seconds"] - started) < 120, "start time")


def test_json_logs_are_one_object_per_line(node):
    lines = open(os.path.join(node.work, "node.log")).read().splitlines()
    check(len(lines) > 5, f"{len(lines)} log lines")
    events = set()
    for line in lines:
        try:
            o = json.loads(line)
        except ValueError:
            raise Failure(f"not JSON: {line}")
        check(isinstance(o, dict) and {"ts", "level", "thread"} <= o.keys(), f"keys: {line}")
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["ts"]), f"ts: {line}")
        events.add(o.get("event"))
        if o.get("event") == "partition.ready":
            check(isinstance(o.get("partition"), int), f"a number stays a number: {line}")
    check("partition.ready" in events, f"events {sorted(e for e in events if e)}")


def test_alerting_rules_check_and_their_tests_pass(node):
    for args in (["check", "rules", "candle-rules.yml"], ["test", "rules", "candle-rules.test.yml"]):
        p = subprocess.run([PROMTOOL, *args], cwd=PROM_DIR, capture_output=True, text=True,
                           timeout=60)
        check(p.returncode == 0, f"promtool {' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    rules = open(os.path.join(PROM_DIR, "candle-rules.yml")).read()
    known = set(families(metrics_text(node))) | {"up"}
    for name in set(re.findall(r"\b((?:candle|process)_[a-z_]+)", rules)):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        check(name in known or base in known, f"the rules use {name}, which the node does not export")


def test_the_grafana_dashboard_queries_exported_metrics(node):
    dash = json.load(open(os.path.join(SOURCE, "examples", "grafana", "candle.json")))
    known = families(metrics_text(node))
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    check(len(exprs) >= 10, f"{len(exprs)} queries")
    for e in exprs:
        for name in re.findall(r"\b((?:candle|process)_[a-z_]+)", e):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            ok = name in known or (base != name and known.get(base) == "histogram")
            check(ok, f"the dashboard queries {name}, which the node does not export: {e}")


if __name__ == "__main__":
    with MockProvider(MOCK) as mock, Node(CANDLED, mock, "2027-07-01T00:00:00Z",
                                          "--log.format=json") as node:
        run_tests(node, [v for k, v in list(globals().items()) if k.startswith("test_")])
