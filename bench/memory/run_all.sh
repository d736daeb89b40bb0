#!/usr/bin/env bash
# bench/memory/run_all.sh: the four memory benchmarks in a row, one compactd binary.
#
# Each script starts and stops its own servers; this only sequences them so
# they never run at the same time (they would compete for the 2 cores and
# skew each other's RSS and latency figures). QUICK=1 is passed through.
#
# usage: bench/memory/run_all.sh [path/to/compactd]   (default build/daemon/compactd)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="${1:-$HERE/../../build/daemon/compactd}"
for s in overhead fragment ttl latency; do
    echo "=== $s"
    /usr/bin/python3 "$HERE/$s.py" "$BIN"
done
