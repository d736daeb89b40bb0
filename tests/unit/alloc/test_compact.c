/*
 * Unit tests for alloc/'s online compaction (the mover, alloc/compact.c).
 *
 * A fake owner stands in for the keyspace: every block starts with its id
 * and is filled with a pattern derived from the id, and a reference table
 * maps id -> current pointer. Its evacuate callback reads the id from the
 * block, checks that the table points at this very block and that the
 * block's arena is slated, and either drops the block (ids marked as
 * expired) or alloc_move()s it, checks the copy (same class and band, an
 * unslated arena, same bytes), repoints the table and frees the original.
 *
 * Covered: alloc_move itself (never into the source's arena, large blocks,
 * accounting unchanged); a synchronous run over many classes and two bands
 * reaching exactly ceil(live / slots) arenas per (class, band), mapped
 * bytes falling by exactly what "reclaimable" promised, and a second run
 * moving nothing; runs in one-batch steps interleaved with random
 * allocations and frees (frees of blocks in slated arenas, allocations in
 * the classes being compacted) and owner drops, with pointers, contents and
 * alloc_verify checked after every step; the step's bound in units of work
 * (a test clock: blocks and bytes per batch, batches per budget, time
 * accounting) and in wall time with large slots; release of emptied arenas
 * in slices, also after the cursor passed the last pair (alloc_verify
 * there); out of memory in alloc_move and in the middle of a run
 * (alloc_fail_after), an owner that fails, destinations eaten by concurrent
 * allocations (slated arenas given back, never an mmap by the mover); the
 * class filter; the trigger and "reclaimable"; abort; the ARENAS and
 * PINNERS listings against brute force.
 *
 * Linked only against alloc (and cmocka). Deterministic: fixed seeds, and
 * the test clock wherever a step count is asserted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc/alloc.h"

#include "tests/unit/rng.h"   /* rng_state, rng() */
#include "tests/unit/alloc/pattern.h"

#define MIB ((size_t)1 << 20)

/* ---------------------------------------------------------------- helpers */

/* One block of the fake owner: [id (8 bytes)][the id's pattern (pattern.h)
 * over the rest]. */
struct ref {
    void *p;
    uint32_t size;
    uint8_t band;
    bool expired;   /* the owner drops it when the mover visits */
};

static struct {
    struct ref *r;
    size_t n, cap;
    size_t live;
    size_t visits;      /* evacuate callbacks */
    size_t step_bytes;  /* slot bytes read and written by them (reset by the test) */
    size_t step_slot;   /* largest slot they saw (reset by the test) */
    size_t moves, drops;
    size_t fail_at;     /* callback number that fails (0: never) */
    const struct alloc_arena *last_src;   /* arena of the last block visited */
    bool packing;       /* packing runs: a copy may land lower in its own arena */
    bool fill_first;    /* fill the destinations before moving (OOM test) */
    void **fill;
    size_t nfill, capfill;
    size_t fill_size;
    unsigned fill_band;
} own;

static void block_pattern(void *blk, size_t size, uint64_t id, bool check)
{
    unsigned char *p = blk;
    if (check) {
        uint64_t got;
        memcpy(&got, p, 8);
        if (got != id)
            fail_msg("block %p holds id %llu, expected %llu", blk, (unsigned long long)got,
                     (unsigned long long)id);
    } else {
        memcpy(p, &id, 8);
    }
    pattern(p, 8, size, id, check);
}

static void own_reset(void)
{
    free(own.r);
    free(own.fill);
    memset(&own, 0, sizeof(own));
}

/* Allocates a block of size bytes (>= 8) in band; returns its id. */
static size_t own_alloc(size_t size, unsigned band)
{
    if (own.n == own.cap) {
        own.cap = own.cap ? own.cap * 2 : 4096;
        own.r = realloc(own.r, own.cap * sizeof(*own.r));
        assert_non_null(own.r);
    }
    void *p = owned_block(size, band);
    assert_non_null(p);
    size_t id = own.n++;
    own.r[id] = (struct ref){.p = p, .size = (uint32_t)size, .band = (uint8_t)band};
    block_pattern(p, size, id, false);
    own.live++;
    return id;
}

static void own_free(size_t id)
{
    assert_non_null(own.r[id].p);
    block_pattern(own.r[id].p, own.r[id].size, id, true);
    alloc_free(own.r[id].p);
    own.r[id].p = NULL;
    own.live--;
}

/* A free between steps: a random block, if it is still live (perhaps in
 * the arena being evacuated or packed, perhaps one the mover has moved). */
static void own_free_some(void)
{
    size_t id = rng() % own.n;
    if (own.r[id].p)
        own_free(id);
}

static void own_check_all(void)
{
    for (size_t id = 0; id < own.n; id++)
        if (own.r[id].p) {
            block_pattern(own.r[id].p, own.r[id].size, id, true);
            assert_true(alloc_usable(own.r[id].p) >= own.r[id].size);
        }
}

static bool evacuate(void *block, void *ctx)
{
    (void)ctx;
    uint64_t id;
    memcpy(&id, block, 8);
    if (id >= own.n || own.r[id].p != block)
        fail_msg("mover visited %p, which the owner does not know as block %llu", block,
                 (unsigned long long)id);
    own.visits++;
    size_t slot = alloc_usable(block);
    own.step_bytes += 2 * slot;
    if (slot > own.step_slot)
        own.step_slot = slot;
    const struct alloc_arena *src = alloc_arena_of(block);
    assert_non_null(src);
    struct alloc_arena_info in;
    alloc_arena_info(src, &in);
    assert_true(in.evacuating);
    assert_true(in.pinned);
    own.last_src = src;
    if (own.fail_at && own.visits == own.fail_at)
        return false;
    if (own.r[id].expired) {
        own_free(id);
        own.drops++;
        return true;
    }
    if (own.fill_first) {
        /* eat every free slot of the class outside the source, so that the
         * copy needs a new arena, which fails */
        for (;;) {
            void *f = owned_block(own.fill_size, own.fill_band);
            if (f == NULL)
                break;
            assert_ptr_not_equal(alloc_arena_of(f), src);
            if (own.nfill == own.capfill) {
                own.capfill = own.capfill ? own.capfill * 2 : 1024;
                own.fill = realloc(own.fill, own.capfill * sizeof(void *));
                assert_non_null(own.fill);
            }
            own.fill[own.nfill++] = f;
        }
    }
    void *copy = alloc_move(block);
    if (copy == NULL) {
        assert_int_equal(errno, ENOMEM);
        block_pattern(block, own.r[id].size, id, true);   /* untouched */
        return false;
    }
    const struct alloc_arena *dst = alloc_arena_of(copy);
    assert_non_null(dst);
    if (own.packing && dst == src)
        assert_true((char *)copy < (char *)block);   /* a pack only moves blocks down */
    else
        assert_ptr_not_equal(dst, src);
    struct alloc_arena_info din;
    alloc_arena_info(dst, &din);
    assert_true(din.evacuating == (dst == src));
    assert_int_equal(din.cls, in.cls);
    assert_int_equal(din.band, in.band);
    block_pattern(copy, own.r[id].size, id, true);
    own.r[id].p = copy;
    alloc_free(block);
    own.moves++;
    return true;
}

