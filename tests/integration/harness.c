/*
 * harness: spawn, wait for, talk to and stop the daemon under test.
 * See harness.h for the contract. Everything here fails the current cmocka
 * test (via _fail with the caller's file and line) instead of returning
 * errors, except where the header says a caller decides.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_exe_dir[PATH_MAX / 2];  /* leaves room for suffixes below */
static char g_log_dir[PATH_MAX];
static char g_bin[PATH_MAX];

/* This test binary's path into path (cap bytes); false if it cannot be read. */
static bool self_exe(char *path, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", path, cap - 1);
    if (n <= 0)
        return false;
    path[n] = '\0';
    return true;
}

static const char *exe_dir(void)
{
    if (g_exe_dir[0] == '\0') {
        char path[PATH_MAX];
        if (self_exe(path, sizeof path))
            snprintf(g_exe_dir, sizeof g_exe_dir, "%s", dirname(path));
        else
            snprintf(g_exe_dir, sizeof g_exe_dir, ".");
    }
    return g_exe_dir;
}

const char *harness_bin(void)
{
    if (g_bin[0] == '\0') {
        const char *env = getenv("COMPACTD_BIN");
        if (env && *env)
            snprintf(g_bin, sizeof g_bin, "%s", env);
        else
            snprintf(g_bin, sizeof g_bin, "%s/../daemon/compactd", exe_dir());
    }
    return g_bin;
}

void harness_use_bin(const char *path)
{
    if (path == NULL)
        g_bin[0] = '\0';   /* back to COMPACTD_BIN or the built daemon */
    else
        snprintf(g_bin, sizeof g_bin, "%s", path);
}

bool harness_is_redis(void)
{
    const char *b = strrchr(harness_bin(), '/');
    b = b ? b + 1 : harness_bin();
    return strstr(b, "redis-server") != NULL;
}

bool harness_external(void)
{
    const char *p = getenv("COMPACTD_TEST_PORT");
    return p && *p;
}

const char *harness_log_dir(void)
{
    if (g_log_dir[0] == '\0') {
        snprintf(g_log_dir, sizeof g_log_dir, "%s/logs", exe_dir());
        if (mkdir(g_log_dir, 0755) != 0 && errno != EEXIST)
            snprintf(g_log_dir, sizeof g_log_dir, "/tmp");
    }
    return g_log_dir;
}

int64_t harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        print_error("socket: %s\n", strerror(errno));
        fail();
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        print_error("bind/getsockname: %s\n", strerror(errno));
        close(fd);
        fail();
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static const char *test_name(void)
{
    static char name[128];
    if (name[0] == '\0') {
        char path[PATH_MAX];
        if (self_exe(path, sizeof path))
            snprintf(name, sizeof name, "%s", basename(path));
        else
            snprintf(name, sizeof name, "test");
    }
    return name;
}

void server_spawn(struct server *s, int port, const char *conf_path,
                  const char *const *extra)
{
    static int seq;
    memset(s, 0, sizeof *s);
    s->port = port;
    snprintf(s->log_path, sizeof s->log_path, "%s/%s-%d-%d.log",
             harness_log_dir(), test_name(), port, ++seq);

    const char *argv[64];
    int argc = 0;
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    argv[argc++] = harness_bin();
    if (conf_path)
        argv[argc++] = conf_path;
    argv[argc++] = "--port";
    argv[argc++] = portbuf;
    argv[argc++] = "--bind";
    argv[argc++] = "127.0.0.1";
    if (harness_is_redis()) {
        /* The reference server must neither persist nor fork children. */
        argv[argc++] = "--save";
        argv[argc++] = "";
        argv[argc++] = "--appendonly";
        argv[argc++] = "no";
        argv[argc++] = "--daemonize";
        argv[argc++] = "no";
    }
    /* compactd's admin port defaults to the data port + 10000, which may be
     * another test's port: off unless the test asks for one. */
    bool admin_given = false;
    for (int i = 0; extra && extra[i]; i++)
        admin_given = admin_given || strcmp(extra[i], "--admin-port") == 0;
    if (!harness_is_redis() && !admin_given) {
        argv[argc++] = "--admin-port";
        argv[argc++] = "0";
    }
    for (int i = 0; extra && extra[i] && argc < 63; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;

    int logfd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (logfd < 0) {
        print_error("cannot open log %s: %s\n", s->log_path, strerror(errno));
        fail();
    }
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        print_error("fork: %s\n", strerror(errno));
        close(logfd);
        fail();
    }
    if (pid == 0) {
        /* Die with the test, even if it crashes before server_stop. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        /* Scratch cwd so a server that writes files (redis) writes them here. */
        if (chdir(harness_log_dir()) != 0) {
            /* keep the current directory */
        }
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], (char *const *)argv);
        dprintf(STDERR_FILENO, "harness: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(logfd);
    s->pid = pid;
}

