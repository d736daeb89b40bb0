/*
 * Unit tests for cmd_bit.c (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
 * BITFIELD, BITFIELD_RO): each request goes through command_dispatch on a
 * real keyspace with a pinned clock, and the exact reply bytes are
 * compared. The expectations in test_bits_reference were produced by
 * redis-server 7.0.15 for the same requests; the other tests cover the
 * offset limit, out-of-memory and WATCH notification by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"
#include "proto/internal.h"
#include "tests/unit/proto/support.h"

/* Normal and error cases of every bit command, as Redis 7.0.15 answers. */
static void test_bits_reference(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD("+OK\r\n", "set", "k", "foobar");
    CMD(":26\r\n", "bitcount", "k");
    CMD(":4\r\n", "bitcount", "k", "0", "0");
    CMD(":6\r\n", "bitcount", "k", "1", "1");
    CMD(":6\r\n", "bitcount", "k", "1", "1", "byte");
    CMD(":17\r\n", "bitcount", "k", "5", "30", "bit");
    CMD(":1\r\n", "bitcount", "k", "-3", "-1", "bit");
    CMD(":26\r\n", "bitcount", "k", "0", "-1", "BIT");
    CMD(":0\r\n", "bitcount", "k", "-1", "-2", "foo");
    CMD("-ERR syntax error\r\n", "bitcount", "k", "0", "-1", "bar");
    CMD("-ERR syntax error\r\n", "bitcount", "k", "1");
    CMD("-ERR value is not an integer or out of range\r\n", "bitcount", "k", "a", "b");
    CMD("-ERR syntax error\r\n", "bitcount", "k", "0", "1", "bit", "x");
    CMD(":0\r\n", "bitcount", "nokey", "a", "b");
    CMD(":0\r\n", "bitcount", "nokey");
    CMD(":0\r\n", "bitcount", "k", "100", "200");
    CMD(":26\r\n", "bitcount", "k", "-100", "-1");
    CMD(":26\r\n", "bitcount", "k", "0", "100", "bit");
    CMD("+OK\r\n", "set", "e", "");
    CMD(":0\r\n", "bitcount", "e");
    CMD(":-1\r\n", "bitpos", "e", "0");
    CMD(":-1\r\n", "bitpos", "e", "1");
    CMD(":-1\r\n", "bitpos", "e", "0", "0");
    CMD("+OK\r\n", "set", "mykey", "\377\360\001");
    CMD(":12\r\n", "bitpos", "mykey", "0");
    CMD(":0\r\n", "bitpos", "mykey", "1");
    CMD(":23\r\n", "bitpos", "mykey", "1", "2");
    CMD(":12\r\n", "bitpos", "mykey", "0", "0");
    CMD(":-1\r\n", "bitpos", "mykey", "0", "0", "0");
    CMD(":12\r\n", "bitpos", "mykey", "0", "0", "-1");
    CMD(":23\r\n", "bitpos", "mykey", "1", "2", "-1", "byte");
    CMD(":7\r\n", "bitpos", "mykey", "1", "7", "15", "bit");
    CMD(":12\r\n", "bitpos", "mykey", "0", "7", "15", "bit");
    CMD(":-1\r\n", "bitpos", "mykey", "0", "8", "11", "bit");
    CMD(":23\r\n", "bitpos", "mykey", "1", "16", "23", "bit");
    CMD(":-1\r\n", "bitpos", "mykey", "1", "17", "17", "bit");
    CMD(":12\r\n", "bitpos", "mykey", "0", "0", "-1", "bit");
    CMD(":21\r\n", "bitpos", "mykey", "0", "-3", "-1", "bit");
    CMD("-ERR The bit argument must be 1 or 0.\r\n", "bitpos", "mykey", "2");
    CMD("-ERR value is not an integer or out of range\r\n", "bitpos", "mykey", "x");
    CMD("-ERR value is not an integer or out of range\r\n", "bitpos", "mykey", "1", "x");
    CMD("-ERR value is not an integer or out of range\r\n", "bitpos", "mykey", "1", "0", "x");
    CMD("-ERR syntax error\r\n", "bitpos", "mykey", "1", "0", "1", "foo");
    CMD("-ERR syntax error\r\n", "bitpos", "mykey", "1", "0", "1", "bit", "extra");
    CMD(":0\r\n", "bitpos", "nokey", "0");
    CMD(":-1\r\n", "bitpos", "nokey", "1");
    CMD(":-1\r\n", "bitpos", "nokey", "1", "a", "b", "c", "d");
    CMD("+OK\r\n", "set", "ones", "\377\377");
    CMD(":16\r\n", "bitpos", "ones", "0");
    CMD(":16\r\n", "bitpos", "ones", "0", "0");
    CMD(":-1\r\n", "bitpos", "ones", "0", "0", "-1");
    CMD(":16\r\n", "bitpos", "ones", "0", "1");
    CMD(":-1\r\n", "bitpos", "ones", "0", "0", "5", "bit");
    CMD(":-1\r\n", "bitpos", "ones", "1", "5", "3", "bit");
    CMD(":0\r\n", "setbit", "sb", "7", "1");
    CMD("$1\r\n\001\r\n", "get", "sb");
    CMD(":1\r\n", "setbit", "sb", "7", "0");
    CMD(":0\r\n", "setbit", "sb", "7", "1");
    CMD(":0\r\n", "setbit", "sb", "100", "1");
    CMD(":13\r\n", "strlen", "sb");
    CMD(":1\r\n", "getbit", "sb", "100");
    CMD(":0\r\n", "getbit", "sb", "101");
    CMD(":0\r\n", "getbit", "sb", "99999");
    CMD(":0\r\n", "getbit", "nokey", "0");
    CMD("-ERR bit offset is not an integer or out of range\r\n", "setbit", "sb", "-1", "1");
    CMD("-ERR bit offset is not an integer or out of range\r\n", "setbit", "sb", "4294967296", "1");
    CMD("-ERR bit offset is not an integer or out of range\r\n", "setbit", "sb", "x", "1");
    CMD("-ERR bit is not an integer or out of range\r\n", "setbit", "sb", "0", "2");
    CMD("-ERR bit is not an integer or out of range\r\n", "setbit", "sb", "0", "-1");
    CMD("-ERR bit is not an integer or out of range\r\n", "setbit", "sb", "0", "x");
    CMD("-ERR bit offset is not an integer or out of range\r\n", "getbit", "sb", "-1");
    CMD("-ERR bit offset is not an integer or out of range\r\n", "getbit", "sb", "4294967296");
    CMD("-ERR bit offset is not an integer or out of range\r\n", "getbit", "sb", "x");
    CMD("-ERR wrong number of arguments for 'setbit' command\r\n", "setbit", "sb", "1");
    CMD("-ERR wrong number of arguments for 'getbit' command\r\n", "getbit", "sb");
    CMD("+OK\r\n", "set", "a1", "\017\360");
    CMD("+OK\r\n", "set", "a2", "\360");
    CMD(":2\r\n", "bitop", "and", "d", "a1", "a2");
    CMD("$2\r\n\000\000\r\n", "get", "d");
    CMD(":2\r\n", "bitop", "or", "d", "a1", "a2");
    CMD("$2\r\n\377\360\r\n", "get", "d");
    CMD(":2\r\n", "bitop", "xor", "d", "a1", "a2");
    CMD("$2\r\n\377\360\r\n", "get", "d");
    CMD(":2\r\n", "bitop", "not", "d", "a1");
    CMD("$2\r\n\360\017\r\n", "get", "d");
    CMD(":2\r\n", "bitop", "and", "d", "a1", "nokey");
    CMD("$2\r\n\000\000\r\n", "get", "d");
    CMD(":0\r\n", "bitop", "or", "d", "nokey", "nokey2");
    CMD(":0\r\n", "exists", "d");
    CMD("-ERR syntax error\r\n", "bitop", "foo", "d", "a1");
    CMD("-ERR BITOP NOT must be called with a single source key.\r\n",
        "bitop", "not", "d", "a1", "a2");
    CMD(":2\r\n", "bitop", "AND", "d", "a1");
    CMD("-ERR wrong number of arguments for 'bitop' command\r\n", "bitop", "and", "d");
    CMD("+OK\r\n", "set", "d", "x", "ex", "100");
    CMD(":2\r\n", "bitop", "or", "d", "a1");
    CMD(":-1\r\n", "ttl", "d");
    CMD("*1\r\n:0\r\n", "bitfield", "bf", "set", "i8", "0", "100");
    CMD("*1\r\n:100\r\n", "bitfield", "bf", "get", "i8", "0");
    CMD("*1\r\n:-56\r\n", "bitfield", "bf", "incrby", "i8", "0", "100");
    CMD("*1\r\n:44\r\n", "bitfield", "bf", "overflow", "sat", "incrby", "i8", "0", "100");
    CMD("*1\r\n:-128\r\n", "bitfield", "bf", "overflow", "sat", "incrby", "i8", "0", "-300");
    CMD("*1\r\n$-1\r\n", "bitfield", "bf", "overflow", "fail", "incrby", "i8", "0", "-1");
    CMD("*1\r\n$-1\r\n", "bitfield", "bf", "overflow", "fail", "incrby", "i8", "0", "-300");
    CMD("*3\r\n:1\r\n:1\r\n:1\r\n",
        "bitfield", "bf", "overflow", "wrap", "incrby", "u2", "100", "1", "overflow", "sat", "incrby", "u2", "102", "1", "overflow", "fail", "incrby", "u2", "104", "1");
    CMD("*3\r\n:2\r\n:2\r\n:2\r\n",
        "bitfield", "bf", "overflow", "wrap", "incrby", "u2", "100", "1", "overflow", "sat", "incrby", "u2", "102", "1", "overflow", "fail", "incrby", "u2", "104", "1");
    CMD("*3\r\n:3\r\n:3\r\n:3\r\n",
        "bitfield", "bf", "overflow", "wrap", "incrby", "u2", "100", "1", "overflow", "sat", "incrby", "u2", "102", "1", "overflow", "fail", "incrby", "u2", "104", "1");
    CMD("*3\r\n:0\r\n:3\r\n$-1\r\n",
        "bitfield", "bf", "overflow", "wrap", "incrby", "u2", "100", "1", "overflow", "sat", "incrby", "u2", "102", "1", "overflow", "fail", "incrby", "u2", "104", "1");
    CMD("*4\r\n:0\r\n:255\r\n:255\r\n:44\r\n",
        "bitfield", "bf", "set", "u8", "#3", "-1", "get", "u8", "#3", "set", "u8", "#3", "300", "get", "u8", "#3");
    CMD("*4\r\n:44\r\n:255\r\n:255\r\n:255\r\n",
        "bitfield", "bf", "overflow", "sat", "set", "u8", "#3", "-1", "get", "u8", "#3", "set", "u8", "#3", "300", "get", "u8", "#3");
    CMD("*4\r\n$-1\r\n:255\r\n$-1\r\n:255\r\n",
        "bitfield", "bf", "overflow", "fail", "set", "u8", "#3", "-1", "get", "u8", "#3", "set", "u8", "#3", "300", "get", "u8", "#3");
    CMD("*6\r\n:-9223370941638115328\r\n:-1\r\n:9223372036854775807\r\n:-2\r\n:1\r\n:-1\r\n",
        "bitfield", "bf", "set", "i64", "0", "-1", "get", "i64", "0", "get", "u63", "0", "get", "i64", "1", "get", "u1", "0", "get", "i1", "0");
    CMD("*4\r\n:-1\r\n:-9223372036854775808\r\n:-1\r\n:0\r\n",
        "bitfield", "bf", "set", "i64", "0", "9223372036854775807", "incrby", "i64", "0", "1", "overflow", "sat", "incrby", "i64", "0", "9223372036854775807", "overflow", "fail", "incrby", "i64", "0", "1");
    CMD("*3\r\n:62914560\r\n:-9223372036854775808\r\n:9223372036854775807\r\n",
        "bitfield", "bf", "overflow", "sat", "set", "i64", "64", "-9223372036854775808", "incrby", "i64", "64", "-1", "overflow", "wrap", "incrby", "i64", "64", "-1");
    CMD("*4\r\n:0\r\n:-16\r\n:15\r\n:15\r\n",
        "bitfield", "bf", "set", "i5", "13", "-16", "get", "i5", "13", "incrby", "i5", "13", "-1", "get", "u5", "13");
    CMD("*3\r\n:0\r\n:9223372036854775807\r\n:9223372036854775807\r\n",
        "bitfield", "bf", "overflow", "sat", "incrby", "u63", "200", "-5", "incrby", "u63", "200", "9223372036854775807", "incrby", "u63", "200", "1");
    CMD("*2\r\n:0\r\n:0\r\n", "bitfield", "bf", "get", "i8", "10000", "get", "u7", "7");
    CMD("$33\r\n\000\003\300\000\000\000\000\000\177\377\377\377\377\377\377\377\000\000\000\000\000\000\000\000\000\377\377\377\377\377\377\377\376\r\n",
        "get", "bf");
    CMD("*0\r\n", "bitfield", "bf");
    CMD("*1\r\n:0\r\n", "bitfield", "nokey", "get", "i8", "0");
    CMD(":0\r\n", "exists", "nokey");
    CMD("*1\r\n$-1\r\n", "bitfield", "nokey2", "overflow", "fail", "incrby", "i8", "0", "200");
    CMD(":1\r\n", "exists", "nokey2");
    CMD("$1\r\n\000\r\n", "get", "nokey2");
    CMD("-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n",
        "bitfield", "k", "get", "I8", "0");
    CMD("-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n",
        "bitfield", "k", "get", "u64", "0");
    CMD("-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n",
        "bitfield", "k", "get", "i65", "0");
    CMD("-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n",
        "bitfield", "k", "get", "i0", "0");
    CMD("-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n",
        "bitfield", "k", "get", "i", "0");
    CMD("-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n",
        "bitfield", "k", "get", "x8", "0");
    CMD("-ERR bit offset is not an integer or out of range\r\n",
        "bitfield", "k", "get", "i8", "#-1");
    CMD("-ERR bit offset is not an integer or out of range\r\n",
        "bitfield", "k", "get", "i8", "-1");
    CMD("-ERR bit offset is not an integer or out of range\r\n",
        "bitfield", "k", "get", "i8", "#-0");
    CMD("-ERR bit offset is not an integer or out of range\r\n",
        "bitfield", "k", "get", "i8", "#x");
    CMD("-ERR bit offset is not an integer or out of range\r\n",
        "bitfield", "k", "get", "i8", "#536870912");
    CMD("*1\r\n:0\r\n", "bitfield", "k", "get", "i8", "#536870911");
    CMD("-ERR bit offset is not an integer or out of range\r\n",
        "bitfield", "k", "get", "i64", "#67108864");
    CMD("*1\r\n:0\r\n", "bitfield", "k", "get", "i64", "#67108863");
    CMD("-ERR bit offset is not an integer or out of range\r\n",
        "bitfield", "k", "get", "i8", "4294967296");
    CMD("*1\r\n:0\r\n", "bitfield", "k", "get", "i8", "4294967295");
    CMD("-ERR Invalid OVERFLOW type specified\r\n", "bitfield", "k", "overflow", "foo");
    CMD("-ERR syntax error\r\n", "bitfield", "k", "overflow");
    CMD("-ERR value is not an integer or out of range\r\n",
        "bitfield", "k", "incrby", "i8", "0", "x");
    CMD("-ERR syntax error\r\n", "bitfield", "k", "set", "i8", "0");
    CMD("-ERR syntax error\r\n", "bitfield", "k", "foo");
    CMD("-ERR syntax error\r\n", "bitfield", "k", "get", "i8");
    CMD("-ERR syntax error\r\n", "bitfield", "k", "get", "i8", "0", "set");
    CMD("-ERR Invalid OVERFLOW type specified\r\n",
        "bitfield", "k", "get", "i8", "0", "overflow", "bad", "set", "i8", "0", "1");
    CMD("-ERR BITFIELD_RO only supports the GET subcommand\r\n",
        "bitfield_ro", "k", "set", "i8", "0", "1");
    CMD("-ERR BITFIELD_RO only supports the GET subcommand\r\n",
        "bitfield_ro", "k", "incrby", "i8", "0", "1");
    CMD("*0\r\n", "bitfield_ro", "k", "overflow", "wrap");
    CMD("-ERR syntax error\r\n", "bitfield_ro", "k", "get", "i8", "0", "set");
    CMD("*2\r\n:102\r\n:6\r\n", "bitfield_ro", "k", "get", "i8", "0", "get", "u4", "4");
    CMD("*1\r\n:0\r\n", "bitfield_ro", "nokey", "get", "i8", "0");
    CMD("*0\r\n", "bitfield_ro", "k");
    CMD("-ERR wrong number of arguments for 'bitfield' command\r\n", "bitfield");
    CMD("-ERR wrong number of arguments for 'bitfield_ro' command\r\n", "bitfield_ro");
    CMD("*2\r\n:102\r\n:1\r\n", "bitfield", "k", "set", "i8", "0", "1", "get", "i8", "0");
    CMD("*1\r\n$-1\r\n", "bitfield", "k", "overflow", "FAIL", "set", "i8", "0", "1000");
    CMD("$6\r\n\001oobar\r\n", "get", "k");
    CMD("$3\r\n\377\360\001\r\n", "get", "mykey");
}

