/*
 * Unit tests for proto/resp: valid requests parse identically whatever way
 * their bytes are split (two chunks at every split point, and one byte at a
 * time, with the unfinished request moved to a new buffer between calls),
 * UNFIN never consumes, malformed input gets Redis's error text, limits are
 * enforced, and the strict slice conversions accept exactly what Redis does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"

/* ---- a tiny client simulator ---- */

#define MAXREQ 16
#define MAXARG 16

struct result {
    int nreq;                       /* OK and EMPTY results, in order */
    int status[MAXREQ];
    int argc[MAXREQ];
    size_t len[MAXREQ][MAXARG];
    char *arg[MAXREQ][MAXARG];
    parse_rstatus_e final;          /* UNFIN at the end, or an error */
    const char *err;
};

static void result_free(struct result *r)
{
    for (int i = 0; i < r->nreq; i++)
        for (int j = 0; j < r->argc[i] && j < MAXARG; j++)
            free(r->arg[i][j]);
    memset(r, 0, sizeof(*r));
}

/*
 * Feeds input in chunks whose boundaries are given by cuts[] (ascending),
 * parsing after each arrival until UNFIN or an error. Between arrivals the
 * unconsumed bytes are copied into a freshly allocated buffer, so a parser
 * that kept pointers instead of offsets would be caught by ASan.
 */
static void feed(const char *in, size_t n, const size_t *cuts, size_t ncuts,
                 const struct resp_limits *lim, struct result *out)
{
    struct request req;
    request_init(&req);
    memset(out, 0, sizeof(*out));
    char *buf = NULL;
    size_t blen = 0;
    size_t prev = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t upto = c < ncuts ? cuts[c] : n;
        char *nb = malloc(blen + (upto - prev) + 1);
        assert_non_null(nb);
        if (blen)
            memcpy(nb, buf, blen);
        memcpy(nb + blen, in + prev, upto - prev);
        free(buf);
        buf = nb;
        blen += upto - prev;
        prev = upto;
        for (;;) {
            size_t used = 12345;
            parse_rstatus_e st = resp_parse(&req, buf, blen, lim, &used);
            if (st == PARSE_UNFIN) {
                assert_int_equal(used, 0);
                out->final = PARSE_UNFIN;
                break;
            }
            if (st == PARSE_EINVALID || st == PARSE_EOVERSIZE) {
                assert_non_null(req.err);
                assert_int_equal(strncmp(req.err, "ERR ", 4), 0);
                out->final = st;
                out->err = req.err;
                /* err may point into req: keep a copy that outlives it */
                static char errcopy[128];
                snprintf(errcopy, sizeof(errcopy), "%s", req.err);
                out->err = errcopy;
                free(buf);
                request_deinit(&req);
                return;
            }
            assert_true(st == PARSE_OK || st == PARSE_EMPTY);
            assert_true(used > 0 && used <= blen);
            assert_true(out->nreq < MAXREQ);
            int k = out->nreq++;
            out->status[k] = st;
            out->argc[k] = st == PARSE_OK ? req.argc : 0;
            for (int j = 0; j < out->argc[k] && j < MAXARG; j++) {
                out->len[k][j] = req.argv[j].len;
                out->arg[k][j] = malloc(req.argv[j].len + 1);
                memcpy(out->arg[k][j], req.argv[j].p, req.argv[j].len);
            }
            memmove(buf, buf + used, blen - used);
            blen -= used;
        }
    }
    free(buf);
    request_deinit(&req);
}

static void assert_same(const struct result *a, const struct result *b)
{
    assert_int_equal(a->nreq, b->nreq);
    assert_int_equal(a->final, b->final);
    if (a->err || b->err)
        assert_string_equal(a->err, b->err);
    for (int i = 0; i < a->nreq; i++) {
        assert_int_equal(a->status[i], b->status[i]);
        assert_int_equal(a->argc[i], b->argc[i]);
        for (int j = 0; j < a->argc[i] && j < MAXARG; j++) {
            assert_int_equal(a->len[i][j], b->len[i][j]);
            assert_memory_equal(a->arg[i][j], b->arg[i][j], a->len[i][j]);
        }
    }
}

