#!/usr/bin/python3
"""bench/memory/fragment.py: RSS after a fragmenting workload (issue 3(b), issue 4 section 6).

The workload, from the issues: for i in 1..99, write COUNT values of 16*i
bytes, then delete every other one of them; then delete everything. It leaves
every size class half empty, which is the worst case for an allocator that
cannot move live data: the memory is free but scattered, so it cannot be
returned. It runs against compactd, redis-server (activedefrag no),
redis-server with activedefrag yes (skipped, with the reason printed, when the
redis-server refuses it: Debian 12's redis 7.0 links the system jemalloc, not
Redis's patched copy, and refuses "activedefrag yes") and memcached,
one server at a time so they do not compete for the 2 cores or for memory.

For each server RSS is read from /proc/PID/statm (the same way for all) and
"live" is the sum of key+value bytes the script knows are still stored. The
samples: empty, the peak seen during the loop, right after the loop (every
other key deleted), then every second for SETTLE seconds (automatic
compaction or active defrag get their chance), then after deleting all keys
(at once and 2 s later). Before deleting, every remaining key is read back and
compared byte for byte with what was written (values are derived from their
key). ORDER=loop (default) follows the issue's loop literally, deleting each
size's odd keys right after writing them, and reports the peak RSS seen during
the loop; ORDER=phased writes all 99 sizes first (sample "filled"), then
deletes every other key of every size. compactd's figures are with automatic compaction when the binary has it
(CONFIG GET compact-* answers and an admin port answers COMPACT STATUS); the
header says which.

usage: bench/memory/fragment.py [path/to/compactd]   (default build/daemon/compactd)
env:   QUICK=1 (about 100 MB written instead of about 1 GiB, shorter settling)
       TOTAL_MB=<n> SETTLE=<s> SERVERS=compactd,redis,redis-defrag,memcached
       ORDER=loop|phased
       MANUAL_COMPACT=1 (also send COMPACT ASYNC on compactd's admin port after the loop)
Raw samples go to bench/out/fragment-<time>.csv and the table to fragment-<time>.txt.
"""
import csv
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

SIZES = list(range(1, 100))           # value sizes are 16*i bytes
KEYLEN = len(b"f:00:0000000")


def key(i, j):
    return b"f:%02d:%07d" % (i, j)


