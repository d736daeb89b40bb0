/*
 * The census (keyspace/census.c) against a model. A fixed keyspace is
 * counted exactly: per group keys, bytes (the sum of entry_footprint), TTL
 * buckets and value sizes, with totals equal to a brute-force count. Then
 * a randomised run writes, deletes, lets keys expire, grows and shrinks the
 * index and compacts between census steps: every key of the stable groups
 * (never touched during the walk) must be counted exactly once, every
 * churned group between its keys present throughout and its keys ever
 * present. Also: top N and "other", more prefixes than the group table
 * holds (totals stay exact), the diff against the previous census, and bad
 * options. Deterministic (fixed seeds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "keyspace/keyspace.h"
#include "tests/unit/keyspace/support.h"
#include "tests/unit/rng.h"

#define T0 1700000000000LL

static char val[4096];

static const struct ks_census_group *find_group(const struct ks_census_report *r, const char *p)
{
    for (size_t i = 0; i < r->ngroups; i++)
        if (!r->groups[i].other && r->groups[i].plen == strlen(p) &&
            memcmp(r->groups[i].prefix, p, r->groups[i].plen) == 0)
            return &r->groups[i];
    return NULL;
}

static void run_census(const struct ks_census_opts *o, uint64_t budget_us)
{
    assert_int_equal(ks_census_start(o), 0);
    while (ks_census_step(budget_us))
        ;
}

static uint64_t sum_u64(const uint64_t *v, int n)
{
    uint64_t s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return s;
}

/* Brute force over the model: 12 groups "g0".."g11", keys "gN:i" (and a
 * depth-2 suffix on some), plus keys without a delimiter (group ""). */
#define NG 12
#define PER 700

struct brute {
    uint64_t keys, bytes, ttl[KS_CENSUS_TTLS], sizes[KS_CENSUS_SIZES];
};