bool server_wait_exit(pid_t pid, int timeout_ms, int *status)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
        if (harness_now_ms() >= deadline)
            return false;
        harness_sleep_ms(5);
    }
}

static int try_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

bool server_wait_ready(struct server *s, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        int status;
        if (s->pid > 0 && waitpid(s->pid, &status, WNOHANG) == s->pid) {
            print_error("daemon exited during start-up (status 0x%x)\n", status);
            s->pid = 0;
            server_dump_log(s);
            return false;
        }
        int fd = try_connect(s->port);
        if (fd >= 0) {
            close(fd);
            return true;
        }
        if (harness_now_ms() >= deadline) {
            print_error("daemon did not accept on port %d within %d ms\n",
                        s->port, timeout_ms);
            server_dump_log(s);
            return false;
        }
        harness_sleep_ms(10);
    }
}

void server_start_conf(struct server *s, const char *conf_path,
                       const char *const *extra)
{
    if (harness_external()) {
        memset(s, 0, sizeof *s);
        s->external = true;
        s->port = atoi(getenv("COMPACTD_TEST_PORT"));
        snprintf(s->log_path, sizeof s->log_path, "/dev/null");
        /* Tests expect the fresh keyspace a spawned daemon would have. */
        redisContext *c = server_connect(s);
        redisReply *r = run(c, "FLUSHALL");
        bool ok = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        redisFree(c);
        if (!ok) {
            print_error("FLUSHALL failed on the daemon at port %d\n", s->port);
            fail();
        }
        return;
    }
    /* A port can be taken between the probe and the daemon's bind: retry. */
    for (int attempt = 0; attempt < 3; attempt++) {
        server_spawn(s, harness_free_port(), conf_path, extra);
        if (server_wait_ready(s, HARNESS_START_TIMEOUT_MS))
            return;
        if (s->pid > 0) {
            kill(s->pid, SIGKILL);
            int st;
            server_wait_exit(s->pid, HARNESS_STOP_TIMEOUT_MS, &st);
            s->pid = 0;
        }
        if (!server_log_contains(s, "in use"))
            break;
    }
    print_error("could not start %s\n", harness_bin());
    fail();
}

void server_start(struct server *s, const char *const *extra)
{
    server_start_conf(s, NULL, extra);
}

void server_stop(struct server *s)
{
    if (s->external || s->pid <= 0)
        return;
    pid_t pid = s->pid;
    s->pid = 0;
    int status = 0;
    kill(pid, SIGTERM);
    if (!server_wait_exit(pid, HARNESS_STOP_TIMEOUT_MS, &status)) {
        kill(pid, SIGKILL);
        server_wait_exit(pid, HARNESS_STOP_TIMEOUT_MS, &status);
        print_error("daemon ignored SIGTERM for %d ms; killed\n", HARNESS_STOP_TIMEOUT_MS);
        server_dump_log(s);
        fail();
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            print_error("daemon died of signal %d\n", WTERMSIG(status));
        else
            print_error("daemon exited with status %d\n", WEXITSTATUS(status));
        server_dump_log(s);
        fail();
    }
}

struct server harness_srv;

int harness_group_setup(void **state)
{
    (void)state;
    server_start(&harness_srv, NULL);
    return 0;
}

int harness_group_teardown(void **state)
{
    (void)state;
    server_stop(&harness_srv);
    return 0;
}

int server_group_teardown(void **state)
{
    struct server *s = *state;
    if (s != NULL && s->pid > 0)
        server_stop(s);
    return 0;
}

