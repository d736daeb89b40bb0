/*
 * test_eviction: maxmemory with the evicting policies (allkeys-lru,
 * allkeys-random, volatile-ttl).
 *
 * For each policy, a daemon with --maxmemory 8mb gets four times that in
 * 4000-byte values, one write at a time. Every write must succeed (eviction
 * makes room), used_memory must stay under maxmemory * 1.01 throughout, INFO's
 * evicted_keys must count what went, and every key that survived must still
 * hold exactly the value written to it. Policy-specific checks:
 *  - volatile-ttl: keys without a TTL are never evicted (all of them
 *    survive), only keys with one are;
 *  - allkeys-lru: keys not touched for two seconds go before keys read just
 *    now: after a write burst that needs a quarter of the memory freed, at
 *    least 90% of the recently read keys survive (the access clock ticks
 *    once a second, so the test waits for it to tell the two groups apart).
 * Passes against redis-server 7.0.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXMEM (8 * 1024 * 1024)
#define VLEN 4000                    /* with its key, fits 4 KiB size classes */
#define NWRITE (4 * MAXMEM / VLEN)   /* 8388 values: 4x maxmemory */

static struct server srv;

static void start(const char *policy)
{
    if (harness_external())
        skip();
    const char *args[] = {"--maxmemory", "8mb", "--maxmemory-policy", policy, NULL};
    server_start(&srv, args);
}

/* The value written to key i: its number, then filler derived from it. */
static void value_for(int i, char *buf)
{
    int n = snprintf(buf, VLEN, "value-%d-", i);
    for (int j = n; j < VLEN; j++)
        buf[j] = (char)('a' + (i + j) % 26);
}

static void check_memory(redisContext *c, int written)
{
    long long used = info_int(c, "memory", "used_memory");
    if ((double)used >= MAXMEM * 1.01)
        fail_msg("used_memory %lld >= maxmemory * 1.01 after %d writes", used, written);
}

/* Writes keys [from, to) one at a time (no pipelining, so client buffers do
 * not count against memory); each write must succeed. ttl_s 0: no TTL. */
static void write_range(redisContext *c, const char *prefix, int from, int to, int ttl_s)
{
    char val[VLEN];
    for (int i = from; i < to; i++) {
        value_for(i, val);
        redisReply *r = ttl_s ? run(c, "SET %s:%d %b EX %d", prefix, i, val, (size_t)VLEN, ttl_s)
                              : run(c, "SET %s:%d %b", prefix, i, val, (size_t)VLEN);
        if (r->type != REDIS_REPLY_STATUS)
            fail_msg("SET %s:%d under eviction got \"%s\"", prefix, i, r->str ? r->str : "?");
        freeReplyObject(r);
        if (i % 256 == 255)
            check_memory(c, i);
    }
    check_memory(c, to);
}

/* Counts the keys of [from, to) that survive, checking each one's value.
 * Reads in small batches: a long pipeline of GETs would itself fill an
 * output buffer that counts as used memory (in Redis) and evict more. */
static int survivors(redisContext *c, const char *prefix, int from, int to)
{
    char val[VLEN];
    int alive = 0;
    for (int b = from; b < to; b += 8) {
        int e = b + 8 < to ? b + 8 : to;
        for (int i = b; i < e; i++)
            redisAppendCommand(c, "GET %s:%d", prefix, i);
        for (int i = b; i < e; i++) {
            redisReply *r = get_reply(c);
            if (r->type == REDIS_REPLY_NIL) {
                freeReplyObject(r);
                continue;
            }
            value_for(i, val);
            assert_reply_bulk(r, val, VLEN);
            alive++;
        }
    }
    return alive;
}

/* Survivors counted after DBSIZE: the same number in compactd, whose used
 * memory is its data only, so reads never evict. Redis counts client buffers
 * too and evicts before any command while over the limit, so a few keys may
 * go while the test reads. */
static void assert_alive(long long alive, long long keys)
{
    if (harness_is_redis() ? (alive > keys || alive < keys - 64) : alive != keys)
        fail_msg("%lld keys readable, but DBSIZE said %lld", alive, keys);
}

