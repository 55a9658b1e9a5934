#!/usr/bin/env bash
# End-to-end: the real candled binary over a real socket. Start-up line,
# /healthz, error envelopes, configuration errors (exit 2), environment
# precedence, and clean shutdown on SIGTERM and SIGINT (exit 0, no hang).
# Usage: candled_smoke.sh PATH_TO_CANDLED
set -euo pipefail
candled=${1:?path to candled}
source "$(dirname "$0")/lib.sh"

# start_node OUTFILE [args...]: starts candled, waits for its start-up line, sets $pid and $base.
start_node() {
  local out=$1; shift
  "$candled" --console.port=0 --db.dir="$work/pg" "$@" >"$out" 2>"$out.log" &
  pid=$!; pids+=("$pid")
  for _ in $(seq 100); do
    grep -q 'candled ready' "$out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || fail "candled exited early: $(cat "$out.log")"
    sleep 0.05
  done
  base=$(grep -o 'rest=http://[0-9.:]*' "$out" | head -1 | cut -d= -f2)
  [ -n "$base" ] || fail "no start-up line: $(cat "$out")"
}

# wait_ready: polls /readyz (503 while partitions load) for up to 20 s.
wait_ready() {
  for _ in $(seq 200); do
    curl -sSf "$base/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "not ready after 20 s: $(curl -sS "$base/readyz")"
}

# stop_node SIGNAL: sends it and checks exit 0 within 10 s (a hang, not a speed
# check: the hand-off of 256 partitions takes ~0.4 s, longer on a loaded machine).
stop_node() {
  local start end
  start=$(date +%s%N)
  kill -"$1" "$pid"
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$pid" 2>/dev/null && fail "still running 10 s after SIG$1"
  wait "$pid" || fail "exit code $? after SIG$1"
  end=$(date +%s%N)
  echo "ok: SIG$1 -> exit 0 in $(( (end - start) / 1000000 )) ms"
}

# 1. Start on a free port; one start-up line naming REST URL, console and db.
start_node "$work/a.out" --http.port=0
[ "$(wc -l <"$work/a.out")" -eq 1 ] || fail "expected exactly one start-up line"
grep -q "db=embedded:$work/pg" "$work/a.out" || fail "start-up line lacks the database"
grep -q "console=" "$work/a.out" || fail "start-up line lacks the console"
echo "ok: start-up line: $(cat "$work/a.out")"

# 2. /healthz is 200 with the success envelope.
body=$(curl -sS -w '\n%{http_code}' "$base/healthz")
[ "$(tail -1 <<<"$body")" = 200 ] || fail "healthz status: $body"
grep -q '"success":true' <<<"$body" || fail "healthz envelope: $body"
grep -q '"timestamp":"20' <<<"$body" || fail "healthz timestamp: $body"
echo "ok: /healthz"

# 3. Unknown path -> 404 envelope; wrong method -> 405 with Allow.
body=$(curl -sS -w '\n%{http_code}' "$base/no/such/thing?x=1")
[ "$(tail -1 <<<"$body")" = 404 ] || fail "404 expected: $body"
grep -q '"code":"NOT_FOUND"' <<<"$body" || fail "404 envelope: $body"
grep -q '"path":"/no/such/thing"' <<<"$body" || fail "404 path: $body"
hdrs=$(curl -sS -D - -o /dev/null -X POST "$base/healthz")
grep -q '^HTTP/1.1 405' <<<"$hdrs" || fail "405 expected: $hdrs"
grep -qi '^allow: GET' <<<"$hdrs" || fail "Allow header: $hdrs"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/admin/crash/partition-0")
[ "$code" = 404 ] || fail "fault injection must be off by default (got $code)"
echo "ok: 404 and 405 envelopes; fault injection off by default"

# 4. Oversized body -> 413, and the node stays healthy.
code=$(head -c 70000 /dev/zero | tr '\0' 'a' | curl -sS -o /dev/null -w '%{http_code}' \
  -X POST -H 'Content-Type: application/json' --data-binary @- "$base/healthz")
[ "$code" = 413 ] || fail "413 expected, got $code"
curl -sSf "$base/healthz" >/dev/null || fail "unhealthy after 413"
echo "ok: 413 for a 70 kB body"

# 5. Keep-alive: two requests over one connection.
n=$(curl -sS -v "$base/healthz" "$base/healthz" 2>&1 | grep -c 'Re-using existing connection' || true)
[ "$n" -ge 1 ] || fail "connection was not reused"
echo "ok: keep-alive"

