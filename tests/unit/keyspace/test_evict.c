/*
 * Eviction (ks_evict) under each maxmemory policy: noeviction frees
 * nothing; volatile-* never touch persistent keys and stop short when no
 * TTL key is left; volatile-ttl takes the soonest expiries first; allkeys-lru
 * keeps recently read keys more often than not and allkeys-lfu frequently
 * read ones; the random policies free what was asked; counters, the modify
 * hook and expired keys met on the way. The policies are sampled
 * approximations, so the quality assertions compare proportions with
 * generous margins (deterministic per hash seed, which varies per run, so
 * the margins are what makes them stable: each was checked over many seeds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "keyspace/keyspace.h"
#include "tests/unit/keyspace/support.h"

#define T0 1700000000000LL
#define N 4000

static int setup(void **state)
{
    (void)state;
    kstest_setup(NULL, NULL);
    ks_clock_set(T0);
    return 0;
}

static size_t key(char *buf, unsigned i)
{
    return (size_t)snprintf(buf, 32, "key:%u", i);
}

static const char val[100] = "value";

/* keys 0..n-1: even ones persistent, odd ones with TTL T0 + 100 s + i s */
static void fill_mixed(unsigned n)
{
    char k[32];
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(ks_set(k, key(k, i), val, 50, (i & 1) ? T0 + 100000 + (int64_t)i * 1000 : KS_NO_EXPIRE),
                         KS_OK);
}

static bool present(unsigned i)
{
    char k[32];
    return ks_peek(k, key(k, i)) != NULL;
}

static void test_names(void **state)
{
    (void)state;
    enum ks_evict_policy p;
    assert_true(ks_evict_policy_parse("ALLKEYS-LRU", &p));
    assert_int_equal(p, KS_EVICT_ALLKEYS_LRU);
    assert_true(ks_evict_policy_parse("volatile-ttl", &p));
    assert_int_equal(p, KS_EVICT_VOLATILE_TTL);
    assert_false(ks_evict_policy_parse("lru", &p));
    assert_string_equal(ks_evict_policy_name(KS_EVICT_VOLATILE_LFU), "volatile-lfu");
    assert_string_equal(ks_evict_policy_name(KS_EVICT_NOEVICTION), "noeviction");
}

static void test_noeviction(void **state)
{
    (void)state;
    fill_mixed(100);
    struct ks_evict_result r = ks_evict(1 << 20, KS_EVICT_NOEVICTION);
    assert_int_equal(r.bytes, 0);
    assert_int_equal(r.keys, 0);
    assert_int_equal(ks_count(), 100);
}

/* volatile-* evict TTL keys only, and stop short once none is left. */
static void test_volatile_spares_persistent(void **state)
{
    (void)state;
    static const enum ks_evict_policy pol[] = {KS_EVICT_VOLATILE_LRU, KS_EVICT_VOLATILE_LFU,
                                               KS_EVICT_VOLATILE_RANDOM, KS_EVICT_VOLATILE_TTL};
    for (unsigned p = 0; p < 4; p++) {
        ks_flush();
        fill_mixed(N);
        ks_set_evict_policy(pol[p]);
        /* a partial eviction: only odd keys go */
        struct ks_evict_result r = ks_evict(20000, pol[p]);
        assert_true(r.bytes >= 20000);
        assert_true(r.keys > 0 && r.keys < N / 2);
        for (unsigned i = 0; i < N; i += 2)
            assert_true(present(i));
        assert_int_equal(ks_count_expires(), N / 2 - r.keys);
        /* asking for everything evicts every TTL key and then stops short */
        r = ks_evict(SIZE_MAX, pol[p]);
        assert_int_equal(ks_count_expires(), 0);
        assert_int_equal(ks_count(), N / 2);
        for (unsigned i = 0; i < N; i += 2)
            assert_true(present(i));
        r = ks_evict(100, pol[p]);
        assert_int_equal(r.keys, 0);
        assert_int_equal(r.bytes, 0);
        assert_true(ks_verify());
    }
}

/* volatile-ttl: the soonest expiries go first. */
static void test_volatile_ttl_order(void **state)
{
    (void)state;
    fill_mixed(N);  /* odd key i expires at T0 + 100 s + i s */
    struct ks_evict_result r = {0, 0};
    while (r.keys < N / 8)
        r.keys += ks_evict(1, KS_EVICT_VOLATILE_TTL).keys;
    /* N/8 evictions among N/2 TTL keys: count those from the soonest quarter */
    unsigned soonest = 0, evicted = 0;
    for (unsigned i = 1; i < N; i += 2) {
        if (!present(i)) {
            evicted++;
            soonest += i < N / 4;
        }
    }
    assert_int_equal(evicted, r.keys);
    printf("  volatile-ttl: %u of %u evicted keys are from the soonest-expiring quarter\n", soonest,
           evicted);
    assert_true(soonest * 10 >= evicted * 6);  /* >= 60 % (observed 68-76 %; random choice: 25 %) */
}