static void basic_policy(const char *policy)
{
    start(policy);
    redisContext *c = server_connect(&srv);
    write_range(c, "ev", 0, NWRITE, 0);
    long long evicted = info_int(c, "stats", "evicted_keys");
    long long keys = dbsize(c);
    if (evicted <= 0)
        fail_msg("%s: evicted_keys is %lld after writing 4x maxmemory", policy, evicted);
    /* Every key is accounted for: written = present + evicted. */
    assert_int_equal(evicted, NWRITE - keys);
    int alive = survivors(c, "ev", 0, NWRITE);
    if (alive == 0 || alive > MAXMEM / VLEN)
        fail_msg("%s: %d of %d keys survive; expected 1..%d", policy, alive, NWRITE, MAXMEM / VLEN);
    assert_alive(alive, keys);
    redisFree(c);
    server_stop(&srv);
}

static void test_allkeys_random(void **state)
{
    (void)state;
    basic_policy("allkeys-random");
}

static void test_allkeys_lru(void **state)
{
    (void)state;
    basic_policy("allkeys-lru");
}

static void test_allkeys_lru_order(void **state)
{
    (void)state;
    start("allkeys-lru");
    redisContext *c = server_connect(&srv);
    /* 5.6 MB: 1400 keys, under the limit, all written now. */
    write_range(c, "old", 0, 1400, 0);
    assert_int_equal(info_int(c, "stats", "evicted_keys"), 0);
    harness_sleep_ms(2200);
    /* Read the first 300 (recently used), leave the other 1100 idle. */
    for (int i = 0; i < 300; i++)
        redisAppendCommand(c, "GET old:%d", i);
    for (int i = 0; i < 300; i++)
        freeReplyObject(get_reply(c));
    /* 4 MB more: about 2 MB must go, all of it available among the idle
     * (4.4 MB). */
    write_range(c, "new", 0, 1024, 0);
    long long evicted = info_int(c, "stats", "evicted_keys");
    assert_true(evicted > 0);
    int hot = survivors(c, "old", 0, 300);
    int idle = survivors(c, "old", 300, 1400);
    int fresh = survivors(c, "new", 0, 1024);
    if (hot < 270 || fresh < 920)
        fail_msg("allkeys-lru evicted recently used keys: %d/300 read-just-now and %d/1024 "
                 "new keys survive, while %d/1100 idle ones do (%lld evicted)",
                 hot, fresh, idle, evicted);
    redisFree(c);
    server_stop(&srv);
}

static void test_volatile_ttl(void **state)
{
    (void)state;
    start("volatile-ttl");
    redisContext *c = server_connect(&srv);
    /* 2 MB without TTL: never evictable under a volatile policy. */
    write_range(c, "keep", 0, 512, 0);
    /* 32 MB with TTLs (distinct, so the policy has an order to follow). */
    char val[VLEN];
    for (int i = 0; i < NWRITE; i++) {
        value_for(i, val);
        redisReply *r = run(c, "SET ev:%d %b EX %d", i, val, (size_t)VLEN,
                           100000 + (i * 7919) % 50000);
        if (r->type != REDIS_REPLY_STATUS)
            fail_msg("SET ev:%d under volatile-ttl got \"%s\"", i, r->str ? r->str : "?");
        freeReplyObject(r);
        if (i % 256 == 255)
            check_memory(c, i);
    }
    check_memory(c, NWRITE);
    long long evicted = info_int(c, "stats", "evicted_keys");
    long long keys = dbsize(c);
    assert_true(evicted > 0);
    assert_int_equal(evicted, NWRITE + 512 - keys);
    assert_int_equal(survivors(c, "keep", 0, 512), 512);
    int alive = survivors(c, "ev", 0, NWRITE);
    assert_alive(512 + alive, keys);
    redisFree(c);
    server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allkeys_random),
        cmocka_unit_test(test_allkeys_lru),
        cmocka_unit_test(test_allkeys_lru_order),
        cmocka_unit_test(test_volatile_ttl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
