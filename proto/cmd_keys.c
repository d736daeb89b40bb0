/*
 * cmd_keys: the generic keyspace commands (DEL, EXISTS, TYPE, RENAME, KEYS,
 * SCAN, RANDOMKEY, the EXPIRE and TTL families, PERSIST) and the glob
 * matcher of KEYS and SCAN MATCH.
 *
 * Expiry arithmetic is done in absolute Unix milliseconds with explicit
 * overflow checks where Redis relies on the same checks (and, in places,
 * on signed wrap-around, which is undefined in C and so never used here).
 *
 * KEYS and SCAN hold pointers into entries only while no keyspace update
 * runs (ks_scan forbids updates from its callback and nothing else runs
 * before the reply is written), so keys are copied exactly once, into the
 * reply.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "keyspace/keyspace.h"
#include "proto/internal.h"

/* ---------------------------------------------------------------- glob */

static unsigned char fold(unsigned char c, bool nocase)
{
    return nocase ? (unsigned char)tolower(c) : c;
}

/*
 * Matches the one pattern token at pat[i] (not '*') against byte c.
 * Returns the token's length in the pattern and sets *ok.
 */
static size_t glob_token(const char *pat, size_t plen, size_t i, unsigned char c, bool nocase,
                         bool *ok)
{
    unsigned char p = (unsigned char)pat[i];

    if (p == '?') {
        *ok = true;
        return 1;
    }
    if (p == '\\' && i + 1 < plen) {
        *ok = fold((unsigned char)pat[i + 1], nocase) == fold(c, nocase);
        return 2;
    }
    if (p != '[') {
        *ok = fold(p, nocase) == fold(c, nocase);
        return 1;
    }

    size_t j = i + 1;
    bool negate = j < plen && pat[j] == '^';
    bool match = false;
    if (negate)
        j++;
    for (;;) {
        if (j >= plen)          /* unterminated set: ends with the pattern */
            break;
        if (pat[j] == '\\' && j + 1 < plen) {
            if (fold((unsigned char)pat[j + 1], nocase) == fold(c, nocase))
                match = true;
            j += 2;
        } else if (pat[j] == ']') {
            j++;
            break;
        } else if (j + 2 < plen && pat[j + 1] == '-') {
            unsigned char lo = fold((unsigned char)pat[j], nocase);
            unsigned char hi = fold((unsigned char)pat[j + 2], nocase);
            unsigned char x = fold(c, nocase);
            if (lo > hi) {
                unsigned char t = lo;
                lo = hi;
                hi = t;
            }
            if (x >= lo && x <= hi)
                match = true;
            j += 3;
        } else {
            if (fold((unsigned char)pat[j], nocase) == fold(c, nocase))
                match = true;
            j++;
        }
    }
    *ok = negate ? !match : match;
    return j - i;
}

/*
 * Every token but '*' consumes exactly one byte, so remembering only the
 * most recent star and retrying from one byte further on is complete: an
 * earlier star can never need to absorb more than the later one offers.
 */
bool glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase)
{
    size_t pi = 0, si = 0;
    size_t star_pi = 0, star_si = 0;
    bool have_star = false;

    /* Redis quirk kept for exactness: an empty string matches only the
     * empty pattern, even "*" (KEYS and SCAN special-case a bare "*"). */
    if (slen == 0)
        return plen == 0;
    while (si < slen) {
        if (pi < plen && pat[pi] == '*') {
            while (pi < plen && pat[pi] == '*')
                pi++;
            if (pi == plen)
                return true;
            have_star = true;
            star_pi = pi;
            star_si = si;
            continue;
        }
        if (pi < plen) {
            bool ok;
            size_t n = glob_token(pat, plen, pi, (unsigned char)str[si], nocase, &ok);
            if (ok) {
                pi += n;
                si++;
                continue;
            }
        }
        if (!have_star)
            return false;
        pi = star_pi;
        si = ++star_si;
    }
    while (pi < plen && pat[pi] == '*')
        pi++;
    return pi == plen;
}

/* ------------------------------------------------------ del and friends */

void cmd_del(struct session *s, int argc, struct slice *argv)
{
    long long n = 0;

    for (int j = 1; j < argc; j++)
        n += ks_del(argv[j].p, argv[j].len);
    reply_int(&s->reply, n);
}

/* Counts a key once per mention, as Redis does ("EXISTS k k" is 2). */
void cmd_exists(struct session *s, int argc, struct slice *argv)
{
    long long n = 0;

    for (int j = 1; j < argc; j++)
        n += ks_get_notouch(argv[j].p, argv[j].len) != NULL;
    reply_int(&s->reply, n);
}

