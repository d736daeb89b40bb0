/*
 * admin: the admin port, a second listener for operators.
 *
 * It speaks RESP, through the same connection machinery and parser as the
 * data port, but runs only its own small command table (AUTH, PING,
 * COMPACT, ARENAS, PINNERS, STATS, CONFIG, PURGE, SHUTDOWN, HELP): data
 * commands are unknown there, and admin commands are unknown on the data
 * port (daemon/admin_cmd.c). A connection whose first bytes are an HTTP
 * method ("GET ", "POST", "HEAD") is served as one HTTP/1.x request and
 * closed (daemon/admin_http.h); GET /metrics is the Prometheus text
 * exposition of the server's figures (daemon/admin_metrics.c), GET / the
 * live dashboard (daemon/dashboard.h).
 *
 * With admin-password set, everything but AUTH (and QUIT) answers NOAUTH
 * until AUTH succeeds; HTTP has its own checks (admin_http.h). admin-bind
 * must be a loopback address unless admin-password is set (admin_setup
 * refuses to start otherwise).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Checks the admin options together (a non-loopback admin-bind needs
 * admin-password); false with a message in err if they do not fit. */
bool admin_config_check(char *err, size_t errlen);

/* Opens the admin listener (admin-port 0: nothing). Returns 0 or a sysexits
 * code after writing a message to err. */
int admin_setup(char *err, size_t errlen);
void admin_teardown(void);