static void setup_opts(size_t arena_size, unsigned retain, bool release_thread)
{
    alloc_teardown();
    alloc_fail_after(-1);
    alloc_compact_test_clock(NULL);
    struct alloc_options o;
    alloc_options_default(&o);
    o.arena_size = arena_size;
    o.arena_retain = retain;
    o.release_thread = release_thread;
    assert_int_equal(alloc_setup(&o), 0);
    own_reset();
}

/* The default: the mover's madvise and munmap calls go to the reclaimer
 * thread. */
static void setup_with(size_t arena_size, unsigned retain)
{
    setup_opts(arena_size, retain, true);
}

/* The calls made in the steps themselves, for the tests that count what a
 * step does: each release is then done when the step returns. */
static void setup_in_step(size_t arena_size, unsigned retain)
{
    setup_opts(arena_size, retain, false);
}

static int reset(void **state)
{
    (void)state;
    alloc_fail_after(-1);
    alloc_compact_test_clock(NULL);
    alloc_teardown();
    own_reset();
    return 0;
}

/* Ideal arenas of the live blocks: per (class, band), ceil(live / slots). */
static size_t ideal_arenas(int only_cls)
{
    unsigned ncls = alloc_class_count();
    size_t *live = calloc((size_t)ncls * ALLOC_BANDS, sizeof(size_t));
    assert_non_null(live);
    for (size_t id = 0; id < own.n; id++) {
        if (!own.r[id].p)
            continue;
        unsigned c = alloc_size_class(own.r[id].size);
        if (c < ncls)
            live[c * ALLOC_BANDS + own.r[id].band]++;
    }
    size_t total = 0;
    for (unsigned c = 0; c < ncls; c++) {
        if (only_cls >= 0 && (unsigned)only_cls != c)
            continue;
        struct alloc_class_stats cs;
        assert_true(alloc_class_stats(c, &cs));
        size_t per = cs.arenas ? cs.slots / cs.arenas : 0;
        for (unsigned b = 0; b < ALLOC_BANDS; b++) {
            size_t l = live[c * ALLOC_BANDS + b];
            if (l)
                total += (l + per - 1) / per;
        }
    }
    free(live);
    return total;
}

static size_t class_arenas(int only_cls)
{
    size_t n = 0;
    for (unsigned c = 0; c < alloc_class_count(); c++) {
        if (only_cls >= 0 && (unsigned)only_cls != c)
            continue;
        struct alloc_class_stats cs;
        alloc_class_stats(c, &cs);
        n += cs.arenas;
    }
    return n;
}

/* Sizes of many classes, from 16 bytes to 16 KiB (the largest are large
 * blocks with small arenas: the mover must leave those alone). */
static const size_t sizes[] = {16, 24, 40, 64, 100, 128, 200, 256, 300, 500, 700, 1000,
                               1500, 2048, 3000, 4096, 6000, 9000, 16384};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static size_t slots_per_arena(size_t size)
{
    unsigned c = alloc_size_class(size);
    if (c >= alloc_class_count())
        return 0;
    size_t slot = alloc_class_size(c);
    /* what class_init computes, less a little: only used to size the test */
    struct alloc_stats st;
    alloc_stats(&st);
    return st.arena_size / (slot + 1) - 2;
}

/* Allocates about `arenas` arenas' worth of blocks of every size in each of
 * `bands` bands, interleaved at random, then frees every other block: every
 * arena ends about half empty. */
static void fragment(size_t arenas, unsigned bands)
{
    size_t total = 0;
    size_t want[NSIZES];
    for (size_t i = 0; i < NSIZES; i++) {
        size_t per = slots_per_arena(sizes[i]);
        want[i] = per ? arenas * bands * per : 4;
        total += want[i];
    }
    size_t first = own.n;
    while (total > 0) {
        size_t r = rng() % total, i = 0;
        while (r >= want[i]) {
            r -= want[i];
            i++;
        }
        want[i]--;
        total--;
        own_alloc(sizes[i], (unsigned)(rng() % bands));
    }
    for (size_t id = first; id < own.n; id += 2)
        own_free(id);
}

static void run_to_end(void)
{
    alloc_compact_start(NULL);
    while (alloc_compact_step(UINT64_MAX / 2, evacuate, NULL))
        ;
}

/* ------------------------------------------------------------------- tests */

static void test_compact_sync(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MIN, 4);
    const size_t AS = ALLOC_ARENA_MIN;
    rng_state = 1;
    fragment(3, 2);
    assert_true(alloc_verify());
    struct alloc_stats st;
    alloc_stats(&st);
    size_t mapped0 = st.mapped_bytes;
    size_t reclaim = alloc_compact_reclaimable(-1);
    assert_int_equal(reclaim, (class_arenas(-1) - ideal_arenas(-1)) * AS);
    size_t classes = 0, sum = 0;
    for (unsigned c = 0; c < alloc_class_count(); c++) {
        struct alloc_class_stats cst;
        alloc_class_stats(c, &cst);
        assert_int_equal(cst.reclaimable, alloc_compact_reclaimable((int)c));
        classes += cst.reclaimable > 0;
        sum += cst.reclaimable;
    }
    assert_int_equal(sum, reclaim);
    assert_true(classes >= 15);

    run_to_end();
    assert_true(alloc_verify());
    own_check_all();
    assert_int_equal(class_arenas(-1), ideal_arenas(-1));
    assert_int_equal(alloc_compact_reclaimable(-1), 0);

    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_false(cs.running);
    assert_int_equal(cs.runs, 1);
    assert_int_equal(cs.runs_finished, 1);
    assert_int_equal(cs.arenas_done, cs.arenas_planned);
    assert_int_equal(cs.arenas_evacuated, reclaim / AS);
    assert_int_equal(cs.arenas_released, cs.arenas_evacuated);
    assert_int_equal(cs.blocks_moved, own.moves);
    assert_int_equal(cs.blocks_dropped, 0);
    assert_int_equal(cs.mapped_before, mapped0);
    alloc_stats(&st);
    assert_int_equal(cs.mapped_after, st.mapped_bytes);
    assert_int_equal(mapped0 - st.mapped_bytes, reclaim);
    assert_int_equal(cs.last_mapped_after, st.mapped_bytes);
    assert_int_equal(cs.classes_touched, classes);

    /* a second run right after moves nothing */
    size_t moves = own.moves;
    run_to_end();
    assert_int_equal(own.moves, moves);
    assert_int_equal(own.visits, moves);
    alloc_compact_status(&cs);
    assert_int_equal(cs.runs, 2);
    assert_int_equal(cs.blocks_moved, 0);
    assert_int_equal(cs.arenas_planned, 0);
    assert_int_equal(cs.total.blocks_moved, moves);
    assert_true(alloc_verify());
    own_check_all();
}


/* Pointers and ids of every live block (cheap: one word each); the full
 * pattern is checked by own_check_all. */
static void own_check_ids(void)
{
    for (size_t id = 0; id < own.n; id++)
        if (own.r[id].p) {
            uint64_t got;
            memcpy(&got, own.r[id].p, 8);
            if (got != id)
                fail_msg("id %zu: its block %p holds id %llu", id, own.r[id].p,
                         (unsigned long long)got);
        }
}

