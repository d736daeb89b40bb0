"""The live census on the admin port, as an operator uses it.

One daemon (64 KiB arenas, no automatic compaction) holds a keyspace built
from a model: random prefixes, depths, TTLs and value sizes. Checked:
  * CENSUS REPORT and GET /api/census count every group exactly as the
    model does: keys, bytes (the sum of MEMORY USAGE over the group's keys),
    TTL buckets and value-size buckets, at depth 1 and 2, with TOP and
    "other";
  * a census with writes, deletes, expiries, an index resize and a
    compaction run going on during the walk (the walk is slowed down by a
    small CPU share) counts every key present throughout exactly once, and
    a churned group between its keys present throughout and ever present;
  * CENSUS DIFF puts the group that grew first, with the right deltas; the
    /metrics gauges are bounded; MEMORY DOCTOR names the prefix that keeps
    the sparse arenas; bad input gets a clear error on RESP and HTTP;
    /api/census needs the admin password like the other /api routes.

Run: /usr/bin/python3 tests/clients/census_test.py (COMPACTD_BIN names the
daemon); exits 77 (skipped) without redis-py, or against redis-server (it
has no admin port).
"""

import json
import os
import random
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compactd_proc  # noqa: E402

redis = compactd_proc.import_redis()
if compactd_proc.is_redis():
    compactd_proc.skip("redis-server has no admin port")

daemon = None
admin_port = None

TTL_NAMES = ["none", "lt_1m", "lt_1h", "lt_1d", "longer"]
SIZE_NAMES = ["le_16", "le_64", "le_256", "le_1k", "le_4k", "le_16k", "le_64k", "larger"]


def setUpModule():
    global daemon, admin_port
    admin_port = compactd_proc.free_port()
    daemon = compactd_proc.Daemon(
        extra=["--admin-port", str(admin_port), "--arena-size", "65536",
               "--compact-auto", "no"], name="census")


def tearDownModule():
    st = daemon.stop()
    if st != 0:
        raise AssertionError("daemon exited with status %s:\n%s" % (st, daemon.log()))


def size_bucket(n):
    b, lim = 0, 16
    while b < len(SIZE_NAMES) - 1 and n > lim:
        b, lim = b + 1, lim * 4
    return b


def group_of(key, delim=":", depth=1):
    """The model's grouping: the prefix up to the depth-th delimiter, or up
    to the last one for keys with fewer."""
    parts = key.split(delim)
    if len(parts) == 1:
        return ""
    return delim.join(parts[:min(depth, len(parts) - 1)])


def api(path, method="GET", body=None, password=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (admin_port, path), method=method,
                                 data=body.encode() if body is not None else None)
    if password:
        req.add_header("Authorization", "Bearer " + password)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def pairs(v):
    """A RESP2 map (flat list of name, value) as a dict."""
    return {v[i].decode(): v[i + 1] for i in range(0, len(v), 2)}


