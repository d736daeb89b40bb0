/*
 * dashboard: the live arena dashboard on the admin port's HTTP side.
 *
 * GET / serves one self-contained page (daemon/dashboard.html, compiled in
 * by daemon/embed_file.cmake, so the daemon needs no files at run time and
 * the page loads nothing from elsewhere). The page polls
 *   GET  /api/stats    memory figures and the compaction run's status (JSON)
 *   GET  /api/arenas   every arena with live blocks, by class (JSON)
 * once a second and draws them; POST /api/compact starts an asynchronous
 * compaction run, like the admin command COMPACT ASYNC.
 *
 * The page itself holds no data, so it is served without the admin
 * password; every /api/ route needs it when admin-password is set (the page
 * asks for it and sends "Authorization: Bearer ..."), and answers a JSON
 * error otherwise. /api/stats is the metric table's rows with a JSON name
 * (daemon/metrics.h), the figures of STATS and /metrics; /api/arenas comes
 * from the sources of ARENAS and MEMORY STATS (alloc_arena_list,
 * alloc_class_stats).
 */
#pragma once

#include <stddef.h>

/* Registers the routes; admin_setup calls it after resetting the table. */
void dashboard_setup(void);

/* The page, generated at build time from daemon/dashboard.html. */
extern const unsigned char dashboard_html[];
extern const size_t dashboard_html_len;
