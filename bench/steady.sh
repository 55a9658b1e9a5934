#!/usr/bin/env bash
# A realistic day (docs/benchmarks.md): N greetings on one local date, the
# users spread over every IANA zone equally (tools/genusers.py --day), so they
# come due as the zones do — about 40 distinct instants from 19:00Z the day
# before (UTC+14) to 21:00Z (UTC-12), in groups as large as the zones sharing
# an offset. The simulated clock runs the ~26 hours at SPEED times real time;
# claim-ahead is scaled with it (30 s of real time). Figures are in real time:
# the engine clock is linear in real time, so real lateness = simulated / SPEED.
# Not a test.
# Usage: bench/steady.sh [N] [SPEED] [BUILD_DIR]   (default 100000 360 build)
set -euo pipefail
n=${1:-100000}
speed=${2:-360}
build=${3:-$(cd "$(dirname "$0")/.." && pwd)/build}
root=$(cd "$(dirname "$0")/.." && pwd)
day=2027-07-15
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init steady
start_mock
start_at=2027-07-14T18:00:00Z # an hour before the first zone (UTC+14) reaches 09:00
start() {
  start_node --clock.mode=simulated --clock.start="$start_at" --clock.speed=0 \
    --schedule.claim-ahead="$((30 * speed))s" --email.url="$email_url"
  wait_ready
}
start
cluster=$(cluster_dir)
python3 "$root/tools/genusers.py" "$n" --day "$day" --psql="-h $cluster -U candle -d candle" >/dev/null
psql_ -c "ANALYZE users" >/dev/null
kill -TERM "$node"
wait "$node" || true
start # partitions load the day's users
# The day's greetings: how many distinct instants, the largest group.
read -r instants largest <<<"$(psql_ -F ' ' -c "
  SELECT count(*), max(c) FROM (SELECT count(*) AS c FROM (
    SELECT (('$day'::date + time '09:00') AT TIME ZONE timezone) AS due FROM users) d
  GROUP BY due) g")"
curl -sf -X PUT -H 'Content-Type: application/json' \
  -d "{\"now\":\"$start_at\",\"speed\":$speed}" "$base/api/v1/admin/clock" >/dev/null
t0=$(date +%s%N)
total() { mock_stat uniqueKeys; }
deadline=$(( $(date +%s) + 27 * 3600 / speed + 120 ))
while [ "$(total)" -lt "$n" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || { echo "steady: only $(total) of $n sent" >&2; exit 1; }
  sleep 1
done
while [ "$(psql_ -c "SELECT count(*) FROM send_records WHERE status = 'sent'")" -lt "$n" ]; do
  sleep 0.5
done
t1=$(date +%s%N)
# Real time per greeting: simulated milliseconds / speed.
stats=$(psql_ -F ' ' -c "
  WITH s AS (SELECT extract(epoch FROM sent_at - due_at) / $speed AS late,
                    floor(extract(epoch FROM sent_at - timestamptz '$start_at') / $speed) AS sec
             FROM send_records WHERE status = 'sent'),
       per AS (SELECT sec, count(*) AS c FROM s GROUP BY sec)
  SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY late)::numeric, 3),
         round(percentile_cont(0.99) WITHIN GROUP (ORDER BY late)::numeric, 3),
         round(max(late)::numeric, 3),
         (SELECT max(c) FROM per), (SELECT count(*) FROM per),
         (SELECT round(avg(c)) FROM per)
  FROM s")
read -r p50 p99 max peak busy_s busy_mean <<<"$stats"
dups=$(mock_stat duplicates)
run_s=$(( (t1 - t0) / 1000000000 ))
machine_line
echo "config: 256 partitions, claim-ahead 30 s real, email.max-in-flight 256, synchronous_commit=on, mock provider on loopback; clock ${speed}x"
echo "day $day: $n greetings at $instants distinct instants, the largest group $largest"
echo "run: ${run_s} s real for the simulated day; sending in ${busy_s} distinct seconds"
echo "bench steady: n=$n peak=${peak}/s mean_busy=${busy_mean}/s mean_day=$(( n / (run_s > 0 ? run_s : 1) ))/s lateness_s p50=$p50 p99=$p99 max=$max duplicates=$dups cores=$(nproc)"
