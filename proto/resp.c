/*
 * resp: incremental request parser (multibulk and inline) and strict
 * argument conversions.
 *
 * A request is parsed from its first byte, which the caller keeps at
 * buf[0] until the request completes. Progress is kept in req as offsets
 * into that buffer, never as pointers, so the caller may move or grow its
 * buffer between calls:
 *   - pos:     the next byte not yet understood (start of a "$len" line, or
 *              start of a bulk payload when bulklen >= 0);
 *   - scanned: how far past pos we already looked for a line end, so a long
 *              line arriving byte by byte is searched only once;
 *   - argc/off/lens: the arguments completed so far.
 * Nothing is "consumed" until the request is whole, which is why the same
 * bytes split at any point give the same result.
 *
 * Errors carry Redis's wording ("ERR Protocol error: ..."), because clients
 * and tests match on them. Length checks are made as soon as the bytes that
 * decide them are present, so an oversized line is rejected without
 * waiting for its end.
 */
#include "proto/resp.h"
#include "proto/split.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_FRESH = 0, ST_MBULK };

#define ERR_MBULK_BIG    "ERR Protocol error: too big mbulk count string"
#define ERR_MBULK_LEN    "ERR Protocol error: invalid multibulk length"
#define ERR_BULK_BIG     "ERR Protocol error: too big bulk count string"
#define ERR_BULK_LEN     "ERR Protocol error: invalid bulk length"
#define ERR_BULK_CRLF    "ERR Protocol error: bulk data not terminated by CRLF"
#define ERR_INLINE_BIG   "ERR Protocol error: too big inline request"
#define ERR_QUOTES       "ERR Protocol error: unbalanced quotes in request"
#define ERR_NOMEM        "ERR Protocol error: out of memory for the request"

/* Inline requests are quoted as Redis reads them: a quote may open
 * anywhere in a word, and only space, tab, CR and LF end one. */
#define INLINE_RULES SPLIT_QUOTES_ANYWHERE

/* Longest textual long double slice_to_ld accepts. */
#define LD_MAX_CHARS (5 * 1024)

void request_init(struct request *req)
{
    memset(req, 0, sizeof(*req));
    req->nexpect = -1;
    req->bulklen = -1;
}

void request_deinit(struct request *req)
{
    free(req->argv);
    free(req->off);
    free(req->lens);
    free(req->scratch);
    request_init(req);
}

void request_reset(struct request *req)
{
    req->argc = 0;
    req->nexpect = -1;
    req->pos = 0;
    req->state = ST_FRESH;
    req->bulklen = -1;
    req->scanned = 0;
    req->need = 0;
}

/* Makes room for at least n arguments. */
static bool args_reserve(struct request *req, size_t n)
{
    if (n <= (size_t)req->argcap)
        return true;
    size_t cap = req->argcap ? (size_t)req->argcap : 8;
    while (cap < n)
        cap *= 2;
    struct slice *argv = realloc(req->argv, cap * sizeof(*argv));
    if (argv == NULL)
        return false;
    req->argv = argv;
    size_t *off = realloc(req->off, cap * sizeof(*off));
    if (off == NULL)
        return false;
    req->off = off;
    size_t *lens = realloc(req->lens, cap * sizeof(*lens));
    if (lens == NULL)
        return false;
    req->lens = lens;
    req->argcap = (int)cap;
    return true;
}

static parse_rstatus_e fail(struct request *req, parse_rstatus_e st, const char *err)
{
    req->err = err;
    request_reset(req);
    return st;
}

/* Strict decimal like Redis's string2ll: optional '-', no '+', no spaces,
 * no leading zeros (except "0" itself), must fit in long long. */
static bool dec_to_ll(const char *p, size_t len, long long *out)
{
    if (len == 0 || len > 20)
        return false;
    if (len == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    bool neg = false;
    size_t i = 0;
    if (p[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1)
            return false;
    }
    if (p[i] < '1' || p[i] > '9')
        return false;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return false;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return false;
        *out = (long long)v;
    }
    return true;
}

/*
 * Finds the '\r' that ends the line starting at req->pos, searching only
 * bytes not searched before. Returns its offset, or 0 if it has not arrived
 * (a line end can never be at offset 0, which holds the type byte).
 */
static size_t find_cr(struct request *req, const char *buf, size_t len)
{
    size_t from = req->pos + 1 + req->scanned;
    if (from >= len)
        return 0;
    const char *cr = memchr(buf + from, '\r', len - from);
    if (cr == NULL) {
        req->scanned = len - req->pos - 1;
        return 0;
    }
    return (size_t)(cr - buf);
}

/*
 * Reads the decimal on the length line at req->pos ("*N" or "$N", after
 * the type byte). PARSE_OK: *n holds it and *next is the offset past the
 * line's CRLF. PARSE_UNFIN: the line has not fully arrived. Otherwise the
 * request has failed: too_big for a line over RESP_MAX_INLINE (so a peer
 * cannot make us buffer an endless line), bad for a malformed number.
 */
