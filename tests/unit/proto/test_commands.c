/*
 * Unit tests for proto's data commands (commands.c, cmd_misc.c,
 * cmd_string.c, cmd_keys.c): each request goes through command_dispatch on
 * a real keyspace with a pinned clock, and the exact reply bytes are
 * compared with what Redis 7.0 sends (the expectations were checked
 * against redis-server 7.0.15), in RESP2 and, where they differ, RESP3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"
#include "proto/internal.h"
#include "tests/unit/proto/support.h"

static int setup(void **state)
{
    (void)state;
    struct ks_options o;
    ks_options_default(&o);
    o.initial_power = 4;    /* small, so the SCAN tests cross resizes */
    ptest_setup(NULL, &o);
    return 0;
}

static int teardown(void **state)
{
    return ptest_fixture_teardown(state);
}

/* CMD(expected reply literal, arguments...), from support.h; CMDS is the
 * same with the expectation built at run time (NUL-terminated). */
#define CMDS(exp, ...)                                                    \
    do {                                                                  \
        const char *a_[] = { __VA_ARGS__ };                               \
        ptest_run_strs(&S, (int)(sizeof a_ / sizeof a_[0]), a_);          \
        ptest_expect_reply(&S, __FILE__, __LINE__, exp, strlen(exp));     \
    } while (0)

#define SL(lit) { lit, sizeof(lit) - 1 }

/* ------------------------------------------------------------- misc */

static void test_misc(void **state)
{
    CMD("+PONG\r\n", "PING");
    CMD("$5\r\nhello\r\n", "ping", "hello");
    CMD("-ERR wrong number of arguments for 'ping' command\r\n", "ping", "a", "b");
    CMD("$3\r\nx y\r\n", "ECHO", "x y");
    CMD("-ERR wrong number of arguments for 'echo' command\r\n", "echo");
    CMD("+OK\r\n", "select", "0");
    CMD("-ERR DB index is out of range\r\n", "select", "1");
    CMD("-ERR DB index is out of range\r\n", "select", "-1");
    CMD("-ERR value is not an integer or out of range\r\n", "select", "x");
    CMD("-ERR value is not an integer or out of range\r\n", "select", "01");
    CMD("-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
        "select", "4294967296");

    CMD(":0\r\n", "dbsize");
    CMD("+OK\r\n", "set", "k", "v");
    CMD("+OK\r\n", "set", "k2", "v");
    CMD(":2\r\n", "dbsize");
    CMD("-ERR wrong number of arguments for 'dbsize' command\r\n", "dbsize", "x");
    CMD("-ERR syntax error\r\n", "flushall", "foo");
    CMD("-ERR syntax error\r\n", "flushall", "async", "extra");
    CMD(":2\r\n", "dbsize");
    CMD("+OK\r\n", "flushdb");
    CMD(":0\r\n", "dbsize");
    CMD("+OK\r\n", "set", "k", "v");
    CMD("+OK\r\n", "FLUSHALL", "ASYNC");
    CMD("+OK\r\n", "flushall", "sync");
    CMD("+OK\r\n", "flushdb", "async");
    CMD(":0\r\n", "dbsize");

    /* TIME: two bulk strings, seconds near the wall clock, usec < 1e6 */
    const char *t[] = { "time" };
    ptest_run_strs(&S, 1, t);
    long long sec = 0, usec = -1;
    int sl = 0, ul = 0;
    assert_int_equal(sscanf(S.reply.buf, "*2\r\n$%d\r\n%lld\r\n$%d\r\n%lld\r\n", &sl, &sec, &ul,
                            &usec), 4);
    assert_true(sec > 1600000000LL);
    assert_true(usec >= 0 && usec < 1000000);
    reply_clear(&S.reply);
    CMD("-ERR wrong number of arguments for 'time' command\r\n", "time", "x");
}

/* ------------------------------------------------------------- strings */

static void test_get_set(void **state)
{
    CMD("$-1\r\n", "get", "nokey");
    CMD("+OK\r\n", "set", "a", "hello");
    CMD("$5\r\nhello\r\n", "GET", "a");
    CMD("+OK\r\n", "set", "a", "");
    CMD("$0\r\n\r\n", "get", "a");
    CMD("-ERR wrong number of arguments for 'get' command\r\n", "get");
    CMD("-ERR wrong number of arguments for 'set' command\r\n", "set", "a");

    /* NX / XX / GET */
    CMD("+OK\r\n", "set", "n", "1", "nx");
    CMD("$-1\r\n", "set", "n", "2", "nx");
    CMD("$1\r\n1\r\n", "get", "n");
    CMD("$-1\r\n", "set", "x", "1", "xx");
    CMD("$-1\r\n", "get", "x");
    CMD("+OK\r\n", "set", "n", "3", "XX");
    CMD("$1\r\n3\r\n", "set", "n", "4", "get");
    CMD("$1\r\n4\r\n", "get", "n");
    CMD("$-1\r\n", "set", "g", "1", "nx", "get");     /* 7.0: NX with GET */
    CMD("$1\r\n1\r\n", "set", "g", "2", "nx", "get"); /* not set, old shown */
    CMD("$1\r\n1\r\n", "get", "g");
    CMD("$-1\r\n", "set", "gx", "1", "xx", "get");
    CMD("$-1\r\n", "get", "gx");
    CMD("$1\r\n1\r\n", "set", "g", "5", "get", "get");

    /* syntax errors */
    CMD("-ERR syntax error\r\n", "set", "a", "1", "nx", "xx");
    CMD("-ERR syntax error\r\n", "set", "a", "1", "xx", "nx");
    CMD("-ERR syntax error\r\n", "set", "a", "1", "ex");
    CMD("-ERR syntax error\r\n", "set", "a", "1", "ex", "10", "px", "20");
    CMD("-ERR syntax error\r\n", "set", "a", "1", "ex", "10", "keepttl");
    CMD("-ERR syntax error\r\n", "set", "a", "1", "keepttl", "ex", "10");
    CMD("-ERR syntax error\r\n", "set", "a", "1", "pxat", "10", "exat", "20");
    CMD("-ERR syntax error\r\n", "set", "a", "1", "persist");
    CMD("-ERR syntax error\r\n", "set", "a", "1", "foo");
    CMD("-ERR value is not an integer or out of range\r\n", "set", "a", "1", "ex", "abc");
    CMD("-ERR value is not an integer or out of range\r\n", "set", "a", "1", "px", "1.5");

    /* invalid expire times: <= 0, unit overflow, overflow when adding now */
    CMD("-ERR invalid expire time in 'set' command\r\n", "set", "a", "1", "ex", "0");
    CMD("-ERR invalid expire time in 'set' command\r\n", "set", "a", "1", "px", "-5");
    CMD("-ERR invalid expire time in 'set' command\r\n", "set", "a", "1", "exat", "0");
    CMD("-ERR invalid expire time in 'set' command\r\n", "set", "a", "1", "ex",
        "9223372036854776");
    CMD("-ERR invalid expire time in 'set' command\r\n", "set", "a", "1", "ex",
        "9223372036854775");
    CMD("-ERR invalid expire time in 'set' command\r\n", "set", "a", "1", "px",
        "9223372036854775807");
    CMD("$1\r\n5\r\n", "get", "g");     /* errors changed nothing */
    CMD("+OK\r\n", "set", "big", "1", "exat", "9223372036854775");
    CMD(":9223372036854775000\r\n", "pexpiretime", "big");
    CMD("+OK\r\n", "set", "big", "1", "pxat", "9223372036854775807");
    CMD(":9223372036854775807\r\n", "pexpiretime", "big");
    CMD(":9223372036854776\r\n", "expiretime", "big");
}

