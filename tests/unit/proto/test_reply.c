/*
 * Unit tests for proto/reply: the exact bytes of every reply function in
 * RESP2 and RESP3, deferred aggregate headers, and buffer housekeeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "proto/reply.h"

static struct reply R;

static int setup(void **state)
{
    reply_init(&R);
    return 0;
}

static int teardown(void **state)
{
    reply_deinit(&R);
    return 0;
}

#define EXPECT(lit)                                              \
    do {                                                         \
        assert_false(R.oom);                                     \
        assert_int_equal(R.len, sizeof(lit) - 1);                \
        assert_memory_equal(R.buf, lit, sizeof(lit) - 1);        \
        reply_clear(&R);                                         \
    } while (0)

static void test_simple(void **state)
{
    for (int resp = 2; resp <= 3; resp++) {
        R.resp = resp;
        reply_ok(&R);
        EXPECT("+OK\r\n");
        reply_status(&R, "PONG");
        EXPECT("+PONG\r\n");
        reply_error(&R, "ERR syntax error");
        EXPECT("-ERR syntax error\r\n");
        reply_error(&R, "ERR a\r\nb\nc\rd");
        EXPECT("-ERR a  b c d\r\n");
        reply_errorf(&R, "ERR %s %d", "x\ny", 42);
        EXPECT("-ERR x y 42\r\n");
        reply_raw(&R, "abc", 3);
        EXPECT("abc");
    }
}

static void test_errorf_long(void **state)
{
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    uint64_t before = R.nerrors;
    reply_errorf(&R, "ERR %s", big);
    assert_int_equal(R.nerrors, before + 1);
    assert_int_equal(R.len, 1 + 4 + 999 + 2);
    assert_memory_equal(R.buf, "-ERR zzz", 8);
    assert_memory_equal(R.buf + R.len - 3, "z\r\n", 3);
}

static void test_int(void **state)
{
    reply_int(&R, 0);
    EXPECT(":0\r\n");
    reply_int(&R, 7);
    EXPECT(":7\r\n");
    reply_int(&R, 10);
    EXPECT(":10\r\n");
    reply_int(&R, -1);
    EXPECT(":-1\r\n");
    reply_int(&R, 1234567890123LL);
    EXPECT(":1234567890123\r\n");
    reply_int(&R, LLONG_MAX);
    EXPECT(":9223372036854775807\r\n");
    reply_int(&R, LLONG_MIN);
    EXPECT(":-9223372036854775808\r\n");
    reply_bulk_ll(&R, -42);
    EXPECT("$3\r\n-42\r\n");
    reply_bulk_ll(&R, LLONG_MIN);
    EXPECT("$20\r\n-9223372036854775808\r\n");
    /* every power of ten boundary round-trips */
    long long v = 1;
    for (int i = 0; i < 18; i++, v *= 10) {
        char want[64];
        int n = snprintf(want, sizeof(want), ":%lld\r\n", v - 1);
        reply_int(&R, v - 1);
        assert_int_equal(R.len, (size_t)n);
        assert_memory_equal(R.buf, want, (size_t)n);
        reply_clear(&R);
        n = snprintf(want, sizeof(want), ":%lld\r\n", v);
        reply_int(&R, v);
        assert_int_equal(R.len, (size_t)n);
        assert_memory_equal(R.buf, want, (size_t)n);
        reply_clear(&R);
    }
}

static void test_bulk(void **state)
{
    reply_bulk(&R, "hello", 5);
    EXPECT("$5\r\nhello\r\n");
    reply_bulk(&R, "", 0);
    EXPECT("$0\r\n\r\n");
    reply_bulk(&R, "a\0b\r\n", 5);
    EXPECT("$5\r\na\0b\r\n\r\n");
    reply_cstr(&R, "xyz");
    EXPECT("$3\r\nxyz\r\n");
}

static void test_nulls_and_aggregates(void **state)
{
    R.resp = 2;
    reply_null(&R);
    EXPECT("$-1\r\n");
    reply_null_array(&R);
    EXPECT("*-1\r\n");
    reply_array(&R, 3);
    EXPECT("*3\r\n");
    reply_map(&R, 2);
    EXPECT("*4\r\n");
    reply_set(&R, 5);
    EXPECT("*5\r\n");
    reply_bool(&R, true);
    EXPECT(":1\r\n");
    reply_bool(&R, false);
    EXPECT(":0\r\n");
    reply_verbatim(&R, "hi", 2, "txt");
    EXPECT("$2\r\nhi\r\n");

    R.resp = 3;
    reply_null(&R);
    EXPECT("_\r\n");
    reply_null_array(&R);
    EXPECT("_\r\n");
    reply_array(&R, 0);
    EXPECT("*0\r\n");
    reply_map(&R, 2);
    EXPECT("%2\r\n");
    reply_set(&R, 5);
    EXPECT("~5\r\n");
    reply_bool(&R, true);
    EXPECT("#t\r\n");
    reply_bool(&R, false);
    EXPECT("#f\r\n");
    reply_verbatim(&R, "hi", 2, "txt");
    EXPECT("=6\r\ntxt:hi\r\n");
    reply_verbatim(&R, "", 0, "mkd");
    EXPECT("=4\r\nmkd:\r\n");
}

