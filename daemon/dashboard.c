/*
 * dashboard: the admin port's live arena dashboard (see dashboard.h).
 *
 * Everything here runs on the event loop, between requests, so the figures
 * of one response are consistent with each other: an arena listing is
 * taken in one go (alloc_arena_list) with no allocation or free in between.
 * The JSON is written by hand; every value is a number or a fixed string,
 * so nothing needs escaping.
 *
 * The listing is O(arenas) per request and the page asks once a second;
 * with the default 1 MiB arenas a 64 GiB cache has 64k of them, about 1 MiB
 * of JSON, which is why /api/arenas sends each arena as a short array.
 */
#include "daemon/dashboard.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "daemon/admin_http.h"
#include "daemon/compactor.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/server.h"
#include "keyspace/keyspace.h"

#define JSON_TYPE "application/json"
#define API_HEADERS "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"

/* The page runs only its own inline script and talks only to this port. */
#define PAGE_HEADERS                                                                      \
    "Cache-Control: no-store\r\n"                                                         \
    "X-Content-Type-Options: nosniff\r\n"                                                 \
    "X-Frame-Options: DENY\r\n"                                                           \
    "Referrer-Policy: no-referrer\r\n"                                                    \
    "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "           \
    "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "               \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"

static bool body_append(struct admin_http_body *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->len + n;
        char *np = realloc(b->p, cap);
        if (np == NULL)
            return false;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return true;
}

static int route_page(const struct admin_http_req *req, struct admin_http_body *b)
{
    b->content_type = "text/html; charset=utf-8";
    b->headers = PAGE_HEADERS;
    return body_append(b, dashboard_html, dashboard_html_len) ? 200 : 500;
}

/* The metric table's rows with a JSON name (daemon/metrics.h); the
 * compaction group's as the nested "compaction" object. Every value is a
 * number. */
static int route_stats(const struct admin_http_req *req, struct admin_http_body *b)
{
    b->content_type = JSON_TYPE;
    b->headers = API_HEADERS;
    struct metrics_snapshot s;
    metrics_read(&s);
    const struct metric *m = s.m;
    admin_body_printf(b, "{\"version\":\"%s\",\"time_ms\":%lld", COMPACTD_VERSION,
                      (long long)server_now_ms());
    for (int nested = 0; nested < 2; nested++) {
        if (nested)
            admin_body_printf(b, ",\"compaction\":{");
        bool first = nested;
        for (size_t i = 0; i < s.n; i++) {
            if (m[i].json == NULL || (m[i].group == METRIC_COMPACTION) != nested)
                continue;
            char v[32];
            if (m[i].flag)
                snprintf(v, sizeof(v), "%s", m[i].u ? "true" : "false");
            else
                metric_text(&m[i], v, sizeof(v));
            admin_body_printf(b, "%s\"%s\":%s", first ? "" : ",", m[i].json, v);
            first = false;
        }
    }
    admin_body_printf(b, "}}\n");
    return b->p ? 200 : 500;
}

/*
 * {"arena_size":N,"arenas":N,"classes":[{"class":c,"slot_size":s,
 *  "live_bytes":n,"reclaimable":n,"resident":n,"purged":n,
 *  "arenas":[[band,live,slots,evacuating,resident_pages,purged_pages],...]},...]}
 * Only classes that have arenas; arenas by class, then band (alloc's order).
 */
static int route_arenas(const struct admin_http_req *req, struct admin_http_body *b)
{
    b->content_type = JSON_TYPE;
    b->headers = API_HEADERS;
    size_t n = alloc_arena_list(-1, NULL, 0);
    struct alloc_arena_ref *refs = n ? malloc(n * sizeof(*refs)) : NULL;
    if (n && refs == NULL)
        return 500;
    /* nothing allocates in between, so the second count is the first */
    if (n)
        n = alloc_arena_list(-1, refs, n);
    struct alloc_stats as;
    alloc_stats(&as);
    admin_body_printf(b, "{\"arena_size\":%zu,\"arenas\":%zu,\"classes\":[", as.arena_size, n);
    for (size_t i = 0; i < n;) {
        const struct alloc_arena_info *first = &refs[i].info;
        struct alloc_class_stats cls;
        if (!alloc_class_stats(first->cls, &cls))
            memset(&cls, 0, sizeof(cls));
        admin_body_printf(b,
                          "%s{\"class\":%u,\"slot_size\":%zu,\"live_bytes\":%zu,"
                          "\"reclaimable\":%zu,\"resident\":%zu,\"purged\":%zu,\"arenas\":[",
                          i ? "," : "", first->cls, first->slot_size, cls.live_bytes,
                          cls.reclaimable, cls.resident, cls.purged);
        size_t j = i;
        for (; j < n && refs[j].info.cls == first->cls; j++) {
            const struct alloc_arena_info *ai = &refs[j].info;
            admin_body_printf(b, "%s[%u,%zu,%zu,%d,%zu,%zu]", j > i ? "," : "", ai->band,
                              ai->live, ai->slots, ai->evacuating ? 1 : 0, ai->resident_pages,
                              ai->purged_pages);
        }
        admin_body_printf(b, "]}");
        i = j;
    }
    admin_body_printf(b, "]}\n");
    free(refs);
    return b->p ? 200 : 500;
}

static int route_compact(const struct admin_http_req *req, struct admin_http_body *b)
{
    b->content_type = JSON_TYPE;
    b->headers = API_HEADERS;
    if (!compactor_start(-1, COMPACT_DASHBOARD)) {
        admin_body_printf(b, "{\"error\":\"a compaction is already running\",\"status\":409}\n");
        return 409;
    }
    struct alloc_compact_status cst;
    ks_compact_status(&cst);
    log_notice("Admin port: compaction started from the dashboard (%s)", req->addr);
    admin_body_printf(b, "{\"started\":true,\"run\":%llu}\n", (unsigned long long)cst.runs);
    return 202;
}

void dashboard_setup(void)
{
    admin_http_route_ex("/", ADMIN_HTTP_PUBLIC, route_page);
    admin_http_route_ex("/api/stats", ADMIN_HTTP_JSON, route_stats);
    admin_http_route_ex("/api/arenas", ADMIN_HTTP_JSON, route_arenas);
    admin_http_route_ex("/api/compact", ADMIN_HTTP_POST | ADMIN_HTTP_JSON, route_compact);
}
