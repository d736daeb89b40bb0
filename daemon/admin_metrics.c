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
#include <string.h>

#include "alloc/alloc.h"
#include "daemon/admin_http.h"
#include "daemon/conn.h"
#include "daemon/server.h"
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
    struct alloc_stats as;
    struct ks_stats ks;
    struct alloc_compact_status cst;
    alloc_stats(&as);
    ks_stats(&ks);
    ks_compact_status(&cst);
    b->content_type = "text/plain; version=0.0.4; charset=utf-8";

    metric(b, "compactd_used_memory_bytes", "gauge",
           "Data memory as maxmemory counts it (live entry bytes plus the index).",
           (double)ks_used_memory());
    metric(b, "compactd_rss_bytes", "gauge", "Resident set size of the process.",
           (double)alloc_rss_bytes());
    metric(b, "compactd_mapped_bytes", "gauge",
           "Bytes the allocator holds from the OS (arenas, retained arenas, large blocks).",
           (double)as.mapped_bytes);
    metric(b, "compactd_live_bytes", "gauge", "Requested bytes of live entries.",
           (double)as.live_bytes);
    metric(b, "compactd_arenas", "gauge", "Arenas holding live blocks.", (double)as.arenas);
    metric(b, "compactd_retained_arenas", "gauge", "Empty arenas kept mapped for reuse.",
           (double)as.retained_arenas);
    metric(b, "compactd_keys", "gauge", "Keys in the keyspace.", (double)ks.keys);
    metric(b, "compactd_expires", "gauge", "Keys with a time to live.", (double)ks.expires);
    metric(b, "compactd_connected_clients", "gauge", "Client connections on the data port.",
           (double)conn_count());
    metric(b, "compactd_admin_connections", "gauge", "Connections on the admin port.",
           (double)conn_admin_count());
    metric(b, "compactd_uptime_seconds", "gauge", "Seconds since the server started.",
           (double)(server_now_ms() - srv.start_ms) / 1000.0);
    metric(b, "compactd_compaction_running", "gauge", "1 while a compaction run is active.",
           cst.running ? 1.0 : 0.0);
    metric(b, "compactd_compaction_reclaimable_bytes", "gauge",
           "Bytes a compaction could return to the OS now.", (double)cst.reclaimable);
    metric(b, "compactd_compaction_packable_bytes", "gauge",
           "Resident bytes a packing compaction could return to the OS now.",
           (double)cst.packable);

    for (int w = 0; w < (int)(sizeof(class_metrics) / sizeof(class_metrics[0])); w++) {
        family(b, class_metrics[w].name, "gauge", class_metrics[w].help);
        struct class_rows cr = {b, w};
        alloc_class_stats_foreach(false, class_row, &cr);
    }

    metric(b, "compactd_compaction_runs_total", "counter", "Compaction runs started.",
           (double)cst.runs);
    struct ks_compact_stats kc;
    ks_compact_stats(&kc);
#define PROM_COUNTER "counter"
#define PROM_GAUGE "gauge"
#define X(field, kind, help) \
    metric(b, "compactd_compaction_" #field "_total", PROM_##kind, help, (double)kc.field);
    KS_COMPACT_METRICS(X)
#undef X
    /* alloc's rows, but time in seconds (Prometheus's unit), not microseconds */
#define X(field, kind, help)                                                             \
    if (strcmp(#field, "time_us") != 0)                                                  \
        metric(b, "compactd_compaction_" #field "_total", PROM_##kind, help,             \
               (double)cst.total.field);
    ALLOC_COMPACT_METRICS(X)
#undef X
    metric(b, "compactd_compaction_seconds_total", "counter",
           "Time spent in compaction steps.", (double)cst.total.time_us / 1e6);
    metric(b, "compactd_expired_keys_total", "counter", "Keys deleted because their TTL passed.",
           (double)ks.expired_keys);
    metric(b, "compactd_evicted_keys_total", "counter", "Keys evicted by maxmemory-policy.",
           (double)ks.evicted_keys);
    metric(b, "compactd_commands_processed_total", "counter", "Commands run on the data port.",
           (double)srv.stats.total_commands);
    metric(b, "compactd_connections_received_total", "counter", "Connections accepted.",
           (double)srv.stats.total_connections);
    metric(b, "compactd_keyspace_hits_total", "counter", "Successful key lookups.",
           (double)ks.keyspace_hits);
    metric(b, "compactd_keyspace_misses_total", "counter", "Failed key lookups.",
           (double)ks.keyspace_misses);
    metric(b, "compactd_net_input_bytes_total", "counter", "Bytes read from clients.",
           (double)srv.stats.net_input_bytes);
    metric(b, "compactd_net_output_bytes_total", "counter", "Bytes written to clients.",
           (double)srv.stats.net_output_bytes);
    metric(b, "compactd_output_buffer_disconnects_total", "counter",
           "Clients closed by client-output-buffer-limit.", (double)srv.stats.obl_disconnects);
    metric(b, "compactd_admin_commands_total", "counter", "Commands run on the admin port.",
           (double)srv.stats.admin_commands);
    metric(b, "compactd_admin_error_replies_total", "counter",
           "Error replies on the admin port (not in INFO errorstats).",
           (double)srv.stats.admin_error_replies);
    metric(b, "compactd_admin_rejected_connections_total", "counter",
           "Admin-port connections refused for admin-maxclients.",
           (double)srv.stats.admin_rejected);
    metric(b, "compactd_cross_protocol_requests_total", "counter",
           "Data-port connections closed for sending an HTTP request (POST or Host:).",
           (double)srv.stats.cross_protocol);
    metric(b, "compactd_accept_backoffs_total", "counter",
           "Pauses of accept() for lack of file descriptors or kernel memory.",
           (double)srv.stats.accept_fd_waits);
    census_metrics(b);
    return 200;
}

void admin_metrics_setup(void)
{
    admin_http_route("/metrics", route_metrics);
}
