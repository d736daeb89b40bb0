/*
 * latency: the LATENCY command's event history (LATEST, HISTORY, RESET)
 * and INFO latencystats's per-command latency histograms.
 *
 * It is fed, not feeding: the command observer (introspect.c) records each
 * command's time, and the background tasks (expiry cycle, compaction
 * steps) record theirs, so every layer of the daemon may call it.
 */
#pragma once

#include <stdint.h>

#include "proto/command.h"

struct text;

/*
 * Records a latency sample of event ("command", "fast-command",
 * "expire-cycle", "compaction", ...) if latency-monitor-threshold is on
 * (> 0) and ms reaches it. Samples within one second keep the largest.
 */
void latency_add_sample(const char *event, uint64_t ms);

/* Counts one run of command row c taking usec in its histogram. */
void latency_record_command(const struct command *c, uint64_t usec);

/*
 * INFO latencystats's lines (without the header), one per command that
 * ran since the last reset: "latency_percentiles_usec_<name>:p50=..,p99=..,
 * p99.9=..", in microseconds from a log-linear histogram (at most 1/16
 * above the true value), appended to t.
 */
void latency_info_stats(struct text *t);
/* CONFIG RESETSTAT: forgets the latency histograms. */
void latency_stats_reset(void);

/* LATENCY's subcommand rows, NULL-name-terminated (introspect.c registers
 * the LATENCY row with SLOWLOG and MONITOR). */
extern const struct command latency_subs[];

/* Frees the event history and the histograms. */
void latency_teardown(void);
