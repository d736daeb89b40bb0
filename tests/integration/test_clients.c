/*
 * test_clients: many connections at once, each with requests in flight.
 *
 * 200 clients each keep their own keys. In every round all of them write
 * requests before any reads a reply, and replies are collected in a
 * shuffled client order, so the server always has many half-served
 * connections. Every value read must be the one that client wrote, and
 * INFO's connected_clients must count exactly the open connections, also
 * after half of them hang up.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCLIENTS 200
#define NROUNDS  25

static unsigned rng_state = 12345;

static unsigned rng(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

static void shuffle(int *v, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rng() % (unsigned)(i + 1));
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* A value derived from client and round, of varying length. */
static size_t value_for(int client, int round, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "c%d-r%d-", client, round);
    size_t len = (size_t)n + (size_t)((client * 31 + round * 17) % 300);
    assert_true(len < cap);
    for (size_t i = (size_t)n; i < len; i++)
        buf[i] = (char)('a' + (client + round + (int)i) % 26);
    return len;
}

/* Waits (bounded) until connected_clients equals want; returns the last value. */
static long long wait_clients(redisContext *c, long long want)
{
    long long n = -1;
    for (int i = 0; i < 500; i++) {
        n = info_int(c, "clients", "connected_clients");
        if (n == want)
            break;
        harness_sleep_ms(10);
    }
    return n;
}

static void test_200_interleaved_clients(void **state)
{
    (void)state;
    static redisContext *cl[NCLIENTS];
    int order[NCLIENTS];
    for (int i = 0; i < NCLIENTS; i++) {
        cl[i] = server_connect(&harness_srv);
        order[i] = i;
    }
    redisContext *admin = server_connect(&harness_srv);
    long long base = harness_external() ? 0 : 1;   /* admin itself */
    if (!harness_external())
        assert_int_equal(wait_clients(admin, NCLIENTS + base), NCLIENTS + base);

    char val[512], prev[512];
    for (int round = 0; round < NROUNDS; round++) {
        /* Everyone writes first ... */
        shuffle(order, NCLIENTS);
        for (int k = 0; k < NCLIENTS; k++) {
            int i = order[k];
            size_t vl = value_for(i, round, val, sizeof val);
            redisAppendCommand(cl[i], "SET cl:%d:%d %b", i, round, val, vl);
            redisAppendCommand(cl[i], "APPEND cl:%d:log %d,", i, round);
            if (round > 0)
                redisAppendCommand(cl[i], "GET cl:%d:%d", i, round - 1);
            redisAppendCommand(cl[i], "INCR cl:%d:n", i);
            /* Flush now so all requests really are in flight together. */
            int done = 0;
            while (!done)
                assert_int_equal(redisBufferWrite(cl[i], &done), REDIS_OK);
        }
        /* ... then replies are read in another order. */
        shuffle(order, NCLIENTS);
        for (int k = 0; k < NCLIENTS; k++) {
            int i = order[k];
            assert_reply_status(get_reply(cl[i]), "OK");
            redisReply *r = get_reply(cl[i]);
            assert_int_equal(r->type, REDIS_REPLY_INTEGER);
            freeReplyObject(r);
            if (round > 0) {
                size_t pl = value_for(i, round - 1, prev, sizeof prev);
                assert_reply_bulk(get_reply(cl[i]), prev, pl);
            }
            assert_reply_int(get_reply(cl[i]), round + 1);
        }
        if (round == NROUNDS / 2 && !harness_external())
            assert_int_equal(info_int(admin, "clients", "connected_clients"), NCLIENTS + base);
    }

    /* Every client's data is intact, read back by one other connection. */
    char log[NROUNDS * 4 + 1];
    size_t ll = 0;
    for (int round = 0; round < NROUNDS; round++)
        ll += (size_t)snprintf(log + ll, sizeof log - ll, "%d,", round);
    for (int i = 0; i < NCLIENTS; i++) {
        redisAppendCommand(admin, "GET cl:%d:log", i);
        redisAppendCommand(admin, "GET cl:%d:%d", i, NROUNDS - 1);
    }
    for (int i = 0; i < NCLIENTS; i++) {
        assert_reply_bulk(get_reply(admin), log, ll);
        size_t vl = value_for(i, NROUNDS - 1, val, sizeof val);
        assert_reply_bulk(get_reply(admin), val, vl);
    }

    /* Half hang up; the count follows. */
    for (int i = 0; i < NCLIENTS / 2; i++) {
        redisFree(cl[i]);
        cl[i] = NULL;
    }
    if (!harness_external())
        assert_int_equal(wait_clients(admin, NCLIENTS / 2 + base), NCLIENTS / 2 + base);
    for (int i = NCLIENTS / 2; i < NCLIENTS; i++) {
        assert_reply_status(run(cl[i], "PING"), "PONG");
        redisFree(cl[i]);
    }
    if (!harness_external())
        assert_int_equal(wait_clients(admin, base), base);
    redisFree(admin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_200_interleaved_clients),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
