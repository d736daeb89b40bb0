#!/usr/bin/python3
"""bench/census.py: the live census against what a Redis user has today.

For each scale (keys), both servers get the same data: keys "<prefix>:<n>"
under 100 prefixes of skewed popularity, values of 16 to 80 bytes, a fifth
of them with a TTL of an hour. Then, side by side in one run:

  * compactd: CENSUS START on the admin port, alone: wall time, the walk's
    CPU (CENSUS STATUS cpu_us, and the server's CPU from /proc), the
    longest slice, and the memory the census holds (bounded by TOP, not by
    the key count);
  * redis-server: `redis-cli --memkeys`, the closest tool Redis has (a SCAN
    with MEMORY USAGE per key, from outside, sampling by key, no prefixes
    and no TTL or pinning figures): wall time and the server's and the
    client's CPU;
  * the p99 latency of a concurrent redis-benchmark (GET, 50 clients) on
    each server, idle and while its walk runs (walks are restarted back to
    back so that the whole benchmark overlaps one), as a ratio: idle and
    walking alternate REPEAT times and the medians are compared, because one
    run's p99 on a shared 2-core machine moves by a third.

usage: bench/census.py [path/to/compactd]     (default build/daemon/compactd)
env:   SCALES=1000000,10000000  BENCH_N=300000 (GETs per latency run)  REPEAT=3
       QUICK=1 (SCALES=100000, BENCH_N=50000: checks that the script works)
Results also go to bench/out/census-<time>.csv.
"""

import csv
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPACTD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/daemon/compactd")
QUICK = os.environ.get("QUICK") == "1"
SCALES = [int(x) for x in os.environ.get(
    "SCALES", "100000" if QUICK else "1000000,10000000").split(",")]
BENCH_N = int(os.environ.get("BENCH_N", "50000" if QUICK else "300000"))
REPEAT = int(os.environ.get("REPEAT", "1" if QUICK else "3"))
HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1]) * 1024
    return 0


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + list(args), check=True,
                          capture_output=True, text=True).stdout


def wait_ready(port):
    for _ in range(200):
        try:
            if cli(port, "PING").strip() == "PONG":
                return
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.05)
    raise SystemExit("server on %d did not start" % port)


def load(port, n):
    """n SETs through redis-cli --pipe, generated as they are sent."""
    rng = random.Random(42)
    weights = [1.0 / (i + 1) for i in range(100)]
    prefixes = ["p%02d" % i for i in range(100)]
    p = subprocess.Popen(["redis-cli", "-p", str(port), "--pipe"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)
    batch = []
    picks = rng.choices(prefixes, weights, k=n)
    for i in range(n):
        k = "%s:%d" % (picks[i], i)
        v = "v" * (16 + i % 65)
        if i % 5 == 0:
            batch.append("*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$4\r\n3600\r\n"
                         % (len(k), k, len(v), v))
        else:
            batch.append("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
        if len(batch) == 10000:
            p.stdin.write("".join(batch).encode())
            batch = []
    p.stdin.write("".join(batch).encode())
    p.stdin.close()
    if p.wait() != 0:
        raise SystemExit("redis-cli --pipe failed")


def p99(port, bench_n):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "get", "-n", str(bench_n),
                          "-c", "50", "-r", "1000000", "--csv"], check=True, capture_output=True,
                         text=True).stdout
    rows = list(csv.reader(out.strip().splitlines()))
    head, vals = rows[0], rows[1]
    return float(vals[head.index("p99_latency_ms")]), float(vals[head.index("rps")])


