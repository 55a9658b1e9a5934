#!/usr/bin/env bash
# Delivery-event ingestion (issue 17's gate, docs/benchmarks.md). Not a test.
# A node sends G greetings to the mock provider (users loaded by SQL, all due
# at one instant), then tools/replay-events posts N signed events for them
# (10 % repeats, 20 % of greetings newest event first) at C connections and
# reads every greeting back: accepted, rejected, idempotency and ordering
# violations, latency p50/p95/p99/max, events/s.
# Reference in the same run: pgbench at C clients inserting one event row per
# transaction (INSERT … ON CONFLICT DO NOTHING, synchronous_commit=on) into
# the same database: what one commit per event would allow.
# Usage: bench/events.sh [N] [C] [BUILD_DIR]
set -euo pipefail
n=${1:-30000}
c=${2:-32}
build=${3:-$(cd "$(dirname "$0")/.." && pwd)/build}
greetings=$(( n / 2 + 100 ))
secret="whsec_$(head -c 32 /dev/urandom | base64 -w0)"
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init events
start_mock
start() {
  start_node --clock.mode=simulated --clock.start=2027-07-15T08:59:00Z --clock.speed=0 \
    --email.url="$email_url" --webhooks.secret="$secret" --http.max-connections-per-client=0 \
    --http.rate-per-client=0
}
start; wait_ready
psql_ -c "
  INSERT INTO users (id, first_name, last_name, email, timezone, birthday_date, partition,
                     created_at, updated_at)
  SELECT gen_random_uuid(), 'F', 'L', 'u' || i || '@x.org', 'UTC', date '1980-07-15',
         0, '2020-01-01', '2020-01-01'
  FROM generate_series(1, $greetings) AS i" >/dev/null
psql_ -c "UPDATE users SET partition = abs(hashtext(id::text)) % 256; ANALYZE users" >/dev/null
kill -TERM "$node"; wait "$node" || true
start; wait_ready
curl -sf -X PUT -H 'Content-Type: application/json' -d '{"now":"2027-07-15T09:00:01Z"}' \
  "$base/api/v1/admin/clock" >/dev/null
for _ in $(seq 1200); do
  [ "$(psql_ -c "SELECT count(*) FROM send_records WHERE status = 'sent'")" -ge "$greetings" ] && break
  sleep 0.1
done
machine_line
echo "postgresql: synchronous_commit=$(psql_ -c 'SHOW synchronous_commit'), fsync=$(psql_ -c 'SHOW fsync')"
echo "greetings sent: $(psql_ -c "SELECT count(*) FROM send_records WHERE status = 'sent'")"
node_c0=$(ticks "$node") pg_c0=$(pg_ticks) all_c0=$(busy) t0=$(date +%s%N)
"$build/tools/replay-events" --url "$base" --secret "$secret" --events "$n" --concurrency "$c" |
  tee "$work/replay.out"
# CPU while posting and reading back, by process (the replay tool is "the rest").
hz=$(getconf CLK_TCK)
node_cpu=$(( ($(ticks "$node") - node_c0) * 1000 / hz ))
pg_cpu=$(( ($(pg_ticks) - pg_c0) * 1000 / hz ))
all_cpu=$(( ($(busy) - all_c0) * 1000 / hz ))
wall_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "CPU: node ${node_cpu} ms, PostgreSQL ${pg_cpu} ms, the rest (replay-events, softirq) $(( all_cpu - node_cpu - pg_cpu )) ms; $(( all_cpu * 100 / wall_ms / $(nproc) ))% of $(nproc) cores over ${wall_ms} ms"
# How the node grouped them: statements (and commits) for the events.
curl -sf "$base/metrics" | awk '
  /^candle_persistence_batch_rows_sum\{op="events"\}/ {s = $2}
  /^candle_persistence_batch_rows_count\{op="events"\}/ {n = $2}
  END {if (n) printf "grouped: %d statements, %.1f events per statement\n", n, s / n}'
# The reference: one commit per event at the same concurrency.
psql_ -c "CREATE TABLE bench_events (LIKE delivery_events INCLUDING ALL)" >/dev/null
cat >"$work/one.sql" <<'SQL'
INSERT INTO bench_events (id, key, type, at) VALUES (md5(random()::text), 'k', 'delivered', now())
  ON CONFLICT (id) DO NOTHING;
SQL
pgbench -n -h "$(cluster_dir)" -U candle -c "$c" -j 2 -T 10 -f "$work/one.sql" candle 2>/dev/null |
  awk '/^tps/ {printf "reference: pgbench, one event row per commit at %s clients: %.0f commits/s\n", '"$c"', $3}'
