/*
 * Unit tests for alloc/: the pooled size-class arena allocator.
 *
 * The centrepiece is a randomised model test: millions of mixed-size
 * allocations and frees against a reference array, every block filled with
 * bytes derived from its id and checked on free (so overlapping or reused
 * live slots show up as corruption), alloc_verify() and the statistics
 * compared with the model every few thousand operations, and phases of
 * injected mmap failure. The other tests pin down the policies one at a
 * time: options (and that the option rows' defaults and bounds are what
 * setup and apply accept) and every arena size, the class table,
 * alignment, fullest-first placement, release of empty arenas to the OS
 * (mapped bytes and RSS) and reuse of retained ones, large blocks, failure injection,
 * per-class statistics, the live-slot walk, a compactor's evacuation done
 * through the public API (in one go and spread over ticks with a pinned
 * source), and that bad frees abort.
 *
 * Linked only against alloc (and cmocka). Deterministic: fixed seeds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc/alloc.h"

#include "tests/support/shadow.h"
#include "tests/unit/rng.h"   /* rng_state, rng() */
#include "tests/unit/alloc/pattern.h"

#define MIB ((size_t)1 << 20)

/* ---------------------------------------------------------------- helpers */

/* alloc_rss_bytes, which must have read a figure (0 means it could not),
 * less ASan's shadow (tests/support/shadow.h) */
static size_t rss_bytes(void)
{
    size_t rss = alloc_rss_bytes();
    assert_true(rss > 0);
    long shadow = test_shadow_rss_bytes(0);
    assert_true(shadow >= 0 && (size_t)shadow < rss);
    return rss - (size_t)shadow;
}

static void setup_with(size_t arena_size, unsigned retain)
{
    alloc_teardown();
    alloc_fail_after(-1);
    struct alloc_options o;
    alloc_options_default(&o);
    o.arena_size = arena_size;
    o.arena_retain = retain;
    assert_int_equal(alloc_setup(&o), 0);
}

static int reset(void **state)
{
    (void)state;
    alloc_fail_after(-1);
    alloc_teardown();
    return 0;
}

static const void *arena_base(const void *p)
{
    const struct alloc_arena *a = alloc_arena_of(p);
    assert_non_null(a);
    struct alloc_arena_info in;
    alloc_arena_info(a, &in);
    return in.base;
}

/* ------------------------------------------------------------ class table */

static const unsigned expected_slots_1mib[] = {
    116272, 61556, 41856, 31710, 25523, 21356, 18358, 16099, 14335, 12919, 11757, 10788, 9966,
    9260, 8648, 8112, 7638, 7216, 6839, 6499, 6192, 5912, 5656, 5422, 5206, 5006, 4822, 4650,
    4491, 4342, 4202, 4071, 3833, 3620, 3430, 3260, 3105, 2964, 2835, 2718, 2609, 2509, 2416,
    2330, 2250, 2175, 2105, 2039, 1916, 1810, 1715, 1629, 1552, 1482, 1417, 1358, 1304, 1254,
    1208, 1165, 1125, 1087, 1052, 1019, 960, 906, 859, 816, 777, 742, 709, 680, 653, 628, 604,
    583, 563, 544, 526, 510, 480, 453, 429, 408, 388, 371, 355, 340, 326, 314, 302, 291, 281,
    272, 263, 255, 240, 226, 215, 204, 194, 185, 177, 170, 163, 157, 151, 145, 140, 136, 131,
    127, 120, 113, 107, 102, 97, 92, 88, 85, 81, 78, 75, 72, 70, 68, 65, 63, 60, 56, 53, 51, 48,
    46, 44, 42, 40, 39, 37, 36, 35, 34, 32, 31, 30, 28, 26, 25, 24, 23, 22, 21, 20, 19, 18, 18,
    17, 17, 16, 15, 15, 14, 13, 12, 12, 11, 11, 10, 10, 9, 9, 9, 8, 8, 8, 7,
};

static void test_options(void **state)
{
    (void)state;
    struct alloc_options o;
    alloc_options_default(&o);
    assert_int_equal(o.arena_size, MIB);
    o.arena_size = 3 * MIB;
    assert_int_equal(alloc_setup(&o), EINVAL);
    o.arena_size = ALLOC_ARENA_MIN / 2;
    assert_int_equal(alloc_setup(&o), EINVAL);
    o.arena_size = ALLOC_ARENA_MAX * 2;
    assert_int_equal(alloc_setup(&o), EINVAL);
    o.arena_size = 1 << 16;
    assert_int_equal(alloc_setup(&o), 0);
    /* idempotent: keeps the first options */
    alloc_options_default(&o);
    assert_int_equal(alloc_setup(&o), 0);
    struct alloc_stats st;
    alloc_stats(&st);
    assert_int_equal(st.arena_size, 1 << 16);
    assert_int_equal(st.large_threshold, 8192);
    assert_int_equal(alloc_class_count(), 16 + 16 * (16 - 10));
    alloc_teardown();
    /* lazy setup with the defaults */
    void *p = owned_block(100, 0);
    assert_non_null(p);
    alloc_stats(&st);
    assert_int_equal(st.arena_size, MIB);
    alloc_free(p);
    assert_true(alloc_verify());
}

/* The defaults with one field set to v (converted to the field's type). */
#define OPTIONS_WITH(field, v)                                                  \
    ({                                                                          \
        struct alloc_options o_;                                                \
        alloc_options_default(&o_);                                             \
        o_.field = (__typeof__(o_.field))(v);                                   \
        o_;                                                                     \
    })

/* What alloc_setup says to o; tears down what it set up. */
static int setup_rc(struct alloc_options o)
{
    int rc = alloc_setup(&o);
    if (rc == 0) {
        assert_true(alloc_verify());
        alloc_teardown();
    }
    return rc;
}

static int apply_rc(struct alloc_options o)
{
    return alloc_options_apply(&o);
}

#define SETUP_WITH_FIELD(field, v) setup_rc(OPTIONS_WITH(field, v))

/* rc_of (setup_rc or apply_rc) accepts min and max and refuses one past
 * either (where the field's type can hold it). */