static bool evacuating(const void *p)
{
    const struct alloc_arena *a = alloc_arena_of(p);
    if (!a)
        return false;
    struct alloc_arena_info in;
    alloc_arena_info(a, &in);
    return in.evacuating;
}

static size_t random_live_id(void)
{
    for (int tries = 0; tries < 1000; tries++) {
        size_t id = (size_t)(rng() % own.n);
        if (own.r[id].p)
            return id;
    }
    for (size_t id = 0; id < own.n; id++)
        if (own.r[id].p)
            return id;
    fail_msg("no live block");
    return 0;
}

/* The test clock: every read advances one microsecond, so a budget of B
 * allows exactly B batches. */
static uint64_t fake_us;
static uint64_t fake_clock(void)
{
    return ++fake_us;
}

/* Tiny steps interleaved with random allocations and frees (frees of blocks
 * in arenas being evacuated, allocations in the classes being compacted),
 * some blocks dropped by the owner, everything checked after every step. */
static void test_compact_incremental(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MIN, 2);
    rng_state = 7;
    fragment(2, 2);
    for (size_t id = 0; id < own.n; id++)
        if (own.r[id].p && rng() % 10 == 0)
            own.r[id].expired = true;
    size_t frees_evac = 0, allocs = 0, frees = 0, steps = 0;
    alloc_compact_test_clock(fake_clock);
    alloc_compact_start(NULL);
    bool more = true;
    while (more) {
        /* one batch mostly, now and then a few (the test clock makes the
         * number of batches deterministic) */
        more = alloc_compact_step(rng() % 8 == 0 ? rng() % 4 : 0, evacuate, NULL);
        steps++;
        assert_true(alloc_verify());
        own_check_all();   /* every pointer and every block's contents */
        unsigned ops = (unsigned)(rng() % 4);
        for (unsigned k = 0; k < ops; k++) {
            if (rng() % 2) {
                size_t id = random_live_id();
                /* prefer a block the mover has yet to reach */
                for (int t = 0; t < 16 && !evacuating(own.r[id].p); t++)
                    id = random_live_id();
                frees_evac += evacuating(own.r[id].p);
                own_free(id);
                frees++;
            } else {
                size_t id = own_alloc(sizes[rng() % NSIZES], (unsigned)(rng() % 2));
                assert_false(evacuating(own.r[id].p));
                allocs++;
            }
        }
        assert_true(alloc_verify());
    }
    assert_true(steps > 100);
    assert_true(frees_evac > 10);
    assert_true(allocs > 100 && frees > 100);
    own_check_all();
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_false(cs.running);
    assert_int_equal(cs.arenas_done, cs.arenas_planned);
    assert_int_equal(cs.blocks_moved, own.moves);
    assert_int_equal(cs.blocks_dropped, own.drops);
    assert_int_equal(own.visits, own.moves + own.drops);
    assert_int_equal(cs.move_failures, 0);
    assert_true(own.drops > 0);
    assert_int_equal(cs.steps, steps);
    assert_true(cs.time_us <= cs.duration_us);
    /* within about one arena per (class, band) of the ideal despite the
     * traffic */
    for (unsigned c = 0; c < alloc_class_count(); c++)
        assert_true(class_arenas((int)c) <= ideal_arenas((int)c) + 2);
    /* quiet now: a run reaches the ideal, and the one after moves nothing */
    for (size_t id = 0; id < own.n; id++)
        own.r[id].expired = false;
    run_to_end();
    assert_int_equal(class_arenas(-1), ideal_arenas(-1));
    size_t moves = own.moves;
    run_to_end();
    assert_int_equal(own.moves, moves);
    assert_true(alloc_verify());
    own_check_all();
}

/* One class, blocks of exactly the slot size (so a moved block counts its
 * slot twice: read and written). */
static void fragment_one(size_t size, size_t arenas, unsigned band)
{
    size_t per = slots_per_arena(size);
    size_t first = own.n;
    for (size_t i = 0; i < arenas * per; i++)
        own_alloc(size, band);
    for (size_t id = first; id < own.n; id += 2)
        own_free(id);
}

/* A pair whose free slots add up to far more arenas than one plan slates
 * (PLAN_SCAN, 16): it is planned again as each plan empties its arenas,
 * one batch per step with frees between the steps, and still ends with
 * the arenas its live blocks need, every one it counted released. */
static void test_compact_plans_again(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MIN, 4);
    const size_t AS = ALLOC_ARENA_MIN;
    rng_state = 11;
    fragment_one(64, 96, 0);   /* half of 96 arenas' slots free: k ~ 48 */
    unsigned c = alloc_size_class(64);
    size_t reclaim = alloc_compact_reclaimable((int)c);
    assert_true(reclaim / AS >= 40);
    alloc_compact_start(NULL);
    size_t steps = 0;
    while (alloc_compact_step(0, evacuate, NULL)) {
        assert_true(alloc_verify());
        if (++steps % 50 == 0) {   /* the owner frees meanwhile: k grows, the plans do not */
            size_t id = rng() % own.n;
            if (own.r[id].p)
                own_free(id);
        }
        assert_true(steps < 1000000);
    }
    assert_true(alloc_verify());
    own_check_all();
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_int_equal(cs.arenas_done, cs.arenas_planned);
    assert_int_equal(cs.arenas_evacuated, reclaim / AS);
    assert_int_equal(cs.arenas_released, cs.arenas_evacuated);
    assert_true(class_arenas((int)c) <= ideal_arenas((int)c) + 1);
}

static void test_compact_budget(void **state)
{
    (void)state;
    setup_in_step(MIB, 0);
    rng_state = 3;
    static const size_t szs[] = {64, 4096, 65536, 131072};
    for (size_t i = 0; i < 4; i++)
        fragment_one(szs[i], 4, 0);
    alloc_compact_test_clock(fake_clock);
    alloc_compact_start(NULL);
    size_t budget_steps = 0, max_releasing = 0;
    bool more = true;
    uint64_t time_sum = 0;
    while (more) {
        size_t before = own.visits;
        own.step_bytes = own.step_slot = 0;
        uint64_t b = budget_steps % 3;   /* 0 and 1: one batch; 2: two */
        uint64_t t0 = fake_us;
        more = alloc_compact_step(b, evacuate, NULL);
        size_t visits = own.visits - before;
        size_t batches = b > 1 ? b : 1;
        /* the clock is read once at the start and once per batch; the step
         * that ends the run reads it once more (the run's duration) and
         * may end in its first batch */
        uint64_t reads = fake_us - t0;
        if (more)
            assert_int_equal(reads, batches + 1);
        else
            assert_true(reads >= 3 && reads <= batches + 2);
        time_sum += reads - 1;   /* what the step measured: its last read - its first */
        assert_true(visits <= batches * ALLOC_COMPACT_BATCH_BLOCKS);
        /* a batch stops once it handled 64 KiB (a moved block counts its
         * slot twice): so at most one block more than that */
        assert_true(own.step_bytes <= batches * (ALLOC_COMPACT_BATCH_BYTES + 2 * own.step_slot));
        if (own.step_slot == 131072)
            assert_true(visits <= batches);
        own.step_bytes = own.step_slot = 0;
        budget_steps++;
        assert_true(alloc_verify());
        /* an emptied 1 MiB arena is unmapped by the next batch, one system
         * call (it fits in a release slice), counted as mapped until then */
        struct alloc_stats st;
        alloc_stats(&st);
        if (st.releasing_arenas > max_releasing)
            max_releasing = st.releasing_arenas;
        assert_int_equal(st.mapped_bytes,
                         (st.arenas + st.retained_arenas + st.releasing_arenas) * MIB +
                             st.large_bytes);
    }
    own_check_all();
    assert_true(max_releasing <= 1);
    struct alloc_stats st;
    alloc_stats(&st);
    assert_int_equal(st.releasing_arenas, 0);
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_int_equal(cs.arenas_released, cs.arenas_evacuated);
    assert_int_equal(cs.mapped_after, st.mapped_bytes);
    assert_int_equal(cs.mapped_before - cs.mapped_after, cs.arenas_released * MIB);
    assert_int_equal(cs.time_us, time_sum);
    assert_int_equal(cs.steps, budget_steps);
    assert_int_equal(class_arenas(-1), ideal_arenas(-1));
    alloc_compact_test_clock(NULL);
}

