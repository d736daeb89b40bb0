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
#
# tests/fuzz/regress/<target>/known-failing lists inputs whose bug is
# reported but not fixed yet ("<name><TAB><regex of the failure>"): their
# failure, and the same failure found again while fuzzing, is shown as
# KNOWN and does not fail the run; any other failure does.
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

    # 1. regression inputs, each replayed on its own
    known="$HERE/regress/$t/known-failing"
    known_re=()
    declare -A known_of=()
    if [ -f "$known" ]; then
        while IFS=$'\t' read -r kname kre; do
            case "$kname" in ''|'#'*) continue ;; esac
            known_of[$kname]="$kre"
            known_re+=("$kre")
        done <"$known"
    fi
    mapfile -t regress < <(find "$HERE/regress/$t" -maxdepth 1 -type f -name 'crash-*' 2>/dev/null | sort)
    if ((${#regress[@]})); then
        echo "==> $t: replaying ${#regress[@]} regression input(s)"
        for input in "${regress[@]}"; do
            name="$(basename "$input")"
            rlog="$BUILD/$t.regress-$name.log"
            if "$bin" -runs=1 "$input" >"$rlog" 2>&1; then
                [ -n "${known_of[$name]:-}" ] &&
                    echo "$t: $name passes now: remove it from $known"
                continue
            fi
            if [ -n "${known_of[$name]:-}" ] && grep -Eq "${known_of[$name]}" "$rlog"; then
                echo "$t: KNOWN failure (reported, not fixed): $name"
                grep -Em1 "${known_of[$name]}" "$rlog"
            else
                tail -60 "$rlog"
                echo "run_fuzz: $t: regression input $name fails (log: $rlog)" >&2
                status=1
            fi
        done
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
        matched=""
        for re in "${known_re[@]}"; do
            grep -Eq "$re" "$log" && matched="$re"
        done
        if [ -n "$matched" ]; then
            echo "$t: KNOWN failure found again (reported, not fixed): $(grep -Em1 "$matched" "$log")"
            echo "$t: fuzzing stopped there; input in $art/"
        else
            grep -v '^"' "$log" | tail -80
            echo "run_fuzz: $t found a failure; input kept in $art/ (full log: $log)" >&2
            status=1
        fi
    fi
done
exit "$status"
