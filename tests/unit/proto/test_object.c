/*
 * Unit tests for cmd_object.c (LCS, COPY, OBJECT) and SUBSTR: each request
 * goes through command_dispatch on a real keyspace with a pinned clock and
 * the exact reply bytes are compared. test_object_reference's expectations
 * were produced by redis-server 7.0.15 for the same requests; the others
 * cover what is compactd's own (OBJECT's honest values, limits, OOM, RESP3)
 * by hand.
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

static void test_object_reference(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD("+OK\r\n", "set", "a", "ohmytext");
    CMD("+OK\r\n", "set", "b", "mynewtext");
    CMD("$6\r\nmytext\r\n", "lcs", "a", "b");
    CMD(":6\r\n", "lcs", "a", "b", "len");
    CMD("*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n",
        "LCS", "a", "b", "IDX");
    CMD("*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n",
        "lcs", "a", "b", "idx", "minmatchlen", "4", "withmatchlen");
    CMD("*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n",
        "lcs", "a", "b", "idx", "withmatchlen");
    CMD("*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n",
        "lcs", "a", "b", "idx", "minmatchlen", "2");
    CMD("-ERR If you want both the length and indexes, please just use IDX.\r\n",
        "lcs", "a", "b", "len", "idx");
    CMD("-ERR If you want both the length and indexes, please just use IDX.\r\n",
        "lcs", "a", "b", "idx", "len");
    CMD("-ERR syntax error\r\n", "lcs", "a", "b", "foo");
    CMD("-ERR syntax error\r\n", "lcs", "a", "b", "minmatchlen");
    CMD("-ERR value is not an integer or out of range\r\n", "lcs", "a", "b", "minmatchlen", "x");
    CMD("$0\r\n\r\n", "lcs", "a", "nokey");
    CMD("*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n", "lcs", "a", "nokey", "idx");
    CMD(":0\r\n", "lcs", "nokey", "nokey2", "len");
    CMD("*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n",
        "lcs", "a", "b", "idx", "minmatchlen", "-5");
    CMD("-ERR wrong number of arguments for 'lcs' command\r\n", "lcs", "a");
    CMD("+OK\r\n", "set", "x1", "abcabcabcabc");
    CMD("+OK\r\n", "set", "x2", "cbacbacbacba");
    CMD("$7\r\ncbacabc\r\n", "lcs", "x1", "x2");
    CMD("*4\r\n$7\r\nmatches\r\n*7\r\n*3\r\n*2\r\n:11\r\n:11\r\n*2\r\n:9\r\n:9\r\n:1\r\n*3\r\n*2\r\n:10\r\n:10\r\n*2\r\n:7\r\n:7\r\n:1\r\n*3\r\n*2\r\n:9\r\n:9\r\n*2\r\n:5\r\n:5\r\n:1\r\n*3\r\n*2\r\n:8\r\n:8\r\n*2\r\n:3\r\n:3\r\n:1\r\n*3\r\n*2\r\n:6\r\n:6\r\n*2\r\n:2\r\n:2\r\n:1\r\n*3\r\n*2\r\n:4\r\n:4\r\n*2\r\n:1\r\n:1\r\n:1\r\n*3\r\n*2\r\n:2\r\n:2\r\n*2\r\n:0\r\n:0\r\n:1\r\n$3\r\nlen\r\n:7\r\n",
        "lcs", "x1", "x2", "idx", "withmatchlen");
    CMD("*4\r\n$7\r\nmatches\r\n*7\r\n*3\r\n*2\r\n:11\r\n:11\r\n*2\r\n:9\r\n:9\r\n:1\r\n*3\r\n*2\r\n:10\r\n:10\r\n*2\r\n:7\r\n:7\r\n:1\r\n*3\r\n*2\r\n:9\r\n:9\r\n*2\r\n:5\r\n:5\r\n:1\r\n*3\r\n*2\r\n:8\r\n:8\r\n*2\r\n:3\r\n:3\r\n:1\r\n*3\r\n*2\r\n:6\r\n:6\r\n*2\r\n:2\r\n:2\r\n:1\r\n*3\r\n*2\r\n:4\r\n:4\r\n*2\r\n:1\r\n:1\r\n:1\r\n*3\r\n*2\r\n:2\r\n:2\r\n*2\r\n:0\r\n:0\r\n:1\r\n$3\r\nlen\r\n:7\r\n",
        "lcs", "x2", "x1", "idx", "withmatchlen");
    CMD("+OK\r\n", "set", "x3", "aaaa");
    CMD("+OK\r\n", "set", "x4", "aa");
    CMD("*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:2\r\n",
        "lcs", "x3", "x4", "idx", "withmatchlen");
    CMD("*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:0\r\n:1\r\n*2\r\n:2\r\n:3\r\n$3\r\nlen\r\n:2\r\n",
        "lcs", "x4", "x3", "idx");
    CMD("*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:0\r\n:3\r\n*2\r\n:0\r\n:3\r\n$3\r\nlen\r\n:4\r\n",
        "lcs", "x3", "x3", "idx");
    CMD("-ERR source and destination objects are the same\r\n", "copy", "a", "a");
    CMD(":1\r\n", "copy", "a", "c", "db", "0");
    CMD("$8\r\nohmytext\r\n", "get", "c");
    CMD(":0\r\n", "copy", "a", "c");
    CMD(":1\r\n", "copy", "a", "c", "replace");
    CMD("-ERR value is not an integer or out of range\r\n", "copy", "a", "c", "db", "x");
    CMD("-ERR DB index is out of range\r\n", "copy", "a", "c", "db", "16");
    CMD("-ERR DB index is out of range\r\n", "copy", "a", "c", "db", "-1");
    CMD("-ERR syntax error\r\n", "copy", "a", "c", "db");
    CMD("-ERR syntax error\r\n", "copy", "a", "c", "foo");
    CMD(":0\r\n", "copy", "nokey", "c");
    CMD(":0\r\n", "copy", "nokey", "c", "replace");
    CMD("-ERR wrong number of arguments for 'copy' command\r\n", "copy", "a");
    CMD("+OK\r\n", "set", "t", "v", "ex", "100");
    CMD(":1\r\n", "copy", "t", "t2");
    CMD(":100\r\n", "ttl", "t2");
    CMD(":1\r\n", "copy", "a", "c", "replace", "db", "0", "replace");
    CMD("$3\r\nohm\r\n", "substr", "a", "0", "2");
    CMD("$3\r\next\r\n", "substr", "a", "-3", "-1");
    CMD("-ERR wrong number of arguments for 'substr' command\r\n", "substr", "a");
    CMD("$0\r\n\r\n", "substr", "nokey", "0", "1");
    CMD("-ERR value is not an integer or out of range\r\n", "substr", "a", "x", "1");
    CMD("*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n+    Return the kind of internal representation used in order to store the value\r\n+    associated with a <key>.\r\n+FREQ <key>\r\n+    Return the access frequency index of the <key>. The returned integer is\r\n+    proportional to the logarithm of the recent access frequency of the key.\r\n+IDLETIME <key>\r\n+    Return the idle time of the <key>, that is the approximated number of\r\n+    seconds elapsed since the last access to the key.\r\n+REFCOUNT <key>\r\n+    Return the number of references of the value associated with the specified\r\n+    <key>.\r\n+HELP\r\n+    Prints this help.\r\n",
        "object", "help");
    CMD("*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n+    Return the kind of internal representation used in order to store the value\r\n+    associated with a <key>.\r\n+FREQ <key>\r\n+    Return the access frequency index of the <key>. The returned integer is\r\n+    proportional to the logarithm of the recent access frequency of the key.\r\n+IDLETIME <key>\r\n+    Return the idle time of the <key>, that is the approximated number of\r\n+    seconds elapsed since the last access to the key.\r\n+REFCOUNT <key>\r\n+    Return the number of references of the value associated with the specified\r\n+    <key>.\r\n+HELP\r\n+    Prints this help.\r\n",
        "object", "HELP");
    CMD("-ERR wrong number of arguments for 'object|help' command\r\n", "object", "help", "x");
    CMD("-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n", "object", "foo");
    CMD("-ERR wrong number of arguments for 'object' command\r\n", "object");
    CMD("-ERR wrong number of arguments for 'object|encoding' command\r\n", "object", "encoding");
    CMD("$-1\r\n", "object", "encoding", "nokey");
    CMD("+OK\r\n", "set", "i", "123");
    CMD("$3\r\nint\r\n", "object", "encoding", "i");
    CMD("+OK\r\n", "set", "e", "abc");
    CMD("$6\r\nembstr\r\n", "object", "encoding", "e");
    CMD("+OK\r\n", "set", "big", "12345678901234567890");
    CMD("$6\r\nembstr\r\n", "object", "encoding", "big");
    CMD("+OK\r\n", "set", "b2", "123456789012345678901");
    CMD("$6\r\nembstr\r\n", "object", "encoding", "b2");
    CMD("+OK\r\n", "set", "neg", "-5");
    CMD("$3\r\nint\r\n", "object", "encoding", "neg");
    CMD("+OK\r\n", "set", "z", "0123");
    CMD("$6\r\nembstr\r\n", "object", "encoding", "z");
    CMD("+OK\r\n", "set", "m", "-0");
    CMD("$6\r\nembstr\r\n", "object", "encoding", "m");
    CMD("+OK\r\n", "set", "mx", "9223372036854775807");
    CMD("$3\r\nint\r\n", "object", "encoding", "mx");
    CMD("+OK\r\n", "set", "mn", "-9223372036854775808");
    CMD("$3\r\nint\r\n", "object", "encoding", "mn");
    CMD("+OK\r\n", "set", "s44", "12345678901234567890123456789012345678901234");
    CMD("$6\r\nembstr\r\n", "object", "encoding", "s44");
    CMD("+OK\r\n", "set", "s45", "123456789012345678901234567890123456789012345");
    CMD("$3\r\nraw\r\n", "object", "encoding", "s45");
    CMD("+OK\r\n", "set", "emp", "");
    CMD("$6\r\nembstr\r\n", "object", "encoding", "emp");
    CMD("-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n",
        "object", "freq", "i");
    CMD("$-1\r\n", "object", "freq", "nokey");
    CMD("$-1\r\n", "object", "idletime", "nokey");
    CMD("$-1\r\n", "object", "refcount", "nokey");
    CMD(":1\r\n", "object", "refcount", "neg");
    CMD("-ERR wrong number of arguments for 'object|encoding' command\r\n",
        "object", "encoding", "i", "x");
    CMD("-ERR wrong number of arguments for 'object|freq' command\r\n", "object", "freq");
}

/* OBJECT's values for compactd's layout. */
static void test_object_values(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD("+OK\r\n", "set", "i", "123");
    CMD(":1\r\n", "object", "refcount", "i");     /* never shared (Redis: INT_MAX) */
    CMD("$3\r\nint\r\n", "object", "encoding", "i");
    CMD(":0\r\n", "object", "idletime", "i");
    /* the access clock ticks every 1024 ms; OBJECT does not touch */
    ks_clock_set(T0 + 10 * 1024);
    CMD(":10\r\n", "object", "idletime", "i");
    CMD(":10\r\n", "object", "idletime", "i");
    CMD("$3\r\n123\r\n", "get", "i");
    CMD(":0\r\n", "object", "idletime", "i");
    ks_clock_set(T0);

    /* the encoding follows the bytes, whatever built them */
    CMD(":4\r\n", "append", "i", "4");
    CMD("$3\r\nint\r\n", "object", "encoding", "i");
    CMD(":45\r\n", "setrange", "i", "44", "x");
    CMD("$3\r\nraw\r\n", "object", "encoding", "i");
    assert_string_equal(proto_value_encoding("-9223372036854775808", 20), "int");
    assert_string_equal(proto_value_encoding("9223372036854775808", 19), "embstr");
    assert_string_equal(proto_value_encoding("-0", 2), "embstr");
    assert_string_equal(proto_value_encoding("", 0), "embstr");
    assert_string_equal(proto_value_encoding("+1", 2), "embstr");

    CMD("-ERR wrong number of arguments for 'object|help' command\r\n", "object", "help", "x");
    CMD("-ERR wrong number of arguments for 'object' command\r\n", "object");
}