/* Starts a packing run of every class, the fake owner told to expect the
 * moves of a pack (lower in the same arena). */
static void start_pack_run(struct alloc_compact_opts *o)
{
    alloc_compact_opts_default(o);
    o->pack = true;
    own.packing = true;
    alloc_compact_start(o);
}

/* A packing run over n classes (szs), 4 arenas of each fragmented (band
 * i for szs[i]), with the reclaimer thread or without. */
static void start_release_run(bool thread, uint64_t seed, const size_t *szs, size_t n)
{
    setup_opts(MIB, 0, thread);
    rng_state = seed;
    for (size_t i = 0; i < n; i++)
        fragment_one(szs[i], 4, (unsigned)i);
    struct alloc_compact_opts o;
    start_pack_run(&o);
}

/* With the reclaimer thread a step only queues its madvise and munmap
 * calls, and a run ends once the last of them is done: so when it is over,
 * the released arenas' bytes are gone from mapped_bytes and the pages above
 * the packed arenas from the OS (alloc_verify asks it after every step too,
 * while purges may still be under way). Blocks are freed between steps.
 * The calls made in the steps themselves reach the same end. */
static void test_compact_release_thread(void **state)
{
    (void)state;
    static const size_t szs[] = {64, 700, 4096, 65536};
    for (int thread = 1; thread >= 0; thread--) {
        start_release_run(thread, 21, szs, 4);
        size_t steps = 0;
        while (alloc_compact_step(50, evacuate, NULL)) {
            struct alloc_stats st;
            alloc_stats(&st);
            /* an unmap still with the thread counts as mapped */
            assert_true(st.mapped_bytes >=
                        (st.arenas + st.retained_arenas + st.releasing_arenas) * MIB +
                            st.large_bytes);
            if (++steps % 5 == 0)
                own_free_some();
            assert_true(alloc_verify());
            assert_true(steps < 1000000);
        }
        own.packing = false;
        struct alloc_stats st;
        struct alloc_compact_status cs;
        alloc_stats(&st);
        alloc_compact_status(&cs);
        assert_int_equal(st.releasing_arenas, 0);
        assert_int_equal(st.mapped_bytes,
                         (st.arenas + st.retained_arenas) * MIB + st.large_bytes);
        assert_int_equal(cs.mapped_after, st.mapped_bytes);
        /* frees between steps may have emptied (and unmapped) more */
        assert_true(cs.mapped_before - cs.mapped_after >= cs.arenas_released * MIB);
        assert_true(cs.arenas_released > 0 && cs.bytes_purged > 0);
        assert_true(alloc_verify());
        own_check_all();
        /* A free after its pair was packed leaves holes the run has passed
         * (how many steps a pair takes depends on the real clock): a run
         * with no frees in between leaves nothing to pack. */
        struct alloc_compact_opts o;
        start_pack_run(&o);
        while (alloc_compact_step(50, evacuate, NULL))
            assert_true(alloc_verify());
        own.packing = false;
        assert_int_equal(alloc_compact_packable(-1), 0);
        assert_true(alloc_verify());
        own_check_all();
    }
}

/* The reclaimer starts on a step's calls when the step returns: with no
 * further step, alloc_compact_releasing turns false once it has made them
 * (the daemon holds its next step until then), and the released arenas
 * are gone from mapped_bytes. Without the thread the calls are made in the
 * step, so nothing is ever left releasing. */
static void test_compact_releasing_after_step(void **state)
{
    (void)state;
    static const size_t szs[] = {64, 4096};
    for (int thread = 1; thread >= 0; thread--) {
        start_release_run(thread, 23, szs, 2);
        bool more = true;
        for (size_t steps = 0; more; steps++) {
            more = alloc_compact_step(50, evacuate, NULL);
            if (!thread)
                assert_false(alloc_compact_releasing());
            for (int waits = 0; alloc_compact_releasing(); waits++) {
                assert_true(waits < 5000);   /* 5 s: the calls were never started */
                usleep(1000);
            }
            struct alloc_stats st;
            alloc_stats(&st);
            assert_int_equal(st.mapped_bytes, (st.arenas + st.retained_arenas + st.releasing_arenas) * MIB +
                                                  st.large_bytes);
            assert_true(alloc_verify());
            assert_true(steps < 1000000);
        }
        own.packing = false;
        struct alloc_compact_status cs;
        alloc_compact_status(&cs);
        assert_true(cs.arenas_released > 0 && cs.bytes_purged > 0);
        own_check_all();
    }
}

/* ------------------------------------------------------------- packing */

/* The arenas of (cls, band): how many, how many are full, and the live
 * blocks of those that are not. */
static void pair_shape(unsigned cls, unsigned band, size_t *n, size_t *full, size_t *partial_live)
{
    struct alloc_arena_ref v[64];
    size_t m = alloc_arena_list((int)cls, v, 64);
    assert_true(m <= 64);
    *n = *full = *partial_live = 0;
    for (size_t i = 0; i < m; i++) {
        if (v[i].info.band != band)
            continue;
        ++*n;
        if (v[i].info.live == v[i].info.slots)
            ++*full;
        else
            *partial_live += v[i].info.live;
    }
}

/* Blocks of one class spread over 3 arenas, 60 % freed at random: a
 * packing run leaves ceil(live / slots) arenas and nothing left to pack;
 * the pages above the packed arena's live slots are
 * returned (alloc_verify asks the OS after every step), every block keeps
 * its bytes, and blocks freed between steps, while the arena's free list is
 * stale, are harmless. Then the pair fills its room from the lowest free
 * slots. */