/* Parses in one piece, then at every two-chunk split, then byte by byte;
 * all must agree. Returns the one-piece result in *whole. */
static void check_all_splits(const char *in, size_t n, const struct resp_limits *lim,
                             struct result *whole)
{
    feed(in, n, NULL, 0, lim, whole);
    struct result r;
    for (size_t k = 1; k < n; k++) {
        feed(in, n, &k, 1, lim, &r);
        assert_same(whole, &r);
        result_free(&r);
    }
    size_t *cuts = malloc((n ? n : 1) * sizeof(*cuts));
    for (size_t k = 0; k + 1 < n; k++)
        cuts[k] = k + 1;
    feed(in, n, cuts, n ? n - 1 : 0, lim, &r);
    assert_same(whole, &r);
    result_free(&r);
    free(cuts);
}

#define ARG_IS(res, i, j, lit)                                         \
    do {                                                               \
        assert_int_equal((res).len[i][j], sizeof(lit) - 1);            \
        assert_memory_equal((res).arg[i][j], lit, sizeof(lit) - 1);    \
    } while (0)

#define S(lit) lit, sizeof(lit) - 1

/* ---- valid input ---- */

static void test_multibulk(void **state)
{
    struct result r;
    check_all_splits(S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"), NULL, &r);
    assert_int_equal(r.nreq, 1);
    assert_int_equal(r.status[0], PARSE_OK);
    assert_int_equal(r.argc[0], 3);
    ARG_IS(r, 0, 0, "SET");
    ARG_IS(r, 0, 1, "k");
    ARG_IS(r, 0, 2, "hello");
    assert_int_equal(r.final, PARSE_UNFIN);
    result_free(&r);
}

static void test_binary_and_empty(void **state)
{
    struct result r;
    check_all_splits(S("*4\r\n$3\r\nset\r\n$3\r\na\0b\r\n$6\r\n\r\n\r\n\r\n\r\n$0\r\n\r\n"),
                     NULL, &r);
    assert_int_equal(r.nreq, 1);
    assert_int_equal(r.argc[0], 4);
    ARG_IS(r, 0, 1, "a\0b");
    ARG_IS(r, 0, 2, "\r\n\r\n\r\n");
    ARG_IS(r, 0, 3, "");
    result_free(&r);
}

static void test_pipelined(void **state)
{
    struct result r;
    check_all_splits(S("*1\r\n$4\r\nPING\r\n"
                       "PING\r\n"
                       "*0\r\n"
                       "\r\n"
                       "*2\r\n$3\r\nGET\r\n$1\r\nx\r\n"
                       "*-1\r\n"
                       "get  y \n"
                       "   \n"
                       "*1\r\n$4\r\nQUIT\r\n"),
                     NULL, &r);
    assert_int_equal(r.nreq, 9);
    int want[] = {PARSE_OK, PARSE_OK, PARSE_EMPTY, PARSE_EMPTY, PARSE_OK,
                  PARSE_EMPTY, PARSE_OK, PARSE_EMPTY, PARSE_OK};
    for (int i = 0; i < 9; i++)
        assert_int_equal(r.status[i], want[i]);
    ARG_IS(r, 0, 0, "PING");
    ARG_IS(r, 1, 0, "PING");
    assert_int_equal(r.argc[1], 1);
    ARG_IS(r, 4, 1, "x");
    assert_int_equal(r.argc[6], 2);
    ARG_IS(r, 6, 0, "get");
    ARG_IS(r, 6, 1, "y");
    ARG_IS(r, 8, 0, "QUIT");
    assert_int_equal(r.final, PARSE_UNFIN);
    result_free(&r);
}

static void test_inline(void **state)
{
    struct result r;
    check_all_splits(S("set a b\r\nset \"x y\" 'it''s'\n"), NULL, &r);
    /* 'it''s' : a closing quote followed by a quote is unbalanced */
    assert_int_equal(r.nreq, 1);
    assert_int_equal(r.final, PARSE_EINVALID);
    assert_string_equal(r.err, "ERR Protocol error: unbalanced quotes in request");
    result_free(&r);

    check_all_splits(S("set \"a\\x41\\n\\r\\t\\b\\a\\\\\\\"z\" 'it\\'s' \"\" '' x\"y z\"w\n"),
                     NULL, &r);
    /* the last word: x then "y z" then w needs a blank after the quote */
    assert_int_equal(r.final, PARSE_EINVALID);
    result_free(&r);

    check_all_splits(S("set \"a\\x41\\n\\r\\t\\b\\a\\\\\\\"z\\q\" 'it\\'s\\n' \"\" '' x\"y z\"\n"),
                     NULL, &r);
    assert_int_equal(r.nreq, 1);
    assert_int_equal(r.argc[0], 6);
    ARG_IS(r, 0, 0, "set");
    ARG_IS(r, 0, 1, "aA\n\r\t\b\a\\\"zq");
    ARG_IS(r, 0, 2, "it's\\n");
    ARG_IS(r, 0, 3, "");
    ARG_IS(r, 0, 4, "");
    ARG_IS(r, 0, 5, "xy z");
    result_free(&r);

    /* tabs separate, a lone \r inside is a separator too, \n ends */
    check_all_splits(S("\tGET\tk \r\n"), NULL, &r);
    assert_int_equal(r.nreq, 1);
    assert_int_equal(r.argc[0], 2);
    ARG_IS(r, 0, 1, "k");
    result_free(&r);

    /* "\x4" is not a hex escape: it stays as 'x4' */
    check_all_splits(S("echo \"\\x4\"\n"), NULL, &r);
    ARG_IS(r, 0, 1, "x4");
    result_free(&r);
}

static void test_big_bulk_and_need(void **state)
{
    size_t vlen = 200000;
    size_t hdr = strlen("*2\r\n$3\r\nset\r\n$200000\r\n");
    size_t n = hdr + vlen + 2;
    char *in = malloc(n);
    memcpy(in, "*2\r\n$3\r\nset\r\n$200000\r\n", hdr);
    for (size_t i = 0; i < vlen; i++)
        in[hdr + i] = (char)(i * 7);
    memcpy(in + hdr + vlen, "\r\n", 2);

    struct request req;
    request_init(&req);
    size_t used;
    /* the header alone: UNFIN with a need that covers the payload */
    assert_int_equal(resp_parse(&req, in, hdr + 10, NULL, &used), PARSE_UNFIN);
    assert_int_equal(used, 0);
    assert_int_equal(req.need, n);
    assert_int_equal(resp_parse(&req, in, n - 1, NULL, &used), PARSE_UNFIN);
    assert_int_equal(req.need, n);
    assert_int_equal(resp_parse(&req, in, n, NULL, &used), PARSE_OK);
    assert_int_equal(used, n);
    assert_int_equal(req.argc, 2);
    assert_int_equal(req.argv[1].len, vlen);
    assert_memory_equal(req.argv[1].p, in + hdr, vlen);

    /* the hint covers the argument being read, not the whole request */
    assert_int_equal(resp_parse(&req, S("*3\r\n$1\r\na\r\n$100\r\nxx"), NULL, &used),
                     PARSE_UNFIN);
    assert_int_equal(req.need, 4 + 7 + 6 + 100 + 2);
    /* and is 0 while a length line is incomplete */
    request_reset(&req);
    assert_int_equal(resp_parse(&req, S("*3\r\n$1\r\na\r\n$10"), NULL, &used), PARSE_UNFIN);
    assert_int_equal(req.need, 0);
    request_deinit(&req);

    /* a handful of split points, including inside the payload */
    size_t cuts[] = {1, hdr - 1, hdr, hdr + 1, hdr + 65536, n - 2, n - 1};
    struct result a, b;
    feed(in, n, NULL, 0, NULL, &a);
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        feed(in, n, &cuts[i], 1, NULL, &b);
        assert_same(&a, &b);
        result_free(&b);
    }
    feed(in, n, cuts, sizeof(cuts) / sizeof(cuts[0]), NULL, &b);
    assert_same(&a, &b);
    assert_int_equal(a.nreq, 1);
    result_free(&a);
    result_free(&b);
    free(in);
}

