/*
 * Unit tests for the keyspace index: growth from a 4-slot table to 1M keys
 * and shrink back, lookups that stay correct while a resize is in progress
 * (inserts, deletes and gets interleaved with migration), and SCAN's
 * guarantee that every key present for the whole scan is returned even when
 * the index grows and shrinks mid-scan. Also: every deletion from the old
 * table, lazy expiry included, frees it once empty.
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

static unsigned steps_opt = 1;
static enum ks_sweep sweep_opt = KS_SWEEP_ARENAS;

static int setup(void **state)
{
    (void)state;
    struct ks_options o;
    ks_options_default(&o);
    o.initial_power = 2;
    o.rehash_steps = steps_opt;
    o.expire_sweep = sweep_opt;
    kstest_setup(NULL, &o);
    ks_clock_set(1000000);
    return 0;
}

static size_t key_of(char *buf, unsigned i)
{
    return (size_t)snprintf(buf, 32, "key:%u", i);
}

/* value derived from the key number and a version */
static size_t val_of(char *buf, unsigned i, unsigned ver)
{
    return (size_t)snprintf(buf, 48, "v%u.%u%.*s", i, ver, (int)((i + ver) % 13), "xxxxxxxxxxxxx");
}

static bool has(unsigned i, unsigned ver)
{
    char k[32], v[48];
    size_t kl = key_of(k, i), vl = val_of(v, i, ver);
    struct entry *e = ks_peek(k, kl);
    if (!e)
        return false;
    size_t got;
    const char *p = entry_val(e, &got);
    return got == vl && memcmp(p, v, vl) == 0;
}

static void put(unsigned i, unsigned ver)
{
    char k[32], v[48];
    size_t kl = key_of(k, i), vl = val_of(v, i, ver);
    assert_int_equal(ks_set(k, kl, v, vl, KS_NO_EXPIRE), KS_OK);
}

static bool del(unsigned i)
{
    char k[32];
    return ks_del(k, key_of(k, i));
}

/* Runs the cron until the resize is over; what ks_cron returns (the
 * daemon's rehash slices go on while it is true) must say so. */
static void finish_resize(void)
{
    struct ks_stats st;
    for (int i = 0; i < 100000; i++) {
        ks_stats(&st);
        if (!st.rehashing)
            return;
        bool more = ks_cron(1000);
        ks_stats(&st);
        assert_int_equal(more, st.rehashing);
    }
    fail_msg("resize did not finish");
}

static void test_grow_shrink_1m(void **state)
{
    (void)state;
    const unsigned N = 1000000;
    struct ks_stats st;
    unsigned phase_end[] = {10, 1000, 100000, N};
    unsigned from = 0;
    for (unsigned p = 0; p < 4; p++) {
        for (unsigned i = from; i < phase_end[p]; i++)
            put(i, 0);
        from = phase_end[p];
        assert_true(ks_verify());  /* also in the middle of a resize */
        assert_int_equal(ks_count(), from);
    }
    finish_resize();
    ks_stats(&st);
    assert_int_equal(st.keys, N);
    /* growing by a quarter at 0.75 leaves the load between 0.6 and 0.75 */
    assert_true((size_t)N * 4 <= st.index_slots * 3 && (size_t)N * 5 > st.index_slots * 3);
    assert_true(ks_verify());
    for (unsigned i = 0; i < N; i++)
        assert_true(has(i, 0));
    assert_false(has(N, 0));

    /* delete down to 100 keys, checking on the way */
    for (unsigned i = 100; i < N; i++) {
        assert_true(del(i));
        if (i == N / 2 || i == N - 50000)
            assert_true(ks_verify());
    }
    assert_false(del(100));
    assert_int_equal(ks_count(), 100);
    finish_resize();
    for (unsigned i = 0; i < 100; i++)
        assert_true(has(i, 0));
    /* shrinks happen one at a time; cron takes it down to the smallest size */
    for (int i = 0; i < 100; i++)
        ks_cron(1000);
    finish_resize();
    ks_stats(&st);
    /* each shrink went to twice the keys of its moment (a load of 0.5) and
     * fired when the load fell under 0.1: 100 keys are at most 0.5 and at
     * least 0.1 of the last size */
    assert_true(st.index_slots >= 200 && st.index_slots <= 1000);
    assert_true(ks_verify());
    for (unsigned i = 0; i < 100; i++)
        assert_true(del(i));
    for (int i = 0; i < 100; i++)
        ks_cron(1000);
    finish_resize();
    ks_stats(&st);
    assert_int_equal(st.index_slots, 4);  /* never below the initial size */
    assert_int_equal(st.index_bytes, 4 * sizeof(uint32_t));  /* 4-byte slots, no loose entry */
    assert_int_equal(st.keys, 0);
}

