/*
 * The shared proto unit-test fixture (see support.h). Its only state is
 * the two sessions and ptest_fail_blocks, all reset by ptest_setup /
 * ptest_teardown, so tests do not leak into each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "proto/command.h"
#include "tests/support/escape.h"
#include "tests/unit/proto/support.h"

struct session S, S2;
bool ptest_fail_blocks;

static void session_fresh(struct session *s)
{
    memset(s, 0, sizeof *s);
    reply_init(&s->reply);
    s->reply.resp = 2;
}

static void session_free(struct session *s)
{
    session_deinit(s);
    reply_deinit(&s->reply);
}

void ptest_setup(const struct alloc_options *ao, const struct ks_options *ko)
{
    assert_int_equal(alloc_setup(ao), 0);
    struct ks_options o;
    if (ko == NULL) {
        ks_options_default(&o);
        ko = &o;
    }
    assert_int_equal(ks_setup(ko), 0);
    proto_setup();
    ks_clock_set(T0);
    session_fresh(&S);
    session_fresh(&S2);
    ptest_fail_blocks = false;
}

void ptest_teardown(void)
{
    session_free(&S);
    session_free(&S2);
    proto_teardown();
    ks_test_fault_hooks(NULL, NULL);
    ks_teardown();
    alloc_teardown();
}

int ptest_fixture_setup(void **state)
{
    (void)state;
    ptest_setup(NULL, NULL);
    return 0;
}

int ptest_fixture_teardown(void **state)
{
    (void)state;
    ptest_teardown();
    return 0;
}

void ptest_run_strs(struct session *s, int argc, const char **args)
{
    struct slice argv[64];
    assert_true(argc <= 64);
    for (int i = 0; i < argc; i++) {
        argv[i].p = args[i];
        argv[i].len = strlen(args[i]);
    }
    command_dispatch(s, argc, argv);
}

void ptest_expect_reply(struct session *s, const char *file, int line, const char *exp,
                        size_t elen)
{
    if (s->reply.len != elen || memcmp(s->reply.buf, exp, elen) != 0) {
        char a[2048], b[2048];
        test_escape(a, sizeof a, exp, elen);
        test_escape(b, sizeof b, s->reply.buf, s->reply.len);
        fail_msg("%s:%d: expected \"%s\"\n got \"%s\"", file, line, a, b);
    }
    reply_clear(&s->reply);
}

void *ptest_failing_block_alloc(size_t size, unsigned band)
{
    return ptest_fail_blocks ? NULL : alloc_block(size, band);
}
