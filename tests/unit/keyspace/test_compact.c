/*
 * Compaction through the keyspace (ks_compact_*), model-based: a random mix
 * of SET (with and without TTL), overwrites with other value sizes (so
 * entries change size class), DEL, EXPIRE/PERSIST, GET and clock advances
 * (the clock is pinned and moves forward), with compaction steps in between:
 * runs stepped with tiny budgets and runs taken to the end. After every
 * compaction step every key is checked against the reference: presence, the
 * value's bytes (regenerated from key and version), the expiry, and the
 * access clock (a move must not change it); slices of active expiry run
 * among the operations, also while a run is unfinished, and after each
 * batch ks_verify checks the expiry sweeps' bounds, which moves must keep
 * (a copy may land behind the sweep's cursor); the modify hook must have fired
 * only for keys the compactor dropped because they had expired (a move is
 * not a modification). ks_verify and alloc_verify run after each batch.
 * Then a delete-every-other-key phase, after which a full compaction must
 * release arenas (mapped bytes fall). Every other pair of runs packs, so
 * entries also move down inside their own arenas and pages above are
 * returned; alloc_verify after every step checks that no live entry's page
 * was. Deterministic operation sequence.
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
#include "alloc/clock.h"
#include "keyspace/keyspace.h"
#include "tests/unit/keyspace/support.h"
#include "tests/unit/rng.h"   /* rng_state, rng() */

#define T0 1700000000000LL
#define K 24000

struct model {
    bool present;
    uint32_t ver;
    uint32_t vlen;
    int64_t exp;
    uint64_t sum;     /* checksum of the value */
    uint16_t clock;   /* access clock the entry must carry */
};

static struct model m[K];
static int64_t now;

static size_t key_of(char *buf, unsigned i)
{
    return (size_t)snprintf(buf, 32, "c:%u", i);
}

/* value bytes of key i at version ver */
static void fill_val(char *v, unsigned i, uint32_t ver, size_t len)
{
    uint64_t x = ((uint64_t)i << 32 | ver) * 0x9e3779b97f4a7c15ull + 1;
    for (size_t j = 0; j < len; j++) {
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9ull;
        v[j] = (char)(x >> 56);
    }
}

static bool live(unsigned i)
{
    return m[i].present && (m[i].exp == KS_NO_EXPIRE || m[i].exp > now);
}

/* A few value sizes, each with a little jitter, so that a (class, band)
 * pair holds enough entries to span several (64 KiB) arenas and an
 * overwrite usually changes the class; now and then one too large for an
 * arena, a loose entry (its own mapping, a loose index slot). */
static size_t pick_vlen(void)
{
    static const size_t base[] = {0, 24, 100, 300, 1000, 3000};
    if (rng() % 64 == 0)
        return 20000 + rng() % 8;
    return base[rng() % 6] + rng() % 8;
}

/* short (1-3 s) or long (1-2 min) TTLs: two bands, each well populated */
static int64_t pick_ttl(void)
{
    return rng() % 2 ? 1000 + (int64_t)(rng() % 2000) : 60000 + (int64_t)(rng() % 60000);
}

