/*
 * harness: what every integration test needs to drive a real daemon.
 *
 * A test file starts one daemon in its cmocka group setup and stops it in
 * the group teardown, so each file gets a fresh keyspace. The daemon binary
 * comes from COMPACTD_BIN (ctest sets it to the built compactd); pointing it
 * at /usr/bin/redis-server runs the same tests against the reference
 * implementation (the harness then adds --save '' --appendonly no). If
 * COMPACTD_TEST_PORT is set, no daemon is spawned: tests talk to the one
 * already listening on that port (e.g. under gdb), and stopping it is a no-op;
 * its keyspace is flushed (FLUSHALL) when a test file attaches to it.
 *
 * Invariants the harness keeps:
 *  - a spawned daemon listens on 127.0.0.1 only, on a port the kernel
 *    reported free a moment before, and dies with the test process
 *    (PR_SET_PDEATHSIG), so a crashed test never leaves a server behind;
 *  - its stdout/stderr go to <test binary dir>/logs/<test>-<port>-<n>.log, and
 *    that log is printed whenever the harness fails a test about the daemon;
 *  - stopping asserts a clean exit (status 0), so a leak report from ASan,
 *    a crash or a hang at shutdown fails the test.
 *
 * Reply assertions report the caller's file and line and free the reply
 * they are given, so a test reads as a list of command/expectation pairs.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

/* Generous enough for ASan builds on a loaded 2-core machine. */
#define HARNESS_START_TIMEOUT_MS 10000
#define HARNESS_STOP_TIMEOUT_MS  10000
#define HARNESS_IO_TIMEOUT_MS    10000

struct server {
    pid_t pid;              /* 0 when attached to an external daemon or not running */
    int port;
    bool external;          /* COMPACTD_TEST_PORT mode: never spawned, never stopped */
    char log_path[512];
};

/* The binary under test (COMPACTD_BIN, else ../daemon/compactd next to the test). */
const char *harness_bin(void);
/* Makes later spawns run path instead (NULL restores the default); lets one
 * test start compactd and the reference redis-server side by side. */
void harness_use_bin(const char *path);
/* True when the binary under test is the reference redis-server. */
bool harness_is_redis(void);
/* True when COMPACTD_TEST_PORT points the tests at an already running daemon. */
bool harness_external(void);
/* Directory for logs and scratch files (created on demand). */
const char *harness_log_dir(void);
/* A loopback TCP port that was free a moment ago (bind port 0, read it back). */
int harness_free_port(void);
/* Monotonic milliseconds. */
int64_t harness_now_ms(void);
void harness_sleep_ms(int ms);

/*
 * Spawns the daemon without waiting for it: argv is
 *   bin [conf_path] --port <port> --bind 127.0.0.1 [redis-only args] extra...
 * conf_path and extra may be NULL; extra is NULL-terminated. Fills s->pid,
 * s->port and s->log_path. Fails the test if fork/exec setup fails.
 */
void server_spawn(struct server *s, int port, const char *conf_path,
                  const char *const *extra);
/* Waits until the port accepts connections; false if the process exited or
 * the timeout passed (the log is printed in both cases). */
bool server_wait_ready(struct server *s, int timeout_ms);
/* Waits for pid to exit; returns true and sets *status (waitpid status) if
 * it did within timeout_ms. */
bool server_wait_exit(pid_t pid, int timeout_ms, int *status);

/* spawn + wait_ready on a fresh port, or attach in external mode; fails the
 * test if the daemon does not come up. */
void server_start(struct server *s, const char *const *extra);
/* Like server_start with a config file as first argument. */
void server_start_conf(struct server *s, const char *conf_path,
                       const char *const *extra);
/* SIGTERM, wait (bounded), SIGKILL if needed; asserts exit status 0. */
void server_stop(struct server *s);
/* The daemon of a test file whose tests all share one server with the
 * default configuration: harness_group_setup starts it (server_start with
 * no extra arguments) and harness_group_teardown stops it, as cmocka group
 * fixtures. Files that need options or more servers keep their own. */
extern struct server harness_srv;
int harness_group_setup(void **state);
int harness_group_teardown(void **state);
/* The group teardown of a file that keeps its own daemon (options, an admin
 * port): its group setup first stores the daemon's struct server address in
 * *state, and this stops that daemon if one was spawned (pid > 0; none is
 * when the setup returned early for redis-server or an external daemon). */
int server_group_teardown(void **state);
/* Skips the current test unless the daemon under test is a compactd the
 * harness spawned (redis-server lacks compactd's options and admin port;
 * an external daemon's options are not the test's). A macro so that cmocka
 * reports the skip at the test's line. */
#define NEED_COMPACTD()                                 \
    do {                                                \
        if (harness_is_redis() || harness_external())   \
            skip();                                     \
    } while (0)
/* Prints the daemon's log to stderr (for failure diagnosis). */
void server_dump_log(const struct server *s);
/* True if the log contains needle (case-insensitive). */
bool server_log_contains(const struct server *s, const char *needle);

/* ---- hiredis ---------------------------------------------------------- */