static void test_set_expiry(void **state)
{
    CMD("+OK\r\n", "set", "e", "v", "ex", "10");
    CMD(":10\r\n", "ttl", "e");
    CMD(":10000\r\n", "pttl", "e");
    CMD(":1700000010\r\n", "expiretime", "e");
    CMD(":1700000010000\r\n", "pexpiretime", "e");

    /* a later option of the same kind wins */
    CMD("+OK\r\n", "set", "e", "v", "ex", "10", "ex", "20");
    CMD(":20\r\n", "ttl", "e");
    CMD("+OK\r\n", "set", "e", "v", "px", "1500");
    CMD(":1500\r\n", "pttl", "e");
    CMD(":2\r\n", "ttl", "e");          /* 1.5 s rounds half up */
    CMD("+OK\r\n", "set", "e", "v", "px", "1499");
    CMD(":1\r\n", "ttl", "e");
    CMD("+OK\r\n", "set", "e", "v", "exat", "1700000100");
    CMD(":100\r\n", "ttl", "e");
    CMD("+OK\r\n", "set", "e", "v", "pxat", "1700000000500");
    CMD(":500\r\n", "pttl", "e");

    /* plain SET clears the TTL, KEEPTTL keeps it */
    CMD("+OK\r\n", "set", "e", "w", "ex", "100");
    CMD("+OK\r\n", "set", "e", "x", "keepttl");
    CMD(":100\r\n", "ttl", "e");
    CMD("$1\r\nx\r\n", "get", "e");
    CMD("+OK\r\n", "set", "e", "y");
    CMD(":-1\r\n", "ttl", "e");
    CMD("+OK\r\n", "set", "e", "y", "keepttl");     /* no TTL to keep */
    CMD(":-1\r\n", "ttl", "e");

    /* expiry with the pinned clock: alive until the last millisecond */
    CMD("+OK\r\n", "set", "e", "v", "px", "100");
    ks_clock_set(T0 + 99);
    CMD("$1\r\nv\r\n", "get", "e");
    CMD(":1\r\n", "pttl", "e");
    ks_clock_set(T0 + 100);
    CMD("$-1\r\n", "get", "e");
    CMD(":-2\r\n", "ttl", "e");
    CMD(":0\r\n", "exists", "e");
    ks_clock_set(T0);

    /* an absolute time in the past sets nothing that can be seen */
    CMD("+OK\r\n", "set", "p", "v");
    CMD("+OK\r\n", "set", "p", "w", "exat", "1");
    CMD("$-1\r\n", "get", "p");
    CMD("+OK\r\n", "set", "p", "v");
    CMD("$1\r\nv\r\n", "set", "p", "w", "pxat", "1700000000000", "get");
    CMD(":0\r\n", "exists", "p");
}

static void test_setnx_setex_getset(void **state)
{
    CMD(":1\r\n", "setnx", "a", "1");
    CMD(":0\r\n", "setnx", "a", "2");
    CMD("$1\r\n1\r\n", "get", "a");

    CMD("+OK\r\n", "setex", "a", "100", "v");
    CMD(":100\r\n", "ttl", "a");
    CMD("-ERR invalid expire time in 'setex' command\r\n", "setex", "a", "0", "v");
    CMD("-ERR invalid expire time in 'setex' command\r\n", "setex", "a", "-1", "v");
    CMD("-ERR value is not an integer or out of range\r\n", "setex", "a", "x", "v");
    CMD("-ERR invalid expire time in 'setex' command\r\n", "setex", "a", "9223372036854775",
        "v");
    CMD("+OK\r\n", "psetex", "a", "1234", "w");
    CMD(":1234\r\n", "pttl", "a");
    CMD("-ERR invalid expire time in 'psetex' command\r\n", "psetex", "a", "-1", "v");
    CMD("-ERR wrong number of arguments for 'psetex' command\r\n", "psetex", "a", "1");

    CMD("$1\r\nw\r\n", "getset", "a", "new");
    CMD(":-1\r\n", "ttl", "a");         /* GETSET drops the TTL */
    CMD("$-1\r\n", "getset", "b", "1");
    CMD("$1\r\n1\r\n", "get", "b");

    CMD("$3\r\nnew\r\n", "getdel", "a");
    CMD("$-1\r\n", "getdel", "a");
    CMD(":0\r\n", "exists", "a");
}

static void test_getex(void **state)
{
    CMD("$-1\r\n", "getex", "nokey");
    CMD("$-1\r\n", "getex", "nokey", "ex", "0");   /* key looked up first */
    CMD("-ERR syntax error\r\n", "getex", "nokey", "foo");
    CMD("+OK\r\n", "set", "a", "1");
    CMD("$1\r\n1\r\n", "getex", "a");
    CMD("-ERR invalid expire time in 'getex' command\r\n", "getex", "a", "ex", "0");
    CMD("-ERR syntax error\r\n", "getex", "a", "persist", "ex", "10");
    CMD("-ERR syntax error\r\n", "getex", "a", "ex", "10", "persist");
    CMD("-ERR syntax error\r\n", "getex", "a", "ex");
    CMD("-ERR syntax error\r\n", "getex", "a", "keepttl");
    CMD("-ERR syntax error\r\n", "getex", "a", "nx");
    CMD("$1\r\n1\r\n", "getex", "a", "ex", "100");
    CMD(":100\r\n", "ttl", "a");
    CMD("$1\r\n1\r\n", "getex", "a", "px", "5000");
    CMD(":5000\r\n", "pttl", "a");
    CMD("$1\r\n1\r\n", "getex", "a", "exat", "1700000200");
    CMD(":200\r\n", "ttl", "a");
    CMD("$1\r\n1\r\n", "getex", "a", "pxat", "1700000000300");
    CMD(":300\r\n", "pttl", "a");
    CMD("$1\r\n1\r\n", "getex", "a", "persist");
    CMD(":-1\r\n", "ttl", "a");
    CMD("$1\r\n1\r\n", "getex", "a", "persist");
    CMD("$1\r\n1\r\n", "getex", "a", "pxat", "1");  /* in the past: deleted */
    CMD(":0\r\n", "exists", "a");
}

