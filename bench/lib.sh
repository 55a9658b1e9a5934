# shellcheck shell=bash
# Shared by bench/burst.sh and bench/steady.sh (sourced after `build` is set):
# a work directory removed on exit with the node, the mock provider and the
# embedded cluster started in it.

# bench_init NAME: the work directory /tmp/candle-NAME-*, cleaned up on exit.
bench_init() {
  work=$(mktemp -d "/tmp/candle-$1-XXXXXX")
  chmod 755 "$work"
  node='' mock=''
  trap bench_cleanup EXIT
}

bench_cleanup() {
  [ -n "$node" ] && kill -TERM "$node" 2>/dev/null && wait "$node" 2>/dev/null || true
  # BENCH_KEEP_LOG=FILE keeps the node's log (warnings and up) for a look after.
  if [ -n "${BENCH_KEEP_LOG:-}" ] && [ -f "$work/log" ]; then cp "$work/log" "$BENCH_KEEP_LOG"; fi
  [ -n "$mock" ] && kill "$mock" 2>/dev/null || true
  if [ -f "$work/pg/cluster-location" ]; then rm -rf "$(cat "$work/pg/cluster-location")"; fi
  rm -rf "$work"
}

# start_mock: candle-mock-provider on a free loopback port, no failures
# (BENCH_MOCK_ARGS: its options, e.g. --latency=150-250); sets mock,
# email_url and mock_base.
start_mock() {
  # shellcheck disable=SC2086 # BENCH_MOCK_ARGS is a list of options
  "$build/examples/candle-mock-provider" --port=0 ${BENCH_MOCK_ARGS:-} >"$work/mock.out" &
  mock=$!
  for _ in $(seq 100); do grep -q listening "$work/mock.out" && break; sleep 0.05; done
  email_url=$(grep -o 'http://[0-9.:]*/send-email' "$work/mock.out")
  mock_base=${email_url%/send-email}
}

# mock_stat FIELD: a counter from the mock's /stats.
mock_stat() { curl -sf "$mock_base/stats" | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }

# start_node OPTIONS...: candled on the work directory's embedded PostgreSQL,
# until it prints its start line; sets node and base.
start_node() {
  "$build/node/candled" --http.port=0 --console.port=0 --db.dir="$work/pg" --log.level=warn \
    "$@" >"$work/out" 2>"$work/log" &
  node=$!
  for _ in $(seq 600); do grep -q 'candled ready' "$work/out" 2>/dev/null && break; sleep 0.05; done
  base=$(grep -o 'rest=http://[0-9.:]*' "$work/out" | cut -d= -f2)
}

# wait_ready: until /readyz (database up, every partition owned).
wait_ready() {
  for _ in $(seq 3000); do curl -sf "$base/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "node not ready" >&2
  exit 1
}

# The embedded cluster's directory (relocated when the postgres user cannot
# reach the work directory) and psql on it.
cluster_dir() {
  if [ -f "$work/pg/cluster-location" ]; then cat "$work/pg/cluster-location"; else echo "$work/pg/cluster"; fi
}
psql_() { psql -X -q -At -h "$(cluster_dir)" -U candle -d candle "$@"; }

machine_line() {
  echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo)"
}

# CPU clock ticks (getconf CLK_TCK) used so far: by process `ticks PID`, by
# every postgres process of the cluster `pg_ticks` (its connections persist),
# by the whole machine `busy`, in softirq (loopback network) `softirq`.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Context switches (voluntary and not) of every thread of process $1.
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n + 0}'; }
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
pg_ticks() {
  local pm t=0 p
  pm=$(head -1 "$(cluster_dir)/postmaster.pid")
  for p in $pm $(pgrep -P "$pm"); do t=$(( t + $(ticks "$p" 2>/dev/null || echo 0) )); done
  echo "$t"
}
softirq() { awk '/^cpu / {print $8}' /proc/stat; }
