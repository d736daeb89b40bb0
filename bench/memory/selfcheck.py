#!/usr/bin/python3
"""bench/memory/selfcheck.py: checks the memory benchmarks themselves, from the
JSON lines of one run_all.sh run (run_all.sh --self-check runs both).

It judges the instrument, not compactd: issue 12's targets may be missed and
the check still passes. It fails when an experiment is missing a server or a
figure; when a figure is physically impossible (RSS above empty below the live
bytes it holds, which means the wrong process or page count was read); when a
sample was not taken when its label says; when a key read back wrong, a
deleted key came back or memcached evicted (the comparison would then be
unfair); when the latency run never overlapped a compaction; or when a server
a script started is still running.

usage: bench/memory/selfcheck.py RUN.jsonl
env:   SERVERS (as given to the run; default compactd,redis,memcached)
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

LOW, HIGH = 0.9, 20.0      # plausible RSS above empty / live: data must be resident
SLACK = 1.5                # seconds a sample may come after its label's time


class Check:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def __call__(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
        return ok


def by_kind(recs, experiment, kind):
    return [r for r in recs if r["experiment"] == experiment and r["kind"] == kind]


def check_samples(ck, where, samples):
    for s in samples:
        lab = s["label"]
        if lab.startswith("+"):
            due = float(lab[1:])
            ck(due <= s["t"] <= due + SLACK, "%s: sample %s taken at %.2f s" % (where, lab, s["t"]))
        ck(s["x_live"] is not None and LOW <= s["x_live"] <= HIGH,
           "%s %s: RSS above empty / live = %s" % (where, lab, s["x_live"]))


def check_result(ck, where, r):
    ck(r["live"] > 0, "%s: no live bytes" % where)
    ck(r["checked"] > 0 and r["bad"] == 0, "%s: %d of %d keys read back wrong" % (
        where, r["bad"], r["checked"]))
    ck(r["resurrected"] == 0, "%s: %d deleted keys came back" % (where, r["resurrected"]))
    ck(r.get("evictions", 0) == 0, "%s: memcached evicted %s keys" % (where, r.get("evictions")))
    if r["server"] == "compactd":
        for k in ("bytes_moved", "arenas_released", "max_step_us", "returned_bytes"):
            ck(k in r["compaction"], "%s: compaction figure %s not read" % (where, k))


def check_rss_runs(ck, recs, experiment, group, names):
    results = by_kind(recs, experiment, "result")
    samples = by_kind(recs, experiment, "sample")
    ck(results, "%s: no results" % experiment)
    for g in sorted({tuple(r[k] for k in group) for r in results}):
        where = "%s %s" % (experiment, "/".join(map(str, g)))
        for n in names:
            rs = [r for r in results if tuple(r[k] for k in group) == g and r["server"] == n]
            if not ck(len(rs) == 1, "%s: %d results for %s" % (where, len(rs), n)):
                continue
            check_result(ck, "%s %s" % (where, n), rs[0])
            ss = [s for s in samples if tuple(s[k] for k in group) == g and s["server"] == n]
            ck(len(ss) >= 3, "%s %s: %d samples" % (where, n, len(ss)))
            check_samples(ck, "%s %s" % (where, n), ss)


def check_overhead(ck, recs, names):
    rs = {r["server"]: r for r in by_kind(recs, "overhead", "result")}
    for n in names:
        if ck(n in rs, "overhead: no result for %s" % n):
            ck(0 < rs[n]["overhead_rss"] < 1000, "overhead %s: %s B/entry" % (
                n, rs[n]["overhead_rss"]))


def check_latency(ck, recs):
    res = by_kind(recs, "latency", "result")
    if not ck(len(res) == 1, "latency: %d results" % len(res)):
        return
    r = res[0]
    for t in ("set", "get"):
        x = r["tests"].get(t, {})
        ck(x.get("idle_p99_latency_ms", 0) > 0 and x.get("during_p99_latency_ms", 0) > 0,
           "latency %s: no p99" % t)
        h = x.get("idle_halves_p99_ms") or []
        ck(len(h) == 2 and min(h) > 0, "latency %s: no control (idle halves' p99s)" % t)
    ck("max_step_us" in r["compaction"], "latency: longest step not read")
    ck(r.get("quiet", {}).get("steps", 0) > 0, "latency: the quiet cycle ran no step")
    ld = r.get("loaded_steps", {})
    ck(ld.get("steps", 0) > 0 and 0 <= ld.get("long_steps_cpu", -1) <= ld.get("steps", 0) and
       0 <= ld.get("long_steps", -1) <= ld["steps"], "latency: steps under load not counted")
    tr = r.get("step_trace")
    if tr:   # STEP_TRACE=1: the uprobes must have seen every step compactd counted
        ck(tr["steps"] == r["compaction"].get("steps"), "latency: perf traced %s steps, compactd "
           "counted %s" % (tr["steps"], r["compaction"].get("steps")))
    during = [x for x in by_kind(recs, "latency", "run") if x["phase"] == "during"]
    ck(any(x["compact_running_frac"] > 0 for x in during),
       "latency: no 'during' run overlapped a compaction")


def check_ttl(ck, recs, names):
    rs = by_kind(recs, "ttl", "result")
    for n in names:
        mine = [r for r in rs if r["server"].startswith(n)]
        if ck(mine, "ttl: no result for %s" % n):
            for r in mine:
                ck(0 <= r["freed_at_last_plus_2"] <= 1, "ttl %s: freed fraction %s" % (
                    r["server"], r["freed_at_last_plus_2"]))


def check_stopped(ck, recs):
    for rec in [r for r in recs if r["kind"] == "servers"]:
        for s in rec["servers"]:
            ck(s["returncode"] is not None, "%s pid %d was not reaped" % (s["name"], s["pid"]))
            try:
                with open("/proc/%d/cmdline" % s["pid"], "rb") as f:
                    argv0 = f.read().split(b"\0")[0].decode(errors="replace")
            except OSError:
                argv0 = None
            ck(argv0 != s["argv"][0], "%s pid %d is still running" % (s["name"], s["pid"]))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: selfcheck.py RUN.jsonl")
    with open(sys.argv[1]) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    names = [n for n in B.wanted_servers() if n != "redis-defrag"]
    ck = Check()
    for e in ("fragment", "churn", "overhead", "latency", "ttl"):
        ck(by_kind(recs, e, "result"), "%s: no results at all" % e)
    check_rss_runs(ck, recs, "fragment", ("order", "scale_mib"), names)
    check_rss_runs(ck, recs, "churn", ("workload", "scale_mib"), names)
    check_overhead(ck, recs, names)
    check_latency(ck, recs)
    check_ttl(ck, recs, names)
    check_stopped(ck, recs)
    for what in ck.failed:
        print("self-check FAILED: %s" % what)
    print("self-check: %d checks passed, %d failed (%s)" % (ck.passed, len(ck.failed), sys.argv[1]))
    sys.exit(1 if ck.failed else 0)


if __name__ == "__main__":
    main()
