#!/usr/bin/env bash
# Do time-ordered user ids (UUID version 7) help PostgreSQL's inserts? Fills
# Candle's real `users` table (its two id indexes, the email index, the
# window indexes) on the embedded server with N users in transactions of
# BATCH rows, ids random (version 4, what Candle uses) or time-ordered
# (version 7: 48 bits of milliseconds first), in alternating rounds, and
# prints for each: the time, the WAL written, and the id indexes' size.
# usage: bench/uuid_locality.sh [N] [BATCH] [ROUNDS] [BUILD_DIR]   (defaults 1000000 1000 2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-1000000}
batch=${2:-1000}
rounds=${3:-2}
build=${4:-$root/build}
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_init uuid
"$build/tools/candle-pg" "$work/pg" >"$work/pg.out" 2>&1 &
node=$!
for _ in $(seq 1200); do grep -q 'candle-pg ready' "$work/pg.out" && break; sleep 0.1; done
grep -q 'candle-pg ready' "$work/pg.out" || { cat "$work/pg.out"; exit 1; }

psql_ <<'SQL' >/dev/null
CREATE OR REPLACE FUNCTION bench_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
  -- 48-bit Unix milliseconds, version 7, 12 random bits, variant 10, 62 random bits.
  SELECT (lpad(to_hex(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
          || '7' || substr(h, 1, 3) || substr('89ab', 1 + get_byte(decode(substr(h, 4, 2), 'hex'), 0) % 4, 1)
          || substr(h, 6, 15))::uuid
  FROM (SELECT md5(random()::text || clock_timestamp()::text) AS h) AS r
$$;
CREATE OR REPLACE PROCEDURE bench_fill(kind text, total int, batch int) LANGUAGE plpgsql AS $$
DECLARE done int := 0;
BEGIN
  WHILE done < total LOOP
    INSERT INTO users (id, first_name, last_name, email, timezone, birthday_date, partition,
                       created_at, updated_at)
    SELECT CASE WHEN kind = 'v7' THEN bench_uuid_v7() ELSE gen_random_uuid() END, 'F', 'L',
           md5(kind || i::text) || '@example.com', 'UTC',
           date '1970-01-01' + (i % 18000), i % 256, now(), now()
    FROM generate_series(done + 1, least(done + batch, total)) AS i;
    done := done + batch;
    COMMIT;
  END LOOP;
END $$;
SQL

echo "uuid locality: $n users in transactions of $batch, $rounds rounds each, embedded PostgreSQL (shared_buffers=128MB)"
machine_line
printf '%-4s %8s %12s %14s\n' ids seconds "WAL MB" "id indexes MB"
for r in $(seq "$rounds"); do
  for kind in v4 v7; do
    psql_ -c "TRUNCATE users" -c "CHECKPOINT" >/dev/null
    lsn=$(psql_ -c "SELECT pg_current_wal_lsn()")
    t0=$(date +%s%N)
    psql_ -c "CALL bench_fill('$kind', $n, $batch)" >/dev/null
    t1=$(date +%s%N)
    wal=$(psql_ -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn') / 1048576.0, 1)")
    idx=$(psql_ -c "SELECT round((pg_relation_size('users_pkey') + pg_relation_size('users_live_by_id')) / 1048576.0, 1)")
    printf '%-4s %8.2f %12s %14s   (round %s)\n' "$kind" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e9 }')" "$wal" "$idx" "$r"
  done
done
