/*
 * compactor: the event-loop side of online compaction (see compactor.h).
 *
 * alloc/ owns the mover's state machine and its counters, keyspace/ the
 * evacuate callback (ks_compact_*); this file only decides when to step and
 * how far apart, and reports. A step waits while the reclaimer thread is
 * still returning the pages the last one freed (alloc_compact_releasing,
 * for at most RELEASE_HOLD_MAX_US), so that the two seldom overlap.
 * Invariant: step_ev is pending exactly while a run started here is
 * unfinished, so the loop never spins and a finished run is logged once
 * (finish() runs on the step that ends it).
 */
#include "daemon/compactor.h"

#include <event2/event.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "alloc/alloc.h"
#include "daemon/config.h"
#include "daemon/latency.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/settings.h"
#include "keyspace/keyspace.h"
#include "proto/human.h"

#define AUTO_BACKOFF_MS 60000   /* after an automatic run that released nothing */
/* A step is held while the calls the last one queued are under way
 * (alloc_compact_releasing), looking again every RELEASE_RECHECK_US, for
 * at most RELEASE_HOLD_MAX_US: a call's 1-4 ms tail must not stall the run. */
#define RELEASE_RECHECK_US 250
#define RELEASE_HOLD_MAX_US 5000
_Static_assert(COMPACT_LONG_STEP_US == 1000, "the help of compaction_long_steps says 1 ms");

static struct event *step_ev;
static bool active;             /* a run started here is unfinished */
static enum compact_trigger run_trigger;
static bool run_aborted;        /* the running run was ended by COMPACT ABORT */
static size_t rss_before;
static int64_t last_start_ms;   /* wall clock of the last run's start (schedule) */
static int64_t auto_quiet_until_ms;
static struct compactor_stats cst;

/* Each trigger's name in the log line, and whether it was an operator's
 * request, which is logged even when it found nothing to do. */
static const struct {
    const char *name;
    bool requested;
} triggers[] = {
    [COMPACT_AUTO] = {"auto", false},
    [COMPACT_SCHEDULED] = {"scheduled", false},
    [COMPACT_MANUAL] = {"manual", true},
    [COMPACT_MANUAL_SYNC] = {"manual sync", true},
    [COMPACT_DASHBOARD] = {"dashboard", false},
    [COMPACT_QUIET] = {"quiet", false},
};
_Static_assert(sizeof(triggers) / sizeof(triggers[0]) == COMPACT_QUIET + 1,
               "a name for every trigger");

/* The quiet trigger: alloc's count of frees when it last changed, when that
 * was, and what it was when the last packing run ended (the run's own moves
 * free blocks too; a quiet run fires at most once per state of the
 * keyspace, never twice on the same one, so it cannot spin). */
static uint64_t seen_frees, frees_at_run_end;
static int64_t frees_changed_ms;

static uint64_t alloc_frees(void)
{
    struct alloc_stats as;
    alloc_stats(&as);
    return as.frees;
}

/* Only the fragmentation trigger evacuates without packing: it fires while
 * the keyspace is busy, when a pair's sparsest arena is likely the one
 * being filled. */
static void opts_from_cfg(struct alloc_compact_opts *o, int cls, enum compact_trigger why)
{
    alloc_compact_opts_default(o);
    o->cls = cls;
    o->pack = why != COMPACT_AUTO;
}

