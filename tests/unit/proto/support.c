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

#include <stdlib.h>
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
    assert_int_equal(proto_setup(), 0);
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

/* Parses the value at p[0..len); returns the bytes it spans. */
static size_t parse_node(const char *p, size_t len, struct ptest_node *n)
{
    assert_true(len >= 3);
    const char *cr = memchr(p, '\r', len);
    assert_true(cr != NULL && cr + 1 < p + len);
    assert_int_equal(cr[1], '\n');
    size_t hl = (size_t)(cr - p) + 2;
    memset(n, 0, sizeof(*n));
    n->type = p[0];
    char num[32] = "";
    size_t nl = (size_t)(cr - p) - 1;
    if (p[0] != '+' && p[0] != '-' && p[0] != ',') {
        assert_true(nl < sizeof(num));
        memcpy(num, p + 1, nl);
        num[nl] = '\0';
    }
    switch (p[0]) {
    case '+': case '-': case ',':
        n->str = p + 1;
        n->len = nl;
        return hl;
    case ':':
        n->num = strtoll(num, NULL, 10);
        return hl;
    case '_':
        return hl;
    case '$':
        n->num = strtoll(num, NULL, 10);
        if (n->num < 0) {
            n->type = '_';
            return hl;
        }
        n->str = p + hl;
        n->len = (size_t)n->num;
        assert_true(hl + n->len + 2 <= len);
        assert_memory_equal(p + hl + n->len, "\r\n", 2);
        return hl + n->len + 2;
    case '*': case '~': case '%': {
        n->num = strtoll(num, NULL, 10);
        if (n->num < 0) {
            n->type = '_';
            return hl;
        }
        n->nkids = (size_t)n->num * (p[0] == '%' ? 2 : 1);
        n->kids = calloc(n->nkids ? n->nkids : 1, sizeof(*n->kids));
        assert_non_null(n->kids);
        size_t off = hl;
        for (size_t i = 0; i < n->nkids; i++)
            off += parse_node(p + off, len - off, &n->kids[i]);
        return off;
    }
    default:
        fail_msg("unexpected type byte '%c'", p[0]);
        return 0;
    }
}

void ptest_parse_reply(const struct reply *r, struct ptest_node *n)
{
    size_t used = parse_node(r->buf, r->len, n);
    assert_int_equal(used, r->len);
}

void ptest_node_free(struct ptest_node *n)
{
    for (size_t i = 0; i < n->nkids; i++)
        ptest_node_free(&n->kids[i]);
    free(n->kids);
}

bool ptest_str_is(const struct ptest_node *n, const char *str)
{
    return (n->type == '$' || n->type == '+') && n->len == strlen(str)
           && memcmp(n->str, str, n->len) == 0;
}

const struct ptest_node *ptest_map_get(const struct ptest_node *m, const char *key)
{
    assert_true(m->type == '%' || m->type == '*');
    for (size_t i = 0; i + 1 < m->nkids; i += 2)
        if (m->kids[i].type == '$' && ptest_str_is(&m->kids[i], key))
            return &m->kids[i + 1];
    return NULL;
}
