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
#include <time.h>
#include <unistd.h>

#include "alloc/alloc.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/introspect.h"
#include "daemon/latency.h"
#include "daemon/server.h"
#include "daemon/text.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"
#include "proto/human.h"

static size_t used_memory_peak;

static long long server_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void info_server(struct text *b)
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
              "redis_mode:standalone\r\n"
              "os:%s %s %s\r\n"
              "arch_bits:%d\r\n"
              "multiplexing_api:%s\r\n"
              "gcc_version:%d.%d.%d\r\n"
              "process_id:%d\r\n"
              "process_supervised:%s\r\n"
              "tcp_port:%d\r\n"
              "server_time_usec:%lld\r\n"
              "uptime_in_seconds:%lld\r\n"
              "uptime_in_days:%lld\r\n"
              "hz:%lld\r\n"
              "configured_hz:%lld\r\n"
              "executable:%s\r\n"
              "config_file:%s\r\n"
              "io_threads_active:0\r\n",
              REDIS_COMPAT_VERSION, COMPACTD_VERSION, un.sysname, un.release, un.machine,
              (int)(sizeof(void *) * 8), srv.base ? event_base_get_method(srv.base) : "",
#ifdef __GNUC__
              __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
              0, 0, 0,
#endif
              (int)getpid(), getenv("NOTIFY_SOCKET") ? "systemd" : "no", srv.tcp_port,
              (long long)server_now_us(), up, up / 86400, cfg.hz, cfg.hz, srv.executable,
              srv.config_file ? srv.config_file : "");
}

static void info_clients(struct text *b)
{
    size_t qmax, omax;
    conn_buffer_peaks(&qmax, &omax);
    text_printf(b,
              "# Clients\r\n"
              "connected_clients:%zu\r\n"
              "cluster_connections:0\r\n"
              "maxclients:%lld\r\n"
              "client_recent_max_input_buffer:%zu\r\n"
              "client_recent_max_output_buffer:%zu\r\n"
              "blocked_clients:0\r\n"
              "tracking_clients:0\r\n"
              "clients_in_timeout_table:0\r\n",
              conn_count(), cfg.maxclients, qmax, omax);
}

static void info_memory(struct text *b)
{
    struct alloc_stats as;
    struct ks_stats ks;
    alloc_stats(&as);
    ks_stats(&ks);
    size_t used = ks_used_memory();
    char h_max[32];
    human_bytes(h_max, sizeof(h_max), (double)cfg.maxmemory, HUMAN_REDIS);
    if (used > used_memory_peak)
        used_memory_peak = used;
    size_t rss = alloc_rss_bytes();
    char h_used[32], h_rss[32], h_peak[32], h_mapped[32];
    human_bytes(h_used, sizeof(h_used), (double)used, HUMAN_REDIS);
    human_bytes(h_rss, sizeof(h_rss), (double)rss, HUMAN_REDIS);
    human_bytes(h_peak, sizeof(h_peak), (double)used_memory_peak, HUMAN_REDIS);
    human_bytes(h_mapped, sizeof(h_mapped), (double)as.mapped_bytes, HUMAN_REDIS);
    text_printf(b,
              "# Memory\r\n"
              "used_memory:%zu\r\n"
              "used_memory_human:%s\r\n"
              "used_memory_rss:%zu\r\n"
              "used_memory_rss_human:%s\r\n"
              "used_memory_peak:%zu\r\n"
              "used_memory_peak_human:%s\r\n"
              "used_memory_dataset:%zu\r\n"
              "used_memory_index:%zu\r\n"
              "allocator_live_blocks:%zu\r\n"
              "allocator_slot_bytes:%zu\r\n"
              "allocator_mapped:%zu\r\n"
              "allocator_mapped_human:%s\r\n"
              "allocator_arena_size:%zu\r\n"
              "allocator_arenas:%zu\r\n"
              "allocator_retained_arenas:%zu\r\n"
              "allocator_large_blocks:%zu\r\n"
              "allocator_large_bytes:%zu\r\n"
              "allocator_failures:%llu\r\n"
              "mem_fragmentation_ratio:%.2f\r\n"
              "maxmemory:%lld\r\n"
              "maxmemory_human:%s\r\n"
              "maxmemory_policy:%s\r\n"
              "mem_allocator:compactd-arena\r\n",
              used, h_used, rss, h_rss, used_memory_peak, h_peak, as.live_bytes, ks.index_bytes,
              as.live_blocks, as.slot_bytes, as.mapped_bytes, h_mapped, as.arena_size, as.arenas,
              as.retained_arenas, as.large_blocks, as.large_bytes,
              (unsigned long long)as.alloc_failures, used ? (double)rss / (double)used : 0.0,
              cfg.maxmemory, h_max,
              config_enum_name(&config_options[CFG_OPT_maxmemory_policy], cfg.maxmemory_policy));
}

