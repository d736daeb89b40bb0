/*
 * conn: client connections (see conn.h for the buffering model).
 *
 * A connection is freed only outside conn_process(): a command may close
 * its own or another client (CLIENT KILL, QUIT), so conn_close() on a
 * connection that is being processed only marks it dead, and the processing
 * loop frees it on the way out.
 */
#include "daemon/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/server.h"

#include "alloc/list.h"

#define QBUF_MIN      (16u * 1024)       /* read at least this much per read() */
#define QBUF_KEEP     (64u * 1024)       /* larger empty buffers are freed after a batch */
#define QBUF_IDLE_MS  2000               /* empty buffers of idle clients are freed */

static struct conn *conn_head, *conn_tail;   /* oldest first */
LIST_DEFINE(conn_list, struct conn, prev, next)
static size_t nconns;      /* connections of client ports */
static size_t nadmin;      /* connections of operator ports (the admin port) */
static uint64_t next_id = 1;

/* client-output-buffer-limit (normal class), parsed at start-up (conn_setup)
 * and once per change. */
static struct cfg_obl obl;

/*
 * Unsent reply bytes above which parsing pauses (backpressure), so that a
 * client pipelining faster than it reads holds a bounded buffer: twice the
 * soft limit, or 8 MiB without one, but never above the hard limit, so
 * that a client that does not read at all passes one of the limits (hard
 * at once, soft after its seconds) and is disconnected as Redis would.
 * Never below CONN_OUT_HIGH.
 */
static size_t pause_at = CONN_OUT_HIGH;

/* Descriptors that are not connections: listeners, the log, the event
 * loop's, what libc opens (Redis keeps the same 32 apart). */
#define FD_RESERVED 32

/* Descriptors both ports' connections need at most. */
static rlim_t fds_wanted(void)
{
    return (rlim_t)cfg.maxclients + (rlim_t)cfg.admin_maxclients + FD_RESERVED;
}

/* Raises the soft RLIMIT_NOFILE toward want, as far as the hard limit
 * allows; returns the soft limit in force afterwards (0 if unknown). */
static rlim_t raise_fd_limit(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return rl.rlim_cur;
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
    if (rl.rlim_cur > old && setrlimit(RLIMIT_NOFILE, &rl) == 0) {
        log_notice("Increased maximum number of open files to %llu (it was originally set to "
                   "%llu)", (unsigned long long)rl.rlim_cur, (unsigned long long)old);
        return rl.rlim_cur;
    }
    return old;
}

/* Redis's rule, at start and for CONFIG SET: raise the limit toward what
 * maxclients next to admin_maxclients needs, then fit maxclients to what
 * the limit leaves (0: nothing left); *got is the limit (0 if unknown). */
static long long maxclients_fit(long long maxclients, long long admin_maxclients, rlim_t *got)
{
    rlim_t other = (rlim_t)admin_maxclients + FD_RESERVED;
    *got = raise_fd_limit((rlim_t)maxclients + other);
    if (*got == 0 || *got == RLIM_INFINITY || *got >= (rlim_t)maxclients + other)
        return maxclients;
    return *got > other ? (long long)(*got - other) : 0;
}

void conn_fd_limit(void)
{
    rlim_t want = fds_wanted();
    rlim_t got = raise_fd_limit(want);
    if (got != 0 && got < want)
        log_warn("Open files limit is %llu, fewer than the %llu that maxclients %lld and "
                 "admin-maxclients %lld need: new clients may be refused before maxclients",
                 (unsigned long long)got, (unsigned long long)want, cfg.maxclients,
                 cfg.admin_maxclients);
}

/* CONFIG SET of a larger maxclients or admin-maxclients: refused, as Redis
 * does, when the descriptors cannot serve that many clients (the two
 * limits share them, so each is fitted next to the other). */
static bool check_maxclients(enum cfg_opt opt, long long value, char *err, size_t errlen)
{
    long long old, other;
    if (opt == CFG_OPT_maxclients) {
        old = cfg.maxclients;
        other = cfg.admin_maxclients;
    } else if (opt == CFG_OPT_admin_maxclients) {
        old = cfg.admin_maxclients;
        other = cfg.maxclients;
    } else {
        return true;
    }
    rlim_t got;
    long long fit = value > old ? maxclients_fit(value, other, &got) : value;
    if (fit >= value)
        return true;
    snprintf(err, errlen, "The operating system is not able to handle the specified number of "
                          "clients, try with %lld", fit);
    return false;
}