void server_dump_log(const struct server *s)
{
    FILE *f = fopen(s->log_path, "r");
    if (!f)
        return;
    fprintf(stderr, "---- %s ----\n", s->log_path);
    /* The tail is what matters; cap the dump so a chatty log stays readable. */
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    if (size > 16384)
        fseek(f, size - 16384, SEEK_SET);
    else
        fseek(f, 0, SEEK_SET);
    char line[1024];
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fprintf(stderr, "---- end of log ----\n");
    fclose(f);
}

bool server_log_contains(const struct server *s, const char *needle)
{
    FILE *f = fopen(s->log_path, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strcasestr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* ---- hiredis ---------------------------------------------------------- */

redisContext *server_connect_timeout(const struct server *s, int timeout_ms)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    if (!c || c->err) {
        print_error("connect to port %d: %s\n", s->port, c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        fail();
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        print_error("redisSetTimeout: %s\n", c->errstr);
        redisFree(c);
        fail();
    }
    return c;
}

redisContext *server_connect(const struct server *s)
{
    return server_connect_timeout(s, HARNESS_IO_TIMEOUT_MS);
}

redisContext *server_connect_port(const struct server *s, int port)
{
    struct server other = *s;
    other.port = port;
    return server_connect(&other);
}

static redisReply *checked(const char *file, int line, redisContext *c, void *r)
{
    if (!r) {
        print_error("%s:%d: I/O error: %s\n", file, line, c->errstr);
        _fail(file, line);
    }
    return r;
}

redisReply *harness_run(const char *file, int line, redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    void *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return checked(file, line, c, r);
}

redisReply *harness_run_argv(const char *file, int line, redisContext *c, int argc,
                             const char **argv, const size_t *lens)
{
    return checked(file, line, c, redisCommandArgv(c, argc, argv, lens));
}

redisReply *harness_get_reply(const char *file, int line, redisContext *c)
{
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK)
        r = NULL;
    return checked(file, line, c, r);
}

static const char *type_name(int t)
{
    switch (t) {
    case REDIS_REPLY_STRING: return "bulk";
    case REDIS_REPLY_ARRAY: return "array";
    case REDIS_REPLY_INTEGER: return "integer";
    case REDIS_REPLY_NIL: return "nil";
    case REDIS_REPLY_STATUS: return "status";
    case REDIS_REPLY_ERROR: return "error";
    default: return "?";
    }
}

static void describe(const redisReply *r)
{
    switch (r->type) {
    case REDIS_REPLY_INTEGER:
        print_error("  got integer %lld\n", r->integer);
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        print_error("  got %s (%zu bytes) \"%.*s\"\n", type_name(r->type), r->len,
                    (int)(r->len > 200 ? 200 : r->len), r->str);
        break;
    case REDIS_REPLY_ARRAY:
        print_error("  got array of %zu\n", r->elements);
        break;
    default:
        print_error("  got %s\n", type_name(r->type));
    }
}

static void reply_fail(const char *file, int line, redisReply *r, const char *what)
{
    print_error("%s:%d: expected %s\n", file, line, what);
    describe(r);
    freeReplyObject(r);
    _fail(file, line);
}

void harness_reply_status(const char *file, int line, redisReply *r, const char *text)
{
    if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, text) != 0) {
        char what[256];
        snprintf(what, sizeof what, "status \"%s\"", text);
        reply_fail(file, line, r, what);
    }
    freeReplyObject(r);
}

void harness_reply_int(const char *file, int line, redisReply *r, long long v)
{
    if (r->type != REDIS_REPLY_INTEGER || r->integer != v) {
        char what[64];
        snprintf(what, sizeof what, "integer %lld", v);
        reply_fail(file, line, r, what);
    }
    freeReplyObject(r);
}

void harness_reply_bulk(const char *file, int line, redisReply *r, const void *p, size_t n)
{
    if (r->type != REDIS_REPLY_STRING || r->len != n || memcmp(r->str, p, n) != 0) {
        char what[300];
        snprintf(what, sizeof what, "bulk (%zu bytes) \"%.*s\"", n,
                 (int)(n > 200 ? 200 : n), (const char *)p);
        reply_fail(file, line, r, what);
    }
    freeReplyObject(r);
}

void harness_reply_nil(const char *file, int line, redisReply *r)
{
    if (r->type != REDIS_REPLY_NIL)
        reply_fail(file, line, r, "nil");
    freeReplyObject(r);
}

