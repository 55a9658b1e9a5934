// Candle's dashboard: reads the JSON API every 5 s and draws it; actions
// (redrive, pause, resume) send the admin token typed in the header, which
// is kept in this tab only (sessionStorage). Data is put into the page as
// text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { lastSent: null, lastAt: null, query: "" };

$("token").value = sessionStorage.getItem("candle.token") || "";
$("token").addEventListener("change", () => {
  sessionStorage.setItem("candle.token", $("token").value);
  refresh();
});

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = $("token").value;
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let doc = null;
  try { doc = await r.json(); } catch (e) { doc = null; }
  if (!r.ok) {
    const msg = doc && doc.error ? doc.error.message || doc.error.code : r.statusText;
    const err = new Error(method + " " + path + ": " + r.status + " " + msg);
    err.status = r.status;
    throw err;
  }
  return doc ? doc.data : null;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(tbody, cells) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.appendChild(c instanceof Node ? wrap(c) : el("td", c, typeof c === "number" ? "n" : ""));
  tbody.appendChild(tr);
  return tr;
}

function wrap(node) {
  const td = document.createElement("td");
  td.appendChild(node);
  return td;
}

function fill(id, rows) {
  const tbody = $(id).querySelector("tbody");
  tbody.replaceChildren();
  for (const r of rows) row(tbody, r);
}

const SVG = "http://www.w3.org/2000/svg";
// Bars for `values`, the bar at `highlight` in the peak colour; `labels[i]`
// under every `every`-th bar.
function bars(svg, values, labels, every, highlight) {
  svg.replaceChildren();
  const w = 480, h = 140, n = Math.max(values.length, 1);
  const max = Math.max(1, ...values);
  const bw = w / n;
  values.forEach((v, i) => {
    const r = document.createElementNS(SVG, "rect");
    const bh = (v / max) * (h - 12);
    r.setAttribute("x", (i * bw + 1).toFixed(1));
    r.setAttribute("y", (h - bh).toFixed(1));
    r.setAttribute("width", Math.max(1, bw - 2).toFixed(1));
    r.setAttribute("height", bh.toFixed(1));
    r.setAttribute("data-value", String(v));
    if (i === highlight) r.setAttribute("class", "peak");
    const t = document.createElementNS(SVG, "title");
    t.textContent = labels[i] + ": " + v;
    r.appendChild(t);
    svg.appendChild(r);
    if (i % every === 0) {
      const tx = document.createElementNS(SVG, "text");
      tx.setAttribute("x", (i * bw + 1).toFixed(1));
      tx.setAttribute("y", "156");
      tx.textContent = labels[i];
      svg.appendChild(tx);
    }
  });
}

function hhmm(iso) { return iso.slice(11, 16); }

function showDashboard(d) {
  $("clock").textContent = d.now.replace("T", " ").slice(0, 19) + " UTC";
  const l = d.lateness;
  $("on-time").textContent = l.withinMinute === null ? "–" : (l.withinMinute * 100).toFixed(1) + " %";
  $("on-time").dataset.value = l.withinMinute === null ? "" : String(l.withinMinute);
  const lab = l.bounds.map((b) => "≤" + (b >= 3600 ? b / 3600 + "h" : b >= 60 ? b / 60 + "m" : b + "s")).concat([">" + l.bounds[l.bounds.length - 1] / 3600 + "h"]);
  bars($("lateness"), l.counts, lab, 3, -1);

  const f = d.forecast;
  const hours = f.hours.map((_, i) => hhmm(new Date(Date.parse(f.from) + i * 3600e3).toISOString()));
  const peakHour = f.peak ? Math.floor((Date.parse(f.peak.at) - Date.parse(f.from)) / 3600e3) : -1;
  bars($("forecast"), f.hours, hours, 6, peakHour);
  $("peak").replaceChildren();
  if (f.peak) {
    $("peak").append(el("strong", f.total.toLocaleString("en")), " due; the peak: ",
      el("strong", f.peak.count.toLocaleString("en"), "peak-count"), " at ",
      el("strong", f.peak.at.replace("T", " ").slice(0, 16) + " UTC", "peak-at"), ", most of them in ",
      el("strong", f.peak.zone, "peak-zone"), " (" + f.peak.zoneCount.toLocaleString("en") + ")");
  } else {
    $("peak").textContent = "nothing due";
  }

  fill("states", Object.entries(d.greetings).map(([k, v]) => [k, v]));
  $("states").querySelectorAll("tbody tr").forEach((tr, i) => { tr.id = "state-" + Object.keys(d.greetings)[i]; });
  const now = Date.now();
  const sent = d.thisNode.sent;
  const perMin = state.lastSent === null ? null : ((sent - state.lastSent) * 60000) / Math.max(1, now - state.lastAt);
  state.lastSent = sent;
  state.lastAt = now;
  fill("rates", Object.entries(d.thisNode).map(([k, v]) => [k, v, k === "sent" && perMin !== null ? Math.round(perMin) : ""]));
}

