/*
 * The shared keyspace unit-test fixture (see support.h). It has no state:
 * each test keeps its own options and hooks and says what it verifies
 * before kstest_teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/keyspace/support.h"

void kstest_setup(const struct alloc_options *ao, const struct ks_options *o)
{
    struct alloc_options ao_def;
    if (ao == NULL) {
        alloc_options_default(&ao_def);
        ao = &ao_def;
    }
    assert_int_equal(alloc_setup(ao), 0);
    struct ks_options o_def;
    if (o == NULL) {
        ks_options_default(&o_def);
        o = &o_def;
    }
    assert_int_equal(ks_setup(o), 0);
}

void kstest_teardown(void)
{
    ks_teardown();
    struct alloc_stats st;
    alloc_stats(&st);
    assert_int_equal(st.live_blocks, 0);   /* every entry freed */
    alloc_teardown();
}