/* Connects with connect and I/O timeouts; fails the test on error. */
redisContext *server_connect(const struct server *s);
redisContext *server_connect_timeout(const struct server *s, int timeout_ms);
/* The same, to another port of s's daemon (its admin port). */
redisContext *server_connect_port(const struct server *s, int port);

/* Runs a command (hiredis format string); fails the test on I/O error. */
#define run(c, ...) harness_run(__FILE__, __LINE__, (c), __VA_ARGS__)
#define run_argv(c, argc, argv, lens) harness_run_argv(__FILE__, __LINE__, (c), (argc), (argv), (lens))
redisReply *harness_run(const char *file, int line, redisContext *c, const char *fmt, ...);
redisReply *harness_run_argv(const char *file, int line, redisContext *c, int argc,
                             const char **argv, const size_t *lens);
/* Reads one pipelined reply; fails the test on I/O error. */
#define get_reply(c) harness_get_reply(__FILE__, __LINE__, (c))
redisReply *harness_get_reply(const char *file, int line, redisContext *c);

/* Reply assertions: each frees the reply it is given. */
#define assert_reply_status(r, text) harness_reply_status(__FILE__, __LINE__, (r), (text))
#define assert_reply_int(r, v)       harness_reply_int(__FILE__, __LINE__, (r), (v))
#define assert_reply_bulk(r, p, n)   harness_reply_bulk(__FILE__, __LINE__, (r), (p), (n))
#define assert_reply_str(r, s)       harness_reply_bulk(__FILE__, __LINE__, (r), (s), strlen(s))
#define assert_reply_nil(r)          harness_reply_nil(__FILE__, __LINE__, (r))
#define assert_reply_error(r, pfx)   harness_reply_error(__FILE__, __LINE__, (r), (pfx))
#define assert_reply_array(r, n)     harness_reply_array(__FILE__, __LINE__, (r), (n))
void harness_reply_status(const char *file, int line, redisReply *r, const char *text);
void harness_reply_int(const char *file, int line, redisReply *r, long long v);
void harness_reply_bulk(const char *file, int line, redisReply *r, const void *p, size_t n);
void harness_reply_nil(const char *file, int line, redisReply *r);
void harness_reply_error(const char *file, int line, redisReply *r, const char *prefix);
/* Asserts an array of n elements; does NOT free it (the caller inspects it). */
void harness_reply_array(const char *file, int line, redisReply *r, size_t n);

/*
 * Text replies of INFO's shape, "name:value" lines (INFO, and the admin
 * port's STATS and COMPACT). text_cmd runs a command (hiredis format) and
 * returns its text malloc'd, failing the test on any other reply.
 * text_find points at a field's value in such text (*len: its length, up
 * to the line end), NULL if absent. text_field is the value as an integer,
 * failing the test if the field is absent or not an integer; text_cmd_field
 * runs cmd (a command line without % directives) and returns one field of
 * its reply so.
 */
char *text_cmd(redisContext *c, const char *fmt, ...);
const char *text_find(const char *text, const char *field, size_t *len);
long long text_field(const char *text, const char *field);
long long text_cmd_field(redisContext *c, const char *cmd, const char *field);
/* INFO <section>'s field: malloc'd (NULL if absent), or as text_field. */
char *info_field(redisContext *c, const char *section, const char *field);
long long info_int(redisContext *c, const char *section, const char *field);
/* DBSIZE as a number. */
long long dbsize(redisContext *c);

/* ---- raw sockets, for malformed input and RESP3 ------------------------ */

struct raw {
    int fd;
    char *buf;              /* bytes received and not yet returned */
    size_t len, cap;
    bool eof;
};

/* Connects to 127.0.0.1:port with TCP_NODELAY; fails the test on error. */
void raw_open(struct raw *r, int port);
void raw_close(struct raw *r);
/* Sends everything (fails the test on error, unless allow_fail). Returns
 * false if the peer had already closed and allow_fail is set. */
bool raw_send(struct raw *r, const void *p, size_t n, bool allow_fail);
#define raw_sendstr(r, s) raw_send((r), (s), strlen(s), false)
/*
 * Waits for one complete RESP2/RESP3 value and returns it as a malloc'd
 * NUL-terminated copy (its length in *n if n). Returns NULL on EOF or
 * timeout (without failing: callers decide).
 */
char *raw_reply(struct raw *r, size_t *n, int timeout_ms);
/* Like raw_reply, but fails the test unless the reply equals expect. */
#define raw_expect(r, expect) harness_raw_expect(__FILE__, __LINE__, (r), (expect), strlen(expect))
void harness_raw_expect(const char *file, int line, struct raw *r, const char *expect, size_t n);
/* Reads until the peer closes; true if EOF came within timeout. Everything
 * received stays in r->buf/r->len. */
bool raw_wait_close(struct raw *r, int timeout_ms);
/* Length of the first complete RESP value in buf: >0 complete, 0 need more,
 * -1 malformed. Handles RESP2 and RESP3 types. */
long resp_value_len(const char *buf, size_t len);
