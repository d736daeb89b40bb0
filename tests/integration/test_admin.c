/*
 * test_admin: the admin port.
 *
 * One daemon with an admin port and compact-auto off (so that only the
 * test starts compaction runs) gets a fragmented keyspace: 60000 keys, two
 * thirds of them deleted. Then the admin commands are checked against what
 * the data port says: COMPACT SYNC moves entries and releases arenas while
 * every surviving key keeps its value, COMPACT ASYNC runs in the background
 * until COMPACT STATUS says it is done, ARENAS/PINNERS/STATS agree with
 * DBSIZE and each other, CONFIG is limited to memory, expiry and compaction
 * options, PURGE, errors for unknown commands, bad arguments and malformed
 * input. The HTTP side: /metrics parsed line by line (every sample is
 * `name{labels} value` with a number, expected names present, values equal
 * to INFO's), 404, 405, HEAD. A second daemon with admin-password checks
 * NOAUTH, WRONGPASS, 401 and both Bearer and Basic credentials. The
 * DNS-rebinding guard: Host must be a loopback name/address or admin-bind
 * (else 403) unless the request carries the password. The data port's
 * CLIENT LIST/KILL skip admin connections and CONFIG RESETSTAT keeps the
 * admin counters. A third
 * must refuse to start on a non-loopback admin-bind without a password.
 * Finally SHUTDOWN on the admin port stops the daemon cleanly.
 * compactd only (redis-server has no admin port).
 */
#include "harness.h"

#include <ctype.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define NKEYS 60000
#define VALSZ 100

static struct server srv;
static int aport;
static char aport_s[16];

static void value_of(int i, char *buf)
{
    for (int j = 0; j < VALSZ; j++)
        buf[j] = (char)('a' + (i * 7 + j) % 26);
}

static int group_setup(void **state)
{
    *state = &srv;          /* for server_group_teardown */
    if (harness_is_redis() || harness_external())
        return 0;
    aport = harness_free_port();
    snprintf(aport_s, sizeof aport_s, "%d", aport);
    const char *args[] = {"--admin-port", aport_s, "--compact-auto", "no", NULL};
    server_start(&srv, args);
    return 0;
}

/* Value of key `field` in a map reply element (RESP2: flat array). */
static const redisReply *map_get(const redisReply *m, const char *field)
{
    for (size_t i = 0; i + 1 < m->elements; i += 2)
        if (strcmp(m->element[i]->str, field) == 0)
            return m->element[i + 1];
    fail_msg("map has no %s", field);
    return NULL;
}

static void test_errors_and_ping(void **state)
{
    (void)state;
    NEED_COMPACTD();
    redisContext *c = server_connect(&srv);
    long long errs0 = info_int(c, "stats", "total_error_replies");
    char *errstats0 = text_cmd(c, "INFO errorstats");
    redisContext *a = server_connect_port(&srv, aport);
    char *st = text_cmd(a, "STATS");
    long long aerrs0 = text_field(st, "admin_error_replies");
    free(st);
    assert_reply_status(run(a, "PING"), "PONG");
    assert_reply_str(run(a, "PING hello"), "hello");
    assert_reply_error(run(a, "GET foo"), "ERR unknown admin command 'GET'");
    assert_reply_error(run(a, "NOSUCH"), "ERR unknown admin command");
    assert_reply_error(run(a, "PING a b"), "ERR wrong number of arguments for 'ping'");
    assert_reply_error(run(a, "STATS extra"), "ERR wrong number of arguments");
    assert_reply_error(run(a, "AUTH x"), "ERR AUTH called without any admin-password");
    assert_reply_error(run(a, "COMPACT SIDEWAYS"), "ERR syntax error");
    assert_reply_error(run(a, "COMPACT CLASS"), "ERR CLASS needs");
    assert_reply_error(run(a, "COMPACT ABORT"), "ERR no compaction is running");
    assert_reply_error(run(a, "COMPACT CLASS 100000"), "ERR no such size class");
    assert_reply_error(run(a, "ARENAS CLASS -1"), "ERR no such size class");
    assert_reply_error(run(a, "PINNERS many"), "ERR PINNERS takes a count");
    assert_reply_error(run(a, "CONFIG FROB x"), "ERR unknown subcommand");
    redisReply *r = run(a, "HELP");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_true(r->elements > 10);
    freeReplyObject(r);

    /* Those 12 errors are the admin port's: the data port's INFO counts
     * neither them nor the admin connection. */
    st = text_cmd(a, "STATS");
    assert_int_equal(text_field(st, "admin_error_replies"), aerrs0 + 12);
    assert_int_equal(text_field(st, "admin_connections"), 1);
    assert_int_equal(text_field(st, "connected_clients"), 1);
    free(st);
    assert_int_equal(info_int(c, "stats", "total_error_replies"), errs0);
    char *errstats = text_cmd(c, "INFO errorstats");
    assert_string_equal(errstats, errstats0);
    free(errstats);
    free(errstats0);
    assert_int_equal(info_int(c, "clients", "connected_clients"), 1);
    redisFree(a);

    /* The data port does not know admin commands. */
    assert_reply_error(run(c, "COMPACT SYNC"), "ERR unknown command");
    assert_reply_error(run(c, "ARENAS"), "ERR unknown command");
    redisFree(c);

    /* Malformed RESP: an error, then the connection closes. */
    struct raw rw;
    raw_open(&rw, aport);
    raw_sendstr(&rw, "*1\r\n$abc\r\n");
    char *e = raw_reply(&rw, NULL, 5000);
    assert_non_null(e);
    assert_true(e[0] == '-');
    free(e);
    assert_true(raw_wait_close(&rw, 5000));
    raw_close(&rw);

    /* An inline command works (telnet), and binary junk is an unknown command. */
    raw_open(&rw, aport);
    raw_sendstr(&rw, "PING\r\n");
    raw_expect(&rw, "+PONG\r\n");
    raw_sendstr(&rw, "\x01\x02zz\r\n");
    e = raw_reply(&rw, NULL, 5000);
    assert_non_null(e);
    assert_non_null(strstr(e, "unknown admin command"));
    free(e);
    raw_close(&rw);
}

