/*
 * test_security: hostile clients and exhausted resources, each reproduced
 * as an attacker on the same host would:
 *
 *  - a browser's cross-protocol POST to the data port runs nothing, is
 *    closed, logged with the peer's address and counted;
 *  - the data port can neither read nor change what guards the admin port
 *    (admin-password, its address and limits), which the admin port and
 *    the file still can;
 *  - under a low RLIMIT_NOFILE the daemon fits maxclients at start,
 *    refuses the extra clients cleanly, refuses a CONFIG SET maxclients
 *    the descriptors cannot serve, and with accept() failing for lack of
 *    descriptors (the limit lowered under it) it backs off instead of
 *    spinning and flooding its log;
 *  - the admin port has a connection limit of its own, and drops idle
 *    connections that never authenticate, so it cannot starve the data
 *    port;
 *  - two Host headers on an admin HTTP request get 400.
 *
 * CPU time is read from /proc/<pid>/stat as a correctness property (an idle
 * daemon must not spin), with a bound far above what an idle loop costs.
 */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static int free_admin_port(char *buf, size_t n)
{
    int p = harness_free_port();
    snprintf(buf, n, "%d", p);
    return p;
}

/* user + system CPU seconds of pid */
static double cpu_seconds(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    const char *p = strrchr(line, ')');   /* the command name may hold spaces */
    assert_non_null(p);
    unsigned long ut = 0, st = 0;
    /* fields after ')': state ppid pgrp session tty tpgid flags minflt
     * cminflt majflt cmajflt utime stime */
    assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                            &st),
                     2);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Lines of the daemon's log that contain needle. */
static int log_count(const struct server *s, const char *needle)
{
    FILE *f = fopen(s->log_path, "r");
    assert_non_null(f);
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* ---- 1. cross-protocol requests ---------------------------------------- */

static void test_cross_protocol_post(void **state)
{
    (void)state;
    NEED_COMPACTD();
    struct server srv;
    server_start(&srv, NULL);
    static const char *const attacks[] = {
        /* what a browser sends for fetch('http://127.0.0.1:port/', {method:'POST', body}) */
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        "Content-Length: 15\r\n\r\nSET pwned yes\r\n",
        /* a request line the parser would take as an unknown command, then Host: */
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nSET pwned yes\r\n",
    };
    for (size_t i = 0; i < sizeof attacks / sizeof attacks[0]; i++) {
        struct raw r;
        raw_open(&r, srv.port);
        raw_send(&r, attacks[i], strlen(attacks[i]), true);
        assert_true(raw_wait_close(&r, 5000));
        raw_close(&r);
    }
    redisContext *c = server_connect(&srv);
    assert_reply_nil(run(c, "GET pwned"));
    assert_int_equal(info_int(c, "stats", "cross_protocol_requests"), 2);
    assert_true(server_log_contains(&srv, "SECURITY ATTACK"));
    assert_true(server_log_contains(&srv, "127.0.0.1:"));
    /* a real client is unaffected */
    assert_reply_status(run(c, "SET k v"), "OK");
    assert_reply_str(run(c, "GET k"), "v");
    redisFree(c);
    server_stop(&srv);
}

/* ---- 2. the admin port's secrets ---------------------------------------- */

static bool config_has(redisContext *c, const char *pattern, const char *name)
{
    redisReply *r = run(c, "CONFIG GET %s", pattern);
    bool found = false;
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);   /* RESP2 */
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        found = found || strcmp(r->element[i]->str, name) == 0;
    freeReplyObject(r);
    return found;
}