function showCluster(c) {
  $("unowned").textContent = c.partitionCount + " partitions, " + c.unowned + " without an owner";
  fill("nodes", c.nodes.map((n) => [n.id + (n.self ? " (this)" : ""), n.live ? "yes" : "no", n.partitionsOwned, n.restUrl || "", Math.round(n.upMs / 1000) + " s"]));
}

function showDelivery(d) {
  $("delivery").textContent = d.paused ? "paused" + (d.pausedBy ? " by " + d.pausedBy : "")
    : "running; breaker " + d.breaker + ", " + d.waiting + " waiting, " + d.greetingsInFlight + " in flight";
  $("delivery").dataset.paused = String(d.paused);
}

function showFailed(records, note) {
  $("failed-note").textContent = note;
  const tbody = $("failed").querySelector("tbody");
  tbody.replaceChildren();
  for (const r of records) {
    const b = el("button", "Redrive");
    b.type = "button";
    b.className = "redrive";
    b.dataset.key = r.key;
    b.disabled = !(r.status === "dead" || r.status === "expired");
    b.addEventListener("click", () => act(() => api("POST", "/api/v1/greetings/" + encodeURIComponent(r.key) + "/redrive")));
    const tr = row(tbody, [r.key, r.status, r.attempts, r.lastError || "", b]);
    tr.dataset.key = r.key;
  }
}

async function loadFailed() {
  if (state.query) {
    const s = await api("GET", "/api/v1/dashboard/search?q=" + encodeURIComponent(state.query));
    const who = s.user ? s.user.firstName + " " + s.user.lastName + " <" + s.user.email + ">" : "no user";
    showFailed(s.greetings, who + ": " + s.greetings.length + (s.greetings.length === 1 ? " greeting" : " greetings"));
    return;
  }
  const [dead, expired] = await Promise.all([
    api("GET", "/api/v1/greetings?status=dead&limit=100"),
    api("GET", "/api/v1/greetings?status=expired&limit=100")]);
  const all = dead.greetings.concat(expired.greetings);
  showFailed(all, all.length ? all.length + " shown (at most 100 of each)" : "none");
}

function problem(e) {
  $("status").textContent = e.message;
  $("status").className = "error";
}

async function refresh() {
  $("status").textContent = "";
  $("status").className = "";
  const jobs = [
    api("GET", "/api/v1/dashboard").then(showDashboard),
    api("GET", "/api/v1/cluster").then(showCluster),
    loadFailed(),
    api("GET", "/api/v1/admin/delivery").then(showDelivery, (e) => {
      $("delivery").textContent = e.status === 401 || e.status === 403 ? "give the admin token to see and change it" : e.message;
    })];
  const results = await Promise.allSettled(jobs);
  for (const r of results) if (r.status === "rejected") problem(r.reason);
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
}

async function act(f) {
  try {
    await f();
  } catch (e) {
    problem(e);
    return;
  }
  await refresh();
}

$("pause").addEventListener("click", () => act(() => api("PUT", "/api/v1/admin/delivery", { paused: true })));
$("resume").addEventListener("click", () => act(() => api("PUT", "/api/v1/admin/delivery", { paused: false })));
$("search-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.query = $("search").value.trim();
  refresh();
});
$("clear").addEventListener("click", () => {
  $("search").value = "";
  state.query = "";
  refresh();
});

refresh();
setInterval(refresh, 5000);
