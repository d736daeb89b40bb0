/*
 * test_quoting: the two callers of the quoting rules on one table of tricky
 * lines: the configuration file's line splitter (config_split_line) and
 * the inline request form of the RESP parser (resp_parse on a line that
 * does not start with '*'). Both follow redis-cli's quoting ("..." with
 * \n \r \t \b \a \xHH escapes, '...' with \' only, a closing quote must end
 * the word), and the table pins where they agree and the few places where
 * they differ on purpose:
 *  - a quote opens a quoted part only at the start of a word in a
 *    configuration file (`a"b"` is the word a"b), anywhere in an inline
 *    request, as in Redis (`a"b"` is ab);
 *  - every isspace() byte ends a word in a configuration file, only space,
 *    tab, CR and LF do in an inline request (a vertical tab or form feed is
 *    part of the word there, though a run of them before a word is
 *    skipped).
 * An error row (-1) is "unbalanced quotes" for the file and the protocol
 * error "ERR Protocol error: unbalanced quotes in request" for the request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/config.h"
#include "proto/resp.h"

#define MAXW 4

struct words {
    int n;                    /* -1: unbalanced quotes */
    const char *w[MAXW];
};

struct row {
    const char *in;
    struct words cfg;         /* config_split_line */
    struct words inl;         /* an inline request */
};

#define W(...) {(int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), {__VA_ARGS__}}
#define NONE {0, {NULL}}
#define BAD {-1, {NULL}}
#define SAME(in, words) {in, words, words}

static const struct row rows[] = {
    SAME("", NONE),
    SAME("   \t ", NONE),
    SAME("a b  c", W("a", "b", "c")),
    SAME("\ta\tb\t", W("a", "b")),
    SAME("a\rb", W("a", "b")),
    SAME("\"a b\" c", W("a b", "c")),
    SAME("'a b' c", W("a b", "c")),
    SAME("\"a\\nb\"", W("a\nb")),
    SAME("\"\\t\\r\\b\\a\\q\\\\\"", W("\t\r\b\aq\\")),
    SAME("\"\\x41\\x4a\\x4A\"", W("AJJ")),
    SAME("\"\\x4\"", W("x4")),
    SAME("\"\\xZZ\"", W("xZZ")),
    SAME("\"\\x4g\"", W("x4g")),
    SAME("\"\\x\"", W("x")),
    SAME("\"\\X41\"", W("X41")),
    SAME("\"a\\\"b\"", W("a\"b")),
    SAME("'a\\'b'", W("a'b")),
    SAME("'a\\nb'", W("a\\nb")),
    SAME("'a\"b'", W("a\"b")),
    SAME("\"a'b\"", W("a'b")),
    SAME("\"\"", W("")),
    SAME("'' x", W("", "x")),
    SAME("\"a\" b", W("a", "b")),
    SAME("\"a\"\tb", W("a", "b")),
    SAME("\"a b\"\v", W("a b")),
    SAME("\va", W("a")),
    SAME("\x01\x02 z", W("\x01\x02", "z")),
    SAME("\"abc", BAD),
    SAME("'abc", BAD),
    SAME("\"a\"b", BAD),
    SAME("'a'b", BAD),
    SAME("\"a\\", BAD),
    SAME("\"a\\\"", BAD),
    SAME("x \"\"y", BAD),
    /* where the two differ */
    {"a\"b\"", W("a\"b\""), W("ab")},
    {"a'b c'", W("a'b", "c'"), W("ab c")},
    {"x\"", W("x\""), BAD},
    {"a'b", W("a'b"), BAD},
    {"a\vb", W("a", "b"), W("a\vb")},
    {"a\fb c", W("a", "b", "c"), W("a\fb", "c")},
};

static void check_words(const char *in, const char *who, const struct words *want, int argc,
                        const char *const *got, const size_t *lens)
{
    if (argc != want->n)
        fail_msg("%s on \"%s\": %d words, want %d", who, in, argc, want->n);
    for (int i = 0; i < argc; i++) {
        size_t wl = strlen(want->w[i]);
        if (lens[i] != wl || memcmp(got[i], want->w[i], wl) != 0)
            fail_msg("%s on \"%s\": word %d is \"%.*s\", want \"%s\"", who, in, i, (int)lens[i],
                     got[i], want->w[i]);
    }
}

static void test_config_split(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        char **argv = NULL;
        int argc = config_split_line(rows[r].in, &argv);
        const char *got[MAXW + 4];
        size_t lens[MAXW + 4];
        for (int i = 0; i < argc && i < MAXW + 4; i++) {
            got[i] = argv[i];
            lens[i] = strlen(argv[i]);
        }
        check_words(rows[r].in, "config_split_line", &rows[r].cfg, argc, got, lens);
        config_free_args(argc, argv);
    }
}

static void test_inline_request(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        char buf[64];
        int n = snprintf(buf, sizeof(buf), "%s\r\n", rows[r].in);
        assert_true(n > 0 && (size_t)n < sizeof(buf));
        struct request req;
        request_init(&req);
        size_t used = 0;
        parse_rstatus_e st = resp_parse(&req, buf, (size_t)n, NULL, &used);
        int argc;
        if (st == PARSE_EINVALID) {
            assert_string_equal(req.err, "ERR Protocol error: unbalanced quotes in request");
            argc = -1;
        } else {
            assert_true(st == PARSE_OK || st == PARSE_EMPTY);
            assert_int_equal(used, (size_t)n);
            argc = st == PARSE_EMPTY ? 0 : req.argc;
        }
        const char *got[MAXW + 4];
        size_t lens[MAXW + 4];
        for (int i = 0; i < argc && i < MAXW + 4; i++) {
            got[i] = req.argv[i].p;
            lens[i] = req.argv[i].len;
        }
        check_words(rows[r].in, "inline request", &rows[r].inl, argc, got, lens);
        request_deinit(&req);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_split),
        cmocka_unit_test(test_inline_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
