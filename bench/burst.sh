#!/usr/bin/env bash
# Greeting throughput and lateness (docs/benchmarks.md). Not a test.
#   burst:   N greetings due at the same instant (all users in UTC, born 15 Jul);
#            the clock jumps to 09:00 and runs in real time.
#   catchup: N greetings missed during a day of downtime (due instants spread
#            over 24 zones); the node starts 24 h after the first was due.
# Loads the users with one INSERT … SELECT into the node's embedded
# PostgreSQL, restarts the node so partitions load them, and reports drain
# time, greetings/s and lateness (sent − due, from send_records) p50/p99/max.
# The mock provider runs on loopback without failures or latency.
# Usage: bench/burst.sh N [burst|catchup] [BUILD_DIR] [--summary]
# Environment: BURST_LEAD_S (default 30) seconds of clock before the burst's
# instant; BENCH_NODE_ARGS extra candled options (e.g. --schedule.claim-ahead=0).
set -euo pipefail
n=${1:?number of greetings}
mode=${2:-burst}
build=${3:-$(cd "$(dirname "$0")/.." && pwd)/build}
summary=${4:-}
lead=${BURST_LEAD_S:-30}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init burst
start_mock
case $mode in
  burst) start_at=2027-07-15T08:59:00Z ;;
  catchup) start_at=2027-07-16T09:00:00Z ;;
  *) echo "mode: burst or catchup" >&2; exit 2 ;;
esac
start() { # $1 = clock speed, $2 = clock start (default $start_at)
  # shellcheck disable=SC2086 # BENCH_NODE_ARGS is a list of options
  start_node ${BENCH_NODE_ARGS:-} --clock.mode=simulated --clock.start="${2:-$start_at}" \
    --clock.speed="$1" --email.url="$email_url"
}
# The first node only makes the schema and holds the database while the
# users go in. Its clock stands months before their day: the change feed
# brings it every user inserted, and nothing may be due (or claimed) yet.
start 0 2027-01-01T00:00:00Z; wait_ready
cluster=$(cluster_dir)
if [ "$mode" = burst ]; then zone="'UTC'"; else zone="'Etc/GMT' || (CASE WHEN i % 24 < 12 THEN '-' ELSE '+' END) || (CASE WHEN i % 24 < 12 THEN (i % 24) + 1 ELSE (i % 24) - 12 END)"; fi
psql_ -c "
  INSERT INTO users (id, first_name, last_name, email, timezone, birthday_date, partition,
                     created_at, updated_at)
  SELECT gen_random_uuid(), 'F', 'L', 'u' || i || '@x.org', $zone, date '1980-07-15',
         0, '2020-01-01', '2020-01-01'
  FROM generate_series(1, $n) AS i" >/dev/null
# Partition by the id's hash like the REST API does: spread evenly.
psql_ -c "UPDATE users SET partition = abs(hashtext(id::text)) % 256; ANALYZE users" >/dev/null
kill -TERM "$node"; wait "$node" || true
t0=$(date +%s%N)
if [ "$mode" = burst ]; then
  start 0; wait_ready
  # The clock runs in real time from $lead seconds before the instant (with
  # BENCH_NODE_ARGS=--schedule.claim-ahead=30s, the time to claim ahead).
  from=$(date -u -d "2027-07-15 09:00:00 UTC - $lead seconds" +%FT%TZ)
  curl -sf -X PUT -H 'Content-Type: application/json' -d "{\"now\":\"$from\",\"speed\":1}" \
    "$base/api/v1/admin/clock" >/dev/null
  t0=$(( $(date +%s%N) + lead * 1000000000 ))
else
  start 1 # every greeting is already due when the node starts
