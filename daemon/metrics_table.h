/*
 * metrics_table: every figure the server reports, declared once. A header
 * of its own, below everything it names, so that server.h can generate
 * struct server_stats from it while metrics.c, which reads the rows'
 * sources (server, compactor, alloc, keyspace), sits above them.
 *
 * One row per fact. A row says where the value lives, whether it is a
 * counter or a gauge, its help text, and the name each output gives it:
 *  - admin STATS (grouped under "# <group>" headers), the first column;
 *  - /api/stats, the dashboard's JSON (the compaction group as its nested
 *    "compaction" object);
 *  - /metrics, Prometheus (prefixed "compactd_");
 *  - INFO, under Redis 7.0's field name, in the section the row names and
 *    in table order (so the rows of an INFO section are in Redis's order).
 * NULL leaves the row out of that output. Each output walks the same
 * snapshot (metrics_read), so the figures of one reply agree.
 *
 * Rows: X(stats, json, prom, info, KIND, FMT, GROUP, INFO, value, help)
 *  - KIND: COUNTER (only grows, until CONFIG RESETSTAT) or GAUGE;
 *  - FMT: U (an integer), UH (an integer; INFO adds <name>_human), B (a
 *    flag: 0 or 1 in text, false or true in JSON), F1, F2, F3 (a real with
 *    that many decimals in the text outputs);
 *  - value, where it lives:
 *      SRV(f)  srv.stats.f, a server counter CONFIG RESETSTAT zeroes;
 *      ADM(f)  srv.stats.f, an admin-port counter RESETSTAT leaves alone
 *              (a data client must not clear what an operator's scraper
 *              reads);
 *      AS(f)   alloc_stats's f (help NULL: alloc's row says it);
 *      CRUN(f) ks_compact_status's f, one of ALLOC_COMPACT_RUN_METRICS
 *              (help NULL, as for AS);
 *      KS(f)   ks_stats's f;  CST(f) ks_compact_status's f;
 *      CS(f)   compactor_stats's f;
 *      FN(e)   any other expression; it may use metrics_read's snapshot
 *              (as, ks, cst, cs, and used and rss: ks_used_memory and
 *              alloc_rss_bytes, read once).
 *    struct server_stats is generated from the SRV and ADM rows, so a
 *    counter exists exactly when it is reported.
 * alloc's and the keyspace's compaction rows (ALLOC_COMPACT_METRICS,
 * KS_COMPACT_METRICS) follow the table in the compaction group (see
 * metrics.c).
 */
#pragma once

#include <stdint.h>   /* METRIC_FIELD_: the counters are uint64_t */

