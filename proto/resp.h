/*
 * resp: an incremental parser for client requests in RESP2 multibulk form
 * (*N\r\n$L\r\n...\r\n) and inline form (a plain text line).
 *
 * The parser is a function over bytes: it never reads a socket and never
 * copies argument bytes. A request is always parsed from its first byte; on
 * PARSE_UNFIN nothing is consumed, and req remembers how far it got (as
 * offsets, so the caller may grow or move its buffer in between) so that the
 * next call resumes instead of re-scanning a long request.
 *
 * Inline arguments may be quoted ("..." with \n \xHH escapes, or '...'),
 * so their bytes can differ from the input: the parser unquotes into req's
 * own scratch space in that case.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits that Redis also enforces, with its defaults. */
#define RESP_MAX_INLINE      (64 * 1024)       /* longest inline line / length line */
#define RESP_MAX_MULTIBULK   (1024 * 1024)     /* most arguments per request */
#define RESP_DEFAULT_MAX_BULK (512ull * 1024 * 1024)

typedef enum parse_rstatus {
    PARSE_OK = 0,       /* a whole request is in req; *consumed bytes used */
    PARSE_UNFIN,        /* need more bytes; nothing consumed */
    PARSE_EMPTY,        /* an empty inline line or "*0"/"*-1": consumed, no command */
    PARSE_EINVALID,     /* malformed input; req->err holds the reply text */
    PARSE_EOVERSIZE,    /* a length above a limit (or no memory to hold the
                         * argument table); req->err holds the reply text */
} parse_rstatus_e;

struct slice {
    const char *p;
    size_t len;
};

struct request {
    int argc;
    struct slice *argv;     /* valid after PARSE_OK until the next resp_parse */
    const char *err;        /* static error text (without "-"), after EINVALID/EOVERSIZE */
    size_t need;            /* after UNFIN inside a bulk payload: the buffer length
                             * (from the request's first byte) that completes that
                             * argument, a lower bound for the whole request;
                             * 0 if unknown */

    /* parser state: private */
    int argcap;
    int nexpect;            /* multibulk count announced, -1 before it is read */
    size_t pos;             /* offset of the next unparsed byte */
    size_t *off;            /* argument offsets, resolved to argv on OK */
    size_t *lens;
    char *scratch;          /* unquoted inline arguments */
    size_t scratch_cap;
    int state;              /* fresh, multibulk in progress */
    long long bulklen;      /* length of the bulk being read, -1 in a header */
    size_t scanned;         /* bytes from pos already searched for a line end */
    char errbuf[48];        /* err text that needs formatting */
};

struct resp_limits {
    uint64_t max_bulk;      /* proto-max-bulk-len */
};

void request_init(struct request *req);
/* Frees what the request holds; req may be reused after request_init. */
void request_deinit(struct request *req);
/* Forgets any partial progress (call after consuming or on a new buffer). */
void request_reset(struct request *req);

/*
 * Parses one request from buf[0..len). On PARSE_OK and PARSE_EMPTY sets
 * *consumed to the bytes it used; on UNFIN sets *consumed to 0 and the next
 * call must pass a buffer starting at the same request byte.
 */
parse_rstatus_e resp_parse(struct request *req, const char *buf, size_t len,
                           const struct resp_limits *lim, size_t *consumed);

/* Case-insensitive compare of an argument with a NUL-terminated word. */
bool slice_eq(const struct slice *s, const char *word);

/* Strict integer parsing as Redis does it (no spaces, no '+', no leading
 * zeros except "0", fits in long long). Returns true on success. */
bool slice_to_ll(const struct slice *s, long long *out);
/* Strict double parsing (no spaces, no NaN, nothing after the number, at
 * most 5 KiB; "inf"/"-inf" accepted). */
bool slice_to_ld(const struct slice *s, long double *out);