static void fill_and_fragment(redisContext *c)
{
    char val[VALSZ];
    for (int i = 0; i < NKEYS; i++) {
        value_of(i, val);
        redisAppendCommand(c, "SET key:%d %b", i, val, (size_t)VALSZ);
    }
    for (int i = 0; i < NKEYS; i++)
        assert_reply_status(get_reply(c), "OK");
    for (int i = 0; i < NKEYS; i++)
        if (i % 3 != 0)
            redisAppendCommand(c, "DEL key:%d", i);
    for (int i = 0; i < NKEYS; i++)
        if (i % 3 != 0)
            assert_reply_int(get_reply(c), 1);
}

static void check_survivors(redisContext *c)
{
    char val[VALSZ];
    for (int i = 0; i < NKEYS; i += 3)
        redisAppendCommand(c, "GET key:%d", i);
    for (int i = 0; i < NKEYS; i += 3) {
        value_of(i, val);
        assert_reply_bulk(get_reply(c), val, VALSZ);
    }
    assert_int_equal(dbsize(c), (NKEYS + 2) / 3);
}

static void test_compact(void **state)
{
    (void)state;
    NEED_COMPACTD();
    redisContext *c = server_connect(&srv);
    redisContext *a = server_connect_port(&srv, aport);
    fill_and_fragment(c);

    char *st = text_cmd(a, "STATS");
    assert_int_equal(text_field(st, "keys"), (NKEYS + 2) / 3);
    long long mapped0 = text_field(st, "mapped_bytes");
    assert_true(text_field(st, "compaction_reclaimable_bytes") > 0);
    free(st);

    char *cs0;
    char *res = text_cmd(a, "COMPACT SYNC");
    assert_true(text_field(res, "blocks_moved") > 0);
    assert_true(text_field(res, "arenas_released") > 0);
    free(res);
    check_survivors(c);

    st = text_cmd(a, "STATS");
    assert_true(text_field(st, "mapped_bytes") < mapped0);
    assert_int_equal(text_field(st, "compaction_runs"), 1);
    assert_true(text_field(st, "compaction_blocks_moved") > 0);
    free(st);

    cs0 = text_cmd(a, "COMPACT STATUS");
    long long released1 = text_field(cs0, "total_arenas_released");
    free(cs0);

    /* Fragment a second key set, compact it in the background, poll until done. */
    char val[VALSZ];
    for (int i = 0; i < NKEYS; i++) {
        value_of(i, val);
        redisAppendCommand(c, "SET b:%d %b", i, val, (size_t)VALSZ);
    }
    for (int i = 0; i < NKEYS; i++)
        assert_reply_status(get_reply(c), "OK");
    for (int i = 0; i < NKEYS; i++)
        if (i % 3 != 0)
            redisAppendCommand(c, "DEL b:%d", i);
    for (int i = 0; i < NKEYS; i++)
        if (i % 3 != 0)
            assert_reply_int(get_reply(c), 1);
    assert_reply_status(run(a, "COMPACT ASYNC"), "Compaction started");
    int64_t t0 = harness_now_ms();
    long long running = 1;
    while (running && harness_now_ms() - t0 < 20000) {
        /* the data port keeps serving meanwhile */
        assert_reply_status(run(c, "PING"), "PONG");
        char *cs = text_cmd(a, "COMPACT STATUS");
        running = text_field(cs, "running");
        free(cs);
        if (running)
            harness_sleep_ms(20);
    }
    assert_int_equal(running, 0);
    char *cs = text_cmd(a, "COMPACT STATUS");
    assert_int_equal(text_field(cs, "runs"), 2);
    assert_int_equal(text_field(cs, "runs_finished"), 2);
    assert_int_equal(text_field(cs, "runs_manual"), 2);
    assert_true(text_field(cs, "total_arenas_released") > released1);
    assert_true(text_field(cs, "run_blocks_moved") > 0);
    /* the long-step counts agree with the maxima: a step over 1 ms (the
     * COMPACT SYNC above, a single step, may be one) is counted, and only
     * such steps are */
    long long steps = text_field(cs, "total_steps");
    long long longs = text_field(cs, "long_steps"), longs_cpu = text_field(cs, "long_steps_cpu");
    assert_true(steps >= 2 && longs <= steps && longs_cpu <= longs);
    assert_int_equal(longs > 0, text_field(cs, "max_step_us") > 1000);
    assert_int_equal(longs_cpu > 0, text_field(cs, "max_step_cpu_us") > 1000);
    free(cs);
    for (int i = 0; i < NKEYS; i += 3)
        redisAppendCommand(c, "GET b:%d", i);
    for (int i = 0; i < NKEYS; i += 3) {
        value_of(i, val);
        assert_reply_bulk(get_reply(c), val, VALSZ);
    }
    for (int i = 0; i < NKEYS; i += 3)
        redisAppendCommand(c, "DEL b:%d", i);
    for (int i = 0; i < NKEYS; i += 3)
        assert_reply_int(get_reply(c), 1);
    check_survivors(c);

    /* One class only. */
    res = text_cmd(a, "COMPACT SYNC CLASS 0");
    assert_int_equal(text_field(res, "blocks_moved"), 0);
    free(res);
    redisFree(a);
    redisFree(c);
}

