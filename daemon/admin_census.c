/*
 * admin_census: the census's driver and two of its faces (see
 * admin_census.h): the CENSUS command and the JSON of /api/census; the
 * /metrics gauges are admin_metrics.c's.
 *
 * The timer keeps the compactor's discipline: one slice of census-slice-us,
 * then an idle time of slice * (100 - pct) / pct, so the walk's share of a
 * core stays at census-cpu-pct, and the event is pending exactly while a walk started
 * here runs. The keyspace clock is brought up to date before each slice,
 * so TTL buckets and the expired entries the walk skips follow the wall
 * clock.
 *
 * Key prefixes are bytes: RESP carries them as they are, JSON as escaped
 * strings (\u00XX for control and non-ASCII bytes, one code point per byte,
 * so two prefixes never print alike).
 */
#include "daemon/admin_census.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc/alloc.h"
#include "alloc/clock.h"
#include "daemon/admin_http.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "proto/text.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"
#include "proto/reply.h"
#include "proto/resp.h"

static const char err_busy[] =
    "ERR a census is already running (CENSUS STATUS shows it, CENSUS ABORT ends it)";

static struct event *step_ev;
static struct {
    uint64_t steps, max_step_us, cpu_us;   /* of the walk under way or the last one */
    uint64_t runs, aborted;
} walk;

/* The bucket names, in keyspace.h's order. */
static const char *const ttl_names[KS_CENSUS_TTLS] = {"none", "lt_1m", "lt_1h", "lt_1d", "longer"};
static const char *const size_names[KS_CENSUS_SIZES] = {"le_16", "le_64", "le_256", "le_1k",
                                                         "le_4k", "le_16k", "le_64k", "larger"};
static const char *const age_names[KS_CENSUS_AGES] = {"lt_1m", "lt_1h", "longer", "unknown"};

/* ---- the walk ---- */

static void schedule_step(uint64_t delay_us)
{
    struct timeval tv = {(time_t)(delay_us / 1000000u), (suseconds_t)(delay_us % 1000000u)};
    evtimer_add(step_ev, &tv);
}

static void on_step(evutil_socket_t fd, short what, void *arg)
{
    uint64_t slice = (uint64_t)cfg.census_slice_us;
    ks_clock_update_to(server_now_ms());
    uint64_t t0 = clock_mono_us();
    bool more = ks_census_step(slice);
    uint64_t took = clock_mono_us() - t0;
    walk.steps++;
    walk.cpu_us += took;
    if (took > walk.max_step_us)
        walk.max_step_us = took;
    if (!more) {
        struct ks_census_report r;
        ks_census_report(&r);
        log_notice("Census finished: %llu keys, %llu bytes in %zu groups; %.3f s, %llu steps "
                   "(%.3f ms of CPU, longest %.3f ms)",
                   (unsigned long long)r.keys, (unsigned long long)r.bytes, r.ngroups,
                   (double)(r.finished_ms - r.started_ms) / 1000.0,
                   (unsigned long long)walk.steps, (double)walk.cpu_us / 1000.0,
                   (double)walk.max_step_us / 1000.0);
        return;
    }
    uint64_t pct = (uint64_t)cfg.census_cpu_pct;
    schedule_step(pct >= 100 ? 0 : took * (100 - pct) / pct);
}

int census_setup(struct event_base *base)
{
    step_ev = evtimer_new(base, on_step, NULL);
    return step_ev != NULL ? 0 : -1;
}

void census_teardown(void)
{
    if (step_ev != NULL)
        event_free(step_ev);
    step_ev = NULL;
    ks_census_reset();
}

/*
 * Starts a walk; returns NULL or the error text. The options come as
 * name/value pairs from either face (CENSUS START's arguments, the
 * dashboard's form), so both say the same things about bad input.
 */
