/*
 * server: the libevent loop, listeners, signals, cron and sd_notify.
 *
 * The cron timer runs `hz` times a second and drives the keyspace's bounded
 * background work: index rehashing (ks_cron, ~1 ms) and active expiry
 * (ks_expire_cycle, expire-cycle-ms scaled by expire-effort,
 * ~1 ms by default). When an expiry cycle uses its whole budget there
 * is a backlog of expired keys, so a fast one-shot timer repeats the cycle
 * every 10 ms (the effort of a 100 Hz cron) until a cycle finishes early;
 * an idle server therefore wakes only `hz` times a second.
 *
 * systemd readiness uses the documented datagram protocol on $NOTIFY_SOCKET
 * directly (no libsystemd): READY=1 once every listener accepts, STOPPING=1
 * when shutdown starts.
 */
#include "daemon/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "daemon/admin.h"
#include "daemon/compactor.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/introspect.h"
#include "daemon/latency.h"
#include "daemon/log.h"
#include "alloc/alloc.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"

#define MAX_LISTENERS   16
#define CRON_BUDGET_US  1000   /* index rehashing per tick */
#define EXPIRE_FAST_MS  10
#define ACCEPTS_PER_CALL 32
#define STATUS_EVERY_MS 5000   /* STATUS= lines to systemd */

struct server srv;

struct listener {
    int fd;
    bool is_unix;
    bool admin;
    char laddr[64];
    struct event *ev;
};

static struct listener listeners[MAX_LISTENERS];
static int nlisteners;
static struct event *cron_ev, *expire_ev, *sigterm_ev, *sigint_ev, *sighup_ev;
static int64_t last_status_ms, last_watchdog_ms;
static int64_t watchdog_ms;   /* WATCHDOG=1 every this many ms (half of WATCHDOG_USEC), 0 off */
static long long cron_hz;
static uint64_t cron_ticks;

int64_t server_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- systemd notification ---- */

static void sd_notify_send(const char *msg)
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

/* ---- listeners ---- */

static void format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        snprintf(buf, len, "?:0");
    }
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct listener *l = arg;
    for (int i = 0; i < ACCEPTS_PER_CALL; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("Accepting client connection: %s", strerror(errno));
            return;
        }
        char addr[64];
        if (l->is_unix) {
            snprintf(addr, sizeof(addr), "%s", l->laddr);
        } else {
            format_addr((struct sockaddr *)&ss, addr, sizeof(addr));
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            if (cfg.tcp_keepalive > 0) {
                int idle = (int)cfg.tcp_keepalive;
                int intvl = idle / 3 > 0 ? idle / 3 : 1;
                int cnt = 3;
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
                setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
            }
        }
        conn_accept(fd, l->is_unix, l->admin, addr, l->laddr);
    }
}

static int add_listener(int fd, bool is_unix, bool admin, const char *laddr, char *err,
                        size_t errlen)
{
    if (nlisteners == MAX_LISTENERS) {
        close(fd);
        snprintf(err, errlen, "too many listening addresses (at most %d)", MAX_LISTENERS);
        return EX_CONFIG;
    }
    struct listener *l = &listeners[nlisteners];
    l->fd = fd;
    l->is_unix = is_unix;
    l->admin = admin;
    snprintf(l->laddr, sizeof(l->laddr), "%s", laddr);
    l->ev = event_new(srv.base, fd, EV_READ | EV_PERSIST, on_accept, l);
    if (l->ev == NULL || event_add(l->ev, NULL) != 0) {
        if (l->ev)
            event_free(l->ev);
        close(fd);
        snprintf(err, errlen, "cannot register listener %s", laddr);
        return EX_OSERR;
    }
    nlisteners++;
    return 0;
}

/* Listens on one bind address; an optional ('-') address that is
 * unavailable is skipped with a log line. */
