/*
 * test_reload: SIGHUP, protected-mode and client-output-buffer-limit.
 *
 *  - SIGHUP re-reads the configuration file: a changed mutable option takes
 *    effect (CONFIG GET shows it, the log names it), a changed immutable one
 *    keeps its value with a log line saying so, a command-line override
 *    still wins over the file, and a file with a bad line changes nothing.
 *  - protected-mode is reported by CONFIG GET; when the machine has a
 *    non-loopback IPv4 address, a client connecting through it gets the
 *    DENIED error and is closed while no password is set (skipped
 *    otherwise), and a loopback client is served.
 *  - client-output-buffer-limit: a client that pipelines GETs of a 1 MB
 *    value and never reads is disconnected (soft limit held too long), while
 *    another client's data and connection stay intact.
 * compactd only (redis-server has no SIGHUP reload).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct server srv;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *config_get(redisContext *c, const char *name)
{
    redisReply *r = run(c, "CONFIG GET %s", name);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    char *v = strdup(r->element[1]->str);
    freeReplyObject(r);
    return v;
}

/* Waits (bounded) until CONFIG GET name equals want. */
static bool wait_config(redisContext *c, const char *name, const char *want)
{
    int64_t t0 = harness_now_ms();
    while (harness_now_ms() - t0 < 5000) {
        char *v = config_get(c, name);
        bool ok = strcmp(v, want) == 0;
        free(v);
        if (ok)
            return true;
        harness_sleep_ms(20);
    }
    return false;
}

static bool wait_log(const struct server *s, const char *needle)
{
    int64_t t0 = harness_now_ms();
    while (harness_now_ms() - t0 < 5000) {
        if (server_log_contains(s, needle))
            return true;
        harness_sleep_ms(20);
    }
    return false;
}

static void test_sighup(void **state)
{
    (void)state;
    NEED_COMPACTD();
    char path[600];
    snprintf(path, sizeof path, "%s/test_reload-%d.conf", harness_log_dir(), (int)getpid());
    write_file(path, "compact-cpu-pct 25\narena-size 1mb\nmaxmemory-samples 5\nhz 10\n");
    const char *args[] = {"--hz", "20", NULL};
    server_start_conf(&srv, path, args);
    redisContext *c = server_connect(&srv);
    char *v = config_get(c, "hz");
    assert_string_equal(v, "20");
    free(v);

    write_file(path, "compact-cpu-pct 40\narena-size 2mb\nmaxmemory-samples 7\nhz 15\n");
    assert_int_equal(kill(srv.pid, SIGHUP), 0);
    assert_true(wait_config(c, "compact-cpu-pct", "40"));
    assert_true(wait_config(c, "maxmemory-samples", "7"));
    v = config_get(c, "arena-size");
    assert_string_equal(v, "1048576");   /* immutable: kept */
    free(v);
    v = config_get(c, "hz");
    assert_string_equal(v, "20");        /* the command line still wins */
    free(v);
    assert_true(wait_log(&srv, "Reload done"));
    assert_true(server_log_contains(&srv, "compact-cpu-pct changed from '25' to '40'"));
    assert_true(server_log_contains(&srv, "arena-size cannot change at run time"));
    assert_reply_status(run(c, "PING"), "PONG");

    /* A bad line: nothing changes, and the log says why. */
    write_file(path, "compact-cpu-pct 60\nmaxmemory-samples nope\n");
    assert_int_equal(kill(srv.pid, SIGHUP), 0);
    assert_true(wait_log(&srv, "Reload failed"));
    v = config_get(c, "compact-cpu-pct");
    assert_string_equal(v, "40");
    free(v);
    v = config_get(c, "maxmemory-samples");
    assert_string_equal(v, "7");
    free(v);
    redisFree(c);
    server_stop(&srv);
    unlink(path);
}

/* A non-loopback IPv4 address of this machine, or false. */
static bool outside_address(char *buf, size_t len)
{
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs) != 0)
        return false;
    bool found = false;
    for (i = ifs; i && !found; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
            continue;
        struct sockaddr_in *sin = (struct sockaddr_in *)i->ifa_addr;
        if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
            continue;
        inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)len);
        found = true;
    }
    freeifaddrs(ifs);
    return found;
}

