/*
 * test_basic: every string command a client is likely to use, end to end
 * through a real daemon, with the exact reply types and bytes Redis 7.0
 * gives. Binary safety is checked with keys and values that contain NUL,
 * CR and LF, since those are what a sloppy parser or encoder gets wrong.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_ping_and_errors(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    assert_reply_status(run(c, "PING"), "PONG");
    assert_reply_str(run(c, "PING %s", "hello"), "hello");
    assert_reply_bulk(run(c, "ECHO %b", "a\0b", (size_t)3), "a\0b", 3);
    assert_reply_error(run(c, "NOSUCHCOMMAND x"), "ERR unknown command");
    assert_reply_error(run(c, "GET"), "ERR wrong number of arguments for 'get' command");
    assert_reply_error(run(c, "SET k"), "ERR wrong number of arguments");
    redisFree(c);
}

static void test_binary_keys_and_values(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    static const char key[] = "bin\0key\r\nwith\rall\n";
    static const char val[] = "\0\r\n\r\n$3\r\nfoo\r\n*1\r\n\0\xff";
    assert_reply_status(run(c, "SET %b %b", key, sizeof key - 1, val, sizeof val - 1), "OK");
    assert_reply_bulk(run(c, "GET %b", key, sizeof key - 1), val, sizeof val - 1);
    assert_reply_int(run(c, "STRLEN %b", key, sizeof key - 1), (long long)sizeof val - 1);
    /* A key that differs only after the NUL is a different key. */
    assert_reply_nil(run(c, "GET %b", "bin\0kez\r\nwith\rall\n", sizeof key - 1));
    assert_reply_nil(run(c, "GET %b", "bin", (size_t)3));

    /* Every byte value in a key and in a value. */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    assert_reply_status(run(c, "SET %b %b", all, sizeof all, all, sizeof all), "OK");
    assert_reply_bulk(run(c, "GET %b", all, sizeof all), all, sizeof all);

    /* Empty value and empty key are legal. */
    assert_reply_status(run(c, "SET %s %b", "empty", "", (size_t)0), "OK");
    assert_reply_bulk(run(c, "GET empty"), "", 0);
    assert_reply_status(run(c, "SET %b %s", "", (size_t)0, "emptykey"), "OK");
    assert_reply_str(run(c, "GET %b", "", (size_t)0), "emptykey");

    /* Overwrite with a longer, then a shorter value. */
    char big[5000];
    memset(big, 'x', sizeof big);
    assert_reply_status(run(c, "SET ow %b", big, sizeof big), "OK");
    assert_reply_bulk(run(c, "GET ow"), big, sizeof big);
    assert_reply_status(run(c, "SET ow short"), "OK");
    assert_reply_str(run(c, "GET ow"), "short");
    redisFree(c);
}

static void test_set_options(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    assert_reply_status(run(c, "SET opt v1 NX"), "OK");
    assert_reply_nil(run(c, "SET opt v2 NX"));
    assert_reply_str(run(c, "GET opt"), "v1");
    assert_reply_status(run(c, "SET opt v3 XX"), "OK");
    assert_reply_str(run(c, "GET opt"), "v3");
    assert_reply_nil(run(c, "SET opt_missing v XX"));
    assert_reply_nil(run(c, "GET opt_missing"));
    /* GET returns the old value (nil when there was none). */
    assert_reply_str(run(c, "SET opt v4 GET"), "v3");
    assert_reply_nil(run(c, "SET opt_new v GET"));
    assert_reply_str(run(c, "GET opt_new"), "v");
    /* KEEPTTL keeps the TTL; a plain SET clears it. */
    assert_reply_status(run(c, "SET ttlk v EX 100"), "OK");
    assert_reply_status(run(c, "SET ttlk v2 KEEPTTL"), "OK");
    redisReply *r = run(c, "TTL ttlk");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer > 90 && r->integer <= 100);
    freeReplyObject(r);
    assert_reply_status(run(c, "SET ttlk v3"), "OK");
    assert_reply_int(run(c, "TTL ttlk"), -1);
    /* SETNX / SETEX / PSETEX. */
    assert_reply_int(run(c, "SETNX opt x"), 0);
    assert_reply_int(run(c, "SETNX setnx_new x"), 1);
    assert_reply_status(run(c, "SETEX setex_k 100 v"), "OK");
    r = run(c, "TTL setex_k");
    assert_true(r->type == REDIS_REPLY_INTEGER && r->integer > 90);
    freeReplyObject(r);
    /* Bad option combinations and values. */
    assert_reply_error(run(c, "SET opt v NX XX"), "ERR syntax error");
    assert_reply_error(run(c, "SET opt v EX 10 PX 100"), "ERR syntax error");
    assert_reply_error(run(c, "SET opt v BOGUS"), "ERR syntax error");
    assert_reply_error(run(c, "SET opt v EX abc"), "ERR value is not an integer or out of range");
    assert_reply_error(run(c, "SET opt v EX 0"), "ERR invalid expire time in 'set' command");
    assert_reply_error(run(c, "SET opt v EX -5"), "ERR invalid expire time");
    assert_reply_str(run(c, "GET opt"), "v4");
    redisFree(c);
}

