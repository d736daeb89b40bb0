/*
 * admin: the admin port's commands and its HTTP side (see admin.h).
 *
 * The admin table is separate from proto's command table on purpose: the
 * data port must never run admin commands and the admin port never data
 * commands, and neither may show up in the other's COMMAND, INFO
 * commandstats or SLOWLOG. Admin commands are few, cheap and run by hand,
 * so a linear table is enough.
 *
 * Replies are RESP2/RESP3-neutral: text for the status-like commands
 * (STATS, COMPACT STATUS: "field:value" lines, like INFO) and maps (arrays
 * of field/value pairs in RESP2) for the per-arena and per-key listings.
 */
#include "daemon/admin.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "alloc/alloc.h"
#include "daemon/compactor.h"
#include "daemon/cmd_server.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/dashboard.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/text.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"
#include "proto/reply.h"
#include "proto/resp.h"

#define HTTP_HEAD_MAX   16384   /* a request head larger than this gets 431 */
#define HTTP_ROUTES_MAX 16
#define PINNERS_DEFAULT 10
#define PINNERS_MAX     10000

/* ---- small helpers ---- */

void admin_body_printf(struct admin_http_body *b, const char *fmt, ...)
{
    struct text t = {b->p, b->len, b->cap, false};
    va_list ap;
    va_start(ap, fmt);
    text_vprintf(&t, fmt, ap);
    va_end(ap);
    b->p = t.p;
    b->len = t.len;
    b->cap = t.cap;
}

/* A non-negative decimal argument. */
static bool arg_uint(const struct slice *a, long long max, long long *out)
{
    long long v;
    if (!slice_to_ll(a, &v) || v < 0 || v > max)
        return false;
    *out = v;
    return true;
}

static void err_args(struct conn *c, const char *name)
{
    reply_errorf(&c->sess.reply, "ERR wrong number of arguments for '%s' command", name);
}

/* ---- commands ---- */

typedef void (*admin_fn)(struct conn *c, int argc, struct slice *argv);

struct admin_cmd {
    const char *name;
    int min_argc, max_argc;   /* counting the name; max -1 = no limit */
    admin_fn fn;
    const char *usage;
    const char *help;
};

static void a_auth(struct conn *c, int argc, struct slice *argv)
{
    if (cfg.admin_password[0] == '\0') {
        reply_error(&c->sess.reply, "ERR AUTH called without any admin-password configured");
        return;
    }
    const struct slice *pw = &argv[argc - 1];   /* AUTH [user] password: any user */
    if (!config_secret_eq(cfg.admin_password, pw->p, pw->len)) {
        log_warn("Admin port: failed AUTH from %s", c->addr);
        reply_error(&c->sess.reply, "WRONGPASS invalid admin password");
        return;
    }
    c->sess.need_auth = false;
    reply_ok(&c->sess.reply);
}

static void a_ping(struct conn *c, int argc, struct slice *argv)
{
    if (argc == 2)
        reply_bulk(&c->sess.reply, argv[1].p, argv[1].len);
    else
        reply_status(&c->sess.reply, "PONG");
}

static void a_quit(struct conn *c, int argc, struct slice *argv)
{
    reply_ok(&c->sess.reply);
    c->sess.close_after_reply = true;
}

