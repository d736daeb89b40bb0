/*
 * Unit tests for keyspace basics: set/get/del, entry layout accessors
 * (short, long and binary keys, empty values), replace, expiry (lazy and
 * active, with a pinned clock), persist, random, flush, repoint and
 * out-of-memory reporting through the fault-injection hooks.
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

static int setup(void **state)
{
    (void)state;
    struct ks_options o;
    ks_options_default(&o);
    o.initial_power = 2;
    o.rehash_steps = 1;
    kstest_setup(NULL, &o);
    ks_clock_set(1000000);
    return 0;
}

static void check_val(const char *key, size_t klen, const char *val, size_t vlen)
{
    struct entry *e = ks_get(key, klen);
    assert_non_null(e);
    size_t kl, vl;
    const char *k = entry_key(e, &kl);
    assert_int_equal(kl, klen);
    assert_memory_equal(k, key, klen);
    const char *v = entry_val(e, &vl);
    assert_int_equal(vl, vlen);
    assert_int_equal(entry_vlen(e), vlen);
    if (vlen)
        assert_memory_equal(v, val, vlen);
}

static void test_set_get_del(void **state)
{
    (void)state;
    assert_null(ks_get("a", 1));
    assert_int_equal(ks_set("a", 1, "one", 3, KS_NO_EXPIRE), KS_OK);
    check_val("a", 1, "one", 3);
    assert_int_equal(ks_set("a", 1, "uno!", 4, KS_NO_EXPIRE), KS_OK);
    check_val("a", 1, "uno!", 4);
    assert_int_equal(ks_count(), 1);
    assert_int_equal(entry_expire(ks_get("a", 1)), KS_NO_EXPIRE);
    assert_true(ks_del("a", 1));
    assert_false(ks_del("a", 1));
    assert_null(ks_get("a", 1));
    assert_int_equal(ks_count(), 0);
    struct ks_stats st;
    ks_stats(&st);
    assert_int_equal(st.keyspace_hits, 3);
    assert_int_equal(st.keyspace_misses, 2);
}

static void test_key_shapes(void **state)
{
    (void)state;
    static const char bin[] = {'k', 0, 'e', 0, 0, 'y'};
    static const char bin2[] = {'k', 0, 'e', 0, 0, 'z'};
    assert_int_equal(ks_set(bin, sizeof bin, "b1", 2, KS_NO_EXPIRE), KS_OK);
    assert_int_equal(ks_set(bin2, sizeof bin2, "b2", 2, KS_NO_EXPIRE), KS_OK);
    assert_int_equal(ks_set("k", 1, "", 0, KS_NO_EXPIRE), KS_OK);  /* prefix of bin */
    assert_int_equal(ks_set("", 0, "empty key", 9, KS_NO_EXPIRE), KS_OK);
    check_val(bin, sizeof bin, "b1", 2);
    check_val(bin2, sizeof bin2, "b2", 2);
    check_val("k", 1, "", 0);
    check_val("", 0, "empty key", 9);

    /* 255 (short header), 256 and 300 (long), 70 KB */
    size_t lens[] = {255, 256, 300, 70 * 1024};
    for (size_t i = 0; i < 4; i++) {
        char *k = malloc(lens[i]);
        memset(k, 'a' + (int)i, lens[i]);
        k[lens[i] - 1] = 0;
        assert_int_equal(ks_set(k, lens[i], k, i, i ? 2000000 + (int64_t)i : KS_NO_EXPIRE), KS_OK);
        check_val(k, lens[i], k, i);
        struct entry *e = ks_get(k, lens[i]);
        assert_int_equal(entry_expire(e), i ? 2000000 + (int64_t)i : KS_NO_EXPIRE);
        assert_true(entry_footprint(e) >= lens[i] + i + 8);
        free(k);
    }
    assert_int_equal(ks_count(), 8);
    assert_int_equal(ks_count_expires(), 3);
}


#define T0 1000000

/* ks_clock_update_to follows the caller's reading without pinning: a later
 * ks_clock_update reads the wall clock again. A pinned clock ignores it. */
