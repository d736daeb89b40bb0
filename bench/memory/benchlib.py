"""benchlib: what the memory benchmarks share.

Starting and stopping the servers under test (compactd, Debian's redis-server,
memcached) on free loopback ports, reading a process's RSS the same way for
all of them (/proc/PID/statm, resident pages times the page size), and two
small pipelining clients that talk raw sockets: one for RESP (compactd and
redis-server) and one for memcached's text protocol. The clients send a batch
of commands, then read exactly that batch's replies, so neither side's buffers
grow without bound and nothing can deadlock; they are written here rather
than taken from redis-py so that loading ten million keys stays well under a
minute per server and memcached is driven by the same code path.

Every server is started with Popen and stopped by its PID (SIGTERM, then
SIGKILL after a grace period); Servers is a context manager so a failing
benchmark still stops what it started.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

PAGE = os.sysconf("SC_PAGE_SIZE")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "bench", "out")
MIB = 1024 * 1024


def quick():
    return os.environ.get("QUICK", "0") == "1"


def stamp():
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def free_port():
    """A port that was free a moment ago (bound then released by us)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_of(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * PAGE


def mib(n):
    return n / MIB


def _die_with_parent():
    """preexec_fn of every server: the kernel sends it SIGTERM if the benchmark
    dies without running its cleanup (SIGKILL, a crash), so no server outlives
    the script that started it."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run(main):
    """Runs a benchmark's main so that SIGTERM and SIGHUP unwind it like an
    exception: the Servers context manager then stops what it started."""
    def unwind(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, unwind)
    signal.signal(signal.SIGHUP, unwind)
    main()


class Server:
    """One server process. kind is 'compactd', 'redis' or 'memcached'.
    make_argv(port, admin_port) builds the command line, so that a start that
    loses its port to another process (free_port can only say the port was free
    a moment ago) is retried on fresh ports."""

    START_ATTEMPTS = 3

    def __init__(self, kind, name, make_argv, log_path, wants_admin=False):
        self.kind = kind
        self.name = name
        self.make_argv = make_argv
        self.wants_admin = wants_admin
        self.log_path = log_path
        self.port = self.admin_port = None
        self.argv = None
        self.proc = None
        self.log = None

    def start(self, timeout=15.0):
        for attempt in range(self.START_ATTEMPTS):
            self.port = free_port()
            self.admin_port = free_port() if self.wants_admin else None
            self.argv = self.make_argv(self.port, self.admin_port)
            try:
                return self._start_once(timeout)
            except RuntimeError:
                if attempt + 1 == self.START_ATTEMPTS or not self._lost_port():
                    raise

    def _lost_port(self):
        try:
            with open(self.log_path, errors="replace") as f:
                text = f.read().lower()
        except OSError:
            return False
        return "in use" in text or "could not bind" in text or "can't bind" in text

    def _start_once(self, timeout):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError("%s exited at start (rc %s); see %s" %
                                   (self.name, self.proc.returncode, self.log_path))
            try:
                c = self.connect()
                if self.kind == "memcached":
                    c.version()
                else:
                    c.call("PING")
                c.close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not accept connections within %.0fs" % (self.name, timeout))

    @property
    def pid(self):
        return self.proc.pid

    def rss(self):
        return rss_of(self.proc.pid)

    def connect(self, port=None):
        if self.kind == "memcached":
            return Memcache(port or self.port)
        return Resp(port or self.port)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        finally:
            self.log.close()


def start_failure(exc):
    """The last meaningful line of a server's log after a failed start."""
    path = str(exc).rsplit("see ", 1)[-1]
    try:
        with open(path, errors="replace") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
        return lines[-1] if lines else str(exc)
    except OSError:
        return str(exc)


class Servers:
    """Context manager: every server started through it is stopped on exit, by
    its PID, whatever ends the block. With emit, it records each server's PID and
    exit status, so a self-check can confirm that none was left running."""

    def __init__(self, emit=None):
        self.all = []
        self.emit = emit

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for s in self.all:
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                print("warning: stopping %s: %s" % (s.name, e), file=sys.stderr)
        if self.emit:
            self.emit("servers", servers=[dict(name=s.name, pid=s.pid, argv=s.argv,
                                               returncode=s.proc.returncode)
                                          for s in self.all if s.proc is not None])
        return False

    def add(self, server):
        self.all.append(server)
        return server


def start_compactd(servers, binary, tag, extra=()):
    admin = compactd_has_option(binary, "admin-port")

    def argv(port, admin_port):
        a = [binary, "--port", str(port), "--bind", "127.0.0.1"]
        if admin_port:
            a += ["--admin-port", str(admin_port), "--admin-bind", "127.0.0.1"]
        # COMPACTD_ARGS, e.g. "--compact-slice-us 250", applies to every compactd started
        return a + list(extra) + os.environ.get("COMPACTD_ARGS", "").split()
    s = Server("compactd", "compactd", argv, os.path.join(OUT, "%s-compactd.log" % tag), admin)
    return servers.add(s).start()


_help_cache = {}


def compactd_help(binary):
    if binary not in _help_cache:
        r = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=10)
        _help_cache[binary] = r.stdout.decode("utf-8", "replace")
    return _help_cache[binary]


