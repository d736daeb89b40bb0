/*
 * Unit tests for multi.c (MULTI, EXEC, DISCARD, WATCH, UNWATCH) and for the
 * statistics dispatch keeps (commandstats' rejected/failed calls, and
 * errorstats in reply.c). Two sessions S and S2 stand for two clients.
 * test_tx_reference's expectations were produced by redis-server 7.0.15
 * running the same requests (with real sleeps where this test moves the
 * pinned keyspace clock); the other tests are by hand.
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

static void test_tx_reference(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD("+OK\r\n", "multi");
    CMD("-ERR MULTI calls can not be nested\r\n", "multi");
    CMD("-ERR WATCH inside MULTI is not allowed\r\n", "watch", "a");
    CMD("-ERR unknown command 'foo', with args beginning with: \r\n", "foo");
    CMD("-ERR wrong number of arguments for 'get' command\r\n", "get");
    CMD("+QUEUED\r\n", "set", "a", "1");
    CMD("-EXECABORT Transaction discarded because of previous errors.\r\n", "exec");
    CMD("-ERR EXEC without MULTI\r\n", "exec");
    CMD("-ERR DISCARD without MULTI\r\n", "discard");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "set", "a", "1");
    CMD("+QUEUED\r\n", "incr", "a");
    CMD("+QUEUED\r\n", "set", "b", "x");
    CMD("+QUEUED\r\n", "incr", "b");
    CMD("*4\r\n+OK\r\n:2\r\n+OK\r\n-ERR value is not an integer or out of range\r\n", "exec");
    CMD("+OK\r\n", "multi");
    CMD("*0\r\n", "exec");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "set", "a", "2");
    CMD("+OK\r\n", "discard");
    CMD("$1\r\n2\r\n", "get", "a");
    CMD("+OK\r\n", "unwatch");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "unwatch");
    CMD("*1\r\n+OK\r\n", "exec");
    /* watch: modified by other client */
    CMD("+OK\r\n", "watch", "a");
    CMD2("+OK\r\n", "set", "a", "5");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "get", "a");
    CMD("*-1\r\n", "exec");
    /* watch: unmodified */
    CMD("+OK\r\n", "watch", "a");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "get", "a");
    CMD("*1\r\n$1\r\n5\r\n", "exec");
    /* watch nonexistent created */
    CMD("+OK\r\n", "watch", "nx1");
    CMD2("+OK\r\n", "set", "nx1", "v");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* delete */
    CMD("+OK\r\n", "watch", "a");
    CMD2(":1\r\n", "del", "a");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* delete of a missing key does not modify */
    CMD("+OK\r\n", "watch", "gone");
    CMD2(":0\r\n", "del", "gone");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*1\r\n+PONG\r\n", "exec");
    /* incr in place */
    CMD("+OK\r\n", "set", "cnt", "10");
    CMD("+OK\r\n", "watch", "cnt");
    CMD2(":11\r\n", "incr", "cnt");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* setrange in place */
    CMD("+OK\r\n", "set", "sr", "hello");
    CMD("+OK\r\n", "watch", "sr");
    CMD2(":5\r\n", "setrange", "sr", "0", "J");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* append */
    CMD("+OK\r\n", "watch", "sr");
    CMD2(":6\r\n", "append", "sr", "x");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* expire change */
    CMD("+OK\r\n", "watch", "sr");
    CMD2(":1\r\n", "expire", "sr", "100");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* persist */
    CMD("+OK\r\n", "watch", "sr");
    CMD2(":1\r\n", "persist", "sr");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* persist no-op (no ttl) */
    CMD("+OK\r\n", "watch", "sr");
    CMD2(":0\r\n", "persist", "sr");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*1\r\n+PONG\r\n", "exec");
    /* setbit same value (no change) */
    CMD("+OK\r\n", "set", "bb", "\200");
    CMD("+OK\r\n", "watch", "bb");
    CMD2(":1\r\n", "setbit", "bb", "0", "1");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*1\r\n+PONG\r\n", "exec");
    CMD("+OK\r\n", "watch", "bb");
    CMD2(":1\r\n", "setbit", "bb", "0", "0");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* bitfield fail overflow still touches */
    CMD("+OK\r\n", "watch", "bb");
    CMD2("*1\r\n$-1\r\n", "bitfield", "bb", "overflow", "fail", "incrby", "u2", "0", "100");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*1\r\n+PONG\r\n", "exec");
    /* read does not modify */
    CMD("+OK\r\n", "watch", "sr");
    CMD2("$6\r\nJellox\r\n", "get", "sr");
    CMD2(":1\r\n", "exists", "sr");
    CMD2(":-1\r\n", "ttl", "sr");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*1\r\n+PONG\r\n", "exec");
    /* flushall with watched existing key */
    CMD("+OK\r\n", "set", "fk", "v");
    CMD("+OK\r\n", "watch", "fk");
    CMD2("+OK\r\n", "flushall");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* flushall with watched missing key */
    CMD("+OK\r\n", "watch", "fk2");
    CMD2("+OK\r\n", "flushall");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*1\r\n+PONG\r\n", "exec");
    /* expiry of watched key between watch and exec */
    CMD("+OK\r\n", "set", "ek", "v", "px", "100");
    CMD("+OK\r\n", "watch", "ek");
    ks_clock_set(T0 + 300);
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* already expired at watch */
    CMD("+OK\r\n", "set", "ek2", "v", "px", "50");
    ks_clock_set(T0 + 500);
    CMD("+OK\r\n", "watch", "ek2");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*1\r\n+PONG\r\n", "exec");
    /* unwatch clears */
    CMD("+OK\r\n", "watch", "a");
    CMD2("+OK\r\n", "set", "a", "9");
    CMD("+OK\r\n", "unwatch");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*1\r\n+PONG\r\n", "exec");
    /* discard clears watch */
    CMD("+OK\r\n", "watch", "a");
    CMD2("+OK\r\n", "set", "a", "10");
    CMD("+OK\r\n", "multi");
    CMD("+OK\r\n", "discard");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*1\r\n+PONG\r\n", "exec");
    /* watch inside multi does not flag */
    CMD("+OK\r\n", "multi");
    CMD("-ERR WATCH inside MULTI is not allowed\r\n", "watch", "a");
    CMD("+QUEUED\r\n", "set", "a", "11");
    CMD("*1\r\n+OK\r\n", "exec");
    /* own modification within transaction */
    CMD("+OK\r\n", "watch", "a");
    CMD("+OK\r\n", "set", "a", "12");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* multiple keys */
    CMD("+OK\r\n", "watch", "k1", "k2", "k3");
    CMD2("+OK\r\n", "set", "k3", "x");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* rename */
    CMD("+OK\r\n", "set", "r1", "v");
    CMD("+OK\r\n", "watch", "r2");
    CMD2("+OK\r\n", "rename", "r1", "r2");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* copy */
    CMD("+OK\r\n", "watch", "c2");
    CMD2(":1\r\n", "copy", "r2", "c2");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* getex no-op */
    CMD("+OK\r\n", "set", "ge", "v");
    CMD("+OK\r\n", "watch", "ge");
    CMD2("$1\r\nv\r\n", "getex", "ge");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*1\r\n+PONG\r\n", "exec");
    CMD("+OK\r\n", "watch", "ge");
    CMD2("$1\r\nv\r\n", "getex", "ge", "ex", "100");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD("*-1\r\n", "exec");
    /* arity error in multi and queued unknown with args */
    CMD("+OK\r\n", "multi");
    CMD("-ERR wrong number of arguments for 'set' command\r\n", "set", "x");
    CMD("-ERR unknown command 'foo', with args beginning with: 'bar' 'baz' \r\n",
        "foo", "bar", "baz");
    CMD("-EXECABORT Transaction discarded because of previous errors.\r\n", "exec");
    /* exec runtime error order */
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "set", "q", "1");
    CMD("+QUEUED\r\n", "incr", "q");
    CMD("+QUEUED\r\n", "bitcount", "q", "1");
    CMD("*3\r\n+OK\r\n:2\r\n-ERR syntax error\r\n", "exec");
    /* nested command stats unaffected; resp3 in multi */
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "select", "0");
    CMD("+QUEUED\r\n", "get", "q");
    CMD("*2\r\n+OK\r\n$1\r\n2\r\n", "exec");
    CMD("+OK\r\n", "multi");
    CMD("+OK\r\n", "discard");
    CMD("-ERR DISCARD without MULTI\r\n", "discard");
    CMD("-ERR EXEC without MULTI\r\n", "exec");
    ks_clock_set(T0);
}