static void test_incr_family(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    assert_reply_int(run(c, "INCR ctr"), 1);
    assert_reply_int(run(c, "INCR ctr"), 2);
    assert_reply_int(run(c, "INCRBY ctr 40"), 42);
    assert_reply_int(run(c, "DECR ctr"), 41);
    assert_reply_int(run(c, "DECRBY ctr 50"), -9);
    assert_reply_str(run(c, "GET ctr"), "-9");
    assert_reply_int(run(c, "DECR dctr"), -1);
    assert_reply_str(run(c, "INCRBYFLOAT fctr 1.5"), "1.5");
    assert_reply_str(run(c, "INCRBYFLOAT fctr 0.25"), "1.75");
    assert_reply_status(run(c, "SET fctr2 10.50"), "OK");
    assert_reply_str(run(c, "INCRBYFLOAT fctr2 0.1"), "10.6");
    assert_reply_str(run(c, "INCRBYFLOAT fctr2 -10.6"), "0");
    assert_reply_status(run(c, "SET notint abc"), "OK");
    assert_reply_error(run(c, "INCR notint"), "ERR value is not an integer or out of range");
    assert_reply_error(run(c, "INCRBY ctr xyz"), "ERR value is not an integer or out of range");
    assert_reply_error(run(c, "INCRBYFLOAT notint 1"), "ERR value is not a valid float");
    assert_reply_status(run(c, "SET sp %s", " 1"), "OK");
    assert_reply_error(run(c, "INCR sp"), "ERR value is not an integer");
    assert_reply_status(run(c, "SET big 9223372036854775807"), "OK");
    assert_reply_error(run(c, "INCR big"), "ERR increment or decrement would overflow");
    assert_reply_str(run(c, "GET big"), "9223372036854775807");
    assert_reply_status(run(c, "SET small -9223372036854775808"), "OK");
    assert_reply_error(run(c, "DECR small"), "ERR increment or decrement would overflow");
    /* An INCR result round-trips as an ordinary string. */
    assert_reply_int(run(c, "APPEND ctr 0"), 3);
    assert_reply_int(run(c, "INCR ctr"), -89);
    redisFree(c);
}

