/*
 * Lifetime segregation, measured: the same TTL workload with
 * ttl_bands on and off. Workload: 240000 keys inserted in random order,
 * a quarter persistent and the rest with TTLs of 5 s, 60 s and 600 s
 * (equal shares), values of 24, 100 and 400 bytes (equal shares, so three
 * size classes). After each TTL length has passed and the active expiry has
 * reaped it, it records the arenas still holding live blocks, the arenas
 * released by expiry alone (no compaction), the mapped bytes, and the bytes
 * a compaction would have to move to get each (class, band) pair down to
 * the fewest arenas that hold its live blocks (the live slot bytes of the
 * sparsest arenas beyond that number: the mover's minimum work, since it
 * moves within a pair). It asserts that segregation releases more arenas
 * and leaves less to move, and prints both tables (the figures are in
 * h2's report). Also ks_pinners: the keys holding the sparsest arenas.
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
#include "tests/unit/rng.h"   /* rng_state, rng() */

#define T0 1700000000000LL
#define KEYS 240000

struct figures {
    size_t arenas;         /* arenas with live blocks */
    size_t released;       /* arenas released since the fill */
    size_t mapped;         /* mapped bytes after dropping retained arenas */
    size_t to_move;        /* slot bytes a compaction must move */
    size_t live;           /* requested live bytes */
};

#define MAX_ARENAS 4096

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void measure(struct figures *f, size_t arenas_at_fill)
{
    alloc_release_retained();
    struct alloc_stats st;
    alloc_stats(&st);
    f->arenas = st.arenas;
    f->released = arenas_at_fill > st.arenas ? arenas_at_fill - st.arenas : 0;
    f->mapped = st.mapped_bytes;
    f->live = st.live_bytes;
    f->to_move = 0;
    static size_t live[ALLOC_BANDS][MAX_ARENAS];
    size_t n[ALLOC_BANDS], slots[ALLOC_BANDS];
    for (unsigned c = 0; c < alloc_class_count(); c++) {
        memset(n, 0, sizeof n);
        size_t slot_size = 0;
        for (struct alloc_arena *a = alloc_arena_first(c); a; a = alloc_arena_next(a)) {
            struct alloc_arena_info in;
            alloc_arena_info(a, &in);
            assert_true(n[in.band] < MAX_ARENAS);
            live[in.band][n[in.band]++] = in.live;
            slots[in.band] = in.slots;
            slot_size = in.slot_size;
        }
        for (unsigned b = 0; b < ALLOC_BANDS; b++) {
            if (n[b] == 0)
                continue;
            size_t total = 0;
            for (size_t i = 0; i < n[b]; i++)
                total += live[b][i];
            size_t need = (total + slots[b] - 1) / slots[b];
            qsort(live[b], n[b], sizeof live[b][0], cmp_size);
            for (size_t i = 0; i + need < n[b]; i++)
                f->to_move += live[b][i] * slot_size;
        }
    }
}

static void run(bool bands, struct figures out[3], size_t *fill_arenas)
{
    struct ks_options o;
    ks_options_default(&o);
    o.ttl_bands = bands;
    kstest_setup(NULL, &o);
    ks_clock_set(T0);

    static const size_t sizes[] = {24, 100, 400};
    static const int64_t ttls[] = {KS_NO_EXPIRE, 5000, 60000, 600000};
    char k[32], v[400];
    memset(v, 'v', sizeof v);
    rng_state = 42;
    for (unsigned i = 0; i < KEYS; i++) {
        uint64_t r = rng();
        int64_t ttl = ttls[r % 4];
        int kl = snprintf(k, sizeof k, "key:%u", i);
        assert_int_equal(ks_set(k, (size_t)kl, v, sizes[(r >> 8) % 3], ttl == KS_NO_EXPIRE ? ttl : T0 + ttl),
                         KS_OK);
    }
    struct alloc_stats st;
    alloc_stats(&st);
    *fill_arenas = st.arenas;
    static const int64_t at[] = {6000, 61000, 601000};
    for (int s = 0; s < 3; s++) {
        ks_clock_set(T0 + at[s]);
        while (ks_expire_cycle(100000) > 0)
            ;
        measure(&out[s], *fill_arenas);
        assert_true(ks_verify());
        assert_true(alloc_verify());
    }
    assert_int_equal(ks_count_expires(), 0);  /* only persistent keys left */
    kstest_teardown(NULL);
}