#define EXPECT_BOUNDS(rc_of, field, min, max)                                            \
    do {                                                                                 \
        assert_int_equal(rc_of(OPTIONS_WITH(field, min)), 0);                            \
        assert_int_equal(rc_of(OPTIONS_WITH(field, max)), 0);                            \
        if ((long long)(min) > 0)                                                        \
            assert_int_equal(rc_of(OPTIONS_WITH(field, (unsigned long long)(min) - 1)),  \
                             EINVAL);                                                    \
        if ((unsigned long long)(max) < FIELD_MAX(field))                                \
            assert_int_equal(rc_of(OPTIONS_WITH(field, (unsigned long long)(max) + 1)),  \
                             EINVAL);                                                    \
    } while (0)

#define FIELD_MAX(field) ((unsigned long long)(__typeof__(((struct alloc_options *)0)->field))~0ull)

/* The option rows are what alloc_options_default sets and what alloc_setup
 * and alloc_options_apply accept: every default within its row's bounds,
 * both bounds accepted, one past either refused. */
static void test_option_rows(void **state)
{
    (void)state;
    alloc_teardown();
    struct alloc_options def;
    alloc_options_default(&def);
    unsigned rows = 0;
#define X(field, name, type, d, min, max, flags, words, desc)                           \
    rows++;                                                                             \
    assert_true(def.field == (d));                                                      \
    assert_true((long long)(d) >= (long long)(min) && (long long)(d) <= (long long)(max)); \
    assert_true(name[0] != '\0' && desc[0] != '\0');                                   \
    EXPECT_BOUNDS(setup_rc, field, min, max);                                           \
    assert_int_equal(alloc_setup(NULL), 0);                                             \
    EXPECT_BOUNDS(apply_rc, field, min, max);                                           \
    alloc_teardown();
    ALLOC_OPTIONS(X)
#undef X
    assert_int_equal(rows, 5);
    /* arena-size is a power of two between the limits */
    assert_int_equal(SETUP_WITH_FIELD(arena_size, ALLOC_ARENA_MIN / 2), EINVAL);
    assert_int_equal(SETUP_WITH_FIELD(arena_size, ALLOC_ARENA_MIN * 3), EINVAL);
    assert_int_equal(SETUP_WITH_FIELD(arena_size, ALLOC_ARENA_MAX - ALLOC_ARENA_MIN), EINVAL);
    assert_int_equal(SETUP_WITH_FIELD(arena_size, ALLOC_ARENA_MIN * 2), 0);
    /* a refused apply changes nothing: the trigger keeps the thresholds in
     * force. Small arenas, 3 blocks in 4 freed: whole arenas reclaimable. */
    setup_with(ALLOC_ARENA_MIN, 4);
    enum { N = 400 };
    void *p[N];
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = owned_block(1000, 0));
    for (int i = 0; i < N; i++)
        if (i % 4)
            alloc_free(p[i]);
    assert_true(alloc_compact_reclaimable(-1) > 0);
    struct alloc_options o;
    alloc_options_default(&o);
    o.compact_min_reclaim = 0;
    o.compact_frag_threshold = 1000;
    assert_int_equal(alloc_options_apply(&o), 0);
    assert_true(alloc_compact_wanted(NULL));
    o.compact_frag_threshold = 1000000;    /* mapped / live is about 4 */
    o.arena_size = ALLOC_ARENA_MIN * 3;    /* not applied, but still checked */
    assert_int_equal(alloc_options_apply(&o), EINVAL);
    assert_true(alloc_compact_wanted(NULL));
    o.arena_size = ALLOC_ARENA_MIN;
    assert_int_equal(alloc_options_apply(&o), 0);
    assert_false(alloc_compact_wanted(NULL));
    o.compact_frag_threshold = 999;
    assert_int_equal(alloc_options_apply(&o), EINVAL);
    assert_false(alloc_compact_wanted(NULL));
    for (int i = 0; i < N; i += 4)
        alloc_free(p[i]);
    assert_true(alloc_verify());
}

static void test_class_table(void **state)
{
    (void)state;
    setup_with(MIB, 4);
    unsigned n = alloc_class_count();
    assert_int_equal(n, sizeof(expected_slots_1mib) / sizeof(expected_slots_1mib[0]));
    for (unsigned i = 0; i < n; i++) {
        /* one block per class so that each class has an arena to report */
        void *p = owned_block(alloc_class_size(i), 0);
        assert_non_null(p);
        struct alloc_class_stats cs;
        assert_true(alloc_class_stats(i, &cs));
        assert_int_equal(cs.slots, expected_slots_1mib[i]);
        assert_int_equal(cs.slot_size, alloc_class_size(i));
        assert_true(cs.slots * cs.slot_size <= MIB);
        alloc_free(p);
    }
    assert_int_equal(alloc_class_size(n - 1), MIB / 8);
    assert_int_equal(alloc_size_class(MIB / 8 + 1), n);
    /* Every size maps to the smallest class that holds it, and rounding
     * waste is under 8 bytes up to 128 and under 1/16 of the request above. */
    unsigned c = 0;
    for (size_t size = 1; size <= MIB / 8; size++) {
        while (alloc_class_size(c) < size)
            c++;
        assert_int_equal(alloc_size_class(size), c);
        size_t slot = alloc_class_size(c);
        if (size <= 128)
            assert_true(slot - size < 8);
        else
            assert_true((slot - size) * 16 < size);
    }
    assert_int_equal(alloc_size_class(0), 0);
    assert_true(alloc_verify());
}

/* Every allowed arena size, smallest to largest, gives a consistent table
 * and working arenas. */