static void test_arenas_pinners_stats(void **state)
{
    (void)state;
    NEED_COMPACTD();
    redisContext *c = server_connect(&srv);
    redisContext *a = server_connect_port(&srv, aport);
    redisReply *r = run(a, "ARENAS");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_true(r->elements > 0);
    long long live = 0;
    long long cls = -1;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *m = r->element[i];
        assert_int_equal(m->type, REDIS_REPLY_ARRAY);
        assert_int_equal(m->elements, 18);
        long long slots = map_get(m, "slots")->integer;
        long long l = map_get(m, "live")->integer;
        assert_true(l > 0 && l <= slots);
        /* the live blocks fit in the resident pages, within the 1 MiB
         * arena; purged: none unless a pack lowered the fill mark */
        long long res = map_get(m, "resident_pages")->integer;
        long long ss = map_get(m, "slot_size")->integer;
        assert_true(res * 4096 >= l * ss && res * 4096 <= 1024 * 1024);
        assert_true(map_get(m, "purged_pages")->integer >= 0);
        assert_true(map_get(m, "slot_size")->integer >= VALSZ / 2);
        double occ = atof(map_get(m, "occupancy_pct")->str);
        assert_true(fabs(occ - 100.0 * (double)l / (double)slots) < 0.1);
        live += l;
        cls = map_get(m, "class")->integer;
    }
    freeReplyObject(r);
    /* every live block is an entry: as many as keys (no large values here) */
    assert_int_equal(live, dbsize(c));

    char cmd[64];
    snprintf(cmd, sizeof cmd, "ARENAS CLASS %lld", cls);
    r = run(a, cmd);
    assert_true(r->elements > 0);
    for (size_t i = 0; i < r->elements; i++)
        assert_int_equal(map_get(r->element[i], "class")->integer, cls);
    freeReplyObject(r);

    r = run(a, "PINNERS 3");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_true(r->elements <= 3);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *m = r->element[i];
        const redisReply *k = map_get(m, "key");
        assert_reply_int(run(c, "EXISTS %b", k->str, k->len), 1);
        assert_true(map_get(m, "arena_live")->integer <= map_get(m, "arena_slots")->integer);
        assert_int_equal(map_get(m, "ttl_ms")->integer, -1);
    }
    freeReplyObject(r);
    r = run(a, "PINNERS 0");
    assert_int_equal(r->elements, 0);
    freeReplyObject(r);

    assert_reply_status(run(c, "SET withttl v EX 100"), "OK");
    char *st = text_cmd(a, "STATS");
    assert_int_equal(text_field(st, "keys"), dbsize(c));
    assert_int_equal(text_field(st, "expires"), 1);
    assert_int_equal(text_field(st, "used_memory"), info_int(c, "memory", "used_memory"));
    free(st);
    assert_reply_int(run(c, "DEL withttl"), 1);
    redisFree(a);
    redisFree(c);
}

