#!/usr/bin/python3
"""bench/memory/overhead.py: bytes of overhead per entry (issues 3(c) and 12).

Loads N keys of 16 bytes with 32-byte values into compactd, redis-server and
memcached (one at a time, each freshly started), for each N of a list of
scales, and reports

    overhead per entry = (RSS after load - RSS empty) / N - 48

that is (RSS after - RSS empty - the N x 48 bytes of keys and values) / N:
what each entry costs beyond its key and value (header, index slot,
size-class rounding, allocator metadata, everything the process keeps).
Issue 12's target for compactd: <= 16 B at N = 10 M. The default scales
also take 1 M, 3 M, 6.5 M and 7 M keys: an index's share of an entry
depends on where N falls in its growth cycle (6.5 M and 7 M were the two
sides of the doubling of compactd's former power-of-two index, 14.3 and
18.8 B), so one N alone would flatter or wrong every design. RSS comes from
/proc/PID/statm for all three. RSS "after load" is taken once compactd's
index is no longer resizing (a load that crossed a growth leaves the old
table to the cron's migration, and RSS stands still meanwhile) and RSS has
stopped moving, at most 5 s after that. The allocator's own view
(INFO used_memory for compactd and redis, stats bytes/total_malloced for
memcached) is printed next to it. Keys are written with pipelined MSET (SET
for memcached) batches of 1000, sent as raw protocol so the client is not the
bottleneck.

usage: bench/memory/overhead.py [path/to/compactd]   (default build/daemon/compactd)
env:   QUICK=1 (N = 1 M only)  N=<keys>[,<keys>...] (default 1000000,3000000,6500000,7000000,10000000)
       SERVERS=compactd,redis,memcached
Raw figures go to bench/out/overhead-<time>.csv, the table to overhead-<time>.txt,
one JSON line per server to overhead-<time>.jsonl (or $BENCH_JSONL).
"""
import csv
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

TARGET = 16           # issue 12: bytes per entry beyond key and value...
TARGET_N = 10000000   # ... with this many keys
SCALES = "1000000,3000000,6500000,7000000,10000000"
BATCH = 1000          # keys per MSET
WINDOW = 16           # MSETs in flight before reading their replies
PAIR = b"$16\r\nk%015d\r\n$32\r\nv%031d\r\n"
MC_SET = b"set k%015d 0 0 32\r\nv%031d\r\n"


def load_resp(srv, n):
    c = B.Resp(srv.port)
    head = b"*%d\r\n$4\r\nMSET\r\n" % (2 * BATCH + 1)
    done = 0
    while done < n:
        parts, cmds = [], 0
        while cmds < WINDOW and done < n:
            k = min(BATCH, n - done)
            h = head if k == BATCH else b"*%d\r\n$4\r\nMSET\r\n" % (2 * k + 1)
            parts.append(h + b"".join([PAIR % (x, x) for x in range(done, done + k)]))
            done += k
            cmds += 1
        c.pipeline_ok(b"".join(parts), cmds)
    got = c.call("DBSIZE")
    c.close()
    if got != n:
        raise RuntimeError("%s: DBSIZE %s after loading %d keys" % (srv.name, got, n))


def load_memcached(srv, n):
    c = B.Memcache(srv.port)
    done = 0
    while done < n:
        k = min(BATCH * WINDOW, n - done)
        c.sock.sendall(b"".join([MC_SET % (x, x) for x in range(done, done + k)]))
        want = b"STORED\r\n" * k
        while len(c.buf) - c.pos < len(want):
            c._fill()
        if c.buf[c.pos:c.pos + len(want)] != want:
            raise RuntimeError("memcached: unexpected reply %r" % bytes(c.buf[c.pos:c.pos + 40]))
        c.pos += len(want)
        done += k
    st = c.stats()
    c.close()
    if int(st["curr_items"]) != n:
        raise RuntimeError("memcached: curr_items %s after loading %d keys" % (st["curr_items"], n))


def rehash_done(srv, limit=180.0):
    """Seconds until compactd's index has migrated to its resized table, if
    the load left it resizing: until then both tables are mapped (the load
    that crosses a growth ends with the old table still there, and the cron
    migrates it in slices), and RSS, steady meanwhile, is not what an entry
    costs. Other servers: 0 (redis-server's table does not resize between
    these scales; memcached's grows at once)."""
    if srv.kind != "compactd":
        return 0.0
    c = B.Resp(srv.port)
    t0 = time.time()
    try:
        while c.info("stats").get("index_rehashing", "0") != "0":
            if time.time() - t0 > limit:
                raise RuntimeError("compactd: index still rehashing after %.0f s" % limit)
            time.sleep(0.2)
    finally:
        c.close()
    return time.time() - t0