static const char *start(const struct slice *args, int nargs, const char *from)
{
    struct ks_census_opts o;
    ks_census_opts_default(&o);
    for (int i = 0; i < nargs; i += 2) {
        if (i + 1 >= nargs)
            return "ERR syntax error";
        const struct slice *name = &args[i], *val = &args[i + 1];
        long long v;
        if (slice_eq(name, "delimiter")) {
            if (val->len != 1)
                return "ERR DELIMITER must be exactly one byte";
            o.delim = val->p[0];
        } else if (slice_eq(name, "depth")) {
            if (!slice_to_ll(val, &v) || v < 1 || v > KS_CENSUS_DEPTH_MAX)
                return "ERR DEPTH must be an integer from 1 to 16";
            o.depth = (unsigned)v;
        } else if (slice_eq(name, "top")) {
            if (!slice_to_ll(val, &v) || v < 1 || v > KS_CENSUS_TOP_MAX)
                return "ERR TOP must be an integer from 1 to 1000";
            o.top = (unsigned)v;
        } else {
            return "ERR unknown CENSUS START option (DELIMITER, DEPTH or TOP)";
        }
    }
    _Static_assert(KS_CENSUS_DEPTH_MAX == 16 && KS_CENSUS_TOP_MAX == 1000,
                   "the error texts above state the bounds");
    int rc = ks_census_start(&o);
    if (rc == EBUSY)
        return err_busy;
    if (rc != 0)
        return "ERR out of memory for the census";
    walk.steps = walk.max_step_us = walk.cpu_us = 0;
    walk.runs++;
    log_notice("Census started from %s (delimiter 0x%02x, depth %u, top %u)", from,
               (unsigned)(unsigned char)o.delim, o.depth, o.top);
    schedule_step(0);
    return NULL;
}

/* ---- CENSUS ---- */

static void status_text(struct text *t)
{
    struct ks_census_report r;
    ks_census_report(&r);
    text_printf(t,
                "running:%d\r\n"
                "progress_pct:%.1f\r\n"
                "complete:%d\r\n"
                "has_previous:%d\r\n"
                "delimiter:%c\r\n"
                "depth:%u\r\n"
                "top:%u\r\n"
                "started_ms:%lld\r\n"
                "finished_ms:%lld\r\n"
                "keys:%llu\r\n"
                "bytes:%llu\r\n"
                "groups:%zu\r\n"
                "steps:%llu\r\n"
                "cpu_us:%llu\r\n"
                "max_step_us:%llu\r\n"
                "census_memory:%zu\r\n"
                "censuses:%llu\r\n"
                "censuses_aborted:%llu\r\n",
                r.running ? 1 : 0, r.running ? 100.0 * r.progress : (r.complete ? 100.0 : 0.0),
                r.complete ? 1 : 0, r.has_prev ? 1 : 0, r.opts.delim ? r.opts.delim : ':',
                r.opts.depth ? r.opts.depth : 1, r.opts.top ? r.opts.top : 50,
                (long long)r.started_ms, (long long)r.finished_ms, (unsigned long long)r.keys,
                (unsigned long long)r.bytes, r.ngroups, (unsigned long long)walk.steps,
                (unsigned long long)walk.cpu_us, (unsigned long long)walk.max_step_us, r.memory,
                (unsigned long long)walk.runs, (unsigned long long)walk.aborted);
}

static void field_u(struct reply *rp, const char *name, unsigned long long v)
{
    reply_cstr(rp, name);
    reply_int(rp, (long long)v);
}

static void buckets_map(struct reply *rp, const char *name, const uint64_t *v,
                        const char *const *names, int n)
{
    reply_cstr(rp, name);
    reply_map(rp, (size_t)n);
    for (int i = 0; i < n; i++)
        field_u(rp, names[i], v[i]);
}

