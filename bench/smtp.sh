#!/usr/bin/env bash
# The SMTP transport's throughput against the SMTP ideal, in one run
# (docs/benchmarks.md; issue 37). Not a test.
#   1. N greetings due at one instant (all users in UTC, born 15 Jul) go out
#      through email.transport=smtp into Postfix's smtp-sink on loopback:
#      the full path (claim, send, record), from the instant to the last
#      record `sent`; duplicates counted by Message-ID in the sink's dump.
#   2. Postfix's smtp-source sends the same number of messages of the same
#      size over as many connections (-s) as Candle held open at most (at
#      most email.max-in-flight), each connection reused (-d), to the same sink.
# Prints both messages/s and the ratio, the connections Candle held open at
# most (sampled with ss) and the duplicates.
# Usage: bench/smtp.sh [N] [BUILD_DIR]   (N default 100000)
# Environment: SMTP_CONNS (default 256, the default email.max-in-flight) =
# email.max-in-flight = smtp-source -s;
# BURST_LEAD_S (default 30) seconds of clock before the instant.
set -euo pipefail
n=${1:-100000}
build=${2:-$(cd "$(dirname "$0")/.." && pwd)/build}
conns=${SMTP_CONNS:-256}
lead=${BURST_LEAD_S:-30}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init smtp
command -v smtp-sink >/dev/null || { echo "smtp-sink missing: scripts/setup installs postfix" >&2; exit 1; }
sink='' sampler=''
cleanup_sink() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  [ -n "$sink" ] && kill "$sink" 2>/dev/null || true
  bench_cleanup
}
trap cleanup_sink EXIT

# smtp-sink on a free loopback port, every message appended to one dump per
# run (it drops root privileges when started as root: -u nobody).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/sink" && chmod 777 "$work/sink"
start_sink() { # $1 = dump file name
  local as_user=()
  [ "$(id -u)" -eq 0 ] && as_user=(-u nobody)
  smtp-sink "${as_user[@]}" -c -D "$work/sink/$1" "127.0.0.1:$port" 1024 >"$work/sink/$1.counters" &
  sink=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.05; done
  echo "smtp-sink did not start" >&2
  exit 1
}
stop_sink() { kill "$sink" 2>/dev/null || true; wait "$sink" 2>/dev/null || true; sink=''; }
# Most established connections to the sink seen, sampled every 100 ms.
sample_connections() {
  local most=0 c
  while true; do
    c=$(ss -Htn state established "( dport = :$port )" 2>/dev/null | wc -l)
    [ "$c" -gt "$most" ] && { most=$c; echo "$most" >"$work/conns"; }
    sleep 0.1
  done
}

# --- 1. Candle ------------------------------------------------------------
start_sink candle.dump
start_at=2027-07-15T08:59:00Z
start() { # $1 = clock speed
  # shellcheck disable=SC2086 # BENCH_NODE_ARGS is a list of options
  start_node ${BENCH_NODE_ARGS:-} --clock.mode=simulated --clock.start="$start_at" \
    --clock.speed="$1" --email.transport=smtp --smtp.url="smtp://127.0.0.1:$port" \
    --smtp.from="Candle <greetings@candle.example>" --email.max-in-flight="$conns"
}
start 0; wait_ready
psql_ -c "
  INSERT INTO users (id, first_name, last_name, email, timezone, birthday_date, partition,
                     created_at, updated_at)
  SELECT gen_random_uuid(), 'Zoë', 'L' || i, 'u' || i || '@x.org', 'UTC', date '1980-07-15',
         0, '2020-01-01', '2020-01-01'
  FROM generate_series(1, $n) AS i" >/dev/null
psql_ -c "UPDATE users SET partition = abs(hashtext(id::text)) % 256; ANALYZE users" >/dev/null
kill -TERM "$node"; wait "$node" || true
start 0; wait_ready
from=$(date -u -d "2027-07-15 09:00:00 UTC - $lead seconds" +%FT%TZ)
curl -sf -X PUT -H 'Content-Type: application/json' -d "{\"now\":\"$from\",\"speed\":1}" \
  "$base/api/v1/admin/clock" >/dev/null