static void test_config_and_purge(void **state)
{
    (void)state;
    NEED_COMPACTD();
    redisContext *a = server_connect_port(&srv, aport);
    redisReply *r = run(a, "CONFIG GET maxclients");
    assert_int_equal(r->elements, 0);   /* not an admin option */
    freeReplyObject(r);
    r = run(a, "CONFIG GET *");
    for (size_t i = 0; i < r->elements; i += 2) {
        const char *n = r->element[i]->str;
        assert_true(strncmp(n, "compact-", 8) == 0 || strncmp(n, "maxmemory", 9) == 0 ||
                    strncmp(n, "arena-", 6) == 0 || strstr(n, "expire") != NULL ||
                    strcmp(n, "lifetime-segregation") == 0 || strncmp(n, "admin-", 6) == 0 ||
                    strncmp(n, "census-", 7) == 0);
        assert_true(strcmp(n, "requirepass") != 0 && strcmp(n, "admin-password") != 0);
    }
    freeReplyObject(r);
    assert_reply_status(run(a, "CONFIG SET compact-cpu-pct 50 compact-frag-threshold 1.5"), "OK");
    r = run(a, "CONFIG GET compact-*");
    assert_string_equal(map_get(r, "compact-cpu-pct")->str, "50");
    assert_string_equal(map_get(r, "compact-frag-threshold")->str, "1.5");
    freeReplyObject(r);
    assert_reply_status(run(a, "CONFIG SET expire-cycle-ms 0.5"), "OK");
    assert_reply_error(run(a, "CONFIG SET maxclients 10"), "ERR 'maxclients' cannot be set");
    assert_reply_error(run(a, "CONFIG SET requirepass x"), "ERR 'requirepass' cannot be set");
    assert_reply_error(run(a, "CONFIG SET nosuch 1"), "ERR Unknown option");
    assert_reply_error(run(a, "CONFIG SET compact-cpu-pct 500"), "ERR CONFIG SET failed");
    assert_reply_error(run(a, "CONFIG SET arena-size 2mb"), "ERR CONFIG SET failed");
    assert_reply_error(run(a, "CONFIG SET compact-cpu-pct"), "ERR wrong number of arguments");

    /* The data port sees the same values. */
    redisContext *c = server_connect(&srv);
    r = run(c, "CONFIG GET compact-cpu-pct");
    assert_string_equal(r->element[1]->str, "50");
    freeReplyObject(r);
    redisFree(c);

    r = run(a, "PURGE");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer >= 0);
    freeReplyObject(r);
    char *st = text_cmd(a, "STATS");
    assert_int_equal(text_field(st, "retained_arenas"), 0);
    free(st);
    redisFree(a);
}

/* Sends one HTTP request, returns the whole response (malloc'd). */
static char *http(int port, const char *req, size_t *len)
{
    struct raw rw;
    raw_open(&rw, port);
    raw_sendstr(&rw, req);
    assert_true(raw_wait_close(&rw, 5000));
    char *out = malloc(rw.len + 1);
    memcpy(out, rw.buf, rw.len);
    out[rw.len] = '\0';
    if (len)
        *len = rw.len;
    raw_close(&rw);
    return out;
}

static int http_status(const char *resp)
{
    assert_true(strncmp(resp, "HTTP/1.1 ", 9) == 0);
    return atoi(resp + 9);
}

/* The value of the unlabelled sample `name` (fails if absent). */
static double metric_value(const char *body, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    fail_msg("metric %s missing", name);
    return 0;
}