static void test_arena_sizes(void **state)
{
    (void)state;
    for (unsigned lg = 16; lg <= 30; lg += 2) {
        size_t a = (size_t)1 << lg;
        setup_with(a, 0);
        unsigned n = alloc_class_count();
        assert_int_equal(n, 16 + 16 * (lg - 10));
        assert_int_equal(alloc_class_size(n - 1), a / 8);
        const size_t sizes[] = {1, 24, 200, 3000, a / 16 + 1, a / 8, a / 8 + 1};
        void *p[7];
        for (int i = 0; i < 7; i++) {
            p[i] = owned_block(sizes[i], (unsigned)i);
            assert_non_null(p[i]);
            assert_true(alloc_usable(p[i]) >= sizes[i]);
            memset(p[i], 0x5a, sizes[i] < 65536 ? sizes[i] : 65536);
        }
        assert_null(alloc_arena_of(p[6]));
        for (unsigned c = 0; c < n; c++) {
            struct alloc_class_stats cs;
            assert_true(alloc_class_stats(c, &cs));
            if (cs.arenas)
                assert_true(cs.slots >= 7 * cs.arenas); /* at least 7 slots per arena */
        }
        assert_true(alloc_verify());
        for (int i = 0; i < 7; i++)
            alloc_free(p[i]);
        struct alloc_stats st;
        alloc_stats(&st);
        assert_int_equal(st.mapped_bytes, 0);
        assert_true(alloc_verify());
    }
}

/* -------------------------------------------------------------- alignment */

static void test_alignment(void **state)
{
    (void)state;
    setup_with(MIB, 4);
    enum { PER = 5 };
    void *blocks[200][PER];
    unsigned n = alloc_class_count();
    assert_true(n <= 200);
    for (unsigned i = 0; i < n; i++) {
        size_t sz = alloc_class_size(i);
        for (int k = 0; k < PER; k++) {
            void *p = owned_block(sz - (k % 2 ? 0 : (sz > 8 ? 1 : 0)), (unsigned)k);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % 8, 0);
            if (sz % 16 == 0)
                assert_int_equal((uintptr_t)p % 16, 0);
            assert_int_equal(alloc_usable(p), sz);
            memset(p, 0xab, sz);
            blocks[i][k] = p;
        }
    }
    assert_true(alloc_verify());
    for (unsigned i = 0; i < n; i++)
        for (int k = 0; k < PER; k++)
            alloc_free(blocks[i][k]);
    struct alloc_stats st;
    alloc_stats(&st);
    assert_int_equal(st.live_blocks, 0);
    assert_int_equal(st.arenas, 0);
    assert_true(alloc_verify());
}

/* ------------------------------------------------------------- model test */

struct model_block {
    void *p;
    size_t size;
    uint64_t id;
    uint32_t handle;   /* an arena block's, taken when allocated: it must stay its name */
    unsigned band;
};

static size_t model_size(void)
{
    uint64_t r = rng() % 1000;
    if (r < 600)
        return 1 + rng() % 256;
    if (r < 978)
        return 257 + rng() % (4096 - 256);
    if (r < 998)
        return 4097 + rng() % (128 * 1024 - 4096);
    return 128 * 1024 + 1 + rng() % (512 * 1024);
}

static void model_check_stats(const struct model_block *m, size_t live)
{
    struct alloc_stats st;
    alloc_stats(&st);
    size_t bytes = 0;
    for (size_t i = 0; i < live; i++)
        bytes += m[i].size;
    assert_int_equal(st.live_blocks, live);
    assert_int_equal(st.live_bytes, bytes);
    assert_true(st.slot_bytes >= st.live_bytes);
    assert_true(st.mapped_bytes >= st.slot_bytes);
}

static void run_model(size_t arena_size, unsigned retain, size_t ops, size_t max_live,
                      uint64_t seed)
{
    setup_with(arena_size, retain);
    rng_state = seed;
    struct model_block *m = calloc(max_live, sizeof(*m));
    assert_non_null(m);
    size_t live = 0;
    uint64_t next_id = 1, failures = 0, fail_until = 0;
    struct alloc_stats st;
    for (size_t op = 0; op < ops; op++) {
        /* The target working set swings between ~0 and max_live in waves of
         * different lengths, so arenas fill, drain and are released. */
        size_t period = 200000 + (op / 1000000) * 70000;
        size_t phase = op % period;
        size_t target = (size_t)((double)max_live *
                                 (phase < period / 2 ? (double)phase / (period / 2)
                                                     : (double)(period - phase) / (period / 2)));
        if (op % 300000 == 150000) {
            /* failure phase: only the next few OS mappings succeed */
            alloc_fail_after((long)(rng() % 3));
            fail_until = op + 5000;
        }
        if (op == fail_until)
            alloc_fail_after(-1);
        bool do_alloc = live == 0 || (live < max_live && (rng() % 100) < (live < target ? 70 : 30));
        if (do_alloc) {
            size_t size = model_size();
            unsigned band = (unsigned)(rng() % ALLOC_BANDS);
            void *p = owned_block(size, band);
            if (p == NULL) {
                assert_int_equal(errno, ENOMEM);
                assert_true(op < fail_until);
                failures++;
                continue;
            }
            assert_int_equal((uintptr_t)p % 8, 0);
            size_t us = alloc_usable(p);
            assert_true(us >= size);
            if (us % 16 == 0)
                assert_int_equal((uintptr_t)p % 16, 0);
            const struct alloc_arena *a = alloc_arena_of(p);
            unsigned cls = alloc_size_class(size);
            if (cls < alloc_class_count()) {
                assert_non_null(a);
                struct alloc_arena_info in;
                alloc_arena_info(a, &in);
                assert_int_equal(in.cls, cls);
                assert_int_equal(in.band, band);
                assert_int_equal(us, alloc_class_size(cls));
            } else {
                assert_null(a);
            }
            uint32_t h = a ? alloc_handle(p) : 0;
            if (a) {
                assert_true(h >= ALLOC_HANDLE_MIN && h < (uint32_t)1 << ALLOC_HANDLE_BITS);
                assert_ptr_equal(alloc_deref(h), p);
            }
            uint64_t id = next_id++;
            pattern(p, 0, size, id, false);
            m[live++] = (struct model_block){p, size, id, h, band};
        } else {
            size_t i = rng() % live;
            pattern(m[i].p, 0, m[i].size, m[i].id, true);
            if (m[i].handle) {
                assert_ptr_equal(alloc_deref(m[i].handle), m[i].p);
                assert_int_equal(alloc_handle(m[i].p), m[i].handle);
            }
            alloc_free(m[i].p);
            m[i] = m[--live];
        }
        if (op % 20000 == 0) {
            assert_true(alloc_verify());
            model_check_stats(m, live);
        }
    }
    assert_true(alloc_verify());
    model_check_stats(m, live);
    alloc_stats(&st);
    assert_int_equal(st.alloc_failures, failures);
    assert_true(failures > 0); /* the injection phases did bite */
    while (live > 0) {
        size_t i = rng() % live;
        pattern(m[i].p, 0, m[i].size, m[i].id, true);
        alloc_free(m[i].p);
        m[i] = m[--live];
    }
    assert_true(alloc_verify());
    alloc_stats(&st);
    assert_int_equal(st.live_blocks, 0);
    assert_int_equal(st.live_bytes, 0);
    assert_int_equal(st.arenas, 0);
    assert_int_equal(st.large_blocks, 0);
    assert_true(st.retained_arenas <= retain);
    assert_int_equal(st.mapped_bytes, st.retained_arenas * arena_size);
    free(m);
}