class Census(unittest.TestCase):
    def setUp(self):
        self.r = redis.Redis(host="127.0.0.1", port=daemon.port, socket_timeout=20)
        self.a = redis.Redis(host="127.0.0.1", port=admin_port, socket_timeout=20)
        self.r.flushall()
        self.a.execute_command("CONFIG", "SET", "census-cpu-pct", "25")
        self.rng = random.Random(1234)

    def tearDown(self):
        try:
            self.a.execute_command("CENSUS", "ABORT")
        except redis.ResponseError:
            pass

    def census(self, *opts):
        self.assertEqual(self.a.execute_command("CENSUS", "START", *opts), b"Census started")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = self.a.execute_command("CENSUS", "STATUS").decode()
            if "running:0" in st:
                return
            time.sleep(0.02)
        self.fail("census still running after 60 s")

    def build(self, n):
        """n keys under random prefixes (some two levels deep), TTLs and
        sizes; returns {key: (ttl_bucket, size)}."""
        model = {}
        ttls = [None, 30, 1800, 5 * 3600, 3 * 86400]
        p = self.r.pipeline(transaction=False)
        for i in range(n):
            top = "p%d" % self.rng.randrange(30)
            shape = self.rng.randrange(3)
            key = (top + ":" + str(i) if shape == 0 else
                   top + ":s%d:%d" % (self.rng.randrange(4), i) if shape == 1 else
                   "bare%d" % i if i % 50 == 0 else top + ":" + str(i))
            size = self.rng.choice([0, 5, 40, 100, 300, 1000, 3000, 9000, 70000]) \
                + self.rng.randrange(8)
            t = self.rng.randrange(len(ttls))
            p.set(key, b"v" * size, ex=ttls[t])
            model[key] = (t, size)
        p.execute()
        return model

    def usage(self, keys):
        p = self.r.pipeline(transaction=False)
        for k in keys:
            p.memory_usage(k)
        return dict(zip(keys, p.execute()))

    def expect(self, model, usage, depth):
        groups = {}
        for k, (t, size) in model.items():
            g = groups.setdefault(group_of(k, ":", depth), {
                "keys": 0, "bytes": 0, "ttl": [0] * 5, "classes": [0] * 8})
            g["keys"] += 1
            g["bytes"] += usage[k]
            g["ttl"][t] += 1
            g["classes"][size_bucket(size)] += 1
        return groups

    def check_groups(self, got, want):
        self.assertEqual(len(got), len(want))
        for g in got:
            self.assertFalse(g["other"])
            w = want[g["prefix"]]
            self.assertEqual(g["keys"], w["keys"], g["prefix"])
            self.assertEqual(g["bytes"], w["bytes"], g["prefix"])
            self.assertEqual([g["ttl"][n] for n in TTL_NAMES], w["ttl"], g["prefix"])
            self.assertEqual([g["classes"][n] for n in SIZE_NAMES], w["classes"], g["prefix"])
            self.assertEqual(g["age"]["lt_1m"], w["keys"])

    def test_exact(self):
        model = self.build(6000)
        usage = self.usage(list(model))
        for depth in (1, 2):
            self.census("DEPTH", str(depth), "TOP", "1000")
            code, j = api("/api/census")
            self.assertEqual(code, 200)
            self.assertTrue(j["complete"])
            self.assertFalse(j["running"])
            self.assertLessEqual(j["started_ms"], j["finished_ms"])
            self.assertEqual(j["keys"], len(model))
            self.assertEqual(j["bytes"], sum(usage.values()))
            self.check_groups(j["groups"], self.expect(model, usage, depth))
            # the size-class and band totals add up to the same keys
            self.assertEqual(sum(c["keys"] for c in j["size_classes"]), len(model))
            self.assertEqual(sum(b["keys"] for b in j["bands"]), len(model))
            # CENSUS REPORT says the same as the JSON
            rep = pairs(self.a.execute_command("CENSUS", "REPORT"))
            self.assertEqual(rep["keys"], len(model))
            self.assertEqual(rep["depth"], depth)
            got = {pairs(g)["prefix"].decode(): pairs(g)["bytes"] for g in rep["groups"]}
            self.assertEqual(got, {g["prefix"]: g["bytes"] for g in j["groups"]})

        # TOP 5: the five largest groups by bytes, then "other" with the rest
        want = self.expect(model, usage, 1)
        self.census("TOP", "5")
        code, j = api("/api/census")
        top = sorted(want.items(), key=lambda kv: -kv[1]["bytes"])
        self.assertEqual([g["prefix"] for g in j["groups"][:5]], [p for p, _ in top[:5]])
        other = j["groups"][5]
        self.assertTrue(other["other"])
        self.assertEqual(len(j["groups"]), 6)
        self.assertEqual(other["keys"], sum(w["keys"] for _, w in top[5:]))
        self.assertEqual(other["bytes"], sum(w["bytes"] for _, w in top[5:]))

    def test_during_writes_expiry_resize_compaction(self):
        # stable groups, a group deleted and rewritten during the walk, keys
        # expiring during it, and a burst that grows the index
        p = self.r.pipeline(transaction=False)
        for i in range(20000):
            p.set("stable%d:%d" % (i % 8, i), b"s" * (i % 500))
        for i in range(5000):
            p.set("churn:%d" % i, b"c" * 200)
        for i in range(3000):
            p.set("short:%d" % i, b"e" * 50, px=300 + i % 700)
        p.execute()
        for i in range(5000):               # sparse arenas for the compaction run
            p.set("hole:%d" % i, b"h" * 120)
        p.execute()
        for i in range(5000):
            p.delete("hole:%d" % i)
        p.execute()
        stable = {}
        for i in range(20000):
            stable.setdefault("stable%d" % (i % 8), []).append("stable%d:%d" % (i % 8, i))
        usage = self.usage([k for ks in stable.values() for k in ks])

        # a slow walk, and a slow compaction run during it
        self.a.execute_command("CONFIG", "SET", "census-cpu-pct", "1", "compact-cpu-pct", "1")
        self.a.execute_command("CENSUS", "START", "TOP", "100")
        self.assertEqual(self.a.execute_command("COMPACT", "ASYNC"), b"Compaction started")
        churn_present = set(range(5000))
        churn_ever = set(range(5000))
        n = 5000
        for rounds in range(20):
            for _ in range(200):
                i = self.rng.randrange(n)
                p.delete("churn:%d" % i)
                churn_present.discard(i)
            for _ in range(250):
                p.set("churn:%d" % n, b"c" * 200)
                churn_ever.add(n)
                n += 1
            if rounds == 3:                 # a burst: the index grows
                for i in range(40000):
                    p.set("burst:%d" % i, b"b")
            p.execute()
        st = self.a.execute_command("CENSUS", "STATUS").decode()
        self.assertIn("running:1", st, "the walk ended before the writes did")
        deadline = time.monotonic() + 60
        while "running:1" in st and time.monotonic() < deadline:
            time.sleep(0.05)
            st = self.a.execute_command("CENSUS", "STATUS").decode()
        self.assertIn("complete:1", st)
        code, j = api("/api/census")
        groups = {g["prefix"]: g for g in j["groups"]}
        for name, keys in stable.items():
            self.assertEqual(groups[name]["keys"], len(keys), name)
            # bytes carry each key's share of the index, which the burst and
            # the deletes changed meanwhile (test_exact checks them exactly):
            # at most 8 bytes a slot at the lowest load of 0.1
            self.assertLessEqual(abs(groups[name]["bytes"] - sum(usage[k] for k in keys)),
                                 80 * len(keys), name)
        stayed = len(churn_present & set(range(5000)))
        self.assertGreaterEqual(groups["churn"]["keys"], stayed)
        self.assertLessEqual(groups["churn"]["keys"], len(churn_ever))
        self.assertLessEqual(groups.get("short", {"keys": 0})["keys"], 3000)
        self.assertLessEqual(groups["burst"]["keys"], 40000)
        for name, keys in stable.items():   # and nothing was lost meanwhile
            self.assertEqual(self.r.exists(*keys), len(keys))

    def test_diff_metrics_doctor(self):
        p = self.r.pipeline(transaction=False)
        for i in range(8000):
            p.set("keep:%06d" % i if i % 8 == 0 else "drop:%06d" % i, b"x" * 100)
        for i in range(2000):
            p.set("steady:%d" % i, b"y" * 30)
        for i in range(100):
            p.set("temp:%d" % i, b"t" * 10)
        p.execute()
        # DEPTH 3, which no other test uses, so the first one has nothing to
        # compare with (a diff needs the same DELIMITER and DEPTH)
        with self.assertRaisesRegex(redis.ResponseError, "needs two completed censuses"):
            self.census("DEPTH", "3")
            self.a.execute_command("CENSUS", "DIFF")
        for i in range(8000):
            if 1 <= i % 8 <= 6:
                p.delete("drop:%06d" % i)
        for i in range(1500):
            p.set("leak:%d" % i, b"z" * 64)
        for i in range(100):
            p.delete("temp:%d" % i)
        p.execute()
        self.census("DEPTH", "3")
        diff = [pairs(g) for g in self.a.execute_command("CENSUS", "DIFF")]
        self.assertEqual(diff[0]["prefix"], b"leak")
        self.assertEqual(diff[0]["keys_delta"], 1500)
        # the deltas leave out the index share (it moves for every group):
        # a new group grew by less than its bytes, an untouched one by 0
        self.assertGreater(diff[0]["bytes_delta"], 1500 * 64)
        self.assertLess(diff[0]["bytes_delta"], diff[0]["bytes"])
        by = {d["prefix"]: d for d in diff}
        self.assertEqual((by[b"steady"]["keys_delta"], by[b"steady"]["bytes_delta"]), (0, 0))
        self.assertEqual((by[b"drop"]["keys"], by[b"drop"]["keys_delta"]), (1000, -6000))
        # a group that went away entirely is listed too, with nothing left
        self.assertEqual((by[b"temp"]["keys"], by[b"temp"]["keys_delta"]), (0, -100))
        self.assertLess(by[b"temp"]["bytes_delta"], -100 * 10)
        code, j = api("/api/census")
        self.assertTrue(j["has_previous"])
        leak = [g for g in j["groups"] if g["prefix"] == "leak"][0]
        self.assertEqual((leak["keys_delta"], leak["keys"]), (1500, 1500))
        self.assertEqual([(v["prefix"], v["keys_delta"]) for v in j["vanished"]], [("temp", -100)])

        # the keep keys sit in sparse arenas a compaction could empty
        keep = [g for g in j["groups"] if g["prefix"] == "keep"][0]
        self.assertGreater(keep["pinned_arenas"], 0)
        doctor = self.r.execute_command("MEMORY", "DOCTOR").decode()
        self.assertIn("'keep': %d sparse arenas" % keep["pinned_arenas"], doctor)

        metrics = urllib.request.urlopen(
            "http://127.0.0.1:%d/metrics" % admin_port, timeout=10).read().decode()
        self.assertIn('compactd_census_group_keys{group="top",prefix="leak"} 1500', metrics)
        # bounded: many prefixes give at most 20 top series and one "other"
        p = self.r.pipeline(transaction=False)
        for i in range(300):
            p.set("many%d:k" % i, b"m")
        p.execute()
        self.census("TOP", "1000")
        metrics = urllib.request.urlopen(
            "http://127.0.0.1:%d/metrics" % admin_port, timeout=10).read().decode()
        series = [ln for ln in metrics.splitlines() if ln.startswith("compactd_census_group_keys{")]
        self.assertEqual(len(series), 21)
        self.assertEqual(sum(int(s.rsplit(" ", 1)[1]) for s in series), self.r.dbsize())

    def test_bad_input(self):
        err = redis.ResponseError
        with self.assertRaisesRegex(err, "no census has completed yet"):
            self.a.execute_command("CENSUS", "REPORT")
        with self.assertRaisesRegex(err, "DEPTH must be an integer from 1 to 16"):
            self.a.execute_command("CENSUS", "START", "DEPTH", "0")
        with self.assertRaisesRegex(err, "DEPTH must be an integer from 1 to 16"):
            self.a.execute_command("CENSUS", "START", "DEPTH", "17")
        with self.assertRaisesRegex(err, "DELIMITER must be exactly one byte"):
            self.a.execute_command("CENSUS", "START", "DELIMITER", "::")
        with self.assertRaisesRegex(err, "TOP must be an integer from 1 to 1000"):
            self.a.execute_command("CENSUS", "START", "TOP", "0")
        with self.assertRaisesRegex(err, "unknown CENSUS START option"):
            self.a.execute_command("CENSUS", "START", "PREFIX", "x")
        with self.assertRaisesRegex(err, "syntax error"):
            self.a.execute_command("CENSUS", "START", "DEPTH")
        with self.assertRaisesRegex(err, "no census is running"):
            self.a.execute_command("CENSUS", "ABORT")
        with self.assertRaisesRegex(err, "syntax error"):
            self.a.execute_command("CENSUS", "FROB")
        code, j = api("/api/census/start", "POST", "depth=0")
        self.assertEqual((code, j["error"]), (400, "DEPTH must be an integer from 1 to 16"))

        # START while one runs; ABORT ends it and counts nothing more
        p = self.r.pipeline(transaction=False)
        for i in range(50000):
            p.set("k%d:%d" % (i % 10, i), b"v")
        p.execute()
        self.a.execute_command("CONFIG", "SET", "census-cpu-pct", "1")
        self.a.execute_command("CENSUS", "START")
        with self.assertRaisesRegex(err, "a census is already running"):
            self.a.execute_command("CENSUS", "START")
        code, j = api("/api/census/start", "POST", "")
        self.assertEqual(code, 409)
        self.assertEqual(self.a.execute_command("CENSUS", "ABORT"), b"OK")
        st = self.a.execute_command("CENSUS", "STATUS").decode()
        self.assertIn("running:0", st)
        self.assertIn("complete:0", st)
        # the dashboard's start runs the same census
        code, j = api("/api/census/start", "POST", "depth=2&delimiter=%3A&top=3")
        self.assertEqual((code, j), (202, {"started": True}))
        self.assertIn("Census started from the dashboard", daemon.log())


class Auth(unittest.TestCase):
    def test_password(self):
        global admin_port
        saved = admin_port
        admin_port = compactd_proc.free_port()
        d = compactd_proc.Daemon(extra=["--admin-port", str(admin_port),
                                        "--admin-password", "s3cret"], name="census-auth")
        try:
            code, j = api("/api/census")
            self.assertEqual(code, 401)
            code, j = api("/api/census", password="s3cret")
            self.assertEqual((code, j["complete"]), (200, False))
            code, j = api("/api/census/start", "POST", "", password=None)
            self.assertEqual(code, 401)
        finally:
            admin_port = saved
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