/* The run ended (this step finished it): one log line. */
static void finish(void)
{
    active = false;
    struct alloc_compact_status st;
    ks_compact_status(&st);
    size_t rss_after = alloc_rss_bytes();
    cst.last_rss_before = rss_before;
    cst.last_rss_after = rss_after;
    char moved[32], purged[32], rb[32], ra[32], mb[32], ma[32];
    human_bytes(moved, sizeof(moved), (double)st.bytes_moved, HUMAN_LOG);
    human_bytes(purged, sizeof(purged), (double)st.bytes_purged, HUMAN_LOG);
    human_bytes(rb, sizeof(rb), (double)rss_before, HUMAN_LOG);
    human_bytes(ra, sizeof(ra), (double)rss_after, HUMAN_LOG);
    human_bytes(mb, sizeof(mb), (double)st.mapped_before, HUMAN_LOG);
    human_bytes(ma, sizeof(ma), (double)st.mapped_after, HUMAN_LOG);
    /* Runs that found nothing to do (scheduled, automatic) are verbose only. */
    bool idle = st.blocks_moved == 0 && st.blocks_dropped == 0 && st.arenas_released == 0 &&
                st.bytes_purged == 0 &&
                (run_aborted || !triggers[run_trigger].requested);
    log_at(idle ? LOG_LVL_VERBOSE : LOG_LVL_NOTICE, "Compaction run (%s%s): %llu classes touched, %llu entries moved (%s), "
               "%llu dropped, %llu arenas released, %llu abandoned, %s of pages purged; "
               "mapped %s -> %s, "
               "RSS %s -> %s; %.3f ms (%.3f ms in %llu steps)",
               run_aborted ? "aborted" : triggers[run_trigger].name, st.cls >= 0 ? ", one class" : "",
               (unsigned long long)st.classes_touched, (unsigned long long)st.blocks_moved, moved,
               (unsigned long long)st.blocks_dropped, (unsigned long long)st.arenas_released,
               (unsigned long long)st.arenas_abandoned, purged, mb, ma, rb, ra,
               (double)st.duration_us / 1000.0, (double)st.time_us / 1000.0,
               (unsigned long long)st.steps);
    if (!run_aborted && run_trigger == COMPACT_AUTO && st.arenas_released == 0)
        auto_quiet_until_ms = server_now_ms() + AUTO_BACKOFF_MS;
    /* a packing run leaves nothing the quiet trigger could want until the
     * keyspace frees again; an evacuating one may leave holes to pack */
    if (run_trigger != COMPACT_AUTO) {
        frees_at_run_end = alloc_frees();
#ifdef __GLIBC__
        /* The daemon's own heap (index tables, client buffers) keeps the
         * free pages of its peak between live chunks: give them back too. */
        malloc_trim(0);
#endif
    }
}

/* One step; true while the run goes on. */
static bool step(uint64_t budget_us)
{
    ks_clock_update_to(server_now_ms());   /* expired entries are dropped by the clock */
    /* The CPU clock is a system call, and the kernel may switch threads on
     * its way back: read outside the wall interval, it cannot add a wait
     * for the CPU to the step (wall time still holds what the OS ran
     * instead during the step itself). */
    uint64_t c0 = clock_thread_cpu_us();
    uint64_t t0 = clock_mono_us();
    bool more = ks_compact_step(budget_us);
    uint64_t took = clock_mono_us() - t0;
    uint64_t cpu = clock_thread_cpu_us() - c0;
    if (took > cst.max_step_us)
        cst.max_step_us = took;
    if (cpu > cst.max_step_cpu_us)
        cst.max_step_cpu_us = cpu;
    cst.long_steps += took > COMPACT_LONG_STEP_US;
    cst.long_steps_cpu += cpu > COMPACT_LONG_STEP_US;
    latency_add_sample("compaction", took / 1000);
    if (!more)
        finish();
    return more;
}

static void schedule_step(uint64_t delay_us)
{
    struct timeval tv = {(time_t)(delay_us / 1000000u), (suseconds_t)(delay_us % 1000000u)};
    evtimer_add(step_ev, &tv);
}

static void on_step(evutil_socket_t fd, short what, void *arg)
{
    static uint64_t held_us;
    if (alloc_compact_releasing() && held_us < RELEASE_HOLD_MAX_US) {
        held_us += RELEASE_RECHECK_US;
        schedule_step(RELEASE_RECHECK_US);
        return;
    }
    held_us = 0;
    uint64_t slice = (uint64_t)cfg.compact_slice_us;
    uint64_t t0 = clock_mono_us();
    if (!step(slice))
        return;
    /* Idle (100 - pct) / pct of the time worked, so the run's share of a
     * core stays at compact-cpu-pct. */
    uint64_t took = clock_mono_us() - t0;
    uint64_t pct = (uint64_t)cfg.compact_cpu_pct;
    schedule_step(pct >= 100 ? 0 : took * (100 - pct) / pct);
}