fi
# Claims ahead happen before the instant; the CPU figures below cover the
# instant onwards (the greeting path proper), not the idle lead.
while [ "$(date +%s%N)" -lt "$t0" ]; do sleep 0.01; done
# CPU seconds used while draining, by process: the node, the mock, and the
# rest of the machine (PostgreSQL and this script's polling).
node_c0=$(ticks "$node") mock_c0=$(ticks "$mock") all_c0=$(busy) pg_c0=$(pg_ticks) irq_c0=$(softirq)
node_s0=$(switches "$node")
cpu_t0=$(date +%s%N)
total() { mock_stat uniqueKeys; }
while [ "$(total)" -lt "$n" ]; do sleep 0.1; done
t1=$(date +%s%N)
while [ "$(psql_ -c "SELECT count(*) FROM send_records WHERE status = 'sent'")" -lt "$n" ]; do sleep 0.1; done
t2=$(date +%s%N)
hz=$(getconf CLK_TCK)
node_cpu=$(( ($(ticks "$node") - node_c0) * 1000 / hz ))
node_switches=$(( $(switches "$node") - node_s0 ))
mock_cpu=$(( ($(ticks "$mock") - mock_c0) * 1000 / hz ))
all_cpu=$(( ($(busy) - all_c0) * 1000 / hz ))
pg_cpu=$(( ($(pg_ticks) - pg_c0) * 1000 / hz ))
irq_cpu=$(( ($(softirq) - irq_c0) * 1000 / hz ))
rest_cpu=$(( all_cpu - node_cpu - mock_cpu - pg_cpu - irq_cpu ))
drain_ms=$(( (t2 - t0) / 1000000 ))
lat=$(psql_ -F ' ' -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY x)::numeric, 3),
                               round(percentile_cont(0.99) WITHIN GROUP (ORDER BY x)::numeric, 3),
                               round(max(x)::numeric, 3)
                        FROM (SELECT extract(epoch FROM sent_at - due_at) AS x FROM send_records) s")
read -r p50 p99 max <<<"$lat"
claims=$(psql_ -F ' ' -c "SELECT round(extract(epoch FROM min(claimed_at - due_at))::numeric, 3),
                                  round(extract(epoch FROM max(claimed_at - due_at))::numeric, 3)
                           FROM send_records")
dups=$(mock_stat duplicates)
worst=$(mock_stat worstSecond) # the most requests the provider saw in any 1 s
rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$node/status")
rate=$(( n * 1000 / (drain_ms > 0 ? drain_ms : 1) ))
line="bench $mode: n=$n drain=${drain_ms}ms rate=${rate}/s lateness_s p50=$p50 p99=$p99 max=$max duplicates=$dups worst_second=$worst rss=${rss}MB cores=$(nproc)"
if [ "$summary" = --summary ]; then echo "$line"; exit 0; fi
machine_line
echo "config: 256 partitions, claim batch 1000, delivery chunk 250, email.max-in-flight 256, synchronous_commit=on, mock provider on loopback"
if [ "$mode" = burst ]; then
  echo "from the clock reaching the due instant to the provider holding all $n keys: $(( (t1 - t0) / 1000000 )) ms"
  read -r c_first c_last <<<"$claims"
  echo "claims (record written) from ${c_first} s to ${c_last} s relative to the instant"
else
  echo "from node start (clock 24 h after the first due instant) to the provider holding all $n keys: $(( (t1 - t0) / 1000000 )) ms"
fi
# Disk per greeting (docs/persistence.md, "Send records by year"): the year's
# table and its indexes as the claim and the mark left them, then compacted.
record_bytes() {
  psql_ -F ' ' -c "SELECT round(sum(pg_table_size(c.oid)) / $n), round(sum(pg_indexes_size(c.oid)) / $n)
                   FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                   WHERE i.inhparent = 'send_records'::regclass"
}
read -r heap_w idx_w <<<"$(record_bytes)"
psql_ -c "VACUUM FULL send_records" >/dev/null
read -r heap_c idx_c <<<"$(record_bytes)"
echo "send_records on disk per greeting: as written ${heap_w} B table + ${idx_w} B indexes; compacted (VACUUM FULL) ${heap_c} B + ${idx_c} B"
per() { echo "$(( $1 * 1000 / n ))"; } # CPU ms -> µs per greeting
cpu_ms=$(( (t2 - cpu_t0) / 1000000 ))
echo "node context switches (every thread) from the instant to the last record: $node_switches ($(( node_switches * 100 / n ))/100 per greeting)"
echo "CPU from the instant to the last record: node ${node_cpu} ms ($(per "$node_cpu") µs/greeting), mock ${mock_cpu} ms ($(per "$mock_cpu") µs), PostgreSQL ${pg_cpu} ms ($(per "$pg_cpu") µs), softirq (loopback network) ${irq_cpu} ms ($(per "$irq_cpu") µs), the rest ${rest_cpu} ms ($(per "$rest_cpu") µs); $(( all_cpu * 100 / (cpu_ms > 0 ? cpu_ms : 1) / $(nproc) ))% of $(nproc) cores over ${cpu_ms} ms"
echo "$line"