static void test_append_getrange_setrange(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    assert_reply_int(run(c, "APPEND ap Hello"), 5);
    assert_reply_int(run(c, "APPEND ap %s", " World"), 11);
    assert_reply_str(run(c, "GET ap"), "Hello World");
    assert_reply_str(run(c, "GETRANGE ap 0 4"), "Hello");
    assert_reply_str(run(c, "GETRANGE ap -5 -1"), "World");
    assert_reply_str(run(c, "GETRANGE ap 0 -1"), "Hello World");
    assert_reply_str(run(c, "GETRANGE ap 6 1000"), "World");
    assert_reply_str(run(c, "GETRANGE ap 100 200"), "");
    assert_reply_str(run(c, "GETRANGE ap 5 3"), "");
    assert_reply_str(run(c, "GETRANGE missing 0 -1"), "");
    assert_reply_int(run(c, "SETRANGE ap 6 Redis"), 11);
    assert_reply_str(run(c, "GET ap"), "Hello Redis");
    assert_reply_int(run(c, "SETRANGE ap 11 !!"), 13);
    assert_reply_str(run(c, "GET ap"), "Hello Redis!!");
    /* SETRANGE past the end pads with NUL bytes. */
    assert_reply_int(run(c, "SETRANGE pad 5 x"), 6);
    assert_reply_bulk(run(c, "GET pad"), "\0\0\0\0\0x", 6);
    assert_reply_error(run(c, "SETRANGE pad -1 x"), "ERR offset is out of range");
    /* Appending binary data keeps it intact. */
    assert_reply_int(run(c, "APPEND pad %b", "\r\n\0", (size_t)3), 9);
    assert_reply_bulk(run(c, "GET pad"), "\0\0\0\0\0x\r\n\0", 9);
    assert_reply_int(run(c, "STRLEN pad"), 9);
    assert_reply_int(run(c, "STRLEN missing"), 0);
    redisFree(c);
}

static void test_mget_mset(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    assert_reply_status(run(c, "MSET m1 one m2 %b m3 three", "t\0o", (size_t)3), "OK");
    redisReply *r = run(c, "MGET m1 m2 m_missing m3");
    assert_reply_array(r, 4);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_STRING);
    assert_string_equal(r->element[0]->str, "one");
    assert_int_equal(r->element[1]->len, 3);
    assert_memory_equal(r->element[1]->str, "t\0o", 3);
    assert_int_equal(r->element[2]->type, REDIS_REPLY_NIL);
    assert_string_equal(r->element[3]->str, "three");
    freeReplyObject(r);
    assert_reply_error(run(c, "MSET a"), "ERR wrong number of arguments for 'mset' command");
    assert_reply_error(run(c, "MSET a 1 b"), "ERR wrong number of arguments for 'mset' command");
    /* Last write wins for repeated keys. */
    assert_reply_status(run(c, "MSET dup 1 dup 2"), "OK");
    assert_reply_str(run(c, "GET dup"), "2");
    redisFree(c);
}

static void test_del_exists_type_rename(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    assert_reply_status(run(c, "MSET d1 a d2 b d3 c"), "OK");
    assert_reply_int(run(c, "EXISTS d1 d1 d2 d_missing"), 3);
    assert_reply_int(run(c, "DEL d1 d_missing"), 1);
    assert_reply_int(run(c, "DEL d1"), 0);
    assert_reply_int(run(c, "EXISTS d1"), 0);
    assert_reply_nil(run(c, "GET d1"));
    assert_reply_status(run(c, "TYPE d2"), "string");
    assert_reply_status(run(c, "TYPE d_missing"), "none");
    assert_reply_status(run(c, "RENAME d2 d2new"), "OK");
    assert_reply_nil(run(c, "GET d2"));
    assert_reply_str(run(c, "GET d2new"), "b");
    /* RENAME over an existing key replaces it. */
    assert_reply_status(run(c, "RENAME d2new d3"), "OK");
    assert_reply_str(run(c, "GET d3"), "b");
    assert_reply_error(run(c, "RENAME d_missing x"), "ERR no such key");
    /* RENAME keeps the TTL. */
    assert_reply_status(run(c, "SET rt v EX 100"), "OK");
    assert_reply_status(run(c, "RENAME rt rt2"), "OK");
    redisReply *r = run(c, "TTL rt2");
    assert_true(r->type == REDIS_REPLY_INTEGER && r->integer > 90);
    freeReplyObject(r);
    assert_reply_int(run(c, "DEL d3 rt2"), 2);
    redisFree(c);
}

#define NSCAN 3000

static int scan_index(const char *s, size_t len)
{
    if (len != 10 || strncmp(s, "scan:", 5) != 0)
        return -1;
    int v = atoi(s + 5);
    return v >= 0 && v < NSCAN ? v : -1;
}