static void check_exposition(const char *body)
{
    /* every line: comment, or name{labels} value with a numeric value */
    const char *p = body;
    int samples = 0;
    while (*p) {
        const char *eol = strchr(p, '\n');
        assert_non_null(eol);
        char line[512];
        size_t n = (size_t)(eol - p);
        assert_true(n < sizeof line);
        memcpy(line, p, n);
        line[n] = '\0';
        p = eol + 1;
        if (line[0] == '#') {
            assert_true(strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0);
            if (strncmp(line, "# TYPE ", 7) == 0)
                assert_true(strstr(line, " gauge") || strstr(line, " counter"));
            continue;
        }
        char *q = line;
        assert_true(isalpha((unsigned char)*q) || *q == '_');
        while (isalnum((unsigned char)*q) || *q == '_' || *q == ':')
            q++;
        if (*q == '{') {
            char *close = strchr(q, '}');
            assert_non_null(close);
            assert_non_null(strstr(q, "=\""));
            q = close + 1;
        }
        assert_true(*q == ' ');
        char *end;
        strtod(q + 1, &end);
        if (end == q + 1 || *end != '\0')
            fail_msg("bad sample value in '%s'", line);
        if (strstr(line, "_total") != NULL)
            assert_non_null(strstr(body, "counter"));
        samples++;
    }
    assert_true(samples > 20);
}

