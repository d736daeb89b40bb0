#!/usr/bin/env bash
# tests/clients/readme_examples_test.sh: runs README.md's examples that name
# fixed ports verbatim, as a user pastes them:
#   * the scale-out example: three instances started with --port only,
#     nutcracker in front, a SET through the proxy, a look at one admin port;
#   * the heap census example, against a default instance (port 6379, admin
#     port 16379) holding a few keys.
#
# The examples name fixed ports (7001-7003, their admin ports 17001-17003,
# the proxy's 22121 and 22222, 6379 and 16379). So that they can never meet another test's
# or a real server's, it runs in a network namespace of its own (ip netns),
# with only a loopback, and its processes are stopped by PID
# (`ip netns pids`). `build/daemon/compactd` in the example is a link to the
# binary under test (COMPACTD_BIN) in a scratch directory that also holds
# conf/nutcracker.yml.
#
# Scale-out checks: the SET answered OK and the admin port's STATS printed keys:; each
# instance answers on its data port and on data port + 10000, and logged
# that admin port at start; the key is on exactly one instance and reads
# back through the proxy. Census checks: the report lists the depth-2 groups
# with their key counts, and /api/census says the census is complete.
# Exit 77 (skipped) without root (network namespaces need it), ip,
# nutcracker or redis-cli.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${COMPACTD_BIN:?COMPACTD_BIN names the binary under test}"
for tool in ip nutcracker redis-cli; do
    command -v "$tool" >/dev/null || { echo "SKIPPED: $tool is not installed"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIPPED: network namespaces need root"; exit 77; }

# The first ```sh block after the heading that matches $1.
readme_block() {
    awk -v h="$1" '$0 ~ h { s = 1 } s && /^```sh$/ { b = 1; next }
                   b && /^```$/ { exit } b { print }' "$ROOT/README.md"
}
block="$(readme_block '^## Scaling out')"
census_block="$(readme_block '^### Heap census')"
if ! grep -q 'compactd --port 7001' <<<"$block" || ! grep -q 'CENSUS START' <<<"$census_block"; then
    echo "FAIL: the scale-out or census example is missing from README.md" >&2
    exit 1
fi

ns="compactd-readme-$$"
work="$(mktemp -d)"
cleanup() {
    local pids
    pids="$(ip netns pids "$ns" 2>/dev/null)"
    if [ -n "$pids" ]; then
        kill $pids 2>/dev/null
        for _ in $(seq 50); do
            [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
            sleep 0.1
        done
        pids="$(ip netns pids "$ns" 2>/dev/null)"
        [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
if ! ip netns add "$ns"; then
    echo "SKIPPED: cannot create a network namespace here"
    exit 77
fi
ip -n "$ns" link set lo up
mkdir -p "$work/build/daemon" "$work/conf"
ln -s "$BIN" "$work/build/daemon/compactd"
cp "$ROOT/conf/nutcracker.yml" "$work/conf/"

fail=0
check() {   # check DESCRIPTION COMMAND...
    local what="$1"
    shift
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what" >&2; fail=1; fi
}
in_ns() { ip netns exec "$ns" "$@"; }

echo "==> the README's example, verbatim:"
printf '%s\n' "$block"
# The instances and the proxy stay in the background, holding the output
# file open: a file, not a pipe, so this returns when the example does.
(cd "$work" && in_ns bash -c "$block") >"$work/out.txt" 2>&1
echo "==> its output:"
cat "$work/out.txt"

check "SET through the proxy answered OK" grep -qx 'OK' "$work/out.txt"
check "instance 7001's admin port answered STATS" grep -qE '^keys:[0-9]+' "$work/out.txt"
found=0
for p in 7001 7002 7003; do
    a=$((p + 10000))
    check "instance $p answers PING" test "$(in_ns redis-cli -p $p ping)" = PONG
    check "instance $p's admin port $a answers PING" test "$(in_ns redis-cli -p $a ping)" = PONG
    check "instance $p logged admin port $a" grep -q "port $p, admin port $a" "$work/out.txt"
    n="$(in_ns redis-cli -p $p exists greeting)"
    found=$((found + n))
done
check "greeting is on exactly one instance (found on $found)" test "$found" = 1
check "greeting reads back through the proxy" test "$(in_ns redis-cli -p 22121 get greeting)" = hello

echo "==> the census example, verbatim, against a default instance:"
(cd "$work" && in_ns bash -c 'build/daemon/compactd --admin-bind 127.0.0.1 &') >"$work/default.log" 2>&1
for _ in $(seq 100); do
    [ "$(in_ns redis-cli -p 6379 ping 2>/dev/null)" = PONG ] && break
    sleep 0.1
done
for i in 1 2 3; do in_ns redis-cli -p 6379 set "user:$i:cart" x >/dev/null; done
in_ns redis-cli -p 6379 set "user:9:name" y >/dev/null
in_ns redis-cli -p 6379 set "cart:1:items" z >/dev/null
printf '%s\n' "$census_block"
(cd "$work" && in_ns bash -c "$census_block") >"$work/census.txt" 2>&1
echo "==> its output:"
cat "$work/census.txt"
check "CENSUS START answered" grep -qx 'Census started' "$work/census.txt"
check "the report has the group user:1 with one key" \
    grep -qzP 'prefix\nuser:1\nother\n0\nkeys\n1\n' "$work/census.txt"
check "the report counts all 5 keys" grep -qzP '\nkeys\n5\n' "$work/census.txt"
check "/api/census says complete" grep -q '"complete":true' "$work/census.txt"
exit "$fail"
