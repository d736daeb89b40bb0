/*
 * introspect: SLOWLOG, MONITOR and CLIENT PAUSE (see introspect.h); LATENCY
 * is latency.c's, fed from here.
 *
 * Reply shapes and error wordings are Redis 7.0's, since redis-cli and
 * monitoring tools parse them:
 *  - a slow log entry is [id, unix time, microseconds, args, "ip:port",
 *    name]; at most 32 arguments are kept (the 32nd says how many more
 *    there were) and each is cut to 128 bytes (with how many more bytes);
 *  - a MONITOR line is "+<unix seconds>.<micros> [0 <addr>] "arg" ..."
 *    with each argument quoted and escaped; admin commands are not shown
 *    and AUTH/HELLO passwords are redacted, in the slow log too.
 *
 * Invariants: the slow log is newest first and never longer than
 * slowlog-max-len after a push (a shrunk limit applies at the next push, as
 * in Redis); entry ids only grow (SLOWLOG RESET keeps the counter).
 * `monitor_hint` is at least the number of live MONITOR clients; a feed
 * that finds fewer lowers it, so no list needs unlinking when one closes.
 */
#include "daemon/introspect.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/latency.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "proto/text.h"

#define SLOWLOG_MAX_ARGC   32
#define SLOWLOG_MAX_STRING 128
/* A MONITOR client that falls this far behind is disconnected rather than
 * letting its unsent output grow without bound. */
#define MONITOR_OUT_MAX    (64u * 1024 * 1024)

/* ---- redaction and argument display ---- */

/* True if argument j of this call must not be shown (passwords). */
static bool redacted(const struct command *c, int argc, const struct slice *argv, int j)
{
    if (strcmp(c->name, "auth") == 0)
        return j >= 1;
    if (strcmp(c->name, "hello") == 0) {
        for (int i = 2; i < argc; i++) {
            if (slice_eq(&argv[i], "auth") && i + 2 < argc) {
                if (j == i + 1 || j == i + 2)
                    return true;
                i += 2;
            } else if (slice_eq(&argv[i], "setname") && i + 1 < argc) {
                i++;
            }
        }
        return false;
    }
    if (strcmp(c->name, "set") == 0 && argc >= 4 && slice_eq(&argv[0], "config")) {
        /* CONFIG SET <password option> <value> */
        if (j < 3 || j % 2 == 0)
            return false;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)argv[j - 1].len, argv[j - 1].p);
        const struct cfg_option *o = config_find(name);
        return o != NULL && (o->flags & CFG_SECRET);
    }
    return false;
}

/* ---- SLOWLOG ---- */

struct slow_arg {
    char *p;
    size_t len;
};

struct slow_entry {
    struct slow_entry *next, *prev;
    long long id;
    long long time;
    long long usec;
    int argc;
    struct slow_arg *argv;
    char *addr;
    char *name;
};

static struct slow_entry *slow_head, *slow_tail;   /* newest first */
static size_t slow_len;
static long long slow_next_id;

static void slow_free(struct slow_entry *e)
{
    for (int i = 0; i < e->argc; i++)
        free(e->argv[i].p);
    free(e->argv);
    free(e->addr);
    free(e->name);
    free(e);
}

static void slow_unlink_tail(void)
{
    struct slow_entry *e = slow_tail;
    slow_tail = e->prev;
    if (slow_tail)
        slow_tail->next = NULL;
    else
        slow_head = NULL;
    slow_len--;
    slow_free(e);
}

static void slow_reset(void)
{
    while (slow_tail)
        slow_unlink_tail();
}

static bool slow_set_arg(struct slow_arg *a, const char *p, size_t len)
{
    a->p = malloc(len + 1);
    if (a->p == NULL)
        return false;
    memcpy(a->p, p, len);
    a->p[len] = '\0';
    a->len = len;
    return true;
}