static void test_mget_mset(void **state)
{
    CMD("+OK\r\n", "mset", "a", "1", "b", "2", "a", "3");
    CMD("*3\r\n$1\r\n3\r\n$1\r\n2\r\n$-1\r\n", "mget", "a", "b", "c");
    CMD("-ERR wrong number of arguments for 'mset' command\r\n", "mset", "a");
    CMD("-ERR wrong number of arguments for 'mset' command\r\n", "mset", "a", "b", "c");
    CMD("-ERR wrong number of arguments for 'msetnx' command\r\n", "msetnx", "a", "b", "c");
    CMD("-ERR wrong number of arguments for 'mget' command\r\n", "mget");
    CMD(":1\r\n", "msetnx", "x", "1", "y", "2");
    CMD(":0\r\n", "msetnx", "z", "1", "x", "2");
    CMD("*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n", "mget", "x", "y", "z");
    CMD("+OK\r\n", "set", "t", "v", "ex", "100");
    CMD("+OK\r\n", "mset", "t", "w");
    CMD(":-1\r\n", "ttl", "t");
}

static void test_append_strlen_getrange(void **state)
{
    CMD(":5\r\n", "append", "s", "hello");
    CMD(":11\r\n", "append", "s", " world");
    CMD(":11\r\n", "append", "s", "");
    CMD("$11\r\nhello world\r\n", "get", "s");
    CMD(":11\r\n", "strlen", "s");
    CMD(":0\r\n", "strlen", "nokey");
    CMD(":0\r\n", "append", "empty", "");
    CMD(":1\r\n", "exists", "empty");    /* APPEND creates even when empty */

    CMD("$5\r\nhello\r\n", "getrange", "s", "0", "4");
    CMD("$5\r\nworld\r\n", "getrange", "s", "-5", "-1");
    CMD("$0\r\n\r\n", "getrange", "s", "-1", "-5");
    CMD("$0\r\n\r\n", "getrange", "s", "5", "2");
    CMD("$11\r\nhello world\r\n", "getrange", "s", "0", "-1");
    CMD("$11\r\nhello world\r\n", "getrange", "s", "0", "100");
    CMD("$1\r\nh\r\n", "getrange", "s", "-100", "-50");
    CMD("$3\r\nhel\r\n", "getrange", "s", "-100", "2");
    CMD("$0\r\n\r\n", "getrange", "s", "100", "200");
    CMD("$11\r\nhello world\r\n", "getrange", "s", "-9223372036854775808",
        "9223372036854775807");
    CMD("$0\r\n\r\n", "getrange", "nokey", "0", "-1");
    CMD("$0\r\n\r\n", "getrange", "empty", "0", "-1");
    CMD("-ERR value is not an integer or out of range\r\n", "getrange", "s", "x", "1");
    CMD("-ERR value is not an integer or out of range\r\n", "getrange", "nokey", "0", "y");
    CMD("-ERR wrong number of arguments for 'getrange' command\r\n", "getrange", "s", "0");

    /* APPEND keeps the TTL */
    CMD("+OK\r\n", "set", "t", "a", "ex", "100");
    CMD(":2\r\n", "append", "t", "b");
    CMD(":100\r\n", "ttl", "t");
}

static void test_setrange(void **state)
{
    CMD("-ERR offset is out of range\r\n", "setrange", "s", "-1", "x");
    CMD("-ERR value is not an integer or out of range\r\n", "setrange", "s", "x", "y");
    CMD(":0\r\n", "setrange", "s", "5", "");
    CMD(":0\r\n", "exists", "s");       /* an empty write creates nothing */
    CMD(":6\r\n", "setrange", "s", "3", "abc");
    CMD("$6\r\n\0\0\0abc\r\n", "get", "s");
    CMD(":6\r\n", "setrange", "s", "0", "XY");    /* in place */
    CMD("$6\r\nXY\0abc\r\n", "get", "s");
    CMD(":8\r\n", "setrange", "s", "6", "de");    /* grows */
    CMD("$8\r\nXY\0abcde\r\n", "get", "s");
    CMD(":8\r\n", "setrange", "s", "100", "");
    CMD("-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
        "setrange", "s", "536870912", "x");
    CMD("-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
        "setrange", "s", "9223372036854775807", "x");
    CMD("-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
        "setrange", "nokey", "536870912", "x");
    CMD(":0\r\n", "exists", "nokey");

    /* keeps the TTL when it grows the value */
    CMD("+OK\r\n", "set", "t", "abc", "ex", "100");
    CMD(":5\r\n", "setrange", "t", "3", "de");
    CMD(":100\r\n", "ttl", "t");

    /* the value limit is a setting (proto-max-bulk-len) */
    assert_int_equal(proto_max_value_len(), 512ull << 20);
    proto_set_max_value_len(10);
    CMD(":10\r\n", "setrange", "u", "9", "x");
    CMD("-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
        "setrange", "u", "10", "x");
    CMD("-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
        "append", "u", "y");
    CMD(":10\r\n", "strlen", "u");
    CMD(":10\r\n", "append", "u", "");
    proto_set_max_value_len(512ull << 20);
    CMD(":11\r\n", "append", "u", "y");
}

static void test_incr_decr(void **state)
{
    CMD(":1\r\n", "incr", "c");
    CMD(":2\r\n", "incr", "c");
    CMD(":1\r\n", "decr", "c");
    CMD(":101\r\n", "incrby", "c", "100");
    CMD(":51\r\n", "decrby", "c", "50");
    CMD(":-9\r\n", "incrby", "c", "-60");
    CMD("$2\r\n-9\r\n", "get", "c");
    CMD(":-1\r\n", "decr", "nc");
    CMD("-ERR decrement would overflow\r\n", "decrby", "c", "-9223372036854775808");
    CMD("-ERR value is not an integer or out of range\r\n", "incrby", "c", "x");
    CMD("-ERR value is not an integer or out of range\r\n", "incrby", "c", "1.0");
    CMD("-ERR value is not an integer or out of range\r\n", "decrby", "c", "99999999999999999999");

    CMD("+OK\r\n", "set", "c", "9223372036854775807");
    CMD("-ERR increment or decrement would overflow\r\n", "incr", "c");
    CMD(":-1\r\n", "incrby", "c", "-9223372036854775808");
    CMD("+OK\r\n", "set", "c", "-9223372036854775808");
    CMD("-ERR increment or decrement would overflow\r\n", "decr", "c");
    CMD("-ERR increment or decrement would overflow\r\n", "incrby", "c", "-1");
    CMD("$20\r\n-9223372036854775808\r\n", "get", "c");

    /* the stored text is parsed strictly */
    CMD("+OK\r\n", "set", "c", " 1");
    CMD("-ERR value is not an integer or out of range\r\n", "incr", "c");
    CMD("+OK\r\n", "set", "c", "01");
    CMD("-ERR value is not an integer or out of range\r\n", "incr", "c");
    CMD("+OK\r\n", "set", "c", "+1");
    CMD("-ERR value is not an integer or out of range\r\n", "incr", "c");
    CMD("+OK\r\n", "set", "c", "abc");
    CMD("-ERR value is not an integer or out of range\r\n", "decr", "c");
    CMD("+OK\r\n", "set", "c", "");
    CMD("-ERR value is not an integer or out of range\r\n", "incr", "c");
    CMD("$0\r\n\r\n", "get", "c");

    /* width changes (new entry) and the TTL is kept both ways */
    CMD("+OK\r\n", "set", "c", "9", "ex", "100");
    CMD(":10\r\n", "incr", "c");
    CMD(":100\r\n", "ttl", "c");
    CMD(":11\r\n", "incr", "c");
    CMD(":100\r\n", "ttl", "c");
    CMD("$2\r\n11\r\n", "get", "c");
}