static void test_model_random(void **state)
{
    (void)state;
    run_model(MIB, 4, 3000000, 30000, 42);
}

/* Small arenas: many more arenas, boundaries and releases per operation;
 * no retention, so every emptied arena is unmapped at once. */
static void test_model_small_arenas(void **state)
{
    (void)state;
    run_model(ALLOC_ARENA_MIN, 0, 1000000, 5000, 7);
}

/* ------------------------------------------------------------- handles */

/* Arena numbers run out at 2^31 / (arena_size / 8): with the largest arenas
 * that is 15 arenas (number 0 is never given). The 16th fails as a refused
 * mapping does, handles of the others keep naming their blocks, and an
 * unmapped arena's number is given again. */
static void test_handle_numbers(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MAX, 0);
    const unsigned want = ((uint32_t)1 << ALLOC_HANDLE_BITS) / (ALLOC_ARENA_MAX / 8) - 1;
    assert_true(want < alloc_class_count());
    void *blk[64];
    uint32_t h[64];
    /* one block per class: every class needs an arena of its own */
    for (unsigned i = 0; i < want; i++) {
        blk[i] = owned_block(alloc_class_size(i), 0);
        assert_non_null(blk[i]);
        h[i] = alloc_handle(blk[i]);
        assert_true(h[i] >= ALLOC_HANDLE_MIN && h[i] < (uint32_t)1 << ALLOC_HANDLE_BITS);
        for (unsigned k = 0; k < i; k++)
            assert_int_not_equal(h[k] >> 27, h[i] >> 27);  /* a number per arena */
    }
    assert_true(alloc_verify());
    errno = 0;
    assert_null(owned_block(alloc_class_size(want), 0));
    assert_int_equal(errno, ENOMEM);
    struct alloc_stats st;
    alloc_stats(&st);
    assert_int_equal(st.alloc_failures, 1);
    /* a second block of a class with an arena needs no number */
    void *more = owned_block(alloc_class_size(0), 0);
    assert_non_null(more);
    assert_int_equal(alloc_handle(more) >> 27, h[0] >> 27);
    alloc_free(more);
    for (unsigned i = 0; i < want; i++)
        assert_ptr_equal(alloc_deref(h[i]), blk[i]);
    /* retain 0: freeing class 3's only block unmaps its arena */
    assert_true(alloc_handle_mapped(h[3]));
    alloc_free(blk[3]);
    assert_true(alloc_verify());
    assert_false(alloc_handle_mapped(h[3]));
    assert_true(alloc_handle_mapped(h[4]));
    assert_false(alloc_handle_mapped(h[4] & (((uint32_t)1 << 27) - 1)));  /* number 0 */
    void *again = owned_block(alloc_class_size(want), 0);
    assert_non_null(again);
    assert_int_equal(alloc_handle(again) >> 27, h[3] >> 27);
    assert_ptr_equal(alloc_deref(alloc_handle(again)), again);
    assert_true(alloc_verify());
    alloc_free(again);
    for (unsigned i = 0; i < want; i++)
        if (i != 3)
            alloc_free(blk[i]);
    assert_true(alloc_verify());
}

/* ------------------------------------------------------- fullest first */

static void test_fullest_first(void **state)
{
    (void)state;
    setup_with(MIB, 4);
    const size_t sz = 1000; /* class 1024: about 1020 slots per 1 MiB arena */
    unsigned cls = alloc_size_class(sz);
    struct alloc_class_stats cs;
    void *probe = owned_block(sz, 3);
    assert_true(alloc_class_stats(cls, &cs));
    alloc_free(probe);
    const size_t per = cs.slots;
    assert_int_equal(per, expected_slots_1mib[cls]);

    /* Fill three arenas. */
    void **blk = calloc(3 * per, sizeof(void *));
    assert_non_null(blk);
    for (size_t i = 0; i < 3 * per; i++) {
        blk[i] = owned_block(sz, 3);
        assert_non_null(blk[i]);
    }
    const void *base[3];
    for (int k = 0; k < 3; k++) {
        base[k] = arena_base(blk[k * per]);
        for (size_t i = 0; i < per; i++)
            assert_ptr_equal(arena_base(blk[k * per + i]), base[k]);
    }
    assert_ptr_not_equal(base[0], base[1]);
    assert_ptr_not_equal(base[1], base[2]);
    /* Leave arena 0 at ~10 %, arena 1 at ~55 %, arena 2 at ~90 % live. */
    const size_t keep[3] = {per / 10, per * 55 / 100, per * 9 / 10};
    for (int k = 0; k < 3; k++)
        for (size_t i = keep[k]; i < per; i++) {
            alloc_free(blk[k * per + i]);
            blk[k * per + i] = NULL;
        }
    assert_true(alloc_verify());
    struct alloc_arena_info in;
    alloc_arena_info(alloc_arena_of(blk[0]), &in);
    assert_int_equal(in.bucket, 0);
    alloc_arena_info(alloc_arena_of(blk[2 * per]), &in);
    assert_int_equal(in.bucket, 7);
    /* The sparsest arena is the one a compactor would evacuate. */
    struct alloc_arena *sp = alloc_arena_sparsest(cls, 3);
    assert_non_null(sp);
    alloc_arena_info(sp, &in);
    assert_ptr_equal(in.base, base[0]);
    assert_null(alloc_arena_sparsest(cls, 4)); /* other band: nothing */

    /* New blocks fill the fullest arena first, then the next, and never
     * touch the sparse one while the others have room. */
    size_t need[3];
    for (int k = 0; k < 3; k++)
        need[k] = per - keep[k];
    int order[3] = {2, 1, 0};
    for (int j = 0; j < 3; j++) {
        int k = order[j];
        for (size_t i = 0; i < need[k]; i++) {
            void *p = owned_block(sz, 3);
            assert_non_null(p);
            assert_ptr_equal(arena_base(p), base[k]);
            blk[k * per + keep[k] + i] = p;
        }
    }
    /* All three full: the next block needs a fourth arena. */
    struct alloc_stats st;
    alloc_stats(&st);
    assert_int_equal(st.arenas, 3);
    void *extra = owned_block(sz, 3);
    alloc_stats(&st);
    assert_int_equal(st.arenas, 4);
    alloc_free(extra);
    alloc_stats(&st);
    assert_int_equal(st.arenas, 3);
    assert_int_equal(st.retained_arenas, 1);

    /* Draining an arena releases it. */
    for (size_t i = 0; i < per; i++)
        alloc_free(blk[i]);
    alloc_stats(&st);
    assert_int_equal(st.arenas, 2);
    assert_true(alloc_verify());
    for (size_t i = per; i < 3 * per; i++)
        alloc_free(blk[i]);
    free(blk);
    assert_true(alloc_verify());
}

