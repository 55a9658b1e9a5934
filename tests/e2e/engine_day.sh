#!/usr/bin/env bash
# End-to-end: real candled, real candle-mock-provider, real PostgreSQL. A
# frozen simulated clock is moved in 15-minute steps over 30 hours; after each
# step the provider holds exactly the greetings whose due instants have
# passed — none early, none missing, none twice — and a kill -9 of the node
# halfway changes nothing.
# Usage: engine_day.sh PATH_TO_CANDLED PATH_TO_MOCK_PROVIDER
set -euo pipefail
candled=${1:?candled}
mock=${2:?candle-mock-provider}
source "$(dirname "$0")/lib.sh"

"$mock" --port=0 >"$work/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/mock.out" && break; sleep 0.05; done
email_url=$(grep -o 'http://[0-9.:]*/send-email' "$work/mock.out")
mock_base=${email_url%/send-email}

start_node() {
  "$candled" --http.port=0 --console.port=0 --db.dir="$work/pg" --email.url="$email_url" \
    --schedule.partitions=8 --clock.mode=simulated --clock.start="$1" --clock.speed=0 \
    --admin.fault-injection=true \
    >"$work/node.out" 2>"$work/node.log" &
  node=$!
  pids+=("$node")
  for _ in $(seq 200); do
    grep -q 'candled ready' "$work/node.out" 2>/dev/null && break
    kill -0 "$node" 2>/dev/null || fail "candled exited: $(tail -5 "$work/node.log")"
    sleep 0.05
  done
  base=$(grep -o 'rest=http://[0-9.:]*' "$work/node.out" | cut -d= -f2)
  [ -n "$base" ] || fail "no start-up line"
}

start_node 2027-07-15T00:00:00Z
cluster=$work/pg/cluster
[ -f "$work/pg/cluster-location" ] && cluster=$(cat "$work/pg/cluster-location")
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h "$cluster" -U candle -d candle "$@"; }

# id, zone, birthday, anniversary, created, deleted -> due (UTC) or never
psql_ <<'SQL'
INSERT INTO users (id, first_name, last_name, email, timezone, birthday_date, anniversary_date,
                   partition, created_at, updated_at, deleted_at) VALUES
 ('00000000-0000-4000-8000-000000000001','Utc','One','u1@x.org','UTC','1990-07-15',NULL,1,'2020-01-01','2020-01-01',NULL),
 ('00000000-0000-4000-8000-000000000002','Tokyo','Two','u2@x.org','Asia/Tokyo','1990-07-16',NULL,2,'2020-01-01','2020-01-01',NULL),
 ('00000000-0000-4000-8000-000000000003','Ny','Three','u3@x.org','America/New_York','1990-07-15',NULL,3,'2020-01-01','2020-01-01',NULL),
 ('00000000-0000-4000-8000-000000000004','Ktm','Four','u4@x.org','Asia/Kathmandu','1990-07-15',NULL,4,'2020-01-01','2020-01-01',NULL),
 ('00000000-0000-4000-8000-000000000005','Kiri','Five','u5@x.org','Pacific/Kiritimati','1990-07-16',NULL,5,'2020-01-01','2020-01-01',NULL),
 ('00000000-0000-4000-8000-000000000006','Pago','Six','u6@x.org','Pacific/Pago_Pago','1990-07-15',NULL,6,'2020-01-01','2020-01-01',NULL),
 ('00000000-0000-4000-8000-000000000007','Chatham','Seven','u7@x.org','Pacific/Chatham','1990-07-16',NULL,7,'2020-01-01','2020-01-01',NULL),
 ('00000000-0000-4000-8000-000000000008','Gone','Eight','u8@x.org','UTC','1990-07-15',NULL,0,'2020-01-01','2020-01-01','2027-07-14'),
 ('00000000-0000-4000-8000-000000000009','Wed','Nine','u9@x.org','UTC',NULL,'2015-07-15',1,'2020-01-01','2020-01-01',NULL),
 ('00000000-0000-4000-8000-000000000010','Late','Ten','u10@x.org','UTC','1990-07-15',NULL,2,'2027-07-15T10:00:00Z','2027-07-15T10:00:00Z',NULL);
