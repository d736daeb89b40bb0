/*
 * introspect: what the daemon tells operators about the commands it runs:
 * SLOWLOG, MONITOR and CLIENT PAUSE/UNPAUSE (plus the CLIENT
 * TRACKING/GETREDIR/TRACKINGINFO answers of a server without tracking),
 * and the feed of LATENCY and INFO latencystats (daemon/latency.h).
 *
 * Everything is fed from proto's command observer (command_set_observer),
 * which runs after each handler with the time commandstats counts, so the
 * three views agree with INFO commandstats on what ran and for how long,
 * and the commands EXEC runs are seen one by one, as Redis 7.0 sees them.
 *
 * The CLIENT handlers are rows of cmd_client.c's CLIENT table. Before a
 * parsed request runs, the data port asks introspect_hold (it is the port's
 * hold function, which conn.c calls) and introspect_refuse.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/command.h"

struct conn;
struct text;

/* Registers SLOWLOG, LATENCY and MONITOR and installs the observer.
 * Returns 0 or an errno (from command_register). */
int introspect_setup(void);
/* Frees the slow log, the latency history and the pause timer. */
void introspect_teardown(void);

/*
 * CLIENT PAUSE: true if c's parsed request (c->req) must wait for the pause
 * to end (every command in ALL mode; commands that write in WRITE mode,
 * EXEC of a transaction that writes included). QUIT and MONITOR clients
 * are never held. conn.c re-parses a held request once the pause ends
 * (conn_resume_held).
 */
bool introspect_hold(const struct conn *c);

/*
 * Before dispatch: a MONITOR client may not run commands that touch keys;
 * replies Redis's error (counted as a rejected call) and returns true then.
 */
bool introspect_refuse(struct conn *c);

/* CLIENT subcommands (rows in cmd_client.c). */
void introspect_client_pause(struct session *s, int argc, struct slice *argv);
void introspect_client_unpause(struct session *s, int argc, struct slice *argv);
void introspect_client_tracking(struct session *s, int argc, struct slice *argv);
void introspect_client_getredir(struct session *s, int argc, struct slice *argv);
void introspect_client_trackinginfo(struct session *s, int argc, struct slice *argv);
void introspect_client_caching(struct session *s, int argc, struct slice *argv);
void introspect_client_unblock(struct session *s, int argc, struct slice *argv);

/*
 * INFO persistence's fields (without the "# Persistence" header), all
 * saying that nothing is persisted, appended to t. rdb_last_save_time is
 * the start time, as for a fresh Redis.
 */
void introspect_info_persistence(struct text *t);
