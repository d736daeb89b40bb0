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
import os
import signal
import socket
import subprocess
import sys
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


class Server:
    """One server process. kind is 'compactd', 'redis' or 'memcached'."""

    def __init__(self, kind, name, argv, port, log_path, admin_port=None):
        self.kind = kind
        self.name = name
        self.argv = argv
        self.port = port
        self.admin_port = admin_port
        self.log_path = log_path
        self.proc = None

    def start(self, timeout=15.0):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
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
    """Context manager: every server started through it is stopped on exit."""

    def __init__(self):
        self.all = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for s in self.all:
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                print("warning: stopping %s: %s" % (s.name, e), file=sys.stderr)
        return False

    def add(self, server):
        self.all.append(server)
        return server


def start_compactd(servers, binary, tag, extra=()):
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1"]
    admin = None
    if compactd_has_option(binary, "admin-port"):
        admin = free_port()
        argv += ["--admin-port", str(admin)]
    argv += list(extra)
    argv += os.environ.get("COMPACTD_ARGS", "").split()   # e.g. "--compact-slice-us 250"
    s = Server("compactd", "compactd", argv, port, os.path.join(OUT, "%s-compactd.log" % tag), admin)
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
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no"] + list(extra)
    s = Server("redis", name, argv, port, os.path.join(OUT, "%s-%s.log" % (tag, name)))
    return servers.add(s).start()


def start_memcached(servers, tag, extra=()):
    port = free_port()
    argv = ["memcached", "-m", "4096", "-U", "0", "-l", "127.0.0.1", "-p", str(port)] + list(extra)
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    s = Server("memcached", "memcached", argv, port, os.path.join(OUT, "%s-memcached.log" % tag))
    return servers.add(s).start()


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


def num(v, default=0.0):
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


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