static void compact_status_text(struct text *t)
{
    struct alloc_compact_status st;
    struct compactor_stats cs;
    ks_compact_status(&st);
    compactor_stats(&cs);
    double pct = st.arenas_planned ? 100.0 * (double)st.arenas_done / (double)st.arenas_planned
                                   : (st.running ? 0.0 : 100.0);
    text_printf(t,
                "running:%d\r\n"
                "class_filter:%d\r\n"
                "current_class:%u\r\n"
                "current_band:%u\r\n"
                "arenas_planned:%zu\r\n"
                "arenas_done:%zu\r\n"
                "progress_pct:%.1f\r\n"
                "run_classes_touched:%llu\r\n"
                "run_blocks_moved:%llu\r\n"
                "run_bytes_moved:%llu\r\n"
                "run_blocks_dropped:%llu\r\n"
                "run_arenas_released:%llu\r\n"
                "run_arenas_abandoned:%llu\r\n"
                "run_duration_us:%llu\r\n"
                "run_mapped_before:%zu\r\n"
                "run_mapped_after:%zu\r\n"
                "reclaimable_bytes:%zu\r\n"
                "runs:%llu\r\n"
                "runs_finished:%llu\r\n"
                "runs_auto:%llu\r\n"
                "runs_scheduled:%llu\r\n"
                "runs_manual:%llu\r\n"
                "total_classes_touched:%llu\r\n"
                "total_blocks_moved:%llu\r\n"
                "total_bytes_moved:%llu\r\n"
                "total_blocks_dropped:%llu\r\n"
                "total_arenas_evacuated:%llu\r\n"
                "total_arenas_released:%llu\r\n"
                "total_arenas_abandoned:%llu\r\n"
                "total_move_failures:%llu\r\n"
                "total_steps:%llu\r\n"
                "total_time_us:%llu\r\n"
                "max_step_us:%llu\r\n"
                "last_rss_before:%llu\r\n"
                "last_rss_after:%llu\r\n",
                st.running ? 1 : 0, st.cls, st.cur_cls, st.cur_band, st.arenas_planned,
                st.arenas_done, pct, (unsigned long long)st.classes_touched,
                (unsigned long long)st.blocks_moved, (unsigned long long)st.bytes_moved,
                (unsigned long long)st.blocks_dropped, (unsigned long long)st.arenas_released,
                (unsigned long long)st.arenas_abandoned, (unsigned long long)st.duration_us,
                st.mapped_before, st.mapped_after, st.reclaimable,
                (unsigned long long)st.runs, (unsigned long long)st.runs_finished,
                (unsigned long long)cs.runs_auto, (unsigned long long)cs.runs_scheduled,
                (unsigned long long)cs.runs_manual,
                (unsigned long long)st.total.classes_touched,
                (unsigned long long)st.total.blocks_moved, (unsigned long long)st.total.bytes_moved,
                (unsigned long long)st.total.blocks_dropped,
                (unsigned long long)st.total.arenas_evacuated,
                (unsigned long long)st.total.arenas_released,
                (unsigned long long)st.total.arenas_abandoned,
                (unsigned long long)st.total.move_failures, (unsigned long long)st.total.steps,
                (unsigned long long)st.total.time_us, (unsigned long long)cs.max_step_us,
                (unsigned long long)cs.last_rss_before, (unsigned long long)cs.last_rss_after);
}

/* Parses "CLASS n" at argv[i]; replies the error and returns false if bad. */
static bool parse_class(struct conn *c, int argc, struct slice *argv, int i, int *cls)
{
    long long v;
    if (i + 1 >= argc) {
        reply_error(&c->sess.reply, "ERR CLASS needs a class number");
        return false;
    }
    if (!arg_uint(&argv[i + 1], 1000000, &v) || (unsigned)v >= alloc_class_count()) {
        reply_errorf(&c->sess.reply, "ERR no such size class (there are %u: 0..%u)",
                     alloc_class_count(), alloc_class_count() - 1);
        return false;
    }
    *cls = (int)v;
    return true;
}

static void a_compact(struct conn *c, int argc, struct slice *argv)
{
    if (argc == 2 && slice_eq(&argv[1], "abort")) {
        if (compactor_abort())
            reply_ok(&c->sess.reply);
        else
            reply_error(&c->sess.reply, "ERR no compaction is running");
        return;
    }
    if (argc == 2 && slice_eq(&argv[1], "status")) {
        struct text t = {0};
        compact_status_text(&t);
        text_reply(&c->sess.reply, &t);
        return;
    }
    bool sync = false;
    int cls = -1;
    for (int i = 1; i < argc; i++) {
        if (slice_eq(&argv[i], "sync")) {
            sync = true;
        } else if (slice_eq(&argv[i], "async")) {
            sync = false;
        } else if (slice_eq(&argv[i], "class")) {
            if (!parse_class(c, argc, argv, i, &cls))
                return;
            i++;
        } else {
            reply_error(&c->sess.reply,
                        "ERR syntax error: COMPACT [SYNC|ASYNC] [CLASS n] | COMPACT STATUS | COMPACT ABORT");
            return;
        }
    }
    if (sync) {
        compactor_run_sync(cls);
        struct alloc_compact_status st;
        ks_compact_status(&st);
        struct text t = {0};
        text_printf(&t,
                    "classes_touched:%llu\r\nblocks_moved:%llu\r\nbytes_moved:%llu\r\n"
                    "blocks_dropped:%llu\r\narenas_released:%llu\r\nduration_us:%llu\r\n"
                    "mapped_before:%zu\r\nmapped_after:%zu\r\n",
                    (unsigned long long)st.classes_touched, (unsigned long long)st.blocks_moved,
                    (unsigned long long)st.bytes_moved, (unsigned long long)st.blocks_dropped,
                    (unsigned long long)st.arenas_released, (unsigned long long)st.duration_us,
                    st.mapped_before, st.mapped_after);
        text_reply(&c->sess.reply, &t);
        return;
    }
    if (!compactor_start(cls, "manual"))
        reply_error(&c->sess.reply, "ERR a compaction is already running (see COMPACT STATUS)");
    else
        reply_status(&c->sess.reply, "Compaction started");
}

/* Map fields of ARENAS and PINNERS rows. */
static void field_int(struct reply *r, const char *name, long long v)
{
    reply_cstr(r, name);
    reply_int(r, v);
}