static void test_compact_pack(void **state)
{
    (void)state;
    setup_with(MIB, 0);
    rng_state = 11;
    const size_t sz = 200;
    const unsigned band = 1, cls = alloc_size_class(sz);
    size_t per = slots_per_arena(sz);
    for (size_t i = 0; i < 3 * per; i++)
        own_alloc(sz, band);
    for (size_t id = 0; id < own.n; id++)
        if (rng() % 10 < 6)
            own_free(id);
    assert_true(alloc_compact_packable((int)cls) > 0);
    struct alloc_compact_opts o;
    start_pack_run(&o);
    size_t steps = 0;
    while (alloc_compact_step(0, evacuate, NULL)) {
        if (++steps % 7 == 0)
            own_free_some();
        assert_true(alloc_verify());
        assert_true(steps < 100000);
    }
    own_check_all();
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_true(cs.bytes_purged > 0);
    assert_true(cs.blocks_moved > 0);
    /* a second run without frees meanwhile: the pair is exactly packed */
    alloc_compact_start(&o);
    while (alloc_compact_step(1000, evacuate, NULL))
        ;
    assert_true(alloc_verify());
    own_check_all();
    /* no arena of the pair has a page of free slots below its bump
     * pointer, and there are no more arenas than the live blocks need
     * (the arenas that are not full may be two or more, each dense) */
    assert_int_equal(alloc_compact_packable((int)cls), 0);
    size_t n, full, partial;
    pair_shape(cls, band, &n, &full, &partial);
    assert_int_equal(n, ideal_arenas((int)cls));
    /* the next blocks fill the room left, from the lowest free slots:
     * no new arena, and still nothing to pack */
    struct alloc_stats before, after;
    alloc_stats(&before);
    struct alloc_class_stats ccs;   /* the class has only this band's blocks */
    assert_true(alloc_class_stats(cls, &ccs));
    assert_int_equal(ccs.live, full * (ccs.slots / n) + partial);
    for (size_t i = 0; i < ccs.slots - ccs.live; i++)
        own_alloc(sz, band);
    alloc_stats(&after);
    assert_int_equal(after.os_maps, before.os_maps);
    assert_int_equal(alloc_compact_packable((int)cls), 0);
    assert_true(alloc_verify());
    own_check_all();
    own.packing = false;
}

/* A packing run ended at any point (abort) leaves a consistent arena: the
 * free list of the arena being packed is rebuilt before it goes back, so
 * the blocks allocated afterwards are sound. Several classes and bands,
 * aborted after a random number of tiny steps, 30 times. */
static void test_compact_pack_abort(void **state)
{
    (void)state;
    setup_with(MIB, 2);
    rng_state = 12;
    static const size_t psizes[] = {24, 200, 1500, 9000};
    struct alloc_compact_opts o;
    alloc_compact_opts_default(&o);
    o.pack = true;
    own.packing = true;
    for (int round = 0; round < 30; round++) {
        for (int i = 0; i < 3000; i++)
            own_alloc(psizes[rng() % 4], (unsigned)(rng() % 3));
        for (size_t id = 0; id < own.n; id++)
            if (own.r[id].p && rng() % 2)
                own_free(id);
        alloc_compact_start(&o);
        size_t stop = rng() % 200;
        for (size_t s = 0; s < stop && alloc_compact_step(0, evacuate, NULL); s++)
            ;
        alloc_compact_abort();
        assert_true(alloc_verify());
        for (int i = 0; i < 1000; i++)
            own_alloc(psizes[rng() % 4], (unsigned)(rng() % 3));
        assert_true(alloc_verify());
        own_check_all();
    }
    own.packing = false;
}

/* The quiet trigger (o->pack) wants a run once the pages to gain pass its
 * floor, and not after the run returned them. */
static void test_compact_wanted_pack(void **state)
{
    (void)state;
    setup_with(MIB, 0);
    rng_state = 13;
    struct alloc_compact_opts o;
    alloc_compact_opts_default(&o);
    o.pack = true;
    size_t per = slots_per_arena(1000);
    for (size_t i = 0; i < per / 2; i++)
        own_alloc(1000, 0);
    assert_false(alloc_compact_wanted(&o));   /* dense: nothing to pack */
    for (size_t id = 0; id < own.n; id += 2)
        own_free(id);
    /* holes of 1000-byte blocks, every other slot: about 250 KiB */
    assert_true(alloc_compact_packable(-1) >= ALLOC_PACK_MIN_BYTES);
    assert_true(alloc_compact_wanted(&o));
    own.packing = true;
    alloc_compact_start(&o);
    while (alloc_compact_step(1000, evacuate, NULL))
        ;
    own.packing = false;
    assert_false(alloc_compact_wanted(&o));
    assert_true(alloc_verify());
    own_check_all();
}

/* The cursor passes the last (class, band) pair while arenas of that pair
 * are still being returned to the OS in slices: the owner empties the
 * planned arenas (frees between steps) and then fails a callback, so the
 * pair ends at once and gives them up, queued for release. The run goes on,
 * and must verify, until the last slice is gone; and a run whose last pair
 * ends with nothing to release is over in that very step. */
static void test_compact_last_pair_releasing(void **state)
{
    (void)state;
    setup_in_step(4 * MIB, 0);
    int target = (int)alloc_size_class(4096);
    /* 8 half-full arenas in the class's last band: 4 slated, each with
     * 4 MiB of touched pages, released a 1 MiB slice per batch */
    fragment_one(4096, 8, ALLOC_BANDS - 1);
    alloc_compact_test_clock(fake_clock);
    struct alloc_compact_opts o;
    alloc_compact_opts_default(&o);
    o.cls = target;
    alloc_compact_start(&o);
    while (own.visits == 0)
        assert_true(alloc_compact_step(0, evacuate, NULL));   /* one batch */
    /* empty every slated arena but the one under evacuation */
    size_t emptied = 0;
    for (size_t id = 0; id < own.n; id++) {
        if (!own.r[id].p)
            continue;
        const struct alloc_arena *a = alloc_arena_of(own.r[id].p);
        struct alloc_arena_info in;
        alloc_arena_info(a, &in);
        if (in.evacuating && a != own.last_src) {
            own_free(id);
            emptied++;
        }
    }
    assert_true(emptied > 0);
    assert_true(alloc_verify());
    own.fail_at = own.visits + 1;
    assert_true(alloc_compact_step(0, evacuate, NULL));
    assert_int_equal(own.visits, own.fail_at);
    own.fail_at = 0;
    struct alloc_compact_status cs;
    struct alloc_stats st;
    size_t past_end = 0;
    bool more = true;
    while (more) {
        alloc_compact_status(&cs);
        alloc_stats(&st);
        assert_true(cs.running);
        /* past the last pair: only the releases keep the run going */
        assert_int_equal(cs.cur_cls, (unsigned)target + 1);
        assert_int_equal(cs.cur_band, 0);
        assert_true(st.releasing_arenas >= 1);
        assert_true(alloc_verify());
        past_end++;
        size_t visits = own.visits;
        more = alloc_compact_step(0, evacuate, NULL);
        assert_int_equal(own.visits, visits);
    }
    /* 3 arenas of 4 MiB, each 3 purged slices and an unmap of the rest */
    assert_true(past_end >= 12);
    alloc_compact_status(&cs);
    alloc_stats(&st);
    assert_false(cs.running);
    assert_int_equal(cs.move_failures, 1);
    assert_int_equal(cs.arenas_evacuated, 3);
    assert_int_equal(cs.arenas_released, 3);
    assert_int_equal(cs.arenas_abandoned, 1);
    assert_int_equal(st.releasing_arenas, 0);
    assert_true(alloc_verify());
    own_check_all();

    /* the same failure with nothing to release ends the run in its step */
    fragment_one(4096, 8, ALLOC_BANDS - 1);
    alloc_compact_start(&o);
    own.fail_at = own.visits + 1;
    while (alloc_compact_step(0, evacuate, NULL)) {
        assert_true(own.visits < own.fail_at);
        assert_true(alloc_verify());
    }
    assert_int_equal(own.visits, own.fail_at);
    own.fail_at = 0;
    alloc_compact_status(&cs);
    assert_false(cs.running);
    assert_int_equal(cs.move_failures, 1);
    assert_true(alloc_verify());
    own_check_all();
    alloc_compact_test_clock(NULL);
}

