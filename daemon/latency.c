/*
 * latency: LATENCY's event history and INFO latencystats's per-command
 * histograms (see latency.h).
 *
 * Reply shapes are Redis 7.0's, since redis-cli and monitoring tools parse
 * them: a LATENCY event keeps its last 160 samples, one per second (a
 * second with several keeps the largest), and its all-time maximum.
 *
 * Nothing here knows connections or the loop: the samples come from
 * whoever measured them (the command observer in introspect.c, the expiry
 * cycle, the compactor), so every layer may feed it.
 */
#include "daemon/latency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/config.h"
#include "proto/text.h"

#define LATENCY_TS_LEN     160
#define LATENCY_MAX_EVENTS 32
#define LATENCY_NAME_MAX   64

/* ---- LATENCY ---- */

struct latency_sample {
    int64_t time;      /* unix seconds; 0 = unused slot */
    uint32_t ms;
};

struct latency_event {
    char name[LATENCY_NAME_MAX];
    unsigned idx;      /* next slot to write */
    uint32_t max;
    struct latency_sample samples[LATENCY_TS_LEN];
};

static struct latency_event *lat_events[LATENCY_MAX_EVENTS];
static size_t lat_nevents;

/* The event's index in lat_events, or lat_nevents if there is none. */
static size_t lat_index(const char *name, size_t len)
{
    size_t i = 0;
    while (i < lat_nevents &&
           !(strlen(lat_events[i]->name) == len && memcmp(lat_events[i]->name, name, len) == 0))
        i++;
    return i;
}

static struct latency_event *lat_find(const char *name, size_t len)
{
    size_t i = lat_index(name, len);
    return i < lat_nevents ? lat_events[i] : NULL;
}

