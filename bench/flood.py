#!/usr/bin/python3
"""bench/flood.py: what a descriptor flood costs a server, side by side.

Each server is started under `ulimit -n 1024` (soft and hard), as a user
who never raised it would start it, with one established client. Then
1,100 more connections are opened, more than the descriptors allow, and
for FLOOD_SECONDS the script measures:

  cpu_s        the server's user+system CPU seconds during the flood
  log_bytes    what it wrote to its log meanwhile
  ping_p50/p99 the established client's PING round trip (ms)
  new_client   what a client connecting during the flood gets: "served",
               "refused" (an error reply, then closed) or "hung" (no
               answer within 2 s: it sits in the accept backlog)
  maxclients   CONFIG GET maxclients after start

A second phase floods compactd's admin port (2,000 connections) and checks
the data port still serves a new client and how PING fares; a third sends
500 cross-protocol requests (an HTTP POST whose body is `SET pwned yes`,
what a web page can make a browser send) and reports CPU, log bytes, PING
latency meanwhile and whether the key was set.

usage: bench/flood.py [compactd-binary ...]   (default build/daemon/compactd)
       env REDIS_SERVER (default redis-server), FLOOD_SECONDS (default 5)
"""
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench", "memory"))
from benchlib import free_port  # noqa: E402  (the memory benchmarks' helpers)
FLOOD = 1100
FD_LIMIT = 1024
SECONDS = float(os.environ.get("FLOOD_SECONDS", "5"))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cmd(sock, *args):
    out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    sock.sendall(out)
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
        if buf.startswith((b"+", b"-", b":")) and buf.endswith(b"\r\n"):
            return buf
        if buf.startswith(b"*") and buf.count(b"\r\n") >= 5:
            return buf


def connect(port, timeout=2.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def new_client(port):
    try:
        s = connect(port)
        try:
            rep = cmd(s, b"PING")
            return "served" if rep == b"+PONG\r\n" else "refused"
        except socket.timeout:
            return "hung"
        except ConnectionError:
            return "refused"
        finally:
            s.close()
    except OSError as e:
        return "connect failed (%s)" % e.strerror


def pings(sock, seconds):
    lat = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        cmd(sock, b"PING")
        lat.append((time.monotonic() - t) * 1000)
        time.sleep(0.01)
    lat.sort()
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def start(name, argv, port, log):
    shell = "ulimit -n %d && exec %s" % (FD_LIMIT, " ".join("'%s'" % a for a in argv))
    p = subprocess.Popen(["sh", "-c", shell], stdout=log, stderr=log)
    for _ in range(100):
        try:
            connect(port).close()
            return p
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not start" % name)


def run(name, argv, port, log_path, admin_port=None):
    with open(log_path, "wb") as log:
        p = start(name, argv, port, log)
    try:
        c = connect(port, timeout=10)
        rep = cmd(c, b"CONFIG", b"GET", b"maxclients")
        maxclients = rep.split(b"\r\n")[4].decode()
        flood = []
        for _ in range(FLOOD):
            try:
                flood.append(connect(port, timeout=1))
            except OSError:
                break
        time.sleep(0.5)
        log0, cpu0 = os.path.getsize(log_path), cpu_seconds(p.pid)
        p50, p99 = pings(c, SECONDS)
        cpu = cpu_seconds(p.pid) - cpu0
        logged = os.path.getsize(log_path) - log0
        fresh = new_client(port)
        print("%-22s maxclients %5s  cpu_s %6.2f  log_bytes %11d  ping_p50 %6.3f ms  "
              "ping_p99 %7.3f ms  new_client %s" % (name, maxclients, cpu, logged, p50, p99, fresh),
              flush=True)
        for s in flood:
            s.close()
        if admin_port:
            flood = []
            for _ in range(2000):
                try:
                    flood.append(connect(admin_port, timeout=1))
                except OSError:
                    break
            time.sleep(0.5)
            cpu0 = cpu_seconds(p.pid)
            p50, p99 = pings(c, SECONDS)
            cpu = cpu_seconds(p.pid) - cpu0
            print("%-22s admin flood of %d: cpu_s %6.2f  ping_p50 %6.3f ms  ping_p99 %7.3f ms  "
                  "data-port new_client %s" % (name, len(flood), cpu, p50, p99, new_client(port)),
                  flush=True)
            for s in flood:
                s.close()
        log0, cpu0 = os.path.getsize(log_path), cpu_seconds(p.pid)
        t = time.monotonic()
        post = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                b"Content-Length: 15\r\n\r\nSET pwned yes\r\n")
        lat = []
        for i in range(500):
            s = connect(port)
            s.sendall(post)
            s.settimeout(0.02)   # a server that keeps the connection open answers nothing more
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
            s.close()
            if i % 5 == 0:
                t0 = time.monotonic()
                cmd(c, b"PING")
                lat.append((time.monotonic() - t0) * 1000)
        lat.sort()
        pwned = cmd(c, b"EXISTS", b"pwned").strip()
        print("%-22s 500 POSTs in %.1f s: cpu_s %6.2f  log_bytes %9d  ping_p50 %6.3f ms  "
              "ping_p99 %7.3f ms  pwned set: %s" % (name, time.monotonic() - t,
              cpu_seconds(p.pid) - cpu0, os.path.getsize(log_path) - log0,
              lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))],
              "yes" if pwned == b":1" else "no"), flush=True)
        c.close()
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))   # the flood's own sockets
    bins = sys.argv[1:] or [os.path.join(ROOT, "build/daemon/compactd")]
    tmp = tempfile.mkdtemp(prefix="flood-")
    for b in bins:
        port, aport = free_port(), free_port()
        run("compactd " + os.path.basename(b)[:13], [b, "--port", str(port), "--admin-port",
            str(aport), "--logfile", os.path.join(tmp, "c.log")], port,
            os.path.join(tmp, "c.log"), admin_port=aport)
    port = free_port()
    redis = os.environ.get("REDIS_SERVER", "redis-server")
    run("redis-server", [redis, "--port", str(port), "--save", "", "--appendonly", "no",
        "--logfile", os.path.join(tmp, "r.log")], port, os.path.join(tmp, "r.log"))


if __name__ == "__main__":
    main()
