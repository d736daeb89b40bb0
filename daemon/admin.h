/*
 * admin: the admin port, a second listener for operators (issue 4 §4).
 *
 * It speaks RESP, through the same connection machinery and parser as the
 * data port, but runs only its own small command table (AUTH, PING,
 * COMPACT, ARENAS, PINNERS, STATS, CONFIG, PURGE, SHUTDOWN, HELP): data
 * commands are unknown there, and admin commands are unknown on the data
 * port. A connection whose first bytes are an HTTP method ("GET ", "POST",
 * "HEAD") is served as one HTTP/1.x request and closed; GET /metrics is
 * the Prometheus text exposition of the server's figures, GET / the live
 * dashboard (daemon/dashboard.h).
 *
 * With admin-password set, everything but AUTH (and QUIT) answers NOAUTH
 * until AUTH succeeds, and HTTP needs "Authorization: Bearer <password>"
 * or Basic credentials whose password matches (any user name); both
 * compare in constant time. admin-bind must be a loopback address unless
 * admin-password is set (admin_setup refuses to start otherwise).
 *
 * Against DNS rebinding, an HTTP request is served only when its Host is a
 * loopback name or address (localhost, 127.0.0.0/8, [::1]) or the
 * admin-bind address, each with or without a port, or when it carries the
 * admin password; otherwise 403. An HTTP/1.0 request without Host passes
 * only on a loopback admin-bind.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct conn;

/* Checks the admin options together (a non-loopback admin-bind needs
 * admin-password); false with a message in err if they do not fit. */
bool admin_config_check(char *err, size_t errlen);

/* Opens the admin listener (admin-port 0: nothing). Returns 0 or a sysexits
 * code after writing a message to err. */
int admin_setup(char *err, size_t errlen);
void admin_teardown(void);

/* Runs the parsed request c->req of an admin connection (RESP). */
void admin_run(struct conn *c);

/* 1 if buf starts an HTTP request, 0 if not, -1 if too few bytes to tell. */
int admin_http_detect(const char *buf, size_t len);

/*
 * Serves one HTTP request from buf: returns 0 while its head (request line
 * and headers) is incomplete, else the bytes consumed, after putting the
 * whole response in c's reply and marking c to close once it is sent.
 */
size_t admin_http(struct conn *c, const char *buf, size_t len);

/*
 * HTTP routes: a handler fills the response body and its content type and
 * returns the status code (200, 404, ...). Routes match the path exactly
 * (without the query string) for GET and HEAD. /metrics is built in; a
 * dashboard at "/" can be added with admin_http_route("/", fn) before the
 * loop runs. Returns false if the table is full or the path is taken.
 */
struct admin_http_body {
    char *p;                 /* malloc'd, or NULL when empty */
    size_t len, cap;
    const char *content_type;
    const char *headers;     /* extra header lines, each ending in "\r\n", or NULL */
};
void admin_body_printf(struct admin_http_body *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
typedef int (*admin_http_fn)(const char *path, const char *query, struct admin_http_body *out);
bool admin_http_route(const char *path, admin_http_fn fn);

/*
 * Routes with flags (the dashboard's, daemon/dashboard.c). The handler gets
 * the whole request; the admin port still checks the password first unless
 * the route is ADMIN_HTTP_PUBLIC. A POST route takes POST only, reads its
 * body by Content-Length (none: empty; at most ADMIN_HTTP_BODY_MAX bytes,
 * else 413; chunked bodies get 411) and refuses a browser Origin other
 * than its own Host (403), so that another web site cannot post to it from
 * an operator's browser.
 */
#define ADMIN_HTTP_PUBLIC   0x1u   /* no password needed: static content only */
#define ADMIN_HTTP_POST     0x2u   /* POST instead of GET/HEAD */
#define ADMIN_HTTP_JSON     0x4u   /* the port's own errors (401, 405, ...) are {"error": "..."} */
#define ADMIN_HTTP_BODY_MAX 8192
struct admin_http_req {
    const char *method;      /* "GET", "HEAD" or "POST" */
    const char *path, *query;
    const char *body;        /* the request body (POST), not NUL-terminated */
    size_t body_len;
    const char *addr;        /* the peer, for log lines */
};
typedef int (*admin_http_req_fn)(const struct admin_http_req *req, struct admin_http_body *out);
bool admin_http_route_ex(const char *path, unsigned flags, admin_http_req_fn fn);