# 6. Port in use -> a clear error, non-zero exit; so is a db.dir in use.
port=${base##*:}
if "$candled" --http.port="$port" --console.port=0 --db.dir="$work/pg2" >"$work/busy.out" 2>&1; then
  fail "second node on a busy port exited 0"
fi
grep -q "cannot bind" "$work/busy.out" || fail "no clear message for a busy port: $(cat "$work/busy.out")"
if "$candled" --http.port=0 --console.port=0 --db.dir="$work/pg" >"$work/dir.out" 2>&1; then
  fail "second node on the same db.dir exited 0"
fi
grep -q "in use by another candled" "$work/dir.out" || fail "no clear message: $(cat "$work/dir.out")"
wait_ready # (the first node's database must not have been disturbed)
echo "ok: busy port and busy db.dir refused"

stop_node TERM

# 7. Environment beats file, command line beats environment.
printf '[http]\nport=1\nhost="127.0.0.1"\n' >"$work/candle.ini"
CANDLE_HTTP_PORT=0 start_node "$work/b.out" --config-file="$work/candle.ini"
curl -sSf "$base/healthz" >/dev/null || fail "env-configured node unhealthy"
echo "ok: CANDLE_HTTP_PORT overrides the file"
stop_node INT

# 8. Configuration errors: message on stderr, exit code 2, nothing started.
check_usage() {
  local expect=$1; shift
  set +e
  env "$@" >"$work/err.out" 2>&1
  local rc=$?
  set -e
  [ "$rc" = 2 ] || fail "exit $rc (want 2) for: $*"
  grep -q -- "$expect" "$work/err.out" || fail "message lacks '$expect' for $*: $(cat "$work/err.out")"
}
check_usage "unknown option '--htp.port=1'" "$candled" --htp.port=1
check_usage "http.port" "$candled" --http.port=notaport
check_usage "clock.mode" "$candled" --clock.mode=fast
check_usage "CANDLE_HTTP_PROT" CANDLE_HTTP_PROT=1 "$candled"
check_usage "unexpected argument" "$candled" stray
echo "ok: configuration errors exit 2"

# 9. The database: ready, reused across restarts, and gone with a killed node.
cluster_dir() { if [ -f "$work/pg/cluster-location" ]; then cat "$work/pg/cluster-location"; else echo "$work/pg/cluster"; fi; }
start_node "$work/c.out" --http.port=0
wait_ready
body=$(curl -sS -w '\n%{http_code}' "$base/readyz")
[ "$(tail -1 <<<"$body")" = 200 ] || fail "readyz: $body"
grep -q '"database":"ok"' <<<"$body" || fail "readyz body: $body"
grep -q 'event=db.initdb' "$work/c.out.log" && fail "initdb ran again on a reused db.dir"
pgpid=$(head -1 "$(cluster_dir)/postmaster.pid")
kill -0 "$pgpid" || fail "no embedded PostgreSQL running"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$pgpid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pgpid" 2>/dev/null && fail "PostgreSQL outlived its node after kill -9"
echo "ok: kill -9 of the node takes its PostgreSQL down"
start_node "$work/d.out" --http.port=0
wait_ready
grep -q 'event=db.migrated' "$work/d.out.log" && fail "migrations re-applied on restart"
echo "ok: restart after kill -9 reuses the database"
stop_node TERM
[ -f "$(cluster_dir)/postmaster.pid" ] && fail "PostgreSQL not stopped with the node"
echo "ok: database stopped with the node"

# 10. An unreachable db.url: a clear error, non-zero exit.
set +e
"$candled" --http.port=0 --console.port=0 --db.url="postgresql://nobody@127.0.0.1:1/none" \
  >"$work/e.out" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] || fail "started without a database"
grep -q "database" "$work/e.out" || fail "no clear message for an unreachable database"
echo "ok: unreachable db.url refused"

# 11. --help prints the options and exits 0.
# (Read from a file: `| grep -q` closes the pipe early and, with pipefail,
# fails the check on the SIGPIPE that a long help text then gets.)
"$candled" --help >"$work/help.txt" || fail "--help did not exit 0"
grep -q "http.port" "$work/help.txt" || fail "--help lacks http.port"
echo "ok: --help"
echo "candled smoke: all checks passed"