int conn_setup(char *err, size_t errlen)
{
    config_set_check_hook(check_maxclients);
    config_on_change(CFG_OPT_maxclients, conn_fd_limit);
    config_on_change(CFG_OPT_admin_maxclients, conn_fd_limit);
    config_on_change(CFG_OPT_client_output_buffer_limit, conn_obl_update);
    /* As Redis does at start: take what the hard limit allows, and where
     * it is too low, lower maxclients to fit, so that extra clients are
     * refused with an error instead of accept() failing over and over. */
    rlim_t want = fds_wanted(), got;
    long long fit = maxclients_fit(cfg.maxclients, cfg.admin_maxclients, &got);
    if (fit < cfg.maxclients) {
        if (fit == 0) {
            snprintf(err, errlen,
                     "Your current 'ulimit -n' of %llu is not enough for the server to start: "
                     "admin-maxclients %lld and %d reserved descriptors need more. Please "
                     "increase your open file limit to at least %llu",
                     (unsigned long long)got, cfg.admin_maxclients, FD_RESERVED,
                     (unsigned long long)want);
            return EX_CONFIG;
        }
        long long asked = cfg.maxclients;
        char v[32], e[128];
        snprintf(v, sizeof v, "%lld", fit);
        config_set_string(&config_options[CFG_OPT_maxclients], v, e, sizeof e);
        log_warn("You requested maxclients of %llu requiring at least %llu max file "
                 "descriptors. Current maximum open files is %llu. maxclients has been reduced "
                 "to %lld to compensate for low ulimit. If you need higher maxclients increase "
                 "'ulimit -n'.",
                 (unsigned long long)asked, (unsigned long long)want,
                 (unsigned long long)got, cfg.maxclients);
    }
    conn_obl_update();
    return 0;
}

void conn_obl_update(void)
{
    if (!config_parse_obl(cfg.client_output_buffer_limit, &obl))
        memset(&obl, 0, sizeof(obl));
    long long lim = obl.soft > 0 ? 2 * obl.soft : 8LL * CONN_OUT_HIGH;
    if (obl.hard > 0 && obl.hard < lim)
        lim = obl.hard;
    pause_at = lim > (long long)CONN_OUT_HIGH ? (size_t)lim : CONN_OUT_HIGH;
}

/*
 * Checks c's unsent output against client-output-buffer-limit; closes c
 * (with a log line) and returns false when it is over. Operator ports'
 * connections are exempt (their replies are bounded).
 */
static bool obl_check(struct conn *c, int64_t now_ms)
{
    if (!c->port->clients)
        return true;
    size_t pending = c->sess.reply.len - c->wpos;
    const char *why = NULL;
    if (obl.hard > 0 && pending > (size_t)obl.hard) {
        why = "hard";
    } else if (obl.soft > 0 && pending > (size_t)obl.soft) {
        if (c->obl_soft_since_ms == 0)
            c->obl_soft_since_ms = now_ms;
        else if (now_ms - c->obl_soft_since_ms >= obl.soft_seconds * 1000)
            why = "soft";
    } else {
        c->obl_soft_since_ms = 0;
    }
    if (why == NULL)
        return true;
    log_warn("Client id=%llu addr=%s closed for overcoming of output buffer limits "
             "(%s limit, %zu bytes pending)",
             (unsigned long long)c->sess.id, c->addr, why, pending);
    srv.stats.obl_disconnects++;
    /* Abortive close: the kernel drops what it still queues for the client
     * too, instead of trickling it to a reader that does not read. */
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    conn_close(c);
    return false;
}

/* Whether s (length n) is a dotted-quad in 127.0.0.0/8: digits only, so a
 * DNS name such as "127.example.com" does not pass. */
static bool ipv4_loopback(const char *s, size_t n)
{
    if (n < 7 || n > 15 || memcmp(s, "127.", 4) != 0)
        return false;
    int dots = 0, digits = 0;
    for (size_t i = 4; i < n; i++) {
        if (s[i] == '.') {
            if (digits == 0)
                return false;
            dots++;
            digits = 0;
        } else if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
            digits++;
        } else {
            return false;
        }
    }
    return dots == 2 && digits > 0;
}