void harness_reply_error(const char *file, int line, redisReply *r, const char *prefix)
{
    if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, prefix, strlen(prefix)) != 0) {
        char what[256];
        snprintf(what, sizeof what, "error starting \"%s\"", prefix);
        reply_fail(file, line, r, what);
    }
    freeReplyObject(r);
}

void harness_reply_array(const char *file, int line, redisReply *r, size_t n)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
        char what[64];
        snprintf(what, sizeof what, "array of %zu", n);
        reply_fail(file, line, r, what);
    }
}

const char *text_find(const char *text, const char *field, size_t *len)
{
    size_t flen = strlen(field);
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            const char *v = line + flen + 1;
            *len = strcspn(v, "\r\n");
            return v;
        }
        line = eol ? eol + 1 : NULL;
    }
    return NULL;
}

char *text_cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = checked(__FILE__, __LINE__, c, redisvCommand(c, fmt, ap));
    va_end(ap);
    if (r->type != REDIS_REPLY_STRING) {
        print_error("%s: expected a text reply\n", fmt);
        describe(r);
        freeReplyObject(r);
        fail();
    }
    char *s = strdup(r->str);
    freeReplyObject(r);
    return s;
}

long long text_field(const char *text, const char *field)
{
    size_t n;
    const char *v = text_find(text, field, &n);
    if (v == NULL)
        fail_msg("field %s missing in:\n%s", field, text);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || end != v + n)
        fail_msg("field %s is not an integer: \"%.*s\"", field, (int)n, v);
    return x;
}

long long text_cmd_field(redisContext *c, const char *cmd, const char *field)
{
    char *t = text_cmd(c, cmd);   /* a format: hiredis splits it into words */
    long long v = text_field(t, field);
    free(t);
    return v;
}

char *info_field(redisContext *c, const char *section, const char *field)
{
    char *t = text_cmd(c, "INFO %s", section);
    size_t n;
    const char *v = text_find(t, field, &n);
    char *out = v ? strndup(v, n) : NULL;
    free(t);
    return out;
}

long long info_int(redisContext *c, const char *section, const char *field)
{
    char *t = text_cmd(c, "INFO %s", section);
    long long v = text_field(t, field);
    free(t);
    return v;
}