static void test_metrics(void **state)
{
    (void)state;
    NEED_COMPACTD();
    redisContext *c = server_connect(&srv);
    assert_reply_status(run(c, "SET metric:ttl v EX 1000"), "OK");
    long long keys = dbsize(c);
    long long cmds = info_int(c, "stats", "total_commands_processed");
    long long expired = info_int(c, "stats", "expired_keys");
    long long evicted = info_int(c, "stats", "evicted_keys");
    long long used = info_int(c, "memory", "used_memory");

    size_t len;
    char *resp = http(aport, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &len);
    assert_int_equal(http_status(resp), 200);
    assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4"));
    char *body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    const char *cl = strstr(resp, "Content-Length: ");
    assert_non_null(cl);
    assert_int_equal((size_t)atol(cl + 16), strlen(body));
    check_exposition(body);

    static const char *const names[] = {
        "compactd_used_memory_bytes", "compactd_rss_bytes", "compactd_mapped_bytes",
        "compactd_live_bytes", "compactd_keys", "compactd_expires",
        "compactd_connected_clients", "compactd_compaction_runs_total",
        "compactd_compaction_blocks_moved_total", "compactd_compaction_bytes_moved_total",
        "compactd_compaction_arenas_released_total", "compactd_expired_keys_total",
        "compactd_evicted_keys_total", "compactd_commands_processed_total",
        "compactd_admin_connections", "compactd_admin_commands_total",
        "compactd_admin_error_replies_total", "compactd_compaction_dropped_total",
        "compactd_compaction_strays_total",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char help[128];
        snprintf(help, sizeof help, "# TYPE %s ", names[i]);
        assert_non_null(strstr(body, help));
        metric_value(body, names[i]);
    }
    assert_non_null(strstr(body, "compactd_class_arenas{class=\""));
    assert_non_null(strstr(body, "compactd_class_live_blocks{class=\""));
    assert_non_null(strstr(body, "compactd_class_slots{class=\""));

    assert_int_equal((long long)metric_value(body, "compactd_keys"), keys);
    assert_int_equal((long long)metric_value(body, "compactd_expires"), 1);
    /* the INFO calls after the first one count too */
    assert_int_equal((long long)metric_value(body, "compactd_commands_processed_total"), cmds + 4);
    assert_int_equal((long long)metric_value(body, "compactd_expired_keys_total"), expired);
    assert_int_equal((long long)metric_value(body, "compactd_evicted_keys_total"), evicted);
    assert_int_equal((long long)metric_value(body, "compactd_used_memory_bytes"), used);
    assert_int_equal((long long)metric_value(body, "compactd_connected_clients"), 1);
    /* this scrape is the one admin connection; test_errors_and_ping's errors count */
    assert_int_equal((long long)metric_value(body, "compactd_admin_connections"), 1);
    assert_true(metric_value(body, "compactd_admin_error_replies_total") >= 14);
    assert_true(metric_value(body, "compactd_compaction_runs_total") >= 2);
    assert_int_equal((long long)metric_value(body, "compactd_compaction_strays_total"), 0);
    assert_true(metric_value(body, "compactd_mapped_bytes") >= metric_value(body, "compactd_live_bytes"));
    free(resp);

    resp = http(aport, "GET /nope HTTP/1.0\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 404);
    free(resp);
    resp = http(aport, "POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
                NULL);
    assert_int_equal(http_status(resp), 405);
    free(resp);
    resp = http(aport, "HEAD /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", &len);
    assert_int_equal(http_status(resp), 200);
    body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    assert_string_equal(body + 4, "");
    free(resp);
    resp = http(aport, "GET /metrics?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 200);
    free(resp);
    resp = http(aport, "GET nonsense\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 400);
    free(resp);
    assert_reply_int(run(c, "DEL metric:ttl"), 1);
    redisFree(c);
}

static void test_password(void **state)
{
    (void)state;
    NEED_COMPACTD();
    struct server s2;
    int ap = harness_free_port();
    char aps[16];
    snprintf(aps, sizeof aps, "%d", ap);
    const char *args[] = {"--admin-port", aps, "--admin-password", "s3cret", NULL};
    server_start(&s2, args);
    redisContext *ac = server_connect_port(&s2, ap);
    assert_reply_error(run(ac, "PING"), "NOAUTH");
    assert_reply_error(run(ac, "STATS"), "NOAUTH");
    assert_reply_error(run(ac, "NOSUCH"), "NOAUTH");
    assert_reply_error(run(ac, "AUTH wrong"), "WRONGPASS");
    assert_reply_error(run(ac, "AUTH s3cre"), "WRONGPASS");
    assert_reply_error(run(ac, "PING"), "NOAUTH");
    assert_reply_status(run(ac, "AUTH s3cret"), "OK");
    assert_reply_status(run(ac, "PING"), "PONG");
    redisFree(ac);
    /* the data port has no password: admin-password is not requirepass */
    redisContext *c = server_connect(&s2);
    assert_reply_status(run(c, "PING"), "PONG");
    redisFree(c);

    char *resp = http(ap, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 401);
    assert_non_null(strstr(resp, "WWW-Authenticate:"));
    free(resp);
    resp = http(ap, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
                    "Authorization: Bearer nope\r\n\r\n",
                NULL);
    assert_int_equal(http_status(resp), 401);
    free(resp);
    resp = http(ap, "GET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 401);   /* no path probing without credentials */
    free(resp);
    resp = http(ap, "GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 200);
    free(resp);
    /* Basic "prom:s3cret" */
    resp = http(ap, "GET /metrics HTTP/1.1\r\nauthorization: Basic cHJvbTpzM2NyZXQ=\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 200);
    free(resp);
    /* Basic "prom:wrong" */
    resp = http(ap, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
                    "Authorization: Basic cHJvbTp3cm9uZw==\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 401);
    free(resp);
    /* a foreign Host: refused without the password (403, no login dialog
     * a rebinding page could phish with), served with it */
    resp = http(ap, "GET / HTTP/1.1\r\nHost: rebind.example:80\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 403);
    assert_null(strstr(resp, "WWW-Authenticate:"));
    free(resp);
    resp = http(ap, "GET /metrics HTTP/1.1\r\nHost: rebind.example\r\n"
                    "Authorization: Bearer s3cret\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 200);
    free(resp);
    server_stop(&s2);
}

static int http_host_status(int port, const char *version, const char *host)
{
    char req[512];
    snprintf(req, sizeof req, "GET /metrics HTTP/%s\r\n%s%s%s\r\n", version,
             host ? "Host: " : "", host ? host : "", host ? "\r\n" : "");
    char *resp = http(port, req, NULL);
    int code = http_status(resp);
    if (code == 403)
        assert_non_null(strstr(resp, "DNS rebinding"));
    free(resp);
    return code;
}

/* DNS rebinding: without admin-password, HTTP is served only to requests
 * whose Host is a loopback name/address or the admin-bind address. */
static void test_http_host(void **state)
{
    (void)state;
    NEED_COMPACTD();
    char h[64];
    static const char *const ok[] = {"localhost", "LocalHost:1", "127.0.0.1", "127.9.8.7:80",
                                     "[::1]", "[::1]:6380"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (http_host_status(aport, "1.1", ok[i]) != 200)
            fail_msg("Host: %s refused", ok[i]);
    snprintf(h, sizeof h, "127.0.0.1:%d", aport);
    assert_int_equal(http_host_status(aport, "1.1", h), 200);
    snprintf(h, sizeof h, "localhost:%d", aport);
    assert_int_equal(http_host_status(aport, "1.1", h), 200);
    static const char *const bad[] = {"rebind.example", "rebind.example:8080", "127.evil.com",
                                      "127.0.0.1.evil.com", "localhost.evil.com", "127.0.0.1:80x",
                                      "[::1]x", "::1", "127.0.0.1:80:80", "", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (http_host_status(aport, "1.1", bad[i]) != 403)
            fail_msg("Host: '%s' served", bad[i]);
    snprintf(h, sizeof h, "evil.example:%d", aport);
    assert_int_equal(http_host_status(aport, "1.1", h), 403);
    /* no Host: HTTP/1.0 on a loopback bind only */
    assert_int_equal(http_host_status(aport, "1.1", NULL), 403);
    assert_int_equal(http_host_status(aport, "1.0", NULL), 200);
    assert_int_equal(http_host_status(aport, "1.0", "evil.example"), 403);

    /* the dashboard's routes too: page and JSON API (403 as JSON) */
    char *resp = http(aport, "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 403);
    free(resp);
    resp = http(aport, "GET /api/stats HTTP/1.1\r\nHost: evil.example\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 403);
    assert_non_null(strstr(resp, "Content-Type: application/json"));
    assert_non_null(strstr(resp, "\"status\":403"));
    free(resp);
    resp = http(aport, "GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 200);
    free(resp);
    assert_true(server_log_contains(&srv, "refused an HTTP request"));
    /* the start-up line and HELP point at the dashboard */
    assert_true(server_log_contains(&srv, "dashboard at GET /"));
    redisContext *ac = server_connect_port(&srv, aport);
    redisReply *r = run(ac, "HELP");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_non_null(strstr(r->element[0]->str, "dashboard at GET /"));
    freeReplyObject(r);
    redisFree(ac);

    /* a non-loopback admin-bind (which needs a password): its own address
     * passes the Host check (then 401 without credentials), others get
     * 403; HTTP/1.0 without Host is refused there */
    struct server s5;
    int ap = harness_free_port();
    char aps[16];
    snprintf(aps, sizeof aps, "%d", ap);
    const char *args[] = {"--admin-bind", "0.0.0.0", "--admin-port", aps, "--admin-password",
                          "pw", NULL};
    server_start(&s5, args);
    snprintf(h, sizeof h, "0.0.0.0:%d", ap);
    assert_int_equal(http_host_status(ap, "1.1", h), 401);
    assert_int_equal(http_host_status(ap, "1.1", "0.0.0.0"), 401);
    assert_int_equal(http_host_status(ap, "1.1", "127.0.0.1"), 401);
    assert_int_equal(http_host_status(ap, "1.1", "10.1.2.3"), 403);
    assert_int_equal(http_host_status(ap, "1.0", NULL), 403);
    resp = http(ap, "GET /metrics HTTP/1.0\r\nAuthorization: Bearer pw\r\n\r\n", NULL);
    assert_int_equal(http_status(resp), 200);
    free(resp);
    server_stop(&s5);
}

/* The data port's CLIENT LIST / KILL see only data clients, and its
 * CONFIG RESETSTAT leaves the admin port's counters alone. */
static void test_data_port_ignores_admin(void **state)
{
    (void)state;
    NEED_COMPACTD();
    redisContext *c = server_connect(&srv);
    redisContext *a = server_connect_port(&srv, aport);
    assert_reply_status(run(a, "PING"), "PONG");
    assert_reply_error(run(a, "NOSUCH"), "ERR");
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    assert_int_equal(getsockname(a->fd, (struct sockaddr *)&sin, &sl), 0);
    char aaddr[64], aladdr[64];
    snprintf(aaddr, sizeof aaddr, "127.0.0.1:%d", ntohs(sin.sin_port));
    snprintf(aladdr, sizeof aladdr, "127.0.0.1:%d", aport);

    redisReply *r = run(c, "CLIENT LIST");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_null(strstr(r->str, aladdr));
    assert_null(strstr(r->str, aaddr));
    int lines = 0;
    for (const char *p = r->str; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    assert_int_equal(lines, 1);   /* only this data client */
    freeReplyObject(r);

    assert_reply_error(run(c, "CLIENT KILL %s", aaddr), "ERR No such client");
    assert_reply_int(run(c, "CLIENT KILL LADDR %s", aladdr), 0);
    assert_reply_int(run(c, "CLIENT KILL ADDR %s SKIPME no", aaddr), 0);
    assert_reply_status(run(a, "PING"), "PONG");   /* still connected */

    char *st = text_cmd(a, "STATS");
    free(st);
    size_t len;
    char *resp = http(aport, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", &len);
    char *body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    double cmds = metric_value(body, "compactd_admin_commands_total");
    double errs = metric_value(body, "compactd_admin_error_replies_total");
    free(resp);
    assert_true(cmds >= 4 && errs >= 1);
    assert_reply_status(run(c, "CONFIG RESETSTAT"), "OK");
    resp = http(aport, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", &len);
    body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    /* this scrape counts one more admin command */
    assert_int_equal((long long)metric_value(body, "compactd_admin_commands_total"),
                     (long long)cmds + 1);
    assert_int_equal((long long)metric_value(body, "compactd_admin_error_replies_total"),
                     (long long)errs);
    assert_true(metric_value(body, "compactd_commands_processed_total") <= 1);
    free(resp);
    redisFree(a);
    redisFree(c);
}

static void test_nonloopback_needs_password(void **state)
{
    (void)state;
    NEED_COMPACTD();
    struct server s3;
    int port = harness_free_port();
    const char *args[] = {"--admin-bind", "0.0.0.0", "--admin-port", "0", NULL};
    /* admin-port 0 disables the port: no password needed */
    server_spawn(&s3, port, NULL, args);
    assert_true(server_wait_ready(&s3, HARNESS_START_TIMEOUT_MS));
    server_stop(&s3);

    char aps[16];
    snprintf(aps, sizeof aps, "%d", harness_free_port());
    const char *bad[] = {"--admin-bind", "0.0.0.0", "--admin-port", aps, NULL};
    server_spawn(&s3, harness_free_port(), NULL, bad);
    int status = 0;
    assert_true(server_wait_exit(s3.pid, HARNESS_START_TIMEOUT_MS, &status));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    assert_true(server_log_contains(&s3, "admin-password"));
    assert_true(server_log_contains(&s3, "not a loopback address"));
}

/* compact-auto: fragmentation past the threshold starts a run by itself;
 * compact-interval: scheduled runs. */
static void test_auto_and_scheduled(void **state)
{
    (void)state;
    NEED_COMPACTD();
    struct server s4;
    int ap = harness_free_port();
    char aps[16];
    snprintf(aps, sizeof aps, "%d", ap);
    const char *args[] = {"--admin-port", aps, "--compact-min-reclaim", "1mb", NULL};
    server_start(&s4, args);
    redisContext *c = server_connect(&s4);
    redisContext *a = server_connect_port(&s4, ap);
    fill_and_fragment(c);
    int64_t t0 = harness_now_ms();
    long long runs = 0;
    while (runs == 0 && harness_now_ms() - t0 < 10000) {
        harness_sleep_ms(100);
        char *cs = text_cmd(a, "COMPACT STATUS");
        runs = text_field(cs, "runs_auto") > 0 && text_field(cs, "running") == 0;
        free(cs);
    }
    assert_true(runs > 0);
    check_survivors(c);
    assert_true(server_log_contains(&s4, "Compaction run (auto)"));

    assert_reply_status(run(a, "CONFIG SET compact-auto no compact-interval 1"), "OK");
    t0 = harness_now_ms();
    long long sched = 0;
    while (sched == 0 && harness_now_ms() - t0 < 10000) {
        harness_sleep_ms(100);
        char *cs = text_cmd(a, "COMPACT STATUS");
        sched = text_field(cs, "runs_scheduled");
        free(cs);
    }
    assert_true(sched > 0);
    redisFree(a);
    redisFree(c);
    server_stop(&s4);
}

static void test_shutdown(void **state)
{
    (void)state;
    NEED_COMPACTD();
    redisContext *a = server_connect_port(&srv, aport);
    redisAppendCommand(a, "SHUTDOWN");
    redisReply *r = NULL;
    int rc = redisGetReply(a, (void **)&r);
    assert_int_equal(rc, REDIS_ERR);   /* no reply: the connection closes */
    redisFree(a);
    int status = 0;
    assert_true(server_wait_exit(srv.pid, HARNESS_STOP_TIMEOUT_MS, &status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(server_log_contains(&srv, "Shutdown requested on the admin port"));
    srv.pid = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_and_ping),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_arenas_pinners_stats),
        cmocka_unit_test(test_config_and_purge),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_password),
        cmocka_unit_test(test_http_host),
        cmocka_unit_test(test_data_port_ignores_admin),
        cmocka_unit_test(test_nonloopback_needs_password),
        cmocka_unit_test(test_auto_and_scheduled),
        cmocka_unit_test(test_shutdown),
    };
    return cmocka_run_group_tests(tests, group_setup, server_group_teardown);
}