static void test_many_args(void **state)
{
    /* more arguments than the initial table holds, with resume in between */
    int nargs = 3000;
    size_t cap = (size_t)nargs * 16 + 32;
    char *in = malloc(cap);
    size_t n = (size_t)sprintf(in, "*%d\r\n", nargs);
    for (int i = 0; i < nargs; i++)
        n += (size_t)sprintf(in + n, "$%d\r\n%d\r\n", i < 10 ? 1 : i < 100 ? 2 : i < 1000 ? 3 : 4, i);
    struct request req;
    request_init(&req);
    size_t used;
    for (size_t k = 1; k < n; k += 97) {
        assert_int_equal(resp_parse(&req, in, k, NULL, &used), PARSE_UNFIN);
        assert_int_equal(used, 0);
    }
    assert_int_equal(resp_parse(&req, in, n, NULL, &used), PARSE_OK);
    assert_int_equal(used, n);
    assert_int_equal(req.argc, nargs);
    char want[16];
    for (int i = 0; i < nargs; i++) {
        int wl = sprintf(want, "%d", i);
        assert_int_equal(req.argv[i].len, (size_t)wl);
        assert_memory_equal(req.argv[i].p, want, (size_t)wl);
    }
    request_deinit(&req);
    free(in);
}

static void test_reset_and_reuse(void **state)
{
    struct request req;
    request_init(&req);
    size_t used;
    assert_int_equal(resp_parse(&req, S("*2\r\n$3\r\nget\r\n"), NULL, &used), PARSE_UNFIN);
    /* the caller gives up on that request (e.g. a new connection) */
    request_reset(&req);
    assert_int_equal(resp_parse(&req, S("PING\n"), NULL, &used), PARSE_OK);
    assert_int_equal(req.argc, 1);
    assert_int_equal(used, 5);
    assert_int_equal(resp_parse(&req, "", 0, NULL, &used), PARSE_UNFIN);
    request_deinit(&req);
}