/* occupancy_pct: a decimal string with one digit, as operators read it. */
static void field_occupancy(struct reply *r, size_t live, size_t slots)
{
    char occ[32];
    snprintf(occ, sizeof(occ), "%.1f", slots ? 100.0 * (double)live / (double)slots : 0.0);
    reply_cstr(r, "occupancy_pct");
    reply_cstr(r, occ);
}

/* arena: the arena's address, to match rows of ARENAS and PINNERS. */
static void field_arena(struct reply *r, const void *base)
{
    char addr[32];
    snprintf(addr, sizeof(addr), "%p", base);
    reply_cstr(r, "arena");
    reply_cstr(r, addr);
}

static void arena_map(struct conn *c, const struct alloc_arena_info *ai)
{
    struct reply *r = &c->sess.reply;
    reply_map(r, 7);
    field_int(r, "class", ai->cls);
    field_int(r, "slot_size", (long long)ai->slot_size);
    field_int(r, "band", ai->band);
    field_int(r, "slots", (long long)ai->slots);
    field_int(r, "live", (long long)ai->live);
    field_occupancy(r, ai->live, ai->slots);
    field_arena(r, ai->base);
}

static void a_arenas(struct conn *c, int argc, struct slice *argv)
{
    int only = -1;
    if (argc == 3) {
        if (!slice_eq(&argv[1], "class")) {
            reply_error(&c->sess.reply, "ERR syntax error: ARENAS [CLASS n]");
            return;
        }
        if (!parse_class(c, argc, argv, 1, &only))
            return;
    } else if (argc != 1) {
        reply_error(&c->sess.reply, "ERR syntax error: ARENAS [CLASS n]");
        return;
    }
    size_t h = reply_defer(&c->sess.reply);
    size_t n = 0;
    unsigned ncls = alloc_class_count();
    for (unsigned cls = 0; cls < ncls; cls++) {
        if (only >= 0 && (unsigned)only != cls)
            continue;
        for (struct alloc_arena *a = alloc_arena_first(cls); a; a = alloc_arena_next(a)) {
            struct alloc_arena_info ai;
            alloc_arena_info(a, &ai);
            arena_map(c, &ai);
            n++;
        }
    }
    reply_defer_array(&c->sess.reply, h, n);
}

struct pin_ctx {
    struct conn *c;
    size_t n;
};

static void pinner_one(const struct ks_pinner *p, void *ctx)
{
    struct pin_ctx *pc = ctx;
    struct reply *r = &pc->c->sess.reply;
    size_t klen = 0;
    const char *key = entry_key(p->e, &klen);
    int64_t exp = entry_expire(p->e);
    reply_map(r, 9);
    reply_cstr(r, "key");
    reply_bulk(r, key, klen);
    field_int(r, "class", p->cls);
    field_int(r, "band", p->band);
    field_int(r, "slot_size", (long long)p->slot_size);
    field_int(r, "arena_live", (long long)p->arena_live);
    field_int(r, "arena_slots", (long long)p->arena_slots);
    field_occupancy(r, p->arena_live, p->arena_slots);
    field_int(r, "ttl_ms", exp > 0 ? (long long)(exp - ks_now_ms()) : -1);
    field_arena(r, p->arena);
    pc->n++;
}

static void a_pinners(struct conn *c, int argc, struct slice *argv)
{
    long long n = PINNERS_DEFAULT;
    if (argc == 2 && !arg_uint(&argv[1], PINNERS_MAX, &n)) {
        reply_errorf(&c->sess.reply, "ERR PINNERS takes a count from 0 to %d", PINNERS_MAX);
        return;
    }
    ks_clock_update_to(server_now_ms());
    struct pin_ctx pc = {c, 0};
    size_t h = reply_defer(&c->sess.reply);
    ks_pinners((size_t)n, pinner_one, &pc);
    reply_defer_array(&c->sess.reply, h, pc.n);
}