static uint64_t checksum(const char *v, size_t n)
{
    uint64_t h = 0x9ae16a3b2f90404full ^ n;
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        uint64_t w;
        memcpy(&w, v + j, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    for (; j < n; j++)
        h = (h ^ (uint8_t)v[j]) * 0x100000001b3ull;
    return h;
}

static char vbuf[20480];  /* the largest pick_vlen */

/* Checks that a lookup of key i found an entry exactly when the model says
 * the key is live; a key found gone is marked absent. */
static bool found(unsigned i, const struct entry *e)
{
    if (!live(i)) {
        assert_null(e);
        m[i].present = false;
        return false;
    }
    assert_non_null(e);
    return true;
}

static void check_key(unsigned i)
{
    char k[32];
    size_t kl = key_of(k, i);
    struct entry *e = ks_peek(k, kl);
    if (!found(i, e))
        return;
    size_t vl;
    const char *v = entry_val(e, &vl);
    assert_int_equal(vl, m[i].vlen);
    assert_true(checksum(v, vl) == m[i].sum);
    assert_int_equal(entry_expire(e), m[i].exp);
    assert_int_equal(entry_access_clock(e), m[i].clock);
}

/* Every key; with lazy false, keys the model says have expired are not
 * looked up (a lookup would delete them), so that the compactor meets
 * expired entries and drops them. */
static void check_all_keys(bool lazy)
{
    for (unsigned i = 0; i < K; i++) {
        if (lazy || live(i) || !m[i].present)
            check_key(i);
    }
}

static void check_all(void)
{
    check_all_keys(true);
}

/* modify-hook log: every notification during a compaction step must be for
 * a key whose expiry has passed */
static bool in_compaction;
static unsigned compaction_notes, bad_notes;

static void on_modify(const char *key, size_t klen, void *ctx)
{
    (void)ctx;
    if (!in_compaction)
        return;
    compaction_notes++;
    unsigned i = 0;  /* the key is not NUL-terminated: parse klen bytes */
    for (size_t j = 2; j < klen; j++)
        i = i * 10 + (unsigned)(key[j] - '0');
    if (klen < 3 || i >= K || live(i))
        bad_notes++;
}

/* A started run evacuates whatever is reclaimable (the thresholds are for
 * the automatic trigger only); every class. */
static void compact_opts(struct alloc_compact_opts *o)
{
    alloc_compact_opts_default(o);
    o->cls = -1;
}

/* One compaction step with the given budget, then the full check. */
static bool step_and_check(uint64_t budget_us)
{
    struct ks_compact_stats a, b;
    ks_compact_stats(&a);
    in_compaction = true;
    compaction_notes = 0;
    bool more = ks_compact_step(budget_us);
    in_compaction = false;
    ks_compact_stats(&b);
    assert_int_equal(bad_notes, 0);
    assert_int_equal(compaction_notes, b.dropped - a.dropped);
    check_all_keys(false);
    assert_true(alloc_verify());   /* pages too: nothing live was purged */
    return more;
}

static void do_op(void)
{
    char k[32];
    unsigned i = (unsigned)(rng() % K);
    size_t kl = key_of(k, i);
    unsigned r = (unsigned)(rng() % 100);
    if (r < 40) {  /* SET / overwrite, half with a TTL */
        size_t vl = pick_vlen();
        int64_t exp = rng() % 2 == 0 ? now + pick_ttl() : KS_NO_EXPIRE;
        uint32_t ver = m[i].ver + 1;
        fill_val(vbuf, i, ver, vl);
        assert_int_equal(ks_set(k, kl, vbuf, vl, exp), KS_OK);
        m[i] = (struct model){true, ver, (uint32_t)vl, exp, checksum(vbuf, vl), ks_access_clock()};
    } else if (r < 60) {  /* DEL */
        bool was = live(i);
        assert_int_equal(ks_del(k, kl), was);
        m[i].present = false;
    } else if (r < 70) {  /* EXPIRE / PERSIST */
        struct entry *e = ks_peek(k, kl);
        if (!found(i, e))
            return;
        int64_t exp = rng() % 4 == 0 ? KS_NO_EXPIRE : now + pick_ttl();
        bool deleted = true;
        assert_non_null(ks_set_expire(e, exp, &deleted));
        assert_false(deleted);
        m[i].exp = exp;
    } else if (r < 95) {  /* GET */
        struct entry *e = ks_get(k, kl);
        if (!found(i, e))
            return;
        m[i].clock = ks_access_clock();
        /* the full bytes, not only the checksum, now and then */
        size_t vl;
        const char *v = entry_val(e, &vl);
        fill_val(vbuf, i, m[i].ver, vl);
        assert_memory_equal(v, vbuf, vl);
        check_key(i);
    } else if (r < 99) {  /* the clock moves on: some keys expire, the access clock ticks */
        now += (int64_t)(rng() % 1000);
        ks_clock_set(now);
    } else if (rng() % 5 == 0) {  /* a slice of active expiry, possibly inside a run */
        ks_expire_cycle(rng() % 50);
    }
}

static void test_model(void **state)
{
    (void)state;
    rng_state = 0x51ed2701f00dull;
    ks_set_modify_hook(on_modify, NULL);
    now = T0;
    ks_clock_set(now);
    struct alloc_compact_opts o;
    compact_opts(&o);
    unsigned steps = 0, full_runs = 0;
    for (int batch = 0; batch < 60; batch++) {
        for (int op = 0; op < 8000; op++)
            do_op();
        /* every other pair of runs packs (pages inside arenas returned);
         * a start while a run is unfinished changes nothing */
        o.pack = (batch / 3) % 2 == 1;
        if (batch % 3 == 0) {
            /* a run in tiny steps: 0 us does the least work a step can */
            ks_compact_start(&o);
            for (int s = 0; s < 30 && step_and_check(rng() % 2); s++)
                steps++;
        } else if (batch % 3 == 1) {
            /* a run to its end, checked after each (larger) step */
            ks_compact_start(&o);
            int s = 0;
            while (step_and_check(300) && s < 10000)
                s++;
            assert_true(s < 10000);
            full_runs++;
        }
        /* (one batch in three leaves a tiny-step run unfinished across
         * the next batch of operations) */
        check_all();
        assert_true(ks_verify());
        assert_true(alloc_verify());
    }
    /* finish whatever is running */
    while (step_and_check(100000))
        ;
    struct ks_compact_stats cs;
    ks_compact_stats(&cs);
    struct alloc_compact_status as;   /* moves are alloc's counters */
    ks_compact_status(&as);
    printf("  %u tiny steps, %u full runs; moved %llu entries (%llu bytes), dropped %llu expired, %llu failed moves, %llu bytes purged\n",
           steps, full_runs, (unsigned long long)as.total.blocks_moved,
           (unsigned long long)as.total.bytes_moved, (unsigned long long)cs.dropped,
           (unsigned long long)as.total.move_failures, (unsigned long long)as.total.bytes_purged);
    assert_true(as.total.blocks_moved > 300);
    assert_true(cs.dropped > 0);  /* (test_drops_expired counts them exactly) */
    assert_int_equal(as.total.move_failures, 0);
    assert_int_equal(cs.strays, 0);
    assert_true(as.total.bytes_purged > 0);   /* the packing runs returned pages */
}

/* Delete every other key: arenas are half empty and nothing is released;
 * a compaction run releases about half of them. */
static void test_release(void **state)
{
    (void)state;
    now = T0;
    ks_clock_set(now);
    char k[32], v[300];
    memset(v, 'r', sizeof v);
    const unsigned n = 60000;
    for (unsigned i = 0; i < n; i++) {
        size_t vl = 20 + (i % 3) * 120;  /* three classes */
        assert_int_equal(ks_set(k, (size_t)snprintf(k, sizeof k, "r:%u", i), v, vl,
                                (i % 4 == 1) ? now + 3600000 : KS_NO_EXPIRE), KS_OK);
    }
    for (unsigned i = 0; i < n; i += 2)
        assert_true(ks_del(k, (size_t)snprintf(k, sizeof k, "r:%u", i)));
    alloc_release_retained();
    struct alloc_stats before, after;
    alloc_stats(&before);
    struct alloc_compact_opts o;
    compact_opts(&o);
    struct alloc_options ao;
    alloc_options_default(&ao);
    ao.compact_min_reclaim = 64 << 10;
    assert_int_equal(alloc_options_apply(&ao), 0);
    assert_true(ks_compact_wanted(&o));  /* half the mapped bytes are slack */
    ks_compact_start(&o);
    /* small steps: each ends as soon as it must wait for the reclaimer
     * thread, so they are many; the guard is time */
    int steps = 0;
    uint64_t t0 = clock_mono_us();
    while (ks_compact_step(500)) {
        steps++;
        assert_true(clock_mono_us() - t0 < 120u * 1000000u);
    }
    alloc_release_retained();
    alloc_stats(&after);
    printf("  every other key deleted: %zu arenas, %.1f MiB mapped before compaction; %zu arenas, "
           "%.1f MiB after (%d steps)\n",
           before.arenas, before.mapped_bytes / 1048576.0, after.arenas, after.mapped_bytes / 1048576.0,
           steps);
    assert_true(after.mapped_bytes * 10 < before.mapped_bytes * 7);  /* at least 30 % less */
    assert_int_equal(after.live_bytes, before.live_bytes);
    struct alloc_compact_status cst;
    ks_compact_status(&cst);
    assert_false(cst.running);
    assert_true(cst.arenas_evacuated > 0);
    assert_false(ks_compact_wanted(&o));  /* nothing left worth a run */
    for (unsigned i = 1; i < n; i += 2) {
        size_t kl = (size_t)snprintf(k, sizeof k, "r:%u", i);
        struct entry *e = ks_peek(k, kl);
        assert_non_null(e);
        size_t vl;
        const char *val = entry_val(e, &vl);
        assert_int_equal(vl, 20 + (i % 3) * 120);
        assert_memory_equal(val, v, vl);
        assert_int_equal(entry_expire(e), (i % 4 == 1) ? now + 3600000 : KS_NO_EXPIRE);
    }
}

/* A run aborted after its first step leaves every key intact and the
 * arenas consistent; a new run then finishes the job. */
static void test_abort(void **state)
{
    (void)state;
    now = T0;
    ks_clock_set(now);
    char k[32], v[200];
    memset(v, 'a', sizeof v);
    for (unsigned i = 0; i < 20000; i++)
        assert_int_equal(ks_set(k, (size_t)snprintf(k, sizeof k, "a:%u", i), v, 150, KS_NO_EXPIRE), KS_OK);
    for (unsigned i = 0; i < 20000; i += 2)
        assert_true(ks_del(k, (size_t)snprintf(k, sizeof k, "a:%u", i)));
    struct alloc_compact_opts o;
    compact_opts(&o);
    ks_compact_start(&o);
    assert_true(ks_compact_step(0));
    ks_compact_abort();
    struct alloc_compact_status st;
    ks_compact_status(&st);
    assert_false(st.running);
    assert_false(ks_compact_step(1000));  /* nothing runs */
    assert_true(ks_verify());
    assert_true(alloc_verify());
    ks_compact_start(&o);
    while (ks_compact_step(100000))
        ;
    for (unsigned i = 1; i < 20000; i += 2) {
        struct entry *e = ks_peek(k, (size_t)snprintf(k, sizeof k, "a:%u", i));
        assert_non_null(e);
        size_t vl;
        const char *val = entry_val(e, &vl);
        assert_int_equal(vl, 150);
        assert_memory_equal(val, v, vl);
    }
    assert_int_equal(ks_count(), 10000);
}

/* Expired entries met by the compactor are deleted, not moved, and count
 * as expired. */
static void test_drops_expired(void **state)
{
    (void)state;
    now = T0;
    ks_clock_set(now);
    char k[32];
    for (unsigned i = 0; i < 20000; i++)
        assert_int_equal(ks_set(k, (size_t)snprintf(k, sizeof k, "d:%u", i), "value", 5,
                                (i % 2) ? now + 100 : KS_NO_EXPIRE), KS_OK);
    /* half of either kind goes: both (class, band) pairs are half empty */
    for (unsigned i = 0; i < 20000; i++) {
        if (i % 4 < 2)
            assert_true(ks_del(k, (size_t)snprintf(k, sizeof k, "d:%u", i)));
    }
    now += 100;  /* the odd keys left are expired but not reaped */
    ks_clock_set(now);
    struct ks_stats st0, st1;
    ks_stats(&st0);
    struct alloc_compact_opts o;
    compact_opts(&o);
    ks_compact_start(&o);
    while (ks_compact_step(100000))
        ;
    ks_stats(&st1);
    struct ks_compact_stats cs;
    ks_compact_stats(&cs);
    assert_true(cs.dropped > 0);
    assert_int_equal(st1.expired_keys - st0.expired_keys, cs.dropped);
    assert_int_equal(ks_count(), 20000 - 10000 - cs.dropped);
}

static int setup(void **state)
{
    (void)state;
    memset(m, 0, sizeof m);
    struct alloc_options ao;
    alloc_options_default(&ao);
    ao.arena_size = ALLOC_ARENA_MIN;  /* 64 KiB: many arenas from few keys */
    struct ks_options o;
    ks_options_default(&o);
    o.initial_power = 4;
    o.rehash_steps = 2;
    kstest_setup(&ao, &o);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_release, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_abort, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_drops_expired, setup, kstest_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