static void test_clock_update_to(void **state)
{
    (void)state;
    ks_clock_update_to(T0 + 5);   /* pinned by setup: ignored */
    assert_int_equal(ks_now_ms(), T0);
    ks_clock_set(-1);             /* unpinned, wall clock */
    assert_true(ks_now_ms() > 1600000000000LL);
    ks_clock_update_to(T0 + 99);
    assert_int_equal(ks_now_ms(), T0 + 99);
    assert_int_equal(ks_set("t", 1, "v", 1, T0 + 100), KS_OK);
    assert_non_null(ks_peek("t", 1));
    ks_clock_update_to(T0 + 100);
    assert_null(ks_peek("t", 1));   /* expired by the caller's clock */
    ks_clock_update();              /* not pinned: back to the wall clock */
    assert_true(ks_now_ms() > 1600000000000LL);
}

static void test_lazy_expiry(void **state)
{
    (void)state;
    assert_int_equal(ks_set("t", 1, "v", 1, T0 + 100), KS_OK);
    assert_int_equal(ks_set("p", 1, "v", 1, KS_NO_EXPIRE), KS_OK);
    assert_int_equal(ks_count_expires(), 1);
    ks_clock_set(T0 + 99);
    assert_non_null(ks_get("t", 1));
    assert_non_null(ks_peek("t", 1));
    ks_clock_set(T0 + 100);  /* expiry == now means expired */
    assert_int_equal(ks_count(), 2);  /* not reaped yet */
    assert_null(ks_peek("t", 1));
    assert_int_equal(ks_count(), 1);
    assert_int_equal(ks_count_expires(), 0);
    struct ks_stats st;
    ks_stats(&st);
    assert_int_equal(st.expired_keys, 1);
    assert_int_equal(st.keyspace_hits, 1);  /* peek counts nothing */

    /* DEL of an expired key reports false and counts an expiry */
    assert_int_equal(ks_set("t", 1, "v", 1, T0 + 200), KS_OK);
    ks_clock_set(T0 + 300);
    assert_false(ks_del("t", 1));
    ks_stats(&st);
    assert_int_equal(st.expired_keys, 2);
    ks_stats_reset();
    ks_stats(&st);
    assert_int_equal(st.expired_keys + st.keyspace_hits + st.keyspace_misses, 0);
    assert_int_equal(st.keys, 1);
}

static void test_active_expiry(void **state)
{
    (void)state;
    char k[32];
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(k, sizeof k, "key:%d", i);
        /* odd keys expire at T0+50, every 4th even key at T0+5000, the rest never */
        int64_t exp = (i & 1) ? T0 + 50 : (i % 4 == 0 ? T0 + 5000 : KS_NO_EXPIRE);
        assert_int_equal(ks_set(k, (size_t)n, k, (size_t)n, exp), KS_OK);
    }
    assert_int_equal(ks_count_expires(), 15000);
    assert_int_equal(ks_expire_cycle(100000), 0);  /* nothing due yet */
    ks_cron(1000000);  /* no resize in progress */
    ks_clock_set(T0 + 60);
    /* a single call with ample budget sweeps the whole table once, and the
     * backward shifts of its own deletions must not make it skip entries */
    size_t total = ks_expire_cycle(2000000);
    assert_int_equal(total, 10000);
    assert_int_equal(ks_count(), 10000);
    assert_int_equal(ks_count_expires(), 5000);
    struct ks_stats st;
    ks_stats(&st);
    assert_int_equal(st.expired_keys, 10000);
    assert_true(ks_verify());
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(k, sizeof k, "key:%d", i);
        struct entry *e = ks_peek(k, (size_t)n);
        if (i & 1) {
            assert_null(e);
        } else {
            assert_non_null(e);
            assert_int_equal(entry_expire(e), i % 4 == 0 ? T0 + 5000 : KS_NO_EXPIRE);
        }
    }
    ks_clock_set(T0 + 5000);
    total = 0;
    for (int round = 0; round < 1000 && ks_count_expires() > 0; round++)
        total += ks_expire_cycle(1000);
    assert_int_equal(total, 5000);
    assert_int_equal(ks_count(), 5000);
    for (int round = 0; round < 1000; round++)
        ks_cron(1000);
    ks_stats(&st);
    /* 20000 keys left the load between 0.6 and 0.75; 5000 of them are
     * still above 0.1 */
    size_t peak = st.index_slots;
    assert_true(20000 * 4 <= peak * 3 && 20000 * 5 > peak * 3);
    assert_true(5000 * 10 >= peak);
    /* the delete that takes the load under 0.1 shrinks the table to twice
     * the keys left (a load of 0.5); the ones after it do not */
    int left = 5000, end = (int)(peak / 10) - 100;
    for (int i = 2; left > end; i += 4, left--) {
        int n = snprintf(k, sizeof k, "key:%d", i);
        assert_true(ks_del(k, (size_t)n));
    }
    ks_cron(1000000);
    ks_stats(&st);
    assert_false(st.rehashing);
    assert_int_equal(st.index_slots, 2 * ((peak - 1) / 10));
    assert_int_equal(st.keys, end);
}

