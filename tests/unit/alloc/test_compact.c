/*
 * Unit tests for alloc/'s online compaction (the mover, issue 4).
 *
 * A fake owner stands in for the keyspace: every block starts with its id
 * and is filled with a pattern derived from the id, and a reference table
 * maps id -> current pointer. Its evacuate callback reads the id from the
 * block, checks that the table points at this very block, and either drops
 * the block (ids marked as expired) or alloc_move()s it, checks the copy,
 * repoints the table and frees the original. After runs (and, in the
 * incremental tests, after every step) every live block's contents and
 * pointer are checked and alloc_verify() is called.
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

#include <cmocka.h>

#include "alloc/alloc.h"

#define MIB ((size_t)1 << 20)

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* One block of the fake owner: [id (8 bytes)][pattern of mix(id, word)].
 * Whole words up to size rounded down; the ragged tail bytes from the last
 * word. Big blocks are covered at both ends and one word per 4 KiB. */
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
    size_t moves, drops;
    size_t fail_at;     /* callback number that fails (0: never) */
    bool fill_first;    /* fill the destinations before moving (OOM test) */
    void **fill;
    size_t nfill, capfill;
    size_t fill_size;
    unsigned fill_band;
} own;

static uint64_t word_at(uint64_t id, size_t off)
{
    return mix(id * 0x100000001b3ull + off);
}

static void fill_range(unsigned char *p, size_t from, size_t to, uint64_t id, bool check)
{
    for (size_t off = from; off < to; off += 8) {
        uint64_t w = word_at(id, off);
        size_t n = to - off < 8 ? to - off : 8;
        if (check) {
            if (memcmp(p + off, &w, n) != 0)
                fail_msg("block id %llu corrupted at byte %zu", (unsigned long long)id, off);
        } else {
            memcpy(p + off, &w, n);
        }
    }
}

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
    if (size <= 4096) {
        fill_range(p, 8, size, id, check);
        return;
    }
    fill_range(p, 8, 256, id, check);
    for (size_t off = 4096; off + 256 < size; off += 4096)
        fill_range(p, off, off + 8, id, check);
    fill_range(p, size - 256, size, id, check);
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
    void *p = alloc_block(size, band);
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
    const struct alloc_arena *src = alloc_arena_of(block);
    assert_non_null(src);
    struct alloc_arena_info in;
    alloc_arena_info(src, &in);
    assert_true(in.evacuating);
    assert_true(in.pinned);
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
            void *f = alloc_block(own.fill_size, own.fill_band);
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
    assert_ptr_not_equal(dst, src);
    struct alloc_arena_info din;
    alloc_arena_info(dst, &din);
    assert_false(din.evacuating);
    assert_int_equal(din.cls, in.cls);
    assert_int_equal(din.band, in.band);
    block_pattern(copy, own.r[id].size, id, true);
    own.r[id].p = copy;
    alloc_free(block);
    own.moves++;
    return true;
}

static void setup_with(size_t arena_size, unsigned retain)
{
    alloc_teardown();
    alloc_fail_after(-1);
    alloc_compact_test_clock(NULL);
    struct alloc_options o;
    alloc_options_default(&o);
    o.arena_size = arena_size;
    o.arena_retain = retain;
    assert_int_equal(alloc_setup(&o), 0);
    own_reset();
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
    size_t classes = 0;
    for (unsigned c = 0; c < alloc_class_count(); c++)
        classes += alloc_compact_reclaimable((int)c) > 0;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_compact_sync, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