bool conn_host_is_loopback(const char *s, size_t n)
{
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n > 7 && strncasecmp(s, "::ffff:", 7) == 0)
        return ipv4_loopback(s + 7, n - 7);
    return (n == 9 && strncasecmp(s, "localhost", 9) == 0) || (n == 3 && memcmp(s, "::1", 3) == 0) ||
           ipv4_loopback(s, n);
}

/* A peer's "ip:port" (IPv6 as "[ip]:port") is loopback. */
static bool addr_is_loopback(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    size_t n = colon != NULL ? (size_t)(colon - addr) : strlen(addr);
    return conn_host_is_loopback(addr, n);
}

/* Redis's refusal for protected mode, as clients know it. */
static const char protected_msg[] =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers, you may adopt "
    "one of the following solutions: 1) Disable protected mode with 'CONFIG SET "
    "protected-mode no' from the loopback interface, after making sure the server is not "
    "reachable from the internet. 2) Set protected-mode no in the configuration file and "
    "restart the server. 3) If you started the server manually for testing, restart it with "
    "the '--protected-mode no' option. 4) Set up a password for the default user "
    "(requirepass). NOTE: You only need to do one of the above things in order for the "
    "server to start accepting connections from the outside.\r\n";

/* Writes msg, drains what the client sent (closing with unread input makes
 * the kernel send RST, which can destroy the message) and closes fd. */
static void refuse(int fd, const char *msg, size_t n)
{
    ssize_t w = write(fd, msg, n);
    (void)w;
    char sink[4096];
    for (int i = 0; i < 16 && read(fd, sink, sizeof(sink)) > 0; i++)
        ;
    close(fd);
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg);
static void conn_on_write(evutil_socket_t fd, short what, void *arg);
static void conn_process(struct conn *c);

size_t conn_count(void)
{
    return nconns;
}

size_t conn_admin_count(void)
{
    return nadmin;
}

struct conn *conn_first(void)
{
    return conn_head;
}

struct conn *conn_find_id(uint64_t id)
{
    for (struct conn *c = conn_head; c; c = c->next)
        if (c->sess.id == id && !c->dead)
            return c;
    return NULL;
}

static void reading_on(struct conn *c)
{
    if (!c->reading) {
        event_add(&c->rev, NULL);
        c->reading = true;
    }
}

static void reading_off(struct conn *c)
{
    if (c->reading) {
        event_del(&c->rev);
        c->reading = false;
    }
}

void conn_accept(int fd, bool is_unix, const struct conn_port *port, const char *addr,
                 const char *laddr)
{
    srv.stats.total_connections++;
    if ((port->clients ? nconns : nadmin) >= (size_t)*port->maxclients) {
        static const char msg[] = "-ERR max number of clients reached\r\n";
        refuse(fd, msg, sizeof(msg) - 1);
        (*port->rejected)++;
        log_verbose("Rejected %s: max number of clients reached (%lld)", addr, *port->maxclients);
        return;
    }
    if (port->clients && !is_unix && cfg.protected_mode && cfg.requirepass[0] == '\0' &&
        !addr_is_loopback(addr)) {
        refuse(fd, protected_msg, sizeof(protected_msg) - 1);
        srv.stats.rejected_connections++;
        srv.stats.protected_denials++;
        log_verbose("Refused client %s: protected mode, no password set", addr);
        return;
    }
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        log_warn("Out of memory accepting a client from %s", addr);
        return;
    }
    c->fd = fd;
    c->is_unix = is_unix;
    reply_init(&c->sess.reply);
    c->sess.reply.resp = 2;
    c->sess.id = next_id++;
    c->port = port;
    c->sess.need_auth = port->password != NULL && (*port->password)[0] != '\0';
    c->sess.reply.no_errorstats = !port->clients;   /* INFO errorstats is the clients' */
    c->sess.owner = c;
    c->sess.port = port->commands;
    request_init(&c->req);
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    snprintf(c->laddr, sizeof(c->laddr), "%s", laddr);
    c->ctime_ms = c->last_ms = server_now_ms();
    event_assign(&c->rev, srv.base, fd, EV_READ | EV_PERSIST, conn_on_read, c);
    event_assign(&c->wev, srv.base, fd, EV_WRITE | EV_PERSIST, conn_on_write, c);
    reading_on(c);

    conn_list_append(&conn_head, &conn_tail, c);
    if (port->clients)
        nconns++;
    else
        nadmin++;
    log_verbose("Accepted %s (id %llu)", addr, (unsigned long long)c->sess.id);
}