/* The active cycle skips work while no expiry can be due, and still finds
 * keys whose expiry is set later or which backward shifts moved around. */
static void test_expiry_floor(void **state)
{
    (void)state;
    char k[32];
    const int64_t hour = 3600 * 1000;
    for (int i = 0; i < 4000; i++) {
        int n = snprintf(k, sizeof k, "long:%d", i);
        assert_int_equal(ks_set(k, (size_t)n, "v", 1, T0 + hour + i), KS_OK);
    }
    ks_cron(1000000);
    assert_int_equal(ks_expire_cycle(1000000), 0);  /* completes a pass */
    /* new short TTLs (set, and set later through set_expire) */
    for (int i = 0; i < 500; i++) {
        int n = snprintf(k, sizeof k, "short:%d", i);
        assert_int_equal(ks_set(k, (size_t)n, "v", 1, (i & 1) ? T0 + 10 : KS_NO_EXPIRE), KS_OK);
        if (!(i & 1)) {
            bool deleted;
            assert_non_null(ks_set_expire(ks_peek(k, (size_t)n), T0 + 20, &deleted));
        }
    }
    /* churn: deletions shift entries while a pass is under way */
    for (int i = 0; i < 4000; i += 3) {
        int n = snprintf(k, sizeof k, "long:%d", i);
        assert_true(ks_del(k, (size_t)n));
        if (i % 300 == 0)
            ks_expire_cycle(0);
    }
    ks_clock_set(T0 + 20);
    assert_int_equal(ks_expire_cycle(1000000), 500);
    size_t left = ks_count();
    assert_int_equal(ks_count_expires(), left);
    ks_clock_set(T0 + hour + 3999);
    assert_int_equal(ks_expire_cycle(1000000), left);
    assert_int_equal(ks_count(), 0);
}

static void test_set_expire(void **state)
{
    (void)state;
    char longkey[300];
    memset(longkey, 'L', sizeof longkey);
    const char *keys[] = {"short", longkey};
    size_t klens[] = {5, sizeof longkey};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ks_set(keys[i], klens[i], "value", 5, KS_NO_EXPIRE), KS_OK);
        struct entry *e = ks_get(keys[i], klens[i]);
        bool deleted = true;
        e = ks_set_expire(e, T0 + 10, &deleted);  /* gains a TTL: moves */
        assert_non_null(e);
        assert_false(deleted);
        assert_int_equal(entry_expire(e), T0 + 10);
        assert_int_equal(ks_count_expires(), 1);
        assert_ptr_equal(ks_get(keys[i], klens[i]), e);
        check_val(keys[i], klens[i], "value", 5);
        struct entry *e2 = ks_set_expire(e, T0 + 20, &deleted);  /* in place */
        assert_ptr_equal(e2, e);
        assert_int_equal(entry_expire(ks_get(keys[i], klens[i])), T0 + 20);
        e = ks_set_expire(e, KS_NO_EXPIRE, &deleted);  /* persist: moves back */
        assert_non_null(e);
        assert_int_equal(entry_expire(e), KS_NO_EXPIRE);
        assert_int_equal(ks_count_expires(), 0);
        check_val(keys[i], klens[i], "value", 5);
        assert_true(ks_verify());
        e = ks_set_expire(e, T0, &deleted);  /* now or past: deletes */
        assert_null(e);
        assert_true(deleted);
        assert_null(ks_get(keys[i], klens[i]));
        assert_int_equal(ks_count(), 0);
        assert_true(ks_verify());
    }
}