/* With the real clock: a step returns close to its budget even with large
 * slots (loose bound: this may run under ASan). Measured in the thread's
 * CPU time, so that the machine descheduling the test (a shared 2-core
 * box running other suites) does not count as the step's work. */
static void test_compact_budget_wall(void **state)
{
    (void)state;
    setup_with(MIB, 0);
    fragment_one(131072, 24, 0);
    fragment_one(16384, 12, 1);
    alloc_compact_start(NULL);
    uint64_t worst = 0;
    struct timespec a, b;
    bool more = true;
    while (more) {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        more = alloc_compact_step(1000, evacuate, NULL);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        uint64_t us = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000u +
                      (uint64_t)(b.tv_nsec - a.tv_nsec) / 1000u;
        if (us > worst)
            worst = us;
    }
    assert_true(worst < 1000 + 50000);
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_true(cs.steps >= 2);
    assert_true(cs.bytes_moved >= 12 * 131072);
    own_check_all();
    assert_int_equal(class_arenas(-1), ideal_arenas(-1));
}


static void test_move_basic(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MIN, 1);
    /* two arenas of one class: a move of a block of the fuller one goes to
     * the other, never into its own arena */
    size_t per = slots_per_arena(200);
    size_t first = own.n;
    for (size_t i = 0; i < per + 10; i++)
        own_alloc(200, 3);
    struct alloc_stats st0, st1;
    alloc_stats(&st0);
    assert_int_equal(st0.arenas, 2);
    for (size_t id = first; id < first + 20; id++) {
        void *p = own.r[id].p;
        void *q = alloc_move(p);
        assert_non_null(q);
        assert_ptr_not_equal(alloc_arena_of(q), alloc_arena_of(p));
        struct alloc_arena_info in;
        alloc_arena_info(alloc_arena_of(q), &in);
        assert_int_equal(in.band, 3);
        assert_int_equal(alloc_usable(q), alloc_usable(p));
        block_pattern(q, 200, id, true);
        own.r[id].p = q;
        alloc_free(p);
        assert_true(alloc_verify());
    }
    alloc_stats(&st1);
    assert_int_equal(st1.live_bytes, st0.live_bytes);
    assert_int_equal(st1.live_blocks, st0.live_blocks);
    /* not counted as the mover's work outside a run */
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_int_equal(cs.total.blocks_moved, 0);
    /* a large block moves to a new large block */
    size_t big = own_alloc(3 * ALLOC_ARENA_MIN, 0);
    void *q = alloc_move(own.r[big].p);
    assert_non_null(q);
    block_pattern(q, own.r[big].size, big, true);
    alloc_free(own.r[big].p);
    own.r[big].p = q;
    assert_true(alloc_verify());
    own_check_all();
}

/* Out of memory during moves: alloc_move fails cleanly, and a run whose
 * owner fails half-way leaves everything consistent and resumable. */
static void test_compact_oom(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MIN, 0);   /* no spares: a new arena needs an mmap */
    /* (a) large block */
    size_t big = own_alloc(5 * ALLOC_ARENA_MIN, 0);
    size_t lone = own_alloc(300, 0);
    alloc_fail_after(0);
    errno = 0;
    assert_null(alloc_move(own.r[big].p));
    assert_int_equal(errno, ENOMEM);
    /* (b) the only arena of its class: the copy may not go into it */
    errno = 0;
    assert_null(alloc_move(own.r[lone].p));
    assert_int_equal(errno, ENOMEM);
    alloc_fail_after(-1);
    assert_true(alloc_verify());
    own_check_all();
    /* the arena is back on its lists: the next block of the class lands there */
    void *p = owned_block(300, 0);
    assert_ptr_equal(alloc_arena_of(p), alloc_arena_of(own.r[lone].p));
    alloc_free(p);

    /* (c) a run in which the owner's copy fails: the callback fills the
     * class's free slots first, so alloc_move needs an mmap, which fails */
    fragment_one(512, 6, 2);
    size_t arenas0 = class_arenas((int)alloc_size_class(512));
    own.fill_first = true;
    own.fill_size = 512;
    own.fill_band = 2;
    alloc_compact_start(NULL);
    alloc_fail_after(0);
    size_t guard = 0;
    while (alloc_compact_step(0, evacuate, NULL)) {
        assert_true(alloc_verify());
        assert_true(++guard < 100000);
    }
    alloc_fail_after(-1);
    assert_true(alloc_verify());
    own_check_all();
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_int_equal(cs.move_failures, 1);
    assert_int_equal(cs.blocks_moved, 0);
    assert_true(cs.arenas_abandoned >= 1);
    assert_int_equal(cs.arenas_done, cs.arenas_planned);
    assert_int_equal(class_arenas((int)alloc_size_class(512)), arenas0);
    struct alloc_arena_ref refs[64];
    size_t n = alloc_arena_list(-1, refs, 64);
    for (size_t i = 0; i < n && i < 64; i++)
        assert_false(refs[i].info.evacuating || refs[i].info.pinned);
    /* memory back: release the fillers, and the next run reaches the ideal */
    for (size_t i = 0; i < own.nfill; i++)
        alloc_free(own.fill[i]);
    own.nfill = 0;
    own.fill_first = false;
    run_to_end();
    assert_true(alloc_verify());
    own_check_all();
    assert_int_equal(class_arenas(-1), ideal_arenas(-1));
}

/* An owner that fails (returns false) gives up that (class, band) for the
 * run; the run still compacts the other classes, and the next run the rest. */
static void test_compact_owner_failure(void **state)
{
    (void)state;
    setup_in_step(ALLOC_ARENA_MIN, 4);
    rng_state = 11;
    fragment(3, 1);
    size_t reclaim = alloc_compact_reclaimable(-1);
    own.fail_at = 5;
    alloc_compact_start(NULL);
    size_t stops = 0;
    while (alloc_compact_step(UINT64_MAX / 2, evacuate, NULL)) {
        stops++;
        assert_true(alloc_verify());
    }
    assert_int_equal(stops, 1);   /* the failure ended one step early */
    assert_true(alloc_verify());
    own_check_all();
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_int_equal(cs.move_failures, 1);
    assert_true(cs.arenas_abandoned >= 1);
    assert_int_equal(cs.arenas_done, cs.arenas_planned);
    size_t left = alloc_compact_reclaimable(-1);
    assert_true(left > 0 && left < reclaim);
    own.fail_at = 0;
    run_to_end();
    assert_int_equal(alloc_compact_reclaimable(-1), 0);
    assert_int_equal(class_arenas(-1), ideal_arenas(-1));
    own_check_all();
}