/* ------------------------------------------------------ release to the OS */

static void test_release_empty(void **state)
{
    (void)state;
    const unsigned retain = 8; /* more than the RSS slack below */
    setup_with(MIB, retain);
    alloc_release_retained();
    enum { N = 120000 };
    void **blk = calloc(N, sizeof(void *));
    assert_non_null(blk);
    memset(blk, 0, N * sizeof(void *));
    size_t rss0 = rss_bytes();
    rng_state = 99;
    size_t bytes = 0;
    for (size_t i = 0; i < N; i++) {
        size_t sz = 64 + rng() % 1200;
        blk[i] = owned_block(sz, (unsigned)(i % ALLOC_BANDS));
        assert_non_null(blk[i]);
        memset(blk[i], (int)i, sz);
        bytes += sz;
    }
    struct alloc_stats st;
    alloc_stats(&st);
    assert_true(bytes > 70 * MIB);
    assert_true(st.mapped_bytes >= bytes);
    size_t rss_full = rss_bytes();
    assert_true(rss_full > rss0 + 60 * MIB);
    assert_true(alloc_verify());
    /* free in random order */
    for (size_t i = N - 1; i > 0; i--) {
        size_t j = rng() % (i + 1);
        void *t = blk[i];
        blk[i] = blk[j];
        blk[j] = t;
    }
    for (size_t i = 0; i < N; i++)
        alloc_free(blk[i]);
    assert_true(alloc_verify());
    alloc_stats(&st);
    assert_int_equal(st.live_blocks, 0);
    assert_int_equal(st.arenas, 0);
    assert_true(st.retained_arenas <= retain);
    assert_true(st.mapped_bytes <= retain * MIB);
    assert_int_equal(st.retained_arenas, retain);
    /* all retained arenas but the two most recent were purged */
    assert_true(st.os_purges >= retain - 2);
    size_t rss_after = rss_bytes();
    /* Everything above the empty process comes back, bar at most two dirty
     * retained arenas and a little slack. */
    assert_true(rss_after < rss0 + 4 * MIB);
    free(blk);
    alloc_release_retained();
    alloc_stats(&st);
    assert_int_equal(st.mapped_bytes, 0);
    assert_int_equal(st.retained_arenas, 0);
    assert_true(alloc_verify());
}

/* A retained arena is reused by another class: its old contents (slots of
 * 4 KiB filled with 0xff) must not show through as bitmap bits. */
static void test_retained_reuse_other_class(void **state)
{
    (void)state;
    setup_with(MIB, 4);
    struct alloc_stats st;
    unsigned c4k = alloc_size_class(4096);
    struct alloc_class_stats cs;
    void *first = owned_block(4096, 0);
    alloc_class_stats(c4k, &cs);
    size_t per = cs.slots;
    void **blk = calloc(per, sizeof(void *));
    assert_non_null(blk);
    blk[0] = first;
    for (size_t i = 1; i < per; i++)
        blk[i] = owned_block(4096, 0);
    for (size_t i = 0; i < per; i++)
        memset(blk[i], 0xff, 4096);
    for (size_t i = 0; i < per; i++)
        alloc_free(blk[i]);
    alloc_stats(&st);
    assert_int_equal(st.retained_arenas, 1);
    uint64_t maps = st.os_maps;
    /* 8-byte class: its bitmap covers 15 KiB of the old slots. */
    void *p = owned_block(8, 1);
    assert_non_null(p);
    alloc_stats(&st);
    assert_int_equal(st.os_maps, maps); /* reused, not mapped */
    assert_int_equal(st.retained_arenas, 0);
    assert_true(alloc_verify());
    void *q = owned_block(8, 1);
    assert_true(alloc_verify());
    alloc_free(p);
    alloc_free(q);
    free(blk);
    /* Oscillating around an arena boundary costs no system call. The first
     * block takes the 8-byte class's spare, which is purged for the new
     * layout (one madvise); from then on the pair reuses its own spare. */
    void *r0 = owned_block(300, 2);
    assert_non_null(r0);
    alloc_free(r0);
    alloc_stats(&st);
    uint64_t calls = st.os_maps + st.os_unmaps + st.os_purges;
    for (int i = 0; i < 1000; i++) {
        void *r = owned_block(300, 2);
        assert_non_null(r);
        alloc_free(r);
    }
    alloc_stats(&st);
    assert_int_equal(st.os_maps + st.os_unmaps + st.os_purges, calls);
    assert_true(alloc_verify());
}