/* Inserts, deletes and reads interleaved with a slow (1 slot per op)
 * migration, compared against a model after every operation batch. */
static void test_ops_during_resize(void **state)
{
    (void)state;
    enum { K = 30000 };
    unsigned char *ver = calloc(K, 1);  /* 0 = absent, else version */
    uint64_t rng = 42;
    size_t live = 0, rehash_seen = 0;
    struct ks_stats st;
    for (unsigned op = 0; op < 400000; op++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r = rng >> 33;
        /* grow phase for the first half (more sets), shrink phase after */
        unsigned i = (unsigned)(r % K);
        unsigned kind = (unsigned)((r >> 20) % 10);
        bool grow = op < 200000;
        if (kind < (grow ? 5u : 2u)) {
            unsigned v = (unsigned)(ver[i] % 250) + 1;
            put(i, v);
            live += ver[i] == 0;
            ver[i] = (unsigned char)v;
        } else if (kind < (grow ? 6u : 7u)) {
            assert_int_equal(del(i), ver[i] != 0);
            live -= ver[i] != 0;
            ver[i] = 0;
        } else {
            if (ver[i])
                assert_true(has(i, ver[i]));
            else
                assert_null(ks_peek("key:x", 5) ? (void *)1 : NULL), assert_false(has(i, 1));
        }
        ks_stats(&st);
        rehash_seen += st.rehashing;
        assert_int_equal(st.keys, live);
        if (op % 20011 == 0) {
            assert_true(ks_verify());
            for (unsigned j = 0; j < K; j++)
                assert_true(ver[j] ? has(j, ver[j]) : !has(j, 0));
        }
    }
    assert_true(rehash_seen > 1000);  /* the operations did run during resizes */
    assert_true(ks_verify());
    for (unsigned j = 0; j < K; j++) {
        if (ver[j])
            assert_true(has(j, ver[j]));
    }
    free(ver);
}

struct seen {
    unsigned char *count;
    unsigned n;
};

static void visit(struct entry *e, void *ctx)
{
    struct seen *s = ctx;
    unsigned i = kstest_key_number(e, "key:");
    if (i < s->n && s->count[i] < 255)
        s->count[i]++;
}

