/*
 * Randomized model test: hundreds of thousands of keyspace operations
 * (set with and without TTL, del, get, expire, persist, clock advances,
 * active expiry, cron, alloc/discard, random, scan) checked against a
 * simple array model. Values are derived from the key number and a version
 * so every read checks the bytes. Small tables and one rehash step per
 * operation keep the index resizing most of the time. Deterministic seed.
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

#define K 20000
#define T0 1700000000000LL

struct model {
    bool present;      /* in the index as far as the model knows */
    unsigned ver;
    int64_t exp;       /* KS_NO_EXPIRE or absolute ms */
};

static struct model m[K];
static int64_t now;
static bool live(unsigned i)
{
    return m[i].present && (m[i].exp == KS_NO_EXPIRE || m[i].exp > now);
}

/* keys: mostly short, some long (>255 bytes, long-key header), one empty */
static size_t key_of(char *buf, unsigned i)
{
    if (i == 0)
        return 0;
    int n = snprintf(buf, 32, "k%u", i);
    if (i % 97 == 0) {
        memset(buf + n, '#', 300 - (size_t)n);
        return 300;
    }
    if (i % 89 == 0) {
        buf[n] = 0;  /* binary: embedded NUL */
        buf[n + 1] = (char)i;
        return (size_t)n + 2;
    }
    return (size_t)n;
}

static size_t val_len(unsigned i, unsigned ver)
{
    if ((i + ver) % 53 == 0)
        return 0;
    if ((i * 7 + ver) % 499 == 0)
        return 70000;
    return (i * 31 + ver * 7) % 200;
}

static void fill_val(char *buf, unsigned i, unsigned ver, size_t len)
{
    for (size_t j = 0; j < len; j++)
        buf[j] = (char)(i * 13 + ver * 7 + j);
}

static char kbuf[400];
static char vbuf[70000];
static char vexp[70000];

static void check_entry(unsigned i, struct entry *e)
{
    assert_non_null(e);
    size_t kl, vl;
    size_t want_kl = key_of(kbuf, i);
    const char *k = entry_key(e, &kl);
    assert_int_equal(kl, want_kl);
    assert_memory_equal(k, kbuf, kl);
    const char *v = entry_val(e, &vl);
    size_t want = val_len(i, m[i].ver);
    assert_int_equal(vl, want);
    fill_val(vexp, i, m[i].ver, want);
    if (want)
        assert_memory_equal(v, vexp, want);
    assert_int_equal(entry_expire(e), m[i].exp);
}

static unsigned key_index(const struct entry *e)
{
    size_t kl;
    const char *k = entry_key(e, &kl);
    unsigned i = 0;
    for (size_t j = 1; j < kl && k[j] >= '0' && k[j] <= '9'; j++)
        i = i * 10 + (unsigned)(k[j] - '0');
    return i;
}

static void visit(struct entry *e, void *ctx)
{
    unsigned char *seen = ctx;
    unsigned i = key_index(e);
    assert_true(i < K);
    assert_true(live(i));
    seen[i] = 1;
}

/* Reads every key through the keyspace: afterwards nothing expired is left
 * in the index, so counts must match the model exactly. */
static void full_check(void)
{
    /* one active cycle with ample budget must leave nothing expired behind
     * (this checks the expiry floor and the sweep on a churned table) */
    size_t n = 0, nexp = 0;
    for (unsigned i = 0; i < K; i++)
        n += live(i);
    ks_expire_cycle(10 * 1000 * 1000);
    assert_int_equal(ks_count(), n);
    n = 0;
    for (unsigned i = 0; i < K; i++) {
        struct entry *e = ks_peek(kbuf, key_of(kbuf, i));
        if (live(i)) {
            check_entry(i, e);
            n++;
            nexp += m[i].exp != KS_NO_EXPIRE;
        } else {
            assert_null(e);
            m[i].present = false;
        }
    }
    assert_int_equal(ks_count(), n);
    assert_int_equal(ks_count_expires(), nexp);
    assert_true(ks_verify());
}