/* ---- malformed input ---- */

struct bad {
    const char *in;
    size_t len;
    parse_rstatus_e st;
    const char *err;
};

#define B(lit, st, err) {lit, sizeof(lit) - 1, st, err}

static void test_errors(void **state)
{
    static const struct bad cases[] = {
        B("*x\r\n", PARSE_EINVALID, "ERR Protocol error: invalid multibulk length"),
        B("*\r\n", PARSE_EINVALID, "ERR Protocol error: invalid multibulk length"),
        B("*+1\r\n", PARSE_EINVALID, "ERR Protocol error: invalid multibulk length"),
        B("* 1\r\n", PARSE_EINVALID, "ERR Protocol error: invalid multibulk length"),
        B("*01\r\n", PARSE_EINVALID, "ERR Protocol error: invalid multibulk length"),
        B("*1x\r\n", PARSE_EINVALID, "ERR Protocol error: invalid multibulk length"),
        B("*1048577\r\n", PARSE_EOVERSIZE, "ERR Protocol error: invalid multibulk length"),
        B("*99999999999999999999999\r\n", PARSE_EINVALID,
          "ERR Protocol error: invalid multibulk length"),
        B("*1\r\nx3\r\nfoo\r\n", PARSE_EINVALID, "ERR Protocol error: expected '$', got 'x'"),
        B("*2\r\n$1\r\na\r\n:1\r\n", PARSE_EINVALID, "ERR Protocol error: expected '$', got ':'"),
        B("*1\r\n$-1\r\n", PARSE_EINVALID, "ERR Protocol error: invalid bulk length"),
        B("*1\r\n$x\r\n", PARSE_EINVALID, "ERR Protocol error: invalid bulk length"),
        B("*1\r\n$\r\n", PARSE_EINVALID, "ERR Protocol error: invalid bulk length"),
        B("*1\r\n$ 3\r\nfoo\r\n", PARSE_EINVALID, "ERR Protocol error: invalid bulk length"),
        B("*1\r\n$536870913\r\n", PARSE_EOVERSIZE, "ERR Protocol error: invalid bulk length"),
        B("*1\r\n$3\r\nfooXY", PARSE_EINVALID,
          "ERR Protocol error: bulk data not terminated by CRLF"),
        B("*1\r\n$3\r\nfoo\rX", PARSE_EINVALID,
          "ERR Protocol error: bulk data not terminated by CRLF"),
        B("*1\r\n$3\r\nfoobar\r\n", PARSE_EINVALID,
          "ERR Protocol error: bulk data not terminated by CRLF"),
        B("set \"abc\n", PARSE_EINVALID, "ERR Protocol error: unbalanced quotes in request"),
        B("set 'abc\n", PARSE_EINVALID, "ERR Protocol error: unbalanced quotes in request"),
        B("set \"a\"b\n", PARSE_EINVALID, "ERR Protocol error: unbalanced quotes in request"),
        B("set 'a'b c\n", PARSE_EINVALID, "ERR Protocol error: unbalanced quotes in request"),
        B("set \"a\\\"\n", PARSE_EINVALID, "ERR Protocol error: unbalanced quotes in request"),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct result r;
        check_all_splits(cases[i].in, cases[i].len, NULL, &r);
        if (r.final != cases[i].st || r.err == NULL || strcmp(r.err, cases[i].err) != 0)
            fail_msg("case %zu: got %d '%s'", i, r.final, r.err ? r.err : "(null)");
        result_free(&r);
    }
}

