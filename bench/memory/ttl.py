#!/usr/bin/python3
"""bench/memory/ttl.py: the TTL workload.

A mix of persistent keys (written first) and keys with short TTLs (1-5 s,
uniform, millisecond precision; whole seconds for memcached, whose protocol
has no finer unit), values of several sizes assigned independently of the
TTL. The TTLs count from the expected end of the writes (absolute deadlines,
SET ... PXAT, or memcached's absolute exptime; the write time is estimated as
1.5 x the persistent keys' write rate), so that every TTL key is live when the
writes end and they expire over the next 4 s whatever the server's speed. Against compactd (twice if it has `lifetime-segregation`: yes and no),
redis-server (and redis-server with activedefrag yes, when it accepts it) and
memcached, one at a time, it samples every 0.5 s for WINDOW seconds: RSS
(/proc/PID/statm), live bytes (persistent plus not-yet-expired, known to the
script), keys the server still holds (DBSIZE, or memcached's curr_items: both
count expired entries not yet freed) and its expired counter.

Expired-but-unfreed keys at time t = keys held - persistent - TTL keys whose
deadline is after t. As sizes do not depend on the TTL, the byte fraction is
the key fraction. Two figures per server:
  * freed at last+2s: the fraction of TTL keys freed 2 s after the last one
    expired (every TTL key is then at least 2 s past its deadline); this is the
    issue's "expired bytes freed within 2 s of expiry" for the latest keys and
    an upper bound for the others;
  * worst sample: over the samples from first expiry + 2 s on, bounds on the
    fraction of keys expired more than 2 s ago that are freed. The script
    cannot tell which unfreed keys are the old ones: the pessimistic bound
    counts every unfreed key as overdue, the optimistic one assumes the
    unfreed keys are the most recently expired first. Printed for the sample
    where the optimistic bound is lowest.
For compactd the compaction and allocator totals (arenas released, bytes
moved, from COMPACT STATUS on the admin port and INFO) are printed for each
segregation setting.

usage: bench/memory/ttl.py [path/to/compactd]   (default build/daemon/compactd)
env:   QUICK=1 (a tenth of the data, 10 s window, compactd only with its default
       segregation)  PERSIST_MB TTL_MB WINDOW
       SERVERS=compactd,redis,redis-defrag,memcached
Raw samples go to bench/out/ttl-<time>.csv, the table to ttl-<time>.txt, one JSON
line per server to ttl-<time>.jsonl (or $BENCH_JSONL).
"""
import bisect
import csv
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

SIZES = [24, 64, 200, 600, 1500]
KEYLEN = len(b"p:0000000")


def pkey(j):
    return b"p:%07d" % j


def tkey(j):
    return b"t:%07d" % j