/* ---------------------------------------------------------- large blocks */

static void test_large(void **state)
{
    (void)state;
    setup_with(MIB, 4);
    struct alloc_stats st;
    alloc_stats(&st);
    size_t thr = st.large_threshold;
    assert_int_equal(thr, MIB / 8);
    void *at = owned_block(thr, 0);
    assert_non_null(alloc_arena_of(at));
    assert_int_equal(alloc_usable(at), thr);
    const size_t sizes[] = {thr + 1, 300000, MIB - 64, MIB, 5 * MIB + 3};
    void *p[5];
    size_t mapped = 0, req = 0;
    for (int i = 0; i < 5; i++) {
        p[i] = owned_block(sizes[i], (unsigned)i);
        assert_non_null(p[i]);
        assert_null(alloc_arena_of(p[i]));
        assert_int_equal((uintptr_t)p[i] % 64, 0);
        assert_true(alloc_usable(p[i]) >= sizes[i]);
        /* page rounding plus at most 2 KiB of colour reserve */
        assert_true(alloc_usable(p[i]) < sizes[i] + 4096 + 2048);
        memset(p[i], i + 1, alloc_usable(p[i]));
        mapped += alloc_usable(p[i]);
        req += sizes[i];
    }
    alloc_stats(&st);
    assert_int_equal(st.large_blocks, 5);
    /* each mapping: the block, a 64-byte header and at most 2 KiB colour
     * offset, rounded to pages */
    assert_true(st.large_bytes >= mapped + 5 * 64);
    assert_true(st.large_bytes < mapped + 5 * (64 + 2048 + 4096));
    assert_int_equal(st.slot_bytes, mapped + thr);
    assert_int_equal(st.live_blocks, 6);
    assert_int_equal(st.live_bytes, req + thr);
    assert_true(alloc_verify());
    for (int i = 0; i < 5; i++) {
        unsigned char *b = p[i];
        assert_int_equal(b[0], i + 1);
        assert_int_equal(b[sizes[i] - 1], i + 1);
        alloc_free(p[i]);
    }
    alloc_free(at);
    alloc_stats(&st);
    assert_int_equal(st.large_blocks, 0);
    assert_int_equal(st.large_bytes, 0);
    assert_int_equal(st.mapped_bytes, st.retained_arenas * MIB);
    /* absurd sizes fail cleanly */
    errno = 0;
    assert_null(owned_block(SIZE_MAX - 10, 0));
    assert_int_equal(errno, ENOMEM);
    assert_true(alloc_verify());
}

/* ----------------------------------------------------- failure injection */

static void test_fail_injection(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MIN, 0);
    const size_t sz = 2000;
    unsigned cls = alloc_size_class(sz);
    struct alloc_class_stats cs;
    void *first = owned_block(sz, 0);
    assert_non_null(first);
    alloc_class_stats(cls, &cs);
    size_t per = cs.slots;
    void **blk = calloc(per, sizeof(void *));
    assert_non_null(blk);
    blk[0] = first;
    for (size_t i = 1; i < per; i++)
        blk[i] = owned_block(sz, 0);

    struct alloc_stats before, after;
    alloc_stats(&before);
    alloc_fail_after(0);
    errno = 0;
    assert_null(owned_block(sz, 0)); /* class full: needs an arena */
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(owned_block(100, 5)); /* fresh class/band: needs an arena */
    assert_int_equal(errno, ENOMEM);
    assert_null(owned_block(1 << 20, 0)); /* large */
    alloc_stats(&after);
    assert_int_equal(after.alloc_failures, before.alloc_failures + 3);
    assert_int_equal(after.live_blocks, before.live_blocks);
    assert_int_equal(after.live_bytes, before.live_bytes);
    assert_int_equal(after.mapped_bytes, before.mapped_bytes);
    assert_int_equal(after.arenas, before.arenas);
    assert_true(alloc_verify());
    /* Freeing makes room without the OS: allocation works again. */
    alloc_free(blk[5]);
    blk[5] = owned_block(sz, 0);
    assert_non_null(blk[5]);
    /* One more mapping allowed, then failures again. */
    alloc_fail_after(1);
    void *x = owned_block(sz, 0);
    assert_non_null(x);
    assert_null(owned_block(100, 6));
    assert_true(alloc_verify());
    alloc_fail_after(-1);
    void *y = owned_block(100, 6);
    assert_non_null(y);
    alloc_free(x);
    alloc_free(y);
    for (size_t i = 0; i < per; i++)
        alloc_free(blk[i]);
    free(blk);
    alloc_stats(&after);
    assert_int_equal(after.mapped_bytes, 0);
    assert_true(alloc_verify());
}

/* -------------------------------------------------------- per-class stats */

struct sums {
    size_t classes, arenas, live, live_bytes, slot_bytes;
};

static void add_class(const struct alloc_class_stats *cs, void *ctx)
{
    struct sums *s = ctx;
    s->classes++;
    s->arenas += cs->arenas;
    s->live += cs->live;
    s->live_bytes += cs->live_bytes;
    s->slot_bytes += cs->live * cs->slot_size;
    assert_int_equal(cs->waste, cs->rounding + cs->free_bytes + cs->overhead);
    assert_int_equal(cs->rounding, cs->live * cs->slot_size - cs->live_bytes);
    assert_true(cs->live <= cs->slots);
}