static void start_run(int cls, enum compact_trigger why)
{
    struct alloc_compact_opts o;
    opts_from_cfg(&o, cls, why);
    rss_before = alloc_rss_bytes();
    run_trigger = why;
    run_aborted = false;
    last_start_ms = server_now_ms();
    ks_compact_start(&o);
    active = true;
    if (why == COMPACT_AUTO || why == COMPACT_QUIET)
        cst.runs_auto++;
    else if (why == COMPACT_SCHEDULED)
        cst.runs_scheduled++;
    else
        cst.runs_manual++;
    log_verbose("Compaction run started (%s, class %d)", triggers[why].name, cls);
}

int compactor_setup(struct event_base *base)
{
    static const enum cfg_opt opts[] = {CFG_OPT_compact_auto,      CFG_OPT_compact_frag_threshold,
                                        CFG_OPT_compact_min_reclaim, CFG_OPT_compact_interval,
                                        CFG_OPT_compact_slice_us,  CFG_OPT_compact_cpu_pct};
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
        config_on_change(opts[i], compactor_config_changed);
    step_ev = evtimer_new(base, on_step, NULL);
    last_start_ms = server_now_ms();
    return step_ev != NULL ? 0 : -1;
}

void compactor_teardown(void)
{
    if (step_ev != NULL)
        event_free(step_ev);
    step_ev = NULL;
    active = false;
}

bool compactor_start(int cls, enum compact_trigger why)
{
    if (active || ks_compact_running())
        return false;
    start_run(cls, why);
    schedule_step(0);
    return true;
}

void compactor_run_sync(int cls)
{
    if (!active && !ks_compact_running())
        start_run(cls, COMPACT_MANUAL_SYNC);
    if (step_ev != NULL)
        evtimer_del(step_ev);
    while (step(UINT64_MAX / 4))
        ;
}

void compactor_cron(void)
{
    if (active || ks_compact_running())   /* O(1); ks_compact_status sums every pair */
        return;
    int64_t now = server_now_ms();
    if (cfg.compact_interval > 0 && now - last_start_ms >= cfg.compact_interval * 1000) {
        compactor_start(-1, COMPACT_SCHEDULED);
        return;
    }
    if (!cfg.compact_auto)
        return;
    struct alloc_compact_opts o;
    if (now >= auto_quiet_until_ms) {
        opts_from_cfg(&o, -1, COMPACT_AUTO);
        if (ks_compact_wanted(&o)) {
            compactor_start(-1, COMPACT_AUTO);
            return;
        }
    }
    uint64_t frees = alloc_frees();
    if (frees != seen_frees) {
        seen_frees = frees;
        frees_changed_ms = now;
    }
    if (frees != frees_at_run_end && now - frees_changed_ms >= COMPACT_QUIET_MS) {
        opts_from_cfg(&o, -1, COMPACT_QUIET);
        if (ks_compact_wanted(&o))
            compactor_start(-1, COMPACT_QUIET);
        else
            frees_at_run_end = frees;   /* nothing worth a run: wait for the next frees */
    }
}

void compactor_config_changed(void)
{
    /* The trigger's thresholds are alloc's run-time options (alloc applies
     * only its CFG_MUTABLE rows of the struct). */
    struct alloc_options ao;
    settings_alloc_options(&ao);
    (void)alloc_options_apply(&ao);   /* config.c has checked the same bounds */
    /* A new threshold or switch deserves a fresh look at once. */
    auto_quiet_until_ms = 0;
    if (active && step_ev != NULL && evtimer_pending(step_ev, NULL)) {
        evtimer_del(step_ev);
        schedule_step(0);
    }
}

void compactor_stats(struct compactor_stats *st)
{
    *st = cst;
}

bool compactor_abort(void)
{
    if (!active && !ks_compact_running())
        return false;
    if (step_ev != NULL)
        evtimer_del(step_ev);
    ks_compact_abort();
    run_aborted = true;
    finish();
    return true;
}