static void conn_free(struct conn *c)
{
    reading_off(c);
    if (c->writing) {
        event_del(&c->wev);
        c->writing = false;
    }
    close(c->fd);
    conn_list_unlink(&conn_head, &conn_tail, c);
    if (c->port->clients)
        nconns--;
    else
        nadmin--;
    request_deinit(&c->req);
    session_deinit(&c->sess);
    reply_deinit(&c->sess.reply);
    free(c->qbuf);
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    free(c);
}

void conn_close(struct conn *c)
{
    if (c->dead)
        return;
    log_verbose("Client closed connection id=%llu addr=%s", (unsigned long long)c->sess.id,
                c->addr);
    if (c->in_process) {
        c->dead = true;
        reading_off(c);
        return;
    }
    conn_free(c);
}

void conn_close_all(void)
{
    while (conn_head)
        conn_free(conn_head);
}

void conn_auth_all(const struct conn_port *port)
{
    for (struct conn *c = conn_head; c; c = c->next)
        if (c->port == port)
            c->sess.need_auth = false;
}

/*
 * Writes pending output. Returns false if the connection was closed.
 * On EAGAIN registers EV_WRITE; once drained, unregisters it.
 */
static bool conn_flush(struct conn *c)
{
    struct reply *r = &c->sess.reply;
    if (r->oom) {
        log_warn("Closing client %s: out of memory building its reply", c->addr);
        conn_close(c);
        return false;
    }
    if (c->wpos < r->len)
        srv.stats.writes_processed++;
    while (c->wpos < r->len) {
        ssize_t n = write(c->fd, r->buf + c->wpos, r->len - c->wpos);
        if (n > 0) {
            c->wpos += (size_t)n;
            srv.stats.net_output_bytes += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!obl_check(c, server_clock_ms()))
                return false;
            if (!c->writing) {
                event_add(&c->wev, NULL);
                c->writing = true;
            }
            return true;
        }
        log_verbose("Error writing to client %s: %s", c->addr, strerror(errno));
        conn_close(c);
        return false;
    }
    reply_clear(r);
    c->wpos = 0;
    if (c->writing) {
        event_del(&c->wev);
        c->writing = false;
    }
    if (c->sess.close_after_reply) {
        conn_close(c);
        return false;
    }
    return true;
}

/* Runs the parsed request through the port, then drops its reply if the
 * client asked not to get it (CLIENT REPLY OFF/SKIP). */
static void conn_run(struct conn *c)
{
    struct reply *r = &c->sess.reply;
    size_t mark = r->len;
    bool skip = c->skip_next;
    c->skip_next = false;
    c->port->run(c);
    if (skip || c->reply_off || c->suppress_this) {
        r->len = mark;   /* CLIENT REPLY OFF/SKIP: drop what this command wrote */
        c->suppress_this = false;
    }
}

/* Makes room for at least `want` bytes of input in total. */
static bool qbuf_reserve(struct conn *c, size_t want)
{
    if (want <= c->qcap)
        return true;
    size_t cap = c->qcap ? c->qcap * 2 : QBUF_MIN;
    if (cap < want)
        cap = want + QBUF_MIN;   /* a big bulk: its size plus room for what follows */
    char *n = realloc(c->qbuf, cap);
    if (n == NULL)
        return false;
    c->qbuf = n;
    c->qcap = cap;
    return true;
}

/*
 * Parses and runs every complete request in the buffer, then writes the
 * replies. Repeats while backpressure paused it and the output drained at
 * once. Frees the connection if it died on the way.
 */
