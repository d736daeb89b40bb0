/*
 * listener: the listening sockets (TCP on each bind address, optionally a
 * Unix socket) and accept.
 *
 * Each listener carries the port its connections belong to (struct
 * conn_port, handed in by the port's owner: dataport.c or admin.c), and
 * hands every accepted socket to conn_accept with it. TCP connections get
 * TCP_NODELAY and, with tcp-keepalive, keepalive probes; an accept burst
 * takes at most ACCEPTS_PER_CALL sockets so one busy listener cannot
 * starve the loop.
 *
 * When accept fails for lack of descriptors (EMFILE, ENFILE) or kernel
 * memory, the pending connection stays in the backlog and the listener
 * stays readable, so retrying at once would spin a core and write the
 * same log line millions of times. Instead every listener stops for
 * ACCEPT_BACKOFF_MS and then tries again; the line is rate-limited.
 */
#include "daemon/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/log.h"
#include "daemon/server.h"

#define MAX_LISTENERS    16
#define ACCEPTS_PER_CALL 32
#define ACCEPT_BACKOFF_MS 100
#define ACCEPT_LOG_MS     10000

struct listener {
    int fd;
    bool is_unix;
    const struct conn_port *port;
    char laddr[64];
    struct event *ev;
};

static struct listener listeners[MAX_LISTENERS];
static int nlisteners;
static struct event *resume_ev;   /* ends a backoff (created on the first one) */
static bool backing_off;
static char unix_path[108];   /* the Unix socket to unlink at teardown, "" if none */

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

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    backing_off = false;
    for (int i = 0; i < nlisteners; i++)
        event_add(listeners[i].ev, NULL);
}

/* accept failed for want of a resource that only time can free */
static void back_off(int err)
{
    static struct log_limit limit;
    uint64_t held;
    srv.stats.accept_fd_waits++;
    if (log_limit_pass(&limit, server_clock_ms(), ACCEPT_LOG_MS, &held))
        log_warn("Accepting client connection: %s; not accepting for %d ms%s", strerror(err),
                 ACCEPT_BACKOFF_MS, log_held_note(held));
    if (resume_ev == NULL)
        resume_ev = evtimer_new(srv.base, on_resume, NULL);
    if (resume_ev == NULL)
        return;   /* no memory for a timer: keep accepting rather than stop for good */
    for (int i = 0; i < nlisteners; i++)
        event_del(listeners[i].ev);
    backing_off = true;
    struct timeval tv = {0, ACCEPT_BACKOFF_MS * 1000};
    evtimer_add(resume_ev, &tv);
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
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                back_off(errno);
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
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
        conn_accept(fd, l->is_unix, l->port, addr, l->laddr);
    }
}

static int add_listener(int fd, bool is_unix, const struct conn_port *port, const char *laddr,
                        char *err, size_t errlen)
{
    if (nlisteners == MAX_LISTENERS) {
        close(fd);
        snprintf(err, errlen, "too many listening addresses (at most %d)", MAX_LISTENERS);
        return EX_CONFIG;
    }
    struct listener *l = &listeners[nlisteners];
    l->fd = fd;
    l->is_unix = is_unix;
    l->port = port;
    snprintf(l->laddr, sizeof(l->laddr), "%s", laddr);
    l->ev = event_new(srv.base, fd, EV_READ | EV_PERSIST, on_accept, l);
    if (l->ev == NULL || (!backing_off && event_add(l->ev, NULL) != 0)) {
        if (l->ev)
            event_free(l->ev);
        close(fd);
        snprintf(err, errlen, "cannot register listener %s", laddr);
        return EX_OSERR;
    }
    nlisteners++;
    return 0;
}

int listener_tcp(const char *spec, int portno, const struct conn_port *port, char *err,
                 size_t errlen)
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
    char service[16];
    snprintf(service, sizeof(service), "%d", portno);
    int gai = getaddrinfo(host, service, &hints, &res);
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
    log_notice("Listening on %s%s", laddr, port->listen_note ? port->listen_note : "");
    return add_listener(fd, false, port, laddr, err, errlen);
}

int listener_unix(const char *path, const struct conn_port *port, char *err, size_t errlen)
{
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
    int rc = add_listener(fd, true, port, laddr, err, errlen);
    if (rc == 0)
        snprintf(unix_path, sizeof(unix_path), "%s", path);
    return rc;
}

int listener_count(void)
{
    return nlisteners;
}

void listener_teardown(void)
{
    for (int i = 0; i < nlisteners; i++) {
        event_free(listeners[i].ev);
        close(listeners[i].fd);
    }
    nlisteners = 0;
    if (resume_ev != NULL)
        event_free(resume_ev);
    resume_ev = NULL;
    backing_off = false;
    if (unix_path[0] != '\0')
        unlink(unix_path);
    unix_path[0] = '\0';
}
