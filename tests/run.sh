#!/usr/bin/env bash
# tests/run.sh: the whole test suite in one command, on a fresh Debian 12 or
# an already set-up machine.
#
#  1. installs whatever build/test dependency is missing (apt, only if needed;
#     npm ci for the ioredis test in tests/clients);
#  2. configures and builds two trees: build/ (Release) and build-asan/
#     (Debug with AddressSanitizer + UndefinedBehaviorSanitizer);
#  3. runs ctest in both (unit tests, integration tests that spawn the
#     daemon, the systemd checks), with a per-test timeout;
#  4. builds the libFuzzer targets with clang in a third tree (build-fuzz/,
#     tests/fuzz/CMakeLists.txt), replays tests/fuzz/regress/ and fuzzes each
#     target for FUZZ_SECONDS from the seed corpus (tests/fuzz/run_fuzz.sh);
#  5. exits non-zero if any build, test or fuzzing run failed.
#
# Environment: JOBS (default 2) caps build and test parallelism;
# TEST_TIMEOUT (seconds, default 300) is ctest's per-test default timeout;
# SKIP_ASAN=1 skips the sanitizer tree (quicker local runs);
# SKIP_FUZZ=1 skips the fuzz tree; FUZZ_SECONDS (default 60) is the fuzzing
# time per target;
# BUILD_DIR / ASAN_BUILD_DIR / FUZZ_BUILD_DIR (default build, build-asan,
# build-fuzz) name the three trees.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${JOBS:-2}"
TEST_TIMEOUT="${TEST_TIMEOUT:-300}"
BUILD_DIR="${BUILD_DIR:-build}"
ASAN_BUILD_DIR="${ASAN_BUILD_DIR:-build-asan}"
FUZZ_BUILD_DIR="${FUZZ_BUILD_DIR:-build-fuzz}"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
export FUZZ_SECONDS
cd "$ROOT"

say() { printf '==> %s\n' "$*"; }

# ---- 1. dependencies -------------------------------------------------------
PKGS=(gcc libc6-dev make cmake pkg-config libevent-dev libhiredis-dev libcmocka-dev redis-tools redis-server python3)
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    PKGS+=(clang-14 libclang-rt-14-dev)   # libFuzzer and the sanitizer runtimes
fi
# The client tests (tests/clients): redis-py, twemproxy, and Node.js for
# ioredis (any node will do; Debian's only when there is none).
PKGS+=(python3-redis nutcracker)
# ip netns, for the README's scale-out example on its fixed ports
PKGS+=(iproute2)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    PKGS+=(nodejs npm)
fi
# Headless Chromium for the dashboard test (tests/clients/dashboard_test.js,
# driven by playwright-core from npm); Debian's, only when there is none.
if [ ! -x /usr/bin/chromium ]; then
    PKGS+=(chromium)
fi
# systemd-analyze (unit checks) works without a running systemd; the package
# is only pulled in when the tool is missing.
if ! command -v systemd-analyze >/dev/null; then
    PKGS+=(systemd)
fi
missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    say "installing missing packages: ${missing[*]}"
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "run.sh: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
        SUDO=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists when there are none (fresh machine), or when
    # installing from the present ones fails (stale lists).
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        "${SUDO[@]}" apt-get update
    fi
    if ! "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
        "${SUDO[@]}" apt-get update
        "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
    fi
fi

# ioredis, playwright-core and their dependencies, exactly as pinned in package-lock.json;
# skipped when node_modules is already up to date with the lock file.
clients="$ROOT/tests/clients"
if [ ! -f "$clients/node_modules/.package-lock.json" ] ||
    [ "$clients/package-lock.json" -nt "$clients/node_modules/.package-lock.json" ]; then
    say "installing the Node.js client test dependencies (npm ci)"
    (cd "$clients" && npm ci --no-audit --no-fund)
fi

# ---- 2. build both trees ----------------------------------------------------
build_tree() {
    local dir="$1"; shift
    say "configuring $dir ($*)"
    cmake -S "$ROOT" -B "$ROOT/$dir" "$@" >/dev/null
    say "building $dir"
    cmake --build "$ROOT/$dir" -j"$JOBS"
}

trees=("$BUILD_DIR")
build_tree "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
if [ "${SKIP_ASAN:-0}" != 1 ]; then
    build_tree "$ASAN_BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DCOMPACTD_SANITIZE=ON
    trees+=("$ASAN_BUILD_DIR")
fi

# ---- 3. run the tests -------------------------------------------------------
# Leak checks on, a report is a failure; UBSan already aborts (-fno-sanitize-recover).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
unset COMPACTD_TEST_PORT   # the suite always spawns its own daemons

total_pass=0
total_fail=0
status=0
for t in "${trees[@]}"; do
    say "testing $t"
    log="$ROOT/$t/ctest.log"
    set +e
    (cd "$ROOT/$t" && ctest --output-on-failure -j"$JOBS" --timeout "$TEST_TIMEOUT") 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    # "NN% tests passed, F tests failed out of N"
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
    if [ -n "$line" ]; then
        f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
        n=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
        total_pass=$((total_pass + n - f))
        total_fail=$((total_fail + f))
    elif [ "$rc" -ne 0 ]; then
        total_fail=$((total_fail + 1))
    fi
    if [ "$rc" -ne 0 ]; then
        status=1
        say "FAILED in $t (daemon logs: $t/tests/logs/)"
    fi
done

# ---- 4. fuzzing --------------------------------------------------------------
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    FUZZ_CC="$(command -v clang-14 || command -v clang || true)"
    say "configuring $FUZZ_BUILD_DIR (CC=$FUZZ_CC)"
    if [ -n "$FUZZ_CC" ] &&
        CC="$FUZZ_CC" cmake -S "$ROOT/tests/fuzz" -B "$ROOT/$FUZZ_BUILD_DIR" >/dev/null &&
        { say "building $FUZZ_BUILD_DIR"; cmake --build "$ROOT/$FUZZ_BUILD_DIR" -j"$JOBS"; }; then
        say "fuzzing (${FUZZ_SECONDS}s per target)"
        if bash "$ROOT/tests/fuzz/run_fuzz.sh" "$ROOT/$FUZZ_BUILD_DIR"; then
            total_pass=$((total_pass + 1))
        else
            total_fail=$((total_fail + 1))
            status=1
            say "FAILED: fuzzing (inputs in $FUZZ_BUILD_DIR/artifacts/)"
        fi
    else
        total_fail=$((total_fail + 1))
        status=1
        say "FAILED: building the fuzz targets"
    fi
fi

if [ "$total_pass" -eq 0 ] && [ "$total_fail" -eq 0 ]; then
    echo "run.sh: no tests were run" >&2
    status=1
fi
echo "tests: $total_pass passed, $total_fail failed"
exit "$status"