/* Refusals while queuing (a refused EXEC ends the transaction at once),
 * and which commands modify a watched key; replies from Redis 7.0.15. */
static void test_tx_reference_more(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD("+OK\r\n", "multi");
    CMD("-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n", "object", "foo");
    CMD("-EXECABORT Transaction discarded because of previous errors.\r\n", "exec");
    CMD("+OK\r\n", "multi");
    CMD("-ERR wrong number of arguments for 'object|encoding' command\r\n", "object", "encoding");
    CMD("-EXECABORT Transaction discarded because of previous errors.\r\n", "exec");
    CMD("+OK\r\n", "multi");
    CMD("-ERR wrong number of arguments for 'watch' command\r\n", "watch");
    CMD("-EXECABORT Transaction discarded because of previous errors.\r\n", "exec");
    CMD("+OK\r\n", "multi");
    CMD("-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n",
        "exec", "x");
    CMD("-ERR EXEC without MULTI\r\n", "exec");
    CMD("+OK\r\n", "multi");
    CMD("-ERR wrong number of arguments for 'discard' command\r\n", "discard", "x");
    CMD("+OK\r\n", "discard");
    CMD("+OK\r\n", "multi");
    CMD("-ERR wrong number of arguments for 'multi' command\r\n", "multi", "x");
    CMD("-EXECABORT Transaction discarded because of previous errors.\r\n", "exec");
    CMD("+OK\r\n", "watch", "a", "a", "a");
    CMD2("+OK\r\n", "set", "a", "1");
    CMD("+OK\r\n", "unwatch");
    CMD("+OK\r\n", "watch", "a");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "get", "a");
    CMD("*1\r\n$1\r\n1\r\n", "exec");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "set", "a", "1");
    CMD("+QUEUED\r\n", "select", "0");
    CMD("*2\r\n+OK\r\n+OK\r\n", "exec");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "get", "a");
    CMD("+QUEUED\r\n", "dbsize");
    CMD("+QUEUED\r\n", "flushall");
    CMD("+QUEUED\r\n", "dbsize");
    CMD("*4\r\n$1\r\n1\r\n:1\r\n+OK\r\n:0\r\n", "exec");
    CMD("+OK\r\n", "set", "x", "1");
    CMD("+OK\r\n", "watch", "x");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "ping");
    CMD2("+OK\r\n", "set", "x", "2");
    CMD("*-1\r\n", "exec");
    CMD("+OK\r\n", "watch", "x");
    CMD("+OK\r\n", "multi");
    CMD2("$1\r\n2\r\n", "get", "x");
    CMD("*0\r\n", "exec");
    CMD("+OK\r\n", "setex", "w", "100", "v");
    CMD("+OK\r\n", "watch", "w");
    CMD2("+OK\r\n", "set", "w", "v", "keepttl");
    CMD("+OK\r\n", "multi");
    CMD("*-1\r\n", "exec");
    CMD("+OK\r\n", "set", "w", "1");
    CMD("+OK\r\n", "watch", "w");
    CMD2("$1\r\n1\r\n", "incrbyfloat", "w", "0");
    CMD("+OK\r\n", "multi");
    CMD("*-1\r\n", "exec");
    CMD("+OK\r\n", "watch", "w");
    CMD2("+OK\r\n", "mset", "w", "1");
    CMD("+OK\r\n", "multi");
    CMD("*-1\r\n", "exec");
    CMD("+OK\r\n", "watch", "w");
    CMD2(":0\r\n", "msetnx", "w", "1");
    CMD("+OK\r\n", "multi");
    CMD("*0\r\n", "exec");
    CMD("+OK\r\n", "watch", "w");
    CMD2(":0\r\n", "setnx", "w", "1");
    CMD("+OK\r\n", "multi");
    CMD("*0\r\n", "exec");
    CMD("+OK\r\n", "watch", "w");
    CMD2("$-1\r\n", "getdel", "nokey");
    CMD("+OK\r\n", "multi");
    CMD("*0\r\n", "exec");
    CMD("+OK\r\n", "watch", "w");
    CMD2(":1\r\n", "expire", "w", "-1");
    CMD("+OK\r\n", "multi");
    CMD("*-1\r\n", "exec");
    CMD("+OK\r\n", "watch", "w");
    CMD2(":0\r\n", "touch", "w");
    CMD("+OK\r\n", "multi");
    CMD("*0\r\n", "exec");
    CMD("+OK\r\n", "multi");
    CMD("-ERR wrong number of arguments for 'copy' command\r\n", "copy");
    CMD("+QUEUED\r\n", "command");
    CMD("-EXECABORT Transaction discarded because of previous errors.\r\n", "exec");
    CMD("-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n",
        "exec", "x");
    CMD("+OK\r\n", "watch", "a");
    CMD("-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n",
        "exec", "x");
    CMD2("+OK\r\n", "set", "a", "2");
    CMD("+OK\r\n", "multi");
    CMD("*0\r\n", "exec");
}

