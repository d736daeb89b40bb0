/*
 * admin_cmd: the admin port's commands (AUTH, PING, COMPACT, ARENAS,
 * PINNERS, CENSUS (admin_census.c), STATS, CONFIG, PURGE, SHUTDOWN, QUIT, HELP).
 *
 * They are rows of proto's command table flagged CMD_ADMIN_PORT, so they
 * go through the same dispatcher (arity, authentication, timing) as the
 * data commands, and only an admin-port session finds them: the data port
 * never runs admin commands and the admin port never data commands, and
 * neither shows up in the other's COMMAND, INFO commandstats or SLOWLOG.
 *
 * Replies are RESP2/RESP3-neutral: text for the status-like commands
 * (STATS, COMPACT STATUS: "field:value" lines, like INFO) and maps (arrays
 * of field/value pairs in RESP2) for the per-arena and per-key listings.
 */
#include "daemon/admin_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "daemon/admin_census.h"
#include "daemon/cmd_config.h"
#include "daemon/compactor.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/server.h"
#include "proto/text.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"
#include "proto/reply.h"
#include "proto/resp.h"

#define PINNERS_DEFAULT 10
#define PINNERS_MAX     10000

/* ---- small helpers ---- */

/* A non-negative decimal argument. */
static bool arg_uint(const struct slice *a, long long max, long long *out)
{
    long long v;
    if (!slice_to_ll(a, &v) || v < 0 || v > max)
        return false;
    *out = v;
    return true;
}

static void err_args(struct session *s, const char *name)
{
    reply_errorf(&s->reply, "ERR wrong number of arguments for '%s' command", name);
}

/* ---- commands ---- */

static void a_auth(struct session *s, int argc, struct slice *argv)
{
    if (cfg.admin_password[0] == '\0') {
        reply_error(&s->reply, "ERR AUTH called without any admin-password configured");
        return;
    }
    const struct slice *pw = &argv[argc - 1];   /* AUTH [user] password: any user */
    if (!config_secret_eq(cfg.admin_password, pw->p, pw->len)) {
        static struct log_limit limit;   /* a guessing loop must not fill the disk */
        uint64_t held;
        if (log_limit_pass(&limit, server_clock_ms(), 10000, &held))
            log_warn("Admin port: failed AUTH from %s%s", conn_of(s)->addr, log_held_note(held));
        reply_error(&s->reply, "WRONGPASS invalid admin password");
        return;
    }
    s->need_auth = false;
    reply_ok(&s->reply);
}

static void a_ping(struct session *s, int argc, struct slice *argv)
{
    if (argc == 2)
        reply_bulk(&s->reply, argv[1].p, argv[1].len);
    else
        reply_status(&s->reply, "PONG");
}

static void a_quit(struct session *s, int argc, struct slice *argv)
{
    reply_ok(&s->reply);
    s->close_after_reply = true;
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
                "progress_pct:%.1f\r\n",
                st.running ? 1 : 0, st.cls, st.cur_cls, st.cur_band, st.arenas_planned,
                st.arenas_done, pct);
    /* this run's and every run's counters, from alloc's rows */