/* keys [0, stable) stay for the whole scan; others come and go */
static void scan_with_churn(unsigned stable, unsigned extra, size_t count)
{
    struct seen s = {calloc(stable, 1), stable};
    for (unsigned i = 0; i < stable; i++)
        put(i, 0);
    finish_resize();
    uint64_t cur = 0;
    unsigned calls = 0;
    struct ks_stats st;
    size_t sizes_seen[64] = {0};
    unsigned nsizes = 0;
    do {
        cur = ks_scan(cur, count, visit, &s);
        calls++;
        /* churn between calls: grow a lot, then shrink away again */
        if (calls == 3)
            for (unsigned i = 0; i < extra; i++)
                put(stable + i, 0);
        if (calls == 6)
            for (unsigned i = 0; i < extra; i++)
                assert_true(del(stable + i));
        if (calls > 6 && calls % 2 == 1)
            for (unsigned i = 0; i < 200; i++)
                put(stable + extra + i + calls * 200, 0);
        if (calls > 7 && calls % 2 == 0)
            for (unsigned i = 0; i < 200; i++)
                assert_true(del(stable + extra + i + (calls - 1) * 200));
        if (calls % 5 == 0)
            ks_cron(50);
        ks_stats(&st);
        if (nsizes < 64 && (nsizes == 0 || sizes_seen[nsizes - 1] != st.index_slots))
            sizes_seen[nsizes++] = st.index_slots;
    } while (cur != 0 && calls < 10000000);
    assert_int_equal(cur, 0);
    /* exactly once: the cursor is a position in hash space (scan.c) */
    for (unsigned i = 0; i < stable; i++) {
        if (s.count[i] != 1)
            fail_msg("key:%u returned %u times (count %zu, %u calls)", i, s.count[i], count,
                     calls);
    }
    assert_true(nsizes >= 3);  /* the index did change size mid-scan */
    free(s.count);
    assert_true(ks_verify());
}

static void test_scan_stable(void **state)
{
    (void)state;
    /* no churn: a full scan returns every key exactly once */
    struct seen s = {calloc(5000, 1), 5000};
    for (unsigned i = 0; i < 5000; i++)
        put(i, 0);
    finish_resize();
    uint64_t cur = 0;
    do {
        cur = ks_scan(cur, 10, visit, &s);
    } while (cur);
    for (unsigned i = 0; i < 5000; i++)
        assert_int_equal(s.count[i], 1);
    free(s.count);
}

static void test_scan_resizes(void **state)
{
    (void)state;
    scan_with_churn(3000, 50000, 1);
    ks_flush();
    scan_with_churn(3000, 50000, 10);
    ks_flush();
    scan_with_churn(500, 100000, 100);
}

/* A cursor returned while the table was big, used while a shrink is still
 * migrating (the transition that reverse-binary cursors over power-of-two
 * tables got wrong). Each round grows, scans once, shrinks, scans once
 * mid-shrink. */
static void test_scan_across_shrinks(void **state)
{
    (void)state;
    enum { S = 400, E = 4000 };  /* 5500 to 6875 slots, shrinking to 800 */
    for (int rep = 0; rep < 3; rep++) {
        struct seen s = {calloc(S, 1), S};
        for (unsigned i = 0; i < S; i++)
            put(i, 0);
        finish_resize();
        uint64_t cur = 0;
        unsigned rounds = 0, mid_shrink = 0;
        struct ks_stats st;
        do {
            for (unsigned i = 0; i < E; i++)
                put(S + i, 0);
            finish_resize();
            /* one bucket: leaves the cursor's extra high bits mid-way */
            cur = ks_scan(cur, 1, visit, &s);
            if (cur == 0)
                break;
            for (unsigned i = 0; i < E; i++)
                assert_true(del(S + i));
            ks_stats(&st);
            mid_shrink += st.rehashing;
            cur = ks_scan(cur, 16, visit, &s);
            finish_resize();
            rounds++;
        } while (cur != 0 && rounds < 100000);
        assert_int_equal(cur, 0);
        assert_true(mid_shrink > 10);
        for (unsigned i = 0; i < S; i++) {
            if (s.count[i] != 1)
                fail_msg("key:%u returned %u times (rep %d, %u rounds)", i, s.count[i], rep,
                         rounds);
        }
        free(s.count);
        /* a fresh setup draws a new hash seed: another layout */
        ks_teardown();
        struct ks_options o;
        ks_options_default(&o);
        o.initial_power = 2;
        o.rehash_steps = 1;
        assert_int_equal(ks_setup(&o), 0);
    }
}