static void slow_push(struct conn *c, const struct command *cmd, int argc,
                      const struct slice *argv, uint64_t usec)
{
    if (cfg.slowlog_max_len == 0) {
        /* Redis still counts the id; nothing is kept */
        slow_next_id++;
        return;
    }
    struct slow_entry *e = calloc(1, sizeof(*e));
    int n = argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : argc;
    if (e == NULL || (e->argv = calloc((size_t)n, sizeof(*e->argv))) == NULL) {
        free(e);
        return;
    }
    bool ok = true;
    for (int j = 0; j < n && ok; j++) {
        char buf[SLOWLOG_MAX_STRING + 64];
        if (argc > SLOWLOG_MAX_ARGC && j == n - 1) {
            int k = snprintf(buf, sizeof(buf), "... (%d more arguments)", argc - n + 1);
            ok = slow_set_arg(&e->argv[j], buf, (size_t)k);
        } else if (redacted(cmd, argc, argv, j)) {
            ok = slow_set_arg(&e->argv[j], "(redacted)", 10);
        } else if (argv[j].len > SLOWLOG_MAX_STRING) {
            memcpy(buf, argv[j].p, SLOWLOG_MAX_STRING);
            int k = snprintf(buf + SLOWLOG_MAX_STRING, sizeof(buf) - SLOWLOG_MAX_STRING,
                             "... (%zu more bytes)", argv[j].len - SLOWLOG_MAX_STRING);
            ok = slow_set_arg(&e->argv[j], buf, SLOWLOG_MAX_STRING + (size_t)k);
        } else {
            ok = slow_set_arg(&e->argv[j], argv[j].p, argv[j].len);
        }
        if (ok)
            e->argc = j + 1;
    }
    e->addr = strdup(c->addr);
    e->name = strdup(c->name ? c->name : "");
    if (!ok || e->addr == NULL || e->name == NULL) {
        slow_free(e);
        return;
    }
    e->id = slow_next_id++;
    e->time = (long long)time(NULL);
    e->usec = (long long)usec;
    e->next = slow_head;
    if (slow_head)
        slow_head->prev = e;
    else
        slow_tail = e;
    slow_head = e;
    slow_len++;
    while (slow_len > (size_t)cfg.slowlog_max_len)
        slow_unlink_tail();
}