/* The offset limit follows proto-max-bulk-len: the byte holding the bit
 * (or the field's first bit) must lie below it. */
static void test_bit_limits(void **state)
{
    (void)state;
    const char err[] = "-ERR bit offset is not an integer or out of range\r\n";
    CMD("+OK\r\n", "flushall");
    CMD(err, "setbit", "k", "4294967296", "1");              /* byte 512 Mi */
    CMD(err, "getbit", "k", "4294967296");
    CMD(err, "setbit", "k", "9223372036854775808", "1");     /* not a long long */
    CMD(err, "bitfield", "k", "set", "i8", "#536870912", "1");
    CMD(err, "bitfield", "k", "get", "i64", "#144115188075855872"); /* * 64 overflows */
    CMD(err, "bitfield_ro", "k", "get", "u8", "#-1");
    CMD(":0\r\n", "exists", "k");

    proto_set_max_value_len(1000);
    CMD(":0\r\n", "setbit", "k", "7999", "1");
    CMD(":1000\r\n", "strlen", "k");
    CMD(err, "setbit", "k", "8000", "1");
    CMD(err, "getbit", "k", "8000");
    CMD("*1\r\n:1\r\n", "bitfield", "k", "get", "u8", "#999");
    CMD(err, "bitfield", "k", "get", "u8", "#1000");
    /* a field may start below the limit and end past it, as in Redis */
    CMD("*1\r\n:32768\r\n", "bitfield", "k", "set", "u16", "7999", "0");
    CMD(":1002\r\n", "strlen", "k");
    proto_set_max_value_len(RESP_DEFAULT_MAX_BULK);
}