def ttl_ms(j, whole_seconds):
    # A hash of j, so TTL and size (j % len(SIZES)) are independent.
    h = (j * 2654435761) & 0xFFFFFFFF
    ms = 1000 + h % 4001
    return ((ms + 500) // 1000) * 1000 if whole_seconds else ms


def val(j):
    return b"x" * SIZES[j % len(SIZES)]


def n_for(mb):
    mean = sum(SIZES) / len(SIZES) + KEYLEN
    return int(mb * B.MIB / mean)


class Probe:
    def __init__(self, srv):
        self.srv = srv
        self.c = srv.connect()

    def held_and_expired(self):
        if self.srv.kind == "memcached":
            st = self.c.stats()
            reclaimed = int(st.get("reclaimed", 0)) + int(st.get("crawler_reclaimed", 0))
            return int(st["curr_items"]), reclaimed
        held = self.c.call("DBSIZE")
        info = self.c.info("stats")
        return held, int(info.get("expired_keys", 0))

    def arenas(self):
        """compactd's mapped arenas (INFO memory), None for the others."""
        if self.srv.kind != "compactd":
            return None
        return int(self.c.info("memory").get("allocator_arenas", 0))


def write_persistent(srv, n):
    c = srv.connect()
    for lo in range(0, n, 1000):
        c.set_many([(pkey(j), val(j)) for j in range(lo, min(n, lo + 1000))])
    c.close()


def write_ttl(srv, n, base):
    """Writes the TTL keys with absolute deadlines base + 1..5 s (PXAT; memcached: an
    absolute Unix time in whole seconds); returns each key's deadline."""
    c = srv.connect()
    mc = srv.kind == "memcached"
    deadlines = [0.0] * n
    for lo in range(0, n, 1000):
        js = range(lo, min(n, lo + 1000))
        if mc:
            c.set_many_ttl([(tkey(j), val(j), int(base) + ttl_ms(j, True) // 1000) for j in js])
            for j in js:
                deadlines[j] = int(base) + ttl_ms(j, True) // 1000
        else:
            c.pipeline_ok(b"".join(B.enc("SET", tkey(j), val(j), "PXAT",
                                         int(base * 1000) + ttl_ms(j, False)) for j in js), len(js))
            for j in js:
                deadlines[j] = (int(base * 1000) + ttl_ms(j, False)) / 1000.0
    c.close()
    return deadlines


def alloc_totals(srv):
    """Compaction/allocator totals for compactd: COMPACT STATUS and matching INFO fields."""
    out = {}
    for k, v in B.compact_status(srv).items():
        out["compact." + k] = v
    c = srv.connect()
    info = c.info()
    c.close()
    for k, v in info.items():
        if re.search(r"releas|moved|compact|evacuat|arena|expired|segreg|purg", k):
            out[k] = v
    c = srv.connect()
    try:
        ms = c.call("MEMORY", "MALLOC-STATS")
        ms = ms.decode() if isinstance(ms, bytes) else str(ms)
        for k, v in re.findall(r"\b(os_\w+):(\d+)", ms):
            out["malloc_stats." + k] = v
    except B.RespError:
        pass
    c.close()
    return out


def run_server(srv, name, n_p, n_t, window):
    probe = Probe(srv)
    time.sleep(0.3)
    tp = time.time()
    write_persistent(srv, n_p)
    p_rate = n_p / max(1e-3, time.time() - tp)
    p_bytes = sum(KEYLEN + SIZES[j % len(SIZES)] for j in range(n_p))
    held0, exp0 = probe.held_and_expired()
    t0 = time.time()
    # Deadlines count from when the writes are expected to end (1.5 x the time the
    # persistent keys took, scaled), so that no key expires before the last is written.
    est = 3.0 * n_t / p_rate
    deadlines = write_ttl(srv, n_t, t0 + est)
    write_s = time.time() - t0
    sizes = [KEYLEN + SIZES[j % len(SIZES)] for j in range(n_t)]
    order = sorted(range(n_t), key=deadlines.__getitem__)
    sorted_dl = [deadlines[j] for j in order]
    cum = [0]
    for j in order:
        cum.append(cum[-1] + sizes[j])
    mean = cum[-1] / max(1, n_t)

    def due(t):
        return bisect.bisect_right(sorted_dl, t)

    samples = []
    k = int((time.time() - t0) / 0.5) + 1   # the grid point after the writes
    while True:
        t = t0 + 0.5 * k
        if t > t0 + max(window, est + 7.5):
            break
        time.sleep(max(0.0, t - time.time()))
        now = time.time()
        held, expired = probe.held_and_expired()
        rss = srv.rss()
        arenas = probe.arenas()
        d_now = due(now)
        alive = n_t - d_now
        unfreed = max(0, held - n_p - alive)
        live = p_bytes + cum[-1] - cum[d_now]
        samples.append(dict(server=name, grid=0.5 * k, t=round(now - t0, 2), rss=rss, live=live, held=held,
                            expired_counter=expired - exp0, due=d_now, due_2s=due(now - 2.0),
                            unfreed=unfreed, unfreed_bytes_est=int(unfreed * mean),
                            arenas=arenas))
        k += 1
    last = sorted_dl[-1]
    s_last = next((s for s in samples if t0 + s["t"] >= last + 2.0), samples[-1])
    freed_last = 1.0 - s_last["unfreed"] / n_t
    worst = None   # (pessimistic, optimistic) at the sample where the optimistic one is lowest
    for s in samples:
        if s["due_2s"] > 0 and t0 + s["t"] >= sorted_dl[0] + 2.0:
            recent = s["due"] - s["due_2s"]
            pess = 1.0 - min(s["unfreed"], s["due_2s"]) / s["due_2s"]
            opt = 1.0 - min(max(0, s["unfreed"] - recent), s["due_2s"]) / s["due_2s"]
            if worst is None or opt < worst[1]:
                worst = (pess, opt)
    probe.c.close()
    res = dict(server=name, n_persistent=n_p, n_ttl=n_t, ttl_mib=B.mib(cum[-1]),
               persistent_mib=B.mib(p_bytes), freed_at_last_plus_2=freed_last,
               t_last_plus_2=s_last["t"], worst=worst, held_before_ttl=held0,
               write_seconds=write_s, write_estimate=est,
               rss_end=samples[-1]["rss"], live_end=samples[-1]["live"])
    if srv.kind == "compactd":
        res["totals"] = alloc_totals(srv)
        res["totals"]["arenas_peak_sampled"] = max(s["arenas"] for s in samples)
        res["totals"]["arenas_end"] = samples[-1]["arenas"]
    return samples, res


def main():
    binary, tag, log, emit = B.begin("ttl")
    q = B.quick()
    n_p = n_for(float(os.environ.get("PERSIST_MB", "10" if q else "100")))
    n_t = n_for(float(os.environ.get("TTL_MB", "20" if q else "200")))
    window = float(os.environ.get("WINDOW", "10" if q else "15"))   # after the TTL writes start
    wanted = os.environ.get("SERVERS", "compactd,redis,redis-defrag,memcached").split(",")
    log("ttl: %s mode, %d persistent keys + %d keys with TTL 1-5 s, values %s B, window %.0f s"
        % ("QUICK" if q else "full", n_p, n_t, SIZES, window))

    runs = []  # (name, starter)
    for name in wanted:
        if name == "compactd":
            has_seg = B.compactd_has_option(binary, "lifetime-segregation")
            if has_seg and q:   # a smoke run: the default (segregation on) only
                runs.append(("compactd", lambda s, t: B.start_compactd(s, binary, t)))
            elif has_seg:
                runs.append(("compactd-seg", lambda s, t: B.start_compactd(
                    s, binary, t, ["--lifetime-segregation", "yes"])))
                runs.append(("compactd-noseg", lambda s, t: B.start_compactd(
                    s, binary, t + "-noseg", ["--lifetime-segregation", "no"])))
            else:
                log("compactd: no lifetime-segregation option in this build; one run")
                runs.append(("compactd", lambda s, t: B.start_compactd(s, binary, t)))
        elif name == "redis":
            runs.append(("redis", lambda s, t: B.start_redis(s, t, "redis")))
        elif name == "redis-defrag":
            runs.append(("redis-defrag", lambda s, t: B.start_redis(
                s, t, "redis-defrag", ["--activedefrag", "yes"])))
        elif name == "memcached":
            runs.append(("memcached", lambda s, t: B.start_memcached(s, t)))
        else:
            sys.exit("unknown server %s" % name)

    all_samples, results = [], []
    with B.Servers(emit) as servers:
        for name, start in runs:
            try:
                srv = start(servers, tag)
            except RuntimeError as e:
                log("%s: SKIPPED, it did not start: %s" % (name, B.start_failure(e)))
                continue
            if srv.kind == "compactd":
                sup = B.compaction_support(srv)
                log("%s: %s; other options %s" % (
                    name, B.describe_compaction(sup)[1],
                    {k: v for k, v in sup["options"].items() if not k.startswith("compact")}))
            samples, res = run_server(srv, name, n_p, n_t, window)
            srv.stop()
            all_samples += samples
            results.append(res)
            emit("result", **res)
            log("  %s: TTL keys written in %.1f s (deadlines from %.1f s on)" % (
                name, res["write_seconds"], res["write_estimate"]))

    with open(os.path.join(B.OUT, tag + ".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(all_samples[0].keys()))
        w.writeheader()
        w.writerows(all_samples)

    names = [r["server"] for r in results]
    by = {(s["server"], s["grid"]): s for s in all_samples}
    grids = sorted({s["grid"] for s in all_samples if s["grid"] == int(s["grid"])})
    headers = ["t s", "live MiB"]
    for n in names:
        headers += ["%s RSS" % n, "x live", "unfreed"]
    rows = []
    for g in grids:
        ref = next((by[(n, g)] for n in names if (n, g) in by), None)
        row = ["%.0f" % g, "%.1f" % B.mib(ref["live"])]
        for n in names:
            s = by.get((n, g))
            row += ["%.1f" % B.mib(s["rss"]), "%.2f" % (s["rss"] / s["live"]), s["unfreed"]] \
                if s else ["-", "-", "-"]
        rows.append(row)
    log("")
    log("RSS (MiB), RSS / live, and expired keys not yet freed, every second")
    log(B.fmt_table(headers, rows))
    log("")
    rows = []
    for r in results:
        rows.append([r["server"], "%.1f" % r["ttl_mib"], "%.2f%%" % (100 * r["freed_at_last_plus_2"]),
                     "%.1f%% .. %.1f%%" % (100 * r["worst"][0], 100 * r["worst"][1])
                     if r["worst"] is not None else "-",
                     "%.1f" % B.mib(r["rss_end"]), "%.2f" % (r["rss_end"] / r["live_end"])])
    log("expired bytes freed (fraction of TTL keys; sizes are independent of TTL)")
    log(B.fmt_table(["server", "TTL MiB", "freed at last+2s", "worst sample, bounds",
                     "RSS end MiB", "RSS/live end"], rows))
    for r in results:
        if "totals" in r:
            t = r["totals"]
            log("%s totals: %s" % (r["server"], ", ".join("%s=%s" % kv for kv in sorted(t.items()))
                                   or "-"))
            rel = B.pick(t, "compact.", "released")
            mov = B.pick(t, "bytes", "moved")
            log("%s: arenas unmapped %s, purged %s, arenas peak/end %s/%s; compaction: arenas "
                "released %s, bytes moved %s" % (
                    r["server"], t.get("malloc_stats.os_unmaps", "n/a"),
                    t.get("malloc_stats.os_purges", "n/a"), t["arenas_peak_sampled"],
                    t["arenas_end"], "%.0f" % rel if rel is not None else "n/a",
                    "%.0f" % mov if mov is not None else "n/a"))
    log("raw samples: %s" % os.path.join(B.OUT, tag + ".csv"))


if __name__ == "__main__":
    B.run(main)
