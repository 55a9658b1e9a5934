#!/usr/bin/env bash
# REST creates under load: POST /api/v1/users at C connections (the old
# service's own load script, ../shared/peers/happy-bday-app/post-load.mjs,
# autocannon) against a fresh node on its embedded PostgreSQL; prints the
# script's JSON (req/s, latency percentiles, status counts) and the rows per
# create statement (group commit) from /metrics.
# usage: bench/creates.sh [CANDLED] [N] [C]   (needs node and autocannon in
#        $AUTOCANNON_DIR, default /tmp/ac: `npm install autocannon` there)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
candled=${1:-$root/build/node/candled}
n=${2:-20000}
c=${3:-50}
ac=${AUTOCANNON_DIR:-/tmp/ac}
load=${LOAD_SCRIPT:-$root/../shared/peers/happy-bday-app/post-load.mjs}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
"$candled" --http.port=0 --console.port=0 --db.dir="$work/pg" --log.level=warn \
  >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 600); do grep -q "rest=" "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'rest=http://[0-9.:]*' "$work/out" | cut -d= -f2)
for _ in $(seq 600); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.1; done
cp "$load" "$ac/post-load.mjs"
# The node's context switches and CPU during the load (every thread of it),
# per create: what a hop between threads costs shows here (perf, if present).
stat=""
if command -v perf >/dev/null; then
  perf stat -e context-switches,task-clock -p "$pid" -x, -o "$work/stat" &
  stat=$!
  sleep 0.2
fi
(cd "$ac" && URL=$url N=$n C=$c PREFIX="b$RANDOM" TZS=Europe/London,Asia/Tokyo node post-load.mjs)
if [ -n "$stat" ]; then
  kill -INT "$stat"
  wait "$stat" || true
  awk -F, -v n="$n" '$3 == "context-switches" { cs = $1 } $3 == "task-clock" { ms = $1 }
    END { printf "node during the load: %.1f context switches and %.0f µs of CPU per create\n", cs / n, ms * 1000 / n }' "$work/stat"
fi
curl -s "$url/metrics" | grep -E 'candle_persistence_batch_rows_(sum|count)\{op="create"\}' || true