/* Growing a value needs a new entry: when that fails the command answers
 * OOM before any other reply byte and the old value is intact; changes
 * inside the value need no memory. */
static void test_bit_nomem(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD("+OK\r\n", "set", "k", "a");
    ks_test_fault_hooks(ptest_failing_block_alloc, NULL);
    ptest_fail_blocks = true;
    const char oom[] = "-OOM cannot allocate memory for this value\r\n";
    CMD(oom, "setbit", "k", "8", "1");
    CMD(oom, "setbit", "new", "0", "1");
    CMD(oom, "bitfield", "k", "get", "u8", "0", "set", "u8", "8", "1");
    CMD(oom, "bitop", "not", "d", "k");
    CMD("$1\r\na\r\n", "get", "k");
    CMD(":0\r\n", "exists", "new");
    CMD(":1\r\n", "setbit", "k", "7", "0");          /* 'a' = 0x61: bit 7 was 1 */
    CMD(":1\r\n", "getbit", "k", "1");
    CMD("*2\r\n:96\r\n:98\r\n", "bitfield", "k", "set", "u8", "0", "98", "get", "u8", "0");
    CMD("$1\r\nb\r\n", "get", "k");
    ptest_fail_blocks = false;
    ks_test_fault_hooks(NULL, NULL);
}

