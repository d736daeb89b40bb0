/*
 * metrics: the snapshot of every row of daemon/metrics.h's table, and of
 * alloc's and the keyspace's compaction rows after it. Each source is read
 * once per snapshot, so the rows of one reply agree with each other; the
 * cost is that of alloc_stats and ks_compact_status, a pass over the size
 * classes' running counters (no arena header is read).
 */
#include "daemon/metrics.h"

#include <stdio.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/server.h"
#include "proto/reply.h"

#define METRIC_ONE_(...) +1
enum {
    METRICS_COUNT = 0 DAEMON_METRICS(METRIC_ONE_) + 2 * (0 ALLOC_COMPACT_METRICS(METRIC_ONE_)) +
                    (0 KS_COMPACT_METRICS(METRIC_ONE_))
};
_Static_assert(METRICS_COUNT <= METRICS_MAX, "raise METRICS_MAX");

/* Rows whose help is their module's: looked up by field name. */
static const char *alloc_help(const char *field)
{
#define X(f, kind, help)                                                                            \
    if (strcmp(field, #f) == 0)                                                                     \
        return help;
    ALLOC_STATS_METRICS(X)
    ALLOC_COMPACT_RUN_METRICS(X)
#undef X
    return NULL;
}

static const char *metric_help(const char *module, const char *own)
{
    return own ? own : module;
}

#define HELP_SRV(f) NULL
#define HELP_ADM(f) NULL
#define HELP_AS(f) alloc_help(#f)
#define HELP_CRUN(f) alloc_help(#f)
#define HELP_KS(f) NULL
#define HELP_CST(f) NULL
#define HELP_CS(f) NULL
#define HELP_FN(e) NULL

#define VAL_SRV(f) srv.stats.f
#define VAL_ADM(f) srv.stats.f
#define VAL_AS(f) as.f
#define VAL_CRUN(f) cst.f
#define VAL_KS(f) ks.f
#define VAL_CST(f) cst.f
#define VAL_CS(f) cs.f
#define VAL_FN(e) (e)

static void set_u(struct metric *m, uint64_t v)
{
    m->u = v;
    m->d = (double)v;
}

static void set_d(struct metric *m, double v)
{
    m->d = v;
    m->u = v > 0 ? (uint64_t)v : 0;
}

#define PREC_U -1
#define PREC_UH -1
#define PREC_B -1
#define PREC_F1 1
#define PREC_F2 2
#define PREC_F3 3
#define FLAG_U false
#define FLAG_UH false
#define FLAG_B true
#define FLAG_F1 false
#define FLAG_F2 false
#define FLAG_F3 false
#define HUMAN_U false
#define HUMAN_UH true
#define HUMAN_B false
#define HUMAN_F1 false
#define HUMAN_F2 false
#define HUMAN_F3 false
#define SET_U(m, v) set_u(m, (uint64_t)(v))
#define SET_UH(m, v) set_u(m, (uint64_t)(v))
#define SET_B(m, v) set_u(m, (v) ? 1 : 0)
#define SET_F1(m, v) set_d(m, (double)(v))
#define SET_F2(m, v) set_d(m, (double)(v))
#define SET_F3(m, v) set_d(m, (double)(v))

double metric_ratio(double a, double b)
{
    return b != 0 ? a / b : 0.0;
}

void metrics_read(struct metrics_snapshot *s)
{
    struct metric *m = s->m;
    struct alloc_stats as;
    struct ks_stats ks;
    struct alloc_compact_status cst;
    struct compactor_stats cs;
    struct ks_compact_stats kc;
    alloc_stats(&as);
    ks_stats(&ks);
    ks_compact_status(&cst);
    compactor_stats(&cs);
    ks_compact_stats(&kc);
    size_t used = ks_used_memory();
    size_t rss = alloc_rss_bytes();
    size_t n = 0;

#define X(stats_, json_, prom_, info_, kind_, fmt_, group_, sect_, value_, help_)                   \
    m[n] = (struct metric){.stats = stats_, .json = json_, .prom = prom_, .info = info_,            \
                           .help = metric_help(HELP_##value_, help_), .kind = METRIC_##kind_,       \
                           .group = METRIC_##group_, .section = METRIC_INFO_##sect_,                \
                           .prec = PREC_##fmt_, .human = HUMAN_##fmt_,                              \
                           .flag = FLAG_##fmt_};                                                    \
    SET_##fmt_(&m[n], VAL_##value_);                                                                \
    n++;
    DAEMON_METRICS(X)
#undef X

    /* alloc's compaction rows: this run's (the dashboard's run_*), then
     * every run's. Prometheus gets time in seconds, its unit, from the
     * table's compaction_seconds_total row instead of time_us. */
#define X(f, kind_, help_)                                                                          \
    m[n] = (struct metric){.json = "run_" #f, .help = help_, .kind = METRIC_##kind_,                \
                           .group = METRIC_COMPACTION, .prec = -1};                                 \
    set_u(&m[n++], cst.f);
    ALLOC_COMPACT_METRICS(X)
#undef X
#define X(f, kind_, help_)                                                                          \
    m[n] = (struct metric){.stats = "compaction_" #f, .json = "total_" #f,                          \
                           .prom = strcmp(#f, "time_us") ? "compaction_" #f "_total" : NULL,        \
                           .help = help_, .kind = METRIC_##kind_,                                   \
                           .group = METRIC_COMPACTION, .prec = -1};                                 \
    set_u(&m[n++], cst.total.f);
    ALLOC_COMPACT_METRICS(X)
#undef X
#define X(f, kind_, help_)                                                                          \
    m[n] = (struct metric){.stats = "compaction_" #f, .json = "total_" #f,                          \
                           .prom = "compaction_" #f "_total", .help = help_,                        \
                           .kind = METRIC_##kind_, .group = METRIC_COMPACTION, .prec = -1};         \
    set_u(&m[n++], kc.f);
    KS_COMPACT_METRICS(X)
#undef X
    s->n = n;
    s->src = (struct metric_sources){as, ks, cst, cs, kc, used, rss};
}

void metric_text(const struct metric *m, char *buf, size_t len)
{
    if (m->prec < 0)
        snprintf(buf, len, "%llu", (unsigned long long)m->u);
    else
        snprintf(buf, len, "%.*f", m->prec, m->d);
}

const char *metric_group_name(enum metric_group g)
{
    static const char *const names[METRIC_GROUPS] = {
        [METRIC_SERVER] = "Server",   [METRIC_MEMORY] = "Memory",
        [METRIC_KEYS] = "Keys",       [METRIC_CLIENTS] = "Clients",
        [METRIC_ADMIN] = "Admin port", [METRIC_COMPACTION] = "Compaction",
    };
    return (unsigned)g < METRIC_GROUPS ? names[g] : "";
}
