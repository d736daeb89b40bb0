/*
 * admin_http: the admin port's HTTP/1.x side (see admin_http.h): one
 * request per connection, answered and closed. The request head is parsed
 * in place from the connection's query buffer; the response is built in
 * one text buffer and queued as raw bytes on the connection's reply, so it
 * leaves through the same write path as RESP replies.
 */
#include "daemon/admin_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "proto/text.h"
#include "proto/reply.h"

#define HTTP_HEAD_MAX   16384   /* a request head larger than this gets 431 */
#define HTTP_ROUTES_MAX 16

void admin_body_printf(struct admin_http_body *b, const char *fmt, ...)
{
    struct text t = {b->p, b->len, b->cap, false};
    va_list ap;
    va_start(ap, fmt);
    text_vprintf(&t, fmt, ap);
    va_end(ap);
    b->p = t.p;
    b->len = t.len;
    b->cap = t.cap;
}


struct http_route {
    const char *path;
    admin_http_fn fn;        /* either this (GET/HEAD, flags 0) */
    admin_http_req_fn fn_ex; /* or this, with flags */
    unsigned flags;
};
static struct http_route routes[HTTP_ROUTES_MAX];
static size_t nroutes;

static bool route_add(struct http_route r)
{
    if (nroutes == HTTP_ROUTES_MAX)
        return false;
    for (size_t i = 0; i < nroutes; i++)
        if (strcmp(routes[i].path, r.path) == 0)
            return false;
    routes[nroutes++] = r;
    return true;
}

bool admin_http_route(const char *path, admin_http_fn fn)
{
    return route_add((struct http_route){path, fn, NULL, 0});
}

bool admin_http_route_ex(const char *path, unsigned flags, admin_http_req_fn fn)
{
    return route_add((struct http_route){path, NULL, fn, flags});
}

int admin_http_detect(const char *buf, size_t len)
{
    static const char *const methods[] = {"GET ", "POST", "HEAD"};
    size_t n = len < 4 ? len : 4;
    bool prefix = false;
    for (size_t i = 0; i < 3; i++) {
        if (memcmp(buf, methods[i], n) == 0) {
            if (n == 4)
                return 1;
            prefix = true;
        }
    }
    return prefix ? -1 : 0;
}

void admin_http_clear_routes(void)
{
    nroutes = 0;
}

static const char *reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
    }
}

/* flags: the route's (ADMIN_HTTP_JSON: the port's own errors as JSON, and a
 * 401 that challenges only for Bearer, so a browser's fetch() gets the
 * error instead of a login dialog). */
static void http_respond(struct conn *c, int code, bool head_only, unsigned flags,
                         struct admin_http_body *b)
{
    struct text t = {0};
    if (b->len == 0 && code != 200) {
        if (flags & ADMIN_HTTP_JSON) {
            b->content_type = "application/json";
            admin_body_printf(b, "{\"error\":\"%s\",\"status\":%d}\n",
                              code == 401 ? "unauthorized: wrong or missing admin password"
                                          : reason(code), code);
        } else {
            admin_body_printf(b, "%d %s\n", code, reason(code));
        }
    }
    text_printf(&t,
                "HTTP/1.1 %d %s\r\n"
                "Server: compactd/%s\r\n"
                "Content-Type: %s\r\n"
                "Content-Length: %zu\r\n"
                "Connection: close\r\n"
                "%s%s"
                "\r\n",
                code, reason(code), COMPACTD_VERSION,
                b->content_type ? b->content_type : "text/plain; charset=utf-8", b->len,
                code == 401 ? (flags & ADMIN_HTTP_JSON
                                   ? "WWW-Authenticate: Bearer realm=\"compactd admin\"\r\n"
                                   : "WWW-Authenticate: Basic realm=\"compactd admin\", "
                                     "Bearer realm=\"compactd admin\"\r\n")
                : code == 405 ? (flags & ADMIN_HTTP_POST ? "Allow: POST\r\n" : "Allow: GET, HEAD\r\n")
                              : "",
                b->headers ? b->headers : "");
    if (!head_only && b->len > 0)
        text_printf(&t, "%.*s", (int)b->len, b->p);
    if (t.oom)
        c->sess.close_after_reply = true;
    else
        reply_raw(&c->sess.reply, t.p, t.len);
    free(t.p);
    free(b->p);
    c->sess.close_after_reply = true;
}

static int b64val(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

/* Decodes base64 (padding optional) into out; returns the length or -1. */
static long b64_decode(const char *in, size_t n, char *out, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '=')
            break;
        int v = b64val(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    return (long)o;
}

/* Whether the Authorization header value grants access. */
static bool http_authorized(const char *v, size_t n)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n > 7 && strncasecmp(v, "Bearer ", 7) == 0)
        return config_secret_eq(cfg.admin_password, v + 7, n - 7);
    if (n > 6 && strncasecmp(v, "Basic ", 6) == 0) {
        char dec[1024];
        long dl = b64_decode(v + 6, n - 6, dec, sizeof(dec));
        if (dl < 0)
            return false;
        char *colon = memchr(dec, ':', (size_t)dl);
        if (colon == NULL)
            return false;
        size_t pl = (size_t)(dec + dl - (colon + 1));
        return config_secret_eq(cfg.admin_password, colon + 1, pl);
    }
    return false;
}