void cmd_touch(struct session *s, int argc, struct slice *argv)
{
    long long n = 0;

    for (int j = 1; j < argc; j++) {
        struct entry *e = ks_peek(argv[j].p, argv[j].len);
        if (e != NULL) {
            ks_touch(e);
            n++;
        }
    }
    reply_int(&s->reply, n);
}

void cmd_type(struct session *s, int argc, struct slice *argv)
{
    reply_status(&s->reply, ks_get_notouch(argv[1].p, argv[1].len) != NULL ? "string" : "none");
}

/* ---------------------------------------------------------------- rename */

static void rename_generic(struct session *s, const struct slice *src, const struct slice *dst,
                           bool nx)
{
    struct entry *e = ks_peek(src->p, src->len);

    if (e == NULL) {
        reply_error(&s->reply, ERR_NO_KEY);
        return;
    }
    if (src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0) {
        if (nx)
            reply_int(&s->reply, 0);
        else
            reply_ok(&s->reply);
        return;
    }
    if (nx && ks_peek(dst->p, dst->len) != NULL) {
        reply_int(&s->reply, 0);
        return;
    }
    /* The entry embeds its key, so a rename is a copy under the new key
     * (keeping the expiry) followed by deleting the old one. */
    size_t vlen;
    const char *v = entry_val(e, &vlen);
    if (ks_set(dst->p, dst->len, v, vlen, entry_expire(e)) != KS_OK) {
        reply_error(&s->reply, ERR_NOMEM);
        return;
    }
    ks_del(src->p, src->len);
    if (nx)
        reply_int(&s->reply, 1);
    else
        reply_ok(&s->reply);
}

void cmd_rename(struct session *s, int argc, struct slice *argv)
{
    rename_generic(s, &argv[1], &argv[2], false);
}

void cmd_renamenx(struct session *s, int argc, struct slice *argv)
{
    rename_generic(s, &argv[1], &argv[2], true);
}

/* ------------------------------------------------------ keys, scan, random */

struct keys_ctx {
    struct session *s;
    const struct slice *pat;    /* NULL: everything */
    size_t n;
};

static void keys_visit(struct entry *e, void *arg)
{
    struct keys_ctx *k = arg;
    size_t klen;
    const char *key = entry_key(e, &klen);

    if (k->pat != NULL && !glob_match(k->pat->p, k->pat->len, key, klen, false))
        return;
    reply_bulk(&k->s->reply, key, klen);
    k->n++;
}

/* Writes matching keys straight into the reply behind a deferred header,
 * so KEYS needs no scratch memory however many keys match. */
void cmd_keys(struct session *s, int argc, struct slice *argv)
{
    struct keys_ctx k = { s, &argv[1], 0 };
    if (argv[1].len == 1 && argv[1].p[0] == '*')
        k.pat = NULL;

    size_t h = reply_defer(&s->reply);
    uint64_t cursor = 0;
    do {
        cursor = ks_scan(cursor, 1024, keys_visit, &k);
    } while (cursor != 0);
    reply_defer_array(&s->reply, h, k.n);
}

/* Buckets one SCAN call may always visit: cheap, and enough to finish a
 * small keyspace in one call. */
#define SCAN_MIN_BUCKETS 4096

struct scan_ctx {
    const struct slice *pat;    /* NULL: everything */
    bool none;                  /* TYPE asked for a type no key has */
    struct slice *keys;
    size_t n, cap;
    bool oom;
};

static void scan_visit(struct entry *e, void *arg)
{
    struct scan_ctx *c = arg;
    size_t klen;
    const char *key = entry_key(e, &klen);

    if (c->none || c->oom)
        return;
    if (c->pat != NULL && !glob_match(c->pat->p, c->pat->len, key, klen, false))
        return;
    if (c->n == c->cap) {
        size_t ncap = c->cap == 0 ? 16 : c->cap * 2;
        struct slice *nk = realloc(c->keys, ncap * sizeof *nk);
        if (nk == NULL) {
            c->oom = true;
            return;
        }
        c->keys = nk;
        c->cap = ncap;
    }
    c->keys[c->n].p = key;
    c->keys[c->n].len = klen;
    c->n++;
}

