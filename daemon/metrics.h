/*
 * metrics: the snapshot of every figure the server reports, for the
 * outputs that print them (INFO, admin STATS, /metrics, /api/stats). The
 * rows are declared in daemon/metrics_table.h; a struct metric carries a
 * row's names, kind, help and value.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc/alloc.h"
#include "daemon/compactor.h"
#include "daemon/metrics_table.h"
#include "keyspace/keyspace.h"

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE };

/* The groups of admin STATS, in its order; the last is the dashboard's
 * nested object. */
enum metric_group {
    METRIC_SERVER,
    METRIC_MEMORY,
    METRIC_KEYS,
    METRIC_CLIENTS,
    METRIC_ADMIN,
    METRIC_COMPACTION,
    METRIC_GROUPS
};

/* The INFO sections rows may appear in. */
enum metric_info { METRIC_INFO_NONE, METRIC_INFO_CLIENTS, METRIC_INFO_MEMORY, METRIC_INFO_STATS };

/* One row with its value, as metrics_read hands it out. */
struct metric {
    const char *stats, *json, *prom, *info;   /* names; NULL: not in that output */
    const char *help;
    enum metric_kind kind;
    enum metric_group group;
    enum metric_info section;
    int prec;           /* -1: an integer (u); otherwise decimals of d */
    bool human;         /* INFO adds <info>_human */
    bool flag;          /* u is 0 or 1: JSON writes false or true */
    uint64_t u;
    double d;           /* the value as a real, for either kind */
};

/* What the rows were read from, once per snapshot: for an output that
 * derives more from the same figures (INFO's Redis-only fields), so that
 * one reply never mixes two reads. */
struct metric_sources {
    struct alloc_stats as;
    struct ks_stats ks;
    struct alloc_compact_status cst;
    struct compactor_stats cs;
    struct ks_compact_stats kc;
    size_t used;   /* ks_used_memory */
    size_t rss;    /* alloc_rss_bytes */
};

/* Every row (the table's, then alloc's compaction rows for this run and in
 * total, then the keyspace's; METRICS_MAX bounds them) and its sources. */
#define METRICS_MAX 128
struct metrics_snapshot {
    struct metric m[METRICS_MAX];
    size_t n;
    struct metric_sources src;
};
void metrics_read(struct metrics_snapshot *s);

/* The value as the text outputs write it ("42", "1.07"); 32 bytes hold any. */
void metric_text(const struct metric *m, char *buf, size_t len);

/* "Memory", ...: admin STATS's header of a group. */
const char *metric_group_name(enum metric_group g);

/* a / b, or 0 when b is 0 (the table's ratios). */
double metric_ratio(double a, double b);