static void test_keys_and_scan(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    for (int i = 0; i < NSCAN; i++)
        redisAppendCommand(c, "SET scan:%05d %d", i, i);
    for (int i = 0; i < NSCAN; i++)
        assert_reply_status(get_reply(c), "OK");

    static unsigned char seen[NSCAN];
    memset(seen, 0, sizeof seen);
    redisReply *r = run(c, "KEYS scan:*");
    assert_reply_array(r, NSCAN);
    for (size_t i = 0; i < r->elements; i++) {
        int idx = scan_index(r->element[i]->str, r->element[i]->len);
        assert_true(idx >= 0);
        assert_int_equal(seen[idx], 0);     /* KEYS never repeats a key */
        seen[idx] = 1;
    }
    freeReplyObject(r);
    r = run(c, "KEYS scan:0000?");
    assert_reply_array(r, 10);
    freeReplyObject(r);

    memset(seen, 0, sizeof seen);
    char cursor[32] = "0";
    int rounds = 0;
    do {
        r = run(c, "SCAN %s MATCH scan:* COUNT 100", cursor);
        assert_reply_array(r, 2);
        assert_int_equal(r->element[0]->type, REDIS_REPLY_STRING);
        assert_int_equal(r->element[1]->type, REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            redisReply *k = r->element[1]->element[i];
            int idx = scan_index(k->str, k->len);
            assert_true(idx >= 0);  /* MATCH filters other keys out */
            seen[idx] = 1;
        }
        freeReplyObject(r);
        assert_true(++rounds < 100000);
    } while (strcmp(cursor, "0") != 0);
    for (int i = 0; i < NSCAN; i++) {
        if (!seen[i])
            fail_msg("SCAN never returned scan:%05d", i);
    }
    /* A plain SCAN without MATCH also terminates. */
    strcpy(cursor, "0");
    size_t total = 0;
    rounds = 0;
    do {
        r = run(c, "SCAN %s", cursor);
        assert_reply_array(r, 2);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        total += r->element[1]->elements;
        freeReplyObject(r);
        assert_true(++rounds < 100000);
    } while (strcmp(cursor, "0") != 0);
    assert_true(total >= NSCAN);
    assert_reply_error(run(c, "SCAN notanumber"), "ERR invalid cursor");
    redisFree(c);
}

static void test_hello3_reply_types(void **state)
{
    (void)state;
    struct raw r;
    raw_open(&r, harness_srv.port);
    /* RESP2 by default. */
    raw_sendstr(&r, "GET hello_missing\r\n");
    raw_expect(&r, "$-1\r\n");

    raw_sendstr(&r, "HELLO 3\r\n");
    size_t n;
    char *h = raw_reply(&r, &n, HARNESS_IO_TIMEOUT_MS);
    assert_non_null(h);
    assert_int_equal(h[0], '%');
    assert_non_null(strstr(h, "$5\r\nproto\r\n:3\r\n"));
    assert_non_null(strstr(h, "$6\r\nserver\r\n"));
    free(h);
    raw_sendstr(&r, "GET hello_missing\r\n");
    raw_expect(&r, "_\r\n");
    raw_sendstr(&r, "MGET hello_missing\r\n");
    raw_expect(&r, "*1\r\n_\r\n");
    raw_sendstr(&r, "CONFIG GET port\r\n");
    char expect[128];
    snprintf(expect, sizeof expect, "%%1\r\n$4\r\nport\r\n$%d\r\n%d\r\n",
             snprintf(NULL, 0, "%d", harness_srv.port), harness_srv.port);
    raw_expect(&r, expect);
    raw_sendstr(&r, "SET hello_k v\r\n");
    raw_expect(&r, "+OK\r\n");
    raw_sendstr(&r, "GET hello_k\r\n");
    raw_expect(&r, "$1\r\nv\r\n");

    /* Back to RESP2. */
    raw_sendstr(&r, "HELLO 2\r\n");
    h = raw_reply(&r, &n, HARNESS_IO_TIMEOUT_MS);
    assert_non_null(h);
    assert_int_equal(h[0], '*');
    assert_non_null(strstr(h, "$5\r\nproto\r\n:2\r\n"));
    free(h);
    raw_sendstr(&r, "GET hello_missing\r\n");
    raw_expect(&r, "$-1\r\n");
    raw_sendstr(&r, "CONFIG GET port\r\n");
    snprintf(expect, sizeof expect, "*2\r\n$4\r\nport\r\n$%d\r\n%d\r\n",
             snprintf(NULL, 0, "%d", harness_srv.port), harness_srv.port);
    raw_expect(&r, expect);

    raw_sendstr(&r, "HELLO 4\r\n");
    h = raw_reply(&r, &n, HARNESS_IO_TIMEOUT_MS);
    assert_non_null(h);
    assert_true(strncmp(h, "-NOPROTO", 8) == 0);
    free(h);
    raw_close(&r);
}

