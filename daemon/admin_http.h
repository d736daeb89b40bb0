/*
 * admin_http: the HTTP side of the admin port.
 *
 * A connection whose first bytes are an HTTP method is served as one
 * HTTP/1.x request and closed. With admin-password set, HTTP needs
 * "Authorization: Bearer <password>" or Basic credentials whose password
 * matches (any user name); both compare in constant time.
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
 * (without the query string) for GET and HEAD; routes are added before the
 * loop runs (/metrics by admin_metrics.c, the dashboard's by dashboard.c).
 * Returns false if the table is full or the path is taken.
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

/* Forgets every route (the admin port's setup and teardown). */
void admin_http_clear_routes(void);