/* Queued arguments are copies: the request bytes may be overwritten (the
 * daemon reuses its query buffer) before EXEC runs them. */
static void test_queue_copies(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD("+OK\r\n", "multi");
    char buf[] = "setkeyvalue";
    struct slice argv[] = { { buf, 3 }, { buf + 3, 3 }, { buf + 6, 5 } };
    command_dispatch(&S, 3, argv);
    ptest_expect_reply(&S, __FILE__, __LINE__, "+QUEUED\r\n", 9);
    memset(buf, 'x', sizeof buf - 1);
    CMD("+QUEUED\r\n", "get", "key");
    CMD("*2\r\n+OK\r\n$5\r\nvalue\r\n", "exec");

    /* a long queue grows */
    CMD("+OK\r\n", "multi");
    for (int i = 0; i < 100; i++)
        CMD("+QUEUED\r\n", "incr", "n");
    ptest_run_strs(&S, 1, (const char *[]){ "exec" });
    assert_int_equal(memcmp(S.reply.buf, "*100\r\n:1\r\n:2\r\n", 14), 0);
    assert_non_null(strstr(S.reply.buf, ":100\r\n"));
    reply_clear(&S.reply);
}

/* RESP3 answers an aborted EXEC with the null type. */
static void test_tx_resp3(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    S.reply.resp = 3;
    CMD("+OK\r\n", "watch", "k");
    CMD2("+OK\r\n", "set", "k", "v");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "get", "k");
    CMD("_\r\n", "exec");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "get", "nokey");
    CMD("*1\r\n_\r\n", "exec");
    S.reply.resp = 2;
}