long long dbsize(redisContext *c)
{
    redisReply *r = run(c, "DBSIZE");
    if (r->type != REDIS_REPLY_INTEGER) {
        print_error("DBSIZE did not return an integer\n");
        describe(r);
        freeReplyObject(r);
        fail();
    }
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* ---- raw sockets ------------------------------------------------------ */

void raw_open(struct raw *r, int port)
{
    memset(r, 0, sizeof *r);
    r->fd = try_connect(port);
    if (r->fd < 0) {
        print_error("raw connect to port %d: %s\n", port, strerror(errno));
        fail();
    }
    int one = 1;
    setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* A server that stops reading fails the test instead of hanging it. */
    struct timeval tv = { HARNESS_IO_TIMEOUT_MS / 1000, 0 };
    setsockopt(r->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    r->cap = 4096;
    r->buf = malloc(r->cap);
    assert_non_null(r->buf);
}

void raw_close(struct raw *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = 0;
}

bool raw_send(struct raw *r, const void *p, size_t n, bool allow_fail)
{
    const char *q = p;
    while (n > 0) {
        ssize_t w = send(r->fd, q, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (allow_fail)
                return false;
            print_error("raw send: %s\n", strerror(errno));
            fail();
        }
        q += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads what is available within timeout_ms into r->buf; false on
 * timeout or EOF (r->eof tells which). */
static bool raw_fill(struct raw *r, int timeout_ms)
{
    struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
    int pr;
    do {
        pr = poll(&pfd, 1, timeout_ms);
    } while (pr < 0 && errno == EINTR);
    if (pr <= 0)
        return false;
    if (r->cap - r->len < 65536) {
        r->cap = r->cap * 2 + 65536;
        r->buf = realloc(r->buf, r->cap);
        assert_non_null(r->buf);
    }
    ssize_t n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
    if (n <= 0) {
        /* ECONNRESET after a close-after-reply counts as the close. */
        r->eof = true;
        return false;
    }
    r->len += (size_t)n;
    return true;
}

char *raw_reply(struct raw *r, size_t *n, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        long vl = resp_value_len(r->buf, r->len);
        if (vl < 0) {
            print_error("raw reply is not RESP: \"%.*s\"\n",
                        (int)(r->len > 200 ? 200 : r->len), r->buf);
            fail();
        }
        if (vl > 0) {
            char *out = malloc((size_t)vl + 1);
            assert_non_null(out);
            memcpy(out, r->buf, (size_t)vl);
            out[vl] = '\0';
            memmove(r->buf, r->buf + vl, r->len - (size_t)vl);
            r->len -= (size_t)vl;
            if (n)
                *n = (size_t)vl;
            return out;
        }
        int64_t left = deadline - harness_now_ms();
        if (r->eof || left <= 0)
            return NULL;
        raw_fill(r, (int)left);
    }
}

void harness_raw_expect(const char *file, int line, struct raw *r, const char *expect, size_t n)
{
    size_t got_n = 0;
    char *got = raw_reply(r, &got_n, HARNESS_IO_TIMEOUT_MS);
    if (!got) {
        print_error("%s:%d: expected \"%s\", got %s\n", file, line, expect,
                    r->eof ? "EOF" : "timeout");
        _fail(file, line);
    }
    if (got_n != n || memcmp(got, expect, n) != 0) {
        print_error("%s:%d: expected \"%.*s\", got \"%.*s\"\n", file, line, (int)n, expect,
                    (int)(got_n > 300 ? 300 : got_n), got);
        free(got);
        _fail(file, line);
    }
    free(got);
}

bool raw_wait_close(struct raw *r, int timeout_ms)
{
    int64_t deadline = harness_now_ms() + timeout_ms;
    while (!r->eof) {
        int64_t left = deadline - harness_now_ms();
        if (left <= 0)
            return false;
        raw_fill(r, (int)left);
    }
    return true;
}

/* Parses a CRLF-terminated line starting at p; returns its length without
 * CRLF, -2 if incomplete, -1 if a bare CR/LF makes it malformed. */
static long line_len(const char *p, size_t avail)
{
    for (size_t i = 0; i < avail; i++) {
        if (p[i] == '\r') {
            if (i + 1 >= avail)
                return -2;
            return p[i + 1] == '\n' ? (long)i : -1;
        }
        if (p[i] == '\n')
            return -1;
    }
    return -2;
}

static bool parse_ll(const char *p, long n, long long *out)
{
    if (n <= 0 || n > 20)
        return false;
    char tmp[24];
    memcpy(tmp, p, (size_t)n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    *out = strtoll(tmp, &end, 10);
    return errno == 0 && *end == '\0';
}

/* Returns bytes used by one value at buf[0..len): >0, 0 incomplete, -1 bad. */
static long value_len(const char *buf, size_t len, int depth)
{
    if (len == 0)
        return 0;
    if (depth > 64)
        return -1;
    long ll = line_len(buf + 1, len - 1);
    if (ll == -2)
        return 0;
    if (ll < 0)
        return -1;
    long head = 1 + ll + 2;
    long long n;
    switch (buf[0]) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(':
        return head;
    case '$': case '!': case '=':
        if (!parse_ll(buf + 1, ll, &n))
            return -1;
        if (n < 0)
            return buf[0] == '$' && n == -1 ? head : -1;
        if ((size_t)head + (size_t)n + 2 > len)
            return 0;
        if (buf[head + n] != '\r' || buf[head + n + 1] != '\n')
            return -1;
        return head + (long)n + 2;
    case '*': case '~': case '>': case '%': case '|': {
        if (!parse_ll(buf + 1, ll, &n))
            return -1;
        if (n < 0)
            return buf[0] == '*' && n == -1 ? head : -1;
        long long items = (buf[0] == '%' || buf[0] == '|') ? n * 2 : n;
        long pos = head;
        for (long long i = 0; i < items; i++) {
            long v = value_len(buf + pos, len - (size_t)pos, depth + 1);
            if (v <= 0)
                return v;
            pos += v;
        }
        /* An attribute map is followed by the value it annotates. */
        if (buf[0] == '|') {
            long v = value_len(buf + pos, len - (size_t)pos, depth + 1);
            return v <= 0 ? v : pos + v;
        }
        return pos;
    }
    default:
        return -1;
    }
}

long resp_value_len(const char *buf, size_t len)
{
    return value_len(buf, len, 0);
}