void latency_add_sample(const char *event, uint64_t ms)
{
    if (cfg.latency_monitor_threshold <= 0 || ms < (uint64_t)cfg.latency_monitor_threshold)
        return;
    uint32_t v = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    size_t len = strlen(event);
    if (len >= LATENCY_NAME_MAX)
        return;
    struct latency_event *ev = lat_find(event, len);
    if (ev == NULL) {
        if (lat_nevents == LATENCY_MAX_EVENTS || (ev = calloc(1, sizeof(*ev))) == NULL)
            return;
        memcpy(ev->name, event, len + 1);
        lat_events[lat_nevents++] = ev;
    }
    int64_t now = (int64_t)time(NULL);
    if (v > ev->max)
        ev->max = v;
    struct latency_sample *prev = &ev->samples[(ev->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN];
    if (prev->time == now) {
        if (v > prev->ms)
            prev->ms = v;
        return;
    }
    ev->samples[ev->idx].time = now;
    ev->samples[ev->idx].ms = v;
    ev->idx = (ev->idx + 1) % LATENCY_TS_LEN;
}

static void lat_remove(size_t i)
{
    free(lat_events[i]);
    lat_events[i] = lat_events[--lat_nevents];
}

static void cmd_latency_help(struct session *s, int argc, struct slice *argv)
{
    /* compactd has no DOCTOR, GRAPH or HISTOGRAM */
    static const char *const lines[] = {
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    text_reply_help(&s->reply, lines);
}

static void cmd_latency_latest(struct session *s, int argc, struct slice *argv)
{
    reply_array(&s->reply, lat_nevents);
    for (size_t i = 0; i < lat_nevents; i++) {
        const struct latency_event *ev = lat_events[i];
        const struct latency_sample *last =
            &ev->samples[(ev->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN];
        reply_array(&s->reply, 4);
        reply_cstr(&s->reply, ev->name);
        reply_int(&s->reply, (long long)last->time);
        reply_int(&s->reply, (long long)last->ms);
        reply_int(&s->reply, (long long)ev->max);
    }
}

static void cmd_latency_history(struct session *s, int argc, struct slice *argv)
{
    const struct latency_event *ev = lat_find(argv[2].p, argv[2].len);
    if (ev == NULL) {
        reply_array(&s->reply, 0);
        return;
    }
    size_t n = 0;
    for (size_t j = 0; j < LATENCY_TS_LEN; j++)
        n += ev->samples[j].time != 0;
    reply_array(&s->reply, n);
    for (size_t j = 0; j < LATENCY_TS_LEN; j++) {   /* oldest first */
        const struct latency_sample *sm = &ev->samples[(ev->idx + j) % LATENCY_TS_LEN];
        if (sm->time == 0)
            continue;
        reply_array(&s->reply, 2);
        reply_int(&s->reply, (long long)sm->time);
        reply_int(&s->reply, (long long)sm->ms);
    }
}

static void cmd_latency_reset(struct session *s, int argc, struct slice *argv)
{
    long long n = 0;
    if (argc == 2) {
        n = (long long)lat_nevents;
        while (lat_nevents > 0)
            lat_remove(lat_nevents - 1);
    } else {
        for (int a = 2; a < argc; a++) {
            size_t i = lat_index(argv[a].p, argv[a].len);
            if (i < lat_nevents) {
                lat_remove(i);
                n++;
            }
        }
    }
    reply_int(&s->reply, n);
}

/* ---- per-command latency histograms (INFO latencystats) ---- */

/* Log-linear buckets over microseconds: 0..15 exactly, then 16 buckets per
 * power of two (at most 1/16 relative error), up to 2^64. */
#define HIST_SUB     16
#define HIST_BUCKETS (HIST_SUB + 60 * HIST_SUB)

struct cmd_hist {
    const struct command *cmd;
    uint64_t count;
    uint32_t b[HIST_BUCKETS];
};

static struct cmd_hist **hist_slots;   /* open addressing on the row pointer */
static size_t hist_cap, hist_n;

static size_t hist_bucket(uint64_t v)
{
    if (v < HIST_SUB)
        return (size_t)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);   /* >= 4 */
    return HIST_SUB + (size_t)(e - 4) * HIST_SUB + (size_t)((v >> (e - 4)) & (HIST_SUB - 1));
}

/* The largest value that falls in bucket i (as HDR histograms report). */
static uint64_t hist_bucket_high(size_t i)
{
    if (i < HIST_SUB)
        return i;
    unsigned e = (unsigned)((i - HIST_SUB) / HIST_SUB) + 4;
    uint64_t sub = (i - HIST_SUB) % HIST_SUB;
    uint64_t low = (HIST_SUB + sub) << (e - 4);
    return low + ((uint64_t)1 << (e - 4)) - 1;
}

static size_t hist_slot(const struct command *c, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

static struct cmd_hist *hist_find(const struct command *c, bool create)
{
    if (hist_cap > 0) {
        for (size_t i = hist_slot(c, hist_cap);; i = (i + 1) & (hist_cap - 1)) {
            if (hist_slots[i] == NULL)
                break;
            if (hist_slots[i]->cmd == c)
                return hist_slots[i];
        }
    }
    if (!create)
        return NULL;
    if ((hist_n + 1) * 2 > hist_cap) {   /* keep the load at most 1/2 */
        size_t ncap = hist_cap ? hist_cap * 2 : 256;
        struct cmd_hist **ns = calloc(ncap, sizeof(*ns));
        if (ns == NULL)
            return NULL;
        for (size_t i = 0; i < hist_cap; i++) {
            if (hist_slots[i] == NULL)
                continue;
            size_t j = hist_slot(hist_slots[i]->cmd, ncap);
            while (ns[j] != NULL)
                j = (j + 1) & (ncap - 1);
            ns[j] = hist_slots[i];
        }
        free(hist_slots);
        hist_slots = ns;
        hist_cap = ncap;
    }
    struct cmd_hist *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->cmd = c;
    size_t j = hist_slot(c, hist_cap);
    while (hist_slots[j] != NULL)
        j = (j + 1) & (hist_cap - 1);
    hist_slots[j] = h;
    hist_n++;
    return h;
}

void latency_record_command(const struct command *c, uint64_t usec)
{
    struct cmd_hist *h = hist_find(c, true);
    if (h == NULL)
        return;
    h->count++;
    h->b[hist_bucket(usec)]++;
}

static double hist_percentile(const struct cmd_hist *h, double p)
{
    uint64_t want = (uint64_t)((p / 100.0) * (double)h->count + 0.999999);
    if (want == 0)
        want = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want)
            return (double)hist_bucket_high(i);
    }
    return 0;
}

void latency_stats_reset(void)
{
    for (size_t i = 0; i < hist_cap; i++) {
        if (hist_slots[i] != NULL) {
            hist_slots[i]->count = 0;
            memset(hist_slots[i]->b, 0, sizeof(hist_slots[i]->b));
        }
    }
}

static void latstat_one(const char *fullname, const struct command *c,
                        const struct command_stats *st, void *t)
{
    const struct cmd_hist *h = hist_find(c, false);
    if (h == NULL || h->count == 0)
        return;
    text_printf(t, "latency_percentiles_usec_%s:p50=%.3f,p99=%.3f,p99.9=%.3f\r\n", fullname,
                hist_percentile(h, 50), hist_percentile(h, 99), hist_percentile(h, 99.9));
}

void latency_info_stats(struct text *t)
{
    command_stats_foreach(latstat_one, t);
}

/* ---- the table ---- */

#define SUB(n, ar, fl, fn, sum)                                                             \
    {.name = n, .arity = ar, .flags = fl, .proc = fn, .summary = sum, .group = "server", \
     .since = "2.2.12"}

const struct command latency_subs[] = {
    SUB("help", 2, CMD_LOADING | CMD_STALE, cmd_latency_help, "Show helpful text about the different subcommands"),
    SUB("latest", 2, CMD_FLAGS_ADMIN, cmd_latency_latest, "Return the latest latency samples for all events."),
    SUB("history", 3, CMD_FLAGS_ADMIN, cmd_latency_history, "Return timestamp-latency samples for the event."),
    SUB("reset", -2, CMD_FLAGS_ADMIN, cmd_latency_reset, "Reset latency data for one or more events."),
    {.name = NULL},
};

void latency_teardown(void)
{
    for (size_t i = 0; i < hist_cap; i++)
        free(hist_slots[i]);
    free(hist_slots);
    hist_slots = NULL;
    hist_cap = hist_n = 0;
    while (lat_nevents > 0)
        lat_remove(lat_nevents - 1);
}
