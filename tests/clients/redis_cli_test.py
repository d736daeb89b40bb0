"""redis-cli's monitoring modes against compactd.

--stat (INFO polling), --latency (PING timing), --bigkeys (SCAN + TYPE +
STRLEN) and --memkeys (SCAN + MEMORY USAGE) are separate code paths in
redis-cli with their own expectations of the server. Each is run as a
subprocess with a bound on its runtime, and its output is checked against
the data put in: the right key counts and the right biggest key.

Run: /usr/bin/python3 tests/clients/redis_cli_test.py (COMPACTD_BIN names
the daemon); exits 77 (skipped) when redis-cli or redis-py is missing.
"""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compactd_proc  # noqa: E402

CLI = compactd_proc.require_tool("redis-cli", "/usr/bin/redis-cli", "redis-tools")
redis = compactd_proc.import_redis()

NKEYS = 500
BIG = "big:value"
BIG_LEN = 50000
daemon = None
r = None


def setUpModule():
    global daemon, r
    daemon = compactd_proc.Daemon(name="redis_cli")
    r = redis.Redis(host="127.0.0.1", port=daemon.port, socket_timeout=10)
    p = r.pipeline(transaction=False)
    for i in range(NKEYS):
        p.set("key:%04d" % i, "v" * (i % 100 + 1))
    # the longest name, but not the biggest value
    p.set("a-key-with-a-rather-long-name-but-a-tiny-value", "x")
    p.set(BIG, "b" * BIG_LEN)
    p.execute()


def tearDownModule():
    r.close()
    st = daemon.stop()
    if st != 0:
        raise AssertionError("daemon exited with status %s:\n%s" % (st, daemon.log()))


def cli(*args, timeout=30):
    """Runs redis-cli to completion; returns stdout (fails on a non-zero exit)."""
    res = subprocess.run([CLI, "-h", "127.0.0.1", "-p", str(daemon.port)] + list(args),
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    if res.returncode != 0:
        raise AssertionError("redis-cli %s: exit %d\n%s%s" % (
            " ".join(args), res.returncode, res.stdout.decode(), res.stderr.decode()))
    return res.stdout.decode()


TOTAL = NKEYS + 2


class Tools(unittest.TestCase):
    def test_stat(self):
        # --stat never ends by itself: line-buffer it, read for about 1.5 s,
        # then stop it by PID.
        cmd = ["stdbuf", "-oL", CLI, "-h", "127.0.0.1", "-p", str(daemon.port),
               "--stat", "-i", "0.2"]
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        try:
            time.sleep(1.5)
        finally:
            os.kill(p.pid, signal.SIGTERM)
            out, _ = p.communicate(timeout=10)
        text = out.decode(errors="replace")
        lines = text.splitlines()
        self.assertTrue(any("data" in l and "load" in l for l in lines), text)
        self.assertTrue(any(l.split()[:3] == ["keys", "mem", "clients"] for l in lines if l.split()), text)
        rows = [l.split() for l in lines if re.match(r"^\d+\s", l)]
        self.assertGreaterEqual(len(rows), 3, text)
        for row in rows:
            self.assertEqual(int(row[0]), TOTAL, text)       # keys
            self.assertRegex(row[1], r"^[\d.]+[BKMG]$")        # mem, human
            self.assertGreaterEqual(int(row[2]), 1)            # clients
        # requests grow: --stat's own INFO calls at least
        reqs = [int(row[4]) for row in rows]
        self.assertEqual(reqs, sorted(reqs), text)
        self.assertGreater(reqs[-1], reqs[0], text)

    def test_latency(self):
        # With its output not a terminal, --latency samples for one interval,
        # prints "min max avg samples" once and exits.
        t0 = time.monotonic()
        out = cli("--latency", "-i", "1", timeout=20)
        self.assertLess(time.monotonic() - t0, 15)
        fields = out.split()
        self.assertEqual(len(fields), 4, out)
        lo, hi, avg, n = int(fields[0]), int(fields[1]), float(fields[2]), int(fields[3])
        self.assertGreater(n, 10, out)
        self.assertLessEqual(lo, avg)
        self.assertLessEqual(avg, hi)

    def test_bigkeys(self):
        out = cli("--bigkeys")
        self.assertIn("Sampled %d keys in the keyspace!" % TOTAL, out)
        self.assertIn("Biggest string found '\"%s\"' has %d bytes" % (BIG, BIG_LEN), out)
        self.assertRegex(out, r"%d strings with \d+ bytes \(100\.00%% of keys" % TOTAL)

    def test_memkeys(self):
        usage = r.memory_usage(BIG)
        self.assertGreaterEqual(usage, BIG_LEN)
        out = cli("--memkeys")
        self.assertIn("Sampled %d keys in the keyspace!" % TOTAL, out)
        self.assertIn("Biggest string found '\"%s\"' has %d bytes" % (BIG, usage), out)
        # the total is the sum of MEMORY USAGE over every key
        keys = list(r.scan_iter(count=1000))
        self.assertEqual(len(keys), TOTAL)
        total = sum(r.memory_usage(k) for k in keys)
        self.assertRegex(out, r"%d strings with %d bytes" % (TOTAL, total))


if __name__ == "__main__":
    unittest.main(verbosity=2)