static void test_incrbyfloat(void **state)
{
    CMD("$3\r\n1.5\r\n", "incrbyfloat", "f", "1.5");
    CMD("$3\r\n1.6\r\n", "incrbyfloat", "f", "0.1");
    CMD("$1\r\n0\r\n", "incrbyfloat", "f", "-1.6");
    CMD("$1\r\n0\r\n", "get", "f");
    CMD("$4\r\n3000\r\n", "incrbyfloat", "g", "3.0e3");
    CMD("$6\r\n3010.5\r\n", "incrbyfloat", "g", "10.5");
    /* long double rounding shows, exactly as in Redis */
    CMD("$22\r\n3010.60000000000000009\r\n", "incrbyfloat", "g", "0.1");
    CMD("$1\r\n0\r\n", "incrbyfloat", "z", "-0.0");
    CMD("$3\r\n0.5\r\n", "incrbyfloat", "h", "5.0e-1");
    CMD("-ERR increment would produce NaN or Infinity\r\n", "incrbyfloat", "f", "inf");
    CMD("-ERR value is not a valid float\r\n", "incrbyfloat", "f", "nan");
    CMD("-ERR value is not a valid float\r\n", "incrbyfloat", "f", " 1");
    CMD("-ERR value is not a valid float\r\n", "incrbyfloat", "f", "abc");
    CMD("+OK\r\n", "set", "s", "abc");
    CMD("-ERR value is not a valid float\r\n", "incrbyfloat", "s", "1");
    CMD("+OK\r\n", "set", "i", "10");
    CMD("$4\r\n11.5\r\n", "incrbyfloat", "i", "1.5");
    CMD("$4\r\n11.5\r\n", "get", "i");
    CMD(":-1\r\n", "ttl", "i");
    CMD("+OK\r\n", "set", "i", "1", "ex", "100");
    CMD("$1\r\n2\r\n", "incrbyfloat", "i", "1");
    CMD(":100\r\n", "ttl", "i");

    /* huge values are written out in full, as Redis does (%.17Lf) */
    CMD("$301\r\n1000000000000000000008997324079559193870523944273290747938260082321265646"
        "5961809357558491520837504971903503725086142748359035925561846729839130962605207"
        "4864628732713564184365329408425510760601678972665293237003055138294762099454029"
        "4772781889620606179267611627097410650567187386105690089424915104006144\r\n",
        "incrbyfloat", "big", "1e300");
}

/* INCRBYFLOAT stores and replies the text of reply_format_long_double,
 * the formatter behind reply_long_double: that bulk must hold exactly the
 * same text, and the buffer must fit the widest long double. */
static void test_long_double_format(void **state)
{
    const long double vals[] = { 0.0L, -0.0L, 1.5L, -1.5L, 0.1L, 10.6L, 3010.6L, 1e300L,
                                 -1e-20L, 123456789.125L, 1e-17L, 5e-18L };
    char buf[REPLY_LD_BUFSIZE];
    struct reply r;

    reply_init(&r);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        size_t n = reply_format_long_double(buf, vals[i]);
        reply_long_double(&r, vals[i]);
        char hdr[32];
        int h = snprintf(hdr, sizeof hdr, "$%zu\r\n", n);
        assert_int_equal(r.len, (size_t)h + n + 2);
        assert_memory_equal(r.buf, hdr, (size_t)h);
        assert_memory_equal(r.buf + h, buf, n);
        reply_clear(&r);
    }
    reply_deinit(&r);
    assert_int_equal(reply_format_long_double(buf, 2.5L), 3);
    assert_string_equal(buf, "2.5");
    assert_int_equal(reply_format_long_double(buf, -0.0L), 1);
    assert_string_equal(buf, "0");
    reply_format_long_double(buf, 5e-18L);   /* rounds to zero at 17 places */
    assert_string_equal(buf, "0");
    reply_format_long_double(buf, 1e-17L);
    assert_string_equal(buf, "0.00000000000000001");
    size_t n = reply_format_long_double(buf, -LDBL_MAX);
    assert_true(n > 4900 && n < REPLY_LD_BUFSIZE);
    assert_int_equal(strlen(buf), n);
    assert_int_equal(buf[0], '-');
}

/* ------------------------------------------------------------- generic */

static void test_del_exists_type(void **state)
{
    CMD("+OK\r\n", "mset", "a", "1", "b", "2", "c", "3");
    CMD(":2\r\n", "del", "a", "b", "nokey");
    CMD(":1\r\n", "del", "c", "c");
    CMD(":0\r\n", "dbsize");
    CMD("+OK\r\n", "set", "a", "1");
    CMD(":1\r\n", "unlink", "a", "nokey");
    CMD("+OK\r\n", "set", "a", "1");
    CMD(":3\r\n", "exists", "a", "a", "nokey", "a");
    CMD(":2\r\n", "touch", "a", "a", "nokey");
    CMD("+string\r\n", "type", "a");
    CMD("+none\r\n", "type", "nokey");
    CMD("-ERR wrong number of arguments for 'del' command\r\n", "del");
    CMD("-ERR wrong number of arguments for 'exists' command\r\n", "exists");
}