/* Compaction moves entries with ks_repoint: not a modification. */
static void test_watch_compaction(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD("+OK\r\n", "set", "k", "v");
    CMD("+OK\r\n", "watch", "k");
    struct entry *old = ks_peek("k", 1);
    assert_non_null(old);
    size_t size = alloc_usable(old);
    void *block = alloc_block(size, 0);
    assert_non_null(block);
    memcpy(block, old, size);
    assert_true(ks_repoint(old, ks_entry_of_block(block)));
    alloc_free(old);
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "get", "k");
    CMD("*1\r\n$1\r\nv\r\n", "exec");

    /* but an in-place change reported with ks_modified is */
    CMD("+OK\r\n", "watch", "k");
    ks_modified(ks_peek("k", 1));
    CMD("+OK\r\n", "multi");
    CMD("*-1\r\n", "exec");
}

/* session_deinit frees the queue and the watches (ASan would report a
 * leak), and a freed session is never touched by later changes. */
static void test_session_deinit(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    CMD2("+OK\r\n", "watch", "a", "b", "c");
    CMD2("+OK\r\n", "multi");
    CMD2("+QUEUED\r\n", "set", "a", "1");
    session_deinit(&S2);
    memset(&S2.tx, 0, sizeof S2.tx);
    CMD("+OK\r\n", "set", "a", "2");
    CMD("+OK\r\n", "flushall");
    CMD2("-ERR EXEC without MULTI\r\n", "exec");
    /* many watchers of many keys: the table grows and shrinks back */
    char keys[200][8];
    for (int i = 0; i < 200; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        CMD_ON(*(i % 2 ? &S : &S2), "+OK\r\n", "watch", keys[i]);
    }
    CMD2("+OK\r\n", "set", "k1", "x");      /* watched by S */
    CMD2("+OK\r\n", "multi");
    CMD2("*0\r\n", "exec");
    CMD("+OK\r\n", "multi");
    CMD("*-1\r\n", "exec");
}