/* Growth and expiry: a grown value keeps the key's TTL; BITOP's result
 * has none. */
static void test_bit_ttl(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD("+OK\r\n", "set", "k", "a", "ex", "100");
    CMD(":0\r\n", "setbit", "k", "100", "1");
    CMD(":100\r\n", "ttl", "k");
    CMD("*1\r\n:0\r\n", "bitfield", "k", "set", "i8", "#100", "1");
    CMD(":100\r\n", "ttl", "k");
    CMD(":101\r\n", "bitop", "or", "k", "k");
    CMD(":-1\r\n", "ttl", "k");
}

/* Bit commands notify WATCH only when they change something. */
static void test_bit_watch(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD("+OK\r\n", "set", "k", "a");
    CMD("+OK\r\n", "watch", "k");
    CMD2(":1\r\n", "setbit", "k", "1", "1");         /* unchanged */
    CMD2("*1\r\n:97\r\n", "bitfield", "k", "get", "u8", "0");
    CMD2("*1\r\n$-1\r\n", "bitfield", "k", "overflow", "fail", "incrby", "u8", "0", "1000");
    CMD2(":0\r\n", "bitcount", "k", "0", "0", "bit");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "get", "k");
    CMD("*1\r\n$1\r\na\r\n", "exec");

    CMD("+OK\r\n", "watch", "k");
    CMD2("*1\r\n:98\r\n", "bitfield", "k", "incrby", "u8", "0", "1");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "get", "k");
    CMD("*-1\r\n", "exec");

    CMD("+OK\r\n", "watch", "k");
    CMD2(":0\r\n", "setbit", "k", "7", "1");
    CMD("+OK\r\n", "multi");
    CMD("*-1\r\n", "exec");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bits_reference),
        cmocka_unit_test(test_bit_limits),
        cmocka_unit_test(test_bit_nomem),
        cmocka_unit_test(test_bit_ttl),
        cmocka_unit_test(test_bit_watch),
    };
    return cmocka_run_group_tests(tests, ptest_fixture_setup, ptest_fixture_teardown);
}