/* The value of header line h (length hl) if its name is name, else NULL. */
static const char *header_value(const char *h, size_t hl, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    if (hl <= nl || strncasecmp(h, name, nl) != 0 || h[nl] != ':')
        return NULL;
    const char *v = h + nl + 1;
    size_t n = hl - nl - 1;
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    *vlen = n;
    return v;
}

/* Whether Origin (a browser's "scheme://host[:port]") names Host. */
static bool origin_is_host(const char *o, size_t ol, const char *host, size_t hl)
{
    const char *sep = ol > 3 ? memmem(o, ol, "://", 3) : NULL;
    if (sep == NULL || hl == 0)
        return false;
    size_t off = (size_t)(sep + 3 - o);
    return ol - off == hl && strncasecmp(sep + 3, host, hl) == 0;
}

/*
 * Whether a Host header value names this server in a way a DNS-rebinding
 * page cannot produce: a loopback name or address, or the admin-bind
 * address itself (each with or without :port). A rebinding page's
 * requests carry the attacker's host name, so they fail this.
 */
static bool http_host_ok(const char *h, size_t n)
{
    /* split off ":port" (digits only); IPv6 literals come in brackets */
    const char *name = h;
    size_t nl = n;
    const char *colon = NULL;
    if (n > 0 && h[0] == '[') {
        const char *rb = memchr(h, ']', n);
        if (rb == NULL)
            return false;
        if ((size_t)(rb + 1 - h) < n) {
            if (rb[1] != ':')
                return false;
            colon = rb + 1;
        }
    } else {
        colon = memchr(h, ':', n);
    }
    if (colon != NULL) {
        for (const char *p = colon + 1; p < h + n; p++)
            if (*p < '0' || *p > '9')
                return false;
        nl = (size_t)(colon - h);
    }
    if (nl == 0)
        return false;
    if (conn_host_is_loopback(name, nl))
        return true;
    /* the admin-bind address: "::1"-style binds appear bracketed in Host */
    size_t bl = strlen(cfg.admin_bind);
    if (bl == 0)
        return false;
    if (name[0] == '[')
        return nl == bl + 2 && memchr(cfg.admin_bind, ':', bl) != NULL &&
               strncasecmp(name + 1, cfg.admin_bind, bl) == 0;
    return nl == bl && strncasecmp(name, cfg.admin_bind, bl) == 0;
}

/* Whether admin-bind is a loopback address (an HTTP/1.0 request without
 * Host can only come from this machine then). */
static bool bind_is_loopback(void)
{
    return conn_host_is_loopback(cfg.admin_bind, strlen(cfg.admin_bind));
}

