/*
 * server: the process and its event loop: the libevent base, the loop's
 * clock, signals (SIGTERM and SIGINT stop the loop, SIGHUP reloads the
 * configuration), shutdown, systemd notification, and the server-wide
 * statistics the rest of the daemon reads and counts in (srv).
 *
 * It is the bottom of the daemon's runtime and names no other part of it
 * but config and log: the listeners, the cron and the compactor put their
 * own events on srv.base, and what a reloaded option changes is applied
 * through config_changed's hook.
 *
 * systemd readiness uses the documented datagram protocol on $NOTIFY_SOCKET
 * directly (no libsystemd): READY=1 once every listener accepts, STOPPING=1
 * when shutdown starts.
 */
#include "daemon/server.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/log.h"
#include "keyspace/keyspace.h"

struct server srv;

static struct event *sigterm_ev, *sigint_ev, *sighup_ev;

int64_t server_now_ms(void)
{
    return clock_wall_us() / 1000;
}

/* ---- systemd notification ---- */

void server_sd_notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0')
        return;
    if (path[0] != '/' && path[0] != '@') {
        log_warn("NOTIFY_SOCKET=%s is not a Unix socket path; ignoring it", path);
        return;
    }
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    size_t plen = strlen(path);
    if (plen >= sizeof(sun.sun_path)) {
        log_warn("NOTIFY_SOCKET path too long; ignoring it");
        return;
    }
    memcpy(sun.sun_path, path, plen);
    if (sun.sun_path[0] == '@')
        sun.sun_path[0] = '\0';   /* abstract namespace */
    socklen_t slen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_warn("sd_notify: socket: %s", strerror(errno));
        return;
    }
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, slen) < 0)
        log_warn("sd_notify: sendto %s: %s", path, strerror(errno));
    close(fd);
}

/* ---- the loop's clock and the statistics ---- */

/* Re-reads both clocks: the wall clock for the keyspace and the offset that
 * maps the loop's monotonic clock (srv.clock_us) to it. */
int64_t server_clock_sync(void)
{
    int64_t wall_us = clock_wall_us();
    server_clock_read();
    srv.clock_offset_us = wall_us - (int64_t)srv.clock_us;
    int64_t now = wall_us / 1000;
    ks_clock_update_to(now);
    return now;
}

void server_ops_sample(int64_t now)
{
    int64_t dt = now - srv.rate_last_ms;
    if (dt < 100)
        return;
    const uint64_t counters[SERVER_RATE_COUNT] = {
        [SERVER_RATE_OPS] = srv.stats.total_commands,
        [SERVER_RATE_NET_IN] = srv.stats.net_input_bytes,
        [SERVER_RATE_NET_OUT] = srv.stats.net_output_bytes,
    };
    unsigned i = srv.rate_idx++ % SERVER_OPS_SAMPLES;
    for (int k = 0; k < SERVER_RATE_COUNT; k++) {
        struct server_rate *r = &srv.rates[k];
        r->samples[i] = (counters[k] - r->last) * 1000 / (uint64_t)dt;
        r->last = counters[k];
    }
    srv.rate_last_ms = now;
}

uint64_t server_rate(enum server_rate_kind k)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < SERVER_OPS_SAMPLES; i++)
        sum += srv.rates[k].samples[i];
    return sum / SERVER_OPS_SAMPLES;
}

void server_stats_reset(void)
{
#define RESET_SRV(f) srv.stats.f = 0;
#define RESET_ADM(f)
#define RESET_AS(f)
#define RESET_CRUN(f)
#define RESET_KS(f)
#define RESET_CST(f)
#define RESET_CS(f)
#define RESET_FN(e)
#define X(stats, json, prom, info, kind, fmt, group, sect, value, help) RESET_##value
    DAEMON_METRICS(X)
#undef X
    srv.used_memory_peak = 0;
    memset(srv.rates, 0, sizeof(srv.rates));
    srv.rate_last_ms = server_now_ms();
}

size_t server_used_memory_peak(size_t used)
{
    if (used > srv.used_memory_peak)
        srv.used_memory_peak = used;
    return srv.used_memory_peak;
}

/* ---- signals ---- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    server_request_shutdown(sig == SIGINT ? "Received SIGINT scheduling shutdown..."
                                          : "Received SIGTERM scheduling shutdown...");
}

void server_request_shutdown(const char *why)
{
    if (!srv.shutting_down) {
        log_notice("%s", why);
        srv.shutting_down = true;
        server_sd_notify("STOPPING=1");
    }
    event_base_loopbreak(srv.base);
}

/* ---- reload (SIGHUP) ---- */

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    server_reload();
}

/* Sets option o back to the formatted value v (as config_format wrote it). */
static void restore_value(const struct cfg_option *o, const char *v)
{
    char err[256];
    if (config_set_string(o, v, err, sizeof(err)) != CONFIG_OK)
        log_warn("Reload: cannot restore %s: %s", o->name, err);
}

