#!/usr/bin/python3
"""test_notify: compactd's systemd readiness protocol (Type=notify).

Starts compactd with NOTIFY_SOCKET pointing at a Unix datagram socket this
test owns (a path socket, then an abstract one), and checks what systemd
relies on:
  - READY=1 arrives exactly once, and only when the data port accepts
    connections: a connect made the moment READY arrives must succeed and a
    PING on it must be answered;
  - MAINPID=, if sent, is the daemon's pid; STATUS= lines, if sent, carry
    text;
  - SIGTERM makes it send STOPPING=1 (after READY, once) and exit 0;
  - with WATCHDOG_USEC set (and WATCHDOG_PID unset or its pid), WATCHDOG=1
    pings come at least every WATCHDOG_USEC, and while it runs the periodic
    STATUS= line arrives; with WATCHDOG_PID naming another process, no pings.

Needs COMPACTD_BIN (ctest sets it). Exit status 0 on success; failures are
reported with the daemon's log.
"""
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("COMPACTD_BIN")
TIMEOUT = 20.0  # generous: ASan builds on a loaded 2-core machine


def fail(msg, log=None):
    sys.stderr.write("test_notify: FAIL: %s\n" % msg)
    if log:
        try:
            with open(log, "r", errors="replace") as f:
                sys.stderr.write("---- daemon log ----\n" + f.read() + "--------------------\n")
        except OSError:
            pass
    sys.exit(1)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def parse(datagram):
    """A notify datagram is newline-separated KEY=VALUE assignments."""
    out = []
    for line in datagram.decode("utf-8", "replace").split("\n"):
        if line:
            key, sep, val = line.partition("=")
            if not sep:
                raise ValueError("not an assignment: %r" % line)
            out.append((key, val))
    return out


def ping(port):
    """Connects right now and runs PING; returns the reply bytes."""
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        c.sendall(b"*1\r\n$4\r\nPING\r\n")
        buf = b""
        while not buf.endswith(b"\r\n"):
            chunk = c.recv(64)
            if not chunk:
                break
            buf += chunk
        return buf
    finally:
        c.close()