SQL
# Due instants (UTC) of the greetings that must arrive, as "HHMM key" on 15/16 Jul.
due=(
  "2027-07-15T03:15:00Z 00000000-0000-4000-8000-000000000004:birthday:2027"
  "2027-07-15T09:00:00Z 00000000-0000-4000-8000-000000000001:birthday:2027"
  "2027-07-15T09:00:00Z 00000000-0000-4000-8000-000000000009:anniversary:2027"
  "2027-07-15T13:00:00Z 00000000-0000-4000-8000-000000000003:birthday:2027"
  "2027-07-15T19:00:00Z 00000000-0000-4000-8000-000000000005:birthday:2027"
  "2027-07-15T20:00:00Z 00000000-0000-4000-8000-000000000006:birthday:2027"
  "2027-07-15T20:15:00Z 00000000-0000-4000-8000-000000000007:birthday:2027"
  "2027-07-16T00:00:00Z 00000000-0000-4000-8000-000000000002:birthday:2027"
)

# Restart so the partitions load the users (the REST API, which notifies
# partitions directly, is issue 6).
kill -TERM "$node"; wait "$node" || true
start_node 2027-07-15T00:00:00Z

expected_at() { # how many are due at or before $1 (epoch seconds)
  local n=0 d
  for entry in "${due[@]}"; do
    d=$(date -u -d "${entry%% *}" +%s)
    [ "$d" -le "$1" ] && n=$((n + 1))
  done
  echo "$n"
}
total() { curl -sS "$mock_base/stats" | grep -o '"total":[0-9]*' | cut -d: -f2; }

t=$(date -u -d 2027-07-15T00:00:00Z +%s)
end=$(date -u -d 2027-07-16T06:00:00Z +%s)
killed=no
while [ "$t" -lt "$end" ]; do
  t=$((t + 900))
  now=$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)
  out=$(curl -sS -X PUT -H 'Content-Type: application/json' -d "{\"now\":\"$now\"}" \
    "$base/api/v1/admin/clock")
  grep -q '"success":true' <<<"$out" || fail "clock PUT at $now: $out"
  want=$(expected_at "$t")
  for _ in $(seq 100); do [ "$(total)" -ge "$want" ] && break; sleep 0.05; done
  sleep 0.1 # anything early would show up now
  got=$(total)
  [ "$got" = "$want" ] || fail "at $now the provider has $got greetings, expected $want"
  if [ "$now" = 2027-07-15T08:45:00Z ]; then
    # Partition 1 owns both 09:00 greetings: crash it; the node starts it again (its lease is still ours).
    out=$(curl -sS -X POST "$base/api/v1/admin/crash/partition-1")
    grep -q '"crashed":"partition-1"' <<<"$out" || fail "fault injection: $out"
    echo "ok: crashed partition-1 at $now"
  fi
  if [ "$killed" = no ] && [ "$t" -ge "$(date -u -d 2027-07-15T12:00:00Z +%s)" ]; then
    kill -9 "$node"; wait "$node" 2>/dev/null || true
    start_node "$now"
    killed=yes
    echo "ok: killed -9 and restarted at $now"
  fi
done
stats=$(curl -sS "$mock_base/stats")
grep -q '"duplicates":0' <<<"$stats" || fail "duplicates: $stats"
requests=$(curl -sS "$mock_base/requests")
for entry in "${due[@]}"; do
  grep -q "\"key\":\"${entry##* }\"" <<<"$requests" || fail "missing ${entry##* }"
done
grep -q 'u8@x.org\|u10@x.org' <<<"$requests" && fail "a deleted or ineligible user was greeted"
grep -q '"message":"Hey, Utc One it'"'"'s your birthday"' <<<"$requests" || fail "message: $requests"
grep -q '"message":"Hey, Wed Nine happy anniversary"' <<<"$requests" || fail "anniversary message"
sent=$(psql_ -At -c "SELECT count(*) FROM send_records WHERE status = 'sent'")
[ "$sent" = "${#due[@]}" ] || fail "send_records says $sent sent"
if grep -E 'event=partition\.[a-z_]*failed' "$work/node.log"; then
  fail "a partition reported a failure"
fi
echo "ok: $got greetings over 30 simulated hours, each once, none early; stats $stats"
echo "engine day: all checks passed"
