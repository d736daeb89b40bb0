#!/usr/bin/env bash
# tests/systemd_check.sh COMPACTD_BIN [TEMPLATE]: checks
# systemd/compactd.service, and the template compactd@.service that CMake
# generates from it (TEMPLATE, as an instance compactd@7001.service), with
# systemd's own tools, without booting systemd:
#  - `systemd-analyze verify` on a copy of the unit whose ExecStart and
#    ExecStartPre point at the built binary and the repository's sample
#    configuration (verify checks that the commands exist); any problem it
#    reports about the unit fails the check;
#  - `systemd-analyze security --offline=true` on the same copy, printing the
#    overall exposure score (informational: the score does not fail the check).
# Exit 77 (ctest SKIP_RETURN_CODE) when systemd-analyze is not installed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-${COMPACTD_BIN:-}}"
TEMPLATE="${2:-}"
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "systemd_check: usage: systemd_check.sh /path/to/compactd" >&2
    exit 2
fi
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
if ! command -v systemd-analyze >/dev/null; then
    echo "systemd_check: systemd-analyze not installed; skipping"
    exit 77
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
status=0

# check_unit SRC NAME: a copy of SRC named NAME whose binary is the built one
# and whose configuration is the repository's sample, through verify and
# security.
check_unit() {
    local src="$1" unit="$tmp/$2"
    sed -E -e "s#/[^ ]*/bin/compactd#$BIN#g" \
        -e "s#/[^ ]*/compactd/(compactd|%i)\.conf#$ROOT/conf/compactd.conf#g" \
        "$src" >"$unit"
    if ! grep -q "^ExecStart=$BIN " "$unit"; then
        echo "systemd_check: could not point ExecStart of $2 at $BIN (unit layout changed?)" >&2
        grep -n '^Exec' "$unit" >&2
        status=1
        return
    fi
    echo "==> $2: systemd-analyze verify"
    local out rc
    out="$(systemd-analyze verify "$unit" 2>&1)"
    rc=$?
    [ -n "$out" ] && printf '%s\n' "$out"
    # verify prints nothing for a clean unit; lines about our unit are
    # problems (unknown keys, bad values, missing executables). Other lines
    # can be noise from the environment (no running systemd) and are shown
    # but tolerated.
    if [ "$rc" -ne 0 ] || grep -q 'compactd' <<<"$out"; then
        echo "systemd_check: verify reported problems in $2 (exit $rc)" >&2
        status=1
    else
        echo "verify: clean"
    fi

    echo "==> $2: systemd-analyze security --offline=true"
    local sec src score
    sec="$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1)"
    src=$?
    printf '%s\n' "$sec" | grep -E '^[✗!]|Overall exposure' || true
    score="$(grep -oE 'Overall exposure level for [^:]+: [0-9.]+ [A-Z]+' <<<"$sec" | sed -E 's/.*: //')"
    if [ "$src" -ne 0 ] || [ -z "$score" ]; then
        printf '%s\n' "$sec" >&2
        echo "systemd_check: security analysis of $2 failed (exit $src)" >&2
        status=1
    else
        echo "exposure score: $score"
    fi
}

check_unit "$ROOT/systemd/compactd.service" compactd.service
if [ -n "$TEMPLATE" ]; then
    if [ -f "$TEMPLATE" ]; then
        check_unit "$TEMPLATE" compactd@7001.service
    else
        echo "systemd_check: no template at $TEMPLATE" >&2
        status=1
    fi
fi
exit "$status"
