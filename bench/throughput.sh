#!/usr/bin/env bash
# bench/throughput.sh: compactd vs Debian's redis-server, same client, same box.
#
# Starts both servers on free loopback ports, then runs redis-benchmark for
# SET and GET with 50 clients at pipeline depth 1 and 16. For every case the
# two servers are measured in alternation (compactd, redis, redis, compactd,
# ...), REPEAT times each, and the median ops/s of each is reported, so a
# slow phase of the shared machine hurts both sides alike. Builds nothing:
# it takes the compactd binary as its argument.
#
# usage: bench/throughput.sh [path/to/compactd]      (default build/daemon/compactd)
# env:   REPEAT=3  CLIENTS=50  KEYSPACE=100000  DATASIZE=3
#        N_P1=500000  N_P16=2000000   (requests per run, a few seconds each)
#        QUICK=1   (tiny runs, to check that the script works)
#        REDIS_SERVER=redis-server  REDIS_BENCHMARK=redis-benchmark
# Results also go to bench/out/throughput-<time>.csv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMPACTD="${1:-$ROOT/build/daemon/compactd}"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
REDIS_BENCHMARK="${REDIS_BENCHMARK:-redis-benchmark}"
REPEAT="${REPEAT:-3}"
CLIENTS="${CLIENTS:-50}"
KEYSPACE="${KEYSPACE:-100000}"
DATASIZE="${DATASIZE:-3}"
N_P1="${N_P1:-500000}"
N_P16="${N_P16:-2000000}"
if [ "${QUICK:-0}" = 1 ]; then
    N_P1=20000; N_P16=50000; REPEAT=1
fi

die() { echo "throughput.sh: $*" >&2; exit 1; }
[ -x "$COMPACTD" ] || die "no compactd binary at $COMPACTD (build it first: cmake -S . -B build && cmake --build build -j2)"
command -v "$REDIS_SERVER" >/dev/null || die "$REDIS_SERVER not found (apt-get install redis-server)"
command -v "$REDIS_BENCHMARK" >/dev/null || die "$REDIS_BENCHMARK not found (apt-get install redis-tools)"
command -v redis-cli >/dev/null || die "redis-cli not found (apt-get install redis-tools)"

OUT="$ROOT/bench/out"
mkdir -p "$OUT"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
CSV="$OUT/throughput-$STAMP.csv"

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_server NAME CMD... : starts CMD with --port P appended on a free port;
# sets STARTED_PORT and STARTED_PID.
start_server() {
    local name="$1"; shift
    local attempt port pid i
    for attempt in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 10000))
        port_taken "$port" && continue
        "$@" --port "$port" --bind 127.0.0.1 >"$OUT/$name-$STAMP.log" 2>&1 &
        pid=$!
        for i in $(seq 1 200); do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
            if [ "$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ]; then
                PIDS+=("$pid")
                STARTED_PORT=$port
                STARTED_PID=$pid
                return 0
            fi
            sleep 0.05
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    cat "$OUT/$name-$STAMP.log" >&2 || true
    die "could not start $name"
}

start_server compactd "$COMPACTD"
CD_PORT=$STARTED_PORT
start_server redis "$REDIS_SERVER" --save '' --appendonly no --daemonize no
RD_PORT=$STARTED_PORT
echo "compactd: $COMPACTD on port $CD_PORT; redis: $("$REDIS_SERVER" --version | awk '{sub(/^v=/, "", $3); print $3}') on port $RD_PORT"
echo "clients=$CLIENTS keyspace=$KEYSPACE datasize=$DATASIZE repeat=$REPEAT"

# bench PORT TEST PIPELINE N -> prints ops/s (empty on failure)
bench() {
    local out
    out=$("$REDIS_BENCHMARK" -h 127.0.0.1 -p "$1" -c "$CLIENTS" -n "$4" -P "$3" \
          -r "$KEYSPACE" -d "$DATASIZE" -t "$2" --csv 2>/dev/null) || return 0
    # --csv: a header line, then "SET","123456.78","0.123",...
    awk -F, -v t="\"${2^^}\"" '$1 == t { gsub(/"/, "", $2); print $2; exit }' <<<"$out"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }

echo "case,server,run,ops_per_sec" >"$CSV"
declare -A RESULT
failed=0
# SET cases run first so the GET cases find their keys.
for case in "SET P1" "GET P1" "SET P16" "GET P16"; do
    read -r test pipe <<<"$case"
    pipe=${pipe#P}
    n=$N_P1; [ "$pipe" -gt 1 ] && n=$N_P16
    cd_runs=""; rd_runs=""
    for run in $(seq 1 "$REPEAT"); do
        # Alternate which server goes first, so drift hits both sides alike.
        if [ $((run % 2)) -eq 1 ]; then order="cd rd"; else order="rd cd"; fi
        for who in $order; do
            if [ "$who" = cd ]; then port=$CD_PORT; name=compactd; else port=$RD_PORT; name=redis; fi
            v=$(bench "$port" "$test" "$pipe" "$n")
            if [ -z "$v" ]; then
                echo "  $case $name run $run: redis-benchmark failed" >&2
                failed=1
                continue
            fi
            echo "$test P$pipe,$name,$run,$v" >>"$CSV"
            if [ "$who" = cd ]; then cd_runs="$cd_runs $v"; else rd_runs="$rd_runs $v"; fi
        done
    done
    RESULT["$case,cd"]=$(median <<<"$cd_runs")
    RESULT["$case,rd"]=$(median <<<"$rd_runs")
    printf '  %-8s compactd:%s   redis:%s\n' "$case" "$cd_runs" "$rd_runs"
done

echo
printf '%-10s %16s %16s %10s\n' case "compactd ops/s" "redis ops/s" "ratio"
for case in "SET P1" "GET P1" "SET P16" "GET P16"; do
    c=${RESULT["$case,cd"]:-}; r=${RESULT["$case,rd"]:-}
    if [ -n "$c" ] && [ -n "$r" ]; then
        ratio=$(awk -v a="$c" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    else
        ratio="n/a"
    fi
    printf '%-10s %16s %16s %10s\n' "$case" "${c:-n/a}" "${r:-n/a}" "$ratio"
done
echo
echo "raw runs: $CSV"
exit "$failed"
