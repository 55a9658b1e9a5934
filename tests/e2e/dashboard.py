#!/usr/bin/env python3
"""The dashboard in a real browser (headless Chromium from Debian, driven
over the DevTools protocol by tests/e2e/cdp.py). A node with an admin token
and data: greetings sent on time, one dead (the mock refuses its address),
users due in the next 48 hours in three zones. The page's figures are
checked against the API (share on time, the forecast's bars, the peak's
instant and zone, greetings by state, the nodes), then the actions: the
admin token typed into its field, Pause and Resume (the API shows the kill
switch follow), Redrive of the dead greeting (the provider receives it),
and a search by email. Any JavaScript error fails the test; a screenshot is
saved and its path printed.

usage: dashboard.py CANDLED MOCK_PROVIDER OUT_DIR
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from cdp import Browser  # noqa: E402
from e2e_lib import MockProvider, Node, check, run_tests, wait_for  # noqa: E402

CANDLED, MOCK, OUT = sys.argv[1:4]
TOKEN = "e2e-dashboard-token-5c1e8f2a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
USERS = [("Europe/London", "1990-07-01", "ok"), ("Europe/London", "1991-07-01", "dead"),
         ("America/New_York", "1970-07-01", "ok"), ("Asia/Tokyo", "1985-07-02", "ok"),
         ("Asia/Tokyo", "1986-07-02", "ok"), ("Asia/Tokyo", "1987-07-02", "ok")]
browser = None


def api(node, path, **kw):
    r = node.req("GET", path, **kw)
    check(r.status == 200, f"GET {path}: {r.status} {r.text}")
    return r.json()["data"]


def js(expr):
    return browser.evaluate(expr)


def wait_page(what, expr, timeout=20):
    """Waits until `expr` is true in the page; an expression that throws
    (the page still loading: no body yet) counts as not yet."""
    def ready():
        try:
            return js(expr)
        except RuntimeError:
            return False
    return wait_for(ready, timeout, what)


def setup(node, mock):
    """Users, then the clock to 08:00:30 UTC: London's two are due (one sent,
    30 s late; one refused for good: dead)."""
    for i, (tz, day, kind) in enumerate(USERS):
        domain = "dead.example" if kind == "dead" else "example.org"
        r = node.req("POST", "/api/v1/users", {"firstName": f"D{i}", "lastName": "Dash",
                                               "email": f"d{i}@{domain}", "timezone": tz,
                                               "birthdayDate": day})
        check(r.status == 201, f"create: {r.status} {r.text}")
    r = node.req("PUT", "/api/v1/admin/clock", {"now": "2027-07-01T08:00:30Z"}, headers=AUTH)
    check(r.status == 200, f"clock: {r.status} {r.text}")
    wait_for(lambda: api(node, "/api/v1/dashboard")["greetings"]["dead"] == 1 and
             mock.stats()["total"] == 1, 30, "one greeting sent and one dead")


def test_the_page_shows_what_the_api_says(node):
    d = api(node, "/api/v1/dashboard")
    wait_page("the first refresh", "Number(document.body.dataset.loaded || 0) >= 1")
    check(d["lateness"]["withinMinute"] == 1.0, f"API on time {d['lateness']}")
    shown = js("document.getElementById('on-time').dataset.value")
    check(float(shown) == d["lateness"]["withinMinute"], f"on time shown {shown}")
    check(js("document.getElementById('on-time').textContent") == "100.0 %", "on-time text")
    bars = js("[...document.querySelectorAll('#forecast rect')].map(r => Number(r.dataset.value))")
    check(bars == d["forecast"]["hours"], f"forecast bars {bars} vs {d['forecast']['hours']}")
    peak = d["forecast"]["peak"]
    check(peak["zone"] == "Asia/Tokyo" and peak["count"] == 3 and
          peak["at"] == "2027-07-02T00:00:00.000Z", f"API peak {peak}")
    check(js("document.querySelector('.peak-zone').textContent") == "Asia/Tokyo", "peak zone shown")
    check(js("document.querySelector('.peak-count').textContent") == "3", "peak count shown")
    check(js("document.querySelector('.peak-at').textContent") == "2027-07-02 00:00 UTC",
          "peak instant shown")
    check(js("document.querySelectorAll('#forecast rect.peak').length") == 1, "one peak bar")
    dead = js("document.querySelector('#state-dead td:nth-child(2)').textContent")
    check(int(dead) == d["greetings"]["dead"] == 1, f"dead shown {dead}")
    nodes = js("[...document.querySelectorAll('#nodes tbody tr')].map(r => r.textContent)")
    cluster = api(node, "/api/v1/cluster")
    check(len(nodes) == len(cluster["nodes"]) == 1 and str(node.partitions) in nodes[0],
          f"nodes shown {nodes}")
    check(js("document.querySelector('#failed tbody tr').dataset.key").endswith(":birthday:2027"),
          "the dead greeting listed")


def test_actions_need_the_token_and_work_with_it(node):
    check("admin token" in js("document.getElementById('delivery').textContent"),
          "without the token the kill switch is not shown")
    js(f"(() => {{ const t = document.getElementById('token'); t.value = {json.dumps(TOKEN)};"
       " t.dispatchEvent(new Event('change')); })()")
    wait_page("the delivery state with the token",
              "document.getElementById('delivery').dataset.paused === 'false'")
    check(js("sessionStorage.getItem('candle.token')") == TOKEN, "kept in the tab")
    js("document.getElementById('pause').click()")
    wait_for(lambda: api(node, "/api/v1/admin/delivery", headers=AUTH)["paused"], 10,
             "Pause to pause delivery")
    wait_page("the page to show it paused",
              "document.getElementById('delivery').dataset.paused === 'true'")
    js("document.getElementById('resume').click()")
    wait_for(lambda: not api(node, "/api/v1/admin/delivery", headers=AUTH)["paused"], 10,
             "Resume to resume it")


def test_redrive_sends_the_dead_greeting(node):
    key = js("document.querySelector('#failed tbody tr').dataset.key")
    node.mock.control({"rejectSuffix": ""})  # the mailbox works again
    js(f"document.querySelector('button.redrive[data-key={json.dumps(key)}]').click()")
    wait_for(lambda: key in node.mock.keys(), 30, "the redriven greeting at the provider")
    wait_for(lambda: api(node, f"/api/v1/greetings/{key}")["status"] == "sent", 30, "it sent")
    wait_page("the failed list to empty", "document.querySelectorAll('#failed tbody tr').length === 0")


def test_search_by_email(node):
    email = "d1@dead.example"
    js(f"document.getElementById('search').value = {json.dumps(email)};"
       " document.getElementById('search-form').requestSubmit()")
    wait_page("the search result", "document.getElementById('failed-note').textContent.includes('D1 Dash')")
    rows = js("[...document.querySelectorAll('#failed tbody tr')].map(r => r.dataset.key)")
    found = api(node, f"/api/v1/dashboard/search?q={email}")
    check(rows == [g["key"] for g in found["greetings"]] and len(rows) == 1, f"rows {rows}")
    bad = node.req("GET", "/api/v1/dashboard/search?q=nobody")
    check(bad.status == 400 and "q" in bad.json()["error"]["message"], f"bad q: {bad.status}")


def test_no_javascript_errors_and_a_screenshot(node):
    path = browser.screenshot(os.path.join(OUT, "dashboard.png"))
    print(f"    screenshot: {path} ({os.path.getsize(path)} bytes)", flush=True)
    check(os.path.getsize(path) > 10_000, "a screenshot with something on it")
    errors = browser.js_errors()
    check(not errors, f"JavaScript errors: {errors}")
    status = js("document.getElementById('status').textContent")
    check(status == "", f"the page reported: {status}")


if __name__ == "__main__":
    with MockProvider(MOCK, "--reject-suffix", "@dead.example") as mock, \
            Node(CANDLED, mock, "2027-07-01T05:30:00Z", f"--admin.token={TOKEN}") as node:
        node.mock = mock
        setup(node, mock)
        browser = Browser()
        try:
            browser.navigate(f"http://{node.address[0]}:{node.address[1]}/dashboard")
            # Page.navigate returns before the page is there: wait for it, and
            # for its first refresh, before any test looks.
            wait_page("the dashboard to load", "location.pathname === '/dashboard' &&"
                      " document.readyState === 'complete' && !!document.body")
            wait_page("the first refresh", "Number(document.body.dataset.loaded || 0) >= 1")
            run_tests(node, [test_the_page_shows_what_the_api_says,
                             test_actions_need_the_token_and_work_with_it,
                             test_redrive_sends_the_dead_greeting, test_search_by_email,
                             test_no_javascript_errors_and_a_screenshot])
        finally:
            browser.close()