/* allkeys-lru: keys read recently survive more often than keys not read. */
static void test_allkeys_lru(void **state)
{
    (void)state;
    ks_set_evict_policy(KS_EVICT_ALLKEYS_LRU);
    fill_mixed(N);
    ks_clock_set(T0 + 100000);  /* 100 s later, read the first half */
    char k[32];
    for (unsigned i = 0; i < N / 2; i++)
        assert_non_null(ks_get(k, key(k, i)));
    ks_clock_set(T0 + 110000);
    size_t keys = 0;
    while (keys < N / 2)
        keys += ks_evict(1, KS_EVICT_ALLKEYS_LRU).keys;
    unsigned read_left = 0, unread_left = 0;
    for (unsigned i = 0; i < N; i++) {
        if (present(i))
            (*(i < N / 2 ? &read_left : &unread_left))++;
    }
    printf("  allkeys-lru: after evicting half, %u read and %u unread keys are left\n", read_left,
           unread_left);
    assert_true(read_left > 3 * unread_left);
    struct ks_stats st;
    ks_stats(&st);
    assert_int_equal(st.evicted_keys, N / 2);
}

/* allkeys-lfu: keys read often survive keys read once. */
static void test_allkeys_lfu(void **state)
{
    (void)state;
    ks_set_evict_policy(KS_EVICT_ALLKEYS_LFU);
    assert_true(ks_lfu_mode());
    fill_mixed(N);
    char k[32];
    for (int round = 0; round < 30; round++) {
        for (unsigned i = 0; i < N / 4; i++)
            assert_non_null(ks_get(k, key(k, i)));
    }
    struct entry *e = ks_peek(k, key(k, 0));
    assert_true(entry_lfu_freq(e) > 5);  /* from the initial 5, logarithmically */
    assert_true(entry_lfu_freq(ks_peek(k, key(k, N - 1))) == 5);
    size_t keys = 0;
    while (keys < N / 2)
        keys += ks_evict(1, KS_EVICT_ALLKEYS_LFU).keys;
    unsigned hot_left = 0;
    for (unsigned i = 0; i < N / 4; i++)
        hot_left += present(i);
    printf("  allkeys-lfu: after evicting half, %u of %u frequently read keys are left\n", hot_left,
           N / 4);
    assert_true(hot_left * 10 >= (N / 4) * 9);
    /* the counter decays with idle periods (~65 s each) */
    unsigned cold = N / 4;  /* a persistent (even) key not read, still there */
    while (!present(cold))
        cold += 2;
    assert_int_equal(entry_lfu_freq(ks_peek(k, key(k, cold))), 5);
    ks_clock_set(T0 + 3 * 65536);
    assert_int_equal(entry_lfu_freq(ks_peek(k, key(k, cold))), 2);
    ks_clock_set(T0 + 20 * 65536);
    assert_int_equal(entry_lfu_freq(ks_peek(k, key(k, cold))), 0);
    ks_set_evict_policy(KS_EVICT_ALLKEYS_LRU);
    assert_false(ks_lfu_mode());
}

/* allkeys-random and volatile-random free what was asked, from both kinds
 * (allkeys) of keys. */
static void test_random(void **state)
{
    (void)state;
    fill_mixed(N);
    struct ks_evict_result r = ks_evict(100000, KS_EVICT_ALLKEYS_RANDOM);
    assert_true(r.bytes >= 100000);
    unsigned even = 0, odd = 0;
    for (unsigned i = 0; i < N; i++) {
        if (!present(i))
            (*(i & 1 ? &odd : &even))++;
    }
    assert_int_equal(even + odd, r.keys);
    assert_true(even > r.keys / 4 && odd > r.keys / 4);
}

struct hook_count {
    unsigned calls;
};

static void on_modify(const char *k, size_t kl, void *ctx)
{
    (void)k;
    (void)kl;
    ((struct hook_count *)ctx)->calls++;
}

/* Expired keys met while sampling are deleted as expired; every deletion
 * reaches the modify hook; evicted_keys counts evictions only. */
static void test_expired_and_hooks(void **state)
{
    (void)state;
    char k[32];
    for (unsigned i = 0; i < 1000; i++)
        assert_int_equal(ks_set(k, key(k, i), val, 50, (i % 10 == 0) ? KS_NO_EXPIRE : T0 + 10), KS_OK);
    ks_clock_set(T0 + 10);  /* 900 keys are now expired, not yet reaped */
    struct hook_count hc = {0};
    ks_set_modify_hook(on_modify, &hc);
    struct ks_evict_result r = ks_evict(1, KS_EVICT_ALLKEYS_LRU);
    assert_true(r.bytes >= 1);
    struct ks_stats st;
    ks_stats(&st);
    assert_int_equal(st.evicted_keys, r.keys);
    assert_int_equal(hc.calls, r.keys + st.expired_keys);
    assert_true(st.expired_keys > 0);
    /* persistent keys are never expired away: evict them all */
    r = ks_evict(SIZE_MAX, KS_EVICT_ALLKEYS_LRU);
    assert_int_equal(ks_count(), 0);
    ks_stats(&st);
    assert_int_equal(st.evicted_keys, 100);
    assert_int_equal(st.expired_keys, 900);
    assert_int_equal(hc.calls, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_noeviction, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_volatile_spares_persistent, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_volatile_ttl_order, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_allkeys_lru, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_allkeys_lfu, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_random, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_expired_and_hooks, setup, kstest_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
