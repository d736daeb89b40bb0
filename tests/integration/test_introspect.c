/*
 * test_introspect: the introspection commands operators use,
 * against a real daemon: INFO sections and their counters, SLOWLOG,
 * LATENCY, CLIENT LIST/KILL/PAUSE/REPLY, MONITOR and inline commands.
 *
 * Every test leaves the options it changed at their defaults, since they
 * share one daemon. Timing assertions are one-sided and generous (a pause
 * must delay a reply by most of its length; a release must come well
 * before the pause would have ended), so a loaded machine cannot fail them.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole reply of `INFO <args>` (a malloc'd string). */
static char *info_text(redisContext *c, const char *args)
{
    return args ? text_cmd(c, "INFO %s", args) : text_cmd(c, "INFO");
}

/* Value of "field:" in an INFO text, copied into out; false if absent. */
static bool field_in(const char *text, const char *field, char *out, size_t cap)
{
    size_t n;
    const char *v = text_find(text, field, &n);
    if (v == NULL)
        return false;
    assert_true(n < cap);
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

/* ---- INFO ---- */

static void test_info_sections(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    static const char *const dflt[] = {"# Server", "# Clients", "# Memory", "# Persistence",
                                       "# Stats", "# Replication", "# CPU", "# Modules",
                                       "# Errorstats", "# Cluster", "# Keyspace"};
    const char *variants[] = {NULL, "default", "all", "everything"};
    for (size_t v = 0; v < 4; v++) {
        char *t = info_text(c, variants[v]);
        const char *prev = t;
        for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++) {
            const char *at = strstr(t, dflt[i]);
            if (at == NULL || at < prev)
                fail_msg("INFO %s: %s missing or out of order", variants[v] ? variants[v] : "",
                         dflt[i]);
            prev = at;
        }
        bool cmdstats = strstr(t, "# Commandstats") != NULL;
        assert_int_equal(cmdstats, v >= 2);   /* only all and everything */
        bool latstats = strstr(t, "# Latencystats") != NULL;
        assert_int_equal(latstats, v >= 2);
        free(t);
    }

    char *t = info_text(c, "persistence");
    assert_null(strstr(t, "# Server"));
    static const char *const zero[] = {"loading", "async_loading", "rdb_changes_since_last_save",
                                       "rdb_bgsave_in_progress", "aof_enabled",
                                       "aof_rewrite_in_progress", "aof_rewrite_scheduled",
                                       "rdb_saves"};
    char v[128];
    for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
        if (!field_in(t, zero[i], v, sizeof v))
            fail_msg("INFO persistence has no %s", zero[i]);
        assert_string_equal(v, "0");
    }
    assert_true(field_in(t, "rdb_last_bgsave_status", v, sizeof v));
    assert_string_equal(v, "ok");
    assert_true(field_in(t, "aof_last_write_status", v, sizeof v));
    assert_string_equal(v, "ok");
    assert_true(field_in(t, "rdb_last_save_time", v, sizeof v));
    assert_true(atoll(v) > 1000000000);
    free(t);

    /* cpu: seconds.micros from getrusage, growing while the server works */
    t = info_text(c, "cpu");
    static const char *const cpu[] = {"used_cpu_sys", "used_cpu_user", "used_cpu_sys_children",
                                      "used_cpu_user_children"};
    for (size_t i = 0; i < 4; i++) {
        if (!field_in(t, cpu[i], v, sizeof v))
            fail_msg("INFO cpu has no %s", cpu[i]);
        char *end;
        double d = strtod(v, &end);
        assert_true(*end == '\0' && d >= 0 && d < 1e6);
        assert_non_null(strchr(v, '.'));
    }
    free(t);

    t = info_text(c, "cluster");
    assert_true(field_in(t, "cluster_enabled", v, sizeof v));
    assert_string_equal(v, "0");
    free(t);
    /* several sections at once, and an unknown one contributes nothing */
    t = text_cmd(c, "INFO %s %s %s", "cpu", "stats", "nosuchsection");
    assert_non_null(strstr(t, "# CPU"));
    assert_non_null(strstr(t, "# Stats"));
    assert_null(strstr(t, "# Server"));
    free(t);
    redisFree(c);
}

static long long cmdstat(const char *text, const char *name, const char *what)
{
    char line[256];
    char key[96];
    snprintf(key, sizeof key, "cmdstat_%s", name);
    if (!field_in(text, key, line, sizeof line))
        return -1;
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", what);
    const char *p = strstr(line, pat);
    assert_non_null(p);
    return atoll(p + strlen(pat));
}

