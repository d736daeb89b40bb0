/*
 * test_human: the byte-count formatter (proto/human.c) in its three styles,
 * at the edges of every unit. The expected strings are what INFO (Redis's
 * form), the compaction log line and MEMORY DOCTOR printed before they
 * shared the formatter, so a change of any reader's text shows here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "proto/human.h"

#define KB 1024.0
#define MB (1024.0 * KB)
#define GB (1024.0 * MB)
#define TB (1024.0 * GB)

static void check(double v, enum human_style st, const char *want)
{
    char buf[32];
    human_bytes(buf, sizeof(buf), v, st);
    assert_string_equal(buf, want);
}

static void test_redis(void **state)
{
    (void)state;
    check(0, HUMAN_REDIS, "0B");
    check(1023, HUMAN_REDIS, "1023B");
    check(1024, HUMAN_REDIS, "1.00K");
    check(1536, HUMAN_REDIS, "1.50K");
    check(MB - 1, HUMAN_REDIS, "1024.00K");
    check(MB, HUMAN_REDIS, "1.00M");
    check(3.25 * MB, HUMAN_REDIS, "3.25M");
    check(GB, HUMAN_REDIS, "1.00G");
    check(TB, HUMAN_REDIS, "1.00T");
    check(3 * 1024 * TB, HUMAN_REDIS, "3072.00T");
}

static void test_log(void **state)
{
    (void)state;
    check(0, HUMAN_LOG, "0.00B");
    check(1023, HUMAN_LOG, "1023.00B");
    check(1024, HUMAN_LOG, "1.00K");
    check(1536, HUMAN_LOG, "1.50K");
    check(MB, HUMAN_LOG, "1.00M");
    check(GB - 1, HUMAN_LOG, "1024.00M");
    check(GB, HUMAN_LOG, "1.00G");
    check(2 * TB, HUMAN_LOG, "2048.00G");
}

static void test_prose(void **state)
{
    (void)state;
    check(0, HUMAN_PROSE, "0 bytes");
    check(1023, HUMAN_PROSE, "1023 bytes");
    check(1024, HUMAN_PROSE, "1.00 KiB");
    check(1.5 * MB, HUMAN_PROSE, "1.50 MiB");
    check(GB, HUMAN_PROSE, "1.00 GiB");
    check(TB, HUMAN_PROSE, "1.00 TiB");
    check(4096 * TB, HUMAN_PROSE, "4096.00 TiB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_prose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