static void group_map(struct reply *rp, const struct ks_census_group *g, bool full)
{
    reply_map(rp, full ? 11 : 6);
    reply_cstr(rp, "prefix");
    reply_bulk(rp, g->prefix, g->plen);
    field_u(rp, "other", g->other);
    field_u(rp, "keys", g->keys);
    field_u(rp, "bytes", g->bytes);
    reply_cstr(rp, "keys_delta");
    reply_int(rp, g->keys_delta);
    reply_cstr(rp, "bytes_delta");
    reply_int(rp, g->bytes_delta);
    if (!full)
        return;
    buckets_map(rp, "ttl", g->ttl, ttl_names, KS_CENSUS_TTLS);
    buckets_map(rp, "sizes", g->sizes, size_names, KS_CENSUS_SIZES);
    buckets_map(rp, "age", g->age, age_names, KS_CENSUS_AGES);
    field_u(rp, "pinned_keys", g->pinned_keys);
    field_u(rp, "pinned_arenas", g->pinned_arenas);
}

static void report_reply(struct reply *rp, const struct ks_census_report *r)
{
    size_t nclasses = 0;
    for (size_t i = 0; i < r->nclasses; i++)
        nclasses += r->classes[i].keys ? 1 : 0;
    reply_map(rp, 10);
    field_u(rp, "started_ms", (unsigned long long)r->started_ms);
    field_u(rp, "finished_ms", (unsigned long long)r->finished_ms);
    reply_cstr(rp, "delimiter");
    reply_bulk(rp, &r->opts.delim, 1);
    field_u(rp, "depth", r->opts.depth);
    field_u(rp, "keys", r->keys);
    field_u(rp, "bytes", r->bytes);
    field_u(rp, "has_previous", r->has_prev);
    reply_cstr(rp, "groups");
    reply_array(rp, r->ngroups);
    for (size_t i = 0; i < r->ngroups; i++)
        group_map(rp, &r->groups[i], true);
    reply_cstr(rp, "size_classes");
    reply_array(rp, nclasses);
    for (size_t i = 0; i < r->nclasses; i++) {
        if (!r->classes[i].keys)
            continue;
        reply_map(rp, 3);
        /* the last row holds the large blocks: class -1 */
        reply_cstr(rp, "class");
        reply_int(rp, i + 1 == r->nclasses ? -1 : (long long)i);
        field_u(rp, "keys", r->classes[i].keys);
        field_u(rp, "bytes", r->classes[i].bytes);
    }
    reply_cstr(rp, "bands");
    reply_array(rp, KS_CENSUS_BANDS);
    for (unsigned b = 0; b < KS_CENSUS_BANDS; b++) {
        reply_map(rp, 3);
        field_u(rp, "band", b);
        field_u(rp, "keys", r->bands[b].keys);
        field_u(rp, "bytes", r->bands[b].bytes);
    }
}

static int cmp_bytes_delta(const void *a, const void *b)
{
    const struct ks_census_group *x = *(const struct ks_census_group *const *)a;
    const struct ks_census_group *y = *(const struct ks_census_group *const *)b;
    return x->bytes_delta < y->bytes_delta ? 1 : x->bytes_delta > y->bytes_delta ? -1 : 0;
}

/* CENSUS DIFF: the latest census's groups and the vanished ones, by growth
 * in bytes, largest first. */
static void diff_reply(struct reply *rp, const struct ks_census_report *r)
{
    size_t n = r->ngroups + r->nvanished;
    const struct ks_census_group **v = malloc((n ? n : 1) * sizeof(*v));
    if (v == NULL) {
        reply_error(rp, "ERR out of memory");
        return;
    }
    for (size_t i = 0; i < r->ngroups; i++)
        v[i] = &r->groups[i];
    for (size_t i = 0; i < r->nvanished; i++)
        v[r->ngroups + i] = &r->vanished[i];
    qsort(v, n, sizeof(*v), cmp_bytes_delta);
    reply_array(rp, n);
    for (size_t i = 0; i < n; i++)
        group_map(rp, v[i], false);
    free(v);
}

