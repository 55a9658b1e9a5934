#!/usr/bin/env bash
# CPU of an idle node (docs/benchmarks.md): a node on a fresh embedded
# PostgreSQL with 256 partitions and nothing due, sampled from /proc over
# SECONDS after it settles. Not a test.
# Usage: bench/idle.sh [SECONDS] [BUILD_DIR] [candled options...]
set -euo pipefail
secs=${1:-30}
build=${2:-$(cd "$(dirname "$0")/.." && pwd)/build}
shift $(( $# > 2 ? 2 : $# ))
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init idle
start_node "$@"
wait_ready
sleep 20 # partitions loaded, first renewals done
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {
  local pm t=0 p
  pm=$(head -1 "$(cluster_dir)/postmaster.pid")
  for p in $pm $(pgrep -P "$pm"); do t=$(( t + $(ticks "$p" 2>/dev/null || echo 0) )); done
  echo "$t"
}
n0=$(ticks "$node") p0=$(pg_ticks) t0=$(date +%s%N)
sleep "$secs"
n1=$(ticks "$node") p1=$(pg_ticks) t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
pct() { awk -v c="$(( ($1) * 1000 / hz ))" -v s="$ms" 'BEGIN {printf "%.2f", 100 * c / s}'; }
machine_line
echo "bench idle: node $(pct $(( n1 - n0 )))% of a core, PostgreSQL $(pct $(( p1 - p0 )))% over ${ms} ms; options: $*"
