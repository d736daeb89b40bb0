#!/usr/bin/env bash
# tests/install_check.sh BUILD_DIR PREFIX BINDIR SYSCONFDIR UNITDIR
#
# Runs `cmake --install BUILD_DIR` into a temporary DESTDIR and checks that
# it places exactly the binary, the configuration and the systemd units
# (compactd.service and the template compactd@.service), in
# the directories CMake computed (the full paths come from tests/CMakeLists.txt),
# that the unit starts the installed binary with the installed configuration,
# that the configuration is the repository's, and that the installed binary
# accepts it (--test-config). With the default prefix, the places must also be
# the ones README.md ("Running as a service") names.
set -uo pipefail

if [ $# -ne 5 ]; then
    echo "usage: install_check.sh BUILD_DIR PREFIX BINDIR SYSCONFDIR UNITDIR" >&2
    exit 2
fi
BUILD="$1" PREFIX="$2" BINDIR="$3" SYSCONFDIR="$4" UNITDIR="$5"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CMAKE="${CMAKE_COMMAND:-cmake}"

fail=0
check() {   # check DESCRIPTION COMMAND...: runs the command, records a failure
    local what="$1"
    shift
    if "$@"; then
        echo "ok: $what"
    else
        echo "FAIL: $what" >&2
        fail=1
    fi
}

if [ "$PREFIX" = /usr/local ]; then
    check "README's binary place" test "$BINDIR" = /usr/local/bin
    check "README's configuration place" test "$SYSCONFDIR" = /usr/local/etc
    check "README's unit place" test "$UNITDIR" = /usr/local/lib/systemd/system
fi

dest="$(mktemp -d)"
trap 'rm -rf "$dest"' EXIT
if ! DESTDIR="$dest" "$CMAKE" --install "$BUILD" >"$dest.log" 2>&1; then
    cat "$dest.log" >&2
    rm -f "$dest.log"
    echo "FAIL: cmake --install" >&2
    exit 1
fi
rm -f "$dest.log"

bin="$dest$BINDIR/compactd"
conf="$dest$SYSCONFDIR/compactd/compactd.conf"
unit="$dest$UNITDIR/compactd.service"
check "binary installed and executable" test -x "$bin"
check "configuration is the repository's" cmp -s "$conf" "$ROOT/conf/compactd.conf"
tmpl="$dest$UNITDIR/compactd@.service"
check "unit installed" test -f "$unit"
check "template unit installed" test -f "$tmpl"
nfiles="$(find "$dest" -type f | wc -l)"
check "exactly four files installed (found $nfiles)" test "$nfiles" -eq 4

want_start="ExecStart=$BINDIR/compactd $SYSCONFDIR/compactd/compactd.conf"
want_pre="ExecStartPre=$BINDIR/compactd --test-config $SYSCONFDIR/compactd/compactd.conf"
check "unit starts the installed binary with the installed configuration" \
    grep -qxF "$want_start" "$unit"
check "unit's ExecStartPre checks the installed configuration" grep -qxF "$want_pre" "$unit"
check "one ExecStart and one ExecStartPre" test "$(grep -cE '^ExecStart(Pre)?=' "$unit")" -eq 2
check "template starts the installed binary with the instance's configuration" \
    grep -qxF "ExecStart=$BINDIR/compactd $SYSCONFDIR/compactd/%i.conf" "$tmpl"
check "template's ExecStartPre checks the instance's configuration" \
    grep -qxF "ExecStartPre=$BINDIR/compactd --test-config $SYSCONFDIR/compactd/%i.conf" "$tmpl"
check "template has a runtime directory per instance" grep -qxF "RuntimeDirectory=compactd/%i" "$tmpl"
check "template keeps every hardening line of the unit" \
    test "$(grep -cE '^(Protect|Restrict|SystemCall|Private|NoNew|Capab|Ambient|Dynamic)' "$tmpl")" \
         -eq "$(grep -cE '^(Protect|Restrict|SystemCall|Private|NoNew|Capab|Ambient|Dynamic)' "$unit")"
check "installed binary accepts the installed configuration" \
    "$bin" --test-config "$conf"

exit "$fail"