static void stats_text(struct text *t)
{
    struct alloc_stats as;
    struct ks_stats ks;
    struct alloc_compact_status cst;
    alloc_stats(&as);
    ks_stats(&ks);
    ks_compact_status(&cst);
    size_t used = ks_used_memory();
    size_t rss = alloc_rss_bytes();
    text_printf(t,
                "# Memory\r\n"
                "used_memory:%zu\r\n"
                "used_memory_rss:%zu\r\n"
                "live_bytes:%zu\r\n"
                "slot_bytes:%zu\r\n"
                "index_bytes:%zu\r\n"
                "mapped_bytes:%zu\r\n"
                "arena_size:%zu\r\n"
                "arenas:%zu\r\n"
                "retained_arenas:%zu\r\n"
                "large_blocks:%zu\r\n"
                "large_bytes:%zu\r\n"
                "fragmentation_ratio:%.3f\r\n"
                "maxmemory:%lld\r\n"
                "evicted_keys:%llu\r\n"
                "# Expiry\r\n"
                "keys:%zu\r\n"
                "expires:%zu\r\n"
                "expired_keys:%llu\r\n"
                "# Compaction\r\n"
                "compaction_running:%d\r\n"
                "compaction_runs:%llu\r\n"
                "compaction_blocks_moved:%llu\r\n"
                "compaction_bytes_moved:%llu\r\n"
                "compaction_arenas_released:%llu\r\n"
                "compaction_time_us:%llu\r\n"
                "compaction_reclaimable_bytes:%zu\r\n"
                "# Clients\r\n"
                "connected_clients:%zu\r\n"
                "admin_connections:%zu\r\n"
                "admin_commands:%llu\r\n"
                "admin_error_replies:%llu\r\n",
                used, rss, as.live_bytes, as.slot_bytes, ks.index_bytes, as.mapped_bytes,
                as.arena_size, as.arenas, as.retained_arenas, as.large_blocks, as.large_bytes,
                as.live_bytes ? (double)as.mapped_bytes / (double)as.live_bytes : 0.0,
                cfg.maxmemory, (unsigned long long)ks.evicted_keys, ks.keys, ks.expires,
                (unsigned long long)ks.expired_keys, cst.running ? 1 : 0,
                (unsigned long long)cst.runs, (unsigned long long)cst.total.blocks_moved,
                (unsigned long long)cst.total.bytes_moved,
                (unsigned long long)cst.total.arenas_released,
                (unsigned long long)cst.total.time_us, cst.reclaimable, conn_count(),
                conn_admin_count(), (unsigned long long)srv.stats.admin_commands,
                (unsigned long long)srv.stats.admin_error_replies);
}

static void a_stats(struct conn *c, int argc, struct slice *argv)
{
    struct text t = {0};
    stats_text(&t);
    text_reply(&c->sess.reply, &t);
}

/* The options the admin port may read and change: memory, expiry and
 * compaction. Everything else stays on the data port (or the file). */
static bool admin_option(const struct cfg_option *o)
{
    static const char *const names[] = {
        "maxmemory", "maxmemory-policy", "maxmemory-samples", "arena-size", "arena-retain",
        "expire-cycle-ms", "expire-effort", "active-expire-sweep", "lifetime-segregation",
    };
    if (strncmp(o->name, "compact-", 8) == 0)
        return true;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(o->name, names[i]) == 0)
            return true;
    return false;
}

/* CONFIG GET and SET on the admin port: its options, its wording. */
static const struct cmd_server_port admin_port = {
    .allowed = admin_option,
    .refused = "ERR '%s' cannot be set on the admin port (only memory, expiry and compaction "
               "options)",
    .unknown = "ERR Unknown option '%s'",
};

static void a_config_set(struct conn *c, int argc, struct slice *argv)
{
    if (!cmd_server_config_set(&c->sess.reply, argc, argv, &admin_port))
        return;
    for (int i = 2; i < argc; i += 2)
        log_notice("Admin port: CONFIG SET %.*s %.*s (from %s)", (int)argv[i].len, argv[i].p,
                   (int)argv[i + 1].len, argv[i + 1].p, c->addr);
}

static void a_config(struct conn *c, int argc, struct slice *argv)
{
    if (slice_eq(&argv[1], "get")) {
        if (argc < 3)
            err_args(c, "config|get");
        else
            cmd_server_config_get(&c->sess.reply, argc, argv, &admin_port);
    } else if (slice_eq(&argv[1], "set")) {
        a_config_set(c, argc, argv);
    } else {
        reply_errorf(&c->sess.reply, "ERR unknown subcommand '%.*s'. Try CONFIG GET or CONFIG SET.",
                     (int)(argv[1].len > 64 ? 64 : argv[1].len), argv[1].p);
    }
}

static void a_purge(struct conn *c, int argc, struct slice *argv)
{
    struct alloc_stats before, after;
    alloc_stats(&before);
    alloc_release_retained();
    alloc_stats(&after);
    size_t freed = before.mapped_bytes > after.mapped_bytes ? before.mapped_bytes - after.mapped_bytes : 0;
    log_notice("Admin port: PURGE released %zu retained arenas (%zu bytes)",
               before.retained_arenas - after.retained_arenas, freed);
    reply_int(&c->sess.reply, (long long)freed);
}

static void a_shutdown(struct conn *c, int argc, struct slice *argv)
{
    /* No reply, as with Redis's SHUTDOWN: the client sees the close. */
    server_request_shutdown("Shutdown requested on the admin port...");
}

static void a_help(struct conn *c, int argc, struct slice *argv);