static void test_admin_secrets_not_on_data_port(void **state)
{
    (void)state;
    NEED_COMPACTD();
    struct server srv;
    char aport_s[16];
    int aport = free_admin_port(aport_s, sizeof aport_s);
    const char *args[] = {"--admin-port", aport_s, "--admin-password", "s3cret", NULL};
    server_start(&srv, args);
    redisContext *c = server_connect(&srv);
    static const char *const guarded[] = {"admin-password", "admin-bind", "admin-port",
                                          "admin-maxclients", "admin-auth-timeout"};
    for (size_t i = 0; i < sizeof guarded / sizeof guarded[0]; i++) {
        assert_false(config_has(c, guarded[i], guarded[i]));
        assert_false(config_has(c, "*", guarded[i]));
        redisReply *r = run(c, "CONFIG SET %s %s", guarded[i], "1");
        assert_int_equal(r->type, REDIS_REPLY_ERROR);
        assert_non_null(strstr(r->str, "admin port"));
        freeReplyObject(r);
    }
    assert_reply_error(run(c, "CONFIG SET admin-password \"\""), "ERR 'admin-password'");
    /* all or nothing: a guarded option refuses the whole CONFIG SET */
    assert_reply_error(run(c, "CONFIG SET maxmemory 1mb admin-password x"), "ERR");
    redisReply *r = run(c, "CONFIG GET maxmemory");
    assert_string_equal(r->element[1]->str, "0");
    freeReplyObject(r);

    /* the admin port still demands the password, which the data port did
     * not change, and may change it itself */
    redisContext *a = server_connect_port(&srv, aport);
    assert_reply_error(run(a, "STATS"), "NOAUTH");
    assert_reply_status(run(a, "AUTH s3cret"), "OK");
    assert_false(config_has(a, "*", "admin-password"));   /* settable, never shown */
    assert_true(config_has(a, "*", "admin-maxclients"));
    assert_reply_status(run(a, "CONFIG SET admin-password n3w"), "OK");
    redisFree(a);
    a = server_connect_port(&srv, aport);
    assert_reply_error(run(a, "AUTH s3cret"), "WRONGPASS");
    assert_reply_status(run(a, "AUTH n3w"), "OK");
    redisFree(a);
    /* the new password never reaches the log */
    assert_false(server_log_contains(&srv, "n3w"));
    redisFree(c);
    server_stop(&srv);
}

/* The admin password also changes through the file and SIGHUP, and the
 * reload's log line hides both values. */
static void test_admin_password_reload(void **state)
{
    (void)state;
    NEED_COMPACTD();
    char path[600];
    snprintf(path, sizeof path, "%s/test_security-%d.conf", harness_log_dir(), (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("admin-password first-pw\n", f);
    fclose(f);
    struct server srv;
    char aport_s[16];
    int aport = free_admin_port(aport_s, sizeof aport_s);
    const char *args[] = {"--admin-port", aport_s, NULL};
    server_start_conf(&srv, path, args);
    redisContext *a = server_connect_port(&srv, aport);
    assert_reply_status(run(a, "AUTH first-pw"), "OK");
    redisFree(a);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("admin-password second-pw\n", f);
    fclose(f);
    assert_int_equal(kill(srv.pid, SIGHUP), 0);
    bool changed = false;
    for (int64_t t0 = harness_now_ms(); !changed && harness_now_ms() - t0 < 5000;) {
        harness_sleep_ms(50);
        a = server_connect_port(&srv, aport);
        redisReply *r = run(a, "AUTH second-pw");
        changed = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        redisFree(a);
    }
    assert_true(changed);
    assert_true(server_log_contains(&srv, "admin-password changed from '(hidden)' to '(hidden)'"));
    assert_false(server_log_contains(&srv, "second-pw"));
    assert_false(server_log_contains(&srv, "first-pw"));
    server_stop(&srv);
    unlink(path);
}

/* ---- 3. file descriptors ------------------------------------------------ */

#define FD_LIMIT 1024
#define FLOOD    1100

/* A wrapper that starts the daemon under ulimit -n FD_LIMIT (soft and
 * hard), as `ulimit -n 1024; compactd` in a shell would. */
static const char *low_fd_wrapper(void)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/compactd-ulimit.sh", harness_log_dir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\nulimit -n %d || exit 99\nexec '%s' \"$@\"\n", FD_LIMIT, harness_bin());
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
    return path;
}

/* Opens up to n raw connections to port (this process's own limit is
 * raised first); returns how many connected. */
static int flood(struct raw *conns, int n, int port)
{
    for (int i = 0; i < n; i++)
        raw_open(&conns[i], port);
    return n;
}

static void unflood(struct raw *conns, int n)
{
    for (int i = 0; i < n; i++)
        raw_close(&conns[i]);
}

/* The flood's connections that were refused with Redis's message (the
 * daemon writes it at accept and closes, before reading anything); every
 * other one must have been kept: it answers PING with a reply starting
 * with kept (+PONG, or -NOAUTH where a password is set).  The daemon may
 * still be working through the accept backlog when a connection is first
 * looked at (a slow sanitizer build, a busy machine), so the answer to the
 * PING may be the refusal too: it still counts as one. */
