"""compactd_proc: start and stop compactd for the client tests.

Shared by every test in tests/clients/. As a module it gives Python tests
Daemon (one compactd on a free loopback port), free_port(), and the skips
(exit 77) for a missing client: require_tool() and import_redis(); as a
script,

    python3 compactd_proc.py COMMAND [ARG...]

it starts one daemon, runs COMMAND with COMPACTD_PORT set to its port (that
is how the Node.js test gets its server), stops the daemon and exits with
COMMAND's status (or 1 if the daemon did not shut down cleanly).

Invariants:
  * a daemon listens on 127.0.0.1 only, on a port the kernel reported free a
    moment before;
  * it is stopped by its PID (SIGTERM, then SIGKILL after a timeout), never
    by name, and it gets SIGKILL if the test process dies first
    (PR_SET_PDEATHSIG), so no test leaves a server behind;
  * its output goes to a log file under COMPACTD_LOG_DIR (default ./logs),
    printed when it fails to start or exits uncleanly.

The binary is COMPACTD_BIN (ctest sets it); pointing it at
/usr/bin/redis-server runs the same tests against the reference server.
"""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

SKIP = 77  # ctest's SKIP_RETURN_CODE for these tests


def skip(msg):
    print("SKIPPED: " + msg, flush=True)
    sys.exit(SKIP)


def require_tool(name, fallback, package):
    """The path of executable name (PATH first, then fallback, for tools in
    an sbin directory that is not on PATH); skips the test without it."""
    path = shutil.which(name) or fallback
    if not os.access(path, os.X_OK):
        skip("%s is not installed (apt-get install %s)" % (name, package))
    return path


def import_redis():
    """The redis-py module (Debian's python3-redis); skips the test without it."""
    try:
        import redis
    except ImportError:
        skip("redis-py is not installed (apt-get install python3-redis)")
    return redis


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def binary():
    b = os.environ.get("COMPACTD_BIN")
    if not b:
        here = os.path.dirname(os.path.abspath(__file__))
        b = os.path.join(here, "..", "..", "build", "daemon", "compactd")
    if not os.access(b, os.X_OK):
        raise SystemExit("compactd_proc: no executable at %s (set COMPACTD_BIN)" % b)
    return b


def is_redis():
    return os.path.basename(binary()).startswith("redis-server")


class Daemon:
    """One compactd (or redis-server) on 127.0.0.1:<port>."""

    def __init__(self, extra=(), name="compactd"):
        self.port = free_port()
        self.bin = binary()
        logdir = os.environ.get("COMPACTD_LOG_DIR", os.path.join(os.getcwd(), "logs"))
        os.makedirs(logdir, exist_ok=True)
        self.log_path = os.path.join(logdir, "%s-%d.log" % (name, self.port))
        args = [self.bin, "--port", str(self.port), "--bind", "127.0.0.1"]
        if is_redis():
            args += ["--save", "", "--appendonly", "no"]
        elif "--admin-port" not in extra:
            args += ["--admin-port", "0"]   # port + 10000 could be another test's port
        args += list(extra)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        self._wait_ready(10.0)

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("daemon exited with %s during start-up:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("daemon not ready on port %d after %.0fs:\n%s"
                           % (self.port, timeout, self.log()))

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM by PID and wait; returns the exit status (0 is clean)."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def kill(self):
        """SIGKILL by PID: the abrupt death the proxy tests need."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    d = Daemon()
    env = dict(os.environ, COMPACTD_PORT=str(d.port))
    try:
        rc = subprocess.call(argv, env=env, preexec_fn=_die_with_parent)
    finally:
        st = d.stop()
    if st != 0:
        print("compactd_proc: daemon exited with status %s; log %s:\n%s"
              % (st, d.log_path, d.log()), file=sys.stderr)
        return rc if rc not in (0, SKIP) else 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
