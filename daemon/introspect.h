/*
 * introspect: what the daemon tells operators about the commands it runs:
 * SLOWLOG, LATENCY, MONITOR and CLIENT PAUSE/UNPAUSE (plus the CLIENT
 * TRACKING/GETREDIR/TRACKINGINFO answers of a server without tracking).
 *
 * Everything is fed from proto's command observer (command_set_observer),
 * which runs after each handler with the time commandstats counts, so the
 * three views agree with INFO commandstats on what ran and for how long,
 * and the commands EXEC runs are seen one by one, as Redis 7.0 sees them.
 *
 * The CLIENT handlers are rows of cmd_server.c's CLIENT table; conn.c asks
 * introspect_hold / introspect_refuse before running a parsed request.
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
 * Records a latency sample of event ("command", "fast-command",
 * "expire-cycle", "compaction", ...) if latency-monitor-threshold is on
 * (> 0) and ms reaches it. Samples within one second keep the largest.
 */
void latency_add_sample(const char *event, uint64_t ms);

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

/* CLIENT subcommands (rows in cmd_server.c). */
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

/*
 * INFO latencystats's lines (without the header), one per command that
 * ran since the last reset: "latency_percentiles_usec_<name>:p50=..,p99=..,
 * p99.9=..", in microseconds from a log-linear histogram (at most 1/16
 * above the true value), appended to t.
 */
void introspect_info_latencystats(struct text *t);
/* CONFIG RESETSTAT: forgets the latency histograms. */
void introspect_stats_reset(void);