static void test_protected_mode(void **state)
{
    (void)state;
    NEED_COMPACTD();
    char ip[64];
    bool outside = outside_address(ip, sizeof ip);
    const char *args[] = {"--bind", outside ? "0.0.0.0" : "127.0.0.1", NULL};
    server_start(&srv, args);
    redisContext *c = server_connect(&srv);
    char *v = config_get(c, "protected-mode");
    assert_string_equal(v, "yes");
    free(v);
    assert_reply_status(run(c, "PING"), "PONG");   /* loopback is served */
    if (outside) {
        redisContext *o = redisConnect(ip, srv.port);
        assert_non_null(o);
        assert_int_equal(o->err, 0);
        redisReply *r = redisCommand(o, "PING");
        if (r != NULL) {
            assert_int_equal(r->type, REDIS_REPLY_ERROR);
            assert_true(strncmp(r->str, "DENIED Redis is running in protected mode", 41) == 0);
            freeReplyObject(r);
        }
        redisFree(o);
        /* with a password set, outside clients are let in (and must AUTH) */
        assert_reply_status(run(c, "CONFIG SET requirepass pw"), "OK");
        o = redisConnect(ip, srv.port);
        r = redisCommand(o, "PING");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_ERROR);
        assert_true(strncmp(r->str, "NOAUTH", 6) == 0);
        freeReplyObject(r);
        redisFree(o);
        assert_reply_status(run(c, "AUTH pw"), "OK");
        assert_reply_status(run(c, "CONFIG SET requirepass %s", ""), "OK");
    } else {
        print_message("no non-loopback IPv4 address: the DENIED path is not exercised\n");
    }
    redisFree(c);
    server_stop(&srv);
}

#define BIG (1024 * 1024)

static void test_output_buffer_limit(void **state)
{
    (void)state;
    NEED_COMPACTD();
    const char *args[] = {"--client-output-buffer-limit", "normal 16mb 2mb 1", NULL};
    server_start(&srv, args);
    redisContext *c = server_connect(&srv);
    char *v = config_get(c, "client-output-buffer-limit");
    assert_string_equal(v, "normal 16mb 2mb 1");
    free(v);
    char *big = malloc(BIG);
    assert_non_null(big);
    for (int i = 0; i < BIG; i++)
        big[i] = (char)('a' + i % 23);
    assert_reply_status(run(c, "SET big %b", big, (size_t)BIG), "OK");
    assert_reply_status(run(c, "SET keeper intact"), "OK");

    /* The slow reader: 64 GETs, never reads. */
    struct raw rd;
    raw_open(&rd, srv.port);
    for (int i = 0; i < 64; i++)
        if (!raw_send(&rd, "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", 22, true))
            break;
    assert_true(wait_log(&srv, "closed for overcoming of output buffer limits"));

    /* The other client is unaffected. */
    redisReply *r = run(c, "GET big");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_int_equal(r->len, BIG);
    assert_memory_equal(r->str, big, BIG);
    freeReplyObject(r);
    assert_reply_str(run(c, "GET keeper"), "intact");
    /* The reader's connection is gone: reading drains what was sent, then EOF. */
    assert_true(raw_wait_close(&rd, 10000));
    raw_close(&rd);

    /* A hard limit below one reply closes at once. */
    assert_reply_status(run(c, "CONFIG SET client-output-buffer-limit %s", "normal 512kb 0 0"), "OK");
    raw_open(&rd, srv.port);
    for (int i = 0; i < 32; i++)
        if (!raw_send(&rd, "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", 22, true))
            break;
    assert_true(wait_log(&srv, "(hard limit"));
    assert_true(raw_wait_close(&rd, 10000));
    raw_close(&rd);
    assert_reply_str(run(c, "GET keeper"), "intact");
    redisFree(c);
    free(big);
    server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sighup),
        cmocka_unit_test(test_protected_mode),
        cmocka_unit_test(test_output_buffer_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
