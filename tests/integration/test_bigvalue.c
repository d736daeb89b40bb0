/*
 * test_bigvalue: one 64 MiB value, in and out, byte exact, while another
 * client keeps being served.
 *
 * The big request is sent in two halves with a pause between them, and the
 * big reply is left unread for a while, so the server has to hold a
 * partial request and a partial reply across event-loop turns instead of
 * blocking on one connection. The value is a pseudo-random byte pattern
 * (with plenty of CR, LF and NUL bytes), so any shifted or dropped chunk
 * shows.
 */
#include "harness.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG (64u * 1024 * 1024)
#define SLOW_MS 120000

static char *make_value(void)
{
    char *v = malloc(BIG);
    assert_non_null(v);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < BIG; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(v + i, &x, 8);
    }
    return v;
}

/* The other client: a few commands, each answered promptly. */
static void other_client_works(redisContext *c, int round)
{
    int64_t t0 = harness_now_ms();
    assert_reply_status(run(c, "SET big:small:%d v%d", round, round), "OK");
    redisReply *r = run(c, "GET big:small:%d", round);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    char want[32];
    snprintf(want, sizeof want, "v%d", round);
    assert_string_equal(r->str, want);
    freeReplyObject(r);
    assert_reply_status(run(c, "PING"), "PONG");
    int64_t dt = harness_now_ms() - t0;
    if (dt > 3000)
        fail_msg("second client waited %lld ms while the big value was in transit",
                 (long long)dt);
}

static void test_64mib_value(void **state)
{
    (void)state;
    char *val = make_value();
    redisContext *other = server_connect(&harness_srv);
    struct raw a;
    raw_open(&a, harness_srv.port);

    char head[128];
    int hl = snprintf(head, sizeof head, "*3\r\n$3\r\nSET\r\n$6\r\nbig:v1\r\n$%u\r\n", BIG);
    raw_send(&a, head, (size_t)hl, false);
    raw_send(&a, val, BIG / 2, false);
    /* Half a request is parked on connection a; others go on. */
    harness_sleep_ms(100);
    other_client_works(other, 1);
    raw_send(&a, val + BIG / 2, BIG - BIG / 2, false);
    raw_send(&a, "\r\n", 2, false);
    char *rep = raw_reply(&a, NULL, SLOW_MS);
    assert_non_null(rep);
    assert_string_equal(rep, "+OK\r\n");
    free(rep);
    assert_reply_int(run(other, "STRLEN big:v1"), BIG);
    other_client_works(other, 2);

    /* Ask for it back but do not read yet: the server must not stall. */
    raw_sendstr(&a, "GET big:v1\r\n");
    harness_sleep_ms(100);
    other_client_works(other, 3);
    size_t n = 0;
    rep = raw_reply(&a, &n, SLOW_MS);
    assert_non_null(rep);
    hl = snprintf(head, sizeof head, "$%u\r\n", BIG);
    assert_int_equal(n, (size_t)hl + BIG + 2);
    assert_memory_equal(rep, head, (size_t)hl);
    if (memcmp(rep + hl, val, BIG) != 0) {
        size_t i = 0;
        while (rep[hl + i] == val[i])
            i++;
        fail_msg("big value differs from byte %zu on", i);
    }
    assert_memory_equal(rep + hl + BIG, "\r\n", 2);
    free(rep);
    raw_close(&a);

    /* The same through hiredis, plus ranges from inside the value. */
    redisContext *c = server_connect_timeout(&harness_srv, SLOW_MS);
    assert_reply_bulk(run(c, "GET big:v1"), val, BIG);
    assert_reply_bulk(run(c, "GETRANGE big:v1 33554430 33554529"), val + 33554430, 100);
    assert_reply_bulk(run(c, "GETRANGE big:v1 -10 -1"), val + BIG - 10, 10);
    assert_true(info_int(c, "memory", "used_memory") >= (long long)BIG);

    /* Overwrite in place with APPEND, then delete: memory is accounted back. */
    assert_reply_int(run(c, "APPEND big:v1 tail"), BIG + 4);
    assert_reply_str(run(c, "GETRANGE big:v1 -4 -1"), "tail");
    assert_reply_int(run(c, "DEL big:v1"), 1);
    assert_reply_nil(run(c, "GET big:v1"));
    long long used = info_int(c, "memory", "used_memory");
    if (used >= (long long)BIG / 2)
        fail_msg("used_memory still %lld after deleting the 64 MiB value", used);
    other_client_works(other, 4);
    redisFree(c);
    redisFree(other);
    free(val);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_64mib_value),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