static void test_access_clock(void **state)
{
    (void)state;
    assert_int_equal(ks_set("c", 1, "v", 1, KS_NO_EXPIRE), KS_OK);
    uint16_t c0 = entry_access_clock(ks_peek("c", 1));
    assert_int_equal(c0, ks_access_clock());
    ks_clock_set(T0 + 10 * 1024);
    assert_int_not_equal(ks_access_clock(), c0);
    assert_int_equal(entry_access_clock(ks_peek("c", 1)), c0);  /* peek does not touch */
    assert_int_equal(entry_access_clock(ks_get("c", 1)), ks_access_clock());
    ks_clock_set(T0 + 20 * 1024);
    struct entry *e = ks_peek("c", 1);
    ks_touch(e);
    assert_int_equal(entry_access_clock(e), ks_access_clock());
}

/* Draws a key with ks_random; the keys here are decimal numbers. */
static unsigned random_key_number(void)
{
    struct entry *e = ks_random();
    assert_non_null(e);
    return kstest_key_number(e, "");
}

static void test_random(void **state)
{
    (void)state;
    assert_null(ks_random());
    char k[16];
    int seen[64] = {0};
    for (int i = 0; i < 64; i++) {
        int n = snprintf(k, sizeof k, "%d", i);
        assert_int_equal(ks_set(k, (size_t)n, "", 0, i < 60 ? T0 + 1 : KS_NO_EXPIRE), KS_OK);
    }
    for (int i = 0; i < 2000; i++)
        seen[random_key_number()]++;
    for (int i = 0; i < 64; i++)
        assert_true(seen[i] > 0);  /* 2000 draws over 64 keys */
    ks_clock_set(T0 + 1);  /* only 60..63 stay live */
    for (int i = 0; i < 200; i++)
        assert_true(random_key_number() >= 60);
    for (int i = 60; i < 64; i++) {
        int n = snprintf(k, sizeof k, "%d", i);
        assert_true(ks_del(k, (size_t)n));
    }
    assert_null(ks_random());  /* only expired entries left */
}

static void test_flush(void **state)
{
    (void)state;
    char k[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(k, sizeof k, "f%d", i);
        assert_int_equal(ks_set(k, (size_t)n, k, (size_t)n, (i & 1) ? T0 + 5 : KS_NO_EXPIRE), KS_OK);
    }
    struct ks_stats st;
    ks_stats(&st);
    assert_true(st.index_slots >= 5000);
    ks_flush();
    ks_stats(&st);
    assert_int_equal(st.keys, 0);
    assert_int_equal(st.expires, 0);
    assert_int_equal(st.index_slots, 4);
    assert_false(st.rehashing);
    assert_null(ks_get("f1", 2));
    assert_true(ks_verify());
    assert_int_equal(ks_set("f1", 2, "x", 1, KS_NO_EXPIRE), KS_OK);
    check_val("f1", 2, "x", 1);
}

static void test_repoint(void **state)
{
    (void)state;
    char k[32];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(k, sizeof k, "r%d", i);
        assert_int_equal(ks_set(k, (size_t)n, k, (size_t)n, (i % 3) ? KS_NO_EXPIRE : T0 + 99), KS_OK);
    }
    /* move every entry, as the compactor will: copy the bytes, repoint, free */
    for (int i = 0; i < 300; i++) {
        int n = snprintf(k, sizeof k, "r%d", i);
        struct entry *old = ks_peek(k, (size_t)n);
        assert_non_null(old);
        size_t size = alloc_usable(old);
        void *block = alloc_block(size, 0);
        assert_non_null(block);
        memcpy(block, old, size);
        struct entry *moved = ks_entry_of_block(block);
        assert_ptr_equal(moved, block);
        assert_true(ks_repoint(old, moved));
        alloc_free(old);
        assert_false(ks_repoint(old, moved));  /* no slot holds old any more */
        assert_ptr_equal(ks_peek(k, (size_t)n), moved);
    }
    assert_true(ks_verify());
    for (int i = 0; i < 300; i++) {
        int n = snprintf(k, sizeof k, "r%d", i);
        check_val(k, (size_t)n, k, (size_t)n);
        assert_int_equal(entry_expire(ks_peek(k, (size_t)n)), (i % 3) ? KS_NO_EXPIRE : T0 + 99);
    }
    assert_int_equal(ks_count_expires(), 100);
}

static void *fail_block(size_t size, unsigned band)
{
    (void)size;
    (void)band;
    return NULL;
}

