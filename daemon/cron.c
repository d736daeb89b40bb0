/*
 * cron: the timer that runs `hz` times a second and drives the bounded
 * background work: the keyspace's index rehashing (ks_cron, one slice) and
 * active expiry (ks_expire_cycle, expire-cycle-ms scaled by expire-effort,
 * ~1 ms by default), the instantaneous_ops_per_sec samples, and once a
 * second idle clients, the compaction trigger and the eviction report.
 * When an expiry cycle uses its whole budget there is a backlog of
 * expired keys, so a fast one-shot timer repeats the cycle every 10 ms
 * (the effort of a 100 Hz cron) until a cycle finishes early; an idle
 * server therefore wakes only `hz` times a second.
 *
 * An index resize keeps both tables mapped until it is migrated, and at
 * Redis's pace (1 ms per tick) the old table of a 10 M-key index, 40 MB,
 * took a minute and more to migrate once the writes that started the
 * resize had stopped. So the tick migrates one slice of REHASH_SLICE_US
 * and, if the resize is unfinished, starts another one-shot timer that
 * migrates a slice every REHASH_SLICE_US + REHASH_GAP_US, a quarter of a
 * core as a compaction's default, until the resize is done: a few
 * seconds, and a request waits at most one slice (the tick's own 1 ms
 * made that false).
 *
 * It also keeps systemd informed: WATCHDOG=1 at half of WATCHDOG_USEC when
 * the service manager asks for it, and a STATUS= line every few seconds.
 */
#include "daemon/cron.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "daemon/compactor.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/dataport.h"
#include "daemon/latency.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "keyspace/keyspace.h"

#define EXPIRE_FAST_MS  10
#define REHASH_SLICE_US 250
#define REHASH_GAP_US   750
#define STATUS_EVERY_MS 5000   /* STATUS= lines to systemd */

static struct event *cron_ev, *expire_ev, *rehash_ev;
static int64_t last_status_ms, last_watchdog_ms;
static int64_t watchdog_ms;   /* WATCHDOG=1 every this many ms (half of WATCHDOG_USEC), 0 off */
static long long cron_hz;
static uint64_t cron_ticks;

static void cron_schedule(void)
{
    cron_hz = cfg.hz;
    long us = 1000000L / (long)cron_hz;
    struct timeval tv = {us / 1000000L, (suseconds_t)(us % 1000000L)};
    evtimer_add(cron_ev, &tv);
}

/*
 * Runs one expiry cycle with the configured budget; true if it used (nearly)
 * all of it, i.e. it stopped for time rather than for lack of work. The
 * keyspace scales the budget by (effort + 2) / 3.
 */
static bool expire_step(void)
{
    uint64_t budget = (uint64_t)cfg.expire_cycle_us * (uint64_t)(cfg.expire_effort + 2) / 3;
    uint64_t t0 = clock_mono_us();
    size_t n = ks_expire_cycle(KS_EXPIRE_BUDGET_AUTO);
    uint64_t took = clock_mono_us() - t0;
    latency_add_sample("expire-cycle", took / 1000);
    return n > 0 && took >= budget - budget / 8;
}

static void on_expire_fast(evutil_socket_t fd, short what, void *arg)
{
    server_clock_sync();
    if (expire_step()) {
        struct timeval tv = {0, EXPIRE_FAST_MS * 1000};
        evtimer_add(expire_ev, &tv);
    }
}

static void rehash_later(void)
{
    struct timeval tv = {0, REHASH_GAP_US};
    evtimer_add(rehash_ev, &tv);
}

static void on_rehash(evutil_socket_t fd, short what, void *arg)
{
    server_clock_sync();   /* migration reaps expired entries by the clock */
    if (ks_cron(REHASH_SLICE_US))
        rehash_later();
}

static void on_cron(evutil_socket_t fd, short what, void *arg)
{
    int64_t now = server_clock_sync();
    if (ks_cron(REHASH_SLICE_US) && !evtimer_pending(rehash_ev, NULL))
        rehash_later();
    if (expire_step() && !evtimer_pending(expire_ev, NULL)) {
        struct timeval tv = {0, EXPIRE_FAST_MS * 1000};
        evtimer_add(expire_ev, &tv);
    }
    server_ops_sample(now);
    server_used_memory_peak(ks_used_memory());   /* at hz, as Redis samples it */
    cron_ticks++;
    if (cron_ticks % (uint64_t)cron_hz == 0) {
        conn_cron(now);
        compactor_cron();
        dataport_evict_report(now);
    }
    if (watchdog_ms > 0 && now - last_watchdog_ms >= watchdog_ms) {
        last_watchdog_ms = now;
        server_sd_notify("WATCHDOG=1");
    }
    if (now - last_status_ms >= STATUS_EVERY_MS) {
        last_status_ms = now;
        struct ks_stats ks;
        ks_stats(&ks);
        char msg[192];
        snprintf(msg, sizeof(msg), "STATUS=%zu keys, used memory %zu bytes, RSS %zu bytes, %zu clients",
                 ks.keys, ks_used_memory(), alloc_rss_bytes(), conn_count());
        server_sd_notify(msg);
    }
    cron_schedule();
}

int cron_setup(char *err, size_t errlen)
{
    config_on_change(CFG_OPT_hz, cron_hz_changed);
    server_clock_sync();
    const char *wd = getenv("WATCHDOG_USEC");
    const char *wdpid = getenv("WATCHDOG_PID");
    if (wd != NULL && (wdpid == NULL || atol(wdpid) == (long)getpid())) {
        long long us = atoll(wd);
        if (us > 0) {
            watchdog_ms = us / 2000 > 0 ? us / 2000 : 1;
            log_notice("systemd watchdog: WATCHDOG=1 every %lld ms", (long long)watchdog_ms);
        }
    }

    cron_ev = evtimer_new(srv.base, on_cron, NULL);
    expire_ev = evtimer_new(srv.base, on_expire_fast, NULL);
    rehash_ev = evtimer_new(srv.base, on_rehash, NULL);
    if (!cron_ev || !expire_ev || !rehash_ev) {
        snprintf(err, errlen, "cannot register timers");
        return EX_OSERR;
    }
    cron_schedule();
    return 0;
}

void cron_hz_changed(void)
{
    if (cron_ev == NULL)
        return;
    evtimer_del(cron_ev);
    cron_ticks = 0;
    cron_schedule();
}

void cron_teardown(void)
{
    if (cron_ev)
        event_free(cron_ev);
    if (expire_ev)
        event_free(expire_ev);
    if (rehash_ev)
        event_free(rehash_ev);
    cron_ev = expire_ev = rehash_ev = NULL;
}
