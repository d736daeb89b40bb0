/*
 * test_limits: the limits a production server enforces, each against a
 * daemon started with that limit set (so every test starts its own daemon):
 * maxclients, timeout, proto-max-bulk-len, client-query-buffer-limit,
 * maxmemory with noeviction, requirepass.
 *
 * Each test checks the exact Redis error text (or the disconnect Redis does
 * without a reply) and that another, well-behaved client's data is intact
 * afterwards: hitting a limit must cost only the offending client or
 * command. The tests pass against redis-server 7.0 as well
 * (COMPACTD_BIN=/usr/bin/redis-server), which is how their expectations were
 * checked. They need command-line options, so they skip when attached to an
 * external daemon (COMPACTD_TEST_PORT).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEPER_VAL "keeper-value\r\nwith bytes \x01\x02"

static struct server srv;

static void start(const char *const *extra)
{
    if (harness_external())
        skip();
    server_start(&srv, extra);
}

/* Stores the keeper's key on its own connection. */
static redisContext *keeper_open(void)
{
    redisContext *k = server_connect(&srv);
    assert_reply_status(run(k, "SET keeper %b", KEEPER_VAL, sizeof(KEEPER_VAL) - 1), "OK");
    return k;
}

/* The keeper's connection still works and its data is unchanged. */
static void keeper_check(redisContext *k)
{
    assert_reply_status(run(k, "PING"), "PONG");
    assert_reply_bulk(run(k, "GET keeper"), KEEPER_VAL, sizeof(KEEPER_VAL) - 1);
}

/* An error reply with exactly this text. */
#define assert_error_exact(r, text) error_exact(__FILE__, __LINE__, (r), (text))
static void error_exact(const char *file, int line, redisReply *r, const char *text)
{
    if (r->type == REDIS_REPLY_ERROR && r->len == strlen(text) && strcmp(r->str, text) == 0) {
        freeReplyObject(r);
        return;
    }
    print_error("%s:%d: expected error \"%s\", got type %d \"%s\"\n", file, line, text,
                r->type, r->str ? r->str : "");
    freeReplyObject(r);
    _fail(file, line);
}

/* c answers a PING with PONG: it is connected and served. A macro so that
 * a failure names the caller's line. */
#define assert_served(c) served_at(__FILE__, __LINE__, (c))
static void served_at(const char *file, int line, struct raw *c)
{
    raw_sendstr(c, "PING\r\n");
    harness_raw_expect(file, line, c, "+PONG\r\n", strlen("+PONG\r\n"));
}

/* A new client over maxclients gets the error and is closed, whatever it
 * sends. */
#define assert_maxclients_refused() maxclients_refused_at(__FILE__, __LINE__)
static void maxclients_refused_at(const char *file, int line)
{
    struct raw extra;
    raw_open(&extra, srv.port);
    raw_send(&extra, "PING\r\n", 6, true);
    harness_raw_expect(file, line, &extra, "-ERR max number of clients reached\r\n",
                       strlen("-ERR max number of clients reached\r\n"));
    _assert_true(raw_wait_close(&extra, HARNESS_IO_TIMEOUT_MS),
                 "raw_wait_close(&extra, HARNESS_IO_TIMEOUT_MS)", file, line);
    raw_close(&extra);
}

/* ---- maxclients ---- */

static void test_maxclients(void **state)
{
    (void)state;
    const char *args[] = {"--maxclients", "10", NULL};
    start(args);
    redisContext *k = keeper_open();

    /* Nine more: ten clients in all, the limit. Each must be served. */
    struct raw c[9];
    for (int i = 0; i < 9; i++) {
        raw_open(&c[i], srv.port);
        assert_served(&c[i]);
    }

    /* The eleventh gets the error and is closed, whatever it sends. */
    assert_maxclients_refused();

    keeper_check(k);
    for (int i = 0; i < 9; i++) {
        assert_served(&c[i]);
    }

    /* A freed slot can be taken again. */
    raw_close(&c[0]);
    bool served = false;
    for (int attempt = 0; attempt < 100 && !served; attempt++) {
        raw_open(&c[0], srv.port);
        raw_send(&c[0], "PING\r\n", 6, true);
        char *got = raw_reply(&c[0], NULL, HARNESS_IO_TIMEOUT_MS);
        served = got != NULL && strcmp(got, "+PONG\r\n") == 0;
        free(got);
        if (!served) {
            raw_close(&c[0]);       /* the close was not seen yet; retry */
            harness_sleep_ms(20);
        }
    }
    assert_true(served);
    assert_true(info_int(k, "stats", "rejected_connections") >= 1);

    for (int i = 0; i < 9; i++)
        raw_close(&c[i]);
    keeper_check(k);
    redisFree(k);
    server_stop(&srv);
}