def compactd_has_option(binary, name):
    return ("--%s " % name) in compactd_help(binary)


def start_redis(servers, tag, name="redis", extra=()):
    def argv(port, _admin):
        return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no"] + list(extra)
    s = Server("redis", name, argv, os.path.join(OUT, "%s-%s.log" % (tag, name)))
    return servers.add(s).start()


def start_memcached(servers, tag, mem_mb=4096, extra=()):
    """memcached with -m mem_mb: callers size it above what they store (memcached
    evicts silently at its limit; mc_evictions checks that it did not)."""
    def argv(port, _admin):
        a = ["memcached", "-m", str(int(mem_mb)), "-U", "0", "-l", "127.0.0.1", "-p", str(port)]
        if os.geteuid() == 0:
            a += ["-u", "root"]
        return a + list(extra)
    s = Server("memcached", "memcached", argv, os.path.join(OUT, "%s-memcached.log" % tag))
    return servers.add(s).start()


def memcached_mb(written):
    """memcached's -m for a run that writes this many key+value bytes in all: its
    items carry about 50 bytes of header and slab rounding, and slabs of values
    since deleted or replaced stay with their class, so it may need several times
    what is live; -m is only a ceiling (memcached maps memory as it fills)."""
    return 64 + int(6 * written / MIB)


def mc_evictions(srv):
    c = srv.connect()
    try:
        return int(c.stats().get("evictions", 0))
    finally:
        c.close()


def wanted_servers(default="compactd,redis,memcached"):
    """SERVERS from the environment (comma-separated), in the order given."""
    names = [n for n in os.environ.get("SERVERS", default).split(",") if n]
    for n in names:
        if n not in ("compactd", "redis", "redis-defrag", "memcached"):
            sys.exit("unknown server %s (compactd, redis, redis-defrag, memcached)" % n)
    return names


def start_named(servers, name, binary, tag, mem_mb=4096, log=print):
    """Starts the server called name; returns None (after saying why) when
    redis-server refuses activedefrag, which Debian's build does."""
    if name == "compactd":
        srv = start_compactd(servers, binary, tag)
        log("compactd: %s" % describe_compaction(compaction_support(srv))[1])
        return srv
    if name == "redis":
        return start_redis(servers, tag, "redis", ["--activedefrag", "no"])
    if name == "redis-defrag":
        try:
            return start_redis(servers, tag, "redis-defrag", ["--activedefrag", "yes",
                                                              "--active-defrag-ignore-bytes", "8mb"])
        except RuntimeError as e:
            log("redis-defrag: SKIPPED, redis-server refuses activedefrag yes: %s" % start_failure(e))
            return None
    return start_memcached(servers, tag, mem_mb)


# ------------------------------------------------------- batches of requests

def write_pairs(conn, pairs, batch=500):
    """(key, value) pairs in pipelined batches (MSET, or memcached sets)."""
    for lo in range(0, len(pairs), batch):
        conn.set_many(pairs[lo:lo + batch])


def delete_keys(conn, keys, batch=1000):
    """Returns how many of keys existed."""
    return sum(conn.delete_many(keys[lo:lo + batch]) for lo in range(0, len(keys), batch))