void server_reload(void)
{
    if (srv.config_file == NULL || srv.config_file[0] == '\0') {
        log_notice("Received SIGHUP: no configuration file to reload");
        return;
    }
    log_notice("Received SIGHUP: reloading %s", srv.config_file);
    char *old[CFG_OPT_COUNT];
    for (size_t i = 0; i < CFG_OPT_COUNT; i++)
        old[i] = config_format(&config_options[i]);

    /* The file, then the command line on top, as at start-up. Options the
     * file no longer mentions keep their current values. */
    char err[512];
    config_rstatus_e st = config_load_file(srv.config_file, err, sizeof(err));
    for (int k = 0; st == CONFIG_OK && k < srv.noverrides; k++) {
        const struct server_override *ov = &srv.overrides[k];
        st = config_apply(ov->name, ov->argc, ov->argv, err, sizeof(err));
    }
    config_derive();
    bool changed[CFG_OPT_COUNT] = {false};
    size_t nchanged = 0, nrefused = 0;
    for (size_t i = 0; i < CFG_OPT_COUNT; i++) {
        const struct cfg_option *o = &config_options[i];
        char *now = config_format(o);
        if (old[i] == NULL || now == NULL || strcmp(old[i], now) == 0) {
            free(now);
            continue;
        }
        if (st != CONFIG_OK) {
            restore_value(o, old[i]);   /* all or nothing */
        } else if (!(o->flags & CFG_MUTABLE)) {
            log_warn("Reload: %s cannot change at run time; keeping '%s' (restart to apply '%s')",
                     o->name, old[i], now);
            restore_value(o, old[i]);
            nrefused++;
        } else {
            bool secret = o->flags & CFG_SECRET;
            log_notice("Reload: %s changed from '%s' to '%s'", o->name, secret ? "(hidden)" : old[i],
                       secret ? "(hidden)" : now);
            changed[i] = true;
            nchanged++;
        }
        free(now);
    }
    for (size_t i = 0; i < CFG_OPT_COUNT; i++)
        free(old[i]);
    if (st != CONFIG_OK) {
        log_warn("Reload failed, nothing changed: %s", err);
        return;
    }
    config_changed(changed);
    log_notice("Reload done: %zu option(s) changed, %zu immutable change(s) refused", nchanged,
               nrefused);
}

/* ---- lifecycle ---- */

/* 40 random hex digits: getrandom, or the clock and pid if it fails (ids
 * that tell runs apart, not secrets) */
static void random_id(char out[41])
{
    unsigned char b[20];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        uint64_t x = (uint64_t)server_now_ms() ^ ((uint64_t)getpid() << 32);
        for (size_t i = 0; i < sizeof b; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            b[i] = (unsigned char)(x >> 56);
        }
    }
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int server_setup(char *err, size_t errlen)
{
    signal(SIGPIPE, SIG_IGN);
    random_id(srv.run_id);
    random_id(srv.replid);
    srv.start_ms = server_now_ms();
    srv.rate_last_ms = srv.start_ms;
    ssize_t n = readlink("/proc/self/exe", srv.executable, sizeof(srv.executable) - 1);
    srv.executable[n > 0 ? n : 0] = '\0';

    /* Precise timers (timerfd): the background walks (compaction, census)
     * idle for fractions of a millisecond between slices to keep their CPU
     * share, and epoll's millisecond timeouts would stretch every such idle
     * to a millisecond or two, running them at a fraction of their share. */
    struct event_config *ec = event_config_new();
    if (ec != NULL) {
        event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
        srv.base = event_base_new_with_config(ec);
        event_config_free(ec);
    }
    if (srv.base == NULL) {
        snprintf(err, errlen, "cannot create the event loop");
        return EX_OSERR;
    }
    /* Signals before any listener: whoever sees a port open (a supervisor,
     * a test harness) may send SIGTERM at once, and that must be a clean
     * shutdown once the loop runs, not the default action killing a
     * half-started process. */
    sigterm_ev = evsignal_new(srv.base, SIGTERM, on_signal, NULL);
    sigint_ev = evsignal_new(srv.base, SIGINT, on_signal, NULL);
    sighup_ev = evsignal_new(srv.base, SIGHUP, on_sighup, NULL);
    if (!sigterm_ev || !sigint_ev || !sighup_ev || evsignal_add(sigterm_ev, NULL) ||
        evsignal_add(sigint_ev, NULL) || evsignal_add(sighup_ev, NULL)) {
        snprintf(err, errlen, "cannot register signal handlers");
        return EX_OSERR;
    }
    return 0;
}

void server_run(void)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=Ready to accept connections\nMAINPID=%d",
             (int)getpid());
    server_sd_notify(msg);
    log_notice("Ready to accept connections");
    event_base_dispatch(srv.base);
}

void server_teardown(void)
{
    if (sighup_ev)
        event_free(sighup_ev);
    if (sigterm_ev)
        event_free(sigterm_ev);
    if (sigint_ev)
        event_free(sigint_ev);
    sighup_ev = sigterm_ev = sigint_ev = NULL;
    if (srv.base)
        event_base_free(srv.base);
    srv.base = NULL;
}