def settled_rss(srv, limit=5.0):
    """RSS once two samples 0.5 s apart agree within 256 KiB (or after limit seconds)."""
    last = srv.rss()
    end = time.time() + limit
    while time.time() < end:
        time.sleep(0.5)
        now = srv.rss()
        if abs(now - last) <= 256 * 1024:
            return now
        last = now
    return last


def allocator_view(srv):
    if srv.kind == "memcached":
        c = B.Memcache(srv.port)
        st = c.stats()
        c.close()
        return {"bytes": int(st["bytes"]), "total_malloced": int(st.get("total_malloced", 0))}
    c = B.Resp(srv.port)
    info = c.info("memory")
    c.close()
    return {"used_memory": int(info["used_memory"])}


def main():
    binary, tag, log, emit = B.begin("overhead")
    scales = [int(x) for x in os.environ.get("N", "1000000" if B.quick() else SCALES).split(",")]
    wanted = B.wanted_servers()
    log("overhead: %s mode, N = %s keys, 16-byte keys, 32-byte values" % (
        "QUICK" if B.quick() else "full", ", ".join("%d" % n for n in scales)))
    raw = []
    for n in scales:
        raw += measure(binary, tag, log, emit, wanted, n)
    with open(os.path.join(B.OUT, tag + ".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=sorted({k for r in raw for k in r},
                                                key=lambda k: (k not in ("server", "n"), k)))
        w.writeheader()
        w.writerows(raw)
    for n in scales:
        report(log, n, [r for r in raw if r["n"] == n])


def measure(binary, tag, log, emit, wanted, n):
    """One scale: every server freshly started, loaded with n keys."""
    raw = []
    with B.Servers(emit) as servers:
        for name in wanted:
            srv = B.start_named(servers, name, binary, tag, mem_mb=B.memcached_mb(n * 48), log=log)
            if srv is None:
                continue
            time.sleep(0.5)
            empty = srv.rss()
            a0 = allocator_view(srv)
            t = time.time()
            (load_memcached if srv.kind == "memcached" else load_resp)(srv, n)
            secs = time.time() - t
            rehash = rehash_done(srv)
            full = settled_rss(srv)
            a1 = allocator_view(srv)
            evictions = B.mc_evictions(srv) if srv.kind == "memcached" else 0
            srv.stop()
            if evictions:
                raise RuntimeError("memcached evicted %d keys: its -m is too small" % evictions)
            per = (full - empty) / n - 48
            k = "bytes" if srv.kind == "memcached" else "used_memory"
            alloc_per = (a1[k] - a0[k]) / n - 48
            rec = dict(server=name, n=n, load_seconds=round(secs, 2),
                       rehash_wait_seconds=round(rehash, 1), rss_empty=empty,
                       rss_loaded=full, overhead_rss=round(per, 2), alloc_field=k,
                       alloc_before=a0[k], alloc_after=a1[k], overhead_alloc=round(alloc_per, 2))
            if srv.kind == "memcached":
                rec["total_malloced"] = a1["total_malloced"]
            raw.append(rec)
            judged = name == "compactd" and n == TARGET_N
            emit("result", **rec, target=TARGET if judged else None,
                 met=per <= TARGET if judged else None)
            log("  %s loaded %d keys in %.1f s" % (name, n, secs))
    return raw


def report(log, n, raw):
    rows = [[r["server"], "%.1f" % r["load_seconds"], "%.1f" % B.mib(r["rss_empty"]),
             "%.1f" % B.mib(r["rss_loaded"]), "%.1f" % r["overhead_rss"],
             "%s %.1f" % (r["alloc_field"], r["overhead_alloc"])] for r in raw]
    log("")
    log("overhead per entry = (RSS loaded - RSS empty) / N - 48   (N = %d)" % n)
    log(B.fmt_table(["server", "load s", "RSS empty MiB", "RSS loaded MiB", "overhead B/entry",
                     "allocator's view B/entry"], rows))
    by = {r["server"]: r for r in raw}
    if "compactd" in by:
        o = by["compactd"]["overhead_rss"]
        if n == TARGET_N:
            log("issue 12 target (<= %d B/entry at N = %d): %s (compactd %.1f B/entry)" % (
                TARGET, TARGET_N, "MET" if o <= TARGET else "NOT met", o))
        for other in by:
            if other != "compactd":
                log("compactd vs %s: %.1f vs %.1f B/entry (total RSS growth ratio %.2f)" % (
                    other, o, by[other]["overhead_rss"],
                    (by["compactd"]["rss_loaded"] - by["compactd"]["rss_empty"]) /
                    (by[other]["rss_loaded"] - by[other]["rss_empty"])))


if __name__ == "__main__":
    B.run(main)
