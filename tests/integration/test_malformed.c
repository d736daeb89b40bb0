/*
 * test_malformed: hostile and broken input on raw sockets.
 *
 * Each malformed request must get a "-ERR Protocol error..." reply, after
 * any replies owed to earlier requests on the same connection, and then
 * the connection is closed (close-after-reply). None of it may disturb
 * other connections: a "keeper" client holds keys throughout and checks
 * them after every case. Finally 1000 connections of deterministic random
 * garbage, some closed with a reset, must leave the server alive, correct
 * and with no leftover connections.
 */
#include "harness.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NKEEP 200

static struct server srv;
static redisContext *keeper;

static int group_setup(void **state)
{
    (void)state;
    server_start(&srv, NULL);
    keeper = server_connect(&srv);
    for (int i = 0; i < NKEEP; i++)
        redisAppendCommand(keeper, "SET keeper:%d %d-\r\n-%d", i, i, i);
    for (int i = 0; i < NKEEP; i++) {
        redisReply *r = NULL;
        if (redisGetReply(keeper, (void **)&r) != REDIS_OK || r->type != REDIS_REPLY_STATUS)
            return -1;
        freeReplyObject(r);
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (keeper)
        redisFree(keeper);
    server_stop(&srv);
    return 0;
}

static void keeper_intact(void)
{
    assert_reply_status(run(keeper, "PING"), "PONG");
    for (int i = 0; i < NKEEP; i++)
        redisAppendCommand(keeper, "GET keeper:%d", i);
    char want[64];
    for (int i = 0; i < NKEEP; i++) {
        snprintf(want, sizeof want, "%d-\r\n-%d", i, i);
        assert_reply_str(get_reply(keeper), want);
    }
}

/*
 * Sends a request (which may be refused halfway, hence allow_fail), then
 * expects the replies in `before` followed by a protocol error and a close.
 */
static void expect_protocol_error(const char *what, const char *req, size_t n,
                                  const char *before)
{
    struct raw r;
    raw_open(&r, srv.port);
    raw_send(&r, req, n, true);
    if (before) {
        char *got = raw_reply(&r, NULL, HARNESS_IO_TIMEOUT_MS);
        if (!got || strcmp(got, before) != 0)
            fail_msg("%s: expected \"%s\" before the error, got \"%s\"", what, before,
                     got ? got : "(nothing)");
        free(got);
    }
    char *err = raw_reply(&r, NULL, HARNESS_IO_TIMEOUT_MS);
    if (!err)
        fail_msg("%s: no reply (%s)", what, r.eof ? "connection closed" : "timeout");
    if (strncmp(err, "-ERR Protocol error", 19) != 0)
        fail_msg("%s: expected -ERR Protocol error..., got \"%.200s\"", what, err);
    free(err);
    if (!raw_wait_close(&r, HARNESS_IO_TIMEOUT_MS))
        fail_msg("%s: connection still open after the protocol error", what);
    if (r.len != 0)
        fail_msg("%s: %zu unexpected bytes after the error: \"%.*s\"", what, r.len,
                 (int)(r.len > 100 ? 100 : r.len), r.buf);
    raw_close(&r);
    keeper_intact();
}

#define CASE(what, lit, before) expect_protocol_error(what, lit, sizeof lit - 1, before)

static void test_bad_lengths(void **state)
{
    (void)state;
    CASE("non-numeric multibulk length", "*abc\r\n", NULL);
    CASE("multibulk length over the limit", "*3000000000\r\n", NULL);
    CASE("negative bulk length", "*1\r\n$-5\r\n", NULL);
    CASE("non-numeric bulk length", "*1\r\n$abc\r\n", NULL);
    CASE("empty bulk length", "*2\r\n$3\r\nGET\r\n$\r\n", NULL);
    CASE("'$' expected", "*1\r\nPING\r\n", NULL);
    CASE("'$' expected in 2nd arg", "*2\r\n$3\r\nGET\r\n:1\r\n", NULL);
    CASE("bulk length above proto-max-bulk-len", "*2\r\n$3\r\nGET\r\n$600000000\r\n", NULL);
    CASE("absurd bulk length", "*1\r\n$99999999999999999\r\n", NULL);
    /* Earlier requests on the connection are answered first. */
    CASE("error after a good request", "*1\r\n$4\r\nPING\r\n*x\r\n", "+PONG\r\n");
}

/* Checks compactd makes that Redis 7.0 does not. */
static void test_stricter_than_redis(void **state)
{
    (void)state;
    if (harness_is_redis()) {
        /* Redis skips the two bytes after a bulk without looking at them,
         * and allows up to INT_MAX arguments. */
        print_message("skipped: the reference server does not make these checks\n");
        skip();
    }
    CASE("missing CRLF after bulk", "*1\r\n$4\r\nPINGXX*1\r\n$4\r\nPING\r\n", NULL);
    CASE("missing CRLF, 2nd arg", "*2\r\n$3\r\nGET\r\n$1\r\nk\n\n", NULL);
    CASE("more than 1M arguments", "*3000000\r\n", NULL);
}

static void test_overlong_lines(void **state)
{
    (void)state;
    size_t n = 70 * 1024;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 'a', n);
    expect_protocol_error("inline line over 64 KiB", big, n, NULL);
    memset(big, '1', n);
    big[0] = '*';
    expect_protocol_error("multibulk length line over 64 KiB", big, n, NULL);
    memcpy(big, "*1\r\n$", 5);
    expect_protocol_error("bulk length line over 64 KiB", big, n, NULL);
    free(big);
}