static void test_exact_static(void **state)
{
    (void)state;
    kstest_setup(NULL, NULL);
    ks_clock_set(T0);
    rng_state = 11;
    for (unsigned g = 0; g < NG; g++) {
        for (unsigned i = 0; i < PER + g * 37; i++) {
            char k[64];
            size_t kl = (size_t)snprintf(k, sizeof k, i % 3 ? "g%u:%u" : "g%u:sub:%u", g, i);
            size_t vl = (size_t)(rng() % (g % 3 == 0 ? 3000 : 200));
            int64_t ttl = rng() % 4 == 0 ? KS_NO_EXPIRE : T0 + 1000 + (int64_t)(rng() % 200000000);
            assert_int_equal(ks_set(k, kl, val, vl, ttl), KS_OK);
        }
    }
    for (unsigned i = 0; i < 300; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "plain%u", i);
        assert_int_equal(ks_set(k, kl, val, 10, KS_NO_EXPIRE), KS_OK);
    }
    /* brute force, after all inserts (footprints share the index bytes) */
    struct brute b[NG + 1];
    memset(b, 0, sizeof b);
    struct brute total = {0};
    for (unsigned g = 0; g <= NG; g++) {
        unsigned n = g < NG ? PER + g * 37 : 300;
        for (unsigned i = 0; i < n; i++) {
            char k[64];
            size_t kl = g < NG ? (size_t)snprintf(k, sizeof k, i % 3 ? "g%u:%u" : "g%u:sub:%u", g, i)
                               : (size_t)snprintf(k, sizeof k, "plain%u", i);
            struct entry *e = ks_peek(k, kl);
            assert_non_null(e);
            b[g].keys++;
            b[g].bytes += entry_footprint(e);
            int64_t exp = entry_expire(e);
            int64_t left = exp - T0;
            b[g].ttl[exp == KS_NO_EXPIRE ? 0 : left < 60000 ? 1 : left < 3600000 ? 2 : left < 86400000 ? 3 : 4]++;
            size_t vl = entry_vlen(e);
            unsigned sb = 0;
            for (size_t lim = 16; sb < KS_CENSUS_SIZES - 1 && vl > lim; lim <<= 2)
                sb++;
            b[g].sizes[sb]++;
            total.keys++;
            total.bytes += entry_footprint(e);
        }
    }
    struct ks_census_opts o;
    ks_census_opts_default(&o);
    run_census(&o, 0);
    struct ks_census_report r;
    ks_census_report(&r);
    assert_true(r.complete);
    assert_false(r.running);
    assert_false(r.has_prev);
    assert_int_equal(r.keys, ks_count());
    assert_int_equal(r.keys, total.keys);
    assert_int_equal(r.bytes, total.bytes);
    assert_int_equal(r.ngroups, NG + 1);
    for (unsigned g = 0; g <= NG; g++) {
        char p[16];
        if (g < NG)
            snprintf(p, sizeof p, "g%u", g);
        else
            p[0] = '\0';
        const struct ks_census_group *cg = find_group(&r, p);
        assert_non_null(cg);
        assert_int_equal(cg->keys, b[g].keys);
        assert_int_equal(cg->bytes, b[g].bytes);
        assert_memory_equal(cg->ttl, b[g].ttl, sizeof b[g].ttl);
        assert_memory_equal(cg->sizes, b[g].sizes, sizeof b[g].sizes);
        assert_int_equal(sum_u64(cg->age, KS_CENSUS_AGES), b[g].keys);
        assert_true(cg->pinned_keys <= cg->keys);
        assert_true(cg->pinned_arenas <= cg->pinned_keys);
    }
    /* sorted by bytes, descending */
    for (size_t i = 1; i < r.ngroups; i++)
        assert_true(r.groups[i - 1].bytes >= r.groups[i].bytes);
    /* per class and per band totals add up */
    uint64_t ck = 0, cb = 0, bk = 0;
    for (size_t i = 0; i < r.nclasses; i++) {
        ck += r.classes[i].keys;
        cb += r.classes[i].bytes;
    }
    for (int i = 0; i < KS_CENSUS_BANDS; i++)
        bk += r.bands[i].keys;
    assert_int_equal(ck, total.keys);
    assert_int_equal(cb, total.bytes);
    assert_int_equal(bk, total.keys);

    /* depth 2: "gN:sub" splits off */
    o.depth = 2;
    run_census(&o, 0);
    ks_census_report(&r);
    const struct ks_census_group *sub = find_group(&r, "g0:sub");
    assert_non_null(sub);
    assert_int_equal(sub->keys, (PER + 2) / 3);
    assert_false(r.has_prev);   /* another depth: not comparable */
    kstest_teardown(NULL);
}

/* ---- churn during the walk ---- */

#define SG 8       /* stable groups s0..s7 */
#define SPER 1500
#define CG 6       /* churned groups c0..c5 */
#define CKEYS 6000 /* churned keys, cycled through the groups */

struct ckey {
    bool present;       /* now */
    bool at_start;      /* present when the census started */
    bool touched;       /* written, deleted or expired since */
    bool ever;          /* present at some time during the walk */
    int64_t exp;
};
static struct ckey ck[CKEYS];
static int64_t now;

static size_t ckey_name(char *k, unsigned i)
{
    return (size_t)snprintf(k, 48, "c%u:%u", i % CG, i);
}

static bool ck_live(unsigned i)
{
    return ck[i].present && (ck[i].exp == KS_NO_EXPIRE || ck[i].exp > now);
}

static void churn_op(void)
{
    unsigned i = (unsigned)(rng() % CKEYS);
    char k[48];
    size_t kl = ckey_name(k, i);
    unsigned op = (unsigned)(rng() % 10);
    if (op < 5) {
        int64_t exp = rng() % 3 == 0 ? now + 1 + (int64_t)(rng() % 3000) : KS_NO_EXPIRE;
        assert_int_equal(ks_set(k, kl, val, (size_t)(rng() % 600), exp), KS_OK);
        ck[i].present = true;
        ck[i].exp = exp;
        ck[i].ever = true;
    } else {
        ks_del(k, kl);
        ck[i].present = false;
    }
    ck[i].touched = true;
}

