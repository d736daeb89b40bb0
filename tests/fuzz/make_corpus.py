#!/usr/bin/python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ (run it after
changing the seeds; the files are committed, so the suite does not need it).

fuzz_resp inputs are: split seed byte, bulk-limit byte, client bytes.
fuzz_dispatch inputs are: flags byte (bit 0 RESP3), client bytes; the
pseudo-commands "_clock <ms>" (advance the pinned clock), "_cron" (active
expiry, index maintenance) and "_compact" (start a compaction run).
"""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))


def mb(*args):
    """A multibulk request."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


COMMANDS = {
    "ping": mb("PING") + mb("PING", "hello") + mb("ECHO", "x"),
    "set_get": mb("SET", "k", "v") + mb("GET", "k") + mb("GET", "missing"),
    "set_opts": mb("SET", "k", "v", "EX", "10") + mb("SET", "k", "w", "NX", "GET")
    + mb("SET", "k", "z", "XX", "KEEPTTL") + mb("SET", "k", "q", "PXAT", "1700000005000")
    + mb("SET", "k", "q", "EXAT", "abc") + mb("TTL", "k"),
    "setnx_setex": mb("SETNX", "a", "1") + mb("SETEX", "b", "5", "x") + mb("PSETEX", "c", "500", "y")
    + mb("_clock", "1000") + mb("_cron") + mb("GET", "c") + mb("PTTL", "b"),
    "getset_getdel": mb("SET", "a", "1") + mb("GETSET", "a", "2") + mb("GETDEL", "a") + mb("GETDEL", "a"),
    "getex": mb("SET", "a", "1") + mb("GETEX", "a", "PX", "100") + mb("GETEX", "a", "PERSIST")
    + mb("GETEX", "a", "EXAT", "1800000000"),
    "mset_mget": mb("MSET", "a", "1", "b", "2", "c", "3") + mb("MGET", "a", "b", "x", "c")
    + mb("MSETNX", "a", "9", "z", "9") + mb("MSETNX", "y", "1", "z", "2"),
    "append_strlen": mb("APPEND", "s", "hello") + mb("APPEND", "s", " world") + mb("STRLEN", "s")
    + mb("GETRANGE", "s", "-5", "-1") + mb("SETRANGE", "s", "20", "x") + mb("GETRANGE", "s", "0", "100"),
    "setrange_big": mb("SETRANGE", "r", "65000", "x") + mb("SETRANGE", "r", "70000", "x")
    + mb("APPEND", "r", "y" * 600),
    "incr": mb("INCR", "n") + mb("INCRBY", "n", "41") + mb("DECR", "n") + mb("DECRBY", "n", "-5")
    + mb("INCRBY", "n", "9223372036854775807") + mb("SET", "f", "x") + mb("INCR", "f"),
    "incrbyfloat": mb("INCRBYFLOAT", "f", "10.5") + mb("INCRBYFLOAT", "f", "0.1")
    + mb("INCRBYFLOAT", "f", "1e300") + mb("INCRBYFLOAT", "f", "inf") + mb("INCRBYFLOAT", "g", "-0"),
    "del_exists": mb("MSET", "a", "1", "b", "2") + mb("EXISTS", "a", "b", "a", "c") + mb("DEL", "a", "c")
    + mb("UNLINK", "b") + mb("TOUCH", "a", "b") + mb("TYPE", "a") + mb("TYPE", "zz"),
    "rename": mb("SET", "a", "1") + mb("RENAME", "a", "b") + mb("RENAMENX", "b", "b")
    + mb("SET", "c", "2") + mb("RENAMENX", "b", "c") + mb("RENAME", "nope", "x"),
    "keys_scan": b"".join(mb("SET", "key:%d" % i, str(i)) for i in range(20))
    + mb("KEYS", "key:1*") + mb("KEYS", "*[0-3]") + mb("SCAN", "0", "COUNT", "5")
    + mb("SCAN", "0", "MATCH", "key:?", "COUNT", "100", "TYPE", "string") + mb("RANDOMKEY"),
    "glob": mb("SET", "a\\b", "1") + mb("KEYS", "a\\\\b") + mb("KEYS", "[^a]*") + mb("KEYS", "[z-a]")
    + mb("KEYS", "a*a*a*a*a*b") + mb("KEYS", "[") + mb("KEYS", ""),
    "expire": mb("SET", "e", "1") + mb("EXPIRE", "e", "10") + mb("PEXPIRE", "e", "100", "GT")
    + mb("EXPIREAT", "e", "1800000000", "NX") + mb("PEXPIREAT", "e", "1700000000500")
    + mb("EXPIRETIME", "e") + mb("PEXPIRETIME", "e") + mb("PERSIST", "e") + mb("TTL", "e")
    + mb("EXPIRE", "e", "-1") + mb("EXISTS", "e"),
    "expire_clock": b"".join(mb("SET", "t%d" % i, "v", "PX", str(10 * i + 1)) for i in range(30))
    + mb("_clock", "50") + mb("DBSIZE") + mb("_cron") + mb("_clock", "1000") + mb("DBSIZE")
    + mb("_cron") + mb("SCAN", "0"),
    "select_flush": mb("SELECT", "0") + mb("SELECT", "1") + mb("SET", "a", "b") + mb("DBSIZE")
    + mb("FLUSHDB") + mb("FLUSHALL", "ASYNC") + mb("DBSIZE") + mb("TIME"),
    "command": mb("COMMAND", "COUNT") + mb("COMMAND", "INFO", "get", "set", "nope")
    + mb("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") + mb("COMMAND", "LIST", "FILTERBY", "PATTERN", "*et*")
    + mb("COMMAND", "DOCS", "get"),
    "command_all": mb("COMMAND") + mb("COMMAND", "DOCS") + mb("COMMAND", "LIST"),
    "errors": mb("NOSUCHCMD", "x") + mb("GET") + mb("SET", "a") + mb("SET", "a", "b", "EX", "0")
    + mb("SET", "a", "b", "EX", "99999999999999999") + mb("GETRANGE", "a", "x", "1") + mb("QUIT"),
    "bits": mb("SETBIT", "b", "7", "1") + mb("SETBIT", "b", "100", "1") + mb("GETBIT", "b", "100")
    + mb("BITCOUNT", "b") + mb("BITCOUNT", "b", "0", "-1", "BIT") + mb("BITPOS", "b", "1", "2")
    + mb("BITPOS", "b", "0", "0", "-1", "BYTE") + mb("SET", "c", "foobar")
    + mb("BITOP", "AND", "d", "b", "c") + mb("BITOP", "NOT", "e", "c") + mb("BITOP", "XOR", "f", "b", "c", "nope")
    + mb("SETBIT", "b", "4294967296", "1") + mb("GETBIT", "b", "-1"),
    "bitfield": mb("BITFIELD", "bf", "SET", "i8", "0", "100", "GET", "u4", "0", "INCRBY", "i5", "#1", "20")
    + mb("BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "300", "OVERFLOW", "FAIL", "INCRBY", "i8", "8", "-200")
    + mb("BITFIELD_RO", "bf", "GET", "i64", "3") + mb("BITFIELD", "bf", "GET", "u64", "0"),
    "lcs_substr": mb("MSET", "k1", "ohmytext", "k2", "mynewtext") + mb("LCS", "k1", "k2")
    + mb("LCS", "k1", "k2", "LEN") + mb("LCS", "k1", "k2", "IDX", "MINMATCHLEN", "2", "WITHMATCHLEN")
    + mb("SUBSTR", "k1", "1", "-2"),
    "multi_exec": mb("MULTI") + mb("SET", "a", "1") + mb("INCR", "a") + mb("GET", "a") + mb("EXEC")
    + mb("MULTI") + mb("SET", "a", "2") + mb("DISCARD") + mb("EXEC") + mb("MULTI") + mb("NOPE")
    + mb("EXEC") + mb("MULTI") + mb("MULTI") + mb("GET") + mb("EXEC"),
    "watch": mb("WATCH", "w") + mb("SET", "w", "1") + mb("MULTI") + mb("GET", "w") + mb("EXEC")
    + mb("WATCH", "w", "x") + mb("UNWATCH") + mb("MULTI") + mb("WATCH", "y") + mb("EXEC"),
    "copy_object": mb("SET", "src", "12345") + mb("COPY", "src", "dst") + mb("COPY", "src", "dst")
    + mb("COPY", "src", "dst", "REPLACE") + mb("COPY", "src", "dst", "DB", "0", "REPLACE")
    + mb("OBJECT", "ENCODING", "dst") + mb("OBJECT", "FREQ", "dst") + mb("OBJECT", "IDLETIME", "dst")
    + mb("OBJECT", "REFCOUNT", "dst") + mb("OBJECT", "HELP") + mb("SET", "s", "x" * 50)
    + mb("OBJECT", "ENCODING", "s"),
    "memory": mb("SET", "m", "v") + mb("MEMORY", "USAGE", "m") + mb("MEMORY", "USAGE", "m", "SAMPLES", "0")
    + mb("MEMORY", "STATS") + mb("MEMORY", "DOCTOR") + mb("MEMORY", "PURGE") + mb("MEMORY", "HELP")
    + mb("MEMORY", "MALLOC-STATS") + mb("MEMORY", "NOPE"),
    "binary_keys": mb(b"SET", b"\x00\xff\r\n", b"\x00") + mb(b"GET", b"\x00\xff\r\n") + mb(b"KEYS", b"*")
    + mb(b"STRLEN", b"\x00\xff\r\n"),
    "empty_args": mb("SET", "", "") + mb("GET", "") + mb("APPEND", "", "") + mb("EXISTS", ""),
    "many_keys": b"".join(mb("SET", "k%d" % i, "x" * (i % 50)) for i in range(200))
    + b"".join(mb("DEL", "k%d" % i) for i in range(0, 200, 2)) + mb("DBSIZE"),
    "inline": b"PING\r\nSET a \"hello world\"\r\nGET a\r\nSET b 'x y'\r\nECHO \"\\x41\\n\"\r\n\r\nDBSIZE\n",
    "inline_bad": b"SET a \"unterminated\r\nPING\r\nGET 'a'b\r\nPING\r\n",
    "pipeline_mixed": mb("SET", "p", "1") + b"INCR p\r\n" + mb("GET", "p") + b"\r\n" + b"*0\r\n"
    + b"*-1\r\n" + mb("GET", "p"),
    "malformed": b"*2\r\n$3\r\nGET\r\n$x\r\nPING\r\n*1\r\n$-5\r\nPING\r\n*abc\r\nPING\r\n",
    "oversize": b"*1\r\n$99999999\r\nPING\r\n" + b"*3000000\r\nPING\r\n",
}


def resp_seeds():
    seeds = {}
    for name, body in COMMANDS.items():
        seeds[name] = b"\x07\x00" + body
    seeds["onebyte_set"] = b"\x00\x00" + mb("SET", "key", "value")
    seeds["bigsteps"] = b"\x3f\x00" + mb("MSET", "a", "1", "b", "2") * 4
    seeds["small_limit"] = b"\x05\x02" + mb("SET", "k", "x" * 40) + mb("GET", "k")
    seeds["bulk_exact_limit"] = b"\x05\x01" + mb("SET", "k", "x" * 16)
    seeds["neg_counts"] = b"\x03\x00*-1\r\n*0\r\n*1\r\n$0\r\n\r\n*1\r\n$-1\r\n"
    seeds["ints"] = b"\x02\x00" + mb("X", "0", "-0", "007", "+1", "-9223372036854775808",
                                      "9223372036854775808", "1e3", " 1", "1 ")
    seeds["floats"] = b"\x02\x00" + mb("X", "1.5", "inf", "-inf", "nan", "1e400", "0x10", ".5", "5.")
    seeds["inline_quotes"] = b"\x09\x00" + b"SET \"a\\\"b\" 'c\\'d' \"\\xzz\" \"\\x4\"\r\nA  B   C\t\tD\r\n"
    seeds["inline_noeol"] = b"\x01\x00" + b"GET abc"
    seeds["inline_lf_only"] = b"\x01\x00" + b"PING\nPING\n\n\n"
    seeds["header_noeol"] = b"\x04\x00" + b"*2\r\n$3\r"
    seeds["bad_crlf"] = b"\x04\x00" + b"*1\r\n$3\r\nGETxx"
    seeds["long_length"] = b"\x04\x00" + b"*1\r\n$" + b"1" * 40 + b"\r\n"
    return seeds


def dispatch_seeds():
    seeds = {}
    for name, body in COMMANDS.items():
        seeds[name] = b"\x00" + body
    seeds["resp3_mix"] = b"\x01" + mb("SET", "a", "1") + mb("GET", "nope") + mb("MGET", "a", "b") \
        + mb("INCRBYFLOAT", "f", "1.5") + mb("COMMAND", "INFO", "get") + mb("SCAN", "0") + mb("TTL", "a")
    seeds["resp3_commands"] = b"\x01" + mb("COMMAND", "DOCS", "set") + mb("COMMAND", "INFO")
    # Fragmentation from few input bytes (inputs are capped at 16 KiB):
    # SETRANGE makes 300-byte values of one size class, inline, and one DEL
    # removes two keys in three, leaving sparse arenas to compact.
    frag = b"".join(b"SETRANGE c%d 300 x\r\n" % i for i in range(500)) \
        + b"DEL " + b" ".join(b"c%d" % i for i in range(500) if i % 3) + b"\r\n"
    seeds["compact"] = b"\x00" + frag + mb("_compact") \
        + b"".join(b"GET c%d\r\nAPPEND c%d x\r\n" % (i, i + 3) for i in range(0, 90, 3)) \
        + b"SET c3 new\r\nDEL c6\r\nRENAME c9 c10\r\nKEYS c1*\r\nSETRANGE c12 2000 y\r\n"
    # Sparse arenas of short-lived entries, expired but not yet reaped when
    # the run starts: compaction drops them instead of moving them.
    seeds["compact_expiry"] = b"\x00" \
        + b"".join(b"SETRANGE e%d 200 w\r\nPEXPIRE e%d %d\r\n" % (i, i, 10 + i % 50) for i in range(360)) \
        + b"DEL " + b" ".join(b"e%d" % i for i in range(360) if i % 3) + b"\r\n" \
        + mb("_clock", "30") + mb("_compact") + b"".join(b"GET e%d\r\n" % i for i in range(0, 360, 9)) \
        + mb("_clock", "100") + mb("_cron") + mb("SCAN", "0", "COUNT", "1000") + mb("DBSIZE")
    seeds["noauth"] = b"\xc0" + mb("GET", "a") + mb("SET", "a", "b") + mb("NOPE") + mb("GET")
    return seeds


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, body in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(body)


write("fuzz_resp", resp_seeds())
write("fuzz_dispatch", dispatch_seeds())
