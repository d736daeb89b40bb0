/*
 * reply: RESP2/RESP3 encoder into one flat, growable buffer per session.
 *
 * This is on the path of every reply, so the common writers (integers, bulk
 * headers, status lines) format numbers by hand and reserve all the bytes
 * they need with a single capacity check; printf is used only for doubles
 * and for reply_errorf.
 *
 * Invariants:
 *  - buf[0..len) is a sequence of complete RESP values, except for headers
 *    reserved by reply_defer that have not been filled yet.
 *  - once r->oom is set nothing more is written until reply_clear, so the
 *    daemon can never send a reply with a hole in it.
 *  - a deferred header occupies REPLY_DEFER_RESERVE bytes until it is filled;
 *    filling it closes the gap with one memmove of the bytes after it, so
 *    nested deferred headers must be filled innermost first.
 */
#include "proto/reply.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A buffer that grew above this is shrunk back on reply_clear. */
#define REPLY_SHRINK_ABOVE (64 * 1024)
#define REPLY_SHRINK_TO    (16 * 1024)
#define REPLY_MIN_CAP      256
/* Widest aggregate header: type byte, 20 digits, CRLF. */
#define REPLY_DEFER_RESERVE 23

void reply_init(struct reply *r)
{
    r->buf = NULL;
    r->len = 0;
    r->cap = 0;
    r->resp = 2;
    r->oom = false;
    r->nerrors = 0;
    r->no_errorstats = false;
}

void reply_deinit(struct reply *r)
{
    free(r->buf);
    r->buf = NULL;
    r->len = 0;
    r->cap = 0;
    r->oom = false;
}

void reply_clear(struct reply *r)
{
    r->len = 0;
    r->oom = false;
    if (r->cap > REPLY_SHRINK_ABOVE) {
        char *nb = realloc(r->buf, REPLY_SHRINK_TO);
        if (nb != NULL) {      /* a failed shrink just keeps the big buffer */
            r->buf = nb;
            r->cap = REPLY_SHRINK_TO;
        }
    }
}

static bool reply_grow(struct reply *r, size_t need)
{
    if (r->oom)
        return false;
    size_t want = r->len + need;
    if (want < r->len) {       /* size_t overflow: cannot be satisfied */
        r->oom = true;
        return false;
    }
    size_t ncap = r->cap < REPLY_MIN_CAP ? REPLY_MIN_CAP : r->cap;
    while (ncap < want) {
        if (ncap > SIZE_MAX / 2) {
            ncap = want;
            break;
        }
        ncap *= 2;
    }
    char *nb = realloc(r->buf, ncap);
    if (nb == NULL) {
        r->oom = true;
        return false;
    }
    r->buf = nb;
    r->cap = ncap;
    return true;
}

/* Makes room for need more bytes; false if the reply is (now) broken. */
static inline bool reply_reserve(struct reply *r, size_t need)
{
    if (__builtin_expect(r->cap - r->len >= need && !r->oom, 1))
        return true;
    return reply_grow(r, need);
}

static const char digit_pairs[201] =
    "00010203040506070809"
    "10111213141516171819"
    "20212223242526272829"
    "30313233343536373839"
    "40414243444546474849"
    "50515253545556575859"
    "60616263646566676869"
    "70717273747576777879"
    "80818283848586878889"
    "90919293949596979899";

/* Writes v in decimal at dst (room for 20 bytes); returns the digits written. */
static inline size_t u64_to_dec(char *dst, uint64_t v)
{
    char tmp[20];
    char *p = tmp + sizeof(tmp);
    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        *--p = digit_pairs[i + 1];
        *--p = digit_pairs[i];
    }
    if (v >= 10) {
        unsigned i = (unsigned)v * 2;
        *--p = digit_pairs[i + 1];
        *--p = digit_pairs[i];
    } else {
        *--p = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(dst, p, n);
    return n;
}

/* Signed variant; room for 21 bytes. */
static inline size_t ll_to_dec(char *dst, long long v)
{
    if (v < 0) {
        *dst = '-';
        /* negate in unsigned arithmetic so LLONG_MIN does not overflow */
        return 1 + u64_to_dec(dst + 1, 0 - (uint64_t)v);
    }
    return u64_to_dec(dst, (uint64_t)v);
}

/* Appends "<type><v>\r\n" (at most 24 bytes). */
static inline void reply_header_ll(struct reply *r, char type, long long v)
{
    if (!reply_reserve(r, 24))
        return;
    char *p = r->buf + r->len;
    *p++ = type;
    p += ll_to_dec(p, v);
    *p++ = '\r';
    *p++ = '\n';
    r->len = (size_t)(p - r->buf);
}

static inline void reply_header_sz(struct reply *r, char type, size_t n)
{
    if (!reply_reserve(r, 24))
        return;
    char *p = r->buf + r->len;
    *p++ = type;
    p += u64_to_dec(p, (uint64_t)n);
    *p++ = '\r';
    *p++ = '\n';
    r->len = (size_t)(p - r->buf);
}

void reply_raw(struct reply *r, const void *p, size_t n)
{
    if (!reply_reserve(r, n))
        return;
    if (n > 0)
        memcpy(r->buf + r->len, p, n);
    r->len += n;
}