static void test_double(void **state)
{
    R.resp = 2;
    reply_double(&R, 1.5);
    EXPECT("$3\r\n1.5\r\n");
    reply_double(&R, 0.1);
    EXPECT("$19\r\n0.10000000000000001\r\n");
    reply_double(&R, INFINITY);
    EXPECT("$3\r\ninf\r\n");
    reply_double(&R, -INFINITY);
    EXPECT("$4\r\n-inf\r\n");
    reply_double(&R, 3.0);
    EXPECT("$1\r\n3\r\n");
    reply_double(&R, 1e20);
    EXPECT("$5\r\n1e+20\r\n");

    R.resp = 3;
    reply_double(&R, 1.5);
    EXPECT(",1.5\r\n");
    reply_double(&R, -2.0);
    EXPECT(",-2\r\n");
    reply_double(&R, INFINITY);
    EXPECT(",inf\r\n");
    reply_double(&R, -INFINITY);
    EXPECT(",-inf\r\n");
}

static void test_long_double(void **state)
{
    for (int resp = 2; resp <= 3; resp++) {
        R.resp = resp;
        reply_long_double(&R, 10.5L + 0.1L);
        EXPECT("$4\r\n10.6\r\n");
        reply_long_double(&R, 3.0L);
        EXPECT("$1\r\n3\r\n");
        reply_long_double(&R, 0.0L);
        EXPECT("$1\r\n0\r\n");
        reply_long_double(&R, -0.0L);
        EXPECT("$1\r\n0\r\n");
        reply_long_double(&R, -1.25L);
        EXPECT("$5\r\n-1.25\r\n");
        reply_long_double(&R, 5.0e3L);
        EXPECT("$4\r\n5000\r\n");
        reply_long_double(&R, INFINITY);
        EXPECT("$3\r\ninf\r\n");
        reply_long_double(&R, -INFINITY);
        EXPECT("$4\r\n-inf\r\n");
    }
    /* a huge value is written in full, as %.17Lf does */
    reply_long_double(&R, 1267650600228229401496703205376.0L); /* 2^100, exact */
    EXPECT("$31\r\n1267650600228229401496703205376\r\n");
}

static void test_defer(void **state)
{
    for (int resp = 2; resp <= 3; resp++) {
        R.resp = resp;
        size_t h = reply_defer(&R);
        reply_int(&R, 1);
        reply_int(&R, 2);
        reply_defer_array(&R, h, 2);
        EXPECT("*2\r\n:1\r\n:2\r\n");

        /* after other output, and empty */
        reply_ok(&R);
        h = reply_defer(&R);
        reply_defer_array(&R, h, 0);
        reply_ok(&R);
        EXPECT("+OK\r\n*0\r\n+OK\r\n");

        /* nested: inner filled first */
        size_t outer = reply_defer(&R);
        size_t inner = reply_defer(&R);
        reply_bulk(&R, "k", 1);
        reply_bulk(&R, "v", 1);
        reply_defer_map(&R, inner, 1);
        reply_int(&R, 9);
        reply_defer_array(&R, outer, 2);
        if (resp == 2)
            EXPECT("*2\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n:9\r\n");
        else
            EXPECT("*2\r\n%1\r\n$1\r\nk\r\n$1\r\nv\r\n:9\r\n");

        /* a long count */
        h = reply_defer(&R);
        reply_defer_array(&R, h, 12345678901ull);
        EXPECT("*12345678901\r\n");
    }
}

static void test_growth_and_clear(void **state)
{
    /* many appends cross several growths and stay byte-exact */
    for (int i = 0; i < 10000; i++)
        reply_int(&R, i);
    size_t off = 0;
    for (int i = 0; i < 10000; i++) {
        char want[32];
        int n = snprintf(want, sizeof(want), ":%d\r\n", i);
        assert_memory_equal(R.buf + off, want, (size_t)n);
        off += (size_t)n;
    }
    assert_int_equal(off, R.len);
    reply_clear(&R);
    assert_int_equal(R.len, 0);

    /* a huge bulk grows the buffer; clear shrinks it again */
    static char big[1 << 20];
    memset(big, 'q', sizeof(big));
    reply_bulk(&R, big, sizeof(big));
    assert_true(R.cap >= sizeof(big));
    assert_memory_equal(R.buf, "$1048576\r\nqq", 12);
    assert_memory_equal(R.buf + R.len - 3, "q\r\n", 3);
    reply_clear(&R);
    assert_true(R.cap <= 64 * 1024);
    assert_int_equal(R.len, 0);
    reply_ok(&R);
    EXPECT("+OK\r\n");
}

static void test_oom_flag_blocks_writes(void **state)
{
    reply_ok(&R);
    R.oom = true;
    reply_int(&R, 5);
    reply_bulk(&R, "x", 1);
    assert_int_equal(R.len, 5);
    reply_clear(&R);
    assert_false(R.oom);
    reply_int(&R, 5);
    EXPECT(":5\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_simple, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errorf_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nulls_and_aggregates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_double, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth_and_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oom_flag_blocks_writes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