/*
 * Parses a SCAN cursor the way Redis does (strtoul semantics): decimal,
 * optional sign ("-1" wraps to 2^64-1), leading zeros allowed, empty means
 * 0; a leading space, junk after the digits or overflow is invalid. Like C
 * string parsing, an embedded NUL ends the number.
 */
static bool parse_cursor(const struct slice *a, uint64_t *out)
{
    const char *p = a->p, *end = a->p + a->len;
    bool neg = false;
    uint64_t v = 0;

    if (p == end) {
        *out = 0;
        return true;
    }
    if (isspace((unsigned char)*p))
        return false;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        p++;
    }
    if (p == digits)            /* no digits: strtoul leaves eptr at the start */
        return false;
    if (p < end && *p != '\0')
        return false;
    *out = neg ? (uint64_t)0 - v : v;
    return true;
}

void cmd_scan(struct session *s, int argc, struct slice *argv)
{
    uint64_t cursor;
    long long count = 10;
    struct scan_ctx c = { 0 };

    if (!parse_cursor(&argv[1], &cursor)) {
        reply_error(&s->reply, "ERR invalid cursor");
        return;
    }
    for (int i = 2; i < argc; i += 2) {
        bool has_arg = argc - i >= 2;
        if (has_arg && slice_eq(&argv[i], "count")) {
            if (!slice_to_ll(&argv[i + 1], &count)) {
                reply_error(&s->reply, ERR_NOT_INT);
                return;
            }
            if (count < 1) {
                reply_error(&s->reply, ERR_SYNTAX);
                return;
            }
        } else if (has_arg && slice_eq(&argv[i], "match")) {
            const struct slice *p = &argv[i + 1];
            c.pat = (p->len == 1 && p->p[0] == '*') ? NULL : p;
        } else if (has_arg && slice_eq(&argv[i], "type")) {
            /* Every key is a string; another type name (even an unknown
             * one, as in Redis 7.0) simply matches nothing. */
            c.none = !slice_eq(&argv[i + 1], "string");
        } else {
            reply_error(&s->reply, ERR_SYNTAX);
            return;
        }
    }

    /*
     * Like Redis: keep scanning until count keys were collected, the scan
     * wraps, or about ten times count buckets were visited (a sparse
     * filter). The budget is never below SCAN_MIN_BUCKETS, so a small or
     * sparse keyspace (the index starts at 1024 slots) is covered by one
     * call, as it is in Redis, whose tables shrink to fit.
     */
    uint64_t budget = (uint64_t)count > UINT64_MAX / 10 ? UINT64_MAX : (uint64_t)count * 10;
    if (budget < SCAN_MIN_BUCKETS)
        budget = SCAN_MIN_BUCKETS;
    uint64_t visited = 0;
    do {
        cursor = ks_scan(cursor, (size_t)count, scan_visit, &c);
        visited = visited > budget - (uint64_t)count ? budget : visited + (uint64_t)count;
    } while (cursor != 0 && visited < budget && c.n < (unsigned long long)count && !c.oom);

    if (c.oom) {
        free(c.keys);
        reply_error(&s->reply, ERR_NOMEM);
        return;
    }
    char buf[24];
    size_t bl = sizeof buf;
    uint64_t v = cursor;
    do {
        buf[--bl] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);

    reply_array(&s->reply, 2);
    reply_bulk(&s->reply, buf + bl, sizeof buf - bl);
    reply_array(&s->reply, c.n);
    for (size_t j = 0; j < c.n; j++)
        reply_bulk(&s->reply, c.keys[j].p, c.keys[j].len);
    free(c.keys);
}

void cmd_randomkey(struct session *s, int argc, struct slice *argv)
{
    struct entry *e = ks_random();

    if (e == NULL) {
        reply_null(&s->reply);
        return;
    }
    size_t klen;
    const char *key = entry_key(e, &klen);
    reply_bulk(&s->reply, key, klen);
}

/* ---------------------------------------------------------------- expiry */

enum {
    EXP_NX = 1u << 0,
    EXP_XX = 1u << 1,
    EXP_GT = 1u << 2,
    EXP_LT = 1u << 3,
};

/*
 * EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT]. Order of checks
 * is Redis's: options, then the number, then overflow, then the key.
 * Negative times are allowed (they delete the key). A key without a TTL
 * counts as an infinite TTL for GT and LT.
 */