size_t admin_http(struct conn *c, const char *buf, size_t len)
{
    /* the head ends at the first empty line */
    const char *end = NULL;
    size_t hlen = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] == '\n' && buf[i + 1] == '\n') {
            end = buf + i;
            hlen = i + 2;
            break;
        }
        if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            end = buf + i;
            hlen = i + 4;
            break;
        }
    }
    struct admin_http_body b = {0};
    if (end == NULL) {
        if (len > HTTP_HEAD_MAX) {
            http_respond(c, 431, false, 0, &b);
            return len;
        }
        return 0;
    }
    if (hlen > HTTP_HEAD_MAX) {
        http_respond(c, 431, false, 0, &b);
        return len;
    }

    /* request line: METHOD SP target SP HTTP/1.x */
    const char *eol = memchr(buf, '\n', (size_t)(end - buf) + 1);
    if (eol == NULL)
        eol = end;
    size_t llen = (size_t)(eol - buf);
    if (llen > 0 && buf[llen - 1] == '\r')
        llen--;
    char line[2048];
    if (llen >= sizeof(line)) {
        http_respond(c, 431, false, 0, &b);
        return len;
    }
    memcpy(line, buf, llen);
    line[llen] = '\0';
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        http_respond(c, sp2 && strncmp(sp2 + 1, "HTTP/", 5) == 0 ? 505 : 400, false, 0, &b);
        return len;
    }
    *sp1 = '\0';
    *sp2 = '\0';
    const char *method = line;
    char *target = sp1 + 1;
    bool head = strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    char *query = strchr(target, '?');
    if (query != NULL)
        *query++ = '\0';
    const struct http_route *route = NULL;
    for (size_t i = 0; i < nroutes; i++)
        if (strcmp(routes[i].path, target) == 0)
            route = &routes[i];
    unsigned flags = route ? route->flags : 0;

    /* headers: Authorization, and for a POST its length and origin */
    bool authorized = cfg.admin_password[0] == '\0';
    bool has_clen = false, bad_clen = false, chunked = false;   /* Content-Length seen, bad */
    bool dup_host = false;   /* more than one Host: RFC 9112 says 400, whichever we would pick */
    size_t clen = 0;
    const char *origin = NULL, *host = NULL;
    size_t origin_len = 0, host_len = 0;
    const char *h = eol + 1;
    while (h < end) {
        const char *hn = memchr(h, '\n', (size_t)(end - h) + 1);
        if (hn == NULL)
            hn = end;
        size_t hl = (size_t)(hn - h);
        if (hl > 0 && h[hl - 1] == '\r')
            hl--;
        const char *v;
        size_t vl;
        if ((v = header_value(h, hl, "Authorization", &vl)) != NULL) {
            if (!authorized)
                authorized = http_authorized(v, vl);
        } else if ((v = header_value(h, hl, "Content-Length", &vl)) != NULL) {
            size_t n = 0;
            bool ok = vl > 0 && vl <= 9;
            for (size_t i = 0; ok && i < vl; i++) {
                ok = v[i] >= '0' && v[i] <= '9';
                n = n * 10 + (size_t)(v[i] - '0');
            }
            if (!ok || (has_clen && n != clen))
                bad_clen = true;
            has_clen = true;
            clen = n;
        } else if (header_value(h, hl, "Transfer-Encoding", &vl) != NULL) {
            chunked = true;
        } else if ((v = header_value(h, hl, "Origin", &vl)) != NULL) {
            origin = v;
            origin_len = vl;
        } else if ((v = header_value(h, hl, "Host", &vl)) != NULL) {
            dup_host = dup_host || host != NULL;
            host = v;
            host_len = vl;
        }
        h = hn + 1;
    }

    /* a POST's body: bounded, and only by Content-Length (none: empty);
     * a chunked one is refused rather than parsed */
    const char *body = NULL;
    if (dup_host) {
        srv.stats.admin_commands++;
        http_respond(c, 400, head, flags, &b);
        return len;
    }
    if (post) {
        int code = 0;
        if (bad_clen)
            code = 400;
        else if (chunked)
            code = 411;
        else if (clen > ADMIN_HTTP_BODY_MAX)
            code = 413;
        if (code != 0) {
            srv.stats.admin_commands++;
            http_respond(c, code, false, flags, &b);
            return len;
        }
        if (len - hlen < clen)
            return 0;   /* the body is not all here yet */
        body = buf + hlen;
    }
    srv.stats.admin_commands++;

    /* DNS rebinding: a web page whose host name now resolves to this
     * machine could otherwise read /api and /metrics from an operator's
     * browser. Browsers always send the page's host name as Host. */
    bool http10 = sp2[8] == '0';
    bool host_ok = host != NULL ? http_host_ok(host, host_len) : http10 && bind_is_loopback();
    /* a flood of refused requests must not fill the disk: a line per 10 s */
    static struct log_limit refused_limit;
    uint64_t held;
    if (!host_ok && !(cfg.admin_password[0] != '\0' && authorized)) {
        if (log_limit_pass(&refused_limit, server_clock_ms(), 10000, &held))
            log_warn("Admin port: refused an HTTP request from %s with Host %.*s%s", c->addr,
                     host ? (int)(host_len > 128 ? 128 : host_len) : 6, host ? host : "(none)",
                     log_held_note(held));
        if (flags & ADMIN_HTTP_JSON) {
            b.content_type = "application/json";
            admin_body_printf(&b, "{\"error\":\"forbidden: %s (DNS rebinding guard)\","
                                  "\"status\":403}\n",
                              host ? "Host is not a loopback name or the admin-bind address"
                                   : "no Host header");
        } else {
            admin_body_printf(&b, "403 Forbidden: %s (DNS rebinding guard). Use "
                                  "http://127.0.0.1:<admin-port>/, or set admin-password and "
                                  "send it.\n",
                              host ? "Host is not a loopback name or the admin-bind address"
                                   : "no Host header");
        }
        http_respond(c, 403, head, flags, &b);
        return len;
    }

    if (!authorized && !(flags & ADMIN_HTTP_PUBLIC)) {
        log_verbose("Admin port: unauthorized HTTP request from %s", c->addr);
        http_respond(c, 401, head, flags, &b);
        return len;
    }

    int code;
    if (route == NULL) {
        code = 404;
    } else if ((flags & ADMIN_HTTP_POST) ? !post : (!head && strcmp(method, "GET") != 0)) {
        code = 405;
    } else if (post && origin != NULL && !origin_is_host(origin, origin_len, host, host_len)) {
        if (log_limit_pass(&refused_limit, server_clock_ms(), 10000, &held))
            log_warn("Admin port: refused a POST %s from %s with Origin %.*s%s", target,
                     c->addr, (int)(origin_len > 128 ? 128 : origin_len), origin,
                     log_held_note(held));
        code = 403;
    } else if (route->fn_ex != NULL) {
        struct admin_http_req req = {method, target, query ? query : "", body, post ? clen : 0,
                                     c->addr};
        code = route->fn_ex(&req, &b);
    } else {
        code = route->fn(target, query ? query : "", &b);
    }
    http_respond(c, code, head, flags, &b);
    return len;
}
