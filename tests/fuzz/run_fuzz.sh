#!/usr/bin/env bash
# tests/fuzz/run_fuzz.sh BUILD_DIR: the bounded fuzzing step of the suite.
#
# For each target (fuzz_resp, fuzz_dispatch):
#  1. replays every input kept in tests/fuzz/regress/<target>/ (inputs that
#     once crashed; each must now run clean);
#  2. fuzzes for FUZZ_SECONDS (default 60) from the seed corpus in
#     tests/fuzz/corpus/<target>/, writing new units to a scratch directory
#     under BUILD_DIR (the committed corpus is never modified), and prints
#     libFuzzer's executed-units count.
# Exits non-zero if any replay or fuzzing run fails (crash, leak, sanitizer
# report, timeout, out of memory). A crashing input is left in
# BUILD_DIR/artifacts/<target>/; keep it as
# tests/fuzz/regress/<target>/crash-<name> so every later run replays it.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="${1:?usage: run_fuzz.sh BUILD_DIR}"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
TARGETS=(${FUZZ_TARGETS:-fuzz_resp fuzz_dispatch})

# Leaks are failures; keep the quarantine modest (the machine is shared).
export ASAN_OPTIONS="detect_leaks=1:quarantine_size_mb=64:malloc_context_size=20"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

status=0
for t in "${TARGETS[@]}"; do
    bin="$BUILD/$t"
    if [ ! -x "$bin" ]; then
        echo "run_fuzz: $bin is missing" >&2
        status=1
        continue
    fi

    # 1. regression inputs, one libFuzzer run over the explicit file list
    mapfile -t regress < <(find "$HERE/regress/$t" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | sort)
    if ((${#regress[@]})); then
        echo "==> $t: replaying ${#regress[@]} regression input(s)"
        if ! "$bin" -runs=1 "${regress[@]}" >"$BUILD/$t.regress.log" 2>&1; then
            tail -60 "$BUILD/$t.regress.log"
            echo "run_fuzz: $t: a regression input fails (log: $BUILD/$t.regress.log)" >&2
            status=1
        fi
    fi

    # 2. bounded fuzzing
    work="$BUILD/corpus-work/$t"
    art="$BUILD/artifacts/$t"
    rm -rf "$work"
    mkdir -p "$work" "$art"
    echo "==> $t: fuzzing for ${SECONDS_PER_TARGET}s"
    log="$BUILD/$t.fuzz.log"
    "$bin" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=1536 -max_len=16384 -artifact_prefix="$art/" \
        "$work" "$HERE/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}')
    echo "$t: stat::number_of_executed_units: ${execs:-?} (exit $rc)"
    if [ "$rc" -ne 0 ]; then
        grep -v '^"' "$log" | tail -80
        echo "run_fuzz: $t found a failure; input kept in $art/ (full log: $log)" >&2
        status=1
    fi
done
exit "$status"