static void test_compact_class_filter(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MIN, 4);
    rng_state = 5;
    fragment(3, 1);
    int target = (int)alloc_size_class(700);
    unsigned ncls = alloc_class_count();
    size_t *before = calloc(ncls, sizeof(size_t));
    assert_non_null(before);
    for (unsigned c = 0; c < ncls; c++)
        before[c] = class_arenas((int)c);
    assert_true(alloc_compact_reclaimable(target) > 0);
    struct alloc_compact_opts o;
    alloc_compact_opts_default(&o);
    o.cls = target;
    alloc_compact_start(&o);
    while (alloc_compact_step(UINT64_MAX / 2, evacuate, NULL))
        ;
    for (unsigned c = 0; c < ncls; c++) {
        if ((int)c == target)
            assert_int_equal(class_arenas((int)c), ideal_arenas((int)c));
        else
            assert_int_equal(class_arenas((int)c), before[c]);
    }
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_int_equal(cs.cls, target);
    assert_int_equal(cs.classes_touched, 1);
    assert_int_equal(alloc_compact_reclaimable(target), 0);
    assert_true(alloc_compact_reclaimable(-1) > 0);
    /* an out-of-range class is an empty run */
    o.cls = (int)ncls + 5;
    alloc_compact_start(&o);
    assert_false(alloc_compact_step(0, evacuate, NULL));
    free(before);
    assert_true(alloc_verify());
}

/* The trigger's thresholds are options (compact-frag-threshold in
 * thousandths, compact-min-reclaim in bytes), applied at run time. */
static void thresholds(unsigned frag_milli, size_t min_reclaim)
{
    struct alloc_options ao;
    alloc_options_default(&ao);
    ao.compact_frag_threshold = frag_milli;
    ao.compact_min_reclaim = min_reclaim;
    assert_int_equal(alloc_options_apply(&ao), 0);
}

static void test_compact_wanted(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MIN, 4);
    struct alloc_compact_opts o;
    alloc_compact_opts_default(&o);
    assert_int_equal(o.cls, -1);
    assert_false(alloc_compact_wanted(&o));   /* empty */
    /* dense: nothing reclaimable */
    size_t per = slots_per_arena(1000);
    for (size_t i = 0; i < 20 * per; i++)
        own_alloc(1000, 0);
    thresholds(1000, 0);
    assert_int_equal(alloc_compact_reclaimable(-1), 0);
    assert_false(alloc_compact_wanted(&o));
    /* free 3 in 4: mapped/live about 4, 15 arenas reclaimable */
    for (size_t id = 0; id < own.n; id++)
        if (id % 4)
            own_free(id);
    size_t r = alloc_compact_reclaimable(-1);
    assert_true(r >= 14 * ALLOC_ARENA_MIN && r <= 15 * ALLOC_ARENA_MIN);
    assert_int_equal(alloc_compact_reclaimable((int)alloc_size_class(1000)), r);
    assert_int_equal(alloc_compact_reclaimable((int)alloc_size_class(100)), 0);
    thresholds(1200, r);
    assert_true(alloc_compact_wanted(&o));
    thresholds(1200, r + 1);
    assert_false(alloc_compact_wanted(&o));
    thresholds(5000, 0);
    assert_false(alloc_compact_wanted(&o));
    thresholds(3000, 0);
    assert_true(alloc_compact_wanted(&o));
    o.cls = (int)alloc_size_class(100);
    assert_false(alloc_compact_wanted(&o));
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_int_equal(cs.reclaimable, r);
    run_to_end();
    alloc_compact_opts_default(&o);
    thresholds(1200, 0);
    assert_false(alloc_compact_wanted(&o));
}

/* A class full of holes among dense ones: the overall ratio stays under
 * the threshold, the class's own is far above it, and its whole free
 * arenas make the trigger fire. */
static void test_compact_wanted_per_class(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MIN, 4);
    size_t dense = slots_per_arena(100);
    for (size_t i = 0; i < 60 * dense; i++)
        own_alloc(100, 0);
    size_t first = own.n;
    size_t per = slots_per_arena(1000);
    for (size_t i = 0; i < 8 * per; i++)
        own_alloc(1000, 0);
    for (size_t id = first; id < own.n; id += 2)
        own_free(id);
    struct alloc_stats st;
    alloc_stats(&st);
    assert_true((double)st.mapped_bytes < 1.2 * (double)st.live_bytes);
    size_t r = alloc_compact_reclaimable((int)alloc_size_class(1000));
    assert_true(r >= 3 * ALLOC_ARENA_MIN);
    assert_int_equal(alloc_compact_reclaimable(-1), r);
    struct alloc_compact_opts o;
    alloc_compact_opts_default(&o);
    thresholds(1200, r);
    assert_true(alloc_compact_wanted(&o));
    o.cls = (int)alloc_size_class(1000);
    assert_true(alloc_compact_wanted(&o));
    o.cls = (int)alloc_size_class(100);
    assert_false(alloc_compact_wanted(&o));   /* dense, nothing to give back */
    o.cls = -1;
    thresholds(1200, r + 1);
    assert_false(alloc_compact_wanted(&o));
    thresholds(2500, r);                      /* the class is at about 2 */
    assert_false(alloc_compact_wanted(&o));
    run_to_end();
    alloc_compact_opts_default(&o);
    thresholds(1200, 0);
    assert_false(alloc_compact_wanted(&o));
}

static void test_compact_abort(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MIN, 4);
    rng_state = 9;
    fragment(3, 2);
    alloc_compact_start(NULL);
    for (int i = 0; i < 40; i++)
        assert_true(alloc_compact_step(0, evacuate, NULL));
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_true(cs.running);
    assert_true(alloc_compact_running());
    assert_true(cs.arenas_planned > cs.arenas_done);
    /* something is slated now */
    struct alloc_arena_ref *refs = malloc(4096 * sizeof(*refs));
    assert_non_null(refs);
    size_t n = alloc_arena_list(-1, refs, 4096);
    assert_true(n < 4096);
    size_t slated = 0;
    for (size_t i = 0; i < n; i++)
        slated += refs[i].info.evacuating;
    assert_true(slated >= 1);
    /* start while running is a no-op */
    alloc_compact_start(NULL);
    alloc_compact_status(&cs);
    assert_int_equal(cs.runs, 1);
    alloc_compact_abort();
    assert_true(alloc_verify());
    own_check_all();
    alloc_compact_status(&cs);
    assert_false(cs.running);
    assert_false(alloc_compact_running());
    assert_int_equal(cs.runs_finished, 1);
    assert_false(alloc_compact_step(0, evacuate, NULL));
    n = alloc_arena_list(-1, refs, 4096);
    for (size_t i = 0; i < n; i++)
        assert_false(refs[i].info.evacuating || refs[i].info.pinned);
    /* freeing everything of a run's slated arenas mid-run: they are released */
    alloc_compact_start(NULL);
    for (int i = 0; i < 5; i++)
        alloc_compact_step(0, evacuate, NULL);
    n = alloc_arena_list(-1, refs, 4096);
    for (size_t id = 0; id < own.n; id++)
        if (own.r[id].p && evacuating(own.r[id].p))
            own_free(id);
    assert_true(alloc_verify());
    alloc_compact_abort();
    assert_true(alloc_verify());
    own_check_all();
    free(refs);
}