static void test_churn(void **state)
{
    (void)state;
    struct ks_options ko;
    ks_options_default(&ko);
    ko.initial_power = 4;    /* small index: the walk sees it grow */
    kstest_setup(NULL, &ko);
    now = T0;
    ks_clock_set(now);
    rng_state = 23;
    for (unsigned round = 0; round < 3; round++) {
        memset(ck, 0, sizeof ck);
        ks_flush();
        for (unsigned g = 0; g < SG; g++)
            for (unsigned i = 0; i < SPER; i++) {
                char k[48];
                size_t kl = (size_t)snprintf(k, sizeof k, "s%u:%u", g, i);
                int64_t exp = i % 5 == 0 ? now + 10000000 : KS_NO_EXPIRE;
                assert_int_equal(ks_set(k, kl, val, (size_t)(rng() % 1500), exp), KS_OK);
            }
        for (unsigned i = 0; i < CKEYS / 2; i++)
            churn_op();
        for (unsigned i = 0; i < CKEYS; i++) {
            ck[i].at_start = ck_live(i);
            ck[i].touched = false;
            ck[i].ever = ck[i].at_start;
        }
        struct ks_census_opts o;
        ks_census_opts_default(&o);
        assert_int_equal(ks_census_start(&o), 0);
        struct alloc_compact_opts co;
        alloc_compact_opts_default(&co);
        unsigned steps = 0;
        bool more = true;
        while (more) {
            /* phase by step: grow (inserts), then shrink (deletes), with
             * expiry, migration and compaction in between */
            unsigned nops = round == 1 ? 40 : 8;
            for (unsigned j = 0; j < nops; j++)
                churn_op();
            if (steps % 7 == 0) {
                now += (int64_t)(rng() % 400);
                ks_clock_set(now);
                for (unsigned i = 0; i < CKEYS; i++)
                    if (ck[i].present && ck[i].exp != KS_NO_EXPIRE && ck[i].exp <= now) {
                        ck[i].touched = true;   /* gone by expiry */
                        ck[i].present = false;
                    }
                ks_expire_cycle(50);
            }
            ks_cron(20);
            if (steps % 11 == 0)
                ks_compact_start(&co);
            ks_compact_step(30);
            more = ks_census_step(0);
            steps++;
        }
        assert_true(ks_verify());
        struct ks_census_report r;
        ks_census_report(&r);
        assert_true(r.complete);
        uint64_t sum = 0;
        for (size_t i = 0; i < r.ngroups; i++)
            sum += r.groups[i].keys;
        assert_int_equal(sum, r.keys);
        for (unsigned g = 0; g < SG; g++) {
            char p[8];
            snprintf(p, sizeof p, "s%u", g);
            const struct ks_census_group *cg = find_group(&r, p);
            assert_non_null(cg);
            assert_int_equal(cg->keys, SPER);
        }
        for (unsigned g = 0; g < CG; g++) {
            uint64_t lo = 0, hi = 0;
            for (unsigned i = g; i < CKEYS; i += CG) {
                lo += ck[i].at_start && !ck[i].touched;
                hi += ck[i].ever;
            }
            char p[8];
            snprintf(p, sizeof p, "c%u", g);
            const struct ks_census_group *cg = find_group(&r, p);
            uint64_t n = cg ? cg->keys : 0;
            assert_true(n >= lo);
            assert_true(n <= hi);
        }
        ks_compact_abort();
    }
    kstest_teardown(NULL);
}

