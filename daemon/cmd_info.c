/*
 * cmd_info: INFO, section by section (server, clients, memory, persistence,
 * stats, replication, cpu, modules, commandstats, errorstats, latencystats,
 * cluster, keyspace), with Redis 7.0's field names and order where Redis
 * has the field, so that tools parsing INFO keep working; compactd's own
 * figures (allocator_*, index_*, compactd_version) are added beside them.
 */
#include "daemon/cmd_info.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/introspect.h"
#include "daemon/latency.h"
#include "daemon/metrics.h"
#include "daemon/server.h"
#include "proto/text.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"
#include "proto/human.h"


struct info_snapshot;   /* every section's second argument; below */

/* Redis's build id tells builds apart; ours is a hash of the version and
 * the compiler, so it changes with either and stays reproducible. */
static unsigned long long build_id(void)
{
    static const char what[] = COMPACTD_VERSION " " __VERSION__;
    unsigned long long h = 1469598103934665603ULL;   /* FNV-1a */
    for (const char *p = what; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static void info_server(struct text *b, struct info_snapshot *snap)
{
    struct utsname un;
    if (uname(&un) != 0)
        memset(&un, 0, sizeof(un));
    int64_t now = server_now_ms();
    long long up = (long long)((now - srv.start_ms) / 1000);
    text_printf(b,
              "# Server\r\n"
              "redis_version:%s\r\n"
              "compactd_version:%s\r\n"
              "redis_git_sha1:00000000\r\n"
              "redis_git_dirty:0\r\n"
              "redis_build_id:%016llx\r\n"
              "redis_mode:standalone\r\n"
              "os:%s %s %s\r\n"
              "arch_bits:%d\r\n"
              "monotonic_clock:POSIX clock_gettime\r\n"
              "multiplexing_api:%s\r\n"
              "atomicvar_api:none\r\n"   /* single-threaded: no atomics */
              "gcc_version:%d.%d.%d\r\n"
              "process_id:%d\r\n"
              "process_supervised:%s\r\n"
              "run_id:%s\r\n"
              "tcp_port:%d\r\n"
              "server_time_usec:%lld\r\n"
              "uptime_in_seconds:%lld\r\n"
              "uptime_in_days:%lld\r\n"
              "hz:%lld\r\n"
              "configured_hz:%lld\r\n"
              "lru_clock:%u\r\n"
              "executable:%s\r\n"
              "config_file:%s\r\n"
              "io_threads_active:0\r\n",
              REDIS_COMPAT_VERSION, COMPACTD_VERSION, build_id(), un.sysname, un.release,
              un.machine, (int)(sizeof(void *) * 8), srv.base ? event_base_get_method(srv.base) : "",
#ifdef __GNUC__
              __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
              0, 0, 0,
#endif
              (int)getpid(), getenv("NOTIFY_SOCKET") ? "systemd" : "no", srv.run_id, srv.tcp_port,
              (long long)clock_wall_us(), up, up / 86400, cfg.hz, cfg.hz,
              (unsigned)ks_access_clock(), srv.executable,
              srv.config_file ? srv.config_file : "");
}

/* The metric table's rows of an INFO section (daemon/metrics.h), in table
 * order, each with its _human companion where the row asks for one. */
/* One metrics snapshot per INFO, read by the first section that needs it:
 * every section's figures then come from the same read, and a section
 * that prints none (server, cpu, ...) costs no read. */
struct info_snapshot {
    bool taken;
    struct metrics_snapshot s;
};

static const struct metrics_snapshot *snapshot(struct info_snapshot *snap)
{
    if (!snap->taken) {
        metrics_read(&snap->s);
        snap->taken = true;
    }
    return &snap->s;
}

static void info_rows(struct text *b, struct info_snapshot *snap, enum metric_info section)
{
    const struct metrics_snapshot *ms = snapshot(snap);
    const struct metric *m = ms->m;
    for (size_t i = 0; i < ms->n; i++) {
        if (m[i].section != section || m[i].info == NULL)
            continue;
        char v[32];
        metric_text(&m[i], v, sizeof(v));
        text_printf(b, "%s:%s\r\n", m[i].info, v);
        if (m[i].human) {
            human_bytes(v, sizeof(v), m[i].d, HUMAN_REDIS);
            text_printf(b, "%s_human:%s\r\n", m[i].info, v);
        }
    }
}

static void info_clients(struct text *b, struct info_snapshot *snap)
{
    size_t qmax, omax;
    conn_buffer_peaks(&qmax, &omax);
    text_printf(b, "# Clients\r\n");
    info_rows(b, snap, METRIC_INFO_CLIENTS);
    text_printf(b,
              "cluster_connections:0\r\n"
              "maxclients:%lld\r\n"
              "client_recent_max_input_buffer:%zu\r\n"
              "client_recent_max_output_buffer:%zu\r\n"
              "blocked_clients:0\r\n"
              "tracking_clients:0\r\n"
              "clients_in_timeout_table:0\r\n",
              cfg.maxclients, qmax, omax);
}

/*
 * The rest of Redis 7.0's memory fields, under its names, from what
 * compactd has: the allocator's are its arenas (allocated = slot bytes,
 * active = mapped bytes, resident = the process's RSS, as arenas are
 * compactd's only large memory), the dataset is the entries, the overhead
 * the index and client buffers. What compactd does not have (scripts,
 * functions, replication, AOF, cluster links, a lazy-free thread: every
 * free is synchronous) is 0.
 */
static void info_memory_redis(struct text *b, const struct metric_sources *src)
{
    size_t used = src->used, rss = src->rss;
    const struct alloc_stats *as = &src->as;
    const struct ks_stats *ks = &src->ks;
    const struct alloc_compact_status *cst = &src->cst;   /* a run is compactd's active defrag */
    size_t clients = conn_buffer_bytes();
    size_t overhead = ks->index_bytes + clients;
    size_t startup = srv.used_memory_startup < used ? srv.used_memory_startup : used;
    size_t net = used - startup;
    long phys = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t total = phys > 0 && page > 0 ? (size_t)phys * (size_t)page : 0;
    char h_total[32];
    human_bytes(h_total, sizeof(h_total), (double)total, HUMAN_REDIS);
    size_t allocated = as->slot_bytes, active = as->mapped_bytes, resident = rss;
    text_printf(b,
              "used_memory_peak_perc:%.2f%%\r\n"
              "used_memory_overhead:%zu\r\n"
              "used_memory_startup:%zu\r\n"
              "used_memory_dataset_perc:%.2f%%\r\n"
              "allocator_allocated:%zu\r\n"
              "allocator_active:%zu\r\n"
              "allocator_resident:%zu\r\n"
              "total_system_memory:%zu\r\n"
              "total_system_memory_human:%s\r\n"
              "used_memory_lua:0\r\n"
              "used_memory_vm_eval:0\r\n"
              "used_memory_lua_human:0B\r\n"
              "used_memory_scripts_eval:0\r\n"
              "number_of_cached_scripts:0\r\n"
              "number_of_functions:0\r\n"
              "number_of_libraries:0\r\n"
              "used_memory_vm_functions:0\r\n"
              "used_memory_vm_total:0\r\n"
              "used_memory_vm_total_human:0B\r\n"
              "used_memory_functions:0\r\n"
              "used_memory_scripts:0\r\n"
              "used_memory_scripts_human:0B\r\n"
              "allocator_frag_ratio:%.2f\r\n"
              "allocator_frag_bytes:%lld\r\n"
              "allocator_rss_ratio:%.2f\r\n"
              "allocator_rss_bytes:%lld\r\n"
              "rss_overhead_ratio:%.2f\r\n"
              "rss_overhead_bytes:%lld\r\n"
              "mem_fragmentation_bytes:%lld\r\n"
              "mem_not_counted_for_evict:0\r\n"
              "mem_replication_backlog:0\r\n"
              "mem_total_replication_buffers:0\r\n"
              "mem_clients_slaves:0\r\n"
              "mem_clients_normal:%zu\r\n"
              "mem_cluster_links:0\r\n"
              "mem_aof_buffer:0\r\n"
              "active_defrag_running:%d\r\n"
              "lazyfree_pending_objects:0\r\n"
              "lazyfreed_objects:0\r\n",
              srv.used_memory_peak ? 100.0 * (double)used / (double)srv.used_memory_peak : 0.0, overhead,
              startup, net ? 100.0 * (double)as->live_bytes / (double)net : 0.0, allocated, active,
              resident, total, h_total, allocated ? (double)active / (double)allocated : 0.0,
              (long long)active - (long long)allocated,
              active ? (double)resident / (double)active : 0.0,
              (long long)resident - (long long)active, 1.0, 0LL,
              (long long)rss - (long long)used,
              clients, cst->running ? (int)cfg.compact_cpu_pct : 0);
}

static void info_memory(struct text *b, struct info_snapshot *snap)
{
    text_printf(b, "# Memory\r\n");
    info_rows(b, snap, METRIC_INFO_MEMORY);
    text_printf(b,
              "maxmemory_policy:%s\r\n"
              "mem_allocator:compactd-arena\r\n",
              config_enum_name(&config_options[CFG_OPT_maxmemory_policy], cfg.maxmemory_policy));
    info_memory_redis(b, &snapshot(snap)->src);
}

static void info_persistence(struct text *b, struct info_snapshot *snap)
{
    text_printf(b, "# Persistence\r\n");
    introspect_info_persistence(b);
}

static void info_modules(struct text *b, struct info_snapshot *snap)
{
    text_printf(b, "# Modules\r\n");
}

static void info_cluster(struct text *b, struct info_snapshot *snap)
{
    text_printf(b, "# Cluster\r\ncluster_enabled:0\r\n");
}

/*
 * The rest of Redis 7.0's stats fields, under its names. A compaction run
 * is what Redis calls active defrag (moving live values to give memory
 * back), so the defrag fields count its moves and time; what compactd does
 * not have (replication, pub/sub, forks, client tracking, I/O threads,
 * DUMP/RESTORE, client eviction) is 0. The expire cycle's stale
 * percentage and time cap are not measured by compactd's arena sweep: 0.
 */
static void info_stats_redis(struct text *b, struct info_snapshot *snap)
{
    const struct alloc_compact_status *cst = &snapshot(snap)->src.cst;
    text_printf(b,
              "total_net_repl_input_bytes:0\r\n"
              "total_net_repl_output_bytes:0\r\n"
              "instantaneous_input_kbps:%.2f\r\n"
              "instantaneous_output_kbps:%.2f\r\n"
              "instantaneous_input_repl_kbps:0.00\r\n"
              "instantaneous_output_repl_kbps:0.00\r\n"
              "sync_full:0\r\n"
              "sync_partial_ok:0\r\n"
              "sync_partial_err:0\r\n"
              "expired_stale_perc:0.00\r\n"
              "expired_time_cap_reached_count:0\r\n"
              "expire_cycle_cpu_milliseconds:0\r\n"
              "evicted_clients:0\r\n"
              "total_eviction_exceeded_time:0\r\n"
              "current_eviction_exceeded_time:0\r\n"
              "pubsub_channels:0\r\n"
              "pubsub_patterns:0\r\n"
              "pubsubshard_channels:0\r\n"
              "latest_fork_usec:0\r\n"
              "total_forks:0\r\n"
              "migrate_cached_sockets:0\r\n"
              "slave_expires_tracked_keys:0\r\n"
              "active_defrag_hits:%llu\r\n"
              "active_defrag_misses:0\r\n"
              "active_defrag_key_hits:%llu\r\n"
              "active_defrag_key_misses:0\r\n"
              "total_active_defrag_time:%llu\r\n"
              "current_active_defrag_time:%llu\r\n"
              "tracking_total_keys:0\r\n"
              "tracking_total_items:0\r\n"
              "tracking_total_prefixes:0\r\n"
              "unexpected_error_replies:0\r\n"
              "dump_payload_sanitizations:0\r\n"
              "io_threaded_reads_processed:0\r\n"
              "io_threaded_writes_processed:0\r\n"
              "reply_buffer_shrinks:0\r\n"
              "reply_buffer_expands:0\r\n",
              (double)server_rate(SERVER_RATE_NET_IN) / 1024.0,
              (double)server_rate(SERVER_RATE_NET_OUT) / 1024.0,
              (unsigned long long)cst->total.blocks_moved,
              (unsigned long long)cst->total.blocks_moved,
              (unsigned long long)(cst->total.time_us / 1000),
              (unsigned long long)(cst->running ? cst->duration_us / 1000 : 0));
}

static void info_stats(struct text *b, struct info_snapshot *snap)
{
    text_printf(b, "# Stats\r\n");
    info_rows(b, snap, METRIC_INFO_STATS);
    info_stats_redis(b, snap);
}

static void info_cpu(struct text *b, struct info_snapshot *snap)
{
    struct rusage self, kids, main;   /* compactd has one thread: main is self */
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    getrusage(RUSAGE_THREAD, &main);
    text_printf(b,
              "# CPU\r\n"
              "used_cpu_sys:%ld.%06ld\r\n"
              "used_cpu_user:%ld.%06ld\r\n"
              "used_cpu_sys_children:%ld.%06ld\r\n"
              "used_cpu_user_children:%ld.%06ld\r\n"
              "used_cpu_sys_main_thread:%ld.%06ld\r\n"
              "used_cpu_user_main_thread:%ld.%06ld\r\n",
              (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec,
              (long)self.ru_utime.tv_sec, (long)self.ru_utime.tv_usec,
              (long)kids.ru_stime.tv_sec, (long)kids.ru_stime.tv_usec,
              (long)kids.ru_utime.tv_sec, (long)kids.ru_utime.tv_usec,
              (long)main.ru_stime.tv_sec, (long)main.ru_stime.tv_usec,
              (long)main.ru_utime.tv_sec, (long)main.ru_utime.tv_usec);
}

static void info_replication(struct text *b, struct info_snapshot *snap)
{
    text_printf(b,
              "# Replication\r\n"
              "role:master\r\n"
              "connected_slaves:0\r\n"
              /* a standalone master's, as Redis 7.0 prints them: no
               * replicas, no failover, an empty backlog */
              "master_failover_state:no-failover\r\n"
              "master_replid:%s\r\n"
              "master_replid2:0000000000000000000000000000000000000000\r\n"
              "master_repl_offset:0\r\n"
              "second_repl_offset:-1\r\n"
              "repl_backlog_active:0\r\n"
              "repl_backlog_size:1048576\r\n"
              "repl_backlog_first_byte_offset:0\r\n"
              "repl_backlog_histlen:0\r\n",
              srv.replid);
}

static void info_cmdstat_one(const char *fullname, const struct command *c,
                             const struct command_stats *st, void *ctx)
{
    if (st->calls == 0 && st->rejected_calls == 0 && st->failed_calls == 0)
        return;
    text_printf(ctx, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                   "failed_calls=%llu\r\n",
              fullname, (unsigned long long)st->calls, (unsigned long long)st->usec,
              st->calls ? (double)st->usec / (double)st->calls : 0.0,
              (unsigned long long)st->rejected_calls, (unsigned long long)st->failed_calls);
}

static void info_commandstats(struct text *b, struct info_snapshot *snap)
{
    text_printf(b, "# Commandstats\r\n");
    command_stats_foreach(info_cmdstat_one, b);
}

static void info_errorstat_one(const char *code, uint64_t count, void *ctx)
{
    text_printf(ctx, "errorstat_%s:count=%llu\r\n", code, (unsigned long long)count);
}

static void info_errorstats(struct text *b, struct info_snapshot *snap)
{
    text_printf(b, "# Errorstats\r\n");
    reply_errorstats_foreach(info_errorstat_one, b);
}

static void info_latencystats(struct text *b, struct info_snapshot *snap)
{
    text_printf(b, "# Latencystats\r\n");
    latency_info_stats(b);
}

static void info_keyspace(struct text *b, struct info_snapshot *snap)
{
    struct ks_stats ks;
    ks_stats(&ks);
    text_printf(b, "# Keyspace\r\n");
    if (ks.keys > 0)
        text_printf(b, "db0:keys=%zu,expires=%zu,avg_ttl=0\r\n", ks.keys, ks.expires);
}

struct info_section {
    const char *name;
    void (*fn)(struct text *b, struct info_snapshot *snap);
    bool in_default;
};

static const struct info_section info_sections[] = {
    {"server", info_server, true},           {"clients", info_clients, true},
    {"memory", info_memory, true},           {"persistence", info_persistence, true},
    {"stats", info_stats, true},             {"replication", info_replication, true},
    {"cpu", info_cpu, true},                 {"modules", info_modules, true},
    {"commandstats", info_commandstats, false}, {"errorstats", info_errorstats, true},
    {"latencystats", info_latencystats, false},
    {"cluster", info_cluster, true},         {"keyspace", info_keyspace, true},
};
#define INFO_NSECTIONS (sizeof(info_sections) / sizeof(info_sections[0]))

void cmd_info(struct session *s, int argc, struct slice *argv)
{
    bool want[INFO_NSECTIONS] = {false};
    if (argc == 1) {
        for (size_t i = 0; i < INFO_NSECTIONS; i++)
            want[i] = info_sections[i].in_default;
    }
    for (int a = 1; a < argc; a++) {
        bool all = slice_eq(&argv[a], "all") || slice_eq(&argv[a], "everything");
        bool def = slice_eq(&argv[a], "default");
        for (size_t i = 0; i < INFO_NSECTIONS; i++)
            if (all || (def && info_sections[i].in_default) || slice_eq(&argv[a], info_sections[i].name))
                want[i] = true;
    }
    struct text b = {0};
    struct info_snapshot snap;
    snap.taken = false;
    bool first = true;
    for (size_t i = 0; i < INFO_NSECTIONS; i++) {
        if (!want[i])
            continue;
        if (!first)
            text_printf(&b, "\r\n");
        first = false;
        info_sections[i].fn(&b, &snap);
    }
    text_reply(&s->reply, &b);
}

