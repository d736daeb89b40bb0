/*
 * cmd_server: the commands that need connection or server state, registered
 * into proto's shared command table: HELLO, AUTH, QUIT, RESET, CLIENT, INFO,
 * SHUTDOWN and CONFIG. This file holds the connection handshake (HELLO,
 * AUTH, QUIT, RESET), SHUTDOWN and the table; CLIENT, INFO and CONFIG are
 * cmd_client.c, cmd_info.c and cmd_config.c.
 *
 * Reply shapes and error wordings follow Redis 7.0, because clients and
 * tools (redis-cli, redis-benchmark, redis-py) parse them. HELLO reports
 * server "redis" and version 7.0.0 for the same reason; INFO adds
 * compactd_version so the truth is still visible.
 */
#include "daemon/cmd_server.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/cmd_client.h"
#include "daemon/cmd_config.h"
#include "daemon/cmd_info.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/server.h"
#include "proto/command.h"

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
    if (name != NULL && !cmd_client_set_name(s, name))
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

/* ---- the table ---- */

/* Containers have no proc: proto answers a missing or unknown subcommand. */
static const struct command server_rows[] = {
    {.name = "hello", .arity = -1, .flags = CMD_FLAGS_CONN | CMD_NOAUTH | CMD_ALLOW_BUSY, .proc = cmd_hello,
     .summary = "Handshake with the server", .group = "connection", .since = "6.0.0",
     .complexity = "O(1)"},
    {.name = "auth", .arity = -2, .flags = CMD_FLAGS_CONN | CMD_NOAUTH | CMD_ALLOW_BUSY, .proc = cmd_auth,
     .summary = "Authenticate to the server", .group = "connection", .since = "1.0.0",
     .complexity = "O(N) where N is the number of passwords defined for the user"},
    {.name = "quit", .arity = -1, .flags = CMD_FLAGS_CONN | CMD_NOAUTH | CMD_TX_NOQUEUE | CMD_ALLOW_BUSY, .proc = cmd_quit,
     .summary = "Close the connection", .group = "connection", .since = "1.0.0",
     .complexity = "O(1)"},
    {.name = "reset", .arity = 1, .flags = CMD_FLAGS_CONN | CMD_NOAUTH | CMD_TX_NOQUEUE | CMD_ALLOW_BUSY, .proc = cmd_reset,
     .summary = "Reset the connection", .group = "connection", .since = "6.2.0",
     .complexity = "O(1)"},
    {.name = "client", .arity = -2, .flags = 0, .proc = NULL,
     .summary = "A container for client connection commands", .group = "connection",
     .since = "2.4.0", .subcommands = cmd_client_subs},
    {.name = "info", .arity = -1, .flags = CMD_LOADING | CMD_STALE, .proc = cmd_info,
     .summary = "Get information and statistics about the server", .group = "server",
     .since = "1.0.0", .complexity = "O(1)"},
    {.name = "shutdown", .arity = -1, .flags = CMD_FLAGS_ADMIN | CMD_NOMULTI | CMD_ALLOW_BUSY, .proc = cmd_shutdown,
     .summary = "Stop the server", .group = "server", .since = "1.0.0",
     .complexity = "O(N) when saving, where N is the total number of keys in all databases"},
    {.name = "config", .arity = -2, .flags = 0, .proc = NULL,
     .summary = "A container for server configuration commands", .group = "server",
     .since = "2.0.0", .subcommands = cmd_config_subs},
};

int cmd_server_setup(void)
{
    return command_register(server_rows, sizeof(server_rows) / sizeof(server_rows[0]));
}