int server_listen_tcp(const char *spec, int portno, bool admin, char *err, size_t errlen)
{
    bool optional = spec[0] == '-';
    const char *host = optional ? spec + 1 : spec;
    if (strcmp(host, "*") == 0)
        host = "0.0.0.0";
    else if (strcmp(host, "::*") == 0)
        host = "::";

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof(port), "%d", portno);
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        if (optional) {
            log_notice("Skipping optional bind address %s: %s", host, gai_strerror(gai));
            return 0;
        }
        snprintf(err, errlen, "bad bind address '%s': %s", host, gai_strerror(gai));
        return EX_CONFIG;
    }

    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const char *what = "socket";
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (res->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        what = "bind";
        if (bind(fd, res->ai_addr, res->ai_addrlen) == 0) {
            what = "listen";
            if (listen(fd, (int)cfg.tcp_backlog) == 0)
                what = NULL;
        }
    }
    char laddr[64];
    format_addr(res->ai_addr, laddr, sizeof(laddr));
    freeaddrinfo(res);
    if (what != NULL) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (optional && (e == EADDRNOTAVAIL || e == EAFNOSUPPORT || e == EPROTONOSUPPORT)) {
            log_notice("Skipping optional bind address %s: %s", laddr, strerror(e));
            return 0;
        }
        snprintf(err, errlen, "could not listen on %s: %s: %s", laddr, what, strerror(e));
        return e == EADDRINUSE || e == EACCES ? EX_UNAVAILABLE : EX_OSERR;
    }
    log_notice("Listening on %s%s", laddr,
               admin ? " (admin port: admin commands; HTTP: dashboard at GET /, GET /metrics)" : "");
    if (admin)
        srv.admin_port = portno;
    return add_listener(fd, false, admin, laddr, err, errlen);
}

static int listen_unix(char *err, size_t errlen)
{
    const char *path = cfg.unixsocket;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "unixsocket path too long: %s", path);
        return EX_CONFIG;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "unix socket: %s", strerror(errno));
        return EX_OSERR;
    }
    unlink(path);   /* a stale socket from a previous run */
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
        (cfg.unixsocketperm != 0 && chmod(path, (mode_t)cfg.unixsocketperm) != 0) ||
        listen(fd, (int)cfg.tcp_backlog) != 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "could not listen on unix socket %s: %s", path, strerror(e));
        return e == EADDRINUSE || e == EACCES ? EX_UNAVAILABLE : EX_OSERR;
    }
    char laddr[64];
    snprintf(laddr, sizeof(laddr), "%.60s:0", path);
    log_notice("Listening on unix socket %s", path);
    return add_listener(fd, true, false, laddr, err, errlen);
}

/* ---- cron ---- */

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
    uint64_t budget = (uint64_t)cfg.active_expire_cycle_us * (uint64_t)(cfg.active_expire_effort + 2) / 3;
    uint64_t t0 = server_mono_us();
    size_t n = ks_expire_cycle(KS_EXPIRE_BUDGET_AUTO);
    uint64_t took = server_mono_us() - t0;
    latency_add_sample("expire-cycle", took / 1000);
    return n > 0 && took >= budget - budget / 8;
}

/* Re-reads both clocks: the wall clock for the keyspace and the offset that
 * maps the loop's monotonic clock (srv.clock_us) to it. */
static int64_t clock_sync(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wall_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    server_clock_read();
    srv.clock_offset_us = wall_us - (int64_t)srv.clock_us;
    int64_t now = wall_us / 1000;
    ks_clock_update_to(now);
    return now;
}

static void on_expire_fast(evutil_socket_t fd, short what, void *arg)
{
    clock_sync();
    if (expire_step()) {
        struct timeval tv = {0, EXPIRE_FAST_MS * 1000};
        evtimer_add(expire_ev, &tv);
    }
}

static void ops_sample(int64_t now)
{
    if (now - srv.ops_last_ms < 100)
        return;
    uint64_t ops = srv.stats.total_commands - srv.ops_last_count;
    int64_t dt = now - srv.ops_last_ms;
    srv.ops_samples[srv.ops_idx++ % SERVER_OPS_SAMPLES] = dt > 0 ? ops * 1000 / (uint64_t)dt : 0;
    srv.ops_last_count = srv.stats.total_commands;
    srv.ops_last_ms = now;
}

uint64_t server_instantaneous_ops(void)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < SERVER_OPS_SAMPLES; i++)
        sum += srv.ops_samples[i];
    return sum / SERVER_OPS_SAMPLES;
}

#define EVICT_LOG_MS 10000
static uint64_t evict_burst_keys, evict_burst_bytes;
static int64_t evict_log_ms;

/* Logs the evictions not reported yet, at most once every EVICT_LOG_MS
 * (the first of a burst at once; the cron reports the rest). */