static void test_rename(void **state)
{
    CMD("-ERR no such key\r\n", "rename", "nokey", "x");
    CMD("-ERR no such key\r\n", "renamenx", "nokey", "x");
    CMD("-ERR no such key\r\n", "rename", "nokey", "nokey");
    CMD("+OK\r\n", "set", "a", "1");
    CMD("+OK\r\n", "rename", "a", "a");
    CMD(":0\r\n", "renamenx", "a", "a");
    CMD("$1\r\n1\r\n", "get", "a");
    CMD("+OK\r\n", "set", "b", "2");
    CMD(":0\r\n", "renamenx", "a", "b");
    CMD("+OK\r\n", "rename", "a", "b");
    CMD("$1\r\n1\r\n", "get", "b");
    CMD(":0\r\n", "exists", "a");
    CMD("+OK\r\n", "set", "a", "v", "ex", "100");
    CMD("+OK\r\n", "set", "d", "x", "ex", "5");
    CMD("+OK\r\n", "rename", "a", "d");     /* the source's TTL moves along */
    CMD(":100\r\n", "ttl", "d");
    CMD(":1\r\n", "renamenx", "d", "e");
    CMD(":100\r\n", "ttl", "e");
    CMD("$1\r\nv\r\n", "get", "e");
    CMD(":2\r\n", "dbsize");          /* b and e */
    CMD("+OK\r\n", "set", "f", "nottl");
    CMD("+OK\r\n", "rename", "f", "e");     /* and no TTL replaces one */
    CMD(":-1\r\n", "ttl", "e");
}