static void test_class_stats(void **state)
{
    (void)state;
    setup_with(MIB, 4);
    rng_state = 5;
    enum { N = 20000 };
    void **blk = calloc(N, sizeof(void *));
    assert_non_null(blk);
    for (size_t i = 0; i < N; i++) {
        size_t sz = i % 97 == 0 ? 200000 + i : 1 + rng() % 3000;
        blk[i] = owned_block(sz, (unsigned)(rng() % ALLOC_BANDS));
        assert_non_null(blk[i]);
    }
    for (size_t i = 0; i < N; i += 3) {
        alloc_free(blk[i]);
        blk[i] = NULL;
    }
    struct alloc_stats st;
    alloc_stats(&st);
    struct sums s = {0};
    alloc_class_stats_foreach(false, add_class, &s);
    assert_true(s.classes > 10);
    assert_int_equal(s.arenas, st.arenas);
    assert_int_equal(s.live + st.large_blocks, st.live_blocks);
    size_t large_usable = 0;
    for (size_t i = 0; i < N; i++)
        if (blk[i] && alloc_arena_of(blk[i]) == NULL)
            large_usable += alloc_usable(blk[i]);
    assert_true(st.large_blocks > 100);
    assert_int_equal(s.slot_bytes + large_usable, st.slot_bytes);
    assert_int_equal(st.mapped_bytes,
                     (st.arenas + st.retained_arenas) * MIB + st.large_bytes);
    struct sums all = {0};
    alloc_class_stats_foreach(true, add_class, &all);
    assert_int_equal(all.classes, alloc_class_count());
    assert_int_equal(all.live, s.live);
    assert_false(alloc_class_stats(alloc_class_count(), &(struct alloc_class_stats){0}));
    assert_true(alloc_verify());
    for (size_t i = 0; i < N; i++)
        alloc_free(blk[i]);
    free(blk);
    alloc_stats(&st);
    assert_int_equal(st.live_blocks, 0);
}

/* ------------------------------------------------------- live-slot walks */

struct walk {
    void *prev;
    size_t seen;
    bool free_it;
    size_t stop_after;
};

static bool visit(void *b, void *ctx)
{
    struct walk *w = ctx;
    assert_true(w->prev == NULL || (char *)b > (char *)w->prev);
    w->prev = b;
    w->seen++;
    /* contents are the slot's own address: proves it is a live block */
    assert_ptr_equal(*(void **)b, b);
    if (w->free_it)
        alloc_free(b);
    return w->seen != w->stop_after;
}

static void test_foreach_live(void **state)
{
    (void)state;
    setup_with(MIB, 0);
    enum { N = 3000 };
    void *blk[N];
    for (int i = 0; i < N; i++) {
        blk[i] = owned_block(256, 1);
        *(void **)blk[i] = blk[i];
    }
    for (int i = 0; i < N; i += 2)
        alloc_free(blk[i]);
    unsigned cls = alloc_size_class(256);
    size_t arenas = 0, total = 0;
    for (struct alloc_arena *a = alloc_arena_first(cls); a; a = alloc_arena_next(a)) {
        struct alloc_arena_info in;
        alloc_arena_info(a, &in);
        assert_int_equal(in.cls, cls);
        struct walk w = {0};
        assert_int_equal(alloc_arena_foreach_live(a, visit, &w), in.live);
        assert_int_equal(w.seen, in.live);
        total += w.seen;
        arenas++;
    }
    assert_int_equal(total, N / 2);
    assert_true(arenas >= 1);
    /* early stop */
    struct walk w = {.stop_after = 10};
    assert_int_equal(alloc_arena_foreach_live(alloc_arena_first(cls), visit, &w), 10);
    /* A walk that frees everything (a mover evacuating): the arena outlives
     * the walk and is released after it. */
    struct alloc_stats st;
    while (alloc_arena_first(cls)) {
        struct alloc_arena *a = alloc_arena_first(cls);
        alloc_stats(&st);
        size_t before = st.arenas;
        struct walk fw = {.free_it = true};
        alloc_arena_foreach_live(a, visit, &fw);
        alloc_stats(&st);
        assert_int_equal(st.arenas, before - 1);
        assert_true(alloc_verify());
    }
    alloc_stats(&st);
    assert_int_equal(st.live_blocks, 0);
    assert_int_equal(st.mapped_bytes, 0);
}

/* A compactor's evacuation, done with the public API: walk the sparsest
 * arena, copy each block into a fresh block of the same class and band, fix
 * the owner's pointer, free the old block. */
struct mover {
    void **owner;           /* owner[k] points at the block holding k */
    const void *source;     /* base of the arena being evacuated */
    size_t moved;
};

static bool move_one(void *b, void *ctx)
{
    struct mover *m = ctx;
    size_t k = *(size_t *)b;
    assert_ptr_equal(m->owner[k], b);
    void *n = owned_block(alloc_usable(b), 1);
    assert_non_null(n);
    assert_ptr_not_equal(arena_base(n), m->source);
    memcpy(n, b, alloc_usable(b));
    m->owner[k] = n;
    alloc_free(b);
    m->moved++;
    return true;
}

static void test_evacuate(void **state)
{
    (void)state;
    setup_with(MIB, 4);
    const size_t sz = 512;
    unsigned cls = alloc_size_class(sz);
    size_t per = expected_slots_1mib[cls];
    size_t n = 3 * per;
    void **owner = calloc(n, sizeof(void *));
    assert_non_null(owner);
    for (size_t k = 0; k < n; k++) {
        owner[k] = owned_block(sz, 1);
        *(size_t *)owner[k] = k;
        memset((char *)owner[k] + sizeof(size_t), (int)(k & 0xff), sz - sizeof(size_t));
    }
    /* All three end in the same occupancy bucket (source 40 % live, the
     * others 45 %), and the source is emptied last so that it heads that
     * bucket's list: without pinning, the copies would land in it. */
    for (size_t k = n; k-- > 0;) {
        size_t in = k % per;
        bool keep = k < per ? in < per * 2 / 5 : in < per * 9 / 20;
        if (!keep) {
            alloc_free(owner[k]);
            owner[k] = NULL;
        }
    }
    struct alloc_stats st;
    alloc_stats(&st);
    assert_int_equal(st.arenas, 3);
    struct alloc_arena *src = NULL;
    struct alloc_arena_info in;
    for (struct alloc_arena *a = alloc_arena_first(cls); a; a = alloc_arena_next(a)) {
        alloc_arena_info(a, &in);
        assert_int_equal(in.bucket, 3);
        if (in.base == arena_base(owner[0]))
            src = a;
    }
    assert_non_null(src);
    alloc_arena_info(src, &in);
    /* the allocator's next choice would be the source itself */
    void *probe = owned_block(sz, 1);
    assert_ptr_equal(arena_base(probe), in.base);
    alloc_free(probe);
    struct mover m = {.owner = owner, .source = in.base};
    size_t live_before = in.live;
    assert_int_equal(alloc_arena_foreach_live(src, move_one, &m), live_before);
    assert_int_equal(m.moved, live_before);
    assert_true(alloc_verify());
    alloc_stats(&st);
    assert_int_equal(st.arenas, 2);              /* the source is gone */
    assert_int_equal(st.retained_arenas, 1);     /* kept as a spare */
    for (size_t k = 0; k < n; k++) {
        if (owner[k] == NULL)
            continue;
        assert_int_equal(*(size_t *)owner[k], k);
        const unsigned char *b = (const unsigned char *)owner[k] + sizeof(size_t);
        for (size_t i = 0; i < sz - sizeof(size_t); i++)
            assert_int_equal(b[i], k & 0xff);
        alloc_free(owner[k]);
    }
    free(owner);
    assert_true(alloc_verify());
}

