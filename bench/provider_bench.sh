#!/usr/bin/env bash
# Provider client throughput and latency against candle-mock-provider on
# loopback (docs/benchmarks.md). Usage: bench/provider_bench.sh [BUILD_DIR] [requests]
set -euo pipefail
build=${1:-build}
n=${2:-20000}
out=$(mktemp)
"$build/examples/candle-mock-provider" --port=0 >"$out" &
mock=$!
trap 'kill $mock 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
url=$(grep -o 'http://[0-9.:]*/send-email' "$out")
"$build/bench/provider_bench" "$url" "$n" 1 16 64 256