static bool fail_index(size_t bytes)
{
    (void)bytes;
    return false;
}

static void test_oom(void **state)
{
    (void)state;
    assert_int_equal(ks_set("keep", 4, "old", 3, KS_NO_EXPIRE), KS_OK);
    /* too large to be accepted at all */
    assert_int_equal(ks_set("big", 3, "x", KS_MAX_VAL_LEN + 1, KS_NO_EXPIRE), KS_ENOMEM);
    assert_null(ks_alloc("big", 3, SIZE_MAX / 2, KS_NO_EXPIRE));

    /* the allocator fails: nothing changes */
    ks_test_fault_hooks(fail_block, NULL);
    assert_int_equal(ks_set("keep", 4, "new", 3, KS_NO_EXPIRE), KS_ENOMEM);
    assert_int_equal(ks_set("other", 5, "new", 3, KS_NO_EXPIRE), KS_ENOMEM);
    struct entry *e = ks_get("keep", 4);
    bool deleted = true;
    assert_null(ks_set_expire(e, T0 + 100, &deleted));  /* needs a new block */
    assert_false(deleted);
    ks_test_fault_hooks(NULL, NULL);
    check_val("keep", 4, "old", 3);
    assert_null(ks_get("other", 5));
    assert_int_equal(entry_expire(ks_get("keep", 4)), KS_NO_EXPIRE);
    assert_int_equal(ks_count(), 1);
    assert_int_equal(ks_count_expires(), 0);
    assert_true(ks_verify());

    /* the index cannot grow: inserts go on up to the hard cap, then fail */
    ks_test_fault_hooks(NULL, fail_index);
    char k[16];
    int ok = 0;
    for (int i = 0; i < 10; i++) {
        int n = snprintf(k, sizeof k, "i%d", i);
        if (ks_set(k, (size_t)n, k, (size_t)n, KS_NO_EXPIRE) == KS_OK)
            ok++;
        assert_true(ks_verify());
    }
    assert_int_equal(ok, 2);  /* a 4-slot table holds at most 3 */
    struct ks_stats st;
    ks_stats(&st);
    assert_int_equal(st.index_slots, 4);
    /* replacing an existing key still works at the cap */
    assert_int_equal(ks_set("keep", 4, "newer", 5, KS_NO_EXPIRE), KS_OK);
    check_val("keep", 4, "newer", 5);
    ks_test_fault_hooks(NULL, NULL);
    for (int i = 0; i < 10; i++) {
        int n = snprintf(k, sizeof k, "i%d", i);
        assert_int_equal(ks_set(k, (size_t)n, k, (size_t)n, KS_NO_EXPIRE), KS_OK);
    }
    for (int i = 0; i < 10; i++) {
        int n = snprintf(k, sizeof k, "i%d", i);
        check_val(k, (size_t)n, k, (size_t)n);
    }
    assert_int_equal(ks_count(), 11);
}

static void test_alloc_discard(void **state)
{
    (void)state;
    struct entry *e = ks_alloc("pending", 7, 4, KS_NO_EXPIRE);
    assert_non_null(e);
    memcpy(entry_val(e, NULL), "abcd", 4);
    assert_null(ks_get("pending", 7));  /* not visible before insert */
    ks_discard(e);
    assert_null(ks_get("pending", 7));
    e = ks_alloc("pending", 7, 4, T0 + 10);
    memcpy(entry_val(e, NULL), "wxyz", 4);
    ks_insert(e);
    check_val("pending", 7, "wxyz", 4);
    assert_int_equal(ks_count_expires(), 1);
    /* replacing a TTL entry by one without keeps the expires count right */
    assert_int_equal(ks_set("pending", 7, "q", 1, KS_NO_EXPIRE), KS_OK);
    assert_int_equal(ks_count_expires(), 0);
    assert_int_equal(ks_count(), 1);
}

struct mods {
    char log[2048];
    size_t len;
    int flushes;
    bool flush_saw_key;
};

static void on_modify(const char *key, size_t klen, void *ctx)
{
    struct mods *m = ctx;
    assert_true(m->len + klen + 1 < sizeof m->log);
    memcpy(m->log + m->len, key, klen);
    m->len += klen;
    m->log[m->len++] = ' ';
    m->log[m->len] = 0;
}

