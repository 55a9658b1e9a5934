#!/usr/bin/env bash
# Memory footprint of a node with N users in the database (default 1,000,000):
# only the look-ahead window is kept in memory, so RSS should not grow with N.
# Loads users with birthdays spread over the year and 50 zones, starts a node
# (256 partitions, the embedded PostgreSQL), waits until every partition has
# loaded its window, and prints the node's RSS. Not a test.
# Usage: bench/footprint.sh [USERS] [BUILD_DIR]
set -euo pipefail
users=${1:-1000000}
build=${2:-$(cd "$(dirname "$0")/.." && pwd)/build}
work=$(mktemp -d /tmp/candle-footprint-XXXXXX)
chmod 755 "$work"
node=
cleanup() {
  [ -n "$node" ] && kill -TERM "$node" 2>/dev/null && wait "$node" 2>/dev/null || true
  if [ -f "$work/pg/cluster-location" ]; then rm -rf "$(cat "$work/pg/cluster-location")"; fi
  rm -rf "$work"
}
trap cleanup EXIT
start() {
  "$build/node/candled" --http.port=0 --console.port=0 --db.dir="$work/pg" \
    --clock.mode=simulated --clock.start=2027-07-15T00:00:00Z --clock.speed=0 \
    --email.url=http://127.0.0.1:9/none >"$work/out" 2>"$work/log" &
  node=$!
  for _ in $(seq 600); do grep -q 'candled ready' "$work/out" 2>/dev/null && break; sleep 0.1; done
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$node/status"; }
wait_ready() { # all 256 partitions have loaded their window
  for _ in $(seq 1200); do
    [ "$(grep -c 'event=partition.ready' "$work/log")" -ge 256 ] && return 0
    sleep 0.1
  done
  echo "partitions did not become ready" >&2; exit 1
}
start; wait_ready
empty_rss=$(rss_kb)
cluster=$work/pg/cluster
[ -f "$work/pg/cluster-location" ] && cluster=$(cat "$work/pg/cluster-location")
t0=$(date +%s)
psql -X -q -h "$cluster" -U candle -d candle -c "
  INSERT INTO users (id, first_name, last_name, email, timezone, birthday_date, partition,
                     created_at, updated_at)
  SELECT gen_random_uuid(), 'F', 'L', 'u' || i || '@x.org',
         (ARRAY['UTC','Europe/London','Europe/Paris','Asia/Tokyo','Asia/Kolkata',
                'America/New_York','America/Los_Angeles','Australia/Sydney',
                'Pacific/Auckland','America/Sao_Paulo'])[1 + i % 10],
         date '1980-01-01' + (i % 366), i % 256, '2020-01-01', '2020-01-01'
  FROM generate_series(1, $users) AS i" >/dev/null
psql -X -q -h "$cluster" -U candle -d candle -c "ANALYZE users" >/dev/null
load_s=$(( $(date +%s) - t0 ))
kill -TERM "$node"; wait "$node" || true
t1=$(date +%s%N)
start; wait_ready
ready_ms=$(( ($(date +%s%N) - t1) / 1000000 ))
queued=$(grep -o 'queued=[0-9]*' "$work/log" | cut -d= -f2 | awk '{s += $1} END {print s}')
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo)"
echo "users in database: $users (loaded in ${load_s} s), partitions: 256, lookahead 48h, recovery window 48h"
echo "RSS with an empty database:           $((empty_rss / 1024)) MB"
echo "RSS with $users users, window loaded: $(( $(rss_kb) / 1024 )) MB"
echo "occurrences held in memory:           $queued"
echo "start to all partitions ready:        ${ready_ms} ms"