/* Appends "<type><text>\r\n" with CR and LF in text turned into spaces, so a
 * message can never end the line early and desynchronise the client. */
static void reply_line(struct reply *r, char type, const char *text)
{
    size_t n = strlen(text);
    if (!reply_reserve(r, n + 3))
        return;
    char *p = r->buf + r->len;
    *p++ = type;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        *p++ = (c == '\r' || c == '\n') ? ' ' : c;
    }
    *p++ = '\r';
    *p++ = '\n';
    r->len = (size_t)(p - r->buf);
}

void reply_status(struct reply *r, const char *s)
{
    reply_line(r, '+', s);
}

/*
 * Error statistics (INFO errorstats). Every error reply is counted under
 * its code, the first word of the text, found as Redis finds it: a space
 * within the first 32 bytes ends the code, and a text without one counts as
 * "ERR". Codes are kept sorted (INFO lists them in that order). Every code
 * comes from compactd's own literal error texts (there is no scripting to
 * invent new ones), so there are a handful; ERRSTAT_MAX only bounds the
 * table: a code beyond it would count in the total alone. (Redis 7.0 has
 * no such bound; 7.2 added one at 128.)
 */
#define ERRSTAT_MAX 128
#define ERRSTAT_CODE_MAX 32

struct errstat {
    char code[ERRSTAT_CODE_MAX];
    uint64_t count;
};

static struct errstat errstats[ERRSTAT_MAX];
static size_t nerrstats;
static uint64_t errors_total;

static void errstat_count(const char *text)
{
    size_t len = 0;
    while (len < ERRSTAT_CODE_MAX && text[len] != '\0' && text[len] != ' ')
        len++;
    if (len == ERRSTAT_CODE_MAX || text[len] != ' ') {
        text = "ERR";
        len = 3;
    }
    errors_total++;
    size_t lo = 0, hi = nerrstats;
    while (lo < hi) {   /* binary search in the sorted codes */
        size_t mid = (lo + hi) / 2;
        int c = strncmp(errstats[mid].code, text, len);
        if (c == 0 && errstats[mid].code[len] == '\0') {
            errstats[mid].count++;
            return;
        }
        if (c < 0)     /* c == 0 here means the stored code is longer */
            lo = mid + 1;
        else
            hi = mid;
    }
    if (nerrstats == ERRSTAT_MAX)
        return;
    memmove(&errstats[lo + 1], &errstats[lo], (nerrstats - lo) * sizeof errstats[0]);
    memcpy(errstats[lo].code, text, len);
    errstats[lo].code[len] = '\0';
    errstats[lo].count = 1;
    nerrstats++;
}

void reply_errorstats_foreach(reply_errstat_fn fn, void *ctx)
{
    for (size_t i = 0; i < nerrstats; i++)
        fn(errstats[i].code, errstats[i].count, ctx);
}

uint64_t reply_errors_total(void)
{
    return errors_total;
}

void reply_errorstats_reset(void)
{
    nerrstats = 0;
    errors_total = 0;
}

void reply_error(struct reply *r, const char *text)
{
    r->nerrors++;
    if (!r->no_errorstats)
        errstat_count(text);
    reply_line(r, '-', text);
}

