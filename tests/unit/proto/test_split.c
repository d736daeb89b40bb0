/*
 * test_split: the line splitter (proto/split.c) on its own, under both rule
 * sets its callers use: SPLIT_QUOTES_ANYWHERE (inline requests) and
 * SPLIT_ANY_SPACE_ENDS (the configuration file). tests/unit/daemon's
 * test_quoting checks the two callers end to end on a table of tricky
 * lines; this file checks the splitter's own contract: words are written
 * back to back into a buffer exactly as long as the line (ASan catches a
 * byte too many), NUL bytes are ordinary bytes, the cursor stays at the
 * end once there, and a malformed line stops with SPLIT_EQUOTES.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/split.h"

#define INLINE SPLIT_QUOTES_ANYWHERE
#define CONFIG SPLIT_ANY_SPACE_ENDS

/* Splits line[0..n) into words joined by '|' (ERR for unbalanced quotes),
 * with an output buffer of exactly n bytes. */
static char *split_all(const char *line, size_t n, unsigned rules)
{
    char *out = malloc(n ? n : 1);
    char *joined = malloc(2 * n + 8);
    assert_non_null(out);
    assert_non_null(joined);
    struct split sp;
    split_init(&sp, line, n, out, rules);
    size_t at = 0, off, len, expect_off = 0;
    enum split_status st;
    while ((st = split_next(&sp, &off, &len)) == SPLIT_WORD) {
        assert_int_equal(off, expect_off);   /* back to back */
        expect_off = off + len;
        assert_true(expect_off <= n);
        if (at > 0)
            joined[at++] = '|';
        memcpy(joined + at, out + off, len);
        at += len;
    }
    if (st == SPLIT_EQUOTES) {
        strcpy(joined, "ERR");
        at = 3;
    } else {
        assert_int_equal(st, SPLIT_END);
        assert_int_equal(split_next(&sp, &off, &len), SPLIT_END);   /* stays at the end */
    }
    joined[at] = '\0';
    free(out);
    return joined;
}

#define CHECK(rules, line, want)                                   \
    do {                                                           \
        char *got_ = split_all(line, sizeof(line) - 1, rules);     \
        assert_string_equal(got_, want);                           \
        free(got_);                                                \
    } while (0)

static void test_words_and_blanks(void **state)
{
    (void)state;
    CHECK(INLINE, "", "");
    CHECK(CONFIG, " \t\r\n ", "");
    CHECK(INLINE, "set k v", "set|k|v");
    CHECK(CONFIG, "  set\tk \r v  ", "set|k|v");
    /* a vertical tab ends a word only under the configuration rules */
    CHECK(INLINE, "a\vb \fc", "a\vb|c");
    CHECK(CONFIG, "a\vb \fc", "a|b|c");
}

static void test_quotes(void **state)
{
    (void)state;
    CHECK(INLINE, "\"a b\" 'c d' \"\"", "a b|c d|");
    CHECK(CONFIG, "\"a b\" 'c d' ''", "a b|c d|");
    CHECK(INLINE, "\"\\x41\\x7a\\x7A\\n\\r\\t\\b\\a\\\"\\\\\\q\"", "Azz\n\r\t\b\a\"\\q");
    CHECK(INLINE, "\"\\x4\" \"\\xg1\"", "x4|xg1");
    CHECK(INLINE, "'it\\'s \\n'", "it's \\n");
    /* a quote in the middle of a word */
    CHECK(INLINE, "a\"b c\"", "ab c");
    CHECK(CONFIG, "a\"b c\"", "a\"b|c\"");
    CHECK(INLINE, "k'v'", "kv");
    CHECK(CONFIG, "k'v'", "k'v'");
    /* a closing quote must end the word, and every quote must close */
    CHECK(INLINE, "\"a\"b", "ERR");
    CHECK(CONFIG, "'a'b", "ERR");
    CHECK(INLINE, "\"open", "ERR");
    CHECK(CONFIG, "'open", "ERR");
    CHECK(INLINE, "\"trailing\\", "ERR");
    CHECK(INLINE, "x\"", "ERR");
    CHECK(CONFIG, "x\"", "x\"");
}

static void test_nul_bytes(void **state)
{
    (void)state;
    char *got = split_all("a\0b \"c\0\"", 8, INLINE);
    assert_memory_equal(got, "a\0b|c\0", 6);
    free(got);
}

static void test_ends_word(void **state)
{
    (void)state;
    const char *blanks = " \t\n\v\f\r";
    for (const char *b = blanks; *b; b++) {
        assert_true(split_ends_word(*b, CONFIG));
        assert_int_equal(split_ends_word(*b, INLINE), *b != '\v' && *b != '\f');
    }
    assert_false(split_ends_word('\0', CONFIG));
    assert_false(split_ends_word('\0', INLINE));
    assert_false(split_ends_word('x', INLINE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_and_blanks),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_ends_word),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