static void evict_report(int64_t now)
{
    if (evict_burst_keys == 0 || now - evict_log_ms < EVICT_LOG_MS)
        return;
    log_notice("Evicted %llu keys (%llu bytes) since %s to stay under maxmemory %lld (%s)",
               (unsigned long long)evict_burst_keys, (unsigned long long)evict_burst_bytes,
               evict_log_ms ? "the last report" : "start", cfg.maxmemory,
               ks_evict_policy_name((enum ks_evict_policy)cfg.maxmemory_policy));
    evict_log_ms = now;
    evict_burst_keys = evict_burst_bytes = 0;
}

bool server_enforce_maxmemory(void)
{
    size_t limit = (size_t)cfg.maxmemory;
    size_t used = ks_used_memory();
    if (used <= limit)
        return true;
    enum ks_evict_policy pol = (enum ks_evict_policy)cfg.maxmemory_policy;
    if (pol == KS_EVICT_NOEVICTION)
        return false;
    /* ks_evict counts usable bytes, used_memory requested ones, so recheck
     * and go again a few times rather than trusting one estimate. */
    for (int round = 0; round < 8 && used > limit; round++) {
        struct ks_evict_result r = ks_evict(used - limit, pol);
        if (r.keys == 0 && r.bytes == 0)
            break;   /* nothing eligible left */
        evict_burst_keys += r.keys;
        evict_burst_bytes += r.bytes;
        used = ks_used_memory();
    }
    evict_report(server_clock_ms());
    return used <= limit;
}

void server_stats_reset(void)
{
    /* the admin port's counters are its own: a data client's CONFIG
     * RESETSTAT must not clear what an operator's scraper sees */
    uint64_t admin_commands = srv.stats.admin_commands;
    uint64_t admin_errors = srv.stats.admin_error_replies;
    memset(&srv.stats, 0, sizeof(srv.stats));
    srv.stats.admin_commands = admin_commands;
    srv.stats.admin_error_replies = admin_errors;
    memset(srv.ops_samples, 0, sizeof(srv.ops_samples));
    srv.ops_last_count = 0;
    srv.ops_last_ms = server_now_ms();
}

static void on_cron(evutil_socket_t fd, short what, void *arg)
{
    int64_t now = clock_sync();
    ks_cron(CRON_BUDGET_US);
    if (expire_step() && !evtimer_pending(expire_ev, NULL)) {
        struct timeval tv = {0, EXPIRE_FAST_MS * 1000};
        evtimer_add(expire_ev, &tv);
    }
    ops_sample(now);
    cron_ticks++;
    if (cron_ticks % (uint64_t)cron_hz == 0) {
        conn_cron(now);
        compactor_cron();
        evict_report(now);
    }
    if (watchdog_ms > 0 && now - last_watchdog_ms >= watchdog_ms) {
        last_watchdog_ms = now;
        sd_notify_send("WATCHDOG=1");
    }
    if (now - last_status_ms >= STATUS_EVERY_MS) {
        last_status_ms = now;
        struct ks_stats ks;
        ks_stats(&ks);
        char msg[192];
        snprintf(msg, sizeof(msg), "STATUS=%zu keys, used memory %zu bytes, RSS %zu bytes, %zu clients",
                 ks.keys, ks_used_memory(), alloc_rss_bytes(), conn_count());
        sd_notify_send(msg);
    }
    cron_schedule();
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
        sd_notify_send("STOPPING=1");
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
            bool secret = strcmp(o->name, "requirepass") == 0 || strcmp(o->name, "admin-password") == 0;
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
    server_config_changed(changed);
    log_notice("Reload done: %zu option(s) changed, %zu immutable change(s) refused", nchanged,
               nrefused);
}

/* ---- lifecycle ---- */