static void test_commandstats_errorstats(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    assert_reply_status(run(c, "CONFIG RESETSTAT"), "OK");
    for (int i = 0; i < 3; i++)
        assert_reply_status(run(c, "SET cs%d v", i), "OK");
    assert_reply_str(run(c, "GET cs0"), "v");
    assert_reply_nil(run(c, "GET nokey"));
    assert_reply_error(run(c, "GET a b"), "ERR wrong number of arguments");
    assert_reply_error(run(c, "NOSUCHCMD"), "ERR unknown command");
    assert_reply_error(run(c, "INCR cs0"), "ERR value is not an integer");
    redisReply *r = run(c, "CONFIG GET maxmemory");
    freeReplyObject(r);

    char *t = info_text(c, "commandstats");
    assert_int_equal(cmdstat(t, "set", "calls"), 3);
    assert_int_equal(cmdstat(t, "get", "calls"), 2);
    assert_int_equal(cmdstat(t, "get", "rejected_calls"), 1);
    assert_int_equal(cmdstat(t, "get", "failed_calls"), 0);
    assert_int_equal(cmdstat(t, "incr", "failed_calls"), 1);
    assert_int_equal(cmdstat(t, "config|get", "calls"), 1);
    assert_true(cmdstat(t, "set", "usec") >= 0);
    char line[256];
    assert_true(field_in(t, "cmdstat_set", line, sizeof line));
    unsigned long long calls, usec, rej, failed;
    double per;
    assert_int_equal(sscanf(line, "calls=%llu,usec=%llu,usec_per_call=%lf,rejected_calls=%llu,"
                                  "failed_calls=%llu", &calls, &usec, &per, &rej, &failed), 5);
    assert_true(per >= 0 && per <= (double)usec + 0.01);
    free(t);

    /* latencystats: percentiles of each command's call times */
    t = info_text(c, "latencystats");
    double p50, p99, p999;
    assert_true(field_in(t, "latency_percentiles_usec_get", line, sizeof line));
    assert_int_equal(sscanf(line, "p50=%lf,p99=%lf,p99.9=%lf", &p50, &p99, &p999), 3);
    assert_true(p50 <= p99 && p99 <= p999 && p999 < 10e6);
    assert_true(field_in(t, "latency_percentiles_usec_config|get", line, sizeof line));
    assert_false(field_in(t, "latency_percentiles_usec_incrby", line, sizeof line));
    free(t);

    t = info_text(c, "errorstats");
    char v[64];
    assert_true(field_in(t, "errorstat_ERR", v, sizeof v));
    assert_string_equal(v, "count=3");
    free(t);
    assert_int_equal(info_int(c, "stats", "total_error_replies"), 3);

    /* RESETSTAT clears command stats, error stats and the stats counters */
    assert_reply_status(run(c, "CONFIG RESETSTAT"), "OK");
    t = info_text(c, "commandstats");
    assert_int_equal(cmdstat(t, "set", "calls"), -1);
    free(t);
    t = info_text(c, "errorstats");
    assert_false(field_in(t, "errorstat_ERR", v, sizeof v));
    free(t);
    t = info_text(c, "latencystats");
    assert_false(field_in(t, "latency_percentiles_usec_set", line, sizeof line));
    free(t);
    assert_int_equal(info_int(c, "stats", "total_error_replies"), 0);
    assert_true(info_int(c, "stats", "total_commands_processed") <= 6);   /* RESETSTAT and INFOs */
    redisFree(c);
}

/* ---- SLOWLOG ---- */

static void slowlog_defaults(redisContext *c)
{
    assert_reply_status(run(c, "CONFIG SET slowlog-log-slower-than 10000"), "OK");
    assert_reply_status(run(c, "CONFIG SET slowlog-max-len 128"), "OK");
    assert_reply_status(run(c, "SLOWLOG RESET"), "OK");
}

