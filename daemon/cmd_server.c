/*
 * cmd_server: the commands that need connection or server state, registered
 * into proto's shared command table: HELLO, AUTH, QUIT, RESET, CLIENT, INFO,
 * SHUTDOWN and CONFIG.
 *
 * Reply shapes and error wordings follow Redis 7.0, because clients and
 * tools (redis-cli, redis-benchmark, redis-py) parse them. HELLO reports
 * server "redis" and version 7.0.0 for the same reason; INFO adds
 * compactd_version so the truth is still visible.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "daemon/cmd_server.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/introspect.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/text.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"
#include "proto/human.h"

#define REDIS_COMPAT_VERSION "7.0.0"

/* ---- authentication ---- */

/* Checks (user, pass) against the default user; user NULL means "default". */
static bool check_credentials(const struct slice *user, const struct slice *pass)
{
    if (user != NULL && !(user->len == 7 && memcmp(user->p, "default", 7) == 0))
        return false;
    if (cfg.requirepass[0] == '\0')
        return true;   /* the default user has no password: anything goes */
    return config_secret_eq(cfg.requirepass, pass->p, pass->len);
}

static void cmd_auth(struct session *s, int argc, struct slice *argv)
{
    if (argc > 3) {
        reply_error(&s->reply, ERR_SYNTAX);
        return;
    }
    if (argc == 2 && cfg.requirepass[0] == '\0') {
        reply_error(&s->reply,
                    "ERR AUTH <password> called without any password configured for the default "
                    "user. Are you sure your configuration is correct?");
        return;
    }
    const struct slice *user = argc == 3 ? &argv[1] : NULL;
    if (!check_credentials(user, &argv[argc - 1])) {
        reply_error(&s->reply, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    s->need_auth = false;
    reply_ok(&s->reply);
}

static bool valid_name(const struct slice *n)
{
    for (size_t i = 0; i < n->len; i++)
        if (n->p[i] < '!' || n->p[i] > '~')
            return false;
    return true;
}

/* CLIENT SETNAME and HELLO SETNAME: names the connection ("" clears the
 * name), or replies Redis's error and returns false for a bad name. */
static bool set_name(struct session *s, const struct slice *n)
{
    if (!valid_name(n)) {
        reply_error(&s->reply,
                    "ERR Client names cannot contain spaces, newlines or special characters.");
        return false;
    }
    struct conn *c = conn_of(s);
    free(c->name);
    c->name = NULL;
    if (n->len > 0)
        c->name = strndup(n->p, n->len);
    return true;
}

static void cmd_hello(struct session *s, int argc, struct slice *argv)
{
    long long ver = s->reply.resp;
    if (argc >= 2) {
        if (!slice_to_ll(&argv[1], &ver)) {
            reply_error(&s->reply, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_error(&s->reply, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const struct slice *user = NULL, *pass = NULL, *name = NULL;
    for (int i = 2; i < argc; i++) {
        if (slice_eq(&argv[i], "auth") && i + 2 < argc) {
            user = &argv[i + 1];
            pass = &argv[i + 2];
            i += 2;
        } else if (slice_eq(&argv[i], "setname") && i + 1 < argc) {
            name = &argv[i + 1];
            i += 1;
        } else {
            reply_errorf(&s->reply, "ERR Syntax error in HELLO option '%.*s'",
                         (int)(argv[i].len > 128 ? 128 : argv[i].len), argv[i].p);
            return;
        }
    }
    if (pass != NULL) {
        if (!check_credentials(user, pass)) {
            reply_error(&s->reply,
                        "WRONGPASS invalid username-password pair or user is disabled.");
            return;
        }
        s->need_auth = false;
    }
    if (s->need_auth) {
        reply_error(&s->reply,
                    "NOAUTH HELLO must be called with the client already authenticated, "
                    "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                    "authenticate the client and select the RESP protocol version at the same "
                    "time");
        return;
    }
    if (name != NULL && !set_name(s, name))
        return;

    s->reply.resp = (int)ver;
    reply_map(&s->reply, 7);
    reply_cstr(&s->reply, "server");
    reply_cstr(&s->reply, "redis");
    reply_cstr(&s->reply, "version");
    reply_cstr(&s->reply, REDIS_COMPAT_VERSION);
    reply_cstr(&s->reply, "proto");
    reply_int(&s->reply, ver);
    reply_cstr(&s->reply, "id");
    reply_int(&s->reply, (long long)s->id);
    reply_cstr(&s->reply, "mode");
    reply_cstr(&s->reply, "standalone");
    reply_cstr(&s->reply, "role");
    reply_cstr(&s->reply, "master");
    reply_cstr(&s->reply, "modules");
    reply_array(&s->reply, 0);
}

static void cmd_quit(struct session *s, int argc, struct slice *argv)
{
    reply_ok(&s->reply);
    s->close_after_reply = true;
}

/* RESET: back to a fresh connection's state (Redis 6.2): no transaction or
 * watched keys, replies on, RESP2, no name, and authenticated only if no
 * password is required. */
static void cmd_reset(struct session *s, int argc, struct slice *argv)
{
    struct conn *c = conn_of(s);
    session_deinit(s);
    c->reply_off = false;
    c->skip_next = false;
    c->suppress_this = false;
    c->no_evict = false;
    free(c->name);
    c->name = NULL;
    c->monitor = false;
    s->reply.resp = 2;
    s->need_auth = cfg.requirepass[0] != '\0';
    reply_status(&s->reply, "RESET");
}

/* ---- CLIENT ---- */

/* client_subs is defined with the table at the end; CLIENT LIST and INFO
 * point the caller's last command at their own rows. */
#define CLIENT_NSUBS 18   /* rows including the terminator */
static const struct command client_subs[CLIENT_NSUBS];
enum { CLIENT_SUB_LIST = 4, CLIENT_SUB_INFO = 5 };

static void cmd_client_help(struct session *s, int argc, struct slice *argv)
{
    static const char *const lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [TYPE NORMAL] [ID <client-id> ...]",
        "    Return information about client connections.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "TRACKING OFF",
        "    Client side caching is not supported: tracking can only be off.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client (compactd has no blocking commands).",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Set client library name or version, shown in CLIENT LIST.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    text_reply_help(&s->reply, lines);
}

static void cmd_client_id(struct session *s, int argc, struct slice *argv)
{
    reply_int(&s->reply, (long long)s->id);
}

static void cmd_client_setname(struct session *s, int argc, struct slice *argv)
{
    if (set_name(s, &argv[2]))
        reply_ok(&s->reply);
}

static void cmd_client_getname(struct session *s, int argc, struct slice *argv)
{
    struct conn *c = conn_of(s);
    if (c->name)
        reply_cstr(&s->reply, c->name);
    else
        reply_null(&s->reply);
}

static void cmd_client_list(struct session *s, int argc, struct slice *argv)
{
    bool none = false;
    int ids_at = 0;
    for (int i = 2; i < argc; i++) {
        if (slice_eq(&argv[i], "type") && i + 1 < argc) {
            i++;
            if (slice_eq(&argv[i], "normal"))
                continue;
            if (slice_eq(&argv[i], "master") || slice_eq(&argv[i], "replica") ||
                slice_eq(&argv[i], "slave") || slice_eq(&argv[i], "pubsub")) {
                none = true;   /* compactd has only normal clients */
                continue;
            }
            reply_errorf(&s->reply, "ERR Unknown client type '%.*s'",
                         (int)(argv[i].len > 64 ? 64 : argv[i].len), argv[i].p);
            return;
        }
        if (slice_eq(&argv[i], "id") && i + 1 < argc) {
            ids_at = i + 1;
            for (int j = ids_at; j < argc; j++) {
                long long id;
                if (!slice_to_ll(&argv[j], &id) || id <= 0) {
                    reply_error(&s->reply, "ERR Invalid client ID");
                    return;
                }
            }
            break;
        }
        reply_error(&s->reply, ERR_SYNTAX);
        return;
    }
    struct text b = {0};
    char line[1024];
    conn_of(s)->last_cmd = &client_subs[CLIENT_SUB_LIST];   /* Redis shows the running command */
    for (struct conn *c = conn_first(); c && !none; c = c->next) {
        if (c->dead || c->admin)   /* data clients see only data clients */
            continue;
        if (ids_at) {
            bool want = false;
            for (int j = ids_at; j < argc; j++) {
                long long id;
                slice_to_ll(&argv[j], &id);
                if ((uint64_t)id == c->sess.id)
                    want = true;
            }
            if (!want)
                continue;
        }
        conn_describe(c, line, sizeof(line));
        text_printf(&b, "%s", line);
    }
    text_reply(&s->reply, &b);
}

static void cmd_client_info(struct session *s, int argc, struct slice *argv)
{
    char line[1024];
    conn_of(s)->last_cmd = &client_subs[CLIENT_SUB_INFO];
    conn_describe(conn_of(s), line, sizeof(line));
    reply_verbatim(&s->reply, line, strlen(line), "txt");
}

static bool addr_eq(const char *have, const struct slice *want)
{
    return strlen(have) == want->len && memcmp(have, want->p, want->len) == 0;
}

static void cmd_client_kill(struct session *s, int argc, struct slice *argv)
{
    struct conn *self = conn_of(s);
    if (argc == 3) {
        /* Old form: CLIENT KILL addr -> +OK or an error. */
        for (struct conn *c = conn_first(); c; c = c->next) {
            if (c->dead || c->admin || !addr_eq(c->addr, &argv[2]))
                continue;
            reply_ok(&s->reply);
            if (c == self)
                s->close_after_reply = true;
            else
                conn_close(c);
            return;
        }
        reply_error(&s->reply, "ERR No such client");
        return;
    }
    if ((argc - 2) % 2 != 0) {
        reply_error(&s->reply, ERR_SYNTAX);
        return;
    }
    long long id = 0;
    const struct slice *addr = NULL, *laddr = NULL;
    bool skipme = true;
    for (int i = 2; i < argc; i += 2) {
        const struct slice *v = &argv[i + 1];
        if (slice_eq(&argv[i], "id")) {
            if (!slice_to_ll(v, &id) || id <= 0) {
                reply_error(&s->reply, "ERR client-id should be greater than 0");
                return;
            }
        } else if (slice_eq(&argv[i], "addr")) {
            addr = v;
        } else if (slice_eq(&argv[i], "laddr")) {
            laddr = v;
        } else if (slice_eq(&argv[i], "skipme")) {
            if (slice_eq(v, "yes"))
                skipme = true;
            else if (slice_eq(v, "no"))
                skipme = false;
            else {
                reply_error(&s->reply, ERR_SYNTAX);
                return;
            }
        } else if (slice_eq(&argv[i], "type")) {
            if (!slice_eq(v, "normal")) {
                if (slice_eq(v, "master") || slice_eq(v, "replica") || slice_eq(v, "slave") ||
                    slice_eq(v, "pubsub"))
                    reply_int(&s->reply, 0);   /* no such clients here */
                else
                    reply_errorf(&s->reply, "ERR Unknown client type '%.*s'",
                                 (int)(v->len > 64 ? 64 : v->len), v->p);
                return;
            }
        } else if (slice_eq(&argv[i], "user")) {
            if (!(v->len == 7 && memcmp(v->p, "default", 7) == 0)) {
                reply_errorf(&s->reply, "ERR No such user '%.*s'",
                             (int)(v->len > 64 ? 64 : v->len), v->p);
                return;
            }
        } else {
            reply_error(&s->reply, ERR_SYNTAX);
            return;
        }
    }
    long long killed = 0;
    struct conn *next;
    for (struct conn *c = conn_first(); c; c = next) {
        next = c->next;
        if (c->dead || c->admin || (id && c->sess.id != (uint64_t)id) ||
            (addr && !addr_eq(c->addr, addr)) || (laddr && !addr_eq(c->laddr, laddr)) ||
            (skipme && c == self))
            continue;
        killed++;
        if (c == self)
            s->close_after_reply = true;
        else
            conn_close(c);
    }
    reply_int(&s->reply, killed);
}

static void cmd_client_setinfo(struct session *s, int argc, struct slice *argv)
{
    struct conn *c = conn_of(s);
    char **field;
    const char *what;
    if (slice_eq(&argv[2], "lib-name")) {
        field = &c->lib_name;
        what = "lib-name";
    } else if (slice_eq(&argv[2], "lib-ver")) {
        field = &c->lib_ver;
        what = "lib-ver";
    } else {
        reply_errorf(&s->reply, "ERR Unrecognized option '%.*s'",
                     (int)(argv[2].len > 64 ? 64 : argv[2].len), argv[2].p);
        return;
    }
    if (!valid_name(&argv[3])) {
        reply_errorf(&s->reply, "ERR %s cannot contain spaces, newlines or special characters.",
                     what);
        return;
    }
    free(*field);
    *field = argv[3].len ? strndup(argv[3].p, argv[3].len) : NULL;
    reply_ok(&s->reply);
}

static void cmd_client_no_evict(struct session *s, int argc, struct slice *argv)
{
    struct conn *c = conn_of(s);
    if (slice_eq(&argv[2], "on"))
        c->no_evict = true;
    else if (slice_eq(&argv[2], "off"))
        c->no_evict = false;
    else {
        reply_error(&s->reply, ERR_SYNTAX);
        return;
    }
    reply_ok(&s->reply);
}

static void cmd_client_reply(struct session *s, int argc, struct slice *argv)
{
    struct conn *c = conn_of(s);
    if (slice_eq(&argv[2], "on")) {
        c->reply_off = false;
        c->skip_next = false;
        reply_ok(&s->reply);
    } else if (slice_eq(&argv[2], "off")) {
        c->reply_off = true;
        c->suppress_this = true;
    } else if (slice_eq(&argv[2], "skip")) {
        if (!c->reply_off)
            c->skip_next = true;
        c->suppress_this = true;
    } else {
        reply_error(&s->reply, ERR_SYNTAX);
    }
}

/* ---- INFO ---- */

static size_t used_memory_peak;

static long long server_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void info_server(struct text *b)
{
    struct utsname un;
    if (uname(&un) != 0)
        memset(&un, 0, sizeof(un));
    int64_t now = server_now_ms();
    long long up = (long long)((now - srv.start_ms) / 1000);
    text_printf(b,
              "# Server\r\n"
              "redis_version:%s\r\n"
              "compactd_version:%s\r\n"
              "redis_git_sha1:00000000\r\n"
              "redis_git_dirty:0\r\n"
              "redis_mode:standalone\r\n"
              "os:%s %s %s\r\n"
              "arch_bits:%d\r\n"
              "multiplexing_api:%s\r\n"
              "gcc_version:%d.%d.%d\r\n"
              "process_id:%d\r\n"
              "process_supervised:%s\r\n"
              "tcp_port:%d\r\n"
              "server_time_usec:%lld\r\n"
              "uptime_in_seconds:%lld\r\n"
              "uptime_in_days:%lld\r\n"
              "hz:%lld\r\n"
              "configured_hz:%lld\r\n"
              "executable:%s\r\n"
              "config_file:%s\r\n"
              "io_threads_active:0\r\n",
              REDIS_COMPAT_VERSION, COMPACTD_VERSION, un.sysname, un.release, un.machine,
              (int)(sizeof(void *) * 8), srv.base ? event_base_get_method(srv.base) : "",
#ifdef __GNUC__
              __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
              0, 0, 0,
#endif
              (int)getpid(), getenv("NOTIFY_SOCKET") ? "systemd" : "no", srv.tcp_port,
              (long long)server_now_us(), up, up / 86400, cfg.hz, cfg.hz, srv.executable,
              srv.config_file ? srv.config_file : "");
}

static void info_clients(struct text *b)
{
    size_t qmax, omax;
    conn_buffer_peaks(&qmax, &omax);
    text_printf(b,
              "# Clients\r\n"
              "connected_clients:%zu\r\n"
              "cluster_connections:0\r\n"
              "maxclients:%lld\r\n"
              "client_recent_max_input_buffer:%zu\r\n"
              "client_recent_max_output_buffer:%zu\r\n"
              "blocked_clients:0\r\n"
              "tracking_clients:0\r\n"
              "clients_in_timeout_table:0\r\n",
              conn_count(), cfg.maxclients, qmax, omax);
}

static void info_memory(struct text *b)
{
    struct alloc_stats as;
    struct ks_stats ks;
    alloc_stats(&as);
    ks_stats(&ks);
    size_t used = ks_used_memory();
    char h_max[32];
    human_bytes(h_max, sizeof(h_max), (double)cfg.maxmemory, HUMAN_REDIS);
    if (used > used_memory_peak)
        used_memory_peak = used;
    size_t rss = alloc_rss_bytes();
    char h_used[32], h_rss[32], h_peak[32], h_mapped[32];
    human_bytes(h_used, sizeof(h_used), (double)used, HUMAN_REDIS);
    human_bytes(h_rss, sizeof(h_rss), (double)rss, HUMAN_REDIS);
    human_bytes(h_peak, sizeof(h_peak), (double)used_memory_peak, HUMAN_REDIS);
    human_bytes(h_mapped, sizeof(h_mapped), (double)as.mapped_bytes, HUMAN_REDIS);
    text_printf(b,
              "# Memory\r\n"
              "used_memory:%zu\r\n"
              "used_memory_human:%s\r\n"
              "used_memory_rss:%zu\r\n"
              "used_memory_rss_human:%s\r\n"
              "used_memory_peak:%zu\r\n"
              "used_memory_peak_human:%s\r\n"
              "used_memory_dataset:%zu\r\n"
              "used_memory_index:%zu\r\n"
              "allocator_live_blocks:%zu\r\n"
              "allocator_slot_bytes:%zu\r\n"
              "allocator_mapped:%zu\r\n"
              "allocator_mapped_human:%s\r\n"
              "allocator_arena_size:%zu\r\n"
              "allocator_arenas:%zu\r\n"
              "allocator_retained_arenas:%zu\r\n"
              "allocator_large_blocks:%zu\r\n"
              "allocator_large_bytes:%zu\r\n"
              "allocator_failures:%llu\r\n"
              "mem_fragmentation_ratio:%.2f\r\n"
              "maxmemory:%lld\r\n"
              "maxmemory_human:%s\r\n"
              "maxmemory_policy:%s\r\n"
              "mem_allocator:compactd-arena\r\n",
              used, h_used, rss, h_rss, used_memory_peak, h_peak, as.live_bytes, ks.index_bytes,
              as.live_blocks, as.slot_bytes, as.mapped_bytes, h_mapped, as.arena_size, as.arenas,
              as.retained_arenas, as.large_blocks, as.large_bytes,
              (unsigned long long)as.alloc_failures, used ? (double)rss / (double)used : 0.0,
              cfg.maxmemory, h_max,
              config_enum_name(&config_options[CFG_OPT_maxmemory_policy], cfg.maxmemory_policy));
}

static void info_persistence(struct text *b)
{
    text_printf(b, "# Persistence\r\n");
    introspect_info_persistence(b);
}

static void info_modules(struct text *b)
{
    text_printf(b, "# Modules\r\n");
}

static void info_cluster(struct text *b)
{
    text_printf(b, "# Cluster\r\ncluster_enabled:0\r\n");
}

static void info_stats(struct text *b)
{
    struct ks_stats ks;
    ks_stats(&ks);
    text_printf(b,
              "# Stats\r\n"
              "total_connections_received:%llu\r\n"
              "total_commands_processed:%llu\r\n"
              "instantaneous_ops_per_sec:%llu\r\n"
              "total_net_input_bytes:%llu\r\n"
              "total_net_output_bytes:%llu\r\n"
              "rejected_connections:%llu\r\n"
              "expired_keys:%llu\r\n"
              "evicted_keys:%llu\r\n"
              "keyspace_hits:%llu\r\n"
              "keyspace_misses:%llu\r\n"
              "total_error_replies:%llu\r\n"
              "index_slots:%zu\r\n"
              "index_rehashing:%d\r\n",
              (unsigned long long)srv.stats.total_connections,
              (unsigned long long)srv.stats.total_commands,
              (unsigned long long)server_instantaneous_ops(),
              (unsigned long long)srv.stats.net_input_bytes,
              (unsigned long long)srv.stats.net_output_bytes,
              (unsigned long long)srv.stats.rejected_connections,
              (unsigned long long)ks.expired_keys, (unsigned long long)ks.evicted_keys,
              (unsigned long long)ks.keyspace_hits,
              (unsigned long long)ks.keyspace_misses, (unsigned long long)reply_errors_total(),
              ks.index_slots, ks.rehashing ? 1 : 0);
}

static void info_cpu(struct text *b)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    text_printf(b,
              "# CPU\r\n"
              "used_cpu_sys:%ld.%06ld\r\n"
              "used_cpu_user:%ld.%06ld\r\n"
              "used_cpu_sys_children:%ld.%06ld\r\n"
              "used_cpu_user_children:%ld.%06ld\r\n",
              (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec,
              (long)self.ru_utime.tv_sec, (long)self.ru_utime.tv_usec,
              (long)kids.ru_stime.tv_sec, (long)kids.ru_stime.tv_usec,
              (long)kids.ru_utime.tv_sec, (long)kids.ru_utime.tv_usec);
}

static void info_replication(struct text *b)
{
    text_printf(b,
              "# Replication\r\n"
              "role:master\r\n"
              "connected_slaves:0\r\n");
}

static void info_cmdstat_one(const char *fullname, const struct command *c,
                             const struct command_stats *st, void *ctx)
{
    if (st->calls == 0 && st->rejected_calls == 0 && st->failed_calls == 0)
        return;
    text_printf(ctx, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                   "failed_calls=%llu\r\n",
              fullname, (unsigned long long)st->calls, (unsigned long long)st->usec,
              st->calls ? (double)st->usec / (double)st->calls : 0.0,
              (unsigned long long)st->rejected_calls, (unsigned long long)st->failed_calls);
}

static void info_commandstats(struct text *b)
{
    text_printf(b, "# Commandstats\r\n");
    command_stats_foreach(info_cmdstat_one, b);
}

static void info_errorstat_one(const char *code, uint64_t count, void *ctx)
{
    text_printf(ctx, "errorstat_%s:count=%llu\r\n", code, (unsigned long long)count);
}

static void info_errorstats(struct text *b)
{
    text_printf(b, "# Errorstats\r\n");
    reply_errorstats_foreach(info_errorstat_one, b);
}

static void info_latencystats(struct text *b)
{
    text_printf(b, "# Latencystats\r\n");
    introspect_info_latencystats(b);
}

static void info_keyspace(struct text *b)
{
    struct ks_stats ks;
    ks_stats(&ks);
    text_printf(b, "# Keyspace\r\n");
    if (ks.keys > 0)
        text_printf(b, "db0:keys=%zu,expires=%zu,avg_ttl=0\r\n", ks.keys, ks.expires);
}

struct info_section {
    const char *name;
    void (*fn)(struct text *b);
    bool in_default;
};

static const struct info_section info_sections[] = {
    {"server", info_server, true},           {"clients", info_clients, true},
    {"memory", info_memory, true},           {"persistence", info_persistence, true},
    {"stats", info_stats, true},             {"replication", info_replication, true},
    {"cpu", info_cpu, true},                 {"modules", info_modules, true},
    {"commandstats", info_commandstats, false}, {"errorstats", info_errorstats, true},
    {"latencystats", info_latencystats, false},
    {"cluster", info_cluster, true},         {"keyspace", info_keyspace, true},
};
#define INFO_NSECTIONS (sizeof(info_sections) / sizeof(info_sections[0]))

static void cmd_info(struct session *s, int argc, struct slice *argv)
{
    bool want[INFO_NSECTIONS] = {false};
    if (argc == 1) {
        for (size_t i = 0; i < INFO_NSECTIONS; i++)
            want[i] = info_sections[i].in_default;
    }
    for (int a = 1; a < argc; a++) {
        bool all = slice_eq(&argv[a], "all") || slice_eq(&argv[a], "everything");
        bool def = slice_eq(&argv[a], "default");
        for (size_t i = 0; i < INFO_NSECTIONS; i++)
            if (all || (def && info_sections[i].in_default) || slice_eq(&argv[a], info_sections[i].name))
                want[i] = true;
    }
    struct text b = {0};
    bool first = true;
    for (size_t i = 0; i < INFO_NSECTIONS; i++) {
        if (!want[i])
            continue;
        if (!first)
            text_printf(&b, "\r\n");
        first = false;
        info_sections[i].fn(&b);
    }
    text_reply(&s->reply, &b);
}

/* ---- SHUTDOWN ---- */

static void cmd_shutdown(struct session *s, int argc, struct slice *argv)
{
    for (int i = 1; i < argc; i++) {
        if (slice_eq(&argv[i], "abort")) {
            reply_error(&s->reply, "ERR No shutdown in progress.");
            return;
        }
        if (!slice_eq(&argv[i], "nosave") && !slice_eq(&argv[i], "save") &&
            !slice_eq(&argv[i], "now") && !slice_eq(&argv[i], "force")) {
            reply_error(&s->reply, ERR_SYNTAX);
            return;
        }
    }
    /* No reply on success, as Redis: the client sees the connection close. */
    server_request_shutdown("User requested shutdown...");
}

/* ---- CONFIG ---- */

void cmd_server_config_get(struct reply *r, int argc, const struct slice *argv,
                           const struct cmd_server_port *port)
{
    bool add[CFG_OPT_COUNT] = {false};
    size_t n = 0;
    for (int a = 2; a < argc; a++) {
        for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
            const char *name = config_options[i].name;
            if (!add[i] && (port->allowed == NULL || port->allowed(&config_options[i])) &&
                config_glob_match(argv[a].p, argv[a].len, name, strlen(name), true)) {
                add[i] = true;
                n++;
            }
        }
    }
    reply_map(r, n);
    for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
        if (!add[i])
            continue;
        char *v = config_format(&config_options[i]);
        reply_cstr(r, config_options[i].name);
        reply_cstr(r, v ? v : "");
        free(v);
    }
}

bool cmd_server_config_set(struct reply *r, int argc, const struct slice *argv,
                           const struct cmd_server_port *port)
{
    if (argc < 4 || (argc - 2) % 2 != 0) {
        reply_error(r, "ERR wrong number of arguments for 'config|set' command");
        return false;
    }
    /* config_set_many takes C strings */
    size_t n = (size_t)(argc - 2) / 2;
    char **strs = calloc(2 * n, sizeof(*strs));
    const char **names = calloc(n, sizeof(*names));
    const char **values = calloc(n, sizeof(*values));
    bool ok = strs && names && values;
    for (size_t i = 0; ok && i < 2 * n; i++) {
        strs[i] = strndup(argv[2 + i].p, argv[2 + i].len);
        ok = strs[i] != NULL;
    }
    bool set = false;
    if (!ok) {
        reply_error(r, "ERR out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = strs[2 * i];
        values[i] = strs[2 * i + 1];
        if (port->allowed != NULL) {
            const struct cfg_option *o = config_find(names[i]);
            if (o != NULL && !port->allowed(o)) {
                reply_errorf(r, port->refused, names[i]);
                goto out;
            }
        }
    }
    size_t bad = 0;
    bool changed[CFG_OPT_COUNT];
    char err[256];
    config_rstatus_e st = config_set_many(n, names, values, &bad, changed, err, sizeof(err));
    if (st == CONFIG_EUNKNOWN) {
        reply_errorf(r, port->unknown, names[bad]);
    } else if (st != CONFIG_OK) {
        reply_errorf(r, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                     names[bad], err);
    } else {
        server_config_changed(changed);   /* proto-max-bulk-len included */
        reply_ok(r);
        set = true;
    }
out:
    if (strs != NULL)
        for (size_t i = 0; i < 2 * n; i++)
            free(strs[i]);
    free(strs);
    free(names);
    free(values);
    return set;
}

static const struct cmd_server_port data_port = {
    .unknown = "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
};

static void cmd_config_get(struct session *s, int argc, struct slice *argv)
{
    cmd_server_config_get(&s->reply, argc, argv, &data_port);
}

static void cmd_config_set(struct session *s, int argc, struct slice *argv)
{
    if (!cmd_server_config_set(&s->reply, argc, argv, &data_port))
        return;
    for (int i = 2; i < argc; i += 2)   /* names only: requirepass's value is a secret */
        log_verbose("CONFIG SET %.*s", (int)argv[i].len, argv[i].p);
}

static void cmd_config_resetstat(struct session *s, int argc, struct slice *argv)
{
    server_stats_reset();
    ks_stats_reset();
    command_stats_reset();
    reply_errorstats_reset();
    introspect_stats_reset();   /* latencystats */
    used_memory_peak = 0;
    reply_ok(&s->reply);
}

static void cmd_config_rewrite(struct session *s, int argc, struct slice *argv)
{
    reply_error(&s->reply, "ERR CONFIG REWRITE is not supported: compactd never rewrites its "
                           "configuration file");
}

static void cmd_config_help(struct session *s, int argc, struct slice *argv)
{
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Not supported by compactd.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    text_reply_help(&s->reply, lines);
}

/* ---- the table ---- */

#define F_ADMIN (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define F_CONN  (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST)

#define SUB(n, ar, fl, fn, sum) \
    {.name = n, .arity = ar, .flags = fl, .proc = fn, .summary = sum, .group = "server", .since = "2.4.0"}

static const struct command client_subs[CLIENT_NSUBS] = {
    SUB("help", 2, CMD_LOADING | CMD_STALE, cmd_client_help, "Show helpful text about the different subcommands"),
    SUB("id", 2, F_CONN, cmd_client_id, "Returns the client ID for the current connection"),
    SUB("setname", 3, F_CONN, cmd_client_setname, "Set the current connection name"),
    SUB("getname", 2, F_CONN, cmd_client_getname, "Get the current connection name"),
    SUB("list", -2, F_ADMIN, cmd_client_list, "Get the list of client connections"),
    SUB("info", 2, F_CONN, cmd_client_info, "Returns information about the current client connection."),
    SUB("kill", -3, F_ADMIN, cmd_client_kill, "Kill the connection of a client"),
    SUB("setinfo", 4, F_CONN, cmd_client_setinfo, "Set client or connection specific info"),
    SUB("no-evict", 3, F_ADMIN, cmd_client_no_evict, "Set client eviction mode for the current connection"),
    SUB("reply", 3, F_CONN, cmd_client_reply, "Instruct the server whether to reply to commands"),
    SUB("pause", -3, F_ADMIN, introspect_client_pause, "Stop processing commands from clients for some time"),
    SUB("unpause", 2, F_ADMIN, introspect_client_unpause, "Resume processing of clients that were paused"),
    SUB("tracking", -3, F_CONN, introspect_client_tracking, "Enable or disable server assisted client side caching support"),
    SUB("getredir", 2, F_CONN, introspect_client_getredir, "Get tracking notifications redirection client ID if any"),
    SUB("trackinginfo", 2, F_CONN, introspect_client_trackinginfo, "Return information about server assisted client side caching for the current connection"),
    SUB("caching", 3, F_CONN, introspect_client_caching, "Instruct the server about tracking or not keys in the next request"),
    SUB("unblock", -3, F_ADMIN, introspect_client_unblock, "Unblock a client blocked in a blocking command from a different connection"),
    {.name = NULL},
};

static const struct command config_subs[] = {
    SUB("help", 2, CMD_LOADING | CMD_STALE, cmd_config_help, "Show helpful text about the different subcommands"),
    SUB("get", -3, F_ADMIN, cmd_config_get, "Get the values of configuration parameters"),
    SUB("set", -4, F_ADMIN, cmd_config_set, "Set configuration parameters to the given values"),
    SUB("resetstat", 2, F_ADMIN, cmd_config_resetstat, "Reset the stats returned by INFO"),
    SUB("rewrite", 2, F_ADMIN, cmd_config_rewrite, "Rewrite the configuration file (unsupported)"),
    {.name = NULL},
};

/* Containers have no proc: proto answers a missing or unknown subcommand. */
static const struct command server_rows[] = {
    {.name = "hello", .arity = -1, .flags = F_CONN | CMD_NOAUTH, .proc = cmd_hello,
     .summary = "Handshake with the server", .group = "connection", .since = "6.0.0",
     .complexity = "O(1)"},
    {.name = "auth", .arity = -2, .flags = F_CONN | CMD_NOAUTH, .proc = cmd_auth,
     .summary = "Authenticate to the server", .group = "connection", .since = "1.0.0",
     .complexity = "O(N) where N is the number of passwords defined for the user"},
    {.name = "quit", .arity = -1, .flags = F_CONN | CMD_NOAUTH, .proc = cmd_quit,
     .summary = "Close the connection", .group = "connection", .since = "1.0.0",
     .complexity = "O(1)"},
    {.name = "reset", .arity = 1, .flags = F_CONN | CMD_NOAUTH, .proc = cmd_reset,
     .summary = "Reset the connection", .group = "connection", .since = "6.2.0",
     .complexity = "O(1)"},
    {.name = "client", .arity = -2, .flags = 0, .proc = NULL,
     .summary = "A container for client connection commands", .group = "connection",
     .since = "2.4.0", .subcommands = client_subs},
    {.name = "info", .arity = -1, .flags = CMD_LOADING | CMD_STALE, .proc = cmd_info,
     .summary = "Get information and statistics about the server", .group = "server",
     .since = "1.0.0", .complexity = "O(1)"},
    {.name = "shutdown", .arity = -1, .flags = F_ADMIN, .proc = cmd_shutdown,
     .summary = "Stop the server", .group = "server", .since = "1.0.0",
     .complexity = "O(N) when saving, where N is the total number of keys in all databases"},
    {.name = "config", .arity = -2, .flags = 0, .proc = NULL,
     .summary = "A container for server configuration commands", .group = "server",
     .since = "2.0.0", .subcommands = config_subs},
};

int cmd_server_setup(void)
{
    _Static_assert(sizeof(client_subs) / sizeof(client_subs[0]) == CLIENT_NSUBS, "client_subs size");
    int rc = command_register(server_rows, sizeof(server_rows) / sizeof(server_rows[0]));
    return rc != 0 ? rc : introspect_setup();   /* SLOWLOG, LATENCY, MONITOR */
}
