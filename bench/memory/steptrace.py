"""bench/memory/steptrace.py: how much of each long compaction step compactd's
thread actually ran (latency.py, STEP_TRACE=1; needs perf and root).

A step's wall time, and even its thread CPU time, also holds what the
machine did instead: on this VM the vCPU is at times not running guest code
for milliseconds, and the guest's clocks (hence CLOCK_THREAD_CPUTIME_ID)
go on counting, since it reports no steal time. perf tells the two apart:
uprobes on the entry and return of ks_compact_step give each step's exact
bounds, and the software cpu-clock event samples the thread every
PERIOD_US of the time it runs. A sample needs the vCPU to run guest code,
so a step holds about ran/PERIOD_US samples plus one per stop; a stop or a
preemption is a gap between samples. For each step over the target the
trace gives its samples: samples x PERIOD_US, an estimate that only errs
high (the sample that ends a gap counts a whole period), is how long the
thread ran.

The sampling and the two probe hits per step cost time of their own (the
probes are traps), so a traced run is a diagnosis of the steps, not a
latency measurement: latency.py says so beside its p99 figures.
"""
import os
import re
import shutil
import signal
import subprocess

PERIOD_US = 100            # a cpu-clock sample per 100 us of the thread's running time
GROUP = "compactd_step"    # the uprobes' event group, removed afterwards
EVENT = re.compile(r"^\s*(\d+)\s+([\d.]+):\s+(\S+?):?\s*$")


def available():
    """Why a trace cannot run here, or None."""
    if shutil.which("perf") is None:
        return "perf is not installed"
    if os.geteuid() != 0:
        return "uprobes need root"
    return None


def _perf(*args, **kw):
    return subprocess.run(["perf"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=120, **kw)


class StepTrace:
    def __init__(self, binary, pid, path):
        self.binary, self.pid, self.path = os.path.abspath(binary), pid, path
        self.proc = None

    def start(self):
        self._remove_probes()
        try:
            self._record()
        except BaseException:
            self._remove_probes()
            raise
        return self

    def _record(self):
        for spec in ("%s:entry=ks_compact_step" % GROUP, "%s:exit=ks_compact_step%%return" % GROUP):
            r = _perf("probe", "-q", "-x", self.binary, "-a", spec)
            if r.returncode != 0:
                raise RuntimeError("perf probe %s: %s" % (spec, r.stderr.decode()[-300:]))
        # perf names a return probe itself (exit__return here): take the names it lists
        listed = _perf("probe", "-l").stdout.decode()
        events = re.findall(r"^\s*(%s:\S+)" % GROUP, listed, re.M)
        if len(events) != 2:
            raise RuntimeError("perf probe -l lists %s" % events)
        self.proc = subprocess.Popen(
            ["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-e", "cpu-clock/period=%d/" %
             (PERIOD_US * 1000)] + [a for ev in events for a in ("-e", ev)] +
            ["-p", str(self.pid), "-o", self.path],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return   # recording
        raise RuntimeError("perf record: %s" % self.proc.stderr.read().decode()[-300:])

    def _remove_probes(self):
        _perf("probe", "-q", "-d", GROUP + ":*")

    def finish(self, target_us):
        """Stops the recording and returns the steps' figures (see steps())."""
        try:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=120)
        finally:
            self._remove_probes()
        r = _perf("script", "-i", self.path, "-F", "tid,time,event", "--ns")
        return steps(r.stdout.decode(errors="replace").splitlines(), self.pid, target_us)


def steps(lines, tid, target_us):
    """From perf script lines of the thread tid: every step's wall time,
    samples and longest gap between samples (or step bounds), and of the
    steps over target_us of wall time, how many ran over target_us by
    their samples."""
    out = []
    t0 = None
    samples = []
    for line in lines:
        m = EVENT.match(line)
        if not m or int(m.group(1)) != tid:
            continue
        t, ev = float(m.group(2)) * 1e6, m.group(3)
        if ev.endswith(":entry"):
            t0, samples = t, []
        elif "exit" in ev and t0 is not None:
            marks = [t0] + samples + [t]
            out.append(dict(wall_us=t - t0, samples=len(samples),
                            gap_us=max(b - a for a, b in zip(marks, marks[1:]))))
            t0 = None
        elif ev.startswith("cpu-clock") and t0 is not None:
            samples.append(t)
    long = [s for s in out if s["wall_us"] > target_us]
    ran_long = [s for s in long if s["samples"] * PERIOD_US > target_us]
    return dict(steps=len(out), period_us=PERIOD_US, over_wall=len(long), ran_over=len(ran_long),
                longest_wall_us=max((s["wall_us"] for s in out), default=0),
                most_ran_us=max((s["samples"] * PERIOD_US for s in out), default=0),
                long_steps=sorted(long, key=lambda s: -s["wall_us"]))
