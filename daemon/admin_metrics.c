/*
 * admin_metrics: GET /metrics on the admin port, the Prometheus text
 * exposition (version 0.0.4) of the server's figures: memory, keys,
 * clients, compaction, the per-size-class gauges and the latest census's
 * groups, every family with its HELP and TYPE lines.
 */
#include "daemon/admin_metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc/alloc.h"
#include "daemon/admin_http.h"
#include "daemon/metrics.h"
#include "keyspace/keyspace.h"

/* A family's HELP and TYPE lines, before its samples. */
static void family(struct admin_http_body *b, const char *name, const char *type,
                   const char *help)
{
    admin_body_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled sample. */
static void metric(struct admin_http_body *b, const char *name, const char *type,
                   const char *help, double v)
{
    family(b, name, type, help);
    admin_body_printf(b, "%s %.17g\n", name, v);
}

/* The per-class gauges, in the order class_row's `which` picks their values. */
static const struct {
    const char *name, *help;
} class_metrics[] = {
    {"compactd_class_arenas", "Arenas of the size class holding live blocks."},
    {"compactd_class_live_blocks", "Live blocks in the size class."},
    {"compactd_class_slots", "Slots in the size class's arenas."},
    {"compactd_class_live_bytes", "Requested bytes of the size class's live blocks."},
};

struct class_rows {
    struct admin_http_body *b;
    int which;
};

static void class_row(const struct alloc_class_stats *st, void *ctx)
{
    struct class_rows *cr = ctx;
    double v = cr->which == 0 ? (double)st->arenas : cr->which == 1 ? (double)st->live
             : cr->which == 2 ? (double)st->slots : (double)st->live_bytes;
    admin_body_printf(cr->b, "%s{class=\"%u\",slot_size=\"%zu\"} %.17g\n",
                      class_metrics[cr->which].name, st->cls, st->slot_size, v);
}

/*
 * The latest census's groups: the first CENSUS_METRIC_GROUPS by bytes, each
 * labelled with its prefix, then one "other" series for the rest (the
 * census's own "other" included), so the series stay bounded. Prefix bytes
 * outside printable ASCII are written \\xNN (a label value escapes only
 * backslash, quote and newline), so two prefixes never share a label.
 */
#define CENSUS_METRIC_GROUPS 20

static void prefix_label(struct admin_http_body *b, const struct ks_census_group *g)
{
    admin_body_printf(b, "{group=\"top\",prefix=\"");
    for (size_t i = 0; i < g->plen; i++) {
        unsigned char c = (unsigned char)g->prefix[i];
        if (c == '"' || c == '\\')
            admin_body_printf(b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            admin_body_printf(b, "\\\\x%02x", c);
        else
            admin_body_printf(b, "%c", c);
    }
    admin_body_printf(b, "\"}");
}

static void census_metrics(struct admin_http_body *b)
{
    struct ks_census_report r;
    ks_census_report(&r);
    metric(b, "compactd_census_running", "gauge", "1 while a census walks the keyspace.",
           r.running ? 1.0 : 0.0);
    if (!r.complete)
        return;
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"compactd_census_group_keys", "Keys of the group in the latest census."},
        {"compactd_census_group_bytes",
         "Bytes (as MEMORY USAGE counts them) of the group in the latest census."},
        {"compactd_census_group_pinned_arenas",
         "Sparse arenas the group's keys keep from being returned."},
    };
    for (int f = 0; f < 3; f++) {
        family(b, fam[f].name, "gauge", fam[f].help);
        uint64_t rest = 0;
        bool any_rest = false;
        size_t shown = 0;
        for (size_t i = 0; i < r.ngroups; i++) {
            const struct ks_census_group *g = &r.groups[i];
            uint64_t v = f == 0 ? g->keys : f == 1 ? g->bytes : g->pinned_arenas;
            if (g->other || shown == CENSUS_METRIC_GROUPS) {
                rest += v;
                any_rest = true;
                continue;
            }
            shown++;
            admin_body_printf(b, "%s", fam[f].name);
            prefix_label(b, g);
            admin_body_printf(b, " %llu\n", (unsigned long long)v);
        }
        if (any_rest)
            admin_body_printf(b, "%s{group=\"other\",prefix=\"\"} %llu\n", fam[f].name,
                              (unsigned long long)rest);
    }
}

static int route_metrics(const char *path, const char *query, struct admin_http_body *b)
{
    b->content_type = "text/plain; version=0.0.4; charset=utf-8";
    struct metrics_snapshot s;
    metrics_read(&s);
    const struct metric *m = s.m;
    for (size_t i = 0; i < s.n; i++) {
        if (m[i].prom == NULL)
            continue;
        char name[96];
        snprintf(name, sizeof(name), "compactd_%s", m[i].prom);
        metric(b, name, m[i].kind == METRIC_COUNTER ? "counter" : "gauge", m[i].help, m[i].d);
    }
    for (int w = 0; w < (int)(sizeof(class_metrics) / sizeof(class_metrics[0])); w++) {
        family(b, class_metrics[w].name, "gauge", class_metrics[w].help);
        struct class_rows cr = {b, w};
        alloc_class_stats_foreach(false, class_row, &cr);
    }
    census_metrics(b);
    return 200;
}

void admin_metrics_setup(void)
{
    admin_http_route("/metrics", route_metrics);
}