static void test_limits(void **state)
{
    struct request req;
    request_init(&req);
    size_t used;

    /* proto-max-bulk-len from the limits */
    struct resp_limits lim = {.max_bulk = 10};
    assert_int_equal(resp_parse(&req, S("*1\r\n$10\r\n0123456789\r\n"), &lim, &used), PARSE_OK);
    assert_int_equal(resp_parse(&req, S("*1\r\n$11\r\n"), &lim, &used), PARSE_EOVERSIZE);
    assert_string_equal(req.err, "ERR Protocol error: invalid bulk length");
    assert_int_equal(used, 0);

    /* the largest count is accepted (and does not allocate for it up front) */
    assert_int_equal(resp_parse(&req, S("*1048576\r\n"), NULL, &used), PARSE_UNFIN);
    request_reset(&req);

    size_t big = RESP_MAX_INLINE + 2;
    char *in = malloc(big + 16);

    /* a length line that never ends */
    in[0] = '*';
    memset(in + 1, '1', big);
    assert_int_equal(resp_parse(&req, in, RESP_MAX_INLINE, NULL, &used), PARSE_UNFIN);
    assert_int_equal(resp_parse(&req, in, big, NULL, &used), PARSE_EOVERSIZE);
    assert_string_equal(req.err, "ERR Protocol error: too big mbulk count string");

    memcpy(in, "*1\r\n$", 5);
    memset(in + 5, '1', big);
    assert_int_equal(resp_parse(&req, in, big + 5, NULL, &used), PARSE_EOVERSIZE);
    assert_string_equal(req.err, "ERR Protocol error: too big bulk count string");

    /* an inline line: exactly the limit is fine, one more is not */
    memset(in, 'a', big);
    in[RESP_MAX_INLINE] = '\n';
    assert_int_equal(resp_parse(&req, in, RESP_MAX_INLINE + 1, NULL, &used), PARSE_OK);
    assert_int_equal(used, RESP_MAX_INLINE + 1);
    assert_int_equal(req.argv[0].len, RESP_MAX_INLINE);
    memset(in, 'a', big);
    assert_int_equal(resp_parse(&req, in, RESP_MAX_INLINE, NULL, &used), PARSE_UNFIN);
    assert_int_equal(resp_parse(&req, in, RESP_MAX_INLINE + 1, NULL, &used), PARSE_EOVERSIZE);
    assert_string_equal(req.err, "ERR Protocol error: too big inline request");
    in[RESP_MAX_INLINE + 1] = '\n';
    assert_int_equal(resp_parse(&req, in, RESP_MAX_INLINE + 2, NULL, &used), PARSE_EOVERSIZE);
    assert_string_equal(req.err, "ERR Protocol error: too big inline request");

    free(in);
    request_deinit(&req);
}