static void expire_generic(struct session *s, int argc, struct slice *argv, bool seconds,
                           bool relative, const char *cmd)
{
    unsigned flags = 0;

    for (int j = 3; j < argc; j++) {
        if (slice_eq(&argv[j], "nx"))
            flags |= EXP_NX;
        else if (slice_eq(&argv[j], "xx"))
            flags |= EXP_XX;
        else if (slice_eq(&argv[j], "gt"))
            flags |= EXP_GT;
        else if (slice_eq(&argv[j], "lt"))
            flags |= EXP_LT;
        else {
            reply_errorf(&s->reply, "ERR Unsupported option %.*s", (int)argv[j].len, argv[j].p);
            return;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(&s->reply, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        reply_error(&s->reply, "ERR GT and LT options at the same time are not compatible");
        return;
    }

    long long when;
    if (!slice_to_ll(&argv[2], &when)) {
        reply_error(&s->reply, ERR_NOT_INT);
        return;
    }
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            reply_errorf(&s->reply, "ERR invalid expire time in '%s' command", cmd);
            return;
        }
        when *= 1000;
    }
    if (relative) {
        long long now = ks_now_ms();
        if (when > LLONG_MAX - now) {
            reply_errorf(&s->reply, "ERR invalid expire time in '%s' command", cmd);
            return;
        }
        when += now;
    }

    struct entry *e = ks_peek(argv[1].p, argv[1].len);
    if (e == NULL) {
        reply_int(&s->reply, 0);
        return;
    }
    int64_t cur = entry_expire(e);
    if (((flags & EXP_NX) && cur != KS_NO_EXPIRE) ||
        ((flags & EXP_XX) && cur == KS_NO_EXPIRE) ||
        ((flags & EXP_GT) && (cur == KS_NO_EXPIRE || when <= cur)) ||
        ((flags & EXP_LT) && cur != KS_NO_EXPIRE && when >= cur)) {
        reply_int(&s->reply, 0);
        return;
    }
    if (when <= ks_now_ms()) {
        ks_del(argv[1].p, argv[1].len);
        reply_int(&s->reply, 1);
        return;
    }
    bool deleted = false;
    if (ks_set_expire(e, when, &deleted) == NULL && !deleted) {
        reply_error(&s->reply, ERR_NOMEM);
        return;
    }
    reply_int(&s->reply, 1);
}

void cmd_expire(struct session *s, int argc, struct slice *argv)
{
    expire_generic(s, argc, argv, true, true, "expire");
}

void cmd_pexpire(struct session *s, int argc, struct slice *argv)
{
    expire_generic(s, argc, argv, false, true, "pexpire");
}

void cmd_expireat(struct session *s, int argc, struct slice *argv)
{
    expire_generic(s, argc, argv, true, false, "expireat");
}

void cmd_pexpireat(struct session *s, int argc, struct slice *argv)
{
    expire_generic(s, argc, argv, false, false, "pexpireat");
}

/* -2 missing, -1 no expiry, else the remaining (or absolute) time; seconds
 * are rounded half up, as Redis does. */
static void ttl_generic(struct session *s, const struct slice *key, bool ms, bool absolute)
{
    struct entry *e = ks_get_notouch(key->p, key->len);

    if (e == NULL) {
        reply_int(&s->reply, -2);
        return;
    }
    int64_t when = entry_expire(e);
    if (when == KS_NO_EXPIRE) {
        reply_int(&s->reply, -1);
        return;
    }
    int64_t t = absolute ? when : when - ks_now_ms();
    if (t < 0)
        t = 0;
    reply_int(&s->reply, ms ? t : t / 1000 + (t % 1000 >= 500));
}

void cmd_ttl(struct session *s, int argc, struct slice *argv)
{
    ttl_generic(s, &argv[1], false, false);
}

void cmd_pttl(struct session *s, int argc, struct slice *argv)
{
    ttl_generic(s, &argv[1], true, false);
}

void cmd_expiretime(struct session *s, int argc, struct slice *argv)
{
    ttl_generic(s, &argv[1], false, true);
}

void cmd_pexpiretime(struct session *s, int argc, struct slice *argv)
{
    ttl_generic(s, &argv[1], true, true);
}

void cmd_persist(struct session *s, int argc, struct slice *argv)
{
    struct entry *e = ks_peek(argv[1].p, argv[1].len);

    if (e == NULL || entry_expire(e) == KS_NO_EXPIRE) {
        reply_int(&s->reply, 0);
        return;
    }
    bool deleted = false;
    if (ks_set_expire(e, KS_NO_EXPIRE, &deleted) == NULL) {
        reply_error(&s->reply, ERR_NOMEM);
        return;
    }
    reply_int(&s->reply, 1);
}
