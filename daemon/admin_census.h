/*
 * admin_census: the live heap census on the admin port (the counting is
 * keyspace/census.c's).
 *
 * A census is started by CENSUS START on the admin port or by the
 * dashboard's POST /api/census/start, and walks the keyspace from a timer
 * in slices of census-slice-us (at most 1 ms), idling between them so that
 * it uses at most census-cpu-pct of a core. Its report is CENSUS REPORT / DIFF, GET /api/census, the
 * compactd_census_* gauges of /metrics (admin_metrics.c) and MEMORY
 * DOCTOR's pinning lines.
 */
#pragma once

struct event_base;
struct session;
struct slice;

int census_setup(struct event_base *base);
void census_teardown(void);

/* The admin port's CENSUS command (a row of admin_cmd.c's table). */
#define CENSUS_USAGE                                                                        \
    "CENSUS START [DELIMITER c] [DEPTH n] [TOP n] | CENSUS STATUS | CENSUS REPORT | "        \
    "CENSUS DIFF | CENSUS ABORT"
void census_cmd(struct session *s, int argc, struct slice *argv);

/* GET /api/census and POST /api/census/start (admin_setup adds them). */
void census_http_routes(void);