def plan():
    total = int(os.environ.get("TOTAL_MB", "100" if B.quick() else "1024")) * B.MIB
    per_round = sum(16 * i + KEYLEN for i in SIZES)
    return max(2, total // per_round)


class Client:
    """The same operations over RESP or memcached's text protocol."""

    def __init__(self, srv):
        self.srv = srv
        self.c = srv.connect()
        self.mc = srv.kind == "memcached"

    def write(self, pairs):
        for lo in range(0, len(pairs), 500):
            self.c.set_many(pairs[lo:lo + 500])

    def delete(self, keys):
        return sum(self.c.delete_many(keys[lo:lo + 1000]) for lo in range(0, len(keys), 1000))

    def read(self, keys):
        out = {}
        for lo in range(0, len(keys), 500):
            out.update(self.c.get_many(keys[lo:lo + 500]))
        return out

    def extra(self):
        """Server-side figures worth keeping next to RSS."""
        if self.mc:
            st = self.c.stats()
            return {"bytes": st.get("bytes"), "curr_items": st.get("curr_items"),
                    "total_malloced": st.get("total_malloced")}
        info = self.c.info()
        d = {k: info.get(k) for k in ("used_memory", "allocator_mapped", "mem_fragmentation_ratio",
                                        "active_defrag_running", "active_defrag_hits",
                                        "allocator_frag_ratio")}
        if self.srv.kind == "compactd":
            st = B.compact_status(self.srv)
            for k in ("running", "arenas_released", "bytes_moved", "blocks_moved", "runs"):
                v = B.pick(st, *k.split("_"))
                if v is not None:
                    d["compact_" + k] = v
        return d


def run_server(srv, count, settle, manual, order):
    cl = Client(srv)
    samples = []
    t0 = time.time()

    def sample(phase, live):
        rss = srv.rss()
        ex = cl.extra()
        samples.append(dict(server=srv.name, phase=phase, t=round(time.time() - t0, 2), rss=rss,
                            live=live, **{k: v for k, v in ex.items() if v is not None}))
        return rss

    time.sleep(0.5)
    sample("empty", 0)
    live = 0
    written = 0
    peak = (0, 0)

    def delete_odd(i):
        keys = [key(i, j) for j in range(1, count, 2)]
        n = cl.delete(keys)
        if n != len(keys):
            raise RuntimeError("%s: deleted %d of %d keys" % (srv.name, n, len(keys)))
        return len(keys) * (KEYLEN + 16 * i)

    for i in SIZES:
        size = 16 * i
        cl.write([(key(i, j), B.key_value(key(i, j), size)) for j in range(count)])
        written += count * (KEYLEN + size)
        live += count * (KEYLEN + size)
        rss = srv.rss()
        if rss > peak[0]:
            peak = (rss, live)
        if order == "loop":
            live -= delete_odd(i)
    if order == "loop":
        samples.append(dict(server=srv.name, phase="peak", t=round(time.time() - t0, 2),
                            rss=peak[0], live=peak[1]))
    else:
        sample("filled", live)
        for i in SIZES:
            live -= delete_odd(i)
    if manual and srv.kind == "compactd" and srv.admin_port:
        try:
            B.admin_call(srv, "COMPACT", "ASYNC")
        except B.RespError as e:   # e.g. one is already running
            print("COMPACT ASYNC: %s" % e)
    t_half = time.time()
    sample("half+0", live)
    for s in range(1, settle + 1):
        time.sleep(max(0.0, t_half + s - time.time()))
        sample("half+%d" % s, live)

    # Read every remaining key back and compare it with what was written.
    remaining = [key(i, j) for i in SIZES for j in range(0, count, 2)]
    got = cl.read(remaining)
    bad = sum(1 for i in SIZES for j in range(0, count, 2)
              if got.get(key(i, j)) != B.key_value(key(i, j), 16 * i))
    gone = [key(i, j) for i in (1, 50, 99) for j in range(1, min(count, 200), 2)]
    resurrected = len(cl.read(gone))

    cl.delete(remaining)
    sample("deleted+0", 0)
    time.sleep(2)
    sample("deleted+2", 0)
    cl.c.close()
    return samples, dict(written=written, live=live, checked=len(remaining), bad=bad,
                         resurrected=resurrected)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(B.ROOT, "build", "daemon", "compactd")
    if not os.access(binary, os.X_OK):
        sys.exit("fragment.py: no compactd at %s (build it first)" % binary)
    settle = int(os.environ.get("SETTLE", "8" if B.quick() else "15"))
    manual = os.environ.get("MANUAL_COMPACT", "0") == "1"
    order = os.environ.get("ORDER", "loop")
    if order not in ("loop", "phased"):
        sys.exit("ORDER is loop or phased")
    wanted = os.environ.get("SERVERS", "compactd,redis,redis-defrag,memcached").split(",")
    count = plan()
    os.makedirs(B.OUT, exist_ok=True)
    tag = "fragment-" + B.stamp()
    log = B.tee(os.path.join(B.OUT, tag + ".txt"))
    log("fragment: %s mode, %d values per size x 99 sizes (16..1584 B), %.0f MiB written, "
        "settle %d s, order %s" % ("QUICK" if B.quick() else "full", count, B.mib(count * sum(
            16 * i + KEYLEN for i in SIZES)), settle, order))

    all_samples, results, skipped = [], {}, []
    with B.Servers() as servers:
        for name in wanted:
            if name == "compactd":
                srv = B.start_compactd(servers, binary, tag)
                log("compactd: %s" % B.describe_compaction(B.compaction_support(srv))[1])
            elif name == "redis":
                srv = B.start_redis(servers, tag, "redis", ["--activedefrag", "no"])
            elif name == "redis-defrag":
                extra = ["--activedefrag", "yes"]
                if B.quick():  # the default 100mb ignore threshold exceeds QUICK's whole heap
                    extra += ["--active-defrag-ignore-bytes", "8mb"]
                try:
                    srv = B.start_redis(servers, tag, "redis-defrag", extra)
                except RuntimeError as e:
                    why = B.start_failure(e)
                    log("redis-defrag: SKIPPED, redis-server refuses activedefrag yes: %s" % why)
                    skipped.append(name)
                    continue
                c = srv.connect()
                mi = c.info("memory")
                log("redis-defrag: mem_allocator=%s activedefrag=%s ignore-bytes=%s" % (
                    mi.get("mem_allocator"), c.config_get("activedefrag"),
                    c.config_get("active-defrag-ignore-bytes")))
                c.close()
            elif name == "memcached":
                srv = B.start_memcached(servers, tag)
            else:
                sys.exit("unknown server %s" % name)
            t = time.time()
            samples, res = run_server(srv, count, settle, manual, order)
            res["seconds"] = time.time() - t
            srv.stop()
            all_samples += samples
            results[name] = res
            log("  %s done in %.1f s: %d keys read back, %d wrong or missing, %d deleted keys found"
                % (name, res["seconds"], res["checked"], res["bad"], res["resurrected"]))

    wanted = [n for n in wanted if n not in skipped]
    fields = sorted({k for s in all_samples for k in s},
                    key=lambda k: (k not in ("server", "phase", "t", "rss", "live"), k))
    with open(os.path.join(B.OUT, tag + ".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(all_samples)

    by = {(s["server"], s["phase"]): s for s in all_samples}
    phases = [s["phase"] for s in all_samples if s["server"] == wanted[0]]
    headers = ["phase", "live MiB"]
    for n in wanted:
        headers += ["%s MiB" % n, "x live"]
    if "compactd" in wanted:
        for n in wanted:
            if n != "compactd":
                headers.append("cd/%s" % n)
    rows = []
    for ph in phases:
        live = by[(wanted[0], ph)]["live"]
        row = [ph, "%.1f" % B.mib(live)]
        for n in wanted:
            s = by.get((n, ph))
            row += ["%.1f" % B.mib(s["rss"]) if s else "-",
                    "%.2f" % (s["rss"] / live) if s and live else "-"]
        if "compactd" in wanted:
            for n in wanted:
                if n != "compactd":
                    a, b = by.get(("compactd", ph)), by.get((n, ph))
                    row.append("%.2f" % (a["rss"] / b["rss"]) if a and b else "-")
        rows.append(row)
    log("")
    log("RSS (MiB) and RSS / live bytes; cd/x = compactd RSS / x RSS")
    log(B.fmt_table(headers, rows))

    if "compactd" in wanted:
        cs = [s for s in all_samples if s["server"] == "compactd"]
        live = results["compactd"]["live"]
        within = [s for s in cs if s["phase"].startswith("half+")]
        t_ok = next((int(s["phase"][5:]) for s in within if s["rss"] <= 1.15 * live), None)
        s10 = by.get(("compactd", "half+10")) or within[-1]
        empty = by[("compactd", "empty")]["rss"]
        gone = by[("compactd", "deleted+2")]["rss"]
        log("")
        log("issue 4 target: compactd RSS <= 1.15 x live within 10 s of delete-half: %s "
            "(RSS/live at %s = %.2f; first <= 1.15 at %s)" % (
                "MET" if t_ok is not None and t_ok <= 10 else "NOT met", s10["phase"],
                s10["rss"] / live, "+%d s" % t_ok if t_ok is not None else "never"))
        log("remaining keys intact: %s (%d checked, %d bad)" % (
            "yes" if results["compactd"]["bad"] == 0 else "NO", results["compactd"]["checked"],
            results["compactd"]["bad"]))
        log("issue 3 target: RSS after delete-all within 8 MiB of empty: %s (empty %.1f MiB, "
            "after %.1f MiB, diff %+.1f MiB)" % ("MET" if gone - empty <= 8 * B.MIB else "NOT met",
                                                B.mib(empty), B.mib(gone), B.mib(gone - empty)))
        last = cs[-1]
        if any(k.startswith("compact_") for k in last):
            log("compaction totals at the end: %s" % {k: v for k, v in last.items()
                                                      if k.startswith("compact_")})
    log("raw samples: %s" % os.path.join(B.OUT, tag + ".csv"))


if __name__ == "__main__":
    main()