static const struct admin_cmd admin_cmds[] = {
    {"auth", 2, 3, a_auth, "AUTH [user] <password>", "Authenticate with admin-password."},
    {"ping", 1, 2, a_ping, "PING [message]", "Answer PONG (or the message)."},
    {"compact", 1, 5, a_compact, "COMPACT [SYNC|ASYNC] [CLASS n] | COMPACT STATUS | COMPACT ABORT",
     "Run a compaction (ASYNC: in the background, the default), show its state, or end it."},
    {"arenas", 1, 3, a_arenas, "ARENAS [CLASS n]",
     "Every arena: class, slot size, lifetime band, slots, live slots, occupancy."},
    {"pinners", 1, 2, a_pinners, "PINNERS [count]",
     "Live keys that pin the sparsest arenas (default 10)."},
    {"stats", 1, 1, a_stats, "STATS", "Memory, expiry and compaction counters."},
    {"config", 2, -1, a_config, "CONFIG GET <pattern> | CONFIG SET <name> <value> ...",
     "Read or change memory, expiry and compaction options."},
    {"purge", 1, 1, a_purge, "PURGE", "Return retained empty arenas to the OS; replies the bytes."},
    {"shutdown", 1, 1, a_shutdown, "SHUTDOWN", "Stop the server."},
    {"quit", 1, 1, a_quit, "QUIT", "Close this connection."},
    {"help", 1, 1, a_help, "HELP", "This list."},
};
#define NADMIN (sizeof(admin_cmds) / sizeof(admin_cmds[0]))

static void a_help(struct conn *c, int argc, struct slice *argv)
{
    struct reply *r = &c->sess.reply;
    reply_array(r, 1 + 2 * NADMIN + 1);
    reply_status(r, "compactd admin port commands (HTTP: dashboard at GET /, metrics at "
                    "GET /metrics):");
    for (size_t i = 0; i < NADMIN; i++) {
        reply_status(r, admin_cmds[i].usage);
        char line[256];
        snprintf(line, sizeof(line), "    %s", admin_cmds[i].help);
        reply_status(r, line);
    }
    reply_status(r, "With admin-password set, AUTH first.");
}

void admin_run(struct conn *c)
{
    int argc = c->req.argc;
    struct slice *argv = c->req.argv;
    if (argc <= 0)
        return;
    const struct admin_cmd *cmd = NULL;
    for (size_t i = 0; i < NADMIN; i++) {
        if (slice_eq(&argv[0], admin_cmds[i].name)) {
            cmd = &admin_cmds[i];
            break;
        }
    }
    if (c->sess.need_auth && (cmd == NULL || (cmd->fn != a_auth && cmd->fn != a_quit))) {
        reply_error(&c->sess.reply, ERR_NOAUTH);
        return;
    }
    if (cmd == NULL) {
        int n = (int)(argv[0].len > 64 ? 64 : argv[0].len);
        /* printable only: the name is echoed to an operator's terminal */
        char name[65];
        for (int i = 0; i < n; i++)
            name[i] = isprint((unsigned char)argv[0].p[i]) ? argv[0].p[i] : '?';
        name[n] = '\0';
        reply_errorf(&c->sess.reply, "ERR unknown admin command '%s'. Try HELP.", name);
        return;
    }
    if (argc < cmd->min_argc || (cmd->max_argc >= 0 && argc > cmd->max_argc)) {
        err_args(c, cmd->name);
        return;
    }
    srv.stats.admin_commands++;
    cmd->fn(c, argc, argv);
}

/* ---- HTTP ---- */

struct http_route {
    const char *path;
    admin_http_fn fn;        /* either this (GET/HEAD, flags 0) */
    admin_http_req_fn fn_ex; /* or this, with flags */
    unsigned flags;
};
static struct http_route routes[HTTP_ROUTES_MAX];
static size_t nroutes;

static bool route_add(struct http_route r)
{
    if (nroutes == HTTP_ROUTES_MAX)
        return false;
    for (size_t i = 0; i < nroutes; i++)
        if (strcmp(routes[i].path, r.path) == 0)
            return false;
    routes[nroutes++] = r;
    return true;
}

bool admin_http_route(const char *path, admin_http_fn fn)
{
    return route_add((struct http_route){path, fn, NULL, 0});
}

bool admin_http_route_ex(const char *path, unsigned flags, admin_http_req_fn fn)
{
    return route_add((struct http_route){path, NULL, fn, flags});
}

int admin_http_detect(const char *buf, size_t len)
{
    static const char *const methods[] = {"GET ", "POST", "HEAD"};
    size_t n = len < 4 ? len : 4;
    bool prefix = false;
    for (size_t i = 0; i < 3; i++) {
        if (memcmp(buf, methods[i], n) == 0) {
            if (n == 4)
                return 1;
            prefix = true;
        }
    }
    return prefix ? -1 : 0;
}