/* ---- slice helpers ---- */

static bool ll(const char *s, long long *v)
{
    struct slice sl = {s, strlen(s)};
    return slice_to_ll(&sl, v);
}

static bool ld(const char *s, long double *v)
{
    struct slice sl = {s, strlen(s)};
    return slice_to_ld(&sl, v);
}

static void test_slice_eq(void **state)
{
    struct slice a = {"GeT", 3};
    assert_true(slice_eq(&a, "get"));
    assert_true(slice_eq(&a, "GET"));
    assert_false(slice_eq(&a, "ge"));
    assert_false(slice_eq(&a, "gets"));
    struct slice b = {"ge\0", 3};
    assert_false(slice_eq(&b, "ge"));
    struct slice e = {"", 0};
    assert_true(slice_eq(&e, ""));
}

static void test_slice_to_ll(void **state)
{
    long long v;
    assert_true(ll("0", &v));
    assert_int_equal(v, 0);
    assert_true(ll("-1", &v));
    assert_int_equal(v, -1);
    assert_true(ll("9223372036854775807", &v));
    assert_true(v == 9223372036854775807LL);
    assert_true(ll("-9223372036854775808", &v));
    assert_true(v == (-9223372036854775807LL - 1));
    const char *bad[] = {"", "-", "+1", " 1", "1 ", "01", "-0", "00", "1a", "0x10",
                         "9223372036854775808", "-9223372036854775809",
                         "99999999999999999999", "1.0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ll(bad[i], &v))
            fail_msg("accepted '%s'", bad[i]);
    struct slice nul = {"12\0", 3};
    assert_false(slice_to_ll(&nul, &v));
}

static void test_slice_to_ld(void **state)
{
    long double v;
    assert_true(ld("1.5", &v));
    assert_true(v == 1.5L);
    assert_true(ld("-0.1", &v));
    assert_true(ld("10", &v));
    assert_true(v == 10.0L);
    assert_true(ld("1e3", &v));
    assert_true(v == 1000.0L);
    assert_true(ld("inf", &v));
    assert_true(isinf(v) && v > 0);
    assert_true(ld("-inf", &v));
    assert_true(isinf(v) && v < 0);
    const char *bad[] = {"", " 1", "1 ", "abc", "1.5x", "nan", "-nan", "NaN", "1e99999", "\t1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (ld(bad[i], &v))
            fail_msg("accepted '%s'", bad[i]);
    struct slice nul = {"1\0", 2};
    assert_false(slice_to_ld(&nul, &v));
    /* overlong input is refused even if it is a number */
    size_t n = 6000;
    char *lng = malloc(n + 1);
    memset(lng, '1', n);
    lng[n] = '\0';
    assert_false(ld(lng, &v));
    free(lng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multibulk),
        cmocka_unit_test(test_binary_and_empty),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_big_bulk_and_need),
        cmocka_unit_test(test_many_args),
        cmocka_unit_test(test_reset_and_reuse),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_slice_eq),
        cmocka_unit_test(test_slice_to_ll),
        cmocka_unit_test(test_slice_to_ld),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
