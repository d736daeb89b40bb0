/*
 * test_protected: protected-mode is a configuration option, reported by
 * CONFIG GET, "yes" by default, settable on the command line and by
 * CONFIG SET.
 *
 * The refusal itself is not tested: protected mode (no password set) refuses
 * clients that do not connect over loopback, and the tests can only reach
 * the daemon over loopback, which protected mode always lets in. Testing it
 * would need a second, non-loopback address on the machine (or a network
 * namespace), which CI does not provide. What is checked instead is that
 * loopback clients are served with protected mode on.
 * Passes against redis-server 7.0.
 */
#include "harness.h"

#include <string.h>

static struct server srv;

static void expect_protected(redisContext *c, const char *want)
{
    redisReply *r = run(c, "CONFIG GET protected-mode");
    assert_reply_array(r, 2);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_STRING);
    assert_string_equal(r->element[0]->str, "protected-mode");
    assert_int_equal(r->element[1]->type, REDIS_REPLY_STRING);
    assert_string_equal(r->element[1]->str, want);
    freeReplyObject(r);
}

static void test_default_on(void **state)
{
    (void)state;
    if (harness_external())
        skip();
    server_start(&srv, NULL);
    redisContext *c = server_connect(&srv);
    expect_protected(c, "yes");
    /* Loopback clients are served with protected mode on and no password. */
    assert_reply_status(run(c, "SET k v"), "OK");
    assert_reply_str(run(c, "GET k"), "v");
    assert_reply_status(run(c, "CONFIG SET protected-mode no"), "OK");
    expect_protected(c, "no");
    assert_reply_status(run(c, "CONFIG SET protected-mode yes"), "OK");
    expect_protected(c, "yes");
    redisFree(c);
    server_stop(&srv);
}

static void test_off_from_command_line(void **state)
{
    (void)state;
    if (harness_external())
        skip();
    const char *args[] = {"--protected-mode", "no", NULL};
    server_start(&srv, args);
    redisContext *c = server_connect(&srv);
    expect_protected(c, "no");
    redisFree(c);
    server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_on),
        cmocka_unit_test(test_off_from_command_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
