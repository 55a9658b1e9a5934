#!/usr/bin/env bash
# The ideal client's figure (docs/benchmarks.md): wrk POSTs greetings to
# candle-mock-provider (started with BENCH_MOCK_ARGS, e.g. --latency=150-250)
# over C keep-alive connections for S seconds and prints requests/s — the
# reference a Candle burst against the same mock in the same session is
# compared with. Not a test.
# Usage: bench/provider_ceiling.sh [CONNECTIONS] [SECONDS] [BUILD_DIR]
set -euo pipefail
conns=${1:-256}
secs=${2:-15}
build=${3:-$(cd "$(dirname "$0")/.." && pwd)/build}
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init ceiling
start_mock
threads=$(( conns < 2 ? 1 : 2 ))
out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 10s -s "$(dirname "$0")/provider_post.lua" "$email_url")
rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
machine_line
echo "bench provider_ceiling: wrk connections=$conns seconds=$secs mock=\"${BENCH_MOCK_ARGS:-}\" requests_per_s=$rps"
