#!/usr/bin/env bash
# REST latency at set request rates (docs/benchmarks.md): POST /api/v1/users
# (every email unique) and GET /api/v1/users/{id} with wrk and
# bench/rest_load.lua, which paces each connection, against a node on a fresh
# embedded PostgreSQL with the system clock.
# Usage: bench/rest_bench.sh [BUILD_DIR] [SECONDS] [RATES...]   (default build 15 1000 2000)
set -euo pipefail
build=${1:-build}
secs=${2:-15}
shift $(( $# > 2 ? 2 : $# ))
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(1000 2000)
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
work=$(mktemp -d)
node=
cleanup() {
  [ -n "$node" ] && kill "$node" 2>/dev/null && wait "$node" 2>/dev/null || true
  loc=$work/pg/cluster-location
  [ -f "$loc" ] && case $(cat "$loc") in /var/lib/candle/clusters/*) rm -rf "$(cat "$loc")" ;; esac
  rm -rf "$work"
}
trap cleanup EXIT
"$build/node/candled" --http.port=0 --console.port=0 --db.dir="$work/pg" --log.level=warn \
  >"$work/out" 2>"$work/log" &
node=$!
for _ in $(seq 200); do grep -q 'candled ready' "$work/out" 2>/dev/null && break; sleep 0.05; done
base=$(grep -o 'rest=http://[0-9.:]*' "$work/out" | cut -d= -f2)
for _ in $(seq 200); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done
id=$(curl -sf -X POST -H 'Content-Type: application/json' "$base/api/v1/users" \
  -d '{"firstName":"Read","lastName":"Me","email":"read@bench.example","timezone":"UTC"}' |
  grep -o '"id":"[^"]*"' | cut -d'"' -f4)
echo "REST benchmark: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "embedded PostgreSQL (synchronous_commit=on), 256 partitions, ${secs}s per run"
for rate in "${rates[@]}"; do
  conns=40
  pace=$((1000 * conns / rate - 1)) # minus ~1 ms of service time per request
  echo "--- $rate requests/s wanted ($conns connections, ${pace} ms pause each)"
  PACE_MS=$pace RUN_ID="r$rate" wrk -t2 -c"$conns" -d"${secs}s" -s "$here/rest_load.lua" "$base" |
    grep -E '^create'
  PACE_MS=$pace READ_PATH="/api/v1/users/$id" wrk -t2 -c"$conns" -d"${secs}s" \
    -s "$here/rest_load.lua" "$base" | grep -E '^read'
done
