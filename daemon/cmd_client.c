/*
 * cmd_client: CLIENT and its subcommands (LIST, KILL, INFO, SETNAME,
 * REPLY, ...), the commands that read or change connections, with Redis
 * 7.0's reply shapes and wordings. CLIENT PAUSE/UNPAUSE and the tracking
 * stubs are introspect.c's; their rows are here, with the others.
 *
 * Only data-port connections are clients: admin connections are neither
 * listed nor killed.
 */
#include "daemon/cmd_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/conn.h"
#include "daemon/introspect.h"
#include "proto/text.h"
#include "proto/command.h"

/* CLIENT LIST and INFO point the caller's last command at their own rows. */
#define CLIENT_NSUBS 18   /* rows including the terminator */
enum { CLIENT_SUB_LIST = 4, CLIENT_SUB_INFO = 5 };

static bool valid_name(const struct slice *n)
{
    for (size_t i = 0; i < n->len; i++)
        if (n->p[i] < '!' || n->p[i] > '~')
            return false;
    return true;
}

bool cmd_client_set_name(struct session *s, const struct slice *n)
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
    if (cmd_client_set_name(s, &argv[2]))
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
    conn_of(s)->last_cmd = &cmd_client_subs[CLIENT_SUB_LIST];   /* Redis shows the running command */
    for (struct conn *c = conn_first(); c && !none; c = c->next) {
        if (c->dead || !c->port->clients)   /* clients see only clients */
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
    conn_of(s)->last_cmd = &cmd_client_subs[CLIENT_SUB_INFO];
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
            if (c->dead || !c->port->clients || !addr_eq(c->addr, &argv[2]))
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
        if (c->dead || !c->port->clients || (id && c->sess.id != (uint64_t)id) ||
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

/* ---- the table ---- */

/* CLIENT's own-connection subcommands: Redis 7.0 does not flag them fast */
#define CLIENT_SELF (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define SUB(n, ar, fl, fn, sum) \
    {.name = n, .arity = ar, .flags = fl, .proc = fn, .summary = sum, .group = "server", .since = "2.4.0"}

const struct command cmd_client_subs[CLIENT_NSUBS] = {
    SUB("help", 2, CMD_LOADING | CMD_STALE, cmd_client_help, "Show helpful text about the different subcommands"),
    SUB("id", 2, CLIENT_SELF, cmd_client_id, "Returns the client ID for the current connection"),
    SUB("setname", 3, CLIENT_SELF, cmd_client_setname, "Set the current connection name"),
    SUB("getname", 2, CLIENT_SELF, cmd_client_getname, "Get the current connection name"),
    SUB("list", -2, CMD_FLAGS_ADMIN, cmd_client_list, "Get the list of client connections"),
    SUB("info", 2, CLIENT_SELF, cmd_client_info, "Returns information about the current client connection."),
    SUB("kill", -3, CMD_FLAGS_ADMIN, cmd_client_kill, "Kill the connection of a client"),
    SUB("setinfo", 4, CLIENT_SELF, cmd_client_setinfo, "Set client or connection specific info"),
    SUB("no-evict", 3, CMD_FLAGS_ADMIN, cmd_client_no_evict, "Set client eviction mode for the current connection"),
    SUB("reply", 3, CLIENT_SELF, cmd_client_reply, "Instruct the server whether to reply to commands"),
    SUB("pause", -3, CMD_FLAGS_ADMIN, introspect_client_pause, "Stop processing commands from clients for some time"),
    SUB("unpause", 2, CMD_FLAGS_ADMIN, introspect_client_unpause, "Resume processing of clients that were paused"),
    SUB("tracking", -3, CLIENT_SELF, introspect_client_tracking, "Enable or disable server assisted client side caching support"),
    SUB("getredir", 2, CLIENT_SELF, introspect_client_getredir, "Get tracking notifications redirection client ID if any"),
    SUB("trackinginfo", 2, CLIENT_SELF, introspect_client_trackinginfo, "Return information about server assisted client side caching for the current connection"),
    SUB("caching", 3, CLIENT_SELF, introspect_client_caching, "Instruct the server about tracking or not keys in the next request"),
    SUB("unblock", -3, CMD_FLAGS_ADMIN, introspect_client_unblock, "Unblock a client blocked in a blocking command from a different connection"),
    {.name = NULL},
};
_Static_assert(sizeof(cmd_client_subs) / sizeof(cmd_client_subs[0]) == CLIENT_NSUBS,
               "cmd_client_subs size");