/* LCS: RESP3 map for IDX, the transient-memory limit, binary bytes. */
static void test_lcs_more(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD("+OK\r\n", "set", "a", "ohmytext");
    CMD("+OK\r\n", "set", "b", "mynewtext");
    S.reply.resp = 3;
    CMD("%2\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
        "*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n",
        "lcs", "a", "b", "idx");
    S.reply.resp = 2;

    /* (8+1) * (9+1) cells of 4 bytes = 360 bytes */
    proto_set_max_value_len(359);
    CMD("-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n",
        "lcs", "a", "b");
    proto_set_max_value_len(360);
    CMD(":6\r\n", "lcs", "a", "b", "len");
    proto_set_max_value_len(RESP_DEFAULT_MAX_BULK);

    struct slice x[] = { { "set", 3 }, { "x", 1 }, { "a\0b\xff", 4 } };
    command_dispatch(&S, 3, x);
    struct slice y[] = { { "set", 3 }, { "y", 1 }, { "\0\xff", 2 } };
    command_dispatch(&S, 3, y);
    ptest_expect_reply(&S, __FILE__, __LINE__, "+OK\r\n+OK\r\n", 10);
    CMD("$2\r\n\0\xff\r\n", "lcs", "x", "y");
}

/* COPY keeps the TTL, replaces only with REPLACE, needs memory. */
static void test_copy_more(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD("+OK\r\n", "set", "s", "v", "px", "5000");
    CMD(":1\r\n", "copy", "s", "d");
    CMD(":5000\r\n", "pttl", "d");
    CMD("+OK\r\n", "set", "d", "old");
    CMD(":0\r\n", "copy", "s", "d");
    CMD("$3\r\nold\r\n", "get", "d");
    CMD(":1\r\n", "copy", "s", "d", "REPLACE", "DB", "0");
    CMD("$1\r\nv\r\n", "get", "d");
    ks_clock_set(T0 + 5000);
    CMD(":0\r\n", "copy", "s", "e");              /* expired source */
    ks_clock_set(T0);

    CMD("+OK\r\n", "set", "s", "v");
    ks_test_fault_hooks(ptest_failing_block_alloc, NULL);
    ptest_fail_blocks = true;
    CMD("-OOM cannot allocate memory for this value\r\n", "copy", "s", "f");
    ptest_fail_blocks = false;
    ks_test_fault_hooks(NULL, NULL);
    CMD(":0\r\n", "exists", "f");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_reference),
        cmocka_unit_test(test_object_values),
        cmocka_unit_test(test_lcs_more),
        cmocka_unit_test(test_copy_more),
    };
    return cmocka_run_group_tests(tests, ptest_fixture_setup, ptest_fixture_teardown);
}