#define X(field, kind, help) \
    text_printf(t, "run_%s:%llu\r\n", #field, (unsigned long long)st.field);
    ALLOC_COMPACT_METRICS(X)
#undef X
    text_printf(t,
                "run_duration_us:%llu\r\n"
                "run_mapped_before:%zu\r\n"
                "run_mapped_after:%zu\r\n"
                "reclaimable_bytes:%zu\r\n"
                "packable_bytes:%zu\r\n"
                "runs:%llu\r\n"
                "runs_finished:%llu\r\n"
                "runs_auto:%llu\r\n"
                "runs_scheduled:%llu\r\n"
                "runs_manual:%llu\r\n",
                (unsigned long long)st.duration_us, st.mapped_before, st.mapped_after,
                st.reclaimable, st.packable, (unsigned long long)st.runs,
                (unsigned long long)st.runs_finished, (unsigned long long)cs.runs_auto,
                (unsigned long long)cs.runs_scheduled, (unsigned long long)cs.runs_manual);
#define X(field, kind, help) \
    text_printf(t, "total_%s:%llu\r\n", #field, (unsigned long long)st.total.field);
    ALLOC_COMPACT_METRICS(X)
#undef X
    text_printf(t,
                "max_step_us:%llu\r\n"
                "max_step_cpu_us:%llu\r\n"
                "long_steps:%llu\r\n"
                "long_steps_cpu:%llu\r\n"
                "last_rss_before:%llu\r\n"
                "last_rss_after:%llu\r\n",
                (unsigned long long)cs.max_step_us,
                (unsigned long long)cs.max_step_cpu_us, (unsigned long long)cs.long_steps,
                (unsigned long long)cs.long_steps_cpu, (unsigned long long)cs.last_rss_before,
                (unsigned long long)cs.last_rss_after);
}

/* Parses "CLASS n" at argv[i]; replies the error and returns false if bad. */
static bool parse_class(struct session *s, int argc, struct slice *argv, int i, int *cls)
{
    long long v;
    if (i + 1 >= argc) {
        reply_error(&s->reply, "ERR CLASS needs a class number");
        return false;
    }
    if (!arg_uint(&argv[i + 1], 1000000, &v) || (unsigned)v >= alloc_class_count()) {
        reply_errorf(&s->reply, "ERR no such size class (there are %u: 0..%u)",
                     alloc_class_count(), alloc_class_count() - 1);
        return false;
    }
    *cls = (int)v;
    return true;
}

static void a_compact(struct session *s, int argc, struct slice *argv)
{
    if (argc == 2 && slice_eq(&argv[1], "abort")) {
        if (compactor_abort())
            reply_ok(&s->reply);
        else
            reply_error(&s->reply, "ERR no compaction is running");
        return;
    }
    if (argc == 2 && slice_eq(&argv[1], "status")) {
        struct text t = {0};
        compact_status_text(&t);
        text_reply(&s->reply, &t);
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
            if (!parse_class(s, argc, argv, i, &cls))
                return;
            i++;
        } else {
            reply_error(&s->reply,
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
                    "blocks_dropped:%llu\r\narenas_released:%llu\r\nbytes_purged:%llu\r\n"
                    "duration_us:%llu\r\nmapped_before:%zu\r\nmapped_after:%zu\r\n",
                    (unsigned long long)st.classes_touched, (unsigned long long)st.blocks_moved,
                    (unsigned long long)st.bytes_moved, (unsigned long long)st.blocks_dropped,
                    (unsigned long long)st.arenas_released, (unsigned long long)st.bytes_purged,
                    (unsigned long long)st.duration_us, st.mapped_before, st.mapped_after);
        text_reply(&s->reply, &t);
        return;
    }
    if (!compactor_start(cls, COMPACT_MANUAL))
        reply_error(&s->reply, "ERR a compaction is already running (see COMPACT STATUS)");
    else
        reply_status(&s->reply, "Compaction started");
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

static void arena_map(struct reply *r, const struct alloc_arena_info *ai)
{
    reply_map(r, 9);
    field_int(r, "class", ai->cls);
    field_int(r, "slot_size", (long long)ai->slot_size);
    field_int(r, "band", ai->band);
    field_int(r, "slots", (long long)ai->slots);
    field_int(r, "live", (long long)ai->live);
    field_occupancy(r, ai->live, ai->slots);
    field_int(r, "resident_pages", (long long)ai->resident_pages);
    field_int(r, "purged_pages", (long long)ai->purged_pages);
    field_arena(r, ai->base);
}

static void a_arenas(struct session *s, int argc, struct slice *argv)
{
    int only = -1;
    if (argc == 3) {
        if (!slice_eq(&argv[1], "class")) {
            reply_error(&s->reply, "ERR syntax error: ARENAS [CLASS n]");
            return;
        }
        if (!parse_class(s, argc, argv, 1, &only))
            return;
    } else if (argc != 1) {
        reply_error(&s->reply, "ERR syntax error: ARENAS [CLASS n]");
        return;
    }
    size_t h = reply_defer(&s->reply);
    size_t n = 0;
    unsigned ncls = alloc_class_count();
    for (unsigned cls = 0; cls < ncls; cls++) {
        if (only >= 0 && (unsigned)only != cls)
            continue;
        for (struct alloc_arena *a = alloc_arena_first(cls); a; a = alloc_arena_next(a)) {
            struct alloc_arena_info ai;
            alloc_arena_info(a, &ai);
            arena_map(&s->reply, &ai);
            n++;
        }
    }
    reply_defer_array(&s->reply, h, n);
}

struct pin_ctx {
    struct reply *r;
    size_t n;
};

static void pinner_one(const struct ks_pinner *p, void *ctx)
{
    struct pin_ctx *pc = ctx;
    struct reply *r = pc->r;
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

static void a_pinners(struct session *s, int argc, struct slice *argv)
{
    long long n = PINNERS_DEFAULT;
    if (argc == 2 && !arg_uint(&argv[1], PINNERS_MAX, &n)) {
        reply_errorf(&s->reply, "ERR PINNERS takes a count from 0 to %d", PINNERS_MAX);
        return;
    }
    ks_clock_update_to(server_now_ms());
    struct pin_ctx pc = {&s->reply, 0};
    size_t h = reply_defer(&s->reply);
    ks_pinners((size_t)n, pinner_one, &pc);
    reply_defer_array(&s->reply, h, pc.n);
}

/* Every row of the metric table with a STATS name (daemon/metrics.h),
 * group by group. */
static void stats_text(struct text *t)
{
    struct metrics_snapshot s;
    metrics_read(&s);
    const struct metric *m = s.m;
    for (int g = 0; g < METRIC_GROUPS; g++) {
        bool header = false;
        for (size_t i = 0; i < s.n; i++) {
            if (m[i].group != (enum metric_group)g || m[i].stats == NULL)
                continue;
            if (!header)
                text_printf(t, "# %s\r\n", metric_group_name(m[i].group));
            header = true;
            char v[32];
            metric_text(&m[i], v, sizeof(v));
            text_printf(t, "%s:%s\r\n", m[i].stats, v);
        }
    }
}

static void a_stats(struct session *s, int argc, struct slice *argv)
{
    struct text t = {0};
    stats_text(&t);
    text_reply(&s->reply, &t);
}

/* The options the admin port may read and change: memory, expiry and
 * compaction, and its own (CFG_ADMIN: admin-password and the limits; the
 * address and port are immutable). Everything else stays on the data port
 * (or the file). */
static bool admin_option(const struct cfg_option *o)
{
    if (o->flags & CFG_ADMIN)
        return true;
    static const char *const names[] = {
        "maxmemory", "maxmemory-policy", "maxmemory-samples", "arena-size", "arena-retain",
        "expire-cycle-ms", "expire-effort", "active-expire-sweep", "lifetime-segregation",
    };
    if (strncmp(o->name, "compact-", 8) == 0 || strncmp(o->name, "census-", 7) == 0)
        return true;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(o->name, names[i]) == 0)
            return true;
    return false;
}

/* CONFIG GET and SET on the admin port: its options, its wording. */
static const struct cmd_config_port admin_port = {
    .allowed = admin_option,
    .refused = "ERR '%s' cannot be set on the admin port (only memory, expiry, compaction "
               "and admin-port options)",
    .unknown = "ERR Unknown option '%s'",
    .get_hidden = CFG_SECRET,   /* admin-password: set here, read nowhere */
};

static void a_config_set(struct session *s, int argc, struct slice *argv)
{
    if (!cmd_config_set_port(&s->reply, argc, argv, &admin_port))
        return;
    for (int i = 2; i < argc; i += 2) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)argv[i].len, argv[i].p);
        const struct cfg_option *o = config_find(name);   /* set: the name is known */
        bool secret = o != NULL && (o->flags & CFG_SECRET);
        log_notice("Admin port: CONFIG SET %.*s %.*s (from %s)", (int)argv[i].len, argv[i].p,
                   secret ? 8 : (int)argv[i + 1].len, secret ? "(hidden)" : argv[i + 1].p,
                   conn_of(s)->addr);
    }
}