static void test_arena_listings(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MIN, 4);
    rng_state = 13;
    fragment(3, 2);
    /* make occupancies differ */
    for (size_t id = 1; id < own.n; id += 2)
        if (own.r[id].p && rng() % 3 == 0)
            own_free(id);
    struct alloc_stats st;
    alloc_stats(&st);
    struct alloc_arena_ref *all = malloc(st.arenas * sizeof(*all));
    assert_non_null(all);
    assert_int_equal(alloc_arena_list(-1, all, st.arenas), st.arenas);
    assert_int_equal(alloc_arena_list(-1, all, 3), st.arenas);   /* short out */
    assert_int_equal(alloc_arena_list(-1, all, st.arenas), st.arenas);
    size_t total = 0;
    for (unsigned c = 0; c < alloc_class_count(); c++) {
        struct alloc_arena_ref r[64];
        size_t n = alloc_arena_list((int)c, r, 64);
        struct alloc_class_stats cs;
        alloc_class_stats(c, &cs);
        assert_int_equal(n, cs.arenas);
        size_t live = 0;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(r[i].info.cls, c);
            assert_true(i == 0 || r[i].info.band >= r[i - 1].info.band);
            assert_int_equal(r[i].info.slot_size, cs.slot_size);
            live += r[i].info.live;
        }
        assert_int_equal(live, cs.live);
        total += n;
    }
    assert_int_equal(total, st.arenas);
    /* the n sparsest: compare with a brute-force ranking */
    struct alloc_arena_ref sp[10];
    size_t k = alloc_arena_sparsest_n(10, sp);
    assert_int_equal(k, 10);
    for (size_t i = 0; i < k; i++) {
        assert_true(sp[i].info.live < sp[i].info.slots);
        if (i > 0) {
            uint64_t l = (uint64_t)sp[i - 1].info.live * sp[i].info.slots;
            uint64_t r = (uint64_t)sp[i].info.live * sp[i - 1].info.slots;
            assert_true(l <= r);
        }
        /* nothing outside the answer is sparser than its last entry */
    }
    size_t sparser_than_last = 0;
    for (size_t i = 0; i < st.arenas; i++) {
        const struct alloc_arena_info *in = &all[i].info;
        if (in->live >= in->slots)
            continue;
        uint64_t l = (uint64_t)in->live * sp[k - 1].info.slots;
        uint64_t r = (uint64_t)sp[k - 1].info.live * in->slots;
        sparser_than_last += l < r;
    }
    assert_true(sparser_than_last < k);
    /* every block of the sparsest arena is found by walking it */
    size_t live_in = 0;
    for (size_t id = 0; id < own.n; id++)
        if (own.r[id].p && alloc_arena_of(own.r[id].p) == sp[0].arena)
            live_in++;
    assert_int_equal(live_in, sp[0].info.live);
    assert_int_equal(alloc_arena_sparsest_n(0, sp), 0);
    free(all);
}


/* Allocations during a run eat the room the plan counted on: the mover gives
 * slated arenas back (densest first) instead of ever mapping an arena for
 * its copies, and stops the pair. */
static void test_compact_room_runs_out(void **state)
{
    (void)state;
    setup_with(ALLOC_ARENA_MIN, 0);
    const size_t sz = 256;
    unsigned cls = alloc_size_class(sz);
    fragment_one(sz, 8, 0);   /* 8 arenas about half full: 4 slated */
    size_t arenas0 = class_arenas((int)cls);
    alloc_compact_start(NULL);
    struct alloc_stats st;
    uint64_t maps;
    size_t unplanned_seen = 0;
    bool more = true;
    int round = 0;
    while (more) {
        alloc_stats(&st);
        maps = st.os_maps;
        more = alloc_compact_step(0, evacuate, NULL);
        alloc_stats(&st);
        assert_int_equal(st.os_maps, maps);   /* the mover never maps */
        assert_true(alloc_verify());
        own_check_ids();
        if (++round == 3) {
            /* fill every free slot outside the slated arenas */
            struct alloc_compact_status cs;
            alloc_compact_status(&cs);
            assert_true(cs.running);
            for (;;) {
                alloc_stats(&st);
                maps = st.os_maps;
                size_t id = own_alloc(sz, 0);
                alloc_stats(&st);
                if (st.os_maps != maps) {
                    own_free(id);   /* that one needed a new arena */
                    break;
                }
                assert_false(evacuating(own.r[id].p));
            }
            /* a fresh arena was mapped and freed: retain 0 unmaps it */
        }
        struct alloc_compact_status cs;
        alloc_compact_status(&cs);
        unplanned_seen = cs.arenas_abandoned;
    }
    /* the filling left free slots only in the 4 slated arenas, about two
     * arenas' worth: two are given back as destinations, two still empty */
    assert_true(unplanned_seen >= 1);
    own_check_all();
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    assert_true(cs.arenas_evacuated >= 1);
    assert_int_equal(cs.arenas_evacuated + cs.arenas_abandoned, 4);
    assert_int_equal(class_arenas((int)cls), arenas0 - cs.arenas_evacuated);
    assert_int_equal(cs.arenas_done, cs.arenas_planned);
    assert_true(cs.blocks_moved > 0);
    /* whatever is reclaimable now, a quiet run takes */
    run_to_end();
    assert_int_equal(class_arenas(-1), ideal_arenas(-1));
    own_check_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_move_basic, reset),
        cmocka_unit_test_teardown(test_compact_sync, reset),
        cmocka_unit_test_teardown(test_compact_plans_again, reset),
        cmocka_unit_test_teardown(test_compact_wanted, reset),
        cmocka_unit_test_teardown(test_compact_wanted_per_class, reset),
        cmocka_unit_test_teardown(test_compact_class_filter, reset),
        cmocka_unit_test_teardown(test_compact_owner_failure, reset),
        cmocka_unit_test_teardown(test_compact_oom, reset),
        cmocka_unit_test_teardown(test_compact_abort, reset),
        cmocka_unit_test_teardown(test_compact_room_runs_out, reset),
        cmocka_unit_test_teardown(test_arena_listings, reset),
        cmocka_unit_test_teardown(test_compact_incremental, reset),
        cmocka_unit_test_teardown(test_compact_budget, reset),
        cmocka_unit_test_teardown(test_compact_release_thread, reset),
        cmocka_unit_test_teardown(test_compact_releasing_after_step, reset),
        cmocka_unit_test_teardown(test_compact_last_pair_releasing, reset),
        cmocka_unit_test_teardown(test_compact_budget_wall, reset),
        cmocka_unit_test_teardown(test_compact_pack, reset),
        cmocka_unit_test_teardown(test_compact_pack_abort, reset),
        cmocka_unit_test_teardown(test_compact_wanted_pack, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