/* What Redis 7 counts: rejected_calls before the handler (also while
 * queuing), failed_calls for the handler's own errors, queued commands
 * counted when EXEC runs them, and their errors not counted as EXEC's. */
static void test_commandstats(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    command_stats_reset();
    const struct command *set = command_lookup("set", 3), *incr = command_lookup("incr", 4),
                         *exec = command_lookup("exec", 4), *multi = command_lookup("multi", 5);
    const struct command_stats *st_set = command_stats_get(set), *st_incr = command_stats_get(incr),
                               *st_exec = command_stats_get(exec), *st_multi = command_stats_get(multi);

    CMD("-ERR wrong number of arguments for 'set' command\r\n", "set", "a");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "set", "q", "v");
    CMD("+QUEUED\r\n", "incr", "q");
    CMD("-ERR MULTI calls can not be nested\r\n", "multi");
    assert_int_equal(st_set->calls, 0);
    CMD("*2\r\n+OK\r\n-ERR value is not an integer or out of range\r\n", "exec");
    assert_int_equal(st_set->calls, 1);
    assert_int_equal(st_set->rejected_calls, 1);
    assert_int_equal(st_set->failed_calls, 0);
    assert_int_equal(st_incr->calls, 1);
    assert_int_equal(st_incr->failed_calls, 1);
    assert_int_equal(st_exec->calls, 1);
    assert_int_equal(st_exec->failed_calls, 0);
    assert_int_equal(st_multi->calls, 2);
    assert_int_equal(st_multi->failed_calls, 1);

    CMD("+OK\r\n", "multi");
    CMD("-ERR wrong number of arguments for 'incr' command\r\n", "incr");
    CMD("-EXECABORT Transaction discarded because of previous errors.\r\n", "exec");
    CMD("-ERR EXEC without MULTI\r\n", "exec");
    assert_int_equal(st_incr->rejected_calls, 1);
    assert_int_equal(st_incr->calls, 1);
    assert_int_equal(st_exec->calls, 3);
    assert_int_equal(st_exec->failed_calls, 2);

    /* what the daemon needs to refuse EXEC over maxmemory */
    assert_int_equal(session_tx_flags(&S), 0);
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "get", "q");
    assert_int_equal(session_tx_flags(&S) & CMD_DENYOOM, 0);
    CMD("+QUEUED\r\n", "append", "q", "x");
    assert_int_equal(session_tx_flags(&S) & CMD_DENYOOM, CMD_DENYOOM);
    command_reject(&S, exec, "OOM command not allowed when used memory > 'maxmemory'.");
    const char abort_oom[] = "-EXECABORT Transaction discarded because of: OOM command not "
                             "allowed when used memory > 'maxmemory'.\r\n";
    ptest_expect_reply(&S, __FILE__, __LINE__, abort_oom, sizeof abort_oom - 1);
    assert_int_equal(session_tx_flags(&S), 0);
    CMD("-ERR EXEC without MULTI\r\n", "exec");
    assert_int_equal(st_exec->rejected_calls, 1);

    /* the daemon's pre-dispatch refusals (maxmemory) abort a transaction */
    CMD("+OK\r\n", "multi");
    command_reject(&S, set, "OOM command not allowed when used memory > 'maxmemory'.");
    ptest_expect_reply(&S, __FILE__, __LINE__,
                 "-OOM command not allowed when used memory > 'maxmemory'.\r\n", 58);
    assert_int_equal(st_set->rejected_calls, 2);
    CMD("-EXECABORT Transaction discarded because of previous errors.\r\n", "exec");
}

/* What runs at once inside MULTI, and what stands for the transaction, is
 * decided by the rows' flags (CMD_TX_NOQUEUE, CMD_TX_EXEC), not by their
 * names; COMMAND INFO shows neither flag, only Redis's. */
static int ran_now;

static void p_now(struct session *s, int argc, struct slice *argv)
{
    ran_now++;
    reply_status(&s->reply, "NOW");
}

static void expect_info_flags(const char *name, const char *const *flags, size_t n)
{
    ptest_run_strs(&S, 3, (const char *[]){"command", "info", name});
    struct ptest_node r;
    ptest_parse_reply(&S.reply, &r);
    reply_clear(&S.reply);
    const struct ptest_node *f = &r.kids[0].kids[2];
    assert_int_equal(f->nkids, n);
    for (size_t i = 0; i < n; i++)
        assert_true(ptest_str_is(&f->kids[i], flags[i]));
    ptest_node_free(&r);
}