static void test_slowlog(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    redisReply *r = run(c, "CONFIG GET slowlog-*");
    assert_reply_array(r, 4);
    freeReplyObject(r);

    assert_reply_status(run(c, "CONFIG SET slowlog-log-slower-than 0"), "OK");
    assert_reply_status(run(c, "CLIENT SETNAME slowpoke"), "OK");
    assert_reply_status(run(c, "SLOWLOG RESET"), "OK");
    assert_reply_status(run(c, "SET slowkey v1"), "OK");

    r = run(c, "SLOWLOG GET 1");
    assert_reply_array(r, 1);
    redisReply *e = r->element[0];
    assert_int_equal(e->type, REDIS_REPLY_ARRAY);
    assert_int_equal(e->elements, 6);
    assert_int_equal(e->element[0]->type, REDIS_REPLY_INTEGER);
    long long id = e->element[0]->integer;
    assert_int_equal(e->element[1]->type, REDIS_REPLY_INTEGER);
    assert_true(e->element[1]->integer > 1000000000);
    assert_int_equal(e->element[2]->type, REDIS_REPLY_INTEGER);
    assert_true(e->element[2]->integer >= 0);
    redisReply *args = e->element[3];
    assert_int_equal(args->elements, 3);
    assert_string_equal(args->element[0]->str, "SET");
    assert_string_equal(args->element[1]->str, "slowkey");
    assert_string_equal(args->element[2]->str, "v1");
    assert_true(strncmp(e->element[4]->str, "127.0.0.1:", 10) == 0);
    assert_string_equal(e->element[5]->str, "slowpoke");
    freeReplyObject(r);

    /* newest first, ids growing; SLOWLOG GET itself was logged after it ran */
    r = run(c, "SLOWLOG GET -1");
    assert_true(r->type == REDIS_REPLY_ARRAY && r->elements >= 3);
    assert_string_equal(r->element[0]->element[3]->element[0]->str, "SLOWLOG");
    assert_int_equal(r->element[0]->element[0]->integer, id + 1);
    freeReplyObject(r);

    /* arguments: each cut to 128 bytes, at most 32 of them */
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_reply_status(run(c, "SET bigarg %s", big), "OK");
    r = run(c, "SLOWLOG GET 1");
    redisReply *a = r->element[0]->element[3];
    assert_int_equal(a->element[2]->len, 128 + strlen("... (171 more bytes)"));
    assert_string_equal(a->element[2]->str + 128, "... (171 more bytes)");
    freeReplyObject(r);
    const char *argv[40];
    char bufs[40][8];
    argv[0] = "MSET";
    for (int i = 1; i < 39; i++) {
        snprintf(bufs[i], sizeof bufs[i], "a%d", i);
        argv[i] = bufs[i];
    }
    r = run_argv(c, 39, argv, NULL);
    assert_reply_status(r, "OK");
    r = run(c, "SLOWLOG GET 1");
    a = r->element[0]->element[3];
    assert_int_equal(a->elements, 32);
    assert_string_equal(a->element[30]->str, "a30");
    assert_string_equal(a->element[31]->str, "... (8 more arguments)");
    freeReplyObject(r);

    /* AUTH's password never reaches the log */
    r = run(c, "AUTH secret");
    freeReplyObject(r);
    r = run(c, "SLOWLOG GET 1");
    a = r->element[0]->element[3];
    assert_int_equal(a->elements, 2);
    assert_string_equal(a->element[1]->str, "(redacted)");
    freeReplyObject(r);

    /* nor does a CONFIG SET requirepass value (set to "" so nothing changes) */
    assert_reply_status(run(c, "CONFIG SET maxmemory 0 requirepass %s", ""), "OK");
    r = run(c, "SLOWLOG GET 1");
    a = r->element[0]->element[3];
    assert_int_equal(a->elements, 6);
    assert_string_equal(a->element[3]->str, "0");
    assert_string_equal(a->element[5]->str, "(redacted)");
    freeReplyObject(r);

    /* max-len bounds the log */
    assert_reply_status(run(c, "CONFIG SET slowlog-max-len 3"), "OK");
    for (int i = 0; i < 10; i++)
        assert_reply_status(run(c, "SET k%d v", i), "OK");
    assert_reply_int(run(c, "SLOWLOG LEN"), 3);
    r = run(c, "SLOWLOG GET 10");
    assert_reply_array(r, 3);
    freeReplyObject(r);

    /* -1 disables it; a high threshold lets fast commands through */
    assert_reply_status(run(c, "CONFIG SET slowlog-log-slower-than -1"), "OK");
    assert_reply_status(run(c, "SLOWLOG RESET"), "OK");
    assert_reply_status(run(c, "SET k v"), "OK");
    assert_reply_int(run(c, "SLOWLOG LEN"), 0);
    assert_reply_status(run(c, "CONFIG SET slowlog-log-slower-than 1000000"), "OK");
    assert_reply_status(run(c, "SET k v"), "OK");
    assert_reply_int(run(c, "SLOWLOG LEN"), 0);

    /* errors */
    assert_reply_error(run(c, "SLOWLOG GET -2"), "ERR count should be greater than or equal to -1");
    assert_reply_error(run(c, "SLOWLOG GET x"), "ERR count should be greater than or equal to -1");
    assert_reply_error(run(c, "SLOWLOG GET 1 2"), "ERR unknown subcommand or wrong number");
    assert_reply_error(run(c, "SLOWLOG LEN x"), "ERR wrong number of arguments for 'slowlog|len'");
    assert_reply_error(run(c, "SLOWLOG FOO"), "ERR unknown subcommand 'FOO'. Try SLOWLOG HELP.");
    assert_reply_error(run(c, "CONFIG SET slowlog-log-slower-than -2"), "ERR CONFIG SET failed");
    r = run(c, "SLOWLOG HELP");
    assert_true(r->type == REDIS_REPLY_ARRAY && r->elements > 4);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);

    assert_reply_status(run(c, "CLIENT SETNAME %s", ""), "OK");
    slowlog_defaults(c);
    redisFree(c);
}