void reply_errorf(struct reply *r, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        reply_error(r, "ERR internal error formatting a reply");
        return;
    }
    if ((size_t)n < sizeof(small)) {
        reply_error(r, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        r->nerrors++;
        if (!r->no_errorstats)
            errstat_count(fmt);   /* the code is literal text in every format */
        r->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    reply_error(r, big);
    free(big);
}

void reply_ok(struct reply *r)
{
    reply_raw(r, "+OK\r\n", 5);
}

void reply_int(struct reply *r, long long v)
{
    reply_header_ll(r, ':', v);
}

void reply_bulk(struct reply *r, const void *p, size_t n)
{
    /* one reservation for header, payload and trailer */
    if (n > SIZE_MAX - 32) {
        r->oom = true;
        return;
    }
    if (!reply_reserve(r, n + 24 + 2))
        return;
    char *d = r->buf + r->len;
    *d++ = '$';
    d += u64_to_dec(d, (uint64_t)n);
    *d++ = '\r';
    *d++ = '\n';
    if (n > 0)
        memcpy(d, p, n);
    d += n;
    *d++ = '\r';
    *d++ = '\n';
    r->len = (size_t)(d - r->buf);
}

void reply_cstr(struct reply *r, const char *s)
{
    reply_bulk(r, s, strlen(s));
}

void reply_bulk_ll(struct reply *r, long long v)
{
    char num[21];
    size_t n = ll_to_dec(num, v);
    reply_bulk(r, num, n);
}

void reply_null(struct reply *r)
{
    if (r->resp >= 3)
        reply_raw(r, "_\r\n", 3);
    else
        reply_raw(r, "$-1\r\n", 5);
}

void reply_null_array(struct reply *r)
{
    if (r->resp >= 3)
        reply_raw(r, "_\r\n", 3);
    else
        reply_raw(r, "*-1\r\n", 5);
}

void reply_array(struct reply *r, size_t n)
{
    reply_header_sz(r, '*', n);
}

void reply_map(struct reply *r, size_t npairs)
{
    if (r->resp >= 3)
        reply_header_sz(r, '%', npairs);
    else
        reply_header_sz(r, '*', npairs * 2);
}

void reply_set(struct reply *r, size_t n)
{
    reply_header_sz(r, r->resp >= 3 ? '~' : '*', n);
}

void reply_double(struct reply *r, double d)
{
    char num[64];
    int n;
    if (isinf(d))
        n = snprintf(num, sizeof(num), "%s", d > 0 ? "inf" : "-inf");
    else if (isnan(d))
        n = snprintf(num, sizeof(num), "nan");
    else
        n = snprintf(num, sizeof(num), "%.17g", d);
    if (n < 0 || (size_t)n >= sizeof(num))
        n = 0;
    if (r->resp >= 3) {
        if (!reply_reserve(r, (size_t)n + 3))
            return;
        char *p = r->buf + r->len;
        *p++ = ',';
        memcpy(p, num, (size_t)n);
        p += n;
        *p++ = '\r';
        *p++ = '\n';
        r->len = (size_t)(p - r->buf);
    } else {
        reply_bulk(r, num, (size_t)n);
    }
}

size_t reply_format_long_double(char *buf, long double v)
{
    int n;
    if (isinf(v))
        n = snprintf(buf, REPLY_LD_BUFSIZE, "%s", v > 0 ? "inf" : "-inf");
    else if (isnan(v))
        n = snprintf(buf, REPLY_LD_BUFSIZE, "nan");
    else
        n = snprintf(buf, REPLY_LD_BUFSIZE, "%.17Lf", v);
    if (n < 0 || n >= REPLY_LD_BUFSIZE)     /* cannot happen: the size fits LDBL_MAX */
        n = 0;
    size_t len = (size_t)n;
    /* "%.17Lf" always has a '.': drop trailing zeros, then a bare dot */
    if (memchr(buf, '.', len) != NULL) {
        while (len > 0 && buf[len - 1] == '0')
            len--;
        if (len > 0 && buf[len - 1] == '.')
            len--;
    }
    if (len == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        len = 1;
    }
    buf[len] = '\0';
    return len;
}

void reply_long_double(struct reply *r, long double d)
{
    char num[REPLY_LD_BUFSIZE];
    size_t n = reply_format_long_double(num, d);
    reply_bulk(r, num, n);
}

void reply_bool(struct reply *r, bool b)
{
    if (r->resp >= 3)
        reply_raw(r, b ? "#t\r\n" : "#f\r\n", 4);
    else
        reply_raw(r, b ? ":1\r\n" : ":0\r\n", 4);
}

void reply_verbatim(struct reply *r, const char *p, size_t n, const char *fmt3)
{
    if (r->resp < 3) {
        reply_bulk(r, p, n);
        return;
    }
    char f[3] = {'t', 'x', 't'};
    /* the format is exactly three bytes; pad a short one rather than
     * emit a frame whose length disagrees with its bytes */
    for (size_t i = 0; i < 3 && fmt3 != NULL && fmt3[i] != '\0'; i++)
        f[i] = fmt3[i];
    if (n > SIZE_MAX - 64) {
        r->oom = true;
        return;
    }
    reply_header_sz(r, '=', n + 4);
    if (!reply_reserve(r, n + 6))
        return;
    char *d = r->buf + r->len;
    memcpy(d, f, 3);
    d[3] = ':';
    d += 4;
    if (n > 0)
        memcpy(d, p, n);
    d += n;
    *d++ = '\r';
    *d++ = '\n';
    r->len = (size_t)(d - r->buf);
}

size_t reply_defer(struct reply *r)
{
    size_t handle = r->len;
    if (!reply_reserve(r, REPLY_DEFER_RESERVE))
        return handle;
    r->len += REPLY_DEFER_RESERVE;
    return handle;
}

static void reply_defer_fill(struct reply *r, size_t handle, char type, size_t n)
{
    if (r->oom || handle + REPLY_DEFER_RESERVE > r->len)
        return;
    char hdr[REPLY_DEFER_RESERVE];
    char *p = hdr;
    *p++ = type;
    p += u64_to_dec(p, (uint64_t)n);
    *p++ = '\r';
    *p++ = '\n';
    size_t h = (size_t)(p - hdr);
    char *slot = r->buf + handle;
    size_t tail = r->len - handle - REPLY_DEFER_RESERVE;
    if (h != REPLY_DEFER_RESERVE)
        memmove(slot + h, slot + REPLY_DEFER_RESERVE, tail);
    memcpy(slot, hdr, h);
    r->len -= REPLY_DEFER_RESERVE - h;
}

void reply_defer_array(struct reply *r, size_t handle, size_t n)
{
    reply_defer_fill(r, handle, '*', n);
}

void reply_defer_map(struct reply *r, size_t handle, size_t npairs)
{
    if (r->resp >= 3)
        reply_defer_fill(r, handle, '%', npairs);
    else
        reply_defer_fill(r, handle, '*', npairs * 2);
}
