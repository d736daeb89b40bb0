/*
 * test_dashboard: the HTTP side of the admin port's dashboard,
 * at the byte level; tests/clients/dashboard_test.js drives the page itself
 * in a browser.
 *
 * One daemon with 64 KiB arenas, compact-auto off and a slow compaction
 * (compact-cpu-pct 1, so a run lasts seconds and a second POST meets it)
 * holds a fragmented keyspace. Checked: GET / is one self-contained page
 * (HTML, Content-Length matching the body, a CSP, no reference to another
 * host) and HEAD gives the same head; /api/stats and /api/arenas agree with
 * DBSIZE and ARENAS; POST /api/compact starts a run (202) even when its body
 * arrives in pieces, a second one while it runs is 409; the request limits
 * (413 for a body over ADMIN_HTTP_BODY_MAX, 411 for chunked, 400 for a bad
 * Content-Length, 431 for an oversized head, 405 with the right Allow, 403
 * for another site's Origin, which starts nothing). A second daemon with
 * admin-password serves the page without it, answers 401 JSON with a
 * Bearer-only challenge on /api/ (a Basic one would make browsers pop up a
 * login dialog), and accepts the Bearer password.
 * compactd only (redis-server has no admin port).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 20000

static struct server srv;
static int aport;
static char aport_s[16];

static int group_setup(void **state)
{
    *state = &srv;          /* for server_group_teardown */
    if (harness_is_redis() || harness_external())
        return 0;
    aport = harness_free_port();
    snprintf(aport_s, sizeof aport_s, "%d", aport);
    const char *args[] = {"--admin-port", aport_s, "--arena-size", "65536", "--compact-auto", "no",
                          "--compact-cpu-pct", "1", "--compact-slice-us", "200", NULL};
    server_start(&srv, args);
    return 0;
}

/* Sends req in pieces (NULL-terminated list, a pause between them), returns
 * the whole response, malloc'd and NUL-terminated. */
static char *http_parts(int port, const char *const *parts, size_t *len)
{
    struct raw rw;
    raw_open(&rw, port);
    for (size_t i = 0; parts[i]; i++) {
        if (i)
            harness_sleep_ms(150);
        raw_send(&rw, parts[i], strlen(parts[i]), false);
    }
    assert_true(raw_wait_close(&rw, 5000));
    char *out = malloc(rw.len + 1);
    assert_non_null(out);
    memcpy(out, rw.buf, rw.len);
    out[rw.len] = '\0';
    if (len)
        *len = rw.len;
    raw_close(&rw);
    return out;
}

static char *http(int port, const char *req)
{
    const char *parts[] = {req, NULL};
    return http_parts(port, parts, NULL);
}

static int http_status(const char *resp)
{
    assert_true(strncmp(resp, "HTTP/1.1 ", 9) == 0);
    return atoi(resp + 9);
}

static const char *http_body(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    assert_non_null(b);
    return b + 4;
}

/* The value of header name (with ": "), up to the line end, or NULL. */
static char *http_header(const char *resp, const char *name)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\r\n%s: ", name);
    const char *h = strstr(resp, needle);
    const char *end = strstr(resp, "\r\n\r\n");
    if (h == NULL || h > end)
        return NULL;
    h += strlen(needle);
    return strndup(h, strcspn(h, "\r\n"));
}

/* The number after "\"name\":" in a JSON text (fails if absent). */
static long long json_int(const char *json, const char *name)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\"%s\":", name);
    const char *p = strstr(json, needle);
    if (p == NULL)
        fail_msg("JSON field %s missing in %.300s", name, json);
    return strtoll(p + strlen(needle), NULL, 10);
}

static char *get(const char *path)
{
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, aport);
    return http(aport, req);
}

static char *post(const char *path, const char *extra_headers, const char *body)
{
    char req[1024];
    snprintf(req, sizeof req,
             "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sContent-Length: %zu\r\n\r\n%s", path,
             aport, extra_headers, strlen(body), body);
    return http(aport, req);
}

static long long compaction_runs(void)
{
    char *r = get("/api/stats");
    assert_int_equal(http_status(r), 200);
    long long n = json_int(strstr(r, "\"compaction\":"), "runs");
    free(r);
    return n;
}

/* NKEYS values of many sizes, then every other key deleted. */
static void test_fill(void **state)
{
    (void)state;
    NEED_COMPACTD();
    redisContext *c = server_connect(&srv);
    static char val[3100];
    memset(val, 'v', sizeof val);
    for (int i = 0; i < NKEYS; i++)
        redisAppendCommand(c, "SET k%d %b", i, val, (size_t)(16 + (i * 131) % 3000));
    for (int i = 0; i < NKEYS; i++)
        freeReplyObject(get_reply(c));
    for (int i = 0; i < NKEYS; i += 2)
        redisAppendCommand(c, "DEL k%d", i);
    for (int i = 0; i < NKEYS; i += 2)
        freeReplyObject(get_reply(c));
    assert_int_equal(dbsize(c), NKEYS / 2);
    redisFree(c);
}