/* ---- LATENCY ---- */

/* An MSET big enough to take well over a millisecond anywhere. */
static void slow_mset(redisContext *c)
{
    enum { PAIRS = 30000 };
    const char **argv = malloc((1 + 2 * PAIRS) * sizeof(*argv));
    char *store = malloc((size_t)PAIRS * 16);
    argv[0] = "MSET";
    for (int i = 0; i < PAIRS; i++) {
        char *k = store + (size_t)i * 16;
        snprintf(k, 16, "lat:%d", i);
        argv[1 + 2 * i] = k;
        argv[2 + 2 * i] = k;
    }
    assert_reply_status(run_argv(c, 1 + 2 * PAIRS, argv, NULL), "OK");
    free(argv);
    free(store);
}

/* Index of event in LATENCY LATEST (whose reply is r), or -1. */
static int latest_index(redisReply *r, const char *event)
{
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        assert_int_equal(e->elements, 4);
        if (strcmp(e->element[0]->str, event) == 0)
            return (int)i;
    }
    return -1;
}

static void test_latency(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    redisReply *r = run(c, "CONFIG GET latency-monitor-threshold");
    assert_reply_array(r, 2);
    assert_string_equal(r->element[1]->str, "0");
    freeReplyObject(r);

    /* off by default: nothing is recorded */
    r = run(c, "LATENCY RESET");
    freeReplyObject(r);
    slow_mset(c);
    r = run(c, "LATENCY LATEST");
    assert_int_equal(latest_index(r, "command"), -1);
    freeReplyObject(r);

    assert_reply_status(run(c, "CONFIG SET latency-monitor-threshold 1"), "OK");
    slow_mset(c);
    r = run(c, "LATENCY LATEST");
    int i = latest_index(r, "command");
    assert_true(i >= 0);
    redisReply *e = r->element[i];
    assert_true(e->element[1]->integer > 1000000000);   /* unix time */
    assert_true(e->element[2]->integer >= 1);           /* latest ms, at the threshold */
    assert_true(e->element[3]->integer >= e->element[2]->integer);   /* max */
    freeReplyObject(r);

    r = run(c, "LATENCY HISTORY command");
    assert_true(r->type == REDIS_REPLY_ARRAY && r->elements >= 1);
    for (size_t j = 0; j < r->elements; j++) {
        assert_int_equal(r->element[j]->elements, 2);
        assert_true(r->element[j]->element[1]->integer >= 1);
    }
    freeReplyObject(r);
    r = run(c, "LATENCY HISTORY nosuchevent");
    assert_reply_array(r, 0);
    freeReplyObject(r);

    r = run(c, "LATENCY RESET");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer >= 1);
    freeReplyObject(r);
    assert_reply_status(run(c, "CONFIG SET latency-monitor-threshold 0"), "OK");
    redisFree(c);
}

/* The expiry cycle reports to LATENCY too: with a backlog of expired keys
 * each cycle runs its whole budget (at least 1 ms; 5 ms here if the
 * expire-cycle-ms option exists), reaching a 1 ms threshold. */
static void test_latency_expire_cycle(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    redisReply *r = run(c, "LATENCY RESET");
    freeReplyObject(r);
    r = run(c, "CONFIG SET expire-cycle-ms 5");
    freeReplyObject(r);
    assert_reply_status(run(c, "CONFIG SET latency-monitor-threshold 1"), "OK");
    enum { KEYS = 60000 };
    for (int i = 0; i < KEYS; i++)
        redisAppendCommand(c, "SET exp:%d v PX 20", i);
    for (int i = 0; i < KEYS; i++)
        assert_reply_status(get_reply(c), "OK");
    int found = -1;
    for (int tries = 0; tries < 100 && found < 0; tries++) {
        harness_sleep_ms(50);
        r = run(c, "LATENCY LATEST");
        found = latest_index(r, "expire-cycle");
        if (found >= 0)
            assert_true(r->element[found]->element[2]->integer >= 1);
        freeReplyObject(r);
    }
    assert_true(found >= 0);
    assert_reply_status(run(c, "CONFIG SET latency-monitor-threshold 0"), "OK");
    r = run(c, "CONFIG SET expire-cycle-ms 1");
    freeReplyObject(r);
    r = run(c, "LATENCY RESET");
    freeReplyObject(r);
    assert_reply_status(run(c, "FLUSHALL"), "OK");
    redisFree(c);
}