static void cmd_slowlog_help(struct session *s, int argc, struct slice *argv)
{
    static const char *const lines[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    text_reply_help(&s->reply, lines);
}

static void cmd_slowlog_get(struct session *s, int argc, struct slice *argv)
{
    if (argc > 3) {
        reply_errorf(&s->reply,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                     "SLOWLOG HELP.",
                     (int)(argv[1].len > 128 ? 128 : argv[1].len), argv[1].p);
        return;
    }
    long long count = 10;
    if (argc == 3 && (!slice_to_ll(&argv[2], &count) || count < -1)) {
        reply_error(&s->reply, "ERR count should be greater than or equal to -1");
        return;
    }
    size_t n = count == -1 || (unsigned long long)count > slow_len ? slow_len : (size_t)count;
    reply_array(&s->reply, n);
    struct slow_entry *e = slow_head;
    for (size_t i = 0; i < n; i++, e = e->next) {
        reply_array(&s->reply, 6);
        reply_int(&s->reply, e->id);
        reply_int(&s->reply, e->time);
        reply_int(&s->reply, e->usec);
        reply_array(&s->reply, (size_t)e->argc);
        for (int j = 0; j < e->argc; j++)
            reply_bulk(&s->reply, e->argv[j].p, e->argv[j].len);
        reply_cstr(&s->reply, e->addr);
        reply_cstr(&s->reply, e->name);
    }
}

static void cmd_slowlog_len(struct session *s, int argc, struct slice *argv)
{
    reply_int(&s->reply, (long long)slow_len);
}

static void cmd_slowlog_reset(struct session *s, int argc, struct slice *argv)
{
    slow_reset();
    reply_ok(&s->reply);
}

/* ---- MONITOR ---- */

static size_t monitor_hint;

static void cmd_monitor(struct session *s, int argc, struct slice *argv)
{
    struct conn *c = conn_of(s);
    if (s->tx.executing) {
        /* a client waiting for EXEC's reply cannot become a stream */
        reply_error(&s->reply, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    if (c->monitor)
        return;   /* Redis ignores a second MONITOR without a reply */
    c->monitor = true;
    monitor_hint++;
    reply_ok(&s->reply);
}

/* Appends arg quoted as Redis shows it: "..." with \\ \" \n \r \t \a \b
 * and \xHH for every other byte outside the printable ASCII range. */
static void quote_arg(struct reply *r, const char *p, size_t n)
{
    char buf[256];
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (o > sizeof(buf) - 8) {
            reply_raw(r, buf, o);
            o = 0;
        }
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\': buf[o++] = '\\'; buf[o++] = '\\'; break;
        case '"':  buf[o++] = '\\'; buf[o++] = '"'; break;
        case '\n': buf[o++] = '\\'; buf[o++] = 'n'; break;
        case '\r': buf[o++] = '\\'; buf[o++] = 'r'; break;
        case '\t': buf[o++] = '\\'; buf[o++] = 't'; break;
        case '\a': buf[o++] = '\\'; buf[o++] = 'a'; break;
        case '\b': buf[o++] = '\\'; buf[o++] = 'b'; break;
        default:
            if (ch >= 0x20 && ch < 0x7f)
                buf[o++] = (char)ch;
            else
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02x", ch);
        }
    }
    buf[o++] = '"';
    reply_raw(r, buf, o);
}

static void monitor_feed(struct conn *from, const struct command *cmd, int argc,
                         const struct slice *argv)
{
    /* Build the line once, in a scratch reply, then copy it to each monitor. */
    struct reply line;
    reply_init(&line);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char head[160];
    int k;
    if (from->is_unix)
        k = snprintf(head, sizeof(head), "+%ld.%06ld [0 unix:%s]", (long)tv.tv_sec,
                     (long)tv.tv_usec, cfg.unixsocket);
    else
        k = snprintf(head, sizeof(head), "+%ld.%06ld [0 %s]", (long)tv.tv_sec,
                     (long)tv.tv_usec, from->addr);
    reply_raw(&line, head, (size_t)k < sizeof(head) ? (size_t)k : sizeof(head) - 1);
    for (int j = 0; j < argc; j++) {
        reply_raw(&line, " ", 1);
        if (redacted(cmd, argc, argv, j))
            quote_arg(&line, "(redacted)", 10);
        else
            quote_arg(&line, argv[j].p, argv[j].len);
    }
    reply_raw(&line, "\r\n", 2);

    size_t seen = 0;
    struct conn *next;
    for (struct conn *m = conn_first(); m && !line.oom; m = next) {
        next = m->next;
        if (!m->monitor || m->dead)
            continue;
        seen++;
        if (m->sess.reply.len - m->wpos > MONITOR_OUT_MAX) {
            log_warn("Closing MONITOR client %s: it is not reading its output", m->addr);
            conn_close(m);   /* not freed if it is the client running this command */
            continue;
        }
        reply_raw(&m->sess.reply, line.buf, line.len);
        conn_want_write(m);
    }
    monitor_hint = seen;
    reply_deinit(&line);
}

/* ---- the observer ---- */

static void on_command(struct session *s, const struct command *cmd, int argc,
                       struct slice *argv, uint64_t usec)
{
    struct conn *c = conn_of(s);
    if (s->port != CMD_PORT_DATA)
        return;   /* the admin port's commands are the operator's, not the data port's views */
    if (strcmp(cmd->name, "quit") == 0)
        return;   /* Redis answers QUIT before running commands: never logged or shown */
    latency_record_command(cmd, usec);
    latency_add_sample((cmd->flags & CMD_FAST) ? "fast-command" : "command", usec / 1000);
    /* EXEC is not logged itself: the commands it ran are */
    if (cfg.slowlog_log_slower_than >= 0 && usec >= (uint64_t)cfg.slowlog_log_slower_than &&
        !(cmd->flags & CMD_SKIP_SLOWLOG))
        slow_push(c, cmd, argc, argv, usec);
    if (monitor_hint > 0 && !(cmd->flags & CMD_ADMIN))
        monitor_feed(c, cmd, argc, argv);
}

/* The row that will run for this request (a subcommand row for containers). */
static const struct command *request_row(const struct conn *c)
{
    const struct slice *argv = c->req.argv;
    if (c->req.argc <= 0)
        return NULL;
    const struct command *cmd = command_lookup(argv[0].p, argv[0].len);
    if (cmd != NULL && cmd->subcommands != NULL && c->req.argc >= 2) {
        const struct command *sub = command_lookup_sub(cmd, argv[1].p, argv[1].len);
        if (sub != NULL)
            return sub;
    }
    return cmd;
}

/* Redis's test for "touches the keyspace", with EXEC judged by its queue. */
static bool row_touches_keys(const struct conn *c, const struct command *cmd, uint32_t mask)
{
    if (cmd == NULL)
        return false;
    if (cmd->flags & mask)
        return true;
    return (cmd->flags & CMD_TX_EXEC) && (session_tx_flags(&c->sess) & mask);
}

bool introspect_refuse(struct conn *c)
{
    if (!c->monitor)
        return false;
    const struct command *cmd = request_row(c);
    if (!row_touches_keys(c, cmd, CMD_WRITE | CMD_READONLY | CMD_MAYREPLICATE))
        return false;
    command_reject(&c->sess, cmd, "ERR Replica can't interact with the keyspace");
    return true;
}

/* ---- CLIENT PAUSE ---- */

enum pause_mode { PAUSE_NONE, PAUSE_WRITE, PAUSE_ALL };
static enum pause_mode pause_mode;
static int64_t pause_end_ms;
static struct event *pause_ev;

static void pause_end(void)
{
    pause_mode = PAUSE_NONE;
    pause_end_ms = 0;
    conn_resume_held();
}

static void on_pause_timer(evutil_socket_t fd, short what, void *arg)
{
    int64_t left = pause_end_ms - server_now_ms();
    if (pause_mode != PAUSE_NONE && left > 0) {
        struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
        evtimer_add(pause_ev, &tv);
        return;
    }
    pause_end();
}

/* Fires the pause timer after ms (0: on the next loop iteration, so held
 * clients never run inside another client's command). */
static bool pause_arm(int64_t ms)
{
    if (pause_ev == NULL) {
        pause_ev = evtimer_new(srv.base, on_pause_timer, NULL);
        if (pause_ev == NULL)
            return false;
    }
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(pause_ev, &tv);
    return true;
}

bool introspect_hold(const struct conn *c)
{
    if (pause_mode == PAUSE_NONE || c->monitor || c->req.argc <= 0)
        return false;
    if (server_now_ms() >= pause_end_ms) {
        /* due: the timer resumes the others on the next loop iteration */
        pause_mode = PAUSE_NONE;
        pause_arm(0);
        return false;
    }
    if (slice_eq(&c->req.argv[0], "quit"))
        return false;
    if (pause_mode == PAUSE_ALL)
        return true;
    return row_touches_keys(c, request_row(c), CMD_WRITE | CMD_MAYREPLICATE);
}

void introspect_client_pause(struct session *s, int argc, struct slice *argv)
{
    long long ms;
    if (!slice_to_ll(&argv[2], &ms)) {
        reply_error(&s->reply, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        reply_error(&s->reply, "ERR timeout is negative");
        return;
    }
    enum pause_mode mode = PAUSE_ALL;
    if (argc == 4) {
        if (slice_eq(&argv[3], "write"))
            mode = PAUSE_WRITE;
        else if (!slice_eq(&argv[3], "all")) {
            reply_error(&s->reply, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    } else if (argc > 4) {
        reply_errorf(&s->reply,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                     "CLIENT HELP.",
                     (int)(argv[1].len > 128 ? 128 : argv[1].len), argv[1].p);
        return;
    }
    int64_t now = server_now_ms();
    if (ms > INT64_MAX / 2 - now)
        ms = INT64_MAX / 2 - now;
    /* As in Redis, a pause only ever grows: the later end and the wider mode win. */
    int64_t end = now + ms;
    if (pause_mode == PAUSE_NONE || end > pause_end_ms)
        pause_end_ms = end;
    if (mode > pause_mode)
        pause_mode = mode;
    if (!pause_arm(pause_end_ms - now)) {
        pause_mode = PAUSE_NONE;
        reply_error(&s->reply, "ERR out of memory");
        return;
    }
    reply_ok(&s->reply);
}

void introspect_client_unpause(struct session *s, int argc, struct slice *argv)
{
    if (pause_mode != PAUSE_NONE) {
        pause_mode = PAUSE_NONE;
        pause_end_ms = 0;
        pause_arm(0);
    }
    reply_ok(&s->reply);
}

/* ---- CLIENT TRACKING and friends: tracking is not supported ---- */

void introspect_client_tracking(struct session *s, int argc, struct slice *argv)
{
    if (slice_eq(&argv[2], "off")) {
        reply_ok(&s->reply);
    } else if (slice_eq(&argv[2], "on")) {
        reply_error(&s->reply, "ERR client-side caching (CLIENT TRACKING) is not supported by "
                               "compactd");
    } else {
        reply_error(&s->reply, ERR_SYNTAX);
    }
}

void introspect_client_caching(struct session *s, int argc, struct slice *argv)
{
    reply_error(&s->reply, "ERR CLIENT CACHING can be called only when the client is in "
                           "tracking mode with OPTIN or OPTOUT mode enabled");
}

void introspect_client_unblock(struct session *s, int argc, struct slice *argv)
{
    long long id;
    if (!slice_to_ll(&argv[2], &id)) {
        reply_error(&s->reply, ERR_NOT_INT);
        return;
    }
    if (argc == 4 && !slice_eq(&argv[3], "timeout") && !slice_eq(&argv[3], "error")) {
        reply_error(&s->reply, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        return;
    }
    if (argc > 4) {
        reply_errorf(&s->reply,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                     "CLIENT HELP.",
                     (int)(argv[1].len > 128 ? 128 : argv[1].len), argv[1].p);
        return;
    }
    /* compactd has no blocking commands (and Redis 7.0 does not unblock a
     * client held by CLIENT PAUSE either) */
    reply_int(&s->reply, 0);
}

void introspect_client_getredir(struct session *s, int argc, struct slice *argv)
{
    reply_int(&s->reply, -1);
}

void introspect_client_trackinginfo(struct session *s, int argc, struct slice *argv)
{
    reply_map(&s->reply, 3);
    reply_cstr(&s->reply, "flags");
    reply_set(&s->reply, 1);
    reply_cstr(&s->reply, "off");
    reply_cstr(&s->reply, "redirect");
    reply_int(&s->reply, -1);
    reply_cstr(&s->reply, "prefixes");
    reply_array(&s->reply, 0);
}

/* ---- INFO persistence ---- */

void introspect_info_persistence(struct text *t)
{
    text_printf(t,
                "loading:0\r\n"
                "async_loading:0\r\n"
                "current_cow_peak:0\r\n"
                "current_cow_size:0\r\n"
                "current_cow_size_age:0\r\n"
                "current_fork_perc:0.00\r\n"
                "current_save_keys_processed:0\r\n"
                "current_save_keys_total:0\r\n"
                "rdb_changes_since_last_save:0\r\n"
                "rdb_bgsave_in_progress:0\r\n"
                "rdb_last_save_time:%lld\r\n"
                "rdb_last_bgsave_status:ok\r\n"
                "rdb_last_bgsave_time_sec:-1\r\n"
                "rdb_current_bgsave_time_sec:-1\r\n"
                "rdb_saves:0\r\n"
                "rdb_last_cow_size:0\r\n"
                "rdb_last_load_keys_expired:0\r\n"
                "rdb_last_load_keys_loaded:0\r\n"
                "aof_enabled:0\r\n"
                "aof_rewrite_in_progress:0\r\n"
                "aof_rewrite_scheduled:0\r\n"
                "aof_last_rewrite_time_sec:-1\r\n"
                "aof_current_rewrite_time_sec:-1\r\n"
                "aof_last_bgrewrite_status:ok\r\n"
                "aof_rewrites:0\r\n"
                "aof_rewrites_consecutive_failures:0\r\n"
                "aof_last_write_status:ok\r\n"
                "aof_last_cow_size:0\r\n"
                "module_fork_in_progress:0\r\n"
                "module_fork_last_cow_size:0\r\n",
                (long long)(srv.start_ms / 1000));
}

/* ---- the table ---- */

/* SLOWLOG's subcommands: admin, and unlike most, allowed in scripts (Redis 7.0) */
#define SLOWLOG_SUB (CMD_ADMIN | CMD_LOADING | CMD_STALE)
#define SUB(n, ar, fl, fn, sum)                                                             \
    {.name = n, .arity = ar, .flags = fl, .proc = fn, .summary = sum, .group = "server", \
     .since = "2.2.12"}

static const struct command slowlog_subs[] = {
    SUB("help", 2, CMD_LOADING | CMD_STALE, cmd_slowlog_help, "Show helpful text about the different subcommands"),
    SUB("get", -2, SLOWLOG_SUB, cmd_slowlog_get, "Get the slow log's entries"),
    SUB("len", 2, SLOWLOG_SUB, cmd_slowlog_len, "Get the slow log's length"),
    SUB("reset", 2, SLOWLOG_SUB, cmd_slowlog_reset, "Clear all entries from the slow log"),
    {.name = NULL},
};

/* Containers have no proc: proto answers a missing or unknown subcommand. */
static const struct command introspect_rows[] = {
    {.name = "slowlog", .arity = -2, .flags = 0, .proc = NULL,
     .summary = "A container for slow log commands", .group = "server", .since = "2.2.12",
     .subcommands = slowlog_subs},
    {.name = "latency", .arity = -2, .flags = 0, .proc = NULL,
     .summary = "A container for latency diagnostics commands", .group = "server",
     .since = "2.8.13", .subcommands = latency_subs},
    {.name = "monitor", .arity = 1, .flags = CMD_FLAGS_ADMIN, .proc = cmd_monitor,
     .summary = "Listen for all requests received by the server in real time",
     .group = "server", .since = "1.0.0"},
};

int introspect_setup(void)
{
    int rc = command_register(introspect_rows, sizeof(introspect_rows) / sizeof(introspect_rows[0]));
    if (rc == 0)
        command_set_observer(on_command);
    return rc;
}

void introspect_teardown(void)
{
    command_set_observer(NULL);
    slow_reset();
    latency_teardown();
    if (pause_ev != NULL) {
        event_free(pause_ev);
        pause_ev = NULL;
    }
    pause_mode = PAUSE_NONE;
}
