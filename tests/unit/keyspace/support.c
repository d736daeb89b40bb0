/*
 * The shared keyspace unit-test fixture (see support.h). It has no state:
 * each test keeps its own options and hooks; kstest_teardown drops the
 * hooks (a hook's context may be a finished test's stack) and runs the
 * end-of-test invariant checks, so a test only checks what is its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

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

int kstest_teardown(void **state)
{
    (void)state;
    ks_set_modify_hook(NULL, NULL);
    ks_set_flush_hook(NULL, NULL);
    ks_test_fault_hooks(NULL, NULL);
    assert_true(ks_verify());
    assert_true(alloc_verify());
    ks_census_reset();
    ks_teardown();
    struct alloc_stats st;
    alloc_stats(&st);
    assert_int_equal(st.live_blocks, 0);   /* every entry freed */
    alloc_teardown();
    return 0;
}

unsigned kstest_key_number(const struct entry *e, const char *prefix)
{
    size_t kl, pl = strlen(prefix);
    const char *k = entry_key(e, &kl);
    char buf[32];
    assert_true(kl > pl && kl < sizeof buf);
    assert_true(memcmp(k, prefix, pl) == 0);
    memcpy(buf, k, kl);   /* keys are not NUL-terminated */
    buf[kl] = 0;
    char *end;
    unsigned long n = strtoul(buf + pl, &end, 10);
    assert_true(*end == 0);
    return (unsigned)n;
}
