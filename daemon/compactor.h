/*
 * compactor: drives the keyspace's online compaction from the event loop.
 *
 * A run is started by the admin port (COMPACT), by the automatic trigger
 * (compact-auto: the allocator says fragmentation passed
 * compact-frag-threshold with at least compact-min-reclaim bytes to gain;
 * and, once the keyspace has freed nothing for COMPACT_QUIET_MS, a packing
 * run when the pages it would return pass alloc's floor, see
 * alloc_compact_wanted) or by the schedule (compact-interval). Every run
 * packs (alloc_compact_opts.pack) except the fragmentation trigger's, which
 * fires while writes go on. While a run goes, a libevent timer does one
 * step of compact-slice-us and then waits slice * (100 - pct) / pct, so the
 * run uses at most compact-cpu-pct of a core. Each finished run
 * logs one line and feeds LATENCY's "compaction" event with its longest
 * step.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct event_base;

int compactor_setup(struct event_base *base);
void compactor_teardown(void);

/* What starts a run. The trigger is counted (STATS runs_auto,
 * runs_scheduled, runs_manual) and named in the run's log line. */
enum compact_trigger {
    COMPACT_AUTO,          /* compact-auto: fragmentation passed the threshold */
    COMPACT_SCHEDULED,     /* compact-interval */
    COMPACT_MANUAL,        /* the admin port's COMPACT [ASYNC] */
    COMPACT_MANUAL_SYNC,   /* COMPACT SYNC */
    COMPACT_DASHBOARD,     /* the dashboard's POST /api/compact */
    COMPACT_QUIET,         /* compact-auto: the keyspace went quiet with pages to return */
};

/* How long the keyspace must free nothing before the quiet trigger looks. */
#define COMPACT_QUIET_MS 1000

/* Starts an asynchronous run over class cls (-1: all). False if one is
 * already running. */
bool compactor_start(int cls, enum compact_trigger why);
/* Runs a whole compaction now, blocking the loop (COMPACT SYNC); if a run
 * is in progress, finishes it. */
void compactor_run_sync(int cls);
/* Ends the running compaction now (COMPACT ABORT); false if none runs. */
bool compactor_abort(void);
/* Once a second from the cron: the trigger and the schedule. */
void compactor_cron(void);
/* The compaction options changed (CONFIG SET, SIGHUP). */
void compactor_config_changed(void);

/* Daemon-side figures for STATS and /metrics. */
struct compactor_stats {
    uint64_t runs_auto, runs_scheduled, runs_manual;
    uint64_t last_rss_before, last_rss_after;
    uint64_t max_step_us;            /* longest single step, every run (wall time) */
    uint64_t max_step_cpu_us;        /* most CPU time of a single step, every run */
    uint64_t long_steps;             /* steps over COMPACT_LONG_STEP_US of wall time */
    uint64_t long_steps_cpu;         /* ... and of their own CPU time */
};
/* A step longer than this is counted as long: a request that arrives
 * during it waits that long (Valkey cuts its defragmentation into 500 us
 * slices for the same reason). Against the max alone, one stall of the
 * machine hides how the rest behaved; two counts tell the mover's own
 * overruns (CPU) from the time the OS or the hypervisor took (wall). */
#define COMPACT_LONG_STEP_US 1000
void compactor_stats(struct compactor_stats *st);