static void conn_process(struct conn *c)
{
    struct resp_limits lim = {.max_bulk = (uint64_t)cfg.proto_max_bulk_len};
    uint64_t errors_before = c->sess.reply.nerrors;
    c->in_process = true;

    for (;;) {
        size_t pos = 0;
        bool unfin = false;
        c->paused = false;
        while (pos < c->qlen && !c->dead && !c->sess.close_after_reply) {
            if (c->sess.reply.len - c->wpos > pause_at) {
                c->paused = true;
                break;
            }
            if (c->port->http_detect != NULL && !c->spoke) {
                /* The port speaks HTTP too: the first bytes tell. */
                int h = c->port->http_detect(c->qbuf + pos, c->qlen - pos);
                if (h < 0) {
                    unfin = true;   /* too few bytes to tell */
                    break;
                }
                c->http = h > 0;
                c->spoke = true;
            }
            if (c->http) {
                size_t hu = c->port->http_serve(c, c->qbuf + pos, c->qlen - pos);
                if (hu == 0) {
                    unfin = true;   /* the headers are not complete yet */
                    break;
                }
                pos = c->qlen;   /* one request per connection (Connection: close) */
                break;
            }
            size_t used = 0;
            parse_rstatus_e st = resp_parse(&c->req, c->qbuf + pos, c->qlen - pos, &lim, &used);
            if (st == PARSE_OK) {
                if (c->port->hold != NULL && c->port->hold(c)) {
                    c->held = true;   /* CLIENT PAUSE: parsed again once it ends */
                    break;
                }
                pos += used;
                conn_run(c);   /* the parser has already reset itself */
            } else if (st == PARSE_EMPTY) {
                pos += used;
            } else if (st == PARSE_UNFIN) {
                unfin = true;
                break;
            } else {
                /* Protocol error: reply, then close once the reply is out. */
                const char *err = c->req.err ? c->req.err : "ERR Protocol error";
                log_verbose("Protocol error from client %s: %s", c->addr, err);
                reply_error(&c->sess.reply, err);
                c->sess.close_after_reply = true;
                request_reset(&c->req);
                pos = c->qlen;
                break;
            }
        }
        if (c->dead)
            break;

        /* Keep the unparsed tail at the start of the buffer. */
        if (pos > 0) {
            c->qlen -= pos;
            if (c->qlen > 0)
                memmove(c->qbuf, c->qbuf + pos, c->qlen);
        }
        if (c->qlen == 0 && c->qcap > QBUF_KEEP) {
            free(c->qbuf);
            c->qbuf = NULL;
            c->qcap = 0;
        }
        if (unfin) {
            size_t need = c->req.need;
            if (c->qlen > (size_t)cfg.client_query_buffer_limit ||
                need > (size_t)cfg.client_query_buffer_limit) {
                log_warn("Closing client %s: query buffer would exceed client-query-buffer-limit",
                         c->addr);
                conn_close(c);
                break;
            }
            /* Size the buffer for a big bulk once, not by repeated doubling. */
            if (need > c->qcap && !qbuf_reserve(c, need)) {
                log_warn("Closing client %s: out of memory for its query buffer", c->addr);
                conn_close(c);
                break;
            }
        }

        if (!conn_flush(c))
            break;
        if (c->paused && c->sess.reply.len - c->wpos <= pause_at && c->qlen > 0)
            continue;   /* the socket took enough: keep going */
        break;
    }

    c->in_process = false;
    if (c->port->error_replies != NULL)
        *c->port->error_replies += c->sess.reply.nerrors - errors_before;
    if (c->dead) {
        conn_free(c);
        return;
    }
    if (c->sess.close_after_reply || c->paused)
        reading_off(c);   /* closing, or waiting for the output to drain */
    else
        reading_on(c);
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (c->qcap - c->qlen < QBUF_MIN && !qbuf_reserve(c, c->qlen + QBUF_MIN)) {
        log_warn("Closing client %s: out of memory for its query buffer", c->addr);
        conn_close(c);
        return;
    }
    ssize_t n = read(fd, c->qbuf + c->qlen, c->qcap - c->qlen);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n < 0)
            log_verbose("Reading from client %s: %s", c->addr, strerror(errno));
        conn_close(c);
        return;
    }
    c->qlen += (size_t)n;
    srv.stats.net_input_bytes += (uint64_t)n;
    srv.stats.reads_processed++;
    server_clock_read();   /* the batch's clock: commands chain from it */
    c->last_ms = server_clock_ms();
    conn_process(c);
}

static void conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    c->in_process = true;
    bool alive = conn_flush(c);
    c->in_process = false;
    if (c->dead) {
        conn_free(c);
        return;
    }
    if (!alive)
        return;
    server_clock_read();
    c->last_ms = server_clock_ms();
    if (!c->writing && c->paused) {
        /* Drained: resume the requests that backpressure held back. */
        conn_process(c);
    }
}