/* The mover spread over "cron ticks": pin the source, walk it a few blocks
 * per call with a cursor, let other allocations happen in between (none
 * may land in the pinned source), then unpin: the emptied source retires. */
struct budget_mover {
    struct mover m;
    size_t budget;
};

static bool move_some(void *b, void *ctx)
{
    struct budget_mover *bm = ctx;
    move_one(b, &bm->m);
    return --bm->budget > 0;
}

static void test_resumable_walk(void **state)
{
    (void)state;
    setup_with(MIB, 4);
    const size_t sz = 700;
    unsigned cls = alloc_size_class(sz);
    size_t per = expected_slots_1mib[cls];
    size_t n = 2 * per;
    void **owner = calloc(n, sizeof(void *));
    assert_non_null(owner);
    for (size_t k = 0; k < n; k++) {
        owner[k] = owned_block(sz, 1);
        *(size_t *)owner[k] = k;
    }
    for (size_t k = 0; k < n; k++)
        /* source 60 % live, the other arena 30 %: unpinned, the source
         * would be the allocation target */
        if ((k < per && k % 5 >= 3) || (k >= per && k % 10 >= 3)) {
            alloc_free(owner[k]);
            owner[k] = NULL;
        }
    struct alloc_arena *src = NULL;
    struct alloc_arena_info in;
    for (struct alloc_arena *a = alloc_arena_first(cls); a; a = alloc_arena_next(a)) {
        alloc_arena_info(a, &in);
        if (in.base == arena_base(owner[0]))
            src = a;
    }
    assert_non_null(src);
    alloc_arena_info(src, &in);
    assert_true(alloc_arena_pin(src));
    assert_false(alloc_arena_pin(src));
    struct budget_mover bm = {.m = {.owner = owner, .source = in.base}};
    size_t cursor = 0, ticks = 0, extra_n = 0;
    void *extra[64];
    while (cursor < in.slots) {
        bm.budget = 10;
        alloc_arena_walk(src, &cursor, move_some, &bm);
        ticks++;
        /* the rest of the server runs between ticks */
        if (extra_n < 64) {
            extra[extra_n] = owned_block(sz, 1);
            assert_ptr_not_equal(arena_base(extra[extra_n]), in.base);
            extra_n++;
        }
        assert_true(alloc_verify());
    }
    assert_int_equal(bm.m.moved, in.live);
    assert_true(ticks >= in.live / 10);
    struct alloc_stats st;
    alloc_stats(&st);
    size_t arenas_pinned = st.arenas;
    alloc_arena_unpin(src); /* empty now: retired */
    alloc_stats(&st);
    assert_int_equal(st.arenas, arenas_pinned - 1);
    assert_true(alloc_verify());
    for (size_t k = 0; k < n; k++)
        if (owner[k]) {
            assert_int_equal(*(size_t *)owner[k], k);
            alloc_free(owner[k]);
        }
    for (size_t i = 0; i < extra_n; i++)
        alloc_free(extra[i]);
    free(owner);
    assert_true(alloc_verify());
}

/* Double frees and interior pointers abort instead of corrupting the free
 * list (checked in a child process). */
static void bad_free_child(int how)
{
    setup_with(MIB, 4);
    char *p = owned_block(100, 0);
    char *q = owned_block(100, 0);
    (void)q;
    char *big = owned_block(MIB, 0);
    /* keep the abort message out of the test output */
    if (freopen("/dev/null", "w", stderr) == NULL)
        _exit(3);
    switch (how) {
    case 0:
        alloc_free(p);
        alloc_free(p);
        break;
    case 1:
        alloc_free(p + 8);
        break;
    case 2:
        alloc_free(big + 8);
        break;
    default:
        alloc_free(p); /* fine: must not abort */
        _exit(0);
    }
    _exit(0);
}

static void test_bad_free_aborts(void **state)
{
    (void)state;
    for (int how = 0; how <= 3; how++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            bad_free_child(how);
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (how == 3) {
            assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        } else {
            assert_true(WIFSIGNALED(st));
            assert_int_equal(WTERMSIG(st), SIGABRT);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_options, reset),
        cmocka_unit_test_teardown(test_option_rows, reset),
        cmocka_unit_test_teardown(test_class_table, reset),
        cmocka_unit_test_teardown(test_arena_sizes, reset),
        cmocka_unit_test_teardown(test_alignment, reset),
        cmocka_unit_test_teardown(test_fullest_first, reset),
        cmocka_unit_test_teardown(test_release_empty, reset),
        cmocka_unit_test_teardown(test_retained_reuse_other_class, reset),
        cmocka_unit_test_teardown(test_large, reset),
        cmocka_unit_test_teardown(test_fail_injection, reset),
        cmocka_unit_test_teardown(test_class_stats, reset),
        cmocka_unit_test_teardown(test_foreach_live, reset),
        cmocka_unit_test_teardown(test_evacuate, reset),
        cmocka_unit_test_teardown(test_resumable_walk, reset),
        cmocka_unit_test_teardown(test_bad_free_aborts, reset),
        cmocka_unit_test_teardown(test_model_small_arenas, reset),
        cmocka_unit_test_teardown(test_model_random, reset),
        cmocka_unit_test_teardown(test_handle_numbers, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