static void info_persistence(struct text *b)
{
    text_printf(b, "# Persistence\r\n");
    introspect_info_persistence(b);
}

static void info_modules(struct text *b)
{
    text_printf(b, "# Modules\r\n");
}

static void info_cluster(struct text *b)
{
    text_printf(b, "# Cluster\r\ncluster_enabled:0\r\n");
}

static void info_stats(struct text *b)
{
    struct ks_stats ks;
    ks_stats(&ks);
    text_printf(b,
              "# Stats\r\n"
              "total_connections_received:%llu\r\n"
              "total_commands_processed:%llu\r\n"
              "instantaneous_ops_per_sec:%llu\r\n"
              "total_net_input_bytes:%llu\r\n"
              "total_net_output_bytes:%llu\r\n"
              "rejected_connections:%llu\r\n"
              "cross_protocol_requests:%llu\r\n"
              "expired_keys:%llu\r\n"
              "evicted_keys:%llu\r\n"
              "keyspace_hits:%llu\r\n"
              "keyspace_misses:%llu\r\n"
              "total_error_replies:%llu\r\n"
              "index_slots:%zu\r\n"
              "index_rehashing:%d\r\n",
              (unsigned long long)srv.stats.total_connections,
              (unsigned long long)srv.stats.total_commands,
              (unsigned long long)server_instantaneous_ops(),
              (unsigned long long)srv.stats.net_input_bytes,
              (unsigned long long)srv.stats.net_output_bytes,
              (unsigned long long)srv.stats.rejected_connections,
              (unsigned long long)srv.stats.cross_protocol,
              (unsigned long long)ks.expired_keys, (unsigned long long)ks.evicted_keys,
              (unsigned long long)ks.keyspace_hits,
              (unsigned long long)ks.keyspace_misses, (unsigned long long)reply_errors_total(),
              ks.index_slots, ks.rehashing ? 1 : 0);
}

static void info_cpu(struct text *b)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    text_printf(b,
              "# CPU\r\n"
              "used_cpu_sys:%ld.%06ld\r\n"
              "used_cpu_user:%ld.%06ld\r\n"
              "used_cpu_sys_children:%ld.%06ld\r\n"
              "used_cpu_user_children:%ld.%06ld\r\n",
              (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec,
              (long)self.ru_utime.tv_sec, (long)self.ru_utime.tv_usec,
              (long)kids.ru_stime.tv_sec, (long)kids.ru_stime.tv_usec,
              (long)kids.ru_utime.tv_sec, (long)kids.ru_utime.tv_usec);
}

static void info_replication(struct text *b)
{
    text_printf(b,
              "# Replication\r\n"
              "role:master\r\n"
              "connected_slaves:0\r\n");
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

static void info_commandstats(struct text *b)
{
    text_printf(b, "# Commandstats\r\n");
    command_stats_foreach(info_cmdstat_one, b);
}

static void info_errorstat_one(const char *code, uint64_t count, void *ctx)
{
    text_printf(ctx, "errorstat_%s:count=%llu\r\n", code, (unsigned long long)count);
}

static void info_errorstats(struct text *b)
{
    text_printf(b, "# Errorstats\r\n");
    reply_errorstats_foreach(info_errorstat_one, b);
}

static void info_latencystats(struct text *b)
{
    text_printf(b, "# Latencystats\r\n");
    latency_info_stats(b);
}

static void info_keyspace(struct text *b)
{
    struct ks_stats ks;
    ks_stats(&ks);
    text_printf(b, "# Keyspace\r\n");
    if (ks.keys > 0)
        text_printf(b, "db0:keys=%zu,expires=%zu,avg_ttl=0\r\n", ks.keys, ks.expires);
}

struct info_section {
    const char *name;
    void (*fn)(struct text *b);
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
    bool first = true;
    for (size_t i = 0; i < INFO_NSECTIONS; i++) {
        if (!want[i])
            continue;
        if (!first)
            text_printf(&b, "\r\n");
        first = false;
        info_sections[i].fn(&b);
    }
    text_reply(&s->reply, &b);
}

void cmd_info_stats_reset(void)
{
    used_memory_peak = 0;
}