t0=$(( $(date +%s%N) + lead * 1000000000 ))
echo 0 >"$work/conns"
sample_connections &
sampler=$!
while [ "$(date +%s%N)" -lt "$t0" ]; do sleep 0.01; done
node_c0=$(ticks "$node") sink_c0=$(ticks "$sink")
# The sink's running count (-c): the last "mesg=" in its counters.
at_sink() { tail -c 200 "$work/sink/candle.dump.counters" | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2; }
t1='' last_trace=0
while [ "$(psql_ -c "SELECT count(*) FROM send_records WHERE status = 'sent'")" -lt "$n" ]; do
  [ -z "$t1" ] && [ "$(at_sink || echo 0)" -ge "$n" ] 2>/dev/null && t1=$(date +%s%N)
  # BENCH_TRACE=1: every 5 s, messages at the sink and CPU so far.
  if [ -n "${BENCH_TRACE:-}" ] && [ $(( $(date +%s) - last_trace )) -ge 5 ]; then
    last_trace=$(date +%s)
    echo "trace: $(( ($(date +%s%N) - t0) / 1000000 )) ms sink=$(at_sink) sink_cpu=$(( $(ticks "$sink") - sink_c0 )) node_cpu=$(( $(ticks "$node") - node_c0 )) ticks load=$(cut -d' ' -f1 /proc/loadavg)" >&2
  fi
  sleep 0.1
done
t2=$(date +%s%N)
[ -z "$t1" ] && t1=$t2
hz=$(getconf CLK_TCK)
node_cpu=$(( ($(ticks "$node") - node_c0) * 1000 / hz ))
sink_cpu=$(( ($(ticks "$sink") - sink_c0) * 1000 / hz ))
kill "$sampler" 2>/dev/null || true
sampler=''
candle_conns=$(cat "$work/conns")
dead=$(psql_ -c "SELECT count(*) FROM send_records WHERE status <> 'sent'")
kill -TERM "$node"; wait "$node" || true
node=''
stop_sink
# smtp-sink -c: "sess=S quit=Q mesg=M" after each session and message.
sessions_of() { tr '\r' '\n' <"$work/sink/$1.counters" | grep -o 'sess=[0-9]*' | tail -1 | cut -d= -f2; }
candle_sessions=$(sessions_of candle.dump)
ids=$(grep -c '^Message-ID: ' "$work/sink/candle.dump" || true)
unique=$(grep '^Message-ID: ' "$work/sink/candle.dump" | sort -u | wc -l)
candle_ms=$(( (t2 - t0) / 1000000 ))
sink_ms=$(( (t1 - t0) / 1000000 ))
candle_rate=$(( n * 1000 / (candle_ms > 0 ? candle_ms : 1) ))
# --- 2. smtp-source, the same messages over as many connections -----------
# The first dumped message, without smtp-sink's own X-* and Received lines.
awk 'BEGIN{RS=""; ORS=""} NR==1 {print; exit}' "$work/sink/candle.dump" |
  grep -v '^X-\|^Received: \|^	' >"$work/message.txt" || true
msg_bytes=$(wc -c <"$work/message.txt")
start_sink source.dump
s0=$(date +%s%N) sink_s0=$(ticks "$sink")
# As many connections as Candle held open at most (its adaptive limit may
# stay under email.max-in-flight).
source_conns=$(( candle_conns > 0 ? candle_conns : conns ))
smtp-source -d -s "$source_conns" -m "$n" -f greetings@candle.example -t u@x.org \
  -F "$work/message.txt" "127.0.0.1:$port"
s1=$(date +%s%N)
sink_source_cpu=$(( ($(ticks "$sink") - sink_s0) * 1000 / hz ))
stop_sink
source_count=$(grep -c '^X-Mail-Args' "$work/sink/source.dump" || true)
source_sessions=$(sessions_of source.dump)
source_ms=$(( (s1 - s0) / 1000000 ))
source_rate=$(( n * 1000 / (source_ms > 0 ? source_ms : 1) ))
ratio=$(awk -v a="$candle_rate" -v b="$source_rate" 'BEGIN {printf "%.2f", a / b}')

machine_line
echo "config: email.transport=smtp, email.max-in-flight=$conns, 256 partitions, claim-ahead 30 s, smtp-sink -D on loopback; messages of about $msg_bytes bytes"
echo "candle: $n greetings, instant to the last record sent ${candle_ms} ms = ${candle_rate}/s (the sink had them all at ${sink_ms} ms); at the sink $ids messages, $unique distinct Message-IDs (duplicates $(( ids - unique ))); not sent $dead; $candle_sessions SMTP sessions, at most $candle_conns open at once; CPU node ${node_cpu} ms, sink ${sink_cpu} ms"
echo "smtp-source: $n messages over $source_conns reused connections (-d -s $source_conns) in ${source_ms} ms = ${source_rate}/s; at the sink $source_count in $source_sessions sessions; CPU sink ${sink_source_cpu} ms"
echo "bench smtp: n=$n candle=${candle_rate}/s smtp-source=${source_rate}/s ratio=${ratio} duplicates=$(( ids - unique )) connections=$candle_conns cores=$(nproc)"
