/*
 * test_expiry: TTLs set every way Redis allows, read back with TTL/PTTL,
 * removed with PERSIST, and enforced both lazily (a read of an expired key
 * misses) and actively (expired keys vanish from DBSIZE and INFO keyspace
 * without anyone touching them, and INFO stats counts them in
 * expired_keys).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static long long unix_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Asserts lo <= reply <= hi and frees the reply. */
#define assert_reply_range(r, lo, hi) reply_range(__FILE__, __LINE__, (r), (lo), (hi))
static void reply_range(const char *file, int line, redisReply *r, long long lo, long long hi)
{
    if (r->type != REDIS_REPLY_INTEGER || r->integer < lo || r->integer > hi) {
        print_error("%s:%d: expected an integer in [%lld, %lld], got type %d value %lld\n",
                    file, line, lo, hi, r->type, r->integer);
        freeReplyObject(r);
        _fail(file, line);
    }
    freeReplyObject(r);
}

static void test_ttl_forms(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    assert_reply_status(run(c, "SET ex:ex v EX 100"), "OK");
    assert_reply_range(run(c, "TTL ex:ex"), 98, 100);
    assert_reply_range(run(c, "PTTL ex:ex"), 98000, 100000);

    assert_reply_status(run(c, "SET ex:px v PX 50000"), "OK");
    assert_reply_range(run(c, "PTTL ex:px"), 48000, 50000);
    assert_reply_range(run(c, "TTL ex:px"), 48, 50);

    long long now = unix_ms();
    assert_reply_status(run(c, "SET ex:exat v EXAT %lld", now / 1000 + 200), "OK");
    assert_reply_range(run(c, "TTL ex:exat"), 197, 200);
    assert_reply_status(run(c, "SET ex:pxat v PXAT %lld", now + 300000), "OK");
    assert_reply_range(run(c, "PTTL ex:pxat"), 297000, 300000);

    /* A time in the past: the key is gone at once. */
    assert_reply_status(run(c, "SET ex:past v PXAT %lld", now - 1000), "OK");
    assert_reply_nil(run(c, "GET ex:past"));
    assert_reply_int(run(c, "EXISTS ex:past"), 0);

    /* No TTL and no key. */
    assert_reply_status(run(c, "SET ex:plain v"), "OK");
    assert_reply_int(run(c, "TTL ex:plain"), -1);
    assert_reply_int(run(c, "PTTL ex:plain"), -1);
    assert_reply_int(run(c, "TTL ex:missing"), -2);
    assert_reply_int(run(c, "PTTL ex:missing"), -2);

    /* EXPIRE family on existing keys. */
    assert_reply_int(run(c, "EXPIRE ex:plain 100"), 1);
    assert_reply_range(run(c, "TTL ex:plain"), 98, 100);
    assert_reply_int(run(c, "PEXPIRE ex:plain 70000"), 1);
    assert_reply_range(run(c, "PTTL ex:plain"), 68000, 70000);
    assert_reply_int(run(c, "EXPIRE ex:missing 100"), 0);

    /* PERSIST removes the TTL once. */
    assert_reply_int(run(c, "PERSIST ex:ex"), 1);
    assert_reply_int(run(c, "TTL ex:ex"), -1);
    assert_reply_int(run(c, "PERSIST ex:ex"), 0);
    assert_reply_int(run(c, "PERSIST ex:missing"), 0);
    assert_reply_str(run(c, "GET ex:ex"), "v");

    /* Bad values. */
    assert_reply_error(run(c, "SET ex:bad v PX 0"), "ERR invalid expire time");
    assert_reply_error(run(c, "SET ex:bad v EXAT notanumber"), "ERR value is not an integer");
    assert_reply_error(run(c, "SET ex:bad v EX 10 EXAT 10"), "ERR syntax error");
    assert_reply_error(run(c, "SET ex:bad v EX 10 KEEPTTL"), "ERR syntax error");
    assert_reply_nil(run(c, "GET ex:bad"));
    redisFree(c);
}

static void test_lazy_expiry(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    assert_reply_status(run(c, "SET lazy:a v PX 150"), "OK");
    assert_reply_status(run(c, "SET lazy:b v PX 150"), "OK");
    assert_reply_str(run(c, "GET lazy:a"), "v");
    harness_sleep_ms(400);
    assert_reply_nil(run(c, "GET lazy:a"));
    assert_reply_int(run(c, "EXISTS lazy:b"), 0);
    assert_reply_int(run(c, "TTL lazy:b"), -2);
    /* An expired key can be set again, and INCR starts from zero. */
    assert_reply_status(run(c, "SET lazy:n 41 PX 100"), "OK");
    harness_sleep_ms(300);
    assert_reply_int(run(c, "INCR lazy:n"), 1);
    assert_reply_int(run(c, "TTL lazy:n"), -1);
    redisFree(c);
}

#define NVOLATILE 500
#define NSTABLE   100

static void test_active_expiry(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    long long base = dbsize(c);
    long long expired0 = info_int(c, "stats", "expired_keys");
    for (int i = 0; i < NVOLATILE; i++)
        redisAppendCommand(c, "SET act:v:%d value-%d PX %d", i, i, 200 + i % 300);
    for (int i = 0; i < NSTABLE; i++)
        redisAppendCommand(c, "SET act:s:%d value-%d", i, i);
    for (int i = 0; i < NVOLATILE + NSTABLE; i++)
        assert_reply_status(get_reply(c), "OK");
    assert_int_equal(dbsize(c), base + NVOLATILE + NSTABLE);
    char *ks = info_field(c, "keyspace", "db0");
    assert_non_null(ks);
    long long keys = -1, expires = -1;
    assert_int_equal(sscanf(ks, "keys=%lld,expires=%lld", &keys, &expires), 2);
    assert_int_equal(keys, base + NVOLATILE + NSTABLE);
    assert_true(expires >= NVOLATILE);
    free(ks);

    /* Nobody reads the keys; the server must reclaim them on its own. */
    long long n = -1;
    for (int i = 0; i < 1000; i++) {
        n = dbsize(c);
        if (n == base + NSTABLE)
            break;
        harness_sleep_ms(10);
    }
    if (n != base + NSTABLE)
        fail_msg("DBSIZE is %lld 10 s after the TTLs ran out, expected %lld", n,
                 base + NSTABLE);
    ks = info_field(c, "keyspace", "db0");
    assert_non_null(ks);
    assert_int_equal(sscanf(ks, "keys=%lld,expires=%lld", &keys, &expires), 2);
    assert_int_equal(keys, base + NSTABLE);
    free(ks);
    assert_true(info_int(c, "stats", "expired_keys") >= expired0 + NVOLATILE);
    /* The keys without TTL are all still there. */
    for (int i = 0; i < NSTABLE; i++)
        redisAppendCommand(c, "GET act:s:%d", i);
    char want[32];
    for (int i = 0; i < NSTABLE; i++) {
        snprintf(want, sizeof want, "value-%d", i);
        assert_reply_str(get_reply(c), want);
    }
    redisFree(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ttl_forms),
        cmocka_unit_test(test_lazy_expiry),
        cmocka_unit_test(test_active_expiry),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