static void test_scan_empty_and_expired(void **state)
{
    (void)state;
    struct seen s = {calloc(10, 1), 10};
    assert_int_equal(ks_scan(0, 10, visit, &s), 0);
    char k[32];
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(ks_set(k, key_of(k, i), "v", 1, i < 5 ? 1000001 : KS_NO_EXPIRE), KS_OK);
    ks_clock_set(1000001);
    uint64_t cur = 0;
    do {
        cur = ks_scan(cur, 1, visit, &s);
    } while (cur);
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(s.count[i], i < 5 ? 0 : 1);
    free(s.count);
}

/* Backward shifts during an expiry pass can carry a not-yet-swept entry
 * behind the sweep cursor; the pass must still account for its expiry.
 * A table at high load (long probe runs, frequent shifts across the
 * cursor) with few TTL keys (so the pass minimum stays high) makes that
 * observable through ks_verify, which checks the accounting. */
static void test_expiry_pass_with_shifts(void **state)
{
    (void)state;
    char k[32];
    unsigned next = 0;
    /* 6163 slots at 0.75 load (the last growth was at 3699 keys) */
    enum { LIVE = 4600 };
    for (; next < LIVE; next++) {
        size_t kl = key_of(k, next);
        int64_t exp = next % 10 == 0 ? 1000000 + 3600000 + (int64_t)next : KS_NO_EXPIRE;
        assert_int_equal(ks_set(k, kl, "v", 1, exp), KS_OK);
    }
    finish_resize();
    struct ks_stats st;
    ks_stats(&st);
    size_t slots = st.index_slots;
    size_t reaped = 0;
    for (unsigned step = 0; step < 2000; step++) {
        /* an already-due key now and then keeps the sweep running (the
         * expiry floor would stop it: every other TTL is an hour away) */
        if (step % 40 == 0)
            assert_int_equal(ks_set("due", 3, "v", 1, 1000000), KS_OK);
        reaped += ks_expire_cycle(0);  /* one 256-slot batch of the sweep */
        for (int d = 0; d < 150; d++) {
            /* replace the oldest key: the load stays put, positions are random */
            assert_true(ks_del(k, key_of(k, next - LIVE)));
            size_t kl = key_of(k, next);
            int64_t exp = next % 10 == 0 ? 1000000 + 3600000 + (int64_t)next : KS_NO_EXPIRE;
            assert_int_equal(ks_set(k, kl, "v", 1, exp), KS_OK);
            next++;
        }
        assert_true(ks_verify());
    }
    ks_stats(&st);
    assert_int_equal(st.index_slots, slots);   /* the load stayed at 0.75 */
    assert_true(reaped >= 45);  /* the sweep did run and find the due keys */
}

struct find_key {
    const char *key;
    size_t klen;
    bool found;
};

static void find_key_visit(struct entry *e, void *ctx)
{
    struct find_key *f = ctx;
    size_t kl;
    const char *k = entry_key(e, &kl);
    if (kl == f->klen && memcmp(k, f->key, kl) == 0)
        f->found = true;
}

/*
 * A lazy expiry (ks_get of an expired key) that deletes the last entry of
 * the old table must free that table, as every other deletion does: an old
 * table left with no entries broke ks_verify ("old table kept with no
 * entries") until the next rehash step, which is what fuzz_dispatch hit
 * under some hash seeds (the lookup's own rehash step must not migrate the
 * entry first). Deterministic by construction: a shrink leaves exactly one
 * entry, K, in old, at its home bucket (it is alone), and that home is not
 * slot 0, the only slot the lookup's rehash step (rehash_steps = 1)
 * migrates before the lookup finds K; K's home is checked with ks_scan
 * (count 1 from cursor 0 visits bucket 0 alone) and another key name is
 * tried if it is 0.
 */