def run_case(tmp, abstract, name=None, extra_env=None, hold=0.3):
    """Runs one daemon; returns the notifications as (time, key, value)
    after checking the READY/STOPPING protocol. hold: seconds to keep it
    running after READY=1."""
    name = name or ("abstract" if abstract else "path")
    if abstract:
        addr = "\0compactd-notify-test-%d-%d" % (os.getpid(), time.monotonic_ns())
        env_value = "@" + addr[1:]
    else:
        addr = os.path.join(tmp, "notify-%s.sock" % name)
        env_value = addr
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(addr)

    port = free_port()
    log = os.path.join(tmp, "compactd-%s.log" % name)
    env = dict(os.environ, NOTIFY_SOCKET=env_value)
    for k in ("WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(k, None)
    env.update(extra_env or {})
    with open(log, "wb") as lf:
        proc = subprocess.Popen([BIN, "--port", str(port), "--bind", "127.0.0.1", "--admin-port", "0"],
                                env=env, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
    try:
        msgs = []          # (key, value) in arrival order
        times = []         # arrival time of each of msgs
        ready_at = None
        deadline = time.monotonic() + TIMEOUT
        while ready_at is None:
            left = deadline - time.monotonic()
            if left <= 0:
                fail("%s: no READY=1 within %.0fs (got %r)" % (name, TIMEOUT, msgs), log)
            if proc.poll() is not None:
                fail("%s: daemon exited with %d before READY=1" % (name, proc.returncode), log)
            r, _, _ = select.select([ns], [], [], min(left, 0.2))
            if not r:
                continue
            got = parse(ns.recv(4096))
            msgs.extend(got)
            times.extend([time.monotonic()] * len(got))
            if ("READY", "1") in got:
                # Right now, before anything else: the port must accept.
                try:
                    reply = ping(port)
                except OSError as e:
                    fail("%s: READY=1 arrived but connecting to port %d failed: %s"
                         % (name, port, e), log)
                if reply != b"+PONG\r\n":
                    fail("%s: PING right after READY=1 got %r" % (name, reply), log)
                ready_at = len(msgs)

        # Let the daemon run a while: READY must not be repeated.
        until = time.monotonic() + hold
        while True:
            left = until - time.monotonic()
            if left <= 0:
                break
            if select.select([ns], [], [], left)[0]:
                got = parse(ns.recv(4096))
                msgs.extend(got)
                times.extend([time.monotonic()] * len(got))

        proc.send_signal(signal.SIGTERM)
        stopping = False
        deadline = time.monotonic() + TIMEOUT
        while not stopping and time.monotonic() < deadline:
            r, _, _ = select.select([ns], [], [], 0.2)
            if r:
                got = parse(ns.recv(4096))
                msgs.extend(got)
                times.extend([time.monotonic()] * len(got))
                stopping = ("STOPPING", "1") in got
            elif proc.poll() is not None:
                # exited: drain what it sent before exiting
                while select.select([ns], [], [], 0.1)[0]:
                    got = parse(ns.recv(4096))
                    msgs.extend(got)
                    times.extend([time.monotonic()] * len(got))
                    stopping = stopping or ("STOPPING", "1") in got
                break
        try:
            rc = proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            fail("%s: daemon did not exit within %.0fs of SIGTERM" % (name, TIMEOUT), log)
        if not stopping:
            fail("%s: no STOPPING=1 after SIGTERM (got %r)" % (name, msgs), log)
        if rc != 0:
            fail("%s: daemon exited with status %d after SIGTERM" % (name, rc), log)

        readies = [i for i, kv in enumerate(msgs) if kv == ("READY", "1")]
        stops = [i for i, kv in enumerate(msgs) if kv == ("STOPPING", "1")]
        if len(readies) != 1:
            fail("%s: READY=1 sent %d times: %r" % (name, len(readies), msgs), log)
        if len(stops) != 1 or stops[0] < readies[0]:
            fail("%s: STOPPING=1 must come once, after READY=1: %r" % (name, msgs), log)
        for key, val in msgs:
            if key == "MAINPID" and val != str(proc.pid):
                fail("%s: MAINPID=%s but the daemon is pid %d" % (name, val, proc.pid), log)
            if key == "STATUS" and not val.strip():
                fail("%s: empty STATUS= line" % name, log)
        statuses = [v for k, v in msgs if k == "STATUS"]
        print("%s: ok: %d notifications, READY=1 once, STOPPING=1 on SIGTERM, STATUS lines: %r"
              % (name, len(msgs), statuses))
        return [(t, k, v) for t, (k, v) in zip(times, msgs)], log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ns.close()


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        fail("COMPACTD_BIN is not set to an executable (%r)" % BIN)
    with tempfile.TemporaryDirectory(prefix="compactd-notify-") as tmp:
        run_case(tmp, abstract=False)
        run_case(tmp, abstract=True)

        # Watchdog: pings at least every WATCHDOG_USEC (systemd's deadline;
        # the daemon aims at half of it). Held 6 s so that the periodic
        # STATUS= line (every 5 s) shows up too.
        usec = 1000000
        notes, log = run_case(tmp, abstract=False, name="watchdog", hold=6.0,
                              extra_env={"WATCHDOG_USEC": str(usec)})
        ready = next(t for t, k, v in notes if (k, v) == ("READY", "1"))
        stop = next(t for t, k, v in notes if (k, v) == ("STOPPING", "1"))
        pings = [t for t, k, v in notes if (k, v) == ("WATCHDOG", "1") and ready <= t <= stop]
        if len(pings) < 5:
            fail("watchdog: %d WATCHDOG=1 pings in %.1f s with WATCHDOG_USEC=%d"
                 % (len(pings), stop - ready, usec), log)
        gaps = [b - a for a, b in zip([ready] + pings, pings + [stop])]
        if max(gaps) > usec / 1e6:
            fail("watchdog: %.2f s without a WATCHDOG=1 ping (deadline %.2f s)"
                 % (max(gaps), usec / 1e6), log)
        periodic = [v for t, k, v in notes if k == "STATUS" and v != "Ready to accept connections"]
        if not periodic:
            fail("watchdog: no periodic STATUS= line in 6 s", log)
        print("watchdog: ok: %d pings, longest gap %.2f s; periodic STATUS: %r"
              % (len(pings), max(gaps), periodic[0]))

        # A watchdog meant for another process (WATCHDOG_PID) is not ours.
        notes, log = run_case(tmp, abstract=False, name="watchdog-other-pid", hold=1.5,
                              extra_env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
        if any(k == "WATCHDOG" for t, k, v in notes):
            fail("watchdog-other-pid: WATCHDOG=1 sent although WATCHDOG_PID is another process", log)
        print("watchdog-other-pid: ok: no pings")


if __name__ == "__main__":
    main()