void census_cmd(struct session *s, int argc, struct slice *argv)
{
    struct reply *rp = &s->reply;
    struct ks_census_report r;
    if (slice_eq(&argv[1], "start")) {
        char from[160];
        snprintf(from, sizeof from, "the admin port (%s)", conn_of(s)->addr);
        const char *err = start(argv + 2, argc - 2, from);
        if (err)
            reply_error(rp, err);
        else
            reply_status(rp, "Census started");
        return;
    }
    if (argc != 2) {
        reply_error(rp, "ERR syntax error: " CENSUS_USAGE);
        return;
    }
    if (slice_eq(&argv[1], "status")) {
        struct text t = {0};
        status_text(&t);
        text_reply(rp, &t);
    } else if (slice_eq(&argv[1], "abort")) {
        if (!ks_census_running()) {
            reply_error(rp, "ERR no census is running");
            return;
        }
        ks_census_abort();
        evtimer_del(step_ev);
        walk.aborted++;
        log_notice("Census aborted from the admin port (%s)", conn_of(s)->addr);
        reply_ok(rp);
    } else if (slice_eq(&argv[1], "report") || slice_eq(&argv[1], "diff")) {
        bool diff = slice_eq(&argv[1], "diff");
        ks_census_report(&r);
        if (!r.complete)
            reply_error(rp, "ERR no census has completed yet (CENSUS START, then CENSUS STATUS)");
        else if (diff && !r.has_prev)
            reply_error(rp, "ERR CENSUS DIFF needs two completed censuses with the same "
                            "DELIMITER and DEPTH");
        else if (diff)
            diff_reply(rp, &r);
        else
            report_reply(rp, &r);
    } else {
        reply_error(rp, "ERR syntax error: " CENSUS_USAGE);
    }
}

/* ---- /api/census ---- */

