/*
 * admin: the admin port (see admin.h): what its connections do (a struct
 * conn_port), its option check, its setup (the HTTP routes and the
 * listener) and its teardown.
 */
#include "daemon/admin.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "daemon/admin_cmd.h"
#include "daemon/admin_http.h"
#include "daemon/admin_metrics.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/dashboard.h"
#include "daemon/listener.h"
#include "daemon/server.h"

/* What an admin connection does: admin commands or one HTTP request,
 * admin-password, none of the client limits, errors counted apart. */
static const struct conn_port admin_conn_port = {
    .run = admin_run,
    .http_detect = admin_http_detect,
    .http_serve = admin_http,
    .password = &cfg.admin_password,
    .clients = false,
    .error_replies = &srv.stats.admin_error_replies,
    .listen_note = " (admin port: admin commands; HTTP: dashboard at GET /, GET /metrics)",
};

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
    admin_http_clear_routes();
    admin_metrics_setup();
    dashboard_setup();   /* GET /, /api/... */
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
