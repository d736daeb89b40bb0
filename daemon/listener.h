/*
 * listener: listening sockets that hand accepted connections to their
 * port (see listener.c).
 */
#pragma once

#include <stddef.h>

struct conn_port;

/*
 * Listens on TCP spec:port for port's connections; spec is an address,
 * "*" (every IPv4 address) or "::*" (every IPv6 one), and a leading '-'
 * makes it optional: unavailable, it is skipped with a log line. Returns 0
 * or a sysexits code after writing a message to err.
 */
int listener_tcp(const char *spec, int portno, const struct conn_port *port, char *err,
                 size_t errlen);

/* Listens on the Unix socket path (a stale one is replaced; unixsocketperm
 * applies). Returns 0 or a sysexits code after writing a message to err. */
int listener_unix(const char *path, const struct conn_port *port, char *err, size_t errlen);

/* Listeners open now. */
int listener_count(void);

/* Closes every listener (and removes the Unix socket). */
void listener_teardown(void);