static void test_lazy_expiry_frees_empty_old(void **state)
{
    (void)state;
    const int64_t t0 = 1000000;
    char k[32], kk[32];
    struct ks_stats st;
    size_t grown = 0;
    for (unsigned c = 0;; c++) {
        assert_true(c < 32);   /* each name has home 0 with probability 1/58 */
        ks_clock_set(t0);
        /* 40 short-lived keys grow the table to 58 slots; K lives longer,
         * "stay" has no TTL */
        for (unsigned i = 0; i < 40; i++)
            assert_int_equal(ks_set(k, key_of(k, i), "v", 1, t0 + 100), KS_OK);
        size_t kkl = (size_t)snprintf(kk, sizeof kk, "long:%u", c);
        assert_int_equal(ks_set(kk, kkl, "v", 1, t0 + 10000), KS_OK);
        assert_int_equal(ks_set("stay", 4, "v", 1, KS_NO_EXPIRE), KS_OK);
        finish_resize();
        ks_stats(&st);
        grown = st.index_slots;
        assert_true(grown > 42 && grown < 64);

        /* lazy expiry of the short keys (a lookup does not shrink) */
        ks_clock_set(t0 + 200);
        for (unsigned i = 0; i < 40; i++)
            assert_null(ks_get(k, key_of(k, i)));
        assert_int_equal(ks_count(), 2);
        ks_stats(&st);
        assert_int_equal(st.index_slots, grown);

        struct find_key f = {kk, kkl, false};
        ks_scan(0, 1, find_key_visit, &f);
        if (!f.found)
            break;
        ks_flush();   /* K's home is slot 0: try another name */
    }

    /* deleting "stay" shrinks to 4 slots: old holds only K */
    assert_true(ks_del("stay", 4));
    ks_stats(&st);
    assert_true(st.rehashing);
    assert_int_equal(st.index_slots, grown + 4);
    assert_true(ks_verify());

    /* K expires; the lookup migrates old slot 0 (empty), then finds K in old
     * and deletes it: old has no entry left and must be gone */
    ks_clock_set(t0 + 20000);
    assert_null(ks_get(kk, strlen(kk)));
    assert_int_equal(ks_count(), 0);
    assert_true(ks_verify());
    ks_stats(&st);
    assert_false(st.rehashing);
    assert_int_equal(st.index_slots, 4);
}

/* The index sweep reads a slot 8 ahead of the one it looks at: on a table
 * smaller than that (4 slots at the initial size here) the read must wrap
 * inside the table (ASan catches one past its end). */
static void test_index_sweep_small_table(void **state)
{
    (void)state;
    char k[32];
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(ks_set(k, key_of(k, i), "v", 1, 1000000 + 100 + i), KS_OK);
    struct ks_stats st;
    ks_stats(&st);
    assert_int_equal(st.index_slots, 4);
    ks_clock_set(1000000 + 200);
    size_t reaped = 0;
    for (int round = 0; round < 10 && ks_count() > 0; round++)
        reaped += ks_expire_cycle(100000);
    assert_int_equal(reaped, 3);
    assert_int_equal(ks_count(), 0);
    assert_true(ks_verify());
}

static int setup_fast(void **state)
{
    steps_opt = 16;
    sweep_opt = KS_SWEEP_ARENAS;
    return setup(state);
}

static int setup_slow(void **state)
{
    steps_opt = 1;
    sweep_opt = KS_SWEEP_ARENAS;
    return setup(state);
}

/* The index sweep's pass accounting (what test_expiry_pass_with_shifts
 * checks through ks_verify) is only in force in index mode. */
static int setup_slow_index(void **state)
{
    steps_opt = 1;
    sweep_opt = KS_SWEEP_INDEX;
    return setup(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_grow_shrink_1m, setup_fast, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_ops_during_resize, setup_slow, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_scan_stable, setup_slow, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_scan_resizes, setup_slow, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_scan_across_shrinks, setup_slow, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_scan_empty_and_expired, setup_slow, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_pass_with_shifts, setup_slow_index, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_pass_with_shifts, setup_slow, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_lazy_expiry_frees_empty_old, setup_slow, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_index_sweep_small_table, setup_slow_index, kstest_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
