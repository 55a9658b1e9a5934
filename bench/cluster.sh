#!/usr/bin/env bash
# Cluster benchmark: take-over after kill -9, hand-off after SIGTERM, rebalance
# on a join, REST updates through the owner vs another node, and a burst with
# 1, 2 and 3 nodes. Usage: bench/cluster.sh [BUILD_DIR] [--runs N] [--burst N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true
exec python3 "$root/bench/cluster.py" "$build" "$@"