def read_keys(conn, keys, batch=500):
    """{key: value} for the keys that exist."""
    out = {}
    for lo in range(0, len(keys), batch):
        out.update(conn.get_many(keys[lo:lo + batch]))
    return out


def check_values(conn, expected, absent=()):
    """Reads back expected ({key: value size}) and compares every byte with
    key_value; also reads absent keys, which must not be there. Returns
    (checked, wrong or missing, present though deleted)."""
    keys = list(expected)
    bad = 0
    for lo in range(0, len(keys), 500):
        part = keys[lo:lo + 500]
        got = conn.get_many(part)
        bad += sum(1 for k in part if got.get(k) != key_value(k, expected[k]))
    return len(keys), bad, len(read_keys(conn, list(absent)))


def key_value(k, size):
    """A value of size bytes derived from key k: read-back can check every
    byte without keeping a copy, and it differs for every key."""
    unit = k + b"|"
    return (unit * (size // len(unit) + 1))[:size]


# ------------------------------------------------------------- socket stream

class Stream:
    """A TCP connection with a receive buffer that both clients parse:
    CRLF-terminated lines and fixed-length payloads (followed by CRLF)."""

    def __init__(self, port, host="127.0.0.1", timeout=120.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        self.sock.close()

    def _fill(self):
        if self.pos > 1 << 20:
            del self.buf[:self.pos]
            self.pos = 0
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n + 2
        return data


# ---------------------------------------------------------------- RESP client

class RespError(Exception):
    pass


def enc(*args):
    """RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Resp(Stream):
    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if t == b"%":
            n = int(rest)
            return {self.read(): self.read() for _ in range(n)}
        if t == b"_":
            return None
        if t == b",":
            return float(rest)
        if t == b"#":
            return rest == b"t"
        if t in (b"=", b"!"):
            return self._exact(int(rest))
        raise RespError("unexpected reply type %r" % line[:20])

    def pipeline(self, payload, n):
        """Sends pre-encoded commands, returns their n replies."""
        self.sock.sendall(payload)
        return [self.read() for _ in range(n)]

    def pipeline_ok(self, payload, n):
        """Sends n commands whose replies are all +OK (or :int); fails on any error reply."""
        for r in self.pipeline(payload, n):
            if isinstance(r, RespError):
                raise r

    def call(self, *args):
        r = self.pipeline(enc(*args), 1)[0]
        if isinstance(r, RespError):
            raise r
        return r

    def info(self, section=None):
        raw = self.call("INFO", section) if section else self.call("INFO")
        return parse_kv_text(raw)

    def config_get(self, name):
        try:
            r = self.call("CONFIG", "GET", name)
        except RespError:
            return None
        if isinstance(r, dict):
            r = [x for kv in r.items() for x in kv]
        if not r:
            return None
        return r[1].decode() if isinstance(r[1], bytes) else str(r[1])

    # The batch operations of Memcache, so that a benchmark drives both
    # protocols through the same calls.
    def set_many(self, items):
        """items: list of (key, value): one MSET."""
        self.call("MSET", *[x for kv in items for x in kv])

    def delete_many(self, keys):
        """One DEL; returns how many keys it deleted."""
        return self.call("DEL", *keys)

    def get_many(self, keys):
        """One MGET; returns {key: value} for the keys that exist."""
        return {k: v for k, v in zip(keys, self.call("MGET", *keys)) if v is not None}


def parse_kv_text(raw):
    """'key:value' lines (INFO and friends) into a dict of strings."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    d = {}
    for line in raw.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            d[k.strip()] = v.strip()
    return d


def flatten_reply(r, prefix=""):
    """Any reply shape (bulk 'k:v' text, flat k/v array, map, nested) into a dict."""
    d = {}
    if isinstance(r, (bytes, str)):
        return parse_kv_text(r)
    if isinstance(r, dict):
        items = list(r.items())
    elif isinstance(r, list):
        if len(r) % 2 == 0 and all(isinstance(x, (bytes, str)) for x in r[0::2]):
            items = list(zip(r[0::2], r[1::2]))
        else:
            for i, x in enumerate(r):
                d.update(flatten_reply(x, "%s%d." % (prefix, i)))
            return d
    else:
        return {prefix.rstrip("."): r}
    for k, v in items:
        k = k.decode() if isinstance(k, bytes) else str(k)
        if isinstance(v, (list, dict)):
            d.update(flatten_reply(v, prefix + k + "."))
        else:
            d[prefix + k] = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
    return d


# ----------------------------------------------------------- memcached client

class Memcache(Stream):
    """memcached text protocol: set/delete/get in pipelined batches."""

    def version(self):
        self.sock.sendall(b"version\r\n")
        return self._line()

    def set_many(self, items, exptime=0):
        """items: list of (key bytes, value bytes). Every reply must be STORED."""
        self.set_many_ttl([(k, v, exptime) for k, v in items])

    def set_many_ttl(self, items):
        """items: list of (key, value, exptime seconds)."""
        parts = [b"set %s 0 %d %d\r\n%s\r\n" % (k, e, len(v), v) for k, v, e in items]
        self.sock.sendall(b"".join(parts))
        for _ in items:
            line = self._line()
            if line != b"STORED":
                raise RuntimeError("memcached set: %r" % line)

    def delete_many(self, keys):
        self.sock.sendall(b"".join(b"delete %s\r\n" % k for k in keys))
        deleted = 0
        for _ in keys:
            line = self._line()
            if line == b"DELETED":
                deleted += 1
            elif line != b"NOT_FOUND":
                raise RuntimeError("memcached delete: %r" % line)
        return deleted

    def get_many(self, keys):
        """Returns {key: value} for the keys that exist."""
        self.sock.sendall(b"get " + b" ".join(keys) + b"\r\n")
        out = {}
        while True:
            line = self._line()
            if line == b"END":
                return out
            parts = line.split()
            if parts[0] != b"VALUE":
                raise RuntimeError("memcached get: %r" % line)
            out[parts[1]] = self._exact(int(parts[3]))

    def stats(self):
        self.sock.sendall(b"stats\r\n")
        d = {}
        while True:
            line = self._line()
            if line == b"END":
                return d
            p = line.decode().split(" ", 2)
            if len(p) == 3:
                d[p[1]] = p[2]


# ------------------------------------------------------------ admin (compact)

def compaction_support(srv):
    """What the compactd under test offers: admin port reachable, compaction options."""
    info = {"admin": False, "options": {}}
    if srv.kind != "compactd":
        return info
    c = srv.connect()
    try:
        for opt in ("compact-*", "lifetime-segregation", "expire-*", "admin-port"):
            try:
                r = c.call("CONFIG", "GET", opt)
            except RespError:
                continue
            if isinstance(r, dict):
                r = [x for kv in r.items() for x in kv]
            for i in range(0, len(r or []) - 1, 2):
                k = r[i].decode() if isinstance(r[i], bytes) else str(r[i])
                v = r[i + 1].decode() if isinstance(r[i + 1], bytes) else str(r[i + 1])
                info["options"][k] = v
    finally:
        c.close()
    if srv.admin_port:
        try:
            a = Resp(srv.admin_port, timeout=5)
            r = a.call("COMPACT", "STATUS")
            a.close()
            info["admin"] = r is not None
        except (OSError, RespError):
            info["admin"] = False
    return info


def describe_compaction(sup):
    """(compaction usable?, one line saying what the binary offers)."""
    opts = {k: v for k, v in sup["options"].items() if k.startswith("compact")}
    if sup["admin"]:
        return True, "compaction ON (admin port answers COMPACT STATUS); options %s" % (opts or "-")
    if opts:
        return False, ("compaction OFF: options %s exist but no admin port answers COMPACT STATUS"
                       % opts)
    return False, "compaction OFF: not in this build"


def admin_call(srv, *args):
    a = Resp(srv.admin_port, timeout=30)
    try:
        return a.call(*args)
    finally:
        a.close()


def compact_status(srv):
    """COMPACT STATUS flattened into a dict (empty when there is no admin port)."""
    if not srv.admin_port:
        return {}
    try:
        return flatten_reply(admin_call(srv, "COMPACT", "STATUS"))
    except (OSError, RespError):
        return {}


def pick(d, *words):
    """The first numeric field whose name contains all the words, preferring running
    totals ('total_...') over the last run's figures ('run_...')."""
    for k, v in sorted(d.items(), key=lambda kv: ("total" not in kv[0].lower(),
                                                  "run_" in kv[0].lower())):
        kl = k.lower()
        if all(w in kl for w in words):
            try:
                return float(v)
            except (TypeError, ValueError):
                continue
    return None


def fmt_table(headers, rows):
    cols = [[str(h)] + [str(r[i]) for r in rows] for i, h in enumerate(headers)]
    widths = [max(len(x) for x in c) for c in cols]
    lines = ["  ".join(str(h).rjust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(str(x).rjust(w) for x, w in zip(r, widths)))
    return "\n".join(lines)


def tee(path):
    """Returns a print-like function writing to stdout and to path."""
    f = open(path, "w")

    def out(*a):
        s = " ".join(str(x) for x in a)
        print(s, flush=True)
        f.write(s + "\n")
        f.flush()
    return out


def compaction_figures(srv):
    """compactd's own account of compaction so far (admin port COMPACT STATUS and
    STATS): bytes moved, arenas released, the longest step, and the bytes it
    gave back to the OS, so that the CPU price can be put as bytes moved per
    byte returned. Bytes returned are taken from a field that reports them when
    the binary has one (a field named *bytes_returned*), else computed as arenas
    released x arena size; returned_source says which. Empty without an admin port."""
    if srv.kind != "compactd" or not srv.admin_port:
        return {}
    st = compact_status(srv)
    try:
        stats = flatten_reply(admin_call(srv, "STATS"))
    except (OSError, RespError):
        stats = {}
    both = dict(stats, **st)
    wall = {k: v for k, v in st.items() if "cpu" not in k}   # max_step_us, not its _cpu_ twin
    f = {"bytes_moved": pick(st, "bytes", "moved"),
         "blocks_moved": pick(st, "blocks", "moved"),
         "arenas_released": pick(st, "arenas", "released"),
         "runs": float(st["runs"]) if "runs" in st else None,
         "last_run_us": float(st["run_duration_us"]) if "run_duration_us" in st else None,
         "time_us": pick(st, "time", "us"),
         "max_step_us": pick(wall, "max", "step"),
         "max_step_cpu_us": pick(st, "max", "step", "cpu"),
         "steps": pick(st, "total", "steps"),
         "long_steps": pick(wall, "long", "steps"),
         "long_steps_cpu": pick(st, "long", "steps", "cpu"),
         "arena_size": pick(stats, "arena", "size")}
    reported = pick(both, "bytes", "returned")
    if reported is not None:
        f["returned_bytes"], f["returned_source"] = reported, "reported"
    elif f["arenas_released"] is not None and f["arena_size"]:
        f["returned_bytes"] = f["arenas_released"] * f["arena_size"]
        f["returned_source"] = "arenas_released x arena_size"
    if f.get("returned_bytes") and f["bytes_moved"] is not None:
        f["moved_per_returned"] = f["bytes_moved"] / f["returned_bytes"]
    return {k: v for k, v in f.items() if v is not None}


# --------------------------------------------------------- watching RSS settle

class Watch(threading.Thread):
    """Samples the RSS of several servers from a background thread, each at
    fixed offsets (seconds) after its own mark, the moment its last write was
    acknowledged, and then (with settle) once a second until it has settled:
    RSS within 0.2 % (at least 256 KiB) over the last settle[0] seconds and no
    compaction running, or settle[1] seconds after the mark at most.

    This lets the quiet periods of servers loaded one after another overlap,
    so that a run costs one quiet period rather than one per server. Callers
    load compactd last: its quiet period then overlaps only servers that are
    idle, and the compaction it runs is not slowed by another server's load.

    samples(key) lists dicts with label ('+N' or 'settled'), t (seconds after
    the mark, as taken), rss, and for compactd compact_running and the
    compaction totals at that moment."""

    TICK = 0.02

    def __init__(self, offsets, settle=None):
        super().__init__(daemon=True)
        self.offsets = sorted(offsets)
        self.settle = settle
        self.lock = threading.Lock()
        self.entries = {}
        self.halt = threading.Event()
        self.error = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.halt.set()
        self.join()
        return False

    def mark(self, key, srv):
        with self.lock:
            self.entries[key] = dict(srv=srv, t0=time.time(), due=list(self.offsets), trail=[],
                                     samples=[], done=False)

    def _sample(self, e, label, t):
        srv = e["srv"]
        s = dict(label=label, t=round(t, 2), rss=srv.rss())
        if srv.kind == "compactd":
            st = compact_status(srv)
            running = pick(st, "running")
            s["compact_running"] = int(running or 0)
            for name in ("bytes_moved", "arenas_released"):
                v = pick(st, *name.split("_"))
                if v is not None:
                    s["compact_" + name] = v
        return s

    def _settled(self, e, s):
        window, limit = self.settle
        e["trail"].append(s)
        recent = [x for x in e["trail"] if x["t"] >= s["t"] - window - 0.5]
        span = s["t"] - recent[0]["t"]
        rss = [x["rss"] for x in recent]
        quiet = max(rss) - min(rss) <= max(256 * 1024, 0.002 * max(rss))
        still = span >= window - 0.01 and quiet and not s.get("compact_running")
        return still or s["t"] >= limit, still

    def _step(self, key, e, now):
        t = now - e["t0"]
        if e["due"]:
            if t < e["due"][0]:
                return
            off = e["due"].pop(0)
            s = self._sample(e, "+%g" % off, t)
            e["samples"].append(s)
            if self.settle:
                e["trail"].append(s)
            e["done"] = not e["due"] and not self.settle
            return
        last = e["trail"][-1]["t"] if e["trail"] else 0.0
        if t < last + 1.0:
            return
        s = self._sample(e, "settled", t)
        finished, settled = self._settled(e, s)
        if finished:
            s["settled"] = settled
            e["samples"].append(s)
            e["done"] = True

    def run(self):
        try:
            while not self.halt.is_set():
                now = time.time()
                with self.lock:
                    todo = [(k, e) for k, e in self.entries.items() if not e["done"]]
                for k, e in todo:
                    self._step(k, e, now)
                self.halt.wait(self.TICK)
        except Exception as exc:   # surfaced by wait(), not lost with the thread
            self.error = exc

    def wait(self):
        """Blocks until every marked server has all its samples."""
        while True:
            if self.error:
                raise self.error
            with self.lock:
                if all(e["done"] for e in self.entries.values()):
                    return
            time.sleep(0.05)

    def samples(self, key):
        return self.entries[key]["samples"]


# ------------------------------------------------------------------- results

def begin(name):
    """What every benchmark starts with: the compactd binary (argv[1], default
    build/daemon/compactd; it must exist, nothing is built), a run tag
    name-<time>, a log printing to stdout and bench/out/<tag>.txt, and the
    JSON-lines emitter. Returns (binary, tag, log, emit)."""
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "daemon", "compactd")
    if not os.access(binary, os.X_OK):
        sys.exit("%s.py: no compactd at %s (build it first)" % (name, binary))
    os.makedirs(OUT, exist_ok=True)
    tag = "%s-%s" % (name, stamp())
    return binary, tag, tee(os.path.join(OUT, tag + ".txt")), results(tag, binary)


DAMON = "/sys/kernel/mm/damon/admin/kdamonds"


def host_monitors():
    """The kernel's DAMON monitors that are on, one line each ([] if none).
    On the development VM one samples the whole physical memory every
    500 ms, and every sample stalled both vCPUs for 3-9 ms, redis-server's
    requests as much as compactd's: back-to-back 0.2 s idle runs
    alternated between p99s of ~0.6 and 3-9 ms, and with it off all stayed
    near 0.6 ms. Tail-latency figures are only comparable when this is the
    same; the benchmarks report it and leave it alone (it is the host's)."""
    out = []
    try:
        names = sorted(d for d in os.listdir(DAMON) if d.isdigit())
    except OSError:
        return out
    for d in names:
        base = os.path.join(DAMON, d)
        try:
            with open(os.path.join(base, "state")) as f:
                if f.read().strip() != "on":
                    continue
            ctx = os.path.join(base, "contexts", "0")
            with open(os.path.join(ctx, "operations")) as f:
                ops = f.read().strip()
            with open(os.path.join(ctx, "monitoring_attrs", "intervals", "sample_us")) as f:
                sample = int(f.read())
            out.append("kdamond %s on (%s, a sample every %d ms)" % (d, ops, sample // 1000))
        except (OSError, ValueError):
            out.append("kdamond %s on" % d)
    return out


def scales(in_quick, in_full):
    """SCALES from the environment (MiB, comma-separated), else the mode's default."""
    return [float(x) for x in os.environ.get("SCALES", in_quick if quick() else in_full).split(",")]


def results(tag, binary=None):
    """Returns emit(kind, **fields): one JSON line per result, appended to
    $BENCH_JSONL (run_all.sh points every script at one file) or else to
    bench/out/<tag>.jsonl. Each line carries the experiment (the tag's first
    word), the run tag, the compactd binary and the kind of record."""
    path = os.environ.get("BENCH_JSONL") or os.path.join(OUT, tag + ".jsonl")
    experiment = tag.split("-", 1)[0]

    def emit(kind, **fields):
        rec = dict(experiment=experiment, run=tag, kind=kind, binary=binary, **fields)
        with open(path, "a") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")
    emit.path = path
    return emit


def above(rss, empty, live):
    """RSS above the empty server as a multiple of the live key+value bytes."""
    return (rss - empty) / live if live else None


def fx(v, digits=2):
    """A ratio for a table cell; '-' when there is none."""
    return "-" if v is None else "%.*f" % (digits, v)


# ------------------------------------------------------- servers side by side

def loading_order(names):
    """compactd last: the servers loaded before it are idle during its quiet period."""
    return [n for n in names if n != "compactd"] + [n for n in names if n == "compactd"]


def side_by_side(names, binary, tag, log, emit, watch_args, mem_mb, load, check, tail=None):
    """The harness of the RSS-after-quiet experiments (fragment.py, churn.py).

    Starts the named servers fresh (a refused redis-defrag is skipped), reads
    each one's empty RSS, then, one server at a time in loading_order, calls
    load(srv) (returns a dict, with 'live' the key+value bytes it left) and
    marks the end of that server's writes on a Watch(*watch_args). Once every
    server has its samples, check(srv) (a dict: read-back results) runs on
    each, memcached's evictions and compactd's compaction totals are read, and
    tail(srvs, out) may take last samples before the servers are stopped by
    PID. Returns {name: dict(empty, samples, compaction, evictions?, **load's,
    **check's)}."""
    out = {}
    with Servers(emit) as servers, Watch(*watch_args) as watch:
        srvs = []
        for name in loading_order(names):
            srv = start_named(servers, name, binary, tag, mem_mb=mem_mb, log=log)
            if srv:
                srvs.append(srv)
        time.sleep(0.5)
        for srv in srvs:
            out[srv.name] = dict(empty=srv.rss())
        for srv in srvs:
            t = time.time()
            out[srv.name].update(load(srv))
            watch.mark(srv.name, srv)
            log("  %s loaded in %.1f s" % (srv.name, time.time() - t))
        watch.wait()
        for srv in srvs:
            r = out[srv.name]
            r["samples"] = watch.samples(srv.name)
            r.update(check(srv))
            if srv.kind == "memcached":
                r["evictions"] = mc_evictions(srv)
            r["compaction"] = compaction_figures(srv)
        if tail:
            tail(srvs, out)
    return out


def intact(r):
    """Whether a server's read-back found everything as written."""
    return r["bad"] == 0 and r["resurrected"] == 0 and r.get("evictions", 0) == 0


def compare_cells(names, rss, out, live):
    """Table cells for one sample: each server's RSS above its empty RSS / live,
    then compactd's RSS above empty over each other server's (when compactd is
    in names). rss maps name to the sample's RSS (None: no such sample)."""
    x = {n: above(rss[n], out[n]["empty"], live) if rss.get(n) is not None else None
         for n in names}
    cells = [fx(x[n]) for n in names]
    if "compactd" in names:
        cd = rss.get("compactd")
        for n in names:
            if n == "compactd":
                continue
            grown = rss[n] - out[n]["empty"] if rss.get(n) is not None else 0
            cells.append(fx((cd - out["compactd"]["empty"]) / grown
                            if cd is not None and grown > 0 else None))
    return cells


def compare_headers(names):
    return ["%s x" % n for n in names] + ["cd/%s" % n for n in names
                                          if "compactd" in names and n != "compactd"]