#define DAEMON_METRICS(X)                                                                           \
    /* INFO memory's rows, in its order */                                                          \
    X("used_memory", "used_memory", "used_memory_bytes", "used_memory", GAUGE, UH, MEMORY,          \
      MEMORY, FN(used), "Data memory as maxmemory counts it (live entry bytes plus the index).")    \
    X("used_memory_rss", "rss_bytes", "rss_bytes", "used_memory_rss", GAUGE, UH, MEMORY, MEMORY,    \
      FN(rss), "Resident set size of the process.")                                                 \
    X("used_memory_peak", NULL, "used_memory_peak_bytes", "used_memory_peak", GAUGE, UH, MEMORY,    \
      MEMORY, FN(server_used_memory_peak(used)),                                                    \
      "Highest used_memory since start-up or CONFIG RESETSTAT.")                                    \
    X("live_bytes", "live_bytes", "live_bytes", "used_memory_dataset", GAUGE, U, MEMORY, MEMORY,    \
      AS(live_bytes), NULL)                                                                         \
    X("index_bytes", "index_bytes", "index_bytes", "used_memory_index", GAUGE, U, MEMORY,           \
      MEMORY, KS(index_bytes), "Bytes of the keyspace's index tables.")                             \
    X("live_blocks", NULL, "live_blocks", "allocator_live_blocks", GAUGE, U, MEMORY, MEMORY,        \
      AS(live_blocks), NULL)                                                                        \
    X("slot_bytes", "slot_bytes", "slot_bytes", "allocator_slot_bytes", GAUGE, U, MEMORY,           \
      MEMORY, AS(slot_bytes), NULL)                                                                 \
    X("mapped_bytes", "mapped_bytes", "mapped_bytes", "allocator_mapped", GAUGE, UH, MEMORY,        \
      MEMORY, AS(mapped_bytes), NULL)                                                               \
    X("arena_size", "arena_size", "arena_size_bytes", "allocator_arena_size", GAUGE, U, MEMORY,     \
      MEMORY, FN(as.arena_size), "Bytes of one arena (arena-size).")                                \
    X("arenas", "arenas", "arenas", "allocator_arenas", GAUGE, U, MEMORY, MEMORY, AS(arenas),       \
      NULL)                                                                                         \
    X("retained_arenas", "retained_arenas", "retained_arenas", "allocator_retained_arenas",         \
      GAUGE, U, MEMORY, MEMORY, AS(retained_arenas), NULL)                                          \
    X("large_blocks", "large_blocks", "large_blocks", "allocator_large_blocks", GAUGE, U,           \
      MEMORY, MEMORY, AS(large_blocks), NULL)                                                       \
    X("large_bytes", "large_bytes", "large_bytes", "allocator_large_bytes", GAUGE, U, MEMORY,       \
      MEMORY, AS(large_bytes), NULL)                                                                \
    X("alloc_failures", NULL, "alloc_failures_total", "allocator_failures", COUNTER, U, MEMORY,     \
      MEMORY, AS(alloc_failures), NULL)                                                             \
    X("mem_fragmentation_ratio", NULL, NULL, "mem_fragmentation_ratio", GAUGE, F2, MEMORY,          \
      MEMORY, FN(metric_ratio(rss, used)), "used_memory_rss over used_memory.")                     \
    X("maxmemory", "maxmemory", "maxmemory_bytes", "maxmemory", GAUGE, UH, MEMORY, MEMORY,          \
      FN(cfg.maxmemory), "The maxmemory limit (0: none).")                                          \
    X("fragmentation_ratio", NULL, NULL, NULL, GAUGE, F3, MEMORY, NONE,                             \
      FN(metric_ratio(as.mapped_bytes, as.live_bytes)), "mapped_bytes over live_bytes.")            \
    X("arena_bytes", "arena_bytes", NULL, NULL, GAUGE, U, MEMORY, NONE,                             \
      FN(as.arenas * as.arena_size), "Bytes of the arenas holding live blocks.")                    \
    /* INFO clients' row */                                                                         \
    X("connected_clients", NULL, "connected_clients", "connected_clients", GAUGE, U, CLIENTS,       \
      CLIENTS, FN(conn_count()), "Client connections on the data port.")                            \
    /* INFO stats' rows, in its order */                                                            \
    X("connections_received", NULL, "connections_received_total", "total_connections_received",     \
      COUNTER, U, CLIENTS, STATS, SRV(total_connections),                                           \
      "Data-port connections accepted (those then refused included).")                              \
    X("commands_processed", NULL, "commands_processed_total", "total_commands_processed",           \
      COUNTER, U, CLIENTS, STATS, SRV(total_commands), "Commands run on the data port.")            \
    X("ops_per_sec", NULL, NULL, "instantaneous_ops_per_sec", GAUGE, U, CLIENTS, STATS,             \
      FN(server_rate(SERVER_RATE_OPS)), "Commands per second, averaged over the last samples.")     \
    X("net_input_bytes", NULL, "net_input_bytes_total", "total_net_input_bytes", COUNTER, U,        \
      CLIENTS, STATS, SRV(net_input_bytes), "Bytes read from data-port clients.")                   \
    X("net_output_bytes", NULL, "net_output_bytes_total", "total_net_output_bytes", COUNTER, U,     \
      CLIENTS, STATS, SRV(net_output_bytes), "Bytes written to data-port clients.")                 \
    X("rejected_connections", NULL, "rejected_connections_total", "rejected_connections",           \
      COUNTER, U, CLIENTS, STATS, SRV(rejected_connections),                                        \
      "Data-port connections refused (maxclients, protected-mode).")                                \
    X("cross_protocol_requests", NULL, "cross_protocol_requests_total",                             \
      "cross_protocol_requests", COUNTER, U, CLIENTS, STATS, SRV(cross_protocol),                   \
      "Data-port connections closed for sending an HTTP request (POST or Host:).")                  \
    X("expired_keys", NULL, "expired_keys_total", "expired_keys", COUNTER, U, KEYS, STATS,          \
      KS(expired_keys), "Keys deleted because their TTL passed.")                                   \
    X("evicted_keys", NULL, "evicted_keys_total", "evicted_keys", COUNTER, U, KEYS, STATS,          \
      KS(evicted_keys), "Keys evicted by maxmemory-policy.")                                        \
    X("keyspace_hits", NULL, "keyspace_hits_total", "keyspace_hits", COUNTER, U, KEYS, STATS,       \
      KS(keyspace_hits), "Successful key lookups.")                                                 \
    X("keyspace_misses", NULL, "keyspace_misses_total", "keyspace_misses", COUNTER, U, KEYS,        \
      STATS, KS(keyspace_misses), "Failed key lookups.")                                            \
    X("error_replies", NULL, "error_replies_total", "total_error_replies", COUNTER, U, CLIENTS,     \
      STATS, FN(reply_errors_total()), "Error replies on the data port (INFO errorstats).")         \
    X("index_slots", NULL, "index_slots", "index_slots", GAUGE, U, KEYS, STATS, KS(index_slots),    \
      "Slots in the index tables (both while resizing).")                                           \
    X("index_rehashing", NULL, "index_rehashing", "index_rehashing", GAUGE, B, KEYS, STATS,         \
      KS(rehashing), "1 while the index migrates to a resized table.")                              \
    X("reads_processed", NULL, "reads_processed_total", "total_reads_processed", COUNTER, U,        \
      CLIENTS, STATS, SRV(reads_processed), "Reads from clients that brought input.")               \
    X("writes_processed", NULL, "writes_processed_total", "total_writes_processed", COUNTER, U,     \
      CLIENTS, STATS, SRV(writes_processed), "Flushes to clients that had output to write.")        \
    /* the rest */                                                                                  \
    X("uptime_seconds", "uptime_s", "uptime_seconds", NULL, GAUGE, F3, SERVER, NONE,                \
      FN((double)(server_now_ms() - srv.start_ms) / 1000.0), "Seconds since the server started.")   \
    X("keys", "keys", "keys", NULL, GAUGE, U, KEYS, NONE, KS(keys), "Keys in the keyspace.")        \
    X("expires", "expires", "expires", NULL, GAUGE, U, KEYS, NONE, KS(expires),                     \
      "Keys with a time to live.")                                                                  \
    X("output_buffer_disconnects", NULL, "output_buffer_disconnects_total", NULL, COUNTER, U,       \
      CLIENTS, NONE, SRV(obl_disconnects), "Clients closed by client-output-buffer-limit.")         \
    X("protected_denials", NULL, "protected_denials_total", NULL, COUNTER, U, CLIENTS, NONE,        \
      SRV(protected_denials), "Clients refused by protected-mode (also rejected_connections).")     \
    X("accept_backoffs", NULL, "accept_backoffs_total", NULL, COUNTER, U, CLIENTS, NONE,            \
      SRV(accept_fd_waits), "Pauses of accept() for lack of file descriptors or kernel memory.")    \
    X("admin_connections", NULL, "admin_connections", NULL, GAUGE, U, ADMIN, NONE,                  \
      FN(conn_admin_count()), "Connections on the admin port.")                                     \
    X("admin_commands", NULL, "admin_commands_total", NULL, COUNTER, U, ADMIN, NONE,                \
      ADM(admin_commands), "Commands run on the admin port (not in commands_processed).")           \
    X("admin_error_replies", NULL, "admin_error_replies_total", NULL, COUNTER, U, ADMIN, NONE,      \
      ADM(admin_error_replies), "Error replies on the admin port (not in INFO errorstats).")        \
    X("admin_rejected_connections", NULL, "admin_rejected_connections_total", NULL, COUNTER, U,     \
      ADMIN, NONE, ADM(admin_rejected), "Admin-port connections refused for admin-maxclients.")     \
    /* compaction: the dashboard's "compaction" object */                                           \
    X("compaction_running", "running", "compaction_running", NULL, GAUGE, B, COMPACTION, NONE,      \
      CST(running), "1 while a compaction run is active.")                                          \
    X("compaction_runs", "runs", "compaction_runs_total", NULL, COUNTER, U, COMPACTION, NONE,       \
      CRUN(runs), NULL)                                                                             \
    X("compaction_runs_finished", "runs_finished", "compaction_runs_finished_total", NULL,          \
      COUNTER, U, COMPACTION, NONE, CRUN(runs_finished), NULL)                                      \
    X("compaction_runs_manual", "runs_manual", "compaction_runs_manual_total", NULL, COUNTER,       \
      U, COMPACTION, NONE, CS(runs_manual), "Runs started by COMPACT on the admin port.")           \
    X("compaction_runs_auto", "runs_auto", "compaction_runs_auto_total", NULL, COUNTER, U,          \
      COMPACTION, NONE, CS(runs_auto), "Runs started by compact-auto.")                             \
    X("compaction_runs_scheduled", "runs_scheduled", "compaction_runs_scheduled_total", NULL,       \
      COUNTER, U, COMPACTION, NONE, CS(runs_scheduled), "Runs started by compact-interval.")        \
    X("compaction_reclaimable_bytes", "reclaimable_bytes", "compaction_reclaimable_bytes",          \
      NULL, GAUGE, U, COMPACTION, NONE, CRUN(reclaimable), NULL)                                    \
    X("compaction_packable_bytes", "packable_bytes", "compaction_packable_bytes", NULL, GAUGE,      \
      U, COMPACTION, NONE, CRUN(packable), NULL)                                                    \
    X("compaction_max_step_us", "max_step_us", NULL, NULL, GAUGE, U, COMPACTION, NONE,              \
      CS(max_step_us), "Longest single compaction step of any run, in microseconds.")               \
    X("compaction_max_step_cpu_us", "max_step_cpu_us", NULL, NULL, GAUGE, U, COMPACTION, NONE,      \
      CS(max_step_cpu_us),                                                                          \
      "Most CPU time of a single compaction step of any run, in microseconds (its wall time "       \
      "less what the OS ran instead).")                                                             \
    X("compaction_long_steps", "long_steps", "compaction_long_steps_total", NULL, COUNTER, U,       \
      COMPACTION, NONE, CS(long_steps), "Compaction steps longer than 1 ms of wall time.")           \
    X("compaction_long_steps_cpu", "long_steps_cpu", "compaction_long_steps_cpu_total", NULL,       \
      COUNTER, U, COMPACTION, NONE, CS(long_steps_cpu),                                             \
      "Compaction steps that used more than 1 ms of their own CPU time.")                           \
    X(NULL, NULL, "compaction_seconds_total", NULL, COUNTER, F3, COMPACTION, NONE,                  \
      FN((double)cst.total.time_us / 1e6), "Time spent in compaction steps (total time_us).")       \
    /* this run, or the last one */                                                                 \
    X(NULL, "arenas_planned", NULL, NULL, GAUGE, U, COMPACTION, NONE, CST(arenas_planned),          \
      "Arenas the run slated so far plus its estimate for the pairs not reached yet.")              \
    X(NULL, "arenas_done", NULL, NULL, GAUGE, U, COMPACTION, NONE, CST(arenas_done),                \
      "Slated arenas the run finished.")                                                            \
    X(NULL, "progress_pct", NULL, NULL, GAUGE, F1, COMPACTION, NONE,                                \
      FN(cst.arenas_planned ? 100.0 * (double)cst.arenas_done / (double)cst.arenas_planned          \
                            : (cst.running ? 0.0 : 100.0)),                                         \
      "arenas_done as a percentage of arenas_planned.")                                             \
    X(NULL, "run_duration_us", NULL, NULL, GAUGE, U, COMPACTION, NONE, CST(duration_us),            \
      "Wall time of the run from start to end (so far, if running).")                               \
    X(NULL, "run_mapped_before", NULL, NULL, GAUGE, U, COMPACTION, NONE, CST(mapped_before),        \
      "mapped_bytes when the run started.")                                                         \
    X(NULL, "run_mapped_after", NULL, NULL, GAUGE, U, COMPACTION, NONE, CST(mapped_after),          \
      "mapped_bytes when the run ended (now, if running).")

/* The SRV and ADM rows' storage: srv.stats. */
#define METRIC_FIELD_SRV(f) uint64_t f;
#define METRIC_FIELD_ADM(f) uint64_t f;
#define METRIC_FIELD_AS(f)
#define METRIC_FIELD_KS(f)
#define METRIC_FIELD_CST(f)
#define METRIC_FIELD_CRUN(f)
#define METRIC_FIELD_CS(f)
#define METRIC_FIELD_FN(e)
#define METRIC_FIELD_(stats, json, prom, info, kind, fmt, group, sect, value, help)                 \
    METRIC_FIELD_##value