void conn_cron(int64_t now_ms)
{
    int64_t idle_limit = cfg.timeout > 0 ? cfg.timeout * 1000 : 0;
    struct conn *next;
    for (struct conn *c = conn_head; c; c = next) {
        next = c->next;
        int64_t idle = now_ms - c->last_ms;
        /* A client waiting for its output to drain is not idle by Redis's
         * rules either, so only clients with nothing pending time out. */
        if (idle_limit > 0 && idle > idle_limit && !c->writing) {
            log_verbose("Closing idle client id=%llu addr=%s", (unsigned long long)c->sess.id,
                        c->addr);
            conn_free(c);
            continue;
        }
        if (c->port->auth_timeout != NULL && idle > *c->port->auth_timeout * 1000 &&
            (c->sess.need_auth || !c->spoke)) {
            log_verbose("Closing %s: no authentication within %llds", c->addr,
                        *c->port->auth_timeout);
            conn_free(c);
            continue;
        }
        if ((c->writing || c->paused) && !obl_check(c, now_ms))
            continue;
        if (c->qlen == 0 && c->qbuf != NULL && idle > QBUF_IDLE_MS) {
            free(c->qbuf);
            c->qbuf = NULL;
            c->qcap = 0;
        }
    }
}

void conn_want_write(struct conn *c)
{
    if (!c->in_process && !c->writing && !c->dead) {
        event_add(&c->wev, NULL);
        c->writing = true;
    }
}

void conn_resume_held(void)
{
    /* A resumed client may close any other (CLIENT KILL): the next one is
     * pinned (in_process) so that closing it only marks it dead. */
    struct conn *c = conn_head;
    while (c != NULL) {
        struct conn *next = c->next;
        if (!c->held || c->dead || c->in_process) {
            c = next;
            continue;
        }
        c->held = false;
        bool pin = next != NULL && !next->in_process;
        if (pin)
            next->in_process = true;
        server_clock_read();
        conn_process(c);
        if (pin) {
            next->in_process = false;
            if (next->dead) {
                struct conn *after = next->next;
                conn_free(next);
                next = after;
            } else if (next->sess.reply.len > next->wpos) {
                conn_want_write(next);   /* MONITOR output added while pinned */
            }
        }
        c = next;
    }
}

void conn_describe(const struct conn *c, char *buf, size_t len)
{
    int64_t now = server_now_ms();
    const char *cmd = c->last_cmd ? command_fullname(c->last_cmd) : "NULL";
    size_t omem = c->sess.reply.len - c->wpos;
    /* Redis 7.0's letters, in its order; N when none applies */
    char flags[8], *f = flags;
    if (c->monitor)
        *f++ = 'O';
    if (c->sess.tx.active)
        *f++ = 'x';
    if (c->held)
        *f++ = 'b';
    if (c->sess.tx.dirty)
        *f++ = 'd';
    if (c->sess.close_after_reply)
        *f++ = 'c';
    if (c->is_unix)
        *f++ = 'U';
    if (c->no_evict)
        *f++ = 'e';
    if (f == flags)
        *f++ = 'N';
    *f = '\0';
    long long multi = c->sess.tx.active ? (long long)c->sess.tx.nqueued : -1;
    snprintf(buf, len,
             "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=0 sub=0 "
             "psub=0 ssub=0 multi=%lld qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 rbs=%zu "
             "rbp=%zu obl=%zu oll=0 omem=%zu tot-mem=%zu events=%s%s cmd=%s user=default "
             "redir=-1 resp=%d lib-name=%s lib-ver=%s\n",
             (unsigned long long)c->sess.id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
             (long long)((now - c->ctime_ms) / 1000), (long long)((now - c->last_ms) / 1000),
             flags, multi, c->qlen, c->qcap - c->qlen, c->sess.reply.cap,
             c->sess.reply.len, c->sess.reply.len, omem,
             sizeof(*c) + c->qcap + c->sess.reply.cap, c->reading ? "r" : "",
             c->writing ? "w" : "", cmd, c->sess.reply.resp, c->lib_name ? c->lib_name : "",
             c->lib_ver ? c->lib_ver : "");
}

size_t conn_buffer_bytes(void)
{
    size_t n = 0;
    for (struct conn *c = conn_head; c; c = c->next)
        if (c->port->clients)
            n += c->qcap + c->sess.reply.cap;
    return n;
}

void conn_buffer_peaks(size_t *qbuf_max, size_t *obuf_max)
{
    size_t q = 0, o = 0;
    for (struct conn *c = conn_head; c; c = c->next) {
        if (c->qcap > q)
            q = c->qcap;
        if (c->sess.reply.len - c->wpos > o)
            o = c->sess.reply.len - c->wpos;
    }
    *qbuf_max = q;
    *obuf_max = o;
}