static int count_refused(struct raw *conns, int n, const char *kept)
{
    static const char refusal[] = "-ERR max number of clients reached\r\n";
    harness_sleep_ms(1000);
    int refused = 0;
    for (int i = 0; i < n; i++) {
        char *rep = raw_reply(&conns[i], NULL, 1);
        if (rep == NULL) {
            raw_sendstr(&conns[i], "PING\r\n");
            rep = raw_reply(&conns[i], NULL, 5000);
            assert_non_null(rep);
        }
        if (strcmp(rep, refusal) == 0)
            refused++;
        else
            assert_memory_equal(rep, kept, strlen(kept));
        free(rep);
    }
    return refused;
}

static void test_fd_limit(void **state)
{
    (void)state;
    NEED_COMPACTD();
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < FLOOD + 64)
        skip();   /* this test process cannot open the flood itself */
    if (rl.rlim_cur < FLOOD + 64) {
        rl.rlim_cur = FLOOD + 64;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    struct server srv;
    char aport_s[16];
    free_admin_port(aport_s, sizeof aport_s);
    harness_use_bin(low_fd_wrapper());
    const char *args[] = {"--admin-port", aport_s, NULL};
    server_start(&srv, args);
    harness_use_bin(NULL);

    /* maxclients fitted to the limit, and said so */
    redisContext *c = server_connect(&srv);
    redisReply *r = run(c, "CONFIG GET maxclients");
    long long maxclients = atoll(r->element[1]->str);
    freeReplyObject(r);
    assert_true(maxclients > 0 && maxclients < FD_LIMIT);
    assert_true(server_log_contains(&srv, "maxclients has been reduced"));

    /* 1,100 clients: the extra ones are refused with Redis's message, the
     * others served (c is one of the maxclients) */
    struct raw *conns = calloc(FLOOD, sizeof *conns);
    assert_non_null(conns);
    flood(conns, FLOOD, srv.port);
    /* every connection of the flood accepted (and the extra ones answered)
     * before they are looked at; c was the first received */
    for (int64_t end = harness_now_ms() + 20000;
         info_int(c, "stats", "total_connections_received") < FLOOD + 1 &&
         harness_now_ms() < end;)
        harness_sleep_ms(50);
    int refused = count_refused(conns, FLOOD, "+PONG");
    assert_int_equal(refused, FLOOD - (maxclients - 1));
    assert_true(info_int(c, "stats", "rejected_connections") >= refused);

    /* idle with the flood connected: no spinning, no log flood */
    long log0 = file_size(srv.log_path);
    double cpu0 = cpu_seconds(srv.pid);
    harness_sleep_ms(3000);
    double cpu = cpu_seconds(srv.pid) - cpu0;
    long logged = file_size(srv.log_path) - log0;
    print_message("  fitted: maxclients %lld, %d refused; idle 3 s: %.2f s CPU, %ld log bytes\n",
                  maxclients, refused, cpu, logged);
    assert_true(cpu < 1.0);
    assert_true(logged < 4096);
    unflood(conns, FLOOD);

    /* A larger maxclients than the descriptors allow is refused at run
     * time too, with Redis's words, and nothing changes */
    r = run(c, "CONFIG SET maxclients 5000");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    char want[200];
    snprintf(want, sizeof want, "ERR CONFIG SET failed (possibly related to argument "
             "'maxclients') - The operating system is not able to handle the specified "
             "number of clients, try with %lld", maxclients);
    assert_string_equal(r->str, want);
    freeReplyObject(r);
    r = run(c, "CONFIG GET maxclients");
    assert_int_equal(atoll(r->element[1]->str), maxclients);
    freeReplyObject(r);

    /* Now the descriptors shrink under the daemon (prlimit, as an operator
     * or a container manager could): accept() itself fails (EMFILE). The
     * daemon must back off, not spin, and serve again once descriptors
     * free up. */
    struct rlimit low = {FD_LIMIT * 3 / 4, FD_LIMIT};   /* below maxclients; the rest of
                                                          * the flood fits the backlog */
    assert_int_equal(prlimit(srv.pid, RLIMIT_NOFILE, &low, NULL), 0);
    log0 = file_size(srv.log_path);
    flood(conns, FLOOD, srv.port);
    cpu0 = cpu_seconds(srv.pid);
    harness_sleep_ms(3000);
    cpu = cpu_seconds(srv.pid) - cpu0;
    logged = file_size(srv.log_path) - log0;
    int lines = log_count(&srv, "Too many open files");
    print_message("  EMFILE: 3 s with the backlog full: %.2f s CPU, %ld log bytes, %d lines\n",
                  cpu, logged, lines);
    assert_true(cpu < 1.0);
    assert_true(lines >= 1 && lines <= 2);
    assert_true(logged < 4096);
    /* the established client is still served meanwhile */
    assert_reply_status(run(c, "PING"), "PONG");
    unflood(conns, FLOOD);
    redisContext *fresh = server_connect(&srv);
    assert_reply_status(run(fresh, "PING"), "PONG");
    redisFree(fresh);
    free(conns);
    redisFree(c);
    server_stop(&srv);
}