/* Lowered at run time by CONFIG SET: applies to new connections at once,
 * and the clients already connected stay. */
static void test_maxclients_config_set(void **state)
{
    (void)state;
    start(NULL);
    redisContext *k = keeper_open();
    struct raw c[3];
    for (int i = 0; i < 3; i++) {
        raw_open(&c[i], srv.port);
        assert_served(&c[i]);
    }
    assert_reply_status(run(k, "CONFIG SET maxclients 3"), "OK");
    assert_maxclients_refused();
    for (int i = 0; i < 3; i++) {   /* four clients over a limit of three: kept */
        assert_served(&c[i]);
    }
    keeper_check(k);
    assert_reply_status(run(k, "CONFIG SET maxclients 10"), "OK");
    struct raw extra;
    raw_open(&extra, srv.port);
    assert_served(&extra);
    raw_close(&extra);
    for (int i = 0; i < 3; i++)
        raw_close(&c[i]);
    redisFree(k);
    server_stop(&srv);
}

/* ---- timeout ---- */

static void test_timeout(void **state)
{
    (void)state;
    const char *args[] = {"--timeout", "1", NULL};
    start(args);
    redisContext *active = keeper_open();

    struct raw idle;
    raw_open(&idle, srv.port);
    assert_served(&idle);
    int64_t last = harness_now_ms();

    /* The active client talks every 200 ms; the idle one must be closed
     * after about a second, within ~3 s, and never the active one. */
    int64_t closed_after = -1;
    while (harness_now_ms() - last < 4000) {
        if (raw_wait_close(&idle, 200)) {
            closed_after = harness_now_ms() - last;
            break;
        }
        assert_reply_status(run(active, "PING"), "PONG");
    }
    if (closed_after < 0)
        fail_msg("the idle client was not closed within 4 s with --timeout 1");
    if (closed_after < 900 || closed_after > 3500)
        fail_msg("the idle client was closed after %lld ms; expected 1-3.5 s",
                 (long long)closed_after);
    assert_int_equal(idle.len, 0);   /* closed without a reply, as Redis does */
    raw_close(&idle);

    /* The active client survived a further couple of seconds of activity. */
    for (int i = 0; i < 10; i++) {
        harness_sleep_ms(200);
        assert_reply_status(run(active, "PING"), "PONG");
    }
    keeper_check(active);
    assert_int_equal(info_int(active, "clients", "connected_clients"), 1);
    redisFree(active);
    server_stop(&srv);
}

/* ---- proto-max-bulk-len ---- */

