# Shared by the end-to-end scripts (source it after `set -euo pipefail`):
# a scratch directory $work removed on exit with every process in $pids and
# any PostgreSQL cluster a root run placed outside its db.dir (see
# persistence/embedded_pg.hpp), and fail() that shows the node's log.
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  sleep 0.5
  for f in "$work"/*/cluster-location; do
    [ -f "$f" ] || continue
    loc=$(cat "$f")
    case "$loc" in /var/lib/candle/clusters/*) rm -rf "$loc" ;; esac
  done
  rm -rf "$work"
}
trap cleanup EXIT
# fail MESSAGE: prints it (and the tail of $work/node.log, if any) and exits 1.
fail() {
  echo "FAIL: $*" >&2
  if [ -f "$work/node.log" ]; then
    echo "--- node log (tail) ---" >&2
    tail -15 "$work/node.log" >&2
  fi
  exit 1
}
