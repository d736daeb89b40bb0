/*
 * dataport: the data port, where clients run Redis commands (see
 * dataport.c).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "daemon/conn.h"

/* What a data-port connection does (conn.h). */
extern const struct conn_port data_port;

/* Opens the data port's listeners: TCP on every bind address (port 0: no
 * TCP) and the Unix socket if unixsocket is set; at least one must open.
 * Returns 0 or a sysexits code after writing a message to err. */
int dataport_setup(char *err, size_t errlen);

/* Once a second from the cron: logs the evictions maxmemory caused since
 * the last report (at most one line every 10 s). */
void dataport_evict_report(int64_t now_ms);
