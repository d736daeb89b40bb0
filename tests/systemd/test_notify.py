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
  - SIGTERM makes it send STOPPING=1 (after READY, once) and exit 0.

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


def run_case(tmp, abstract):
    name = "abstract" if abstract else "path"
    if abstract:
        addr = "\0compactd-notify-test-%d-%d" % (os.getpid(), time.monotonic_ns())
        env_value = "@" + addr[1:]
    else:
        addr = os.path.join(tmp, "notify.sock")
        env_value = addr
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(addr)

    port = free_port()
    log = os.path.join(tmp, "compactd-%s.log" % name)
    env = dict(os.environ, NOTIFY_SOCKET=env_value)
    with open(log, "wb") as lf:
        proc = subprocess.Popen([BIN, "--port", str(port), "--bind", "127.0.0.1", "--admin-port", "0"],
                                env=env, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
    try:
        msgs = []          # (key, value) in arrival order
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

        # Let the daemon run a moment: READY must not be repeated.
        time.sleep(0.3)
        while select.select([ns], [], [], 0)[0]:
            msgs.extend(parse(ns.recv(4096)))

        proc.send_signal(signal.SIGTERM)
        stopping = False
        deadline = time.monotonic() + TIMEOUT
        while not stopping and time.monotonic() < deadline:
            r, _, _ = select.select([ns], [], [], 0.2)
            if r:
                got = parse(ns.recv(4096))
                msgs.extend(got)
                stopping = ("STOPPING", "1") in got
            elif proc.poll() is not None:
                # exited: drain what it sent before exiting
                while select.select([ns], [], [], 0.1)[0]:
                    got = parse(ns.recv(4096))
                    msgs.extend(got)
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


if __name__ == "__main__":
    main()