static void json_str(struct admin_http_body *b, const char *p, size_t n)
{
    admin_body_printf(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            admin_body_printf(b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            admin_body_printf(b, "\\u%04x", c);
        else
            admin_body_printf(b, "%c", c);
    }
    admin_body_printf(b, "\"");
}

static void json_buckets(struct admin_http_body *b, const char *name, const uint64_t *v,
                         const char *const *names, int n)
{
    admin_body_printf(b, ",\"%s\":{", name);
    for (int i = 0; i < n; i++)
        admin_body_printf(b, "%s\"%s\":%llu", i ? "," : "", names[i], (unsigned long long)v[i]);
    admin_body_printf(b, "}");
}

static int route_census(const struct admin_http_req *req, struct admin_http_body *b)
{
    struct ks_census_report r;
    ks_census_report(&r);
    b->content_type = "application/json";
    b->headers = "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
    admin_body_printf(b,
                      "{\"running\":%s,\"complete\":%s,\"progress_pct\":%.1f,"
                      "\"started_ms\":%lld,\"finished_ms\":%lld,\"delimiter\":",
                      r.running ? "true" : "false", r.complete ? "true" : "false",
                      r.running ? 100.0 * r.progress : (r.complete ? 100.0 : 0.0),
                      (long long)r.started_ms, (long long)r.finished_ms);
    char d = r.opts.delim ? r.opts.delim : ':';
    json_str(b, &d, 1);
    admin_body_printf(b,
                      ",\"depth\":%u,\"top\":%u,\"has_previous\":%s,\"keys\":%llu,\"bytes\":%llu,"
                      "\"census_memory\":%zu,\"groups\":[",
                      r.opts.depth ? r.opts.depth : 1, r.opts.top ? r.opts.top : 50,
                      r.has_prev ? "true" : "false", (unsigned long long)r.keys,
                      (unsigned long long)r.bytes, r.memory);
    for (size_t i = 0; i < r.ngroups; i++) {
        const struct ks_census_group *g = &r.groups[i];
        admin_body_printf(b, "%s{\"prefix\":", i ? "," : "");
        json_str(b, g->prefix, g->plen);
        admin_body_printf(b, ",\"other\":%s,\"keys\":%llu,\"bytes\":%llu",
                          g->other ? "true" : "false", (unsigned long long)g->keys,
                          (unsigned long long)g->bytes);
        json_buckets(b, "ttl", g->ttl, ttl_names, KS_CENSUS_TTLS);
        json_buckets(b, "classes", g->sizes, size_names, KS_CENSUS_SIZES);
        json_buckets(b, "age", g->age, age_names, KS_CENSUS_AGES);
        admin_body_printf(b,
                          ",\"pinned_keys\":%llu,\"pinned_arenas\":%llu,\"keys_delta\":%lld,"
                          "\"bytes_delta\":%lld}",
                          (unsigned long long)g->pinned_keys, (unsigned long long)g->pinned_arenas,
                          (long long)g->keys_delta, (long long)g->bytes_delta);
    }
    admin_body_printf(b, "],\"vanished\":[");
    for (size_t i = 0; i < r.nvanished; i++) {
        admin_body_printf(b, "%s{\"prefix\":", i ? "," : "");
        json_str(b, r.vanished[i].prefix, r.vanished[i].plen);
        admin_body_printf(b, ",\"keys_delta\":%lld,\"bytes_delta\":%lld}",
                          (long long)r.vanished[i].keys_delta, (long long)r.vanished[i].bytes_delta);
    }
    admin_body_printf(b, "],\"size_classes\":[");
    bool first = true;
    for (size_t i = 0; i < r.nclasses; i++) {
        if (!r.classes[i].keys)
            continue;
        admin_body_printf(b, "%s{\"class\":%lld,\"keys\":%llu,\"bytes\":%llu}", first ? "" : ",",
                          i + 1 == r.nclasses ? -1LL : (long long)i,
                          (unsigned long long)r.classes[i].keys,
                          (unsigned long long)r.classes[i].bytes);
        first = false;
    }
    admin_body_printf(b, "],\"bands\":[");
    for (unsigned i = 0; i < KS_CENSUS_BANDS; i++)
        admin_body_printf(b, "%s{\"band\":%u,\"keys\":%llu,\"bytes\":%llu}", i ? "," : "", i,
                          (unsigned long long)r.bands[i].keys,
                          (unsigned long long)r.bands[i].bytes);
    admin_body_printf(b, "]}\n");
    return b->p ? 200 : 500;
}

/*
 * POST /api/census/start: the dashboard's Start button. The body is a form
 * (name=value&...; delimiter may be percent-encoded), the same options as
 * CENSUS START.
 */
static int route_start(const struct admin_http_req *req, struct admin_http_body *b)
{
    b->content_type = "application/json";
    b->headers = "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
    struct slice args[8];
    char vals[4][4];
    int n = 0;
    const char *p = req->body, *end = req->body + req->body_len;
    const char *err = NULL;
    while (p < end && err == NULL) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq == NULL || n == 8) {
            err = "ERR syntax error";
            break;
        }
        const char *v = eq + 1;
        size_t vlen = (size_t)(stop - v), k = 0;
        char *out = vals[n / 2];
        for (size_t i = 0; i < vlen && err == NULL; i++, k++) {
            unsigned x;
            if (k == sizeof vals[0] - 1)
                err = "ERR syntax error";
            else if (v[i] == '%' && i + 2 < vlen && isxdigit((unsigned char)v[i + 1]) &&
                     isxdigit((unsigned char)v[i + 2]) && sscanf(v + i + 1, "%2x", &x) == 1)
                out[k] = (char)x, i += 2;
            else
                out[k] = v[i];
        }
        args[n++] = (struct slice){p, (size_t)(eq - p)};
        args[n++] = (struct slice){out, k};
        p = amp ? amp + 1 : end;
    }
    char from[160];
    snprintf(from, sizeof from, "the dashboard (%s)", req->addr);
    if (err == NULL)
        err = start(args, n, from);
    if (err != NULL) {
        admin_body_printf(b, "{\"error\":");
        json_str(b, err + 4, strlen(err + 4));   /* without "ERR " */
        int code = err == err_busy ? 409 : 400;
        admin_body_printf(b, ",\"status\":%d}\n", code);
        return code;
    }
    admin_body_printf(b, "{\"started\":true}\n");
    return 202;
}

void census_http_routes(void)
{
    admin_http_route_ex("/api/census", ADMIN_HTTP_JSON, route_census);
    admin_http_route_ex("/api/census/start", ADMIN_HTTP_POST | ADMIN_HTTP_JSON, route_start);
}