/* Growing and shrinking the index between steps, stable keys only. */
static void test_resize_only(void **state)
{
    (void)state;
    struct ks_options ko;
    ks_options_default(&ko);
    ko.initial_power = 4;
    ko.rehash_steps = 1;
    kstest_setup(NULL, &ko);
    ks_clock_set(T0);
    for (unsigned i = 0; i < 2000; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "a:%u", i);
        assert_int_equal(ks_set(k, kl, val, 8, KS_NO_EXPIRE), KS_OK);
    }
    struct ks_census_opts o;
    ks_census_opts_default(&o);
    assert_int_equal(ks_census_start(&o), 0);
    unsigned extra = 0;
    for (unsigned step = 0; ks_census_step(0); step++) {
        /* grow 64-fold for a while, then delete them all again (the index
         * shrinks: the walk goes on at a coarser bucket) */
        for (unsigned j = 0; j < 400; j++) {
            char k[32];
            if ((step / 40) % 2 == 0) {
                size_t kl = (size_t)snprintf(k, sizeof k, "b:%u", extra++);
                assert_int_equal(ks_set(k, kl, val, 8, KS_NO_EXPIRE), KS_OK);
            } else if (extra > 0) {
                size_t kl = (size_t)snprintf(k, sizeof k, "b:%u", --extra);
                assert_true(ks_del(k, kl));
            }
        }
    }
    struct ks_census_report r;
    ks_census_report(&r);
    const struct ks_census_group *a = find_group(&r, "a");
    assert_non_null(a);
    assert_int_equal(a->keys, 2000);
    kstest_teardown(NULL);
}

/* The index shrinks to a coarser table while the walk is inside one of the
 * coarse buckets: the keys of that bucket already counted (reversed hash
 * below the position) must not be counted again. The walk stops after k
 * fine buckets for every k up to 64, so most stops fall inside a coarse
 * bucket of 8 or more fine ones. */
static void test_shrink_mid_bucket(void **state)
{
    (void)state;
    for (unsigned k = 1; k <= 64; k++) {
        struct ks_options ko;
        ks_options_default(&ko);
        ko.initial_power = 4;
        kstest_setup(NULL, &ko);
        ks_clock_set(T0);
        char key[32];
        for (unsigned i = 0; i < 200; i++) {
            size_t kl = (size_t)snprintf(key, sizeof key, "a:%u", i);
            assert_int_equal(ks_set(key, kl, val, 8, KS_NO_EXPIRE), KS_OK);
        }
        for (unsigned i = 0; i < 4000; i++) {
            size_t kl = (size_t)snprintf(key, sizeof key, "b:%u", i);
            assert_int_equal(ks_set(key, kl, val, 8, KS_NO_EXPIRE), KS_OK);
        }
        struct ks_census_opts o;
        ks_census_opts_default(&o);
        assert_int_equal(ks_census_start(&o), 0);
        for (unsigned s = 0; s < k; s++)
            assert_true(ks_census_step(0));
        for (unsigned i = 0; i < 4000; i++) {
            size_t kl = (size_t)snprintf(key, sizeof key, "b:%u", i);
            assert_true(ks_del(key, kl));
        }
        for (int i = 0; i < 100; i++)   /* start the shrink and finish it */
            ks_cron(1000);
        while (ks_census_step(0))
            ;
        struct ks_census_report r;
        ks_census_report(&r);
        const struct ks_census_group *a = find_group(&r, "a");
        assert_non_null(a);
        assert_int_equal(a->keys, 200);   /* "b" keys counted before the deletes count too */
        kstest_teardown(NULL);
    }
}

/* Pinning against the arenas themselves: "keep" keys share a size class
 * with "drop" keys, three of four of which are deleted, so that class's
 * arenas are sparse and a compaction could shrink it; "dense" keys fill
 * another class, whose arenas (the last, partly filled one included) pin
 * nothing because moving them would return nothing. */
