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
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/introspect.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "keyspace/keyspace.h"

#define QBUF_MIN      (16u * 1024)       /* read at least this much per read() */
#define QBUF_KEEP     (64u * 1024)       /* larger empty buffers are freed after a batch */
#define QBUF_IDLE_MS  2000               /* empty buffers of idle clients are freed */

static struct conn *conn_head, *conn_tail;
static size_t nconns;
static uint64_t next_id = 1;

static void conn_on_read(evutil_socket_t fd, short what, void *arg);
static void conn_on_write(evutil_socket_t fd, short what, void *arg);
static void conn_process(struct conn *c);

size_t conn_count(void)
{
    return nconns;
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

void conn_accept(int fd, bool is_unix, const char *addr, const char *laddr)
{
    srv.stats.total_connections++;
    if (nconns >= (size_t)cfg.maxclients) {
        static const char msg[] = "-ERR max number of clients reached\r\n";
        ssize_t w = write(fd, msg, sizeof(msg) - 1);
        (void)w;
        /* Discard what the client already sent: closing with unread input
         * makes the kernel send RST, which can destroy the error reply. */
        char sink[4096];
        for (int i = 0; i < 16 && read(fd, sink, sizeof(sink)) > 0; i++)
            ;
        close(fd);
        srv.stats.rejected_connections++;
        log_verbose("Rejected client %s: max number of clients reached", addr);
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
    c->sess.need_auth = cfg.requirepass[0] != '\0';
    c->sess.owner = c;
    request_init(&c->req);
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    snprintf(c->laddr, sizeof(c->laddr), "%s", laddr);
    c->ctime_ms = c->last_ms = server_now_ms();
    event_assign(&c->rev, srv.base, fd, EV_READ | EV_PERSIST, conn_on_read, c);
    event_assign(&c->wev, srv.base, fd, EV_WRITE | EV_PERSIST, conn_on_write, c);
    reading_on(c);

    c->prev = conn_tail;
    if (conn_tail)
        conn_tail->next = c;
    else
        conn_head = c;
    conn_tail = c;
    nconns++;
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
    if (c->prev)
        c->prev->next = c->next;
    else
        conn_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        conn_tail = c->prev;
    nconns--;
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

void conn_auth_all(void)
{
    for (struct conn *c = conn_head; c; c = c->next)
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

static void conn_run(struct conn *c)
{
    struct reply *r = &c->sess.reply;
    size_t mark = r->len;
    bool skip = c->skip_next;
    c->skip_next = false;

    ks_clock_update();
    if (cfg.maxmemory > 0 && !c->sess.need_auth && c->req.argc > 0 &&
        !server_enforce_maxmemory()) {
        /* Still over the limit after eviction: refuse what would add data,
         * serve everything else (Redis's rule). */
        const struct command *dc = command_lookup(c->req.argv[0].p, c->req.argv[0].len);
        bool exec = dc != NULL && strcmp(dc->name, "exec") == 0;
        if (dc != NULL && ((dc->flags & CMD_DENYOOM) ||
                           (exec && (session_tx_flags(&c->sess) & CMD_DENYOOM)))) {
            command_reject(&c->sess, dc, ERR_OOM);
            goto out;
        }
    }
    if (introspect_refuse(c))
        goto out;   /* a MONITOR client touching keys */
    const struct command *cmd = command_dispatch(&c->sess, c->req.argc, c->req.argv);
    if (cmd != NULL) {
        srv.stats.total_commands++;
        c->last_cmd = cmd;
    }
out:
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
    c->in_process = true;

    for (;;) {
        size_t pos = 0;
        bool unfin = false;
        c->paused = false;
        while (pos < c->qlen && !c->dead && !c->sess.close_after_reply) {
            if (c->sess.reply.len - c->wpos > CONN_OUT_HIGH) {
                c->paused = true;
                break;
            }
            size_t used = 0;
            parse_rstatus_e st = resp_parse(&c->req, c->qbuf + pos, c->qlen - pos, &lim, &used);
            if (st == PARSE_OK) {
                if (introspect_hold(c)) {
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
        if (c->paused && !c->writing && c->qlen > 0)
            continue;   /* drained at once: keep going */
        break;
    }

    c->in_process = false;
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
    c->last_ms = server_now_ms();
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
    c->last_ms = server_now_ms();
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