static void test_tx_flags(void **state)
{
    (void)state;
    static const struct command rows[] = {
        {.name = "xnow", .arity = 1, .flags = CMD_TX_NOQUEUE, .proc = p_now},
        {.name = "xlater", .arity = 1, .proc = p_now},
    };
    assert_int_equal(command_register(rows, 2), 0);
    ran_now = 0;
    CMD("+OK\r\n", "multi");
    CMD("+NOW\r\n", "xnow");
    CMD("+QUEUED\r\n", "xlater");
    CMD("*1\r\n+NOW\r\n", "exec");
    assert_int_equal(ran_now, 2);

    const char *const noqueue[] = {"multi", "exec", "discard", "watch"};
    for (size_t i = 0; i < sizeof noqueue / sizeof noqueue[0]; i++)
        assert_true(command_lookup(noqueue[i], strlen(noqueue[i]))->flags & CMD_TX_NOQUEUE);
    assert_false(command_lookup("unwatch", 7)->flags & CMD_TX_NOQUEUE);
    assert_true(command_lookup("exec", 4)->flags & CMD_TX_EXEC);
    assert_false(command_lookup("multi", 5)->flags & CMD_TX_EXEC);

    /* Redis 7.0's lists (test_compat compares every command's) */
    expect_info_flags("exec", (const char *[]){"noscript", "loading", "stale", "skip_slowlog"}, 4);
    expect_info_flags("multi",
                      (const char *[]){"noscript", "loading", "stale", "fast", "allow_busy"}, 5);
    expect_info_flags("watch",
                      (const char *[]){"noscript", "loading", "stale", "fast", "allow_busy"}, 5);
}

struct errstat_seen {
    char text[512];
};

static void collect(const char *code, uint64_t count, void *ctx)
{
    struct errstat_seen *seen = ctx;
    size_t n = strlen(seen->text);
    snprintf(seen->text + n, sizeof seen->text - n, "%s=%llu,", code, (unsigned long long)count);
}

/* errorstats: every error reply counts under its first word, listed in
 * byte order; unknown commands and errors inside EXEC count too. */
static void test_errorstats(void **state)
{
    (void)state;
    CMD("+OK\r\n", "flushall");
    reply_errorstats_reset();
    assert_int_equal(reply_errors_total(), 0);
    CMD("-ERR unknown command 'foo', with args beginning with: \r\n", "foo");
    CMD("+OK\r\n", "multi");
    CMD("-ERR wrong number of arguments for 'get' command\r\n", "get");
    CMD("-EXECABORT Transaction discarded because of previous errors.\r\n", "exec");
    CMD("+OK\r\n", "set", "s", "x");
    CMD("+OK\r\n", "multi");
    CMD("+QUEUED\r\n", "incr", "s");
    CMD("*1\r\n-ERR value is not an integer or out of range\r\n", "exec");
    S.need_auth = true;
    CMD("-NOAUTH Authentication required.\r\n", "get", "s");
    S.need_auth = false;
    reply_error(&S.reply, "WRONGTYPE Operation against a key holding the wrong kind of value");
    reply_error(&S.reply, "nospace");                      /* no code: counts as ERR */
    reply_error(&S.reply, "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH too long a code");
    reply_clear(&S.reply);

    struct errstat_seen seen = { "" };
    reply_errorstats_foreach(collect, &seen);
    assert_string_equal(seen.text, "ERR=5,EXECABORT=1,NOAUTH=1,WRONGTYPE=1,");
    assert_int_equal(reply_errors_total(), 8);
    reply_errorstats_reset();
    seen.text[0] = '\0';
    reply_errorstats_foreach(collect, &seen);
    assert_string_equal(seen.text, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tx_reference),
        cmocka_unit_test(test_tx_reference_more),
        cmocka_unit_test(test_queue_copies),
        cmocka_unit_test(test_tx_resp3),
        cmocka_unit_test(test_watch_compaction),
        cmocka_unit_test(test_session_deinit),
        cmocka_unit_test(test_commandstats),
        cmocka_unit_test(test_errorstats),
        cmocka_unit_test(test_tx_flags),
    };
    return cmocka_run_group_tests(tests, ptest_fixture_setup, ptest_fixture_teardown);
}