static void test_pinned(void **state)
{
    (void)state;
    struct alloc_options ao;
    alloc_options_default(&ao);
    ao.arena_size = ALLOC_ARENA_MIN;
    kstest_setup(&ao, NULL);
    ks_clock_set(T0);
    char key[32];
    for (unsigned i = 0; i < 4000; i++) {
        size_t kl = (size_t)snprintf(key, sizeof key, "%s:%06u", i % 4 ? "drop" : "keep", i);
        assert_int_equal(ks_set(key, kl, val, 100, KS_NO_EXPIRE), KS_OK);
    }
    for (unsigned i = 0; i < 136; i++) {   /* 1400-byte values: 42 slots an arena */
        size_t kl = (size_t)snprintf(key, sizeof key, "dense:%04u", i);
        assert_int_equal(ks_set(key, kl, val, 1400, KS_NO_EXPIRE), KS_OK);
    }
    for (unsigned i = 0; i < 4000; i++) {
        size_t kl = (size_t)snprintf(key, sizeof key, "drop:%06u", i);
        if (i % 4)
            assert_true(ks_del(key, kl));
    }
    /* the model: the sparse arenas of keep's class, from the allocator */
    struct entry *e = ks_peek("keep:000000", 11);
    assert_non_null(e);
    struct alloc_arena_info ki;
    alloc_arena_info(alloc_arena_of(e), &ki);
    assert_true(alloc_compact_reclaimable((int)ki.cls) > 0);
    size_t n = alloc_arena_list((int)ki.cls, NULL, 0);
    struct alloc_arena_ref *refs = calloc(n, sizeof(*refs));
    assert_non_null(refs);
    assert_int_equal(alloc_arena_list((int)ki.cls, refs, n), n);
    uint64_t sparse = 0, sparse_live = 0;
    for (size_t i = 0; i < n; i++)
        if (refs[i].info.live * 2 < refs[i].info.slots) {
            sparse++;
            sparse_live += refs[i].info.live;
        }
    free(refs);
    assert_true(sparse >= 2);
    /* dense's class: full arenas and a last one under half full */
    e = ks_peek("dense:0000", 10);
    assert_non_null(e);
    struct alloc_arena_info di;
    alloc_arena_info(alloc_arena_of(e), &di);
    assert_int_equal(alloc_compact_reclaimable((int)di.cls), 0);
    struct alloc_arena_ref dr[16];
    size_t dn = alloc_arena_list((int)di.cls, dr, 16);
    assert_true(dn >= 2 && dn <= 16);
    size_t dsparse = 0;
    for (size_t i = 0; i < dn; i++)
        dsparse += dr[i].info.live * 2 < dr[i].info.slots;
    assert_int_equal(dsparse, 1);

    struct ks_census_opts o;
    ks_census_opts_default(&o);
    run_census(&o, 0);
    struct ks_census_report r;
    ks_census_report(&r);
    const struct ks_census_group *keep = find_group(&r, "keep");
    const struct ks_census_group *dense = find_group(&r, "dense");
    assert_non_null(keep);
    assert_non_null(dense);
    assert_int_equal(keep->keys, 1000);
    assert_int_equal(keep->pinned_keys, sparse_live);
    assert_int_equal(keep->pinned_arenas, sparse);
    assert_int_equal(dense->keys, 136);
    assert_int_equal(dense->pinned_keys, 0);
    assert_int_equal(dense->pinned_arenas, 0);
    kstest_teardown(NULL);
}

/* Deletes keys "<g>:<from>".."<g>:<to - 1>"; returns their entries' own
 * bytes (what the census's deltas count). */
static int64_t del_keys(const char *g, unsigned from, unsigned to)
{
    int64_t bytes = 0;
    for (unsigned i = from; i < to; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "%s:%u", g, i);
        bytes += (int64_t)alloc_usable(ks_peek(k, kl));
        assert_true(ks_del(k, kl));
    }
    return bytes;
}