static void test_segregation(void **state)
{
    (void)state;
    struct figures on[3], off[3];
    size_t fill_on, fill_off;
    run(true, on, &fill_on);
    run(false, off, &fill_off);
    static const char *const when[] = {"5 s TTLs expired", "60 s TTLs expired", "600 s TTLs expired"};
    printf("  %u keys: 1/4 persistent, 1/4 each TTL 5 s / 60 s / 600 s; values 24/100/400 B\n", KEYS);
    printf("  arenas at fill: segregated %zu, unsegregated %zu (1 MiB each)\n", fill_on, fill_off);
    printf("  %-20s | %-44s | %s\n", "", "segregated: arenas, released, MiB, to move",
           "unsegregated: arenas, released, MiB, to move");
    for (int s = 0; s < 3; s++) {
        printf("  %-20s | %6zu %6zu %8.1f %10.1f MiB      | %6zu %6zu %8.1f %10.1f MiB\n", when[s],
               on[s].arenas, on[s].released, on[s].mapped / 1048576.0, on[s].to_move / 1048576.0,
               off[s].arenas, off[s].released, off[s].mapped / 1048576.0, off[s].to_move / 1048576.0);
        assert_int_equal(on[s].live, off[s].live);  /* same data left */
        assert_true(on[s].released > off[s].released);
        assert_true(on[s].to_move < off[s].to_move);
        assert_true(on[s].mapped < off[s].mapped);
    }
}

struct pin_seen {
    unsigned n;
    unsigned keys[64];
    size_t live[64];
    const void *arena[64];
};

static void on_pinner(const struct ks_pinner *p, void *ctx)
{
    struct pin_seen *s = ctx;
    assert_true(s->n < 64);
    s->keys[s->n] = kstest_key_number(p->e, "pin:");
    s->live[s->n] = p->arena_live;
    s->arena[s->n++] = p->arena;
    assert_true(p->arena_live < p->arena_slots);
    assert_int_equal(p->slot_size, alloc_usable(p->e));
}

/* PINNERS: the keys left in the sparsest arenas are reported first. */
static void test_pinners(void **state)
{
    (void)state;
    kstest_setup(NULL, NULL);
    ks_clock_set(T0);
    char k[32], v[100];
    memset(v, 'p', sizeof v);
    /* 100-byte values: 120-byte class, 8675 slots per 1 MiB arena; three
     * arenas' worth, then all but 3 keys of the first arena and all but 40
     * of the second are deleted */
    unsigned n = 3 * 8675;
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(ks_set(k, (size_t)snprintf(k, sizeof k, "pin:%u", i), v, 100, KS_NO_EXPIRE), KS_OK);
    for (unsigned i = 0; i < 2 * 8675; i++) {
        bool keep = (i < 8675) ? (i % 2000 == 7) : (i % 200 == 3);
        if (!keep)
            assert_true(ks_del(k, (size_t)snprintf(k, sizeof k, "pin:%u", i)));
    }
    struct pin_seen s = {0};
    assert_int_equal(ks_pinners(10, on_pinner, &s), 10);
    assert_int_equal(s.n, 10);
    /* the 5 keys of the sparsest arena first, then 5 of the next */
    for (unsigned j = 0; j < 5; j++) {
        assert_true(s.keys[j] < 8675 && s.keys[j] % 2000 == 7);
        assert_int_equal(s.live[j], 5);
        assert_ptr_equal(s.arena[j], s.arena[0]);
    }
    for (unsigned j = 5; j < 10; j++) {
        assert_true(s.keys[j] >= 8675 && s.keys[j] < 2 * 8675 && s.keys[j] % 200 == 3);
        assert_true(s.arena[j] != s.arena[0]);
    }
    kstest_teardown(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segregation),
        cmocka_unit_test(test_pinners),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
