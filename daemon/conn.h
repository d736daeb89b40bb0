/*
 * conn: one client connection on raw libevent events.
 *
 * Input is read into a growable query buffer; every complete request in it
 * is parsed and dispatched in one go (pipelining) and the replies collect in
 * the session's reply buffer, which is written with one write() at the end
 * of the batch. Only when the socket would block is EV_WRITE registered, and
 * while more than CONN_OUT_HIGH bytes are unsent the connection stops
 * parsing and reading (backpressure) until its output drains.
 *
 * Invariants: the query buffer always starts at the first byte of an
 * unparsed request (the parser's resume offsets depend on it); reply.buf
 * bytes before wpos are already sent.
 */
#pragma once

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/command.h"
#include "proto/resp.h"

#define CONN_OUT_HIGH (1u << 20)   /* unsent bytes that pause parsing */

struct conn;

/*
 * What the connections of one listening port do. The port's owner
 * (dataport.c, admin.c) hands it to the listener, which hands it to
 * conn_accept with every connection, so this file runs any port's
 * connections without knowing what they are for.
 */
struct conn_port {
    /* The rows of proto's command table its sessions run. */
    enum command_port commands;
    /* Runs the parsed request c->req (RESP). */
    void (*run)(struct conn *c);
    /* Whether c's parsed request must wait (CLIENT PAUSE); NULL: never.
     * conn_resume_held parses a held request again. */
    bool (*hold)(const struct conn *c);
    /* HTTP on the same port, recognised by a connection's first bytes;
     * NULL: RESP only. http_detect: 1 HTTP, 0 not, -1 too few bytes to
     * tell. http_serve: 0 while the request head is incomplete, else the
     * bytes consumed, after queueing the whole response and marking the
     * connection to close once it is sent. */
    int (*http_detect)(const char *buf, size_t len);
    size_t (*http_serve)(struct conn *c, const char *buf, size_t len);
    /* The option holding the password a new connection must AUTH with
     * first (none while it is empty). */
    char *const *password;
    /* A client port: maxclients, protected-mode and
     * client-output-buffer-limit apply, its connections are the clients
     * INFO, CLIENT LIST and CLIENT KILL see (conn_count), and its errors
     * count in INFO errorstats. Otherwise an operator's port, exempt from
     * all of that: counted by conn_admin_count, its errors by
     * *error_replies. */
    bool clients;
    uint64_t *error_replies;
    /* The option capping the port's open connections (maxclients,
     * admin-maxclients); each port is counted apart, so a flood of one
     * cannot take the other's slots. */
    const long long *maxclients;
    /* Connections past it are refused: counted here, logged (rate-limited)
     * under this name. */
    uint64_t *rejected;
    /* An option in seconds: a connection idle that long that has not
     * authenticated (or, with no password, not sent a byte) is closed.
     * NULL: none. */
    const long long *auth_timeout;
    /* Appended to the "Listening on <address>" log line. */
    const char *listen_note;
};

struct conn {
    struct session sess;       /* sess.owner points back here */
    int fd;
    bool is_unix;
    struct event rev;
    struct event wev;
    bool reading;              /* rev is added */
    bool writing;              /* wev is added */
    bool paused;               /* stopped parsing for backpressure */
    bool in_process;           /* inside conn_process (closing is deferred) */
    bool dead;                 /* closed while in_process; freed on the way out */

    char *qbuf;                /* unparsed input, starting at a request boundary */
    size_t qlen;
    size_t qcap;
    struct request req;
    size_t wpos;               /* reply bytes already written */

    struct conn *prev, *next;  /* the client list, oldest first */

    int64_t ctime_ms;          /* connected at */
    int64_t last_ms;           /* last input or command */
    char addr[64];             /* peer, "ip:port" / "[ip6]:port" / "path:0" */
    char laddr[64];            /* local end */
    char *name;                /* CLIENT SETNAME, NULL if none */
    char *lib_name;            /* CLIENT SETINFO */
    char *lib_ver;
    const struct command *last_cmd;   /* row last run (a subcommand row for CLIENT LIST etc.) */
    bool reply_off;            /* CLIENT REPLY OFF */
    bool skip_next;            /* CLIENT REPLY SKIP: drop the next command's reply */
    bool suppress_this;        /* drop the reply of the command running now */
    bool no_evict;
    bool monitor;              /* MONITOR: receives every command others run */
    bool held;                 /* CLIENT PAUSE holds its next request */
    const struct conn_port *port;   /* what this connection does */
    bool http;                 /* the input is an HTTP request (a port with HTTP) */
    bool spoke;                /* some input was parsed (HTTP is recognised only first) */
    int64_t obl_soft_since_ms; /* pending output above the soft limit since (0: not) */
};

/* Takes ownership of an accepted, nonblocking socket of port (which must
 * stay valid while connections use it). */
void conn_accept(int fd, bool is_unix, const struct conn_port *port, const char *addr,
                 const char *laddr);

/* At start-up: raises the open files limit toward what maxclients and
 * admin-maxclients need, lowers maxclients to fit a hard limit below that
 * (logged), and applies client-output-buffer-limit. Returns 0, or an exit
 * code with err set when the limit leaves no room for a client. */
int conn_setup(char *err, size_t errlen);
/* maxclients or admin-maxclients changed: raises the open files limit to
 * fit, as far as the hard limit allows (logs if it cannot). */
void conn_fd_limit(void);

/* Applies client-output-buffer-limit: at start-up, before the first
 * connection, and after a change of the option. */
void conn_obl_update(void);

/* Closes the connection now (or, while it is being processed, as soon as the
 * current command returns). Its pending output is dropped. */
void conn_close(struct conn *c);
void conn_close_all(void);

/* Open connections on client ports (INFO connected_clients, maxclients),
 * and on operator ports (the admin port, counted apart: STATS and
 * /metrics). */
size_t conn_count(void);
size_t conn_admin_count(void);
struct conn *conn_first(void);   /* iterate with c->next */
struct conn *conn_find_id(uint64_t id);

/* Housekeeping once per second: idle timeout, freeing idle query buffers. */
void conn_cron(int64_t now_ms);

/* CONFIG SET requirepass "": port's unauthenticated connections become
 * authenticated. */
void conn_auth_all(const struct conn_port *port);

/* One CLIENT LIST line (with the trailing newline) into buf. */
void conn_describe(const struct conn *c, char *buf, size_t len);

/* Output was appended to c's reply outside its own processing (MONITOR):
 * makes sure it gets written. */
void conn_want_write(struct conn *c);
/* Runs the requests CLIENT PAUSE held back (call from a timer, never from
 * inside a command). */
void conn_resume_held(void);

/* Bytes the clients' query and output buffers hold (INFO mem_clients_normal). */
size_t conn_buffer_bytes(void);
/* Largest query/output buffers now, for INFO clients. */
void conn_buffer_peaks(size_t *qbuf_max, size_t *obuf_max);

/* Whether host s (length n, not NUL-terminated) names this machine's
 * loopback: "localhost", ::1, a dotted quad in 127.0.0.0/8 or its
 * IPv4-mapped ::ffff: form, each bare or in brackets. The one test behind
 * protected mode, admin-bind's check and the admin HTTP Host check. */
bool conn_host_is_loopback(const char *s, size_t n);

static inline struct conn *conn_of(struct session *s)
{
    return (struct conn *)s->owner;
}