/* top N, "other", more prefixes than the table holds, and the diff. */
static void test_top_other_diff(void **state)
{
    (void)state;
    kstest_setup(NULL, NULL);
    ks_clock_set(T0);
    /* 2000 single-key prefixes plus three big groups */
    for (unsigned i = 0; i < 2000; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "u%u:x", i);
        assert_int_equal(ks_set(k, kl, val, 4, KS_NO_EXPIRE), KS_OK);
    }
    for (unsigned g = 0; g < 3; g++)
        for (unsigned i = 0; i < 400; i++) {
            char k[32];
            size_t kl = (size_t)snprintf(k, sizeof k, "big%u:%u", g, i);
            assert_int_equal(ks_set(k, kl, val, 100 + g * 100, KS_NO_EXPIRE), KS_OK);
        }
    struct ks_census_opts o;
    ks_census_opts_default(&o);
    o.top = 3;
    run_census(&o, 0);
    struct ks_census_report r;
    ks_census_report(&r);
    assert_int_equal(r.keys, 3200);
    assert_int_equal(r.ngroups, 4);
    assert_true(r.groups[3].other);
    assert_int_equal(r.groups[3].keys, 2000);
    const char *want[3] = {"big2", "big1", "big0"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.groups[i].plen, strlen(want[i]));
        assert_memory_equal(r.groups[i].prefix, want[i], strlen(want[i]));
        assert_int_equal(r.groups[i].keys, 400);
    }

    /* big1 grows, big0 shrinks: the diff shows it, to the byte (the
     * entries' own bytes: the index share moves for everyone, and big2,
     * which nobody touched, shows no change) */
    int64_t added = 0, removed = 0;
    for (unsigned i = 400; i < 700; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "big1:%u", i);
        assert_int_equal(ks_set(k, kl, val, 200, KS_NO_EXPIRE), KS_OK);
        added += (int64_t)alloc_usable(ks_peek(k, kl));
    }
    removed = del_keys("big0", 0, 100);
    run_census(&o, 0);
    ks_census_report(&r);
    assert_true(r.has_prev);
    const struct ks_census_group *g1 = find_group(&r, "big1"), *g0 = find_group(&r, "big0");
    assert_non_null(g1);
    assert_non_null(g0);
    assert_int_equal(g1->keys_delta, 300);
    assert_int_equal(g1->bytes_delta, added);
    assert_int_equal(g0->keys_delta, -100);
    assert_int_equal(g0->bytes_delta, -removed);
    assert_int_equal(find_group(&r, "big2")->keys_delta, 0);
    assert_int_equal(find_group(&r, "big2")->bytes_delta, 0);
    size_t mem2 = r.memory;
    /* memory bounded: a third census keeps two, the same size as before */
    run_census(&o, 0);
    ks_census_report(&r);
    assert_int_equal(r.memory, mem2);
    assert_int_equal(find_group(&r, "big1")->keys_delta, 0);
    assert_int_equal(find_group(&r, "big1")->bytes_delta, 0);
    assert_int_equal(r.nvanished, 0);

    /* big2 goes away entirely: the diff lists it among the vanished, once
     * the walk keeps every prefix (TOP 1000: room for the 2,000 small
     * ones; with TOP 3 some are folded into "other" during the walk, and a
     * folded prefix cannot be told from a vanished one) */
    o.top = 1000;
    int64_t gone = del_keys("big2", 0, 400);
    run_census(&o, 0);
    ks_census_report(&r);
    assert_null(find_group(&r, "big2"));
    assert_int_equal(r.nvanished, 1);
    assert_int_equal(r.vanished[0].plen, 4);
    assert_memory_equal(r.vanished[0].prefix, "big2", 4);
    assert_int_equal(r.vanished[0].keys, 0);
    assert_int_equal(r.vanished[0].keys_delta, -400);
    assert_int_equal(r.vanished[0].bytes_delta, -gone);
    kstest_teardown(NULL);
}

static void test_bad_options(void **state)
{
    (void)state;
    kstest_setup(NULL, NULL);
    struct ks_census_opts o;
    ks_census_opts_default(&o);
    o.depth = 0;
    assert_int_equal(ks_census_start(&o), EINVAL);
    o.depth = KS_CENSUS_DEPTH_MAX + 1;
    assert_int_equal(ks_census_start(&o), EINVAL);
    o.depth = 1;
    o.top = 0;
    assert_int_equal(ks_census_start(&o), EINVAL);
    o.top = 5;
    assert_int_equal(ks_census_start(&o), 0);
    assert_int_equal(ks_census_start(&o), EBUSY);
    assert_true(ks_census_running());
    ks_census_abort();
    assert_false(ks_census_running());
    struct ks_census_report r;
    ks_census_report(&r);
    assert_false(r.complete);
    /* an empty keyspace completes with nothing */
    run_census(&o, 0);
    ks_census_report(&r);
    assert_true(r.complete);
    assert_int_equal(r.keys, 0);
    assert_int_equal(r.ngroups, 0);
    kstest_teardown(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_static),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_resize_only),
        cmocka_unit_test(test_shrink_mid_bucket),
        cmocka_unit_test(test_pinned),
        cmocka_unit_test(test_top_other_diff),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