static void test_expire(void **state)
{
    CMD("+OK\r\n", "set", "n", "5");
    CMD(":-1\r\n", "expiretime", "n");
    CMD(":-1\r\n", "pexpiretime", "n");
    CMD(":-1\r\n", "ttl", "n");
    CMD(":-1\r\n", "pttl", "n");
    CMD(":-2\r\n", "ttl", "nokey");
    CMD(":-2\r\n", "pttl", "nokey");
    CMD(":-2\r\n", "expiretime", "nokey");
    CMD(":-2\r\n", "pexpiretime", "nokey");

    CMD("-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        "expire", "n", "100", "nx", "xx");
    CMD("-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        "expire", "n", "100", "nx", "gt");
    CMD("-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        "expire", "n", "100", "lt", "nx");
    CMD("-ERR GT and LT options at the same time are not compatible\r\n",
        "expire", "n", "100", "gt", "lt");
    CMD("-ERR Unsupported option foo\r\n", "expire", "n", "100", "foo");
    CMD("-ERR Unsupported option foo\r\n", "expire", "n", "100", "NX", "foo");
    CMD("-ERR value is not an integer or out of range\r\n", "expire", "n", "abc");
    CMD("-ERR invalid expire time in 'expire' command\r\n", "expire", "n", "9223372036854775");
    CMD("-ERR invalid expire time in 'expire' command\r\n", "expire", "n",
        "9223372036854775807");
    CMD("-ERR invalid expire time in 'expire' command\r\n", "expire", "n",
        "-9223372036854775808");
    CMD("-ERR invalid expire time in 'pexpire' command\r\n", "pexpire", "n",
        "9223372036854775807");
    CMD("-ERR invalid expire time in 'expireat' command\r\n", "expireat", "n",
        "9223372036854776");
    CMD("-ERR wrong number of arguments for 'expire' command\r\n", "expire", "n");
    CMD(":-1\r\n", "ttl", "n");         /* errors changed nothing */

    /* GT/LT treat "no TTL" as infinite */
    CMD(":0\r\n", "expire", "n", "100", "gt");
    CMD(":0\r\n", "expire", "n", "100", "xx");
    CMD(":1\r\n", "expire", "n", "100", "lt");
    CMD(":100\r\n", "ttl", "n");
    CMD(":0\r\n", "expire", "n", "100", "nx");
    CMD(":1\r\n", "expire", "n", "100", "xx");
    CMD(":0\r\n", "expire", "n", "50", "gt");
    CMD(":0\r\n", "expire", "n", "100", "gt");
    CMD(":1\r\n", "expire", "n", "150", "gt");
    CMD(":0\r\n", "expire", "n", "200", "lt");
    CMD(":1\r\n", "expire", "n", "120", "LT");
    CMD(":120\r\n", "ttl", "n");
    CMD(":0\r\n", "pexpire", "n", "100000", "xx", "gt");   /* XX with GT is fine */
    CMD(":1\r\n", "pexpire", "n", "200000", "xx", "gt");
    CMD(":200000\r\n", "pttl", "n");
    CMD(":1\r\n", "expireat", "n", "1700000300");
    CMD(":300\r\n", "ttl", "n");
    CMD(":1700000300\r\n", "expiretime", "n");
    CMD(":1\r\n", "pexpireat", "n", "1700000000777");
    CMD(":1700000000777\r\n", "pexpiretime", "n");
    CMD(":1700000001\r\n", "expiretime", "n");
    CMD(":1\r\n", "pexpireat", "n", "1700000000499");
    CMD(":1700000000\r\n", "expiretime", "n");
    CMD(":1\r\n", "pexpireat", "n", "9223372036854775807");
    CMD(":9223372036854776\r\n", "expiretime", "n");

    CMD(":1\r\n", "persist", "n");
    CMD(":0\r\n", "persist", "n");
    CMD(":0\r\n", "persist", "nokey");
    CMD(":-1\r\n", "ttl", "n");
    CMD(":0\r\n", "expire", "nokey", "100");
    CMD(":0\r\n", "exists", "nokey");

    /* a time in the past deletes (and the key must exist for that) */
    CMD(":1\r\n", "expire", "n", "0");
    CMD(":0\r\n", "exists", "n");
    CMD("+OK\r\n", "set", "n", "1");
    CMD(":1\r\n", "expireat", "n", "1");
    CMD(":0\r\n", "exists", "n");
    CMD("+OK\r\n", "set", "n", "1");
    CMD(":1\r\n", "pexpire", "n", "-1", "lt");
    CMD(":0\r\n", "exists", "n");
    CMD("+OK\r\n", "set", "n", "1");
    CMD(":0\r\n", "pexpire", "n", "-1", "gt");
    CMD(":1\r\n", "exists", "n");

    /* the pinned clock drives TTL and lazy expiry */
    CMD(":1\r\n", "pexpire", "n", "2500");
    ks_clock_set(T0 + 1000);
    CMD(":1500\r\n", "pttl", "n");
    CMD(":2\r\n", "ttl", "n");
    CMD(":1700000002500\r\n", "pexpiretime", "n");
    ks_clock_set(T0 + 2499);
    CMD(":1\r\n", "pttl", "n");
    CMD(":0\r\n", "ttl", "n");
    ks_clock_set(T0 + 2500);
    CMD(":-2\r\n", "pttl", "n");
    CMD("$-1\r\n", "get", "n");
}

/* ------------------------------------------------------------- glob, KEYS */

static bool gm(const char *p, const char *s)
{
    return glob_match(p, strlen(p), s, strlen(s), false);
}

static void test_glob(void **state)
{
    assert_true(gm("*", "abc"));
    assert_true(gm("", ""));
    assert_false(gm("*", ""));               /* Redis: "" matches only "" */
    assert_false(gm("**", ""));
    assert_false(gm("", "a"));
    assert_true(gm("a*", "a"));
    assert_true(gm("h?llo", "hello"));
    assert_false(gm("h?llo", "hllo"));
    assert_true(gm("h*llo", "hllo"));
    assert_true(gm("h*llo", "heeeello"));
    assert_true(gm("h[ae]llo", "hallo"));
    assert_false(gm("h[ae]llo", "hillo"));
    assert_true(gm("h[^e]llo", "hallo"));
    assert_false(gm("h[^e]llo", "hello"));
    assert_true(gm("h[a-b]llo", "hbllo"));
    assert_true(gm("h[b-a]llo", "hallo"));   /* reversed ranges work */
    assert_false(gm("h[a-b]llo", "hcllo"));
    assert_true(gm("h\\*llo", "h*llo"));
    assert_false(gm("h\\*llo", "hello"));
    assert_true(gm("h[\\]]llo", "h]llo"));
    assert_true(gm("[a-]", "]"));            /* Redis reads "a-]" as a range */
    assert_true(gm("h[a", "ha"));            /* unterminated set */
    assert_false(gm("[", "a"));
    assert_true(gm("[^", "x"));
    assert_true(gm("\\", "\\"));             /* a trailing backslash is literal */
    assert_true(gm("*l*l*", "hello"));
    assert_false(gm("*l*l*l*", "hello"));
    assert_true(gm("a*b*c", "aXbYbZc"));
    assert_false(gm("a*b*c", "aXbYbZ"));
    assert_false(gm("a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    assert_true(glob_match("H[A-Z]LLO", 9, "hello", 5, true));
    assert_false(glob_match("H[A-Z]LLO", 9, "hello", 5, false));
    assert_true(glob_match("maxmemory*", 10, "MAXMEMORY-policy", 16, true));
    assert_true(glob_match("a?c", 3, "a\0c", 3, false));
    assert_true(glob_match("a\0*", 3, "a\0bc", 4, false));
    assert_false(glob_match("a\0*", 3, "ab", 2, false));
}

/* The bulk strings of a KEYS array (at most 64), sorted, joined with ','. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void join_keys(const struct ptest_node *arr, char *out, size_t cap)
{
    char *items[64];
    assert_true(arr->type == '*' && arr->nkids <= 64);
    for (size_t i = 0; i < arr->nkids; i++) {
        assert_int_equal(arr->kids[i].type, '$');
        items[i] = strndup(arr->kids[i].str, arr->kids[i].len);
    }
    qsort(items, arr->nkids, sizeof items[0], cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < arr->nkids; i++) {
        if (i > 0)
            strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, items[i], cap - strlen(out) - 1);
        free(items[i]);
    }
}

static void expect_keys(const char *file, int line, const char *pat, const char *exp)
{
    const char *a[] = { "keys", pat };
    char got[1024];
    struct ptest_node n;
    ptest_run_strs(&S, 2, a);
    ptest_parse_reply(&S.reply, &n);        /* exactly one reply */
    join_keys(&n, got, sizeof got);
    ptest_node_free(&n);
    if (strcmp(got, exp) != 0)
        fail_msg("%s:%d: KEYS %s: expected {%s} got {%s}", file, line, pat, exp, got);
    reply_clear(&S.reply);
}
#define KEYS(pat, exp) expect_keys(__FILE__, __LINE__, pat, exp)

static void test_keys(void **state)
{
    CMD("*0\r\n", "keys", "*");
    CMD("+OK\r\n", "mset", "hello", "1", "hallo", "2", "hxllo", "3", "hllo", "4", "heeeello", "5",
        "foo", "6", "h*llo", "7", "h[a]llo", "8", "h\\llo", "9", "H", "10");
    KEYS("h?llo", "h*llo,h\\llo,hallo,hello,hxllo");
    KEYS("h*llo", "h*llo,h[a]llo,h\\llo,hallo,heeeello,hello,hllo,hxllo");
    KEYS("h[ae]llo", "hallo,hello");
    KEYS("h[^e]llo", "h*llo,h\\llo,hallo,hxllo");
    KEYS("h[a-b]llo", "hallo");
    KEYS("h\\*llo", "h*llo");
    KEYS("h\\[a\\]llo", "h[a]llo");
    KEYS("h\\\\llo", "h\\llo");
    KEYS("*", "H,foo,h*llo,h[a]llo,h\\llo,hallo,heeeello,hello,hllo,hxllo");
    KEYS("?", "H");
    KEYS("[A-Z]", "H");
    KEYS("h", "");
    KEYS("", "");
    KEYS("*o", "foo,h*llo,h[a]llo,h\\llo,hallo,heeeello,hello,hllo,hxllo");
    KEYS("f*", "foo");
    CMD("-ERR wrong number of arguments for 'keys' command\r\n", "keys");

    /* the empty key: listed by a bare "*" only */
    CMD("+OK\r\n", "set", "", "empty");
    CMD("*1\r\n$0\r\n\r\n", "keys", "");
    KEYS("*", ",H,foo,h*llo,h[a]llo,h\\llo,hallo,heeeello,hello,hllo,hxllo");
    KEYS("**", "H,foo,h*llo,h[a]llo,h\\llo,hallo,heeeello,hello,hllo,hxllo");
    CMD(":1\r\n", "del", "");

    /* expired keys are not listed */
    CMD("+OK\r\n", "set", "fox", "1", "px", "10");
    KEYS("f*", "foo,fox");
    ks_clock_set(T0 + 10);
    KEYS("f*", "foo");
}

/* ------------------------------------------------------------- SCAN */

static void test_scan_args(void **state)
{
    CMD("+OK\r\n", "set", "k", "v");
    CMD("*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n", "scan", "0");
    CMD("*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n", "scan", "00");
    CMD("*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n", "scan", "+0");
    CMD("*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n", "scan", "");
    CMD("*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n", "scan", "0", "type", "STRING");
    CMD("*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n", "scan", "0", "match", "k", "count", "5");
    CMD("*2\r\n$1\r\n0\r\n*0\r\n", "scan", "0", "match", "x*");
    CMD("*2\r\n$1\r\n0\r\n*0\r\n", "scan", "0", "type", "hash");
    CMD("-ERR invalid cursor\r\n", "scan", " 0");
    CMD("-ERR invalid cursor\r\n", "scan", "abc");
    CMD("-ERR invalid cursor\r\n", "scan", "1x");
    CMD("-ERR invalid cursor\r\n", "scan", "-");
    CMD("-ERR invalid cursor\r\n", "scan", "18446744073709551616");
    CMD("-ERR syntax error\r\n", "scan", "0", "count", "0");
    CMD("-ERR syntax error\r\n", "scan", "0", "count", "-1");
    CMD("-ERR value is not an integer or out of range\r\n", "scan", "0", "count", "x");
    CMD("-ERR syntax error\r\n", "scan", "0", "match");
    CMD("-ERR syntax error\r\n", "scan", "0", "count", "10", "count");
    CMD("-ERR syntax error\r\n", "scan", "0", "foo", "bar");
    CMD("-ERR wrong number of arguments for 'scan' command\r\n", "scan");
}

/* Runs one SCAN: returns the cursor and counts the keys it returned in
 * seen[]. */
static uint64_t scan_once(uint64_t cursor, const char *count, const char *match,
                          unsigned char *seen, size_t nkeys, size_t *returned)
{
    char cur[32];
    snprintf(cur, sizeof cur, "%llu", (unsigned long long)cursor);
    const char *a[6] = { "scan", cur, "count", count, "match", match };
    ptest_run_strs(&S, match != NULL ? 6 : 4, a);

    struct ptest_node n;
    ptest_parse_reply(&S.reply, &n);        /* exactly one reply */
    assert_true(n.type == '*' && n.nkids == 2);
    const struct ptest_node *next = &n.kids[0], *keys = &n.kids[1];
    assert_true(next->type == '$' && next->len < sizeof cur);
    memcpy(cur, next->str, next->len);
    cur[next->len] = '\0';
    assert_int_equal(keys->type, '*');
    for (size_t i = 0; i < keys->nkids; i++) {
        const struct ptest_node *k = &keys->kids[i];
        unsigned idx;
        char key[32];
        assert_int_equal(k->type, '$');
        assert_true(k->len > 4 && k->len < 31);
        memcpy(key, k->str, k->len);
        key[k->len] = '\0';
        assert_int_equal(sscanf(key, "key:%u", &idx), 1);
        assert_true(idx < nkeys);
        if (seen[idx] < 255)
            seen[idx]++;
    }
    *returned += keys->nkids;
    ptest_node_free(&n);
    reply_clear(&S.reply);
    return strtoull(cur, NULL, 10);
}

static void test_scan_complete(void **state)
{
    enum { N = 3000 };
    static unsigned char seen[N];
    char key[32], val[32];

    for (unsigned i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%u", i);
        snprintf(val, sizeof val, "%u", i);
        assert_int_equal(ks_set(key, strlen(key), val, strlen(val), KS_NO_EXPIRE), KS_OK);
    }
    CMD(":3000\r\n", "dbsize");

    const char *counts[] = { "1", "10", "97", "1000" };
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        memset(seen, 0, sizeof seen);
        uint64_t cur = 0;
        size_t returned = 0, calls = 0;
        do {
            cur = scan_once(cur, counts[c], NULL, seen, N, &returned);
            calls++;
        } while (cur != 0 && calls < 100000);
        assert_int_equal(cur, 0);
        for (unsigned i = 0; i < N; i++)
            assert_true(seen[i] >= 1);
        assert_true(returned >= N);
    }

    /* MATCH filters but still completes; keys stay visible while the
     * keyspace grows between calls (every key present throughout is seen) */
    memset(seen, 0, sizeof seen);
    uint64_t cur = 0;
    size_t returned = 0, calls = 0;
    unsigned extra = 0;
    do {
        cur = scan_once(cur, "20", "key:1*", seen, N, &returned);
        for (int j = 0; j < 20; j++, extra++) {     /* forces index resizes */
            snprintf(key, sizeof key, "other:%u", extra);
            assert_int_equal(ks_set(key, strlen(key), "x", 1, KS_NO_EXPIRE), KS_OK);
        }
        calls++;
    } while (cur != 0 && calls < 100000);
    for (unsigned i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%u", i);
        bool want = key[4] == '1';
        if (want)
            assert_true(seen[i] >= 1);
        else
            assert_int_equal(seen[i], 0);
    }
}

static void test_randomkey(void **state)
{
    CMD("$-1\r\n", "randomkey");
    CMD("+OK\r\n", "set", "only", "1");
    CMD("$4\r\nonly\r\n", "randomkey");
    CMD("+OK\r\n", "set", "two", "2");
    bool saw_only = false, saw_two = false;
    for (int i = 0; i < 200; i++) {
        const char *a[] = { "randomkey" };
        ptest_run_strs(&S, 1, a);
        if (S.reply.len == 10 && memcmp(S.reply.buf, "$4\r\nonly\r\n", 10) == 0)
            saw_only = true;
        else if (S.reply.len == 9 && memcmp(S.reply.buf, "$3\r\ntwo\r\n", 9) == 0)
            saw_two = true;
        else
            fail_msg("unexpected RANDOMKEY reply");
        reply_clear(&S.reply);
    }
    assert_true(saw_only && saw_two);
    CMD("+OK\r\n", "set", "gone", "1", "px", "5");
    CMD(":1\r\n", "del", "only");
    CMD(":1\r\n", "del", "two");
    ks_clock_set(T0 + 5);
    CMD("$-1\r\n", "randomkey");
}

/* ------------------------------------------------------------- binary, RESP3 */

static void test_binary_keys(void **state)
{
    struct slice set1[] = { SL("set"), SL("a\0b"), SL("v\0\r\n1") };
    command_dispatch(&S, 3, set1);
    ptest_expect_reply(&S, __FILE__, __LINE__, "+OK\r\n", 5);
    struct slice set2[] = { SL("set"), SL("a\0c"), SL("two") };
    command_dispatch(&S, 3, set2);
    ptest_expect_reply(&S, __FILE__, __LINE__, "+OK\r\n", 5);
    struct slice set3[] = { SL("set"), SL("a"), SL("plain") };
    command_dispatch(&S, 3, set3);
    ptest_expect_reply(&S, __FILE__, __LINE__, "+OK\r\n", 5);

    struct slice get1[] = { SL("get"), SL("a\0b") };
    command_dispatch(&S, 2, get1);
    ptest_expect_reply(&S, __FILE__, __LINE__, "$5\r\nv\0\r\n1\r\n", 11);
    struct slice get2[] = { SL("get"), SL("a\0c") };
    command_dispatch(&S, 2, get2);
    ptest_expect_reply(&S, __FILE__, __LINE__, "$3\r\ntwo\r\n", 9);
    CMD("$5\r\nplain\r\n", "get", "a");
    CMD(":3\r\n", "dbsize");

    struct slice ex[] = { SL("exists"), SL("a\0b"), SL("a\0"), SL("a\0c") };
    command_dispatch(&S, 4, ex);
    ptest_expect_reply(&S, __FILE__, __LINE__, ":2\r\n", 4);

    struct slice kp[] = { SL("keys"), SL("a\0[bc]") };
    command_dispatch(&S, 2, kp);
    assert_true(S.reply.len == 22);   /* *2 then two 3-byte bulks, any order */
    assert_memory_equal(S.reply.buf, "*2\r\n$3\r\na\0", 10);
    reply_clear(&S.reply);

    struct slice ren[] = { SL("rename"), SL("a\0b"), SL("b\0") };
    command_dispatch(&S, 3, ren);
    ptest_expect_reply(&S, __FILE__, __LINE__, "+OK\r\n", 5);
    struct slice get3[] = { SL("getrange"), SL("b\0"), SL("1"), SL("2") };
    command_dispatch(&S, 4, get3);
    ptest_expect_reply(&S, __FILE__, __LINE__, "$2\r\n\0\r\r\n", 8);
    struct slice app[] = { SL("append"), SL("b\0"), SL("\0") };
    command_dispatch(&S, 3, app);
    ptest_expect_reply(&S, __FILE__, __LINE__, ":6\r\n", 4);
    struct slice del[] = { SL("del"), SL("b\0"), SL("a\0c"), SL("a\0b") };
    command_dispatch(&S, 4, del);
    ptest_expect_reply(&S, __FILE__, __LINE__, ":2\r\n", 4);
    CMD(":1\r\n", "dbsize");
}

static void test_resp3(void **state)
{
    S.reply.resp = 3;
    CMD("_\r\n", "get", "nokey");
    CMD("+OK\r\n", "set", "a", "1", "nx");
    CMD("_\r\n", "set", "a", "1", "nx");
    CMD("$1\r\n1\r\n", "set", "a", "2", "nx", "get");
    CMD("_\r\n", "set", "z", "2", "xx");
    CMD("_\r\n", "set", "z", "2", "xx", "get");
    CMD("*2\r\n$1\r\n1\r\n_\r\n", "mget", "a", "nokey");
    CMD("_\r\n", "getdel", "nokey");
    CMD("_\r\n", "getex", "nokey");
    CMD("_\r\n", "getset", "nokey2", "1");
    CMD(":1\r\n", "del", "nokey2");
    CMD("$1\r\na\r\n", "randomkey");
    CMD("+OK\r\n", "flushall");
    CMD("_\r\n", "randomkey");
    CMD("$3\r\n1.5\r\n", "incrbyfloat", "f", "1.5");    /* a bulk, as in Redis */
    CMD("*2\r\n$1\r\n0\r\n*1\r\n$1\r\nf\r\n", "scan", "0");
    CMD("*1\r\n$1\r\nf\r\n", "keys", "*");
    CMD(":-2\r\n", "ttl", "nokey");
    CMD("$0\r\n\r\n", "getrange", "nokey", "0", "1");
}

/* ------------------------------------------------------------- out of memory */

static void test_nomem(void **state)
{
    CMD("+OK\r\n", "set", "a", "old");
    CMD("+OK\r\n", "set", "n", "9", "ex", "100");
    CMD("+OK\r\n", "set", "t", "v");
    ks_test_fault_hooks(ptest_failing_block_alloc, NULL);
    ptest_fail_blocks = true;

    const char oom[] = "-OOM cannot allocate memory for this value\r\n";
    CMD(oom, "set", "a", "new");
    CMD(oom, "set", "a", "new", "get");     /* no half reply before the error */
    CMD(oom, "set", "b", "new");
    CMD(oom, "setnx", "b", "new");
    CMD(oom, "setex", "a", "10", "new");
    CMD(oom, "getset", "a", "new");
    CMD(oom, "append", "a", "more");
    CMD(oom, "setrange", "a", "5", "x");
    CMD(oom, "incr", "n");                  /* 9 -> 10 needs a new entry */
    CMD(oom, "incrbyfloat", "n", "1.5");
    CMD(oom, "mset", "a", "1");
    CMD(oom, "msetnx", "c", "1");
    CMD(oom, "rename", "a", "z");
    CMD(oom, "persist", "n");               /* dropping the TTL moves the entry */
    CMD(oom, "expire", "t", "100");
    CMD(oom, "getex", "t", "ex", "100");

    /* nothing changed */
    CMD("$3\r\nold\r\n", "get", "a");
    CMD(":0\r\n", "exists", "b", "c", "z");
    CMD("$1\r\n9\r\n", "get", "n");
    CMD(":100\r\n", "ttl", "n");
    CMD(":-1\r\n", "ttl", "t");

    /* in-place updates need no memory */
    CMD(":8\r\n", "decr", "n");
    CMD(":3\r\n", "setrange", "a", "0", "O");
    CMD("$3\r\nOld\r\n", "get", "a");
    CMD(":1\r\n", "del", "t");

    ptest_fail_blocks = false;
    ks_test_fault_hooks(NULL, NULL);
    CMD("+OK\r\n", "set", "a", "new");
    CMD("$3\r\nnew\r\n", "get", "a");
}

/* ------------------------------------------------------------- the table */

static void test_table(void **state)
{
    /* every row is registered once; proto_setup is idempotent */
    size_t n = command_count();
    assert_int_equal(n, 64);     /* COMMAND, MEMORY and 62 data commands */
    assert_int_equal(proto_setup(), 0);
    assert_int_equal(command_count(), n);

    const struct command *c = command_lookup("SET", 3);
    assert_non_null(c);
    assert_int_equal(c->arity, -3);
    assert_int_equal(c->flags, CMD_WRITE | CMD_DENYOOM);
    assert_int_equal(c->first_key, 1);
    assert_int_equal(c->last_key, 1);
    assert_string_equal(c->group, "string");
    assert_string_equal(c->since, "1.0.0");

    c = command_lookup("mset", 4);
    assert_non_null(c);
    assert_int_equal(c->last_key, -1);
    assert_int_equal(c->key_step, 2);

    c = command_lookup("rename", 6);
    assert_int_equal(c->last_key, 2);
    c = command_lookup("getrange", 8);
    assert_int_equal(c->flags, CMD_READONLY);
    c = command_lookup("echo", 4);
    assert_int_equal(c->flags, CMD_LOADING | CMD_STALE | CMD_FAST);
    c = command_lookup("expiretime", 10);
    assert_string_equal(c->since, "7.0.0");
    c = command_lookup("command", 7);
    assert_non_null(c);
    assert_ptr_equal(c->proc, cmd_command);

    char exp[32];
    snprintf(exp, sizeof exp, ":%zu\r\n", n);
    CMDS(exp, "command", "count");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_misc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setnx_setex_getset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mget_mset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_strlen_getrange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setrange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incr_decr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incrbyfloat, setup, teardown),
        cmocka_unit_test(test_long_double_format),
        cmocka_unit_test_setup_teardown(test_del_exists_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
        cmocka_unit_test(test_glob),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_randomkey, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nomem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