static void test_latency_reset(void **state)
{
    (void)state;
    redisContext *c = server_connect(&harness_srv);
    assert_reply_status(run(c, "CONFIG SET latency-monitor-threshold 1"), "OK");
    slow_mset(c);
    assert_reply_int(run(c, "LATENCY RESET command nosuchevent"), 1);
    redisReply *r = run(c, "LATENCY LATEST");
    assert_int_equal(latest_index(r, "command"), -1);
    freeReplyObject(r);
    r = run(c, "LATENCY HISTORY command");
    assert_reply_array(r, 0);
    freeReplyObject(r);
    assert_reply_error(run(c, "LATENCY HISTORY"), "ERR wrong number of arguments for 'latency|history'");
    assert_reply_error(run(c, "LATENCY DOCTORX"), "ERR unknown subcommand 'DOCTORX'. Try LATENCY HELP.");
    r = run(c, "LATENCY HELP");
    assert_true(r->type == REDIS_REPLY_ARRAY && r->elements > 4);
    freeReplyObject(r);
    assert_reply_status(run(c, "CONFIG SET latency-monitor-threshold 0"), "OK");
    r = run(c, "LATENCY RESET");
    freeReplyObject(r);
    assert_reply_status(run(c, "FLUSHALL"), "OK");
    redisFree(c);
}

/* ---- CLIENT ---- */

/* CLIENT INFO of c as a malloc'd line. */
static char *client_info(redisContext *c)
{
    return text_cmd(c, "CLIENT INFO");
}