class Admin:
    """One connection to the admin port (a process per poll would itself
    load the 2-core machine and skew the latency figures)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        head = self.f.readline()
        if head[:1] == b"$":
            body = self.f.read(int(head[1:]) + 2)[:-2]
            return body.decode()
        if head[:1] == b"-":
            raise RuntimeError(head.decode().strip())
        return head[1:].decode().strip()

    def status(self):
        return dict(ln.split(":", 1) for ln in self.cmd("CENSUS STATUS").split() if ":" in ln)


def census_once(adm):
    adm.cmd("CENSUS START")
    while adm.status()["running"] == "1":
        time.sleep(0.05)
    return adm.status()


def memkeys_once(port):
    t0 = time.monotonic()
    p = subprocess.Popen(["redis-cli", "-p", str(port), "--memkeys"], stdout=subprocess.DEVNULL)
    ru = os.wait4(p.pid, 0)[2]
    return time.monotonic() - t0, ru.ru_utime + ru.ru_stime


def under_load(port, start_walk, walk_running, end_walk):
    """The p99 of the benchmark while walks run back to back; the walk
    under way is ended with the benchmark."""
    stop = threading.Event()

    def walker():
        while not stop.is_set():
            start_walk()
            while walk_running() and not stop.is_set():
                time.sleep(0.05)

    t = threading.Thread(target=walker)
    t.start()
    time.sleep(0.2)
    try:
        return p99(port, BENCH_N)
    finally:
        stop.set()
        t.join()
        end_walk()


def main():
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if not shutil.which(tool):
            raise SystemExit("%s not found (apt-get install redis-server redis-tools)" % tool)
    os.makedirs(os.path.join(ROOT, "bench/out"), exist_ok=True)
    out_csv = os.path.join(ROOT, "bench/out", time.strftime("census-%Y%m%dT%H%M%SZ.csv",
                                                             time.gmtime()))
    rows = []
    print("machine: %d CPUs, load %.2f; compactd %s" % (os.cpu_count(), os.getloadavg()[0],
                                                        COMPACTD))
    for n in SCALES:
        cport, aport, rport = free_port(), free_port(), free_port()
        procs = [
            subprocess.Popen([COMPACTD, "--port", str(cport), "--bind", "127.0.0.1",
                              "--admin-port", str(aport), "--admin-bind", "127.0.0.1",
                              "--compact-auto", "no"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL),
            subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL),
        ]
        try:
            wait_ready(cport)
            wait_ready(rport)
            t0 = time.monotonic()
            load(cport, n)
            load(rport, n)
            print("\n== %d keys (loaded both in %.0f s): compactd RSS %.0f MiB, redis RSS %.0f MiB"
                  % (n, time.monotonic() - t0, rss(procs[0].pid) / 2**20, rss(procs[1].pid) / 2**20))

            # the walks alone
            c0, r0 = rss(procs[0].pid), cpu_s(procs[0].pid)
            adm = Admin(aport)
            st = census_once(adm)
            c_cpu = cpu_s(procs[0].pid) - r0
            c_wall = (int(st["finished_ms"]) - int(st["started_ms"])) / 1000
            c_rss = rss(procs[0].pid) - c0
            r_cpu0 = cpu_s(procs[1].pid)
            m_wall, m_client = memkeys_once(rport)
            m_server = cpu_s(procs[1].pid) - r_cpu0
            print("walk          compactd CENSUS            redis-cli --memkeys")
            print("wall          %8.2f s                %8.2f s      (ratio %.2f)"
                  % (c_wall, m_wall, c_wall / m_wall))
            print("server CPU    %8.2f s (walk %.2f s)    %8.2f s" % (c_cpu, int(st["cpu_us"]) / 1e6,
                                                                    m_server))
            print("client CPU    %8s                  %8.2f s" % ("0", m_client))
            print("longest slice %8.3f ms" % (int(st["max_step_us"]) / 1000))
            print("census memory %8d B (RSS change %+d KiB), %s groups"
                  % (int(st["census_memory"]), c_rss // 1024, st["groups"]))

            # latency: idle and during walks, alternating, medians
            mk = {}

            def start_mk():
                mk["p"] = subprocess.Popen(["redis-cli", "-p", str(rport), "--memkeys"],
                                           stdout=subprocess.DEVNULL)
            runs = {"ci": [], "cb": [], "ri": [], "rb": []}
            for _ in range(REPEAT):
                runs["ci"].append(p99(cport, BENCH_N))
                runs["cb"].append(under_load(cport, lambda: adm.cmd("CENSUS START"),
                                             lambda: adm.status()["running"] == "1",
                                             lambda: adm.cmd("CENSUS ABORT")))
                runs["ri"].append(p99(rport, BENCH_N))
                runs["rb"].append(under_load(rport, start_mk, lambda: mk["p"].poll() is None,
                                             lambda: (mk["p"].terminate(), mk["p"].wait())))
            med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
                   for k, v in runs.items()}
            (c_idle, c_idle_rps), (c_busy, c_busy_rps) = med["ci"], med["cb"]
            (r_idle, r_idle_rps), (r_busy, r_busy_rps) = med["ri"], med["rb"]
            print("p99 runs (ms): compactd idle %s walking %s; redis idle %s walking %s"
                  % tuple(" ".join("%.3f" % x[0] for x in runs[k]) for k in ("ci", "cb", "ri", "rb")))
            print("GET p99 (median of %d)" % REPEAT)
            print("  compactd    idle %.3f ms, walking %.3f ms (x%.2f; %.0f -> %.0f ops/s)"
                  % (c_idle, c_busy, c_busy / c_idle, c_idle_rps, c_busy_rps))
            print("  redis       idle %.3f ms, walking %.3f ms (x%.2f; %.0f -> %.0f ops/s)"
                  % (r_idle, r_busy, r_busy / r_idle, r_idle_rps, r_busy_rps))
            rows.append([n, c_wall, c_cpu, int(st["cpu_us"]) / 1e6, int(st["max_step_us"]),
                         int(st["census_memory"]), m_wall, m_server, m_client, c_idle, c_busy,
                         r_idle, r_busy])
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait()
    with open(out_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["keys", "census_wall_s", "compactd_cpu_s", "census_walk_cpu_s",
                    "census_max_slice_us", "census_memory_b", "memkeys_wall_s",
                    "memkeys_server_cpu_s", "memkeys_client_cpu_s", "compactd_p99_idle_ms",
                    "compactd_p99_census_ms", "redis_p99_idle_ms", "redis_p99_memkeys_ms"])
        w.writerows(rows)
    print("\nwrote", out_csv)


if __name__ == "__main__":
    main()