static void a_config(struct session *s, int argc, struct slice *argv)
{
    if (slice_eq(&argv[1], "get")) {
        if (argc < 3)
            err_args(s, "config|get");
        else
            cmd_config_get_port(&s->reply, argc, argv, &admin_port);
    } else if (slice_eq(&argv[1], "set")) {
        a_config_set(s, argc, argv);
    } else {
        reply_errorf(&s->reply, "ERR unknown subcommand '%.*s'. Try CONFIG GET or CONFIG SET.",
                     (int)(argv[1].len > 64 ? 64 : argv[1].len), argv[1].p);
    }
}

static void a_purge(struct session *s, int argc, struct slice *argv)
{
    struct alloc_stats before, after;
    alloc_stats(&before);
    alloc_release_retained();
    alloc_stats(&after);
    size_t freed = before.mapped_bytes > after.mapped_bytes ? before.mapped_bytes - after.mapped_bytes : 0;
    log_notice("Admin port: PURGE released %zu retained arenas (%zu bytes)",
               before.retained_arenas - after.retained_arenas, freed);
    reply_int(&s->reply, (long long)freed);
}

static void a_shutdown(struct session *s, int argc, struct slice *argv)
{
    /* No reply, as with Redis's SHUTDOWN: the client sees the close. */
    server_request_shutdown("Shutdown requested on the admin port...");
}