static void test_proto_max_bulk_len(void **state)
{
    (void)state;
    const char *args[] = {"--proto-max-bulk-len", "1mb", NULL};
    start(args);
    redisContext *k = keeper_open();

    /* Above what the keyspace stores (512mb) it cannot be set: a larger
     * value would pass the parser only to fail with OOM. */
    assert_reply_error(run(k, "CONFIG SET proto-max-bulk-len 513mb"),
                       "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len')");
    assert_reply_status(run(k, "CONFIG SET proto-max-bulk-len 512mb"), "OK");
    assert_reply_status(run(k, "CONFIG SET proto-max-bulk-len 1mb"), "OK");

    /* Exactly the limit is allowed. */
    size_t lim = 1024 * 1024;
    char *big = malloc(2 * lim);
    assert_non_null(big);
    memset(big, 'b', 2 * lim);
    assert_reply_status(run(k, "SET atlimit %b", big, lim), "OK");
    assert_reply_int(run(k, "STRLEN atlimit"), (long long)lim);
    /* A command may not grow a value past it either. */
    assert_error_exact(run(k, "APPEND atlimit x"),
                       "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    assert_error_exact(run(k, "SETRANGE atlimit %lld x", (long long)lim),
                       "ERR string exceeds maximum allowed size (proto-max-bulk-len)");

    /* A 2 MB bulk is refused as soon as its length line arrives. */
    struct raw c;
    raw_open(&c, srv.port);
    char hdr[64];
    snprintf(hdr, sizeof hdr, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%zu\r\n", 2 * lim);
    raw_sendstr(&c, hdr);
    raw_expect(&c, "-ERR Protocol error: invalid bulk length\r\n");
    assert_true(raw_wait_close(&c, HARNESS_IO_TIMEOUT_MS));
    raw_close(&c);

    /* The same through hiredis, payload and all: error, then closed. */
    redisContext *h = server_connect(&srv);
    redisReply *r = redisCommand(h, "SET big %b", big, 2 * lim);
    if (r != NULL)
        assert_error_exact(r, "ERR Protocol error: invalid bulk length");
    /* (r == NULL: the server closed before hiredis finished sending, which
     * is as good; either way nothing was stored.) */
    redisFree(h);

    keeper_check(k);
    assert_reply_int(run(k, "EXISTS big"), 0);
    assert_reply_int(run(k, "STRLEN atlimit"), (long long)lim);
    free(big);
    redisFree(k);
    server_stop(&srv);
}

/* ---- client-query-buffer-limit ---- */

static void test_query_buffer_limit(void **state)
{
    (void)state;
    const char *args[] = {"--client-query-buffer-limit", "1mb", NULL};
    start(args);
    redisContext *k = keeper_open();

    /* An unfinished multibulk whose pending bulk is 3 MB, of which 2 MB are
     * sent: the client must be disconnected, without a reply. */
    struct raw c;
    raw_open(&c, srv.port);
    raw_sendstr(&c, "*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$3145728\r\n");
    size_t chunk = 64 * 1024, sent = 0;
    char *buf = malloc(chunk);
    assert_non_null(buf);
    memset(buf, 'q', chunk);
    while (sent < 2 * 1024 * 1024 && raw_send(&c, buf, chunk, true))
        sent += chunk;
    assert_true(raw_wait_close(&c, HARNESS_IO_TIMEOUT_MS));
    raw_close(&c);
    free(buf);

    /* A request of 900 KB, under the limit, still goes through. */
    size_t ok_len = 900 * 1024;
    char *val = malloc(ok_len);
    assert_non_null(val);
    memset(val, 'v', ok_len);
    redisContext *h = server_connect(&srv);
    assert_reply_status(run(h, "SET fits %b", val, ok_len), "OK");
    assert_reply_int(run(h, "STRLEN fits"), (long long)ok_len);
    redisFree(h);
    free(val);

    keeper_check(k);
    assert_reply_int(run(k, "EXISTS huge"), 0);
    assert_int_equal(info_int(k, "clients", "connected_clients"), 1);
    redisFree(k);
    server_stop(&srv);
}

/* ---- maxmemory, noeviction ---- */

#define VAL_LEN (64 * 1024)

static void test_maxmemory_noeviction(void **state)
{
    (void)state;
    const char *args[] = {"--maxmemory", "8mb", "--maxmemory-policy", "noeviction", NULL};
    start(args);
    redisContext *k = keeper_open();
    redisContext *w = server_connect(&srv);

    char *val = malloc(VAL_LEN);
    assert_non_null(val);
    memset(val, 'm', VAL_LEN);

    /* Write until refused; 8 MB holds about 128 values of 64 KiB. */
    int stored = 0;
    redisReply *r = NULL;
    for (; stored < 1000; stored++) {
        r = run(w, "SET fill:%d %b", stored, val, (size_t)VAL_LEN);
        if (r->type != REDIS_REPLY_STATUS)
            break;
        freeReplyObject(r);
        r = NULL;
    }
    assert_non_null(r);
    assert_error_exact(r, "OOM command not allowed when used memory > 'maxmemory'.");
    if (stored < 64 || stored > 160)
        fail_msg("%d values of 64 KiB fit under maxmemory 8mb; expected 64..160", stored);

    /* Full: every write that may add data is refused, reads work. */
    const char *oom = "OOM command not allowed when used memory > 'maxmemory'.";
    /* compactd counts only data (entries and index), so it is still full;
     * Redis also counts the query buffer the refused 64 KiB SET just freed,
     * and may already be under the limit again. */
    if (!harness_is_redis())
        assert_error_exact(run(w, "SET another x"), oom);
    long long used = info_int(w, "memory", "used_memory");
    if (used > 8 * 1024 * 1024 + 256 * 1024)
        fail_msg("used_memory %lld is far above maxmemory 8mb", used);

    /* Lower the limit to 4mb so that the rest does not depend on how close
     * to 8mb the last write left used_memory (Redis counts client buffers
     * too, which shrink over time). */
    assert_reply_status(run(w, "CONFIG SET maxmemory 4mb"), "OK");
    assert_error_exact(run(w, "SET another x"), oom);
    assert_error_exact(run(w, "APPEND fill:0 x"), oom);
    assert_error_exact(run(w, "INCR counter"), oom);
    assert_error_exact(run(w, "MSET a 1 b 2"), oom);
    assert_reply_bulk(run(w, "GET fill:0"), val, VAL_LEN);
    assert_reply_int(run(w, "STRLEN fill:1"), VAL_LEN);
    assert_reply_int(run(w, "DBSIZE"), stored + 1);
    assert_reply_int(run(w, "EXISTS another counter a b"), 0);

    /* DEL frees room: keeping 32 values (2 MB), writes work again. */
    for (int i = 0; i < stored - 32; i++)
        assert_reply_int(run(w, "DEL fill:%d", i), 1);
    assert_reply_status(run(w, "SET another x"), "OK");
    assert_reply_status(run(w, "SET fill:0 %b", val, (size_t)VAL_LEN), "OK");
    assert_reply_bulk(run(w, "GET another"), "x", 1);
    assert_reply_bulk(run(w, "GET fill:%d", stored - 1), val, VAL_LEN);

    keeper_check(k);
    free(val);
    redisFree(w);
    redisFree(k);
    server_stop(&srv);
}

/* ---- requirepass ---- */

static void test_requirepass(void **state)
{
    (void)state;
    const char *args[] = {"--requirepass", "s3cret pw", NULL};
    start(args);

    redisContext *k = server_connect(&srv);
    assert_reply_status(run(k, "AUTH %s", "s3cret pw"), "OK");
    assert_reply_status(run(k, "SET keeper %b", KEEPER_VAL, sizeof(KEEPER_VAL) - 1), "OK");

    const char *noauth = "NOAUTH Authentication required.";
    const char *wrongpass = "WRONGPASS invalid username-password pair or user is disabled.";

    /* Before AUTH: refused, and nothing leaks. */
    redisContext *c = server_connect(&srv);
    assert_error_exact(run(c, "GET keeper"), noauth);
    assert_error_exact(run(c, "SET keeper stolen"), noauth);
    assert_error_exact(run(c, "DBSIZE"), noauth);
    assert_error_exact(run(c, "AUTH %s", "wrong"), wrongpass);
    assert_error_exact(run(c, "AUTH default %s", "wrong"), wrongpass);
    assert_error_exact(run(c, "AUTH nobody %s", "s3cret pw"), wrongpass);
    assert_error_exact(run(c, "GET keeper"), noauth);
    /* AUTH with the default user and the right password works. */
    assert_reply_status(run(c, "AUTH default %s", "s3cret pw"), "OK");
    assert_reply_bulk(run(c, "GET keeper"), KEEPER_VAL, sizeof(KEEPER_VAL) - 1);
    redisFree(c);

    /* HELLO 3 AUTH: a wrong password is refused, the right one switches to
     * RESP3 and authenticates in one step. */
    struct raw h;
    raw_open(&h, srv.port);
    raw_sendstr(&h, "*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$5\r\nwrong\r\n");
    raw_expect(&h, "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    raw_sendstr(&h, "*2\r\n$3\r\nGET\r\n$6\r\nkeeper\r\n");
    raw_expect(&h, "-NOAUTH Authentication required.\r\n");
    raw_sendstr(&h, "*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$9\r\ns3cret pw\r\n");
    char *hello = raw_reply(&h, NULL, HARNESS_IO_TIMEOUT_MS);
    assert_non_null(hello);
    if (hello[0] != '%' || strstr(hello, "$5\r\nproto\r\n:3\r\n") == NULL)
        fail_msg("HELLO 3 AUTH default <pw> replied \"%.200s\"", hello);
    free(hello);
    raw_sendstr(&h, "*2\r\n$3\r\nGET\r\n$6\r\nkeeper\r\n");
    char want[128];
    snprintf(want, sizeof want, "$%zu\r\n%s\r\n", sizeof(KEEPER_VAL) - 1, KEEPER_VAL);
    raw_expect(&h, want);
    raw_sendstr(&h, "*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n");
    raw_expect(&h, "_\r\n");   /* RESP3 null: the protocol switch took effect */
    raw_close(&h);

    keeper_check(k);
    redisFree(k);
    server_stop(&srv);
}

/* ---- AUTH without requirepass ---- */

static void test_auth_without_password(void **state)
{
    (void)state;
    start(NULL);
    redisContext *k = keeper_open();
    redisContext *c = server_connect(&srv);
    assert_error_exact(run(c, "AUTH %s", "whatever"),
                       "ERR AUTH <password> called without any password configured for the "
                       "default user. Are you sure your configuration is correct?");
    assert_reply_status(run(c, "PING"), "PONG");
    redisFree(c);
    keeper_check(k);
    redisFree(k);
    server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxclients),
        cmocka_unit_test(test_maxclients_config_set),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_proto_max_bulk_len),
        cmocka_unit_test(test_query_buffer_limit),
        cmocka_unit_test(test_maxmemory_noeviction),
        cmocka_unit_test(test_requirepass),
        cmocka_unit_test(test_auth_without_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
