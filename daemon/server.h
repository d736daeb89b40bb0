/*
 * server: the process and its event loop (see server.c): srv, which holds
 * the event base, the loop's clock and the server-wide statistics; the
 * loop's lifecycle, shutdown and SIGHUP's reload; systemd notification.
 * Every part of the daemon may use it; it uses none of them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "alloc/clock.h"   /* clock_mono_us, the one monotonic clock */
#include "daemon/metrics_table.h"

struct event_base;

#define SERVER_OPS_SAMPLES 16

/* What INFO's instantaneous_* fields average. */
enum server_rate_kind {
    SERVER_RATE_OPS,       /* commands */
    SERVER_RATE_NET_IN,    /* bytes read from clients */
    SERVER_RATE_NET_OUT,   /* bytes written to clients */
    SERVER_RATE_COUNT
};

/* The server's counters: the SRV and ADM rows of daemon/metrics.h, where
 * each is declared with its help and the names it is printed under. */
struct server_stats {
    DAEMON_METRICS(METRIC_FIELD_)
};

/* A --name value... command-line override (main.c), re-applied on reload. */
struct server_override {
    const char *name;
    int argc;
    char **argv;
};

struct server {
    struct event_base *base;
    const struct server_override *overrides;
    int noverrides;
    struct server_stats stats;
    int64_t start_ms;               /* wall clock at start-up */
    const char *config_file;        /* absolute path or "" */
    char executable[4096];
    int tcp_port;                   /* the port actually listened on */
    /* 40 hex digits each, random per start (INFO's run_id and, as a
     * standalone master's, master_replid) */
    char run_id[41];
    char replid[41];
    /* used_memory (ks_used_memory) right after start-up, and its peak since
     * start or CONFIG RESETSTAT: the cron and INFO raise it */
    size_t used_memory_startup;
    size_t used_memory_peak;
    bool shutting_down;

    /* instantaneous_*: counters sampled every 100 ms (server_rate) */
    struct server_rate {
        uint64_t samples[SERVER_OPS_SAMPLES];   /* per second */
        uint64_t last;                          /* the counter at the last sample */
    } rates[SERVER_RATE_COUNT];
    unsigned rate_idx;
    int64_t rate_last_ms;

    /* The loop's clock: one CLOCK_MONOTONIC read per batch of input and one
     * per command (the data port hands it to command_dispatch_at and keeps
     * the session's now_us, the time the handler ended, for the next one),
     * shared by the keyspace clock and command timing. clock_offset_us maps
     * it to the wall clock; the cron refreshes the offset. It is kept in
     * microseconds because an offset between two clocks each truncated to
     * milliseconds lags the wall clock by up to 1 ms (a PXAT then reads back
     * one millisecond too long a PTTL). */
    uint64_t clock_us;
    int64_t clock_offset_us;
};

extern struct server srv;

/*
 * Creates the event base and registers the signals (before any listener
 * opens, so that a SIGTERM sent as soon as a port accepts is a clean
 * shutdown). Returns 0, or a sysexits code after writing a message to err.
 */
int server_setup(char *err, size_t errlen);
/* Runs the loop until a shutdown signal or SHUTDOWN; tells systemd READY=1 first. */
void server_run(void);
/* Frees the signals and the loop (every other event must be gone). */
void server_teardown(void);

/* Stops the loop after the current callback (SHUTDOWN, signals). */
void server_request_shutdown(const char *why);

/* Sends one message to systemd's $NOTIFY_SOCKET (nothing without one). */
void server_sd_notify(const char *msg);

/* instantaneous_ops_per_sec, _input_kbps, _output_kbps: the average of the
 * last samples (per second), which the cron takes every 100 ms with
 * server_ops_sample. */
uint64_t server_rate(enum server_rate_kind k);
void server_ops_sample(int64_t now_ms);
/* CONFIG RESETSTAT: zeroes srv.stats' SRV rows (not the admin port's own
 * counters, ADM) and the used_memory peak. */
void server_stats_reset(void);
/* Raises the used_memory peak to used if above it (the cron at hz, and
 * every read of the peak) and returns the peak. */
size_t server_used_memory_peak(size_t used);

/* Monotonic-ish wall clock in milliseconds (for ages and idle times). */
int64_t server_now_ms(void);


/* Reads the monotonic clock into srv.clock_us (once per batch of input). */
static inline uint64_t server_clock_read(void)
{
    srv.clock_us = clock_mono_us();
    return srv.clock_us;
}
/* Re-reads both clocks: the wall clock for the keyspace and the offset that
 * maps the loop's clock to it (the cron, and at start-up). Returns the wall
 * clock in milliseconds. */
int64_t server_clock_sync(void);

/* srv.clock_us as wall-clock milliseconds (no clock read). */
static inline int64_t server_clock_ms(void)
{
    return ((int64_t)srv.clock_us + srv.clock_offset_us) / 1000;
}

/* SIGHUP: re-reads the configuration file and applies what may change. */
void server_reload(void);