static void a_help(struct session *s, int argc, struct slice *argv);

/*
 * The admin port's rows: X(name, arity, max_args, flags, handler, usage,
 * help). Arity counts the name as proto's does (-2: at least two), and
 * max_args bounds it from above (0: no bound). The help text is the row's
 * summary; HELP lists usage and summary in this order.
 */
#define ADMIN_COMMANDS(X)                                                                    \
    X("auth", -2, 3, CMD_NOAUTH, a_auth, "AUTH [user] <password>",                          \
      "Authenticate with admin-password.")                                                   \
    X("ping", -1, 2, 0, a_ping, "PING [message]", "Answer PONG (or the message).")           \
    X("compact", -1, 5, 0, a_compact,                                                        \
      "COMPACT [SYNC|ASYNC] [CLASS n] | COMPACT STATUS | COMPACT ABORT",                     \
      "Run a compaction (ASYNC: in the background, the default), show its state, or end it.") \
    X("arenas", -1, 3, 0, a_arenas, "ARENAS [CLASS n]",                                       \
      "Every arena: class, slot size, lifetime band, slots, live slots, occupancy.")          \
    X("pinners", -1, 2, 0, a_pinners, "PINNERS [count]",                                      \
      "Live keys that pin the sparsest arenas (default 10).")                                 \
    X("census", -2, 8, 0, census_cmd, CENSUS_USAGE,                                          \
      "Count keys and bytes by key prefix, TTL, size and age, in the background; "            \
      "REPORT the latest census, DIFF it against the one before.")                            \
    X("stats", 1, 0, 0, a_stats, "STATS", "Memory, expiry and compaction counters.")         \
    X("config", -2, 0, 0, a_config, "CONFIG GET <pattern> | CONFIG SET <name> <value> ...",  \
      "Read or change memory, expiry and compaction options.")                                \
    X("purge", 1, 0, 0, a_purge, "PURGE",                                                     \
      "Return retained empty arenas to the OS; replies the bytes.")                           \
    X("shutdown", 1, 0, 0, a_shutdown, "SHUTDOWN", "Stop the server.")                       \
    X("quit", 1, 0, CMD_NOAUTH, a_quit, "QUIT", "Close this connection.")                    \
    X("help", 1, 0, 0, a_help, "HELP", "This list.")

#define X(n, ar, max, fl, fn, use, help)                                                     \
    {.name = n, .arity = ar, .max_args = max, .flags = CMD_ADMIN_PORT | (fl), .proc = fn,  \
     .summary = help, .group = "admin"},
static const struct command admin_rows[] = {ADMIN_COMMANDS(X)};
#undef X
#define X(n, ar, max, fl, fn, use, help) use,
static const char *const admin_usage[] = {ADMIN_COMMANDS(X)};
#undef X
#define NADMIN (sizeof(admin_rows) / sizeof(admin_rows[0]))

static void a_help(struct session *s, int argc, struct slice *argv)
{
    struct reply *r = &s->reply;
    reply_array(r, 1 + 2 * NADMIN + 1);
    reply_status(r, "compactd admin port commands (HTTP: dashboard at GET /, metrics at "
                    "GET /metrics):");
    for (size_t i = 0; i < NADMIN; i++) {
        reply_status(r, admin_usage[i]);
        char line[256];
        snprintf(line, sizeof(line), "    %s", admin_rows[i].summary);
        reply_status(r, line);
    }
    reply_status(r, "With admin-password set, AUTH first.");
}

int admin_cmd_setup(void)
{
    return command_register(admin_rows, NADMIN);
}