static void metric(struct admin_http_body *b, const char *name, const char *type,
                   const char *help, double v)
{
    admin_body_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
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

    for (int w = 0; w < (int)(sizeof(class_metrics) / sizeof(class_metrics[0])); w++) {
        admin_body_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", class_metrics[w].name,
                          class_metrics[w].help, class_metrics[w].name);
        struct class_rows cr = {b, w};
        alloc_class_stats_foreach(false, class_row, &cr);
    }

    metric(b, "compactd_compaction_runs_total", "counter", "Compaction runs started.",
           (double)cst.runs);
    metric(b, "compactd_compaction_blocks_moved_total", "counter",
           "Entries moved by compaction.", (double)cst.total.blocks_moved);
    metric(b, "compactd_compaction_bytes_moved_total", "counter", "Bytes moved by compaction.",
           (double)cst.total.bytes_moved);
    metric(b, "compactd_compaction_arenas_released_total", "counter",
           "Arenas compaction emptied and returned to the OS.",
           (double)cst.total.arenas_released);
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
    return 200;
}

static const char *reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
    }
}

/* flags: the route's (ADMIN_HTTP_JSON: the port's own errors as JSON, and a
 * 401 that challenges only for Bearer, so a browser's fetch() gets the
 * error instead of a login dialog). */
static void http_respond(struct conn *c, int code, bool head_only, unsigned flags,
                         struct admin_http_body *b)
{
    struct text t = {0};
    if (b->len == 0 && code != 200) {
        if (flags & ADMIN_HTTP_JSON) {
            b->content_type = "application/json";
            admin_body_printf(b, "{\"error\":\"%s\",\"status\":%d}\n",
                              code == 401 ? "unauthorized: wrong or missing admin password"
                                          : reason(code), code);
        } else {
            admin_body_printf(b, "%d %s\n", code, reason(code));
        }
    }
    text_printf(&t,
                "HTTP/1.1 %d %s\r\n"
                "Server: compactd/%s\r\n"
                "Content-Type: %s\r\n"
                "Content-Length: %zu\r\n"
                "Connection: close\r\n"
                "%s%s"
                "\r\n",
                code, reason(code), COMPACTD_VERSION,
                b->content_type ? b->content_type : "text/plain; charset=utf-8", b->len,
                code == 401 ? (flags & ADMIN_HTTP_JSON
                                   ? "WWW-Authenticate: Bearer realm=\"compactd admin\"\r\n"
                                   : "WWW-Authenticate: Basic realm=\"compactd admin\", "
                                     "Bearer realm=\"compactd admin\"\r\n")
                : code == 405 ? (flags & ADMIN_HTTP_POST ? "Allow: POST\r\n" : "Allow: GET, HEAD\r\n")
                              : "",
                b->headers ? b->headers : "");
    if (!head_only && b->len > 0)
        text_printf(&t, "%.*s", (int)b->len, b->p);
    if (t.oom)
        c->sess.close_after_reply = true;
    else
        reply_raw(&c->sess.reply, t.p, t.len);
    free(t.p);
    free(b->p);
    c->sess.close_after_reply = true;
}

static int b64val(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

/* Decodes base64 (padding optional) into out; returns the length or -1. */
static long b64_decode(const char *in, size_t n, char *out, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '=')
            break;
        int v = b64val(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    return (long)o;
}

/* Whether the Authorization header value grants access. */
static bool http_authorized(const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n > 7 && strncasecmp(v, "Bearer ", 7) == 0)
        return config_secret_eq(cfg.admin_password, v + 7, n - 7);
    if (n > 6 && strncasecmp(v, "Basic ", 6) == 0) {
        char dec[1024];
        long dl = b64_decode(v + 6, n - 6, dec, sizeof(dec));
        if (dl < 0)
            return false;
        char *colon = memchr(dec, ':', (size_t)dl);
        if (colon == NULL)
            return false;
        size_t pl = (size_t)(dec + dl - (colon + 1));
        return config_secret_eq(cfg.admin_password, colon + 1, pl);
    }
    return false;
}

/* The value of header line h (length hl) if its name is name, else NULL. */
static const char *header_value(const char *h, size_t hl, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    if (hl <= nl || strncasecmp(h, name, nl) != 0 || h[nl] != ':')
        return NULL;
    const char *v = h + nl + 1;
    size_t n = hl - nl - 1;
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    *vlen = n;
    return v;
}

/* Whether Origin (a browser's "scheme://host[:port]") names Host. */
static bool origin_is_host(const char *o, size_t ol, const char *host, size_t hl)
{
    const char *sep = ol > 3 ? memmem(o, ol, "://", 3) : NULL;
    if (sep == NULL || hl == 0)
        return false;
    size_t off = (size_t)(sep + 3 - o);
    return ol - off == hl && strncasecmp(sep + 3, host, hl) == 0;
}

/* Whether s (length n) is a dotted-quad in 127.0.0.0/8: digits only, so a
 * DNS name such as "127.example.com" does not pass. */
static bool ipv4_loopback(const char *s, size_t n)
{
    if (n < 7 || n > 15 || memcmp(s, "127.", 4) != 0)
        return false;
    int dots = 0, digits = 0;
    for (size_t i = 4; i < n; i++) {
        if (s[i] == '.') {
            if (digits == 0)
                return false;
            dots++;
            digits = 0;
        } else if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
            digits++;
        } else {
            return false;
        }
    }
    return dots == 2 && digits > 0;
}