static void on_flush(void *ctx)
{
    struct mods *m = ctx;
    m->flushes++;
    m->flush_saw_key = ks_peek("b", 1) != NULL;  /* keys still there */
}

static void test_modify_hooks(void **state)
{
    (void)state;
    struct mods m = {0};
    ks_set_modify_hook(on_modify, &m);
    ks_set_flush_hook(on_flush, &m);
    assert_int_equal(ks_set("a", 1, "1", 1, KS_NO_EXPIRE), KS_OK);   /* a */
    assert_int_equal(ks_set("a", 1, "2", 1, KS_NO_EXPIRE), KS_OK);   /* a (replace) */
    assert_int_equal(ks_set("b", 1, "1", 1, T0 + 10), KS_OK);        /* b */
    struct entry *e = ks_get("a", 1);                                 /* lookups: nothing */
    ks_peek("zz", 2);
    ks_touch(e);
    e = ks_set_expire(e, T0 + 50, NULL);                              /* a (moves) */
    e = ks_set_expire(e, T0 + 60, NULL);                              /* a (in place) */
    entry_val(e, NULL)[0] = '3';
    ks_modified(e);                                                   /* a */
    struct entry *n = ks_alloc("c", 1, 0, KS_NO_EXPIRE);
    ks_discard(n);                                                    /* nothing */
    assert_false(ks_del("nope", 4));                                  /* nothing */
    assert_true(ks_del("a", 1));                                      /* a */
    assert_int_equal(ks_set("d", 1, "1", 1, T0 + 10), KS_OK);        /* d */
    assert_int_equal(ks_set("e", 1, "1", 1, KS_NO_EXPIRE), KS_OK);   /* e */
    ks_clock_set(T0 + 10);
    assert_null(ks_get("b", 1));                                      /* b (lazy expiry) */
    assert_int_equal(ks_expire_cycle(100000), 1);                     /* d (active expiry) */
    assert_null(ks_set_expire(ks_peek("e", 1), T0, NULL));            /* e (past expiry) */
    assert_string_equal(m.log, "a a b a a a a d e b d e ");
    assert_int_equal(m.flushes, 0);

    assert_int_equal(ks_set("b", 1, "1", 1, KS_NO_EXPIRE), KS_OK);
    m.len = 0;
    ks_flush();
    assert_int_equal(m.flushes, 1);
    assert_true(m.flush_saw_key);
    assert_int_equal(m.len, 0);  /* a flush is one notification, not one per key */
    ks_set_modify_hook(NULL, NULL);
    ks_set_flush_hook(NULL, NULL);
    assert_int_equal(ks_set("x", 1, "1", 1, KS_NO_EXPIRE), KS_OK);
    ks_flush();
    assert_int_equal(m.len, 0);
    assert_int_equal(m.flushes, 1);
}

static void record(struct entry *e, void *ctx)
{
    char *order = ctx;
    size_t kl;
    const char *k = entry_key(e, &kl);
    strncat(order, k, kl);
    strcat(order, ",");
}

/* The hash is keyed per setup: the same keys land in a different order, so
 * clients cannot precompute colliding keys. */
static void test_seeded_hash(void **state)
{
    (void)state;
    static char order[2][1024];
    for (int run = 0; run < 2; run++) {
        if (run) {
            ks_teardown();
            struct ks_options o;
            ks_options_default(&o);
            o.initial_power = 2;
            assert_int_equal(ks_setup(&o), 0);
        }
        char k[8];
        for (int i = 0; i < 64; i++) {
            int n = snprintf(k, sizeof k, "%d", i);
            assert_int_equal(ks_set(k, (size_t)n, "", 0, KS_NO_EXPIRE), KS_OK);
        }
        order[run][0] = 0;
        uint64_t c = 0;
        do {
            c = ks_scan(c, 1000, record, order[run]);
        } while (c);
        assert_int_equal(strlen(order[run]), 10 * 2 + 54 * 3);  /* each key once */
    }
    assert_string_not_equal(order[0], order[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get_del, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_key_shapes, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_clock_update_to, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_lazy_expiry, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_active_expiry, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_floor, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_set_expire, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_access_clock, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_random, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_flush, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_repoint, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_oom, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_alloc_discard, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_modify_hooks, setup, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_seeded_hash, setup, kstest_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