/* ---- 4. the admin port's own limits -------------------------------------- */

static void test_admin_flood(void **state)
{
    (void)state;
    NEED_COMPACTD();
    struct server srv;
    char aport_s[16];
    int aport = free_admin_port(aport_s, sizeof aport_s);
    const char *args[] = {"--admin-port", aport_s, "--admin-maxclients", "8",
                          "--admin-auth-timeout", "3", "--admin-password", "pw", NULL};
    server_start(&srv, args);
    enum { N = 40, ADMIN_MAX = 8 };
    struct raw conns[N];
    for (int i = 0; i < N; i++)
        raw_open(&conns[i], aport);
    int refused = count_refused(conns, N, "-NOAUTH");
    assert_int_equal(refused, N - ADMIN_MAX);
    /* the data port is untouched by the flood */
    redisContext *c = server_connect(&srv);
    assert_reply_status(run(c, "PING"), "PONG");
    assert_reply_status(run(c, "SET k v"), "OK");
    /* the kept admin connections never authenticate: closed after
     * admin-auth-timeout (3 s: longer than count_refused takes to PING
     * them all, even under ASan) by the once-a-second housekeeping */
    for (int i = 0; i < N; i++)
        assert_true(raw_wait_close(&conns[i], 5000));
    for (int i = 0; i < N; i++)
        raw_close(&conns[i]);
    /* an authenticated connection stays past the timeout */
    redisContext *a = server_connect_port(&srv, aport);
    assert_reply_status(run(a, "AUTH pw"), "OK");
    harness_sleep_ms(4500);
    assert_int_equal(text_cmd_field(a, "STATS", "admin_rejected_connections"), N - ADMIN_MAX);
    redisFree(a);
    redisFree(c);
    server_stop(&srv);
}

/* ---- 5. duplicate Host -------------------------------------------------- */

static void test_duplicate_host(void **state)
{
    (void)state;
    NEED_COMPACTD();
    struct server srv;
    char aport_s[16];
    int aport = free_admin_port(aport_s, sizeof aport_s);
    const char *args[] = {"--admin-port", aport_s, NULL};
    server_start(&srv, args);
    static const char *const reqs[] = {
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nHost: evil.example\r\nHost: 127.0.0.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        struct raw r;
        raw_open(&r, aport);
        raw_sendstr(&r, reqs[i]);
        assert_true(raw_wait_close(&r, 5000));
        assert_true(r.len > 12);
        assert_memory_equal(r.buf, "HTTP/1.1 400", 12);
        raw_close(&r);
    }
    /* one Host is fine */
    struct raw r;
    raw_open(&r, aport);
    raw_sendstr(&r, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_true(raw_wait_close(&r, 5000));
    assert_memory_equal(r.buf, "HTTP/1.1 200", 12);
    raw_close(&r);

    /* a flood of DNS-rebinding refusals (403) logs a line per 10 s, not
     * one per request */
    int64_t t0 = harness_now_ms();
    for (int i = 0; i < 300; i++) {
        raw_open(&r, aport);
        raw_sendstr(&r, "GET /metrics HTTP/1.1\r\nHost: rebind.example\r\n\r\n");
        assert_true(raw_wait_close(&r, 5000));
        assert_memory_equal(r.buf, "HTTP/1.1 403", 12);
        raw_close(&r);
    }
    int64_t secs = (harness_now_ms() - t0) / 1000;
    int lines = log_count(&srv, "refused an HTTP request");
    assert_true(lines >= 1);
    assert_true(lines <= 1 + secs / 10 + 1);
    server_stop(&srv);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross_protocol_post),
        cmocka_unit_test(test_admin_secrets_not_on_data_port),
        cmocka_unit_test(test_admin_password_reload),
        cmocka_unit_test(test_fd_limit),
        cmocka_unit_test(test_admin_flood),
        cmocka_unit_test(test_duplicate_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