/*
 * Whether a Host header value names this server in a way a DNS-rebinding
 * page cannot produce: a loopback name or address, or the admin-bind
 * address itself (each with or without :port). A rebinding page's
 * requests carry the attacker's host name, so they fail this.
 */
static bool http_host_ok(const char *h, size_t n)
{
    /* split off ":port" (digits only); IPv6 literals come in brackets */
    const char *name = h;
    size_t nl = n;
    const char *colon = NULL;
    if (n > 0 && h[0] == '[') {
        const char *rb = memchr(h, ']', n);
        if (rb == NULL)
            return false;
        if ((size_t)(rb + 1 - h) < n) {
            if (rb[1] != ':')
                return false;
            colon = rb + 1;
        }
    } else {
        colon = memchr(h, ':', n);
    }
    if (colon != NULL) {
        for (const char *p = colon + 1; p < h + n; p++)
            if (*p < '0' || *p > '9')
                return false;
        nl = (size_t)(colon - h);
    }
    if (nl == 0)
        return false;
    if ((nl == 9 && strncasecmp(name, "localhost", 9) == 0) ||
        (nl == 5 && memcmp(name, "[::1]", 5) == 0) || ipv4_loopback(name, nl))
        return true;
    /* the admin-bind address: "::1"-style binds appear bracketed in Host */
    size_t bl = strlen(cfg.admin_bind);
    if (bl == 0)
        return false;
    if (name[0] == '[')
        return nl == bl + 2 && memchr(cfg.admin_bind, ':', bl) != NULL &&
               strncasecmp(name + 1, cfg.admin_bind, bl) == 0;
    return nl == bl && strncasecmp(name, cfg.admin_bind, bl) == 0;
}

/* Whether admin-bind is a loopback address (an HTTP/1.0 request without
 * Host can only come from this machine then). */
static bool bind_is_loopback(void)
{
    const char *b = cfg.admin_bind;
    return ipv4_loopback(b, strlen(b)) || strcmp(b, "::1") == 0 || strcmp(b, "localhost") == 0;
}

