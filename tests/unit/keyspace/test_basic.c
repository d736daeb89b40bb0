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

#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "keyspace/keyspace.h"

static int setup(void **state)
{
    (void)state;
    struct alloc_options ao;
    alloc_options_default(&ao);
    assert_int_equal(alloc_setup(&ao), 0);
    struct ks_options o;
    ks_options_default(&o);
    o.initial_power = 2;
    o.rehash_steps = 1;
    assert_int_equal(ks_setup(&o), 0);
    ks_clock_set(1000000);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ks_test_fault_hooks(NULL, NULL);
    assert_true(ks_verify());
    ks_teardown();
    struct alloc_stats st;
    alloc_stats(&st);
    assert_int_equal(st.live_blocks, 0);  /* every entry freed */
    alloc_teardown();
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
    assert_true(ks_verify());
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
    assert_true(ks_verify());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_shapes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