static void test_unbalanced_quotes(void **state)
{
    (void)state;
    CASE("unbalanced double quote", "SET \"a b\r\n", NULL);
    CASE("unbalanced single quote", "SET 'a b\r\n", NULL);
    CASE("quote not followed by space", "SET \"a\"b c\r\n", NULL);
    /* Quoted inline arguments that are well formed still work. */
    struct raw r;
    raw_open(&r, srv.port);
    raw_sendstr(&r, "SET \"q k\" 'v\\x41'\r\nGET \"q k\"\r\nSET q2 \"a\\x41\\r\\n\"\r\nGET q2\r\n");
    raw_expect(&r, "+OK\r\n");
    raw_expect(&r, "$5\r\nv\\x41\r\n");    /* no escapes in single quotes */
    raw_expect(&r, "+OK\r\n");
    raw_expect(&r, "$4\r\naA\r\n\r\n");
    raw_close(&r);
    keeper_intact();
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random bytes, biased towards what a RESP parser looks at. */
static size_t garbage(char *buf, size_t cap)
{
    static const char alphabet[] = "*$:+-\r\n0123456789 \"'\\x-ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    size_t n = 1 + rng() % (cap - 1);
    unsigned mode = (unsigned)(rng() % 4);
    for (size_t i = 0; i < n; i++) {
        uint64_t x = rng();
        if (mode == 0)
            buf[i] = (char)x;
        else
            buf[i] = alphabet[x % (sizeof alphabet - 1)];
    }
    if (mode == 2)
        buf[0] = '*';
    if (mode == 3 && n > 6)
        memcpy(buf, "*2\r\n$", 5);
    return n;
}

static void test_random_garbage_connections(void **state)
{
    (void)state;
    long long base = info_int(keeper, "clients", "connected_clients");
    char buf[2048];
    int closed_by_server = 0;
    for (int i = 0; i < 1000; i++) {
        struct raw r;
        raw_open(&r, srv.port);
        size_t n = garbage(buf, sizeof buf);
        raw_send(&r, buf, n, true);
        if (i % 3 == 0) {
            /* Hang up hard, with a reset, without reading anything. */
            struct linger lg = { 1, 0 };
            setsockopt(r.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        } else {
            /* Half-close: the server sees EOF and must close its side. */
            shutdown(r.fd, SHUT_WR);
            if (!raw_wait_close(&r, HARNESS_IO_TIMEOUT_MS))
                fail_msg("garbage connection %d: server did not close after EOF", i);
            closed_by_server++;
        }
        raw_close(&r);
        if (i % 100 == 99)
            assert_reply_status(run(keeper, "PING"), "PONG");
    }
    assert_int_equal(closed_by_server, 666);
    keeper_intact();
    /* All garbage connections are gone again. */
    long long now = -1;
    for (int i = 0; i < 500; i++) {
        now = info_int(keeper, "clients", "connected_clients");
        if (now <= base)
            break;
        harness_sleep_ms(10);
    }
    if (!harness_external())
        assert_int_equal(now, base);
    /* And fresh clients are served normally. */
    redisContext *c = server_connect(&srv);
    assert_reply_status(run(c, "SET after:garbage ok"), "OK");
    assert_reply_str(run(c, "GET after:garbage"), "ok");
    redisFree(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_stricter_than_redis),
        cmocka_unit_test(test_overlong_lines),
        cmocka_unit_test(test_unbalanced_quotes),
        cmocka_unit_test(test_random_garbage_connections),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