size_t admin_http(struct conn *c, const char *buf, size_t len)
{
    /* the head ends at the first empty line */
    const char *end = NULL;
    size_t hlen = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] == '\n' && buf[i + 1] == '\n') {
            end = buf + i;
            hlen = i + 2;
            break;
        }
        if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            end = buf + i;
            hlen = i + 4;
            break;
        }
    }
    struct admin_http_body b = {0};
    if (end == NULL) {
        if (len > HTTP_HEAD_MAX) {
            http_respond(c, 431, false, 0, &b);
            return len;
        }
        return 0;
    }
    if (hlen > HTTP_HEAD_MAX) {
        http_respond(c, 431, false, 0, &b);
        return len;
    }

    /* request line: METHOD SP target SP HTTP/1.x */
    const char *eol = memchr(buf, '\n', (size_t)(end - buf) + 1);
    if (eol == NULL)
        eol = end;
    size_t llen = (size_t)(eol - buf);
    if (llen > 0 && buf[llen - 1] == '\r')
        llen--;
    char line[2048];
    if (llen >= sizeof(line)) {
        http_respond(c, 431, false, 0, &b);
        return len;
    }
    memcpy(line, buf, llen);
    line[llen] = '\0';
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        http_respond(c, sp2 && strncmp(sp2 + 1, "HTTP/", 5) == 0 ? 505 : 400, false, 0, &b);
        return len;
    }
    *sp1 = '\0';
    *sp2 = '\0';
    const char *method = line;
    char *target = sp1 + 1;
    bool head = strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    char *query = strchr(target, '?');
    if (query != NULL)
        *query++ = '\0';
    const struct http_route *route = NULL;
    for (size_t i = 0; i < nroutes; i++)
        if (strcmp(routes[i].path, target) == 0)
            route = &routes[i];
    unsigned flags = route ? route->flags : 0;

    /* headers: Authorization, and for a POST its length and origin */
    bool authorized = cfg.admin_password[0] == '\0';
    bool has_clen = false, bad_clen = false, chunked = false;   /* Content-Length seen, bad */
    size_t clen = 0;
    const char *origin = NULL, *host = NULL;
    size_t origin_len = 0, host_len = 0;
    const char *h = eol + 1;
    while (h < end) {
        const char *hn = memchr(h, '\n', (size_t)(end - h) + 1);
        if (hn == NULL)
            hn = end;
        size_t hl = (size_t)(hn - h);
        if (hl > 0 && h[hl - 1] == '\r')
            hl--;
        const char *v;
        size_t vl;
        if ((v = header_value(h, hl, "Authorization", &vl)) != NULL) {
            if (!authorized)
                authorized = http_authorized(v, vl);
        } else if ((v = header_value(h, hl, "Content-Length", &vl)) != NULL) {
            size_t n = 0;
            bool ok = vl > 0 && vl <= 9;
            for (size_t i = 0; ok && i < vl; i++) {
                ok = v[i] >= '0' && v[i] <= '9';
                n = n * 10 + (size_t)(v[i] - '0');
            }
            if (!ok || (has_clen && n != clen))
                bad_clen = true;
            has_clen = true;
            clen = n;
        } else if (header_value(h, hl, "Transfer-Encoding", &vl) != NULL) {
            chunked = true;
        } else if ((v = header_value(h, hl, "Origin", &vl)) != NULL) {
            origin = v;
            origin_len = vl;
        } else if ((v = header_value(h, hl, "Host", &vl)) != NULL) {
            host = v;
            host_len = vl;
        }
        h = hn + 1;
    }

    /* a POST's body: bounded, and only by Content-Length (none: empty);
     * a chunked one is refused rather than parsed */
    const char *body = NULL;
    if (post) {
        int code = 0;
        if (bad_clen)
            code = 400;
        else if (chunked)
            code = 411;
        else if (clen > ADMIN_HTTP_BODY_MAX)
            code = 413;
        if (code != 0) {
            srv.stats.admin_commands++;
            http_respond(c, code, false, flags, &b);
            return len;
        }
        if (len - hlen < clen)
            return 0;   /* the body is not all here yet */
        body = buf + hlen;
    }
    srv.stats.admin_commands++;

    /* DNS rebinding: a web page whose host name now resolves to this
     * machine could otherwise read /api and /metrics from an operator's
     * browser. Browsers always send the page's host name as Host. */
    bool http10 = sp2[8] == '0';
    bool host_ok = host != NULL ? http_host_ok(host, host_len) : http10 && bind_is_loopback();
    if (!host_ok && !(cfg.admin_password[0] != '\0' && authorized)) {
        log_warn("Admin port: refused an HTTP request from %s with Host %.*s", c->addr,
                 host ? (int)(host_len > 128 ? 128 : host_len) : 6, host ? host : "(none)");
        if (flags & ADMIN_HTTP_JSON) {
            b.content_type = "application/json";
            admin_body_printf(&b, "{\"error\":\"forbidden: %s (DNS rebinding guard)\","
                                  "\"status\":403}\n",
                              host ? "Host is not a loopback name or the admin-bind address"
                                   : "no Host header");
        } else {
            admin_body_printf(&b, "403 Forbidden: %s (DNS rebinding guard). Use "
                                  "http://127.0.0.1:<admin-port>/, or set admin-password and "
                                  "send it.\n",
                              host ? "Host is not a loopback name or the admin-bind address"
                                   : "no Host header");
        }
        http_respond(c, 403, head, flags, &b);
        return len;
    }

    if (!authorized && !(flags & ADMIN_HTTP_PUBLIC)) {
        log_verbose("Admin port: unauthorized HTTP request from %s", c->addr);
        http_respond(c, 401, head, flags, &b);
        return len;
    }

    int code;
    if (route == NULL) {
        code = 404;
    } else if ((flags & ADMIN_HTTP_POST) ? !post : (!head && strcmp(method, "GET") != 0)) {
        code = 405;
    } else if (post && origin != NULL && !origin_is_host(origin, origin_len, host, host_len)) {
        log_warn("Admin port: refused a POST %s from %s with Origin %.*s", target, c->addr,
                 (int)(origin_len > 128 ? 128 : origin_len), origin);
        code = 403;
    } else if (route->fn_ex != NULL) {
        struct admin_http_req req = {method, target, query ? query : "", body, post ? clen : 0,
                                     c->addr};
        code = route->fn_ex(&req, &b);
    } else {
        code = route->fn(target, query ? query : "", &b);
    }
    http_respond(c, code, head, flags, &b);
    return len;
}

/* ---- setup ---- */

static bool host_is_loopback(const char *h)
{
    return strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0 || strcmp(h, "localhost") == 0;
}

bool admin_config_check(char *err, size_t errlen)
{
    if (cfg.admin_port == 0 || host_is_loopback(cfg.admin_bind) || cfg.admin_password[0] != '\0')
        return true;
    snprintf(err, errlen,
             "admin-bind %s is not a loopback address: set admin-password (or bind the "
             "admin port to 127.0.0.1, or disable it with admin-port 0)",
             cfg.admin_bind);
    return false;
}

int admin_setup(char *err, size_t errlen)
{
    nroutes = 0;
    admin_http_route("/metrics", route_metrics);
    dashboard_setup();   /* GET /, /api/... */
    if (cfg.admin_port == 0)
        return 0;
    if (!admin_config_check(err, errlen))
        return EX_CONFIG;
    return server_listen_tcp(cfg.admin_bind, (int)cfg.admin_port, true, err, errlen);
}

void admin_teardown(void)
{
    nroutes = 0;
}
