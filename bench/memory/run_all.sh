#!/usr/bin/env bash
# bench/memory/run_all.sh: every memory benchmark in a row, one compactd binary.
#
# Each script starts and stops its own servers; this only sequences them so
# that two never run at the same time (they would compete for the 2 cores and
# skew each other's figures), and points them all at one JSON-lines file.
# QUICK=1 makes a smoke run of about two minutes.
#
# --self-check is that smoke run followed by selfcheck.py, which checks the
# instrument rather than compactd: every experiment produced its figures for
# every server, the figures are physically possible, every key read back
# intact, and every server the scripts started was stopped. It exits non-zero
# when one of those fails. It is not part of the test suite (it takes minutes
# and wants redis-server and memcached); run it after changing bench/memory.
#
# usage: bench/memory/run_all.sh [--self-check] [path/to/compactd]   (default build/daemon/compactd)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHECK=0
if [ "${1:-}" = "--self-check" ]; then
    CHECK=1
    export QUICK=1
    shift
fi
BIN="${1:-$HERE/../../build/daemon/compactd}"
OUT="$(cd "$HERE/.." && pwd)/out"
mkdir -p "$OUT"
export BENCH_JSONL="$OUT/run_all-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
start=$SECONDS
for s in fragment churn overhead latency ttl; do
    echo "=== $s ($((SECONDS - start)) s)"
    /usr/bin/python3 "$HERE/$s.py" "$BIN"
done
echo "=== all done in $((SECONDS - start)) s; JSON lines in $BENCH_JSONL"
if [ "$CHECK" = 1 ]; then
    /usr/bin/python3 "$HERE/selfcheck.py" "$BENCH_JSONL"
fi