/* Value of "key=" in a CLIENT LIST line, copied into out. */
static void client_field(const char *line, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p;
    if (strncmp(line, pat + 1, strlen(pat + 1)) == 0) {
        p = line + strlen(pat + 1);   /* the first field has no space before it */
    } else {
        p = strstr(line, pat);
        if (p == NULL || (strchr(line, '\n') && p > strchr(line, '\n')))
            fail_msg("no %s in %s", key, line);
        p += strlen(pat);
    }
    size_t n = strcspn(p, " \n");
    assert_true(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void test_client_list(void **state)
{
    (void)state;
    redisContext *a = server_connect(&harness_srv), *b = server_connect(&harness_srv);
    redisReply *r;
    assert_reply_status(run(a, "CLIENT SETNAME alpha"), "OK");
    char *line = client_info(a);
    static const char *const fields[] = {
        "id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "ssub",
        "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl", "oll", "omem",
        "tot-mem", "events", "cmd", "user", "redir", "resp"};
    const char *prev = line;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char pat[32];
        snprintf(pat, sizeof pat, "%s%s=", i ? " " : "", fields[i]);
        const char *at = strstr(prev, pat);
        if (at == NULL)
            fail_msg("CLIENT INFO: %s missing or out of order in %s", fields[i], line);
        prev = at;
    }
    char v[128];
    client_field(line, "name", v, sizeof v);
    assert_string_equal(v, "alpha");
    client_field(line, "flags", v, sizeof v);
    assert_string_equal(v, "N");
    client_field(line, "multi", v, sizeof v);
    assert_string_equal(v, "-1");
    client_field(line, "cmd", v, sizeof v);
    assert_string_equal(v, "client|info");
    client_field(line, "db", v, sizeof v);
    assert_string_equal(v, "0");
    client_field(line, "resp", v, sizeof v);
    assert_string_equal(v, "2");
    client_field(line, "user", v, sizeof v);
    assert_string_equal(v, "default");
    free(line);

    /* b inside MULTI with one queued command: flags=x multi=1 */
    r = run(b, "CLIENT ID");
    char bid[32];
    snprintf(bid, sizeof bid, "%lld", r->integer);
    freeReplyObject(r);
    assert_reply_status(run(b, "MULTI"), "OK");
    assert_reply_status(run(b, "SET q 1"), "QUEUED");
    r = run(a, "CLIENT LIST");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    int nlines = 0;
    bool saw_b = false;
    for (char *l = r->str; *l; l = strchr(l, '\n') + 1) {
        nlines++;
        client_field(l, "name", v, sizeof v);
        if (strcmp(v, "alpha") == 0) {
            client_field(l, "cmd", v, sizeof v);
            assert_string_equal(v, "client|list");
        }
        client_field(l, "id", v, sizeof v);
        if (strcmp(v, bid) == 0) {
            client_field(l, "flags", v, sizeof v);
            assert_string_equal(v, "x");
            client_field(l, "multi", v, sizeof v);
            assert_string_equal(v, "1");
            saw_b = true;
        }
        if (strchr(l, '\n') == NULL)
            break;
    }
    assert_true(nlines >= 2);
    assert_true(saw_b);
    freeReplyObject(r);
    assert_reply_status(run(b, "DISCARD"), "OK");

    assert_reply_status(run(b, "CLIENT NO-EVICT on"), "OK");
    line = client_info(b);
    client_field(line, "flags", v, sizeof v);
    assert_string_equal(v, "e");
    free(line);
    assert_reply_status(run(b, "CLIENT NO-EVICT off"), "OK");

    /* tracking is not supported, and says so; off is accepted */
    assert_reply_status(run(a, "CLIENT TRACKING off"), "OK");
    assert_reply_error(run(a, "CLIENT TRACKING on"), "ERR client-side caching");
    assert_reply_error(run(a, "CLIENT TRACKING maybe"), "ERR syntax error");
    assert_reply_int(run(a, "CLIENT GETREDIR"), -1);
    r = run(a, "CLIENT HELP");
    assert_true(r->type == REDIS_REPLY_ARRAY && r->elements > 10);
    bool pause_line = false;
    for (size_t i = 0; i < r->elements; i++)
        pause_line |= strncmp(r->element[i]->str, "PAUSE <timeout>", 15) == 0;
    assert_true(pause_line);
    freeReplyObject(r);
    redisFree(a);
    redisFree(b);
}

static void test_client_kill(void **state)
{
    (void)state;
    redisContext *a = server_connect(&harness_srv), *b = server_connect(&harness_srv),
                 *d = server_connect(&harness_srv);
    redisReply *r = run(b, "CLIENT ID");
    long long bid = r->integer;
    freeReplyObject(r);

    assert_reply_int(run(a, "CLIENT KILL ID %lld", bid), 1);
    /* b is gone: its next command fails on I/O */
    r = redisCommand(b, "PING");
    assert_null(r);
    redisFree(b);
    assert_reply_int(run(a, "CLIENT KILL ID %lld", bid), 0);

    char *line = client_info(d);
    char addr[64];
    client_field(line, "addr", addr, sizeof addr);
    free(line);
    assert_reply_int(run(a, "CLIENT KILL ADDR %s SKIPME yes", addr), 1);
    r = redisCommand(d, "PING");
    assert_null(r);
    redisFree(d);

    /* old form */
    d = server_connect(&harness_srv);
    line = client_info(d);
    client_field(line, "addr", addr, sizeof addr);
    free(line);
    assert_reply_status(run(a, "CLIENT KILL %s", addr), "OK");
    assert_reply_error(run(a, "CLIENT KILL %s", addr), "ERR No such client");
    redisFree(d);

    /* SKIPME yes spares the caller; errors */
    line = client_info(a);
    client_field(line, "addr", addr, sizeof addr);
    free(line);
    assert_reply_int(run(a, "CLIENT KILL ADDR %s", addr), 0);
    assert_reply_error(run(a, "CLIENT KILL ID 0"), "ERR client-id should be greater than 0");
    assert_reply_error(run(a, "CLIENT KILL ID x"), "ERR client-id should be greater than 0");
    assert_reply_error(run(a, "CLIENT KILL foo bar"), "ERR syntax error");
    assert_reply_error(run(a, "CLIENT KILL USER nobody"), "ERR No such user 'nobody'");
    assert_reply_status(run(a, "PING"), "PONG");
    redisFree(a);
}

static void test_client_pause(void **state)
{
    (void)state;
    redisContext *a = server_connect(&harness_srv);
    struct raw b;
    raw_open(&b, harness_srv.port);
    assert_reply_status(run(a, "SET pk v"), "OK");

    /* ALL: a GET from another client waits for the pause to end */
    assert_reply_status(run(a, "CLIENT PAUSE 400"), "OK");
    int64_t t0 = harness_now_ms();
    raw_sendstr(&b, "*2\r\n$3\r\nGET\r\n$2\r\npk\r\n");
    raw_expect(&b, "$1\r\nv\r\n");
    int64_t waited = harness_now_ms() - t0;
    if (waited < 300)
        fail_msg("GET answered after %lld ms of a 400 ms pause", (long long)waited);

    /* WRITE: reads go on, a SET waits, UNPAUSE releases it */
    assert_reply_status(run(a, "CLIENT PAUSE 20000 WRITE"), "OK");
    raw_sendstr(&b, "*2\r\n$3\r\nGET\r\n$2\r\npk\r\n");
    raw_expect(&b, "$1\r\nv\r\n");
    raw_sendstr(&b, "*3\r\n$3\r\nSET\r\n$2\r\npk\r\n$1\r\nw\r\n");
    char *rep = raw_reply(&b, NULL, 300);
    if (rep != NULL)
        fail_msg("SET answered during a WRITE pause: %s", rep);
    redisReply *r = run(a, "CLIENT LIST");
    assert_non_null(strstr(r->str, "flags=b "));   /* the held client shows as blocked */
    freeReplyObject(r);
    assert_reply_str(run(a, "GET pk"), "v");
    t0 = harness_now_ms();
    assert_reply_status(run(a, "CLIENT UNPAUSE"), "OK");
    raw_expect(&b, "+OK\r\n");
    assert_true(harness_now_ms() - t0 < 5000);
    assert_reply_str(run(a, "GET pk"), "w");

    assert_reply_error(run(a, "CLIENT PAUSE x"), "ERR timeout is not an integer or out of range");
    assert_reply_error(run(a, "CLIENT PAUSE -1"), "ERR timeout is negative");
    assert_reply_error(run(a, "CLIENT PAUSE 10 sometimes"), "ERR CLIENT PAUSE mode must be WRITE or ALL");
    assert_reply_status(run(a, "CLIENT UNPAUSE"), "OK");
    raw_close(&b);
    redisFree(a);
}

static void test_client_reply(void **state)
{
    (void)state;
    struct raw b;
    raw_open(&b, harness_srv.port);
    /* OFF: nothing until ON, whose +OK is the first reply */
    raw_sendstr(&b, "CLIENT REPLY OFF\r\nSET ro 1\r\nGET ro\r\nCLIENT REPLY ON\r\nGET ro\r\n");
    raw_expect(&b, "+OK\r\n");
    raw_expect(&b, "$1\r\n1\r\n");
    /* SKIP: only the next command's reply is dropped */
    raw_sendstr(&b, "CLIENT REPLY SKIP\r\nSET ro 2\r\nGET ro\r\n");
    raw_expect(&b, "$1\r\n2\r\n");
    raw_sendstr(&b, "CLIENT REPLY maybe\r\n");
    raw_expect(&b, "-ERR syntax error\r\n");
    raw_close(&b);
}

/* ---- MONITOR ---- */

/* Reads monitor lines until one contains needle (fails after timeout). */
static char *monitor_line(struct raw *m, const char *needle)
{
    for (int i = 0; i < 50; i++) {
        char *l = raw_reply(m, NULL, 2000);
        if (l == NULL)
            fail_msg("monitor: no line with %s", needle);
        if (strstr(l, needle) != NULL)
            return l;
        free(l);
    }
    fail_msg("monitor: no line with %s", needle);
    return NULL;
}

static void test_monitor(void **state)
{
    (void)state;
    struct raw m;
    raw_open(&m, harness_srv.port);
    raw_sendstr(&m, "*1\r\n$7\r\nMONITOR\r\n");
    raw_expect(&m, "+OK\r\n");

    redisContext *c = server_connect(&harness_srv);
    char *line = client_info(c);
    char addr[64];
    client_field(line, "addr", addr, sizeof addr);
    free(line);
    assert_reply_status(run(c, "SET %s %b", "mk", "a\"b\n\x01", (size_t)5), "OK");
    assert_reply_status(run(c, "CONFIG SET slowlog-max-len 128"), "OK");   /* admin: not shown */
    redisReply *r = run(c, "AUTH hunter2");
    freeReplyObject(r);
    assert_reply_status(run(c, "PING"), "PONG");

    char *l = monitor_line(&m, "\"SET\"");
    /* +<seconds>.<6 digits> [0 <addr>] "SET" "mk" "a\"b\n\x01" */
    long sec;
    int usec_digits = 0;
    assert_int_equal(l[0], '+');
    assert_int_equal(sscanf(l + 1, "%ld.", &sec), 1);
    assert_true(sec > 1000000000);
    for (const char *p = strchr(l, '.') + 1; *p >= '0' && *p <= '9'; p++)
        usec_digits++;
    assert_int_equal(usec_digits, 6);
    char want[160];
    snprintf(want, sizeof want, " [0 %s] \"SET\" \"mk\" \"a\\\"b\\n\\x01\"\r\n", addr);
    if (strstr(l, want) == NULL)
        fail_msg("monitor line %s lacks %s", l, want);
    free(l);
    /* the next line: CONFIG SET (admin) in between is not shown */
    l = raw_reply(&m, NULL, 2000);
    assert_non_null(l);
    /* others see the monitor flagged O */
    redisReply *cl = run(c, "CLIENT LIST");
    assert_non_null(strstr(cl->str, " flags=O "));
    freeReplyObject(cl);
    if (strstr(l, "\"AUTH\" \"(redacted)\"") == NULL)
        fail_msg("expected the redacted AUTH next, got %s", l);
    assert_null(strstr(l, "hunter2"));
    free(l);
    l = monitor_line(&m, "\"PING\"");
    free(l);

    /* a monitor may not touch keys, but may PING; RESET ends monitoring */
    raw_sendstr(&m, "*2\r\n$3\r\nGET\r\n$2\r\nmk\r\n");
    raw_expect(&m, "-ERR Replica can't interact with the keyspace\r\n");
    raw_sendstr(&m, "*1\r\n$5\r\nRESET\r\n");
    raw_expect(&m, "+RESET\r\n");
    raw_sendstr(&m, "*2\r\n$3\r\nGET\r\n$2\r\nmk\r\n");
    raw_expect(&m, "$5\r\na\"b\n\x01\r\n");
    /* and no longer receives other clients' commands */
    assert_reply_status(run(c, "PING"), "PONG");
    char *extra = raw_reply(&m, NULL, 200);
    if (extra != NULL)
        fail_msg("reset monitor still fed: %s", extra);
    raw_close(&m);
    redisFree(c);
}

/* ---- inline commands ---- */

static void test_inline(void **state)
{
    (void)state;
    struct raw b;
    raw_open(&b, harness_srv.port);
    raw_sendstr(&b, "SET ik v\r\n");
    raw_expect(&b, "+OK\r\n");
    raw_sendstr(&b, "GET ik\r\n");
    raw_expect(&b, "$1\r\nv\r\n");
    /* quoting, pipelined with RESP arrays */
    raw_sendstr(&b, "SET ik \"a b\\n\"\r\n*2\r\n$3\r\nGET\r\n$2\r\nik\r\nSTRLEN ik\r\n");
    raw_expect(&b, "+OK\r\n");
    raw_expect(&b, "$4\r\na b\n\r\n");
    raw_expect(&b, ":4\r\n");
    /* transactions, subcommands and errors inline */
    raw_sendstr(&b, "MULTI\r\nINCR ic\r\nINCR ic\r\nEXEC\r\n");
    raw_expect(&b, "+OK\r\n");
    raw_expect(&b, "+QUEUED\r\n");
    raw_expect(&b, "+QUEUED\r\n");
    raw_expect(&b, "*2\r\n:1\r\n:2\r\n");
    raw_sendstr(&b, "CLIENT SETNAME inl\r\nCLIENT GETNAME\r\n");
    raw_expect(&b, "+OK\r\n");
    raw_expect(&b, "$3\r\ninl\r\n");
    raw_sendstr(&b, "CONFIG SET slowlog-log-slower-than 0\r\nSLOWLOG RESET\r\nPING\r\nSLOWLOG LEN\r\n");
    raw_expect(&b, "+OK\r\n");
    raw_expect(&b, "+OK\r\n");
    raw_expect(&b, "+PONG\r\n");
    raw_expect(&b, ":2\r\n");   /* SLOWLOG RESET and PING */
    raw_sendstr(&b, "CONFIG SET slowlog-log-slower-than 10000\r\nSLOWLOG RESET\r\n");
    raw_expect(&b, "+OK\r\n");
    raw_expect(&b, "+OK\r\n");
    raw_sendstr(&b, "GET\r\n");
    raw_expect(&b, "-ERR wrong number of arguments for 'get' command\r\n");
    raw_sendstr(&b, "NOPE x\r\n");
    raw_expect(&b, "-ERR unknown command 'NOPE', with args beginning with: 'x' \r\n");
    raw_sendstr(&b, "\r\nPING\r\n");   /* an empty line is ignored */
    raw_expect(&b, "+PONG\r\n");
    raw_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_sections),
        cmocka_unit_test(test_commandstats_errorstats),
        cmocka_unit_test(test_slowlog),
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_latency_expire_cycle),
        cmocka_unit_test(test_latency_reset),
        cmocka_unit_test(test_client_list),
        cmocka_unit_test(test_client_kill),
        cmocka_unit_test(test_client_pause),
        cmocka_unit_test(test_client_reply),
        cmocka_unit_test(test_monitor),
        cmocka_unit_test(test_inline),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