static void test_model(void **state)
{
    (void)state;
    now = T0;
    ks_clock_set(now);
    uint64_t expired_before = 0;
    struct ks_stats st;
    size_t resizing_ops = 0, resizes = 0, last_slots = 0;
    for (unsigned op = 0; op < 500000; op++) {
        unsigned i = (unsigned)(rng() % K);
        unsigned kind = (unsigned)(rng() % 1000);
        size_t kl = key_of(kbuf, i);
        /* alternate set-heavy and delete-heavy phases so the index keeps
         * growing and shrinking (and is mid-resize for many operations) */
        bool growing = (op / 40000) % 2 == 0;
        if (!growing && kind < 350 && rng() % 4 != 0)
            kind = 350 + (unsigned)(rng() % 150);  /* most sets become dels */
        if (kind < 350) {  /* SET, 30% with a TTL */
            unsigned ver = m[i].ver + 1;
            /* quiet stretches without new TTLs let the expiry floor rise */
            bool quiet = (op / 10000) % 3 == 2;
            int64_t exp = !quiet && rng() % 10 < 3 ? now + 1 + (int64_t)(rng() % 3000) : KS_NO_EXPIRE;
            size_t vl = val_len(i, ver);
            fill_val(vbuf, i, ver, vl);
            if (rng() % 4 == 0) {  /* the two-step path */
                struct entry *e = ks_alloc(kbuf, kl, vl, exp);
                assert_non_null(e);
                memcpy(entry_val(e, NULL), vbuf, vl);
                ks_insert(e);
            } else {
                assert_int_equal(ks_set(kbuf, kl, vbuf, vl, exp), KS_OK);
            }
            m[i] = (struct model){true, ver, exp};
        } else if (kind < 500) {  /* DEL */
            assert_int_equal(ks_del(kbuf, kl), live(i));
            m[i].present = false;
        } else if (kind < 800) {  /* GET */
            struct entry *e = ks_get(kbuf, kl);
            if (live(i))
                check_entry(i, e);
            else {
                assert_null(e);
                m[i].present = false;
            }
        } else if (kind < 870) {  /* EXPIRE (10% in the past) / PERSIST */
            struct entry *e = ks_peek(kbuf, kl);
            if (!live(i)) {
                assert_null(e);
                m[i].present = false;
                goto next;
            }
            int64_t exp;
            unsigned r = (unsigned)(rng() % 10);
            if ((op / 10000) % 3 == 2 && r >= 4)
                r = 1;  /* quiet: no new TTLs */
            exp = r == 0 ? now - (int64_t)(rng() % 100) : r < 4 ? KS_NO_EXPIRE : now + 1 + (int64_t)(rng() % 3000);
            bool deleted = false;
            struct entry *n = ks_set_expire(e, exp, &deleted);
            if (r == 0) {
                assert_null(n);
                assert_true(deleted);
                m[i].present = false;
            } else {
                assert_false(deleted);
                m[i].exp = exp;
                check_entry(i, n);
            }
        } else if (kind < 930) {  /* time passes */
            now += (int64_t)(rng() % 40);
            ks_clock_set(now);
        } else if (kind < 950) {  /* rare enough to leave resizes running */
            if (rng() % 16 == 0)
                ks_expire_cycle(rng() % 200);
            else if (ks_stats(&st), !st.rehashing)
                ks_expire_cycle(0);  /* budget 0: one batch, a pass in small steps */
        } else if (kind < 965) {
            if (rng() % 16 == 0)
                ks_cron(rng() % 50);
        } else if (kind < 975) {  /* allocated, then given up */
            struct entry *e = ks_alloc(kbuf, kl, 10, KS_NO_EXPIRE);
            assert_non_null(e);
            ks_discard(e);
        } else if (kind < 990) {
            struct entry *e = ks_random();
            if (e) {
                unsigned j = key_index(e);
                assert_true(live(j));
                check_entry(j, e);
            }
        } else {  /* a few SCAN steps: whatever is returned is live */
            static unsigned char seen[K];
            uint64_t c = rng() % 64;
            for (int s = 0; s < 4; s++)
                c = ks_scan(c, 4, visit, seen);
        }
    next:
        ks_stats(&st);
        resizing_ops += st.rehashing;
        if (st.index_slots != last_slots) {
            resizes++;
            last_slots = st.index_slots;
        }
        if (op % 997 == 0)
            assert_true(ks_verify());
        if (op % 25000 == 24999)
            full_check();
    }
    full_check();
    assert_true(resizes > 20);
    assert_true(resizing_ops > 2000);

    /* finally let everything with a TTL expire and be reaped actively */
    ks_stats(&st);
    expired_before = st.expired_keys;
    size_t with_ttl = ks_count_expires(), keys = ks_count();
    assert_true(with_ttl > 100);
    now += 10000;
    ks_clock_set(now);
    size_t reaped = 0;
    for (int r = 0; r < 10000 && ks_count_expires(); r++)
        reaped += ks_expire_cycle(100);
    assert_int_equal(reaped, with_ttl);
    assert_int_equal(ks_count(), keys - with_ttl);
    ks_stats(&st);
    assert_int_equal(st.expired_keys - expired_before, with_ttl);
    full_check();
}

static enum ks_sweep sweep_opt;
static bool bands_opt;

static int setup(void **state)
{
    (void)state;
    memset(m, 0, sizeof m);
    rng_state = 0x1234567;
    struct ks_options o;
    ks_options_default(&o);
    o.initial_power = 3;
    o.rehash_steps = 1;
    o.expire_sweep = sweep_opt;
    o.ttl_bands = bands_opt;
    kstest_setup(NULL, &o);
    return 0;
}

/* the same run with each active-expiry design, and without segregation */
static int setup_arenas(void **state)
{
    sweep_opt = KS_SWEEP_ARENAS;
    bands_opt = true;
    return setup(state);
}

static int setup_index(void **state)
{
    sweep_opt = KS_SWEEP_INDEX;
    bands_opt = true;
    return setup(state);
}

static int setup_unbanded(void **state)
{
    sweep_opt = KS_SWEEP_ARENAS;
    bands_opt = false;
    return setup(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_model, setup_arenas, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_model, setup_index, kstest_teardown),
        cmocka_unit_test_setup_teardown(test_model, setup_unbanded, kstest_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
