#!/usr/bin/env bash
# candle-import at scale (docs/benchmarks.md, issue 19). Not a test.
# N users (default 10,000,000) in the old service's schema
# (tests/e2e/fixtures/old_service_schema.sql) with one SENT greeting of this
# year per 20 users, filled by one INSERT ... SELECT into a database `oldsvc`
# beside Candle's in a running node's embedded PostgreSQL; then
#   1. the database's own ceiling for the same rows: the old rows piped by
#      psql's COPY TO / COPY FROM into a copy of Candle's `users` table (same
#      columns, indexes and constraints), without validation;
#   2. candle-import --from oldsvc --to the live node's database.
# Prints both rates and their ratio, and the node's RSS before and after (the
# node is told by candle_users and its partitions reload their windows)
# beside the RSS of the same node restarted on the imported data.
# Usage: bench/import.sh [N] [BUILD_DIR]   (BENCH_NODE_ARGS: the node's options)
set -euo pipefail
n=${1:-10000000}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$root/build}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init import
start_mock
# shellcheck disable=SC2206 # BENCH_NODE_ARGS is a list of options
node_args=(--email.url="$email_url" --clock.mode=simulated --clock.start=2027-03-01T00:00:00Z
  --clock.speed=0 ${BENCH_NODE_ARGS:-})
start_node "${node_args[@]}"
wait_ready
machine_line
cluster=$(cluster_dir)
candle_url="postgresql://candle@/candle?host=$cluster"
old_url="postgresql://candle@/oldsvc?host=$cluster"
psql_old() { psql -X -q -At -v ON_ERROR_STOP=1 "$old_url" "$@"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$node/status"; }
secs() { echo "scale=3; ($2 - $1) / 1000000000" | bc; }

psql_ -c "CREATE DATABASE oldsvc" >/dev/null
psql_old -f "$root/tests/e2e/fixtures/old_service_schema.sql" >/dev/null
t=$(date +%s%N)
# Zones and dates as a real user base spreads them (every day of the year,
# a few dozen zones); one deleted user in 100, an anniversary for one in 4.
psql_old -c "
  INSERT INTO users (id, first_name, last_name, email, timezone, birthday_date,
                     anniversary_date, location_city, location_country, created_at, updated_at,
                     deleted_at)
  SELECT gen_random_uuid(), 'First' || i, 'Last' || i, 'user' || i || '@example.org',
         (ARRAY['UTC','Europe/London','Europe/Berlin','America/New_York','America/Los_Angeles',
                'Asia/Tokyo','Asia/Kolkata','Australia/Sydney','America/Sao_Paulo',
                'Africa/Lagos','Pacific/Auckland','Asia/Jakarta'])[1 + i % 12],
         date '1950-01-01' + ((i * 7919) % 20000)::int,
         CASE WHEN i % 4 = 0 THEN date '2000-01-01' + ((i * 104729) % 9000)::int END,
         'City', 'Country', timestamptz '2020-01-01' + i * interval '1 second',
         timestamptz '2021-01-01' + i * interval '1 second',
         CASE WHEN i % 100 = 0 THEN timestamptz '2022-01-01' END
  FROM generate_series(1::bigint, $n) AS i" >/dev/null
psql_old -c "
  INSERT INTO message_logs (user_id, message_type, message_content, scheduled_send_time,
                            actual_send_time, status, idempotency_key)
  SELECT id, 'BIRTHDAY', 'Hey', timestamptz '2027-01-15 09:00Z', timestamptz '2027-01-15 09:00:01Z',
         'SENT', 'old-' || id
  FROM users WHERE deleted_at IS NULL AND birthday_date IS NOT NULL
                   AND extract(doy FROM birthday_date) % 20 = 0;
  ANALYZE" >/dev/null
echo "filled: $n old-service users, $(psql_old -c 'SELECT count(*) FROM message_logs') sent greetings in $(secs "$t" "$(date +%s%N)") s"

# 1. The ceiling: the same live rows moved by PostgreSQL alone.
psql_ -c "CREATE TABLE ceiling (LIKE users INCLUDING ALL)" >/dev/null
live=$(psql_old -c "SELECT count(*) FROM users WHERE deleted_at IS NULL")
t=$(date +%s%N)
psql_old -c "\\copy (SELECT id, first_name, last_name, email, timezone, birthday_date,
  anniversary_date, location_city, location_country, abs(hashtext(id::text)) % 256,
  created_at, updated_at FROM users WHERE deleted_at IS NULL) TO STDOUT" |
  psql_ -c "\\copy ceiling (id, first_name, last_name, email, timezone, birthday_date,
  anniversary_date, location_city, location_country, partition, created_at, updated_at) FROM STDIN"
ceiling_s=$(secs "$t" "$(date +%s%N)")
psql_ -c "DROP TABLE ceiling" >/dev/null

# 2. candle-import into the live node.
rss0=$(rss)
busy0=$(busy)
t=$(date +%s%N)
/usr/bin/time -f "%U %S %M" -o "$work/import.cpu" "$build/tools/candle-import" --from "$old_url" --to "$candle_url" --now 2027-03-01T00:00:00Z \
  --rejects "$work/rejects.ndjson" 2>"$work/import.err" | tee "$work/import.out"
import_s=$(secs "$t" "$(date +%s%N)")
busy_pct=$(echo "($(busy) - $busy0) * 100 / $(getconf CLK_TCK) / $(nproc) / $import_s" | bc)
import_cpu=$(awk '{print $1 + $2}' "$work/import.cpu")
imported=$(psql_ -c "SELECT count(*) FROM users")
records=$(psql_ -c "SELECT count(*) FROM send_records")
# Until the partitions' queues (the occurrences in their windows) stop
# growing for 3 s; sets last.
queued() { curl -sf "$base/metrics" | awk '/^candle_partition_queued_occurrences/ {print $2}'; }
settled() {
  local q same=0
  last=''
  for _ in $(seq 300); do
    q=$(queued)
    if [ "$q" = "$last" ]; then same=$((same + 1)); else same=0; last=$q; fi
    [ "$same" -ge 3 ] && [ "${q%.*}" != 0 ] && return 0
    sleep 1
  done
}
settled # the node took the notification
rss1=$(rss) queued1=$last
# With BENCH_NODE_ARGS=--log.level=info: how long the partitions' reread took.
reread=$(grep -o 'event=node.users_reread.*' "$work/log" || true)
# The reference: the same node restarted on the imported data.
kill -TERM "$node"
wait "$node" || true
start_node "${node_args[@]}"
wait_ready
settled
rss2=$(rss)
echo "ceiling (psql COPY pipe, no validation): $live rows in $ceiling_s s, $(echo "$live / $ceiling_s" | bc) rows/s"
echo "candle-import: $imported users and $records sent records in $import_s s, $(echo "$imported / $import_s" | bc) rows/s"
echo "CPU during the import: candle-import $import_cpu s (peak RSS $(awk '{print $3}' "$work/import.cpu") kB), machine busy $busy_pct % of $(nproc) cores"
echo "ratio to the ceiling: $(echo "scale=2; $ceiling_s / $import_s" | bc)"
echo "node RSS: $rss0 kB before, $rss1 kB after the import and the partitions' reload ($queued1 occurrences queued); restarted on the same data: $rss2 kB ($last queued)"
echo "rejected: $(wc -l <"$work/rejects.ndjson") rows"
if [ -n "$reread" ]; then echo "reread: $reread"; fi
