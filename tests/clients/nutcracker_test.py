"""A twemproxy (nutcracker) pool of three compactd instances.

Uses conf/nutcracker.yml itself, with its addresses replaced by free
loopback ports, so the shipped example is what gets tested:

  1. 100 000 keys written through the proxy (pipelined) land on all three
     instances, each holding a fair share (20 % to 47 %), and all read back
     through the proxy;
  2. one instance is stopped by PID; once the proxy has ejected it, every
     key on the other two is still served, reads of keys that were on the
     stopped one fail or miss (never return a value), and writes of those
     keys succeed again, now landing on the two survivors.

Exits 77 (skipped) when nutcracker or redis-py is not installed.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compactd_proc  # noqa: E402

NUTCRACKER = compactd_proc.require_tool("nutcracker", "/usr/sbin/nutcracker", "nutcracker")
redis = compactd_proc.import_redis()

SAMPLE_CONF = os.path.join(HERE, "..", "..", "conf", "nutcracker.yml")
NKEYS = 100000
BATCH = 1000
# Long enough that the stopped instance stays ejected for the whole check
# (the sample's 2 s would let the proxy retry it in the middle of it).
RETRY_MS = 60000


def key(i):
    return "user:%d" % i


def val(i):
    return "v%d" % i


class Proxy:
    """nutcracker on a free port, configured from the sample file."""

    def __init__(self, backends, logdir):
        with open(SAMPLE_CONF) as f:
            conf = f.read()
        self.port = compactd_proc.free_port()
        self.stats_port = compactd_proc.free_port()
        conf = re.sub(r"listen: 127\.0\.0\.1:\d+", "listen: 127.0.0.1:%d" % self.port, conf)
        conf = re.sub(r"server_retry_timeout: \d+", "server_retry_timeout: %d" % RETRY_MS, conf)
        # slow sanitizer builds must not look like failures
        conf = re.sub(r"timeout: 1000\b", "timeout: 5000", conf)
        lines = re.findall(r"^ *- 127\.0\.0\.1:\d+:1 (\S+)$", conf, re.M)
        assert len(lines) == len(backends) == 3, lines
        for name, d in zip(lines, backends):
            conf = re.sub(r"127\.0\.0\.1:\d+:1 %s$" % re.escape(name),
                          "127.0.0.1:%d:1 %s" % (d.port, name), conf, flags=re.M)
        self.names = lines
        fd, self.conf_path = tempfile.mkstemp(prefix="nutcracker-", suffix=".yml", dir=logdir)
        with os.fdopen(fd, "w") as f:
            f.write(conf)
        self.log_path = os.path.join(logdir, "nutcracker-%d.log" % self.port)
        test = subprocess.run([NUTCRACKER, "-t", "-c", self.conf_path], capture_output=True)
        assert test.returncode == 0, test.stdout + test.stderr
        self.proc = subprocess.Popen(
            [NUTCRACKER, "-c", self.conf_path, "-o", self.log_path,
             "-s", str(self.stats_port), "-a", "127.0.0.1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=compactd_proc._die_with_parent)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 10
        while True:
            try:
                c = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
                c.ping()
                c.close()
                break
            except redis.exceptions.RedisError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nutcracker did not come up:\n" + self.log())
                time.sleep(0.05)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        os.unlink(self.conf_path)


def keys_of(d):
    """Every key one instance holds, read directly from it."""
    c = redis.Redis(host="127.0.0.1", port=d.port, socket_timeout=10)
    ks = {k.decode() for k in c.scan_iter(count=1000)}
    c.close()
    return ks


def read_through(c, keys):
    """GETs every key through the proxy, pipelined; returns a list of
    values, None for a miss and an exception object for a failed request."""
    out = []
    for i in range(0, len(keys), BATCH):
        p = c.pipeline(transaction=False)
        for k in keys[i:i + BATCH]:
            p.get(k)
        out += p.execute(raise_on_error=False)
    return out


class Pool(unittest.TestCase):
    def setUp(self):
        self.logdir = os.environ.get("COMPACTD_LOG_DIR", os.path.join(os.getcwd(), "logs"))
        os.makedirs(self.logdir, exist_ok=True)
        self.backends = [compactd_proc.Daemon(name="pool%d" % i) for i in range(3)]
        self.proxy = Proxy(self.backends, self.logdir)
        self.c = redis.Redis(host="127.0.0.1", port=self.proxy.port, socket_timeout=30,
                             decode_responses=True)

    def tearDown(self):
        self.c.close()
        self.proxy.stop()
        for d in self.backends:
            if d.alive():
                st = d.stop()
                self.assertEqual(st, 0, "instance exited with %s:\n%s" % (st, d.log()))

    def test_pool(self):
        c = self.c
        # 1. write through the proxy, pipelined
        for i in range(0, NKEYS, BATCH):
            p = c.pipeline(transaction=False)
            for j in range(i, i + BATCH):
                p.set(key(j), val(j))
            self.assertEqual(p.execute(), [True] * BATCH)

        owned = [keys_of(d) for d in self.backends]
        shares = [len(k) / NKEYS for k in owned]
        print("shares: " + ", ".join("%s %.1f%%" % (n, 100 * s)
                                     for n, s in zip(self.proxy.names, shares)))
        self.assertEqual(sum(len(k) for k in owned), NKEYS)   # each key on one instance
        for s in shares:
            self.assertTrue(0.20 <= s <= 0.47, "uneven shares %s" % shares)

        allkeys = [key(i) for i in range(NKEYS)]
        self.assertEqual(read_through(c, allkeys), [val(i) for i in range(NKEYS)])

        # 2. stop one instance by PID
        dead = 1
        self.assertEqual(self.backends[dead].stop(), 0)
        dead_keys = sorted(owned[dead], key=lambda k: int(k.split(":")[1]))
        live_keys = sorted(owned[0] | owned[2], key=lambda k: int(k.split(":")[1]))

        # Until it is ejected, requests for its keys fail; afterwards they are
        # hashed to the survivors and miss. Wait for the miss.
        probe = dead_keys[0]
        failures = 0
        deadline = time.monotonic() + 20
        while True:
            try:
                v = c.get(probe)
                self.assertIsNone(v, "a key of the stopped instance returned a value")
                break
            except redis.exceptions.RedisError:
                failures += 1
            self.assertLess(time.monotonic(), deadline, "the proxy never ejected the instance:\n"
                            + self.proxy.log()[-4000:])
            time.sleep(0.05)
        print("requests failed before the ejection: %d" % failures)
        self.assertGreaterEqual(failures, 1)

        # every key on the two survivors is still served, with its value
        got = read_through(c, live_keys)
        want = [val(int(k.split(":")[1])) for k in live_keys]
        bad = [(k, g) for k, g, w in zip(live_keys, got, want) if g != w]
        self.assertEqual(bad[:5], [], "%d live keys not served" % len(bad))

        # keys of the stopped instance: a miss or an error, never a value
        got = read_through(c, dead_keys)
        self.assertTrue(all(g is None or isinstance(g, Exception) for g in got))

        # writes of those keys succeed again, on the survivors
        sample = dead_keys[:5000]
        p = c.pipeline(transaction=False)
        for k in sample:
            p.set(k, "again")
        self.assertEqual(p.execute(), [True] * len(sample))
        self.assertEqual(read_through(c, sample), ["again"] * len(sample))
        survivors = keys_of(self.backends[0]) | keys_of(self.backends[2])
        self.assertTrue(set(sample) <= survivors)
        self.assertEqual(len(survivors), len(live_keys) + len(sample))


if __name__ == "__main__":
    unittest.main(verbosity=2)