static parse_rstatus_e read_len_line(struct request *req, const char *buf, size_t len,
                                     const char *too_big, const char *bad, long long *n,
                                     size_t *next)
{
    size_t cr = find_cr(req, buf, len);
    if (cr == 0) {
        if (len - req->pos > RESP_MAX_INLINE)
            return fail(req, PARSE_EOVERSIZE, too_big);
        return PARSE_UNFIN;
    }
    if (cr - req->pos > RESP_MAX_INLINE)
        return fail(req, PARSE_EOVERSIZE, too_big);
    if (cr + 1 >= len)
        return PARSE_UNFIN;
    if (buf[cr + 1] != '\n' || !dec_to_ll(buf + req->pos + 1, cr - req->pos - 1, n))
        return fail(req, PARSE_EINVALID, bad);
    *next = cr + 2;
    return PARSE_OK;
}

static parse_rstatus_e parse_multibulk(struct request *req, const char *buf, size_t len,
                                       const struct resp_limits *lim, size_t *consumed)
{
    if (req->state == ST_FRESH) {
        long long n;
        size_t next;
        parse_rstatus_e st = read_len_line(req, buf, len, ERR_MBULK_BIG, ERR_MBULK_LEN, &n,
                                           &next);
        if (st != PARSE_OK)
            return st;
        if (n > RESP_MAX_MULTIBULK)
            return fail(req, PARSE_EOVERSIZE, ERR_MBULK_LEN);
        if (n <= 0) {
            *consumed = next;
            request_reset(req);
            return PARSE_EMPTY;
        }
        /* grow with the arguments that actually arrive, so a huge count
         * alone cannot make us allocate */
        if (!args_reserve(req, n < 1024 ? (size_t)n : 1024))
            return fail(req, PARSE_EOVERSIZE, ERR_NOMEM);
        req->state = ST_MBULK;
        req->nexpect = (int)n;
        req->argc = 0;
        req->pos = next;
        req->scanned = 0;
        req->bulklen = -1;
    }

    uint64_t max_bulk = lim ? lim->max_bulk : RESP_DEFAULT_MAX_BULK;
    while (req->argc < req->nexpect) {
        if (req->bulklen < 0) {
            if (req->pos >= len)
                return PARSE_UNFIN;
            if (buf[req->pos] != '$') {
                snprintf(req->errbuf, sizeof(req->errbuf),
                         "ERR Protocol error: expected '$', got '%c'", buf[req->pos]);
                return fail(req, PARSE_EINVALID, req->errbuf);
            }
            long long bl;
            size_t next;
            parse_rstatus_e st = read_len_line(req, buf, len, ERR_BULK_BIG, ERR_BULK_LEN, &bl,
                                               &next);
            if (st != PARSE_OK)
                return st;
            if (bl < 0)
                return fail(req, PARSE_EINVALID, ERR_BULK_LEN);
            if ((uint64_t)bl > max_bulk)
                return fail(req, PARSE_EOVERSIZE, ERR_BULK_LEN);
            req->bulklen = bl;
            req->pos = next;
            req->scanned = 0;
        }
        size_t bl = (size_t)req->bulklen;
        size_t end = req->pos + bl;     /* offset of the CR after the data */
        if (end + 2 > len) {
            /* tell the caller how much this request needs at least (up to
             * the end of this argument), so it can size its buffer once
             * for a big payload instead of growing it step by step */
            req->need = end + 2;
            /* the data may already show a bad terminator */
            if (end < len && buf[end] != '\r')
                return fail(req, PARSE_EINVALID, ERR_BULK_CRLF);
            return PARSE_UNFIN;
        }
        if (buf[end] != '\r' || buf[end + 1] != '\n')
            return fail(req, PARSE_EINVALID, ERR_BULK_CRLF);
        if (!args_reserve(req, (size_t)req->argc + 1))
            return fail(req, PARSE_EOVERSIZE, ERR_NOMEM);
        req->off[req->argc] = req->pos;
        req->lens[req->argc] = bl;
        req->argc++;
        req->pos = end + 2;
        req->bulklen = -1;
        req->scanned = 0;
    }

    for (int i = 0; i < req->argc; i++) {
        req->argv[i].p = buf + req->off[i];
        req->argv[i].len = req->lens[i];
    }
    *consumed = req->pos;
    int argc = req->argc;
    request_reset(req);
    req->argc = argc;
    return PARSE_OK;
}

static inline bool is_blank(char c)
{
    return isspace((unsigned char)c) != 0;
}

/* Splits one inline line into arguments with Redis's quoting (proto/split.h),
 * unquoted into scratch, which is at least n bytes. */