static void test_client_name(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    assert_reply_nil(run(c, "CLIENT GETNAME"));
    assert_reply_status(run(c, "CLIENT SETNAME tester-1"), "OK");
    assert_reply_str(run(c, "CLIENT GETNAME"), "tester-1");
    assert_reply_error(run(c, "CLIENT SETNAME %s", "has space"), "ERR");
    assert_reply_str(run(c, "CLIENT GETNAME"), "tester-1");
    redisReply *r = run(c, "CLIENT ID");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer > 0);
    freeReplyObject(r);
    /* Another connection has its own name. */
    redisContext *c2 = server_connect(&harness_srv);
    assert_reply_nil(run(c2, "CLIENT GETNAME"));
    redisFree(c2);
    redisFree(c);
}

static void test_info_sections(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    redisReply *r = run(c, "INFO");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    const char *sections[] = { "# Server", "# Clients", "# Memory", "# Stats", "# Keyspace" };
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++) {
        if (!strstr(r->str, sections[i]))
            fail_msg("INFO lacks section %s", sections[i]);
    }
    /* Every line is blank, a "# Section" header or "name:value". */
    int fields = 0;
    for (char *line = r->str; *line;) {
        char *eol = strstr(line, "\r\n");
        assert_non_null(eol);   /* lines end in CRLF */
        size_t ll = (size_t)(eol - line);
        if (ll > 0 && line[0] != '#') {
            char *colon = memchr(line, ':', ll);
            if (!colon || colon == line)
                fail_msg("INFO line is not name:value: %.*s", (int)ll, line);
            fields++;
        }
        line = eol + 2;
    }
    assert_true(fields > 10);
    freeReplyObject(r);

    assert_int_equal(info_int(c, "server", "tcp_port"), harness_srv.port);
    char *v = info_field(c, "server", "redis_version");
    assert_non_null(v);
    free(v);
    assert_true(info_int(c, "clients", "connected_clients") >= 1);
    assert_true(info_int(c, "memory", "used_memory") > 0);
    assert_true(info_int(c, "stats", "total_commands_processed") > 0);

    /* A single section comes alone. */
    r = run(c, "INFO server");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_non_null(strstr(r->str, "# Server"));
    assert_null(strstr(r->str, "# Clients"));
    freeReplyObject(r);

    /* Keyspace reports db0 once there are keys. */
    assert_reply_status(run(c, "SET info_k v"), "OK");
    v = info_field(c, "keyspace", "db0");
    assert_non_null(v);
    assert_true(strncmp(v, "keys=", 5) == 0);
    free(v);
    redisFree(c);
}

static void test_config_get_port(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    redisReply *r = run(c, "CONFIG GET port");
    assert_reply_array(r, 2);
    assert_string_equal(r->element[0]->str, "port");
    char buf[16];
    snprintf(buf, sizeof buf, "%d", harness_srv.port);
    assert_string_equal(r->element[1]->str, buf);
    freeReplyObject(r);
    r = run(c, "CONFIG GET no-such-option-xyz");
    assert_reply_array(r, 0);
    freeReplyObject(r);
    redisFree(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_and_errors),
        cmocka_unit_test(test_binary_keys_and_values),
        cmocka_unit_test(test_set_options),
        cmocka_unit_test(test_incr_family),
        cmocka_unit_test(test_append_getrange_setrange),
        cmocka_unit_test(test_mget_mset),
        cmocka_unit_test(test_del_exists_type_rename),
        cmocka_unit_test(test_keys_and_scan),
        cmocka_unit_test(test_hello3_reply_types),
        cmocka_unit_test(test_client_name),
        cmocka_unit_test(test_info_sections),
        cmocka_unit_test(test_config_get_port),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
