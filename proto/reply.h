/*
 * reply: encodes replies in RESP2 or RESP3 into a growable byte buffer.
 *
 * The buffer belongs to one client session; the daemon moves its bytes to
 * the socket. Every function picks the RESP3 type when the session speaks
 * RESP3 (HELLO 3) and the RESP2 equivalent otherwise: null -> $-1 / _,
 * map -> flat array / %, set -> array / ~, double -> bulk / ",", boolean ->
 * integer / #, verbatim -> bulk / =.
 *
 * When growing the buffer fails, the reply is marked broken (r->oom) and
 * further writes are dropped; the daemon then closes that one connection
 * rather than sending a truncated reply.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reply {
    char *buf;
    size_t len;
    size_t cap;
    int resp;       /* 2 or 3 */
    bool oom;
    uint64_t nerrors;   /* error replies written so far (never reset by
                         * reply_clear), so callers can tell whether a
                         * command replied with an error */
    bool no_errorstats; /* errors count in nerrors only, not in the
                         * process-wide error statistics (set by the owner,
                         * e.g. for a connection that is not a data client) */
};

void reply_init(struct reply *r);
void reply_deinit(struct reply *r);
/* Forgets the bytes (after the daemon has taken them) and clears oom; keeps
 * the capacity unless it grew large (over 64 KiB), so one huge reply does
 * not pin memory forever. */
void reply_clear(struct reply *r);

void reply_raw(struct reply *r, const void *p, size_t n);
void reply_status(struct reply *r, const char *s);            /* +s */
/* -<text>: text starts with the error code, e.g. "ERR syntax error" or
 * "WRONGTYPE Operation ...". Newlines in text are replaced by spaces. */
void reply_error(struct reply *r, const char *text);
void reply_errorf(struct reply *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Error statistics for INFO errorstats, process-wide: every reply_error /
 * reply_errorf (on a reply without no_errorstats) counts under its code (the first word of the text, e.g. ERR,
 * WRONGTYPE, NOAUTH, EXECABORT; "ERR" if there is no space within 32 bytes).
 * The total (total_error_replies) counts every error; per-code counts are
 * kept for up to 128 distinct codes (far more than compactd's texts use).
 */
typedef void (*reply_errstat_fn)(const char *code, uint64_t count, void *ctx);
/* Visits the codes in byte order (the order INFO errorstats lists them). */
void reply_errorstats_foreach(reply_errstat_fn fn, void *ctx);
uint64_t reply_errors_total(void);
void reply_errorstats_reset(void);   /* CONFIG RESETSTAT */

void reply_ok(struct reply *r);                               /* +OK */
void reply_int(struct reply *r, long long v);                 /* :v */
void reply_bulk(struct reply *r, const void *p, size_t n);    /* $n p */
void reply_cstr(struct reply *r, const char *s);              /* bulk of a C string */
void reply_bulk_ll(struct reply *r, long long v);             /* bulk of decimal v */
void reply_null(struct reply *r);                             /* $-1 or _ */
void reply_null_array(struct reply *r);                       /* *-1 or _ */
void reply_array(struct reply *r, size_t n);
void reply_map(struct reply *r, size_t npairs);
void reply_set(struct reply *r, size_t n);
/* "%.17g"; RESP3 sends ",<d>" (",inf"/",-inf"), RESP2 a bulk string. */
void reply_double(struct reply *r, double d);
/* Bulk of a long double formatted as INCRBYFLOAT does ("%.17Lf", then no
 * trailing zeros and no trailing dot: 10.5+0.1 gives "10.6"). */
void reply_long_double(struct reply *r, long double d);
/*
 * The text reply_long_double sends, for callers that also keep it
 * (INCRBYFLOAT stores the very bytes it replies): "-0" becomes "0", and
 * non-finite values are "inf", "-inf" and "nan". buf must hold
 * REPLY_LD_BUFSIZE bytes (enough for any long double). Returns the length;
 * buf is NUL-terminated.
 */
#define REPLY_LD_BUFSIZE 5120
size_t reply_format_long_double(char *buf, long double v);
void reply_bool(struct reply *r, bool b);
void reply_verbatim(struct reply *r, const char *p, size_t n, const char *fmt3);

/* Aggregates whose length is known only after writing their elements:
 * reply_defer reserves a header, reply_defer_array/map fills it in. Nested
 * deferred headers must be filled innermost (latest reserved) first, because
 * filling one moves the bytes after it. */
size_t reply_defer(struct reply *r);
void reply_defer_array(struct reply *r, size_t handle, size_t n);
void reply_defer_map(struct reply *r, size_t handle, size_t npairs);