/* Raises RLIMIT_NOFILE to fit maxclients, as far as the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)cfg.maxclients + 32;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rlim_t cap = rl.rlim_max == RLIM_INFINITY ? want : (want < rl.rlim_max ? want : rl.rlim_max);
    rl.rlim_cur = cap;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || cap < want)
        log_warn("Open files limit is %llu: fewer than maxclients %lld clients may connect",
                 (unsigned long long)cap, cfg.maxclients);
}

int server_setup(char *err, size_t errlen)
{
    int rc;
    signal(SIGPIPE, SIG_IGN);
    srv.start_ms = server_now_ms();
    srv.ops_last_ms = srv.start_ms;
    ssize_t n = readlink("/proc/self/exe", srv.executable, sizeof(srv.executable) - 1);
    srv.executable[n > 0 ? n : 0] = '\0';
    raise_fd_limit();

    srv.base = event_base_new();
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
    /* The admin port before the data port: a client that finds the data
     * port accepting can count on the admin port too. */
    rc = admin_setup(err, errlen);
    if (rc != 0)
        return rc;
    int admin_listeners = nlisteners;

    if (cfg.port != 0) {
        char *argv_copy = strdup(cfg.bind);
        if (argv_copy == NULL) {
            snprintf(err, errlen, "out of memory");
            return EX_OSERR;
        }
        char *save = NULL;
        for (char *tok = strtok_r(argv_copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
            rc = server_listen_tcp(tok, (int)cfg.port, false, err, errlen);
            if (rc != 0) {
                free(argv_copy);
                return rc;
            }
        }
        free(argv_copy);
        srv.tcp_port = (int)cfg.port;
    }
    if (cfg.unixsocket[0] != '\0') {
        rc = listen_unix(err, errlen);
        if (rc != 0)
            return rc;
    }
    if (nlisteners == admin_listeners) {
        snprintf(err, errlen, "nothing to listen on: set port and bind, or unixsocket");
        return EX_CONFIG;
    }
    if (compactor_setup(srv.base) != 0) {
        snprintf(err, errlen, "cannot create the compaction timer");
        return EX_OSERR;
    }
    conn_obl_update();
    clock_sync();
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
    if (!cron_ev || !expire_ev) {
        snprintf(err, errlen, "cannot register timers");
        return EX_OSERR;
    }
    cron_schedule();
    return 0;
}

void server_run(void)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=Ready to accept connections\nMAINPID=%d",
             (int)getpid());
    sd_notify_send(msg);
    log_notice("Ready to accept connections");
    event_base_dispatch(srv.base);
}

void server_teardown(void)
{
    conn_close_all();
    introspect_teardown();
    compactor_teardown();
    admin_teardown();
    if (sighup_ev)
        event_free(sighup_ev);
    sighup_ev = NULL;
    for (int i = 0; i < nlisteners; i++) {
        event_free(listeners[i].ev);
        close(listeners[i].fd);
        if (listeners[i].is_unix)
            unlink(cfg.unixsocket);
    }
    nlisteners = 0;
    if (cron_ev)
        event_free(cron_ev);
    if (expire_ev)
        event_free(expire_ev);
    if (sigterm_ev)
        event_free(sigterm_ev);
    if (sigint_ev)
        event_free(sigint_ev);
    cron_ev = expire_ev = sigterm_ev = sigint_ev = NULL;
    if (srv.base)
        event_base_free(srv.base);
    srv.base = NULL;
}

void server_config_changed(const bool *changed)
{
    if (changed[CFG_OPT_loglevel])
        log_set_level((int)cfg.loglevel);
    if (changed[CFG_OPT_hz] && cron_ev != NULL) {
        /* Reschedule at once so a lower hz takes effect without a long wait. */
        evtimer_del(cron_ev);
        cron_ticks = 0;
        cron_schedule();
    }
    if (changed[CFG_OPT_requirepass] && cfg.requirepass[0] == '\0')
        conn_auth_all();
    if (changed[CFG_OPT_maxclients])
        raise_fd_limit();
    if (changed[CFG_OPT_active_expire_cycle_us] || changed[CFG_OPT_active_expire_effort])
        ks_set_expire_tuning((unsigned)cfg.active_expire_cycle_us,
                             (unsigned)cfg.active_expire_effort);
    if (changed[CFG_OPT_maxmemory_policy])
        ks_set_evict_policy((enum ks_evict_policy)cfg.maxmemory_policy);
    if (changed[CFG_OPT_maxmemory_samples])
        ks_set_evict_samples((unsigned)cfg.maxmemory_samples);
    if (changed[CFG_OPT_lifetime_segregation])
        ks_set_lifetime_segregation(cfg.lifetime_segregation != 0);
    if (changed[CFG_OPT_client_output_buffer_limit])
        conn_obl_update();
    if (changed[CFG_OPT_proto_max_bulk_len])
        proto_set_max_value_len((uint64_t)cfg.proto_max_bulk_len);
    if (changed[CFG_OPT_compact_auto] || changed[CFG_OPT_compact_frag_threshold] ||
        changed[CFG_OPT_compact_min_reclaim] || changed[CFG_OPT_compact_interval] ||
        changed[CFG_OPT_compact_slice_us] || changed[CFG_OPT_compact_cpu_pct])
        compactor_config_changed();
}
