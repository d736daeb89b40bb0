/*
 * admin: the admin port (see admin.h): what its connections do (a struct
 * conn_port), its option check, its setup (the HTTP routes and the
 * listener) and its teardown.
 */
#include "daemon/admin.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "daemon/admin_census.h"
#include "daemon/admin_cmd.h"
#include "daemon/admin_http.h"
#include "daemon/admin_metrics.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/dashboard.h"
#include "daemon/listener.h"
#include "daemon/server.h"
#include "proto/command.h"

/*
 * Runs an admin connection's request through proto's dispatcher, among
 * the admin port's rows, with the port's own rules in front: while
 * admin-password is unanswered everything but AUTH and QUIT (the rows
 * flagged CMD_NOAUTH) is refused before the name is even looked at, and an
 * unknown name gets the port's own error, which points at HELP.
 */
static void admin_run(struct conn *c)
{
    struct session *s = &c->sess;
    int argc = c->req.argc;
    struct slice *argv = c->req.argv;
    if (argc <= 0)
        return;
    const struct command *cmd = command_lookup_port(CMD_PORT_ADMIN, argv[0].p, argv[0].len);
    if (s->need_auth && (cmd == NULL || !(cmd->flags & CMD_NOAUTH))) {
        reply_error(&s->reply, ERR_NOAUTH);
        return;
    }
    if (cmd == NULL) {
        int n = (int)(argv[0].len > 64 ? 64 : argv[0].len);
        /* printable only: the name is echoed to an operator's terminal */
        char name[65];
        for (int i = 0; i < n; i++)
            name[i] = isprint((unsigned char)argv[0].p[i]) ? argv[0].p[i] : '?';
        name[n] = '\0';
        reply_errorf(&s->reply, "ERR unknown admin command '%s'. Try HELP.", name);
        return;
    }
    /* counted before it runs, so that STATS counts itself; a request the
     * dispatcher refuses (arity) is no command run */
    srv.stats.admin_commands++;
    if (command_dispatch(s, argc, argv) == NULL)
        srv.stats.admin_commands--;
}

/* What an admin connection does: admin commands or one HTTP request,
 * admin-password, limits of its own (admin-maxclients, admin-auth-timeout)
 * and none of the clients', errors counted apart. */
static const struct conn_port admin_conn_port = {
    .commands = CMD_PORT_ADMIN,
    .run = admin_run,
    .http_detect = admin_http_detect,
    .http_serve = admin_http,
    .password = &cfg.admin_password,
    .clients = false,
    .error_replies = &srv.stats.admin_error_replies,
    .maxclients = &cfg.admin_maxclients,
    .rejected = &srv.stats.admin_rejected,
    .auth_timeout = &cfg.admin_auth_timeout,
    .listen_note = " (admin port: admin commands; HTTP: dashboard at GET /, GET /metrics)",
};

bool admin_config_check(char *err, size_t errlen)
{
    if (cfg.admin_port == 0 || cfg.admin_password[0] != '\0' ||
        conn_host_is_loopback(cfg.admin_bind, strlen(cfg.admin_bind)))
        return true;
    snprintf(err, errlen,
             "admin-bind %s is not a loopback address: set admin-password (or bind the "
             "admin port to 127.0.0.1, or disable it with admin-port 0)",
             cfg.admin_bind);
    return false;
}

int admin_setup(char *err, size_t errlen)
{
    int rc = admin_cmd_setup();
    if (rc != 0) {
        snprintf(err, errlen, "cannot register the admin commands: %s", strerror(rc));
        return EX_SOFTWARE;
    }
    admin_http_clear_routes();
    admin_metrics_setup();
    dashboard_setup();   /* GET /, /api/... */
    census_http_routes();
    if (cfg.admin_port == 0)
        return 0;
    if (!admin_config_check(err, errlen))
        return EX_CONFIG;
    return listener_tcp(cfg.admin_bind, (int)cfg.admin_port, &admin_conn_port, err, errlen);
}

void admin_teardown(void)
{
    admin_http_clear_routes();
}