static void test_page(void **state)
{
    (void)state;
    NEED_COMPACTD();
    size_t len;
    const char *parts[] = {"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", NULL};
    char *r = http_parts(aport, parts, &len);
    assert_int_equal(http_status(r), 200);
    char *ct = http_header(r, "Content-Type");
    assert_string_equal(ct, "text/html; charset=utf-8");
    char *cl = http_header(r, "Content-Length");
    const char *body = http_body(r);
    assert_int_equal(strtoull(cl, NULL, 10), len - (size_t)(body - r));
    assert_non_null(strstr(body, "<!DOCTYPE html>"));
    assert_non_null(strstr(body, "<canvas"));
    assert_non_null(strstr(body, "/api/arenas"));
    assert_non_null(strstr(body, "</html>"));
    /* self-contained: nothing from another host */
    assert_null(strstr(body, "src=\"http"));
    assert_null(strstr(body, "href=\"http"));
    assert_null(strstr(body, "url(http"));
    assert_null(strstr(body, "@import"));
    char *csp = http_header(r, "Content-Security-Policy");
    assert_non_null(csp);
    assert_non_null(strstr(csp, "default-src 'none'"));
    assert_non_null(strstr(r, "\r\nConnection: close\r\n"));

    /* HEAD: the same head, no body */
    char *h = http(aport, "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_int_equal(http_status(h), 200);
    char *hcl = http_header(h, "Content-Length");
    assert_string_equal(hcl, cl);
    assert_string_equal(http_body(h), "");
    free(ct);
    free(cl);
    free(csp);
    free(hcl);
    free(h);
    free(r);
}

static void test_api_matches_daemon(void **state)
{
    (void)state;
    NEED_COMPACTD();
    redisContext *a = server_connect_port(&srv, aport);
    redisReply *ar = run(a, "ARENAS");
    assert_int_equal(ar->type, REDIS_REPLY_ARRAY);
    long long narenas = (long long)ar->elements;
    freeReplyObject(ar);
    redisFree(a);
    assert_true(narenas > 50);

    char *r = get("/api/arenas");
    assert_int_equal(http_status(r), 200);
    char *ct = http_header(r, "Content-Type");
    assert_string_equal(ct, "application/json");
    const char *body = http_body(r);
    assert_int_equal(json_int(body, "arena_size"), 65536);
    assert_int_equal(json_int(body, "arenas"), narenas);
    /* one [band,live,slots,evacuating] tuple per arena, live <= slots */
    long long tuples = 0;
    for (const char *p = strstr(body, "\"arenas\":["); (p = strchr(p + 1, '[')) != NULL;) {
        unsigned band;
        unsigned long long live, slots;
        int evac;
        if (sscanf(p, "[%u,%llu,%llu,%d]", &band, &live, &slots, &evac) == 4) {
            assert_true(live >= 1 && live <= slots);
            assert_true(evac == 0 || evac == 1);
            tuples++;
        }
    }
    assert_int_equal(tuples, narenas);
    free(ct);
    free(r);

    r = get("/api/stats");
    assert_int_equal(http_status(r), 200);
    body = http_body(r);
    assert_int_equal(json_int(body, "keys"), NKEYS / 2);
    assert_int_equal(json_int(body, "arenas"), narenas);
    assert_int_equal(json_int(body, "arena_bytes"), narenas * 65536);
    assert_true(json_int(body, "live_bytes") > 0);
    assert_true(json_int(body, "rss_bytes") > json_int(body, "live_bytes"));
    assert_true(json_int(body, "reclaimable_bytes") > 0);
    assert_non_null(strstr(body, "\"running\":false"));
    free(r);
}

static void test_limits(void **state)
{
    (void)state;
    NEED_COMPACTD();
    char *r = get("/api/compact");
    assert_int_equal(http_status(r), 405);
    char *allow = http_header(r, "Allow");
    assert_string_equal(allow, "POST");
    assert_non_null(strstr(http_body(r), "\"error\":"));
    free(allow);
    free(r);

    r = post("/api/stats", "", "");
    assert_int_equal(http_status(r), 405);
    allow = http_header(r, "Allow");
    assert_string_equal(allow, "GET, HEAD");
    free(allow);
    free(r);

    r = http(aport, "POST /api/compact HTTP/1.1\r\nContent-Length: 9000\r\n\r\n");
    assert_int_equal(http_status(r), 413);
    free(r);
    r = http(aport, "POST /api/compact HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_int_equal(http_status(r), 411);
    free(r);
    r = http(aport, "POST /api/compact HTTP/1.1\r\nContent-Length: 1x\r\n\r\n");
    assert_int_equal(http_status(r), 400);
    free(r);
    r = http(aport, "POST /api/compact HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}");
    assert_int_equal(http_status(r), 400);
    free(r);

    /* an oversized head */
    size_t n = 16500;   /* complete, so nothing is left unread when the port closes */
    char *big = malloc(n + 64);
    strcpy(big, "GET / HTTP/1.1\r\nX-Pad: ");
    size_t at = strlen(big);
    memset(big + at, 'p', n);
    strcpy(big + at + n, "\r\n\r\n");
    r = http(aport, big);
    assert_int_equal(http_status(r), 431);
    free(r);
    free(big);

    /* another site's page posting through the operator's browser */
    r = post("/api/compact", "Origin: http://evil.example\r\n", "{}");
    assert_int_equal(http_status(r), 403);
    free(r);
    assert_int_equal(compaction_runs(), 0);
    assert_true(server_log_contains(&srv, "refused a POST /api/compact"));
}

static void test_compact(void **state)
{
    (void)state;
    NEED_COMPACTD();
    /* head and body in separate writes: the body is waited for */
    char head[256];
    snprintf(head, sizeof head,
             "POST /api/compact HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n"
             "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n", aport, aport);
    const char *parts[] = {head, "{", "}", NULL};
    char *r = http_parts(aport, parts, NULL);
    assert_int_equal(http_status(r), 202);
    assert_int_equal(json_int(http_body(r), "run"), 1);
    assert_non_null(strstr(http_body(r), "\"started\":true"));
    free(r);

    /* at 1% of a core the run takes seconds: a second POST meets it */
    r = post("/api/compact", "", "");
    assert_int_equal(http_status(r), 409);
    assert_non_null(strstr(http_body(r), "already running"));
    free(r);
    r = get("/api/stats");
    assert_non_null(strstr(http_body(r), "\"running\":true"));
    free(r);
    assert_int_equal(compaction_runs(), 1);

    /* let it finish quickly, then the arena count has dropped */
    redisContext *a = server_connect_port(&srv, aport);
    redisReply *ar = run(a, "ARENAS");
    size_t before = ar->elements;
    freeReplyObject(ar);
    assert_reply_status(run(a, "CONFIG SET compact-cpu-pct 100"), "OK");
    int64_t deadline = harness_now_ms() + 20000;
    for (;;) {
        r = get("/api/stats");
        bool running = strstr(http_body(r), "\"running\":true") != NULL;
        free(r);
        if (!running)
            break;
        assert_true(harness_now_ms() < deadline);
        harness_sleep_ms(50);
    }
    r = get("/api/stats");
    assert_true(json_int(http_body(r), "run_arenas_released") > 0);
    free(r);
    ar = run(a, "ARENAS");
    assert_true(ar->elements < before);
    r = get("/api/arenas");
    assert_int_equal(json_int(http_body(r), "arenas"), (long long)ar->elements);
    free(r);
    freeReplyObject(ar);
    redisFree(a);
    assert_true(server_log_contains(&srv, "compaction started from the dashboard"));
}

static void test_password(void **state)
{
    (void)state;
    NEED_COMPACTD();
    struct server s2;
    int port2 = harness_free_port();
    char port2_s[16];
    snprintf(port2_s, sizeof port2_s, "%d", port2);
    const char *args[] = {"--admin-port", port2_s, "--admin-password", "dash pw",
                          "--compact-auto", "no", NULL};
    server_start(&s2, args);

    char *r = http(port2, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_int_equal(http_status(r), 200);   /* the page holds no data */
    free(r);

    r = http(port2, "GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_int_equal(http_status(r), 401);
    char *www = http_header(r, "WWW-Authenticate");
    assert_string_equal(www, "Bearer realm=\"compactd admin\"");
    char *ct = http_header(r, "Content-Type");
    assert_string_equal(ct, "application/json");
    assert_non_null(strstr(http_body(r), "\"error\":\"unauthorized"));
    free(www);
    free(ct);
    free(r);

    r = http(port2, "POST /api/compact HTTP/1.1\r\nHost: localhost\r\n"
                    "Authorization: Bearer wrong\r\n"
                    "Content-Length: 0\r\n\r\n");
    assert_int_equal(http_status(r), 401);
    free(r);
    /* /metrics keeps its Basic challenge (curl -u, Prometheus basic_auth) */
    r = http(port2, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_int_equal(http_status(r), 401);
    www = http_header(r, "WWW-Authenticate");
    assert_non_null(strstr(www, "Basic"));
    free(www);
    free(r);

    r = http(port2, "GET /api/stats HTTP/1.1\r\nAuthorization: Bearer dash pw\r\n\r\n");
    assert_int_equal(http_status(r), 200);
    assert_int_equal(json_int(strstr(http_body(r), "\"compaction\":"), "runs"), 0);
    free(r);
    r = http(port2, "POST /api/compact HTTP/1.1\r\nAuthorization: Bearer dash pw\r\n\r\n");
    assert_int_equal(http_status(r), 202);
    free(r);
    server_stop(&s2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_api_matches_daemon),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_password),
    };
    return cmocka_run_group_tests(tests, group_setup, server_group_teardown);
}