static parse_rstatus_e split_inline(struct request *req, const char *p, size_t n)
{
    struct split sp;
    split_init(&sp, p, n, req->scratch, INLINE_RULES);
    req->argc = 0;
    size_t off, len;
    enum split_status st;
    while ((st = split_next(&sp, &off, &len)) == SPLIT_WORD) {
        if (!args_reserve(req, (size_t)req->argc + 1))
            return fail(req, PARSE_EOVERSIZE, ERR_NOMEM);
        req->off[req->argc] = off;
        req->lens[req->argc] = len;
        req->argc++;
    }
    if (st == SPLIT_EQUOTES)
        return fail(req, PARSE_EINVALID, ERR_QUOTES);
    for (int k = 0; k < req->argc; k++) {
        req->argv[k].p = req->scratch + req->off[k];
        req->argv[k].len = req->lens[k];
    }
    return PARSE_OK;
}

/* Splits a line without quotes in place: arguments point into buf. */
static parse_rstatus_e split_plain(struct request *req, const char *p, size_t n)
{
    size_t i = 0;
    req->argc = 0;
    for (;;) {
        while (i < n && is_blank(p[i]))
            i++;
        if (i >= n)
            break;
        size_t start = i;
        while (i < n && !split_ends_word(p[i], INLINE_RULES))
            i++;
        if (!args_reserve(req, (size_t)req->argc + 1))
            return fail(req, PARSE_EOVERSIZE, ERR_NOMEM);
        req->argv[req->argc].p = p + start;
        req->argv[req->argc].len = i - start;
        req->argc++;
    }
    return PARSE_OK;
}

static parse_rstatus_e parse_inline(struct request *req, const char *buf, size_t len,
                                    size_t *consumed)
{
    size_t from = req->pos + req->scanned;
    const char *nl = from < len ? memchr(buf + from, '\n', len - from) : NULL;
    if (nl == NULL) {
        req->scanned = len - req->pos;
        if (len - req->pos > RESP_MAX_INLINE)
            return fail(req, PARSE_EOVERSIZE, ERR_INLINE_BIG);
        return PARSE_UNFIN;
    }
    size_t lineend = (size_t)(nl - buf);
    if (lineend - req->pos > RESP_MAX_INLINE)
        return fail(req, PARSE_EOVERSIZE, ERR_INLINE_BIG);
    size_t n = lineend - req->pos;
    const char *p = buf + req->pos;
    if (n > 0 && p[n - 1] == '\r')
        n--;

    parse_rstatus_e st;
    if (memchr(p, '"', n) == NULL && memchr(p, '\'', n) == NULL) {
        st = split_plain(req, p, n);
    } else {
        if (req->scratch_cap < n + 1) {
            char *s = realloc(req->scratch, n + 1);
            if (s == NULL)
                return fail(req, PARSE_EOVERSIZE, ERR_NOMEM);
            req->scratch = s;
            req->scratch_cap = n + 1;
        }
        st = split_inline(req, p, n);
    }
    if (st != PARSE_OK)
        return st;
    *consumed = lineend + 1;
    int argc = req->argc;
    request_reset(req);
    req->argc = argc;
    return argc == 0 ? PARSE_EMPTY : PARSE_OK;
}

parse_rstatus_e resp_parse(struct request *req, const char *buf, size_t len,
                           const struct resp_limits *lim, size_t *consumed)
{
    *consumed = 0;
    req->err = NULL;
    req->need = 0;
    if (req->pos > len)             /* not the buffer we were resuming: restart */
        request_reset(req);
    if (req->state == ST_FRESH)
        req->argc = 0;
    if (len == 0)
        return PARSE_UNFIN;
    if (buf[0] == '*')
        return parse_multibulk(req, buf, len, lim, consumed);
    return parse_inline(req, buf, len, consumed);
}

bool slice_eq(const struct slice *s, const char *word)
{
    size_t n = strlen(word);
    if (s->len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)s->p[i], b = (unsigned char)word[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a + ('a' - 'A'));
        if (b >= 'A' && b <= 'Z')
            b = (unsigned char)(b + ('a' - 'A'));
        if (a != b)
            return false;
    }
    return true;
}

bool slice_to_ll(const struct slice *s, long long *out)
{
    return dec_to_ll(s->p, s->len, out);
}

bool slice_to_ld(const struct slice *s, long double *out)
{
    char buf[LD_MAX_CHARS];
    if (s->len == 0 || s->len >= sizeof(buf))
        return false;
    memcpy(buf, s->p, s->len);
    buf[s->len] = '\0';
    if (is_blank(buf[0]))
        return false;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (end != buf + s->len)        /* trailing bytes, spaces or an inner NUL */
        return false;
    if (isnan(v))
        return false;
    if (errno == ERANGE && (isinf(v) || v == 0.0L))
        return false;
    *out = v;
    return true;
}
