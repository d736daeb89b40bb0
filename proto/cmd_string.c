/*
 * cmd_string: the string commands (GET/SET family, ranges, counters).
 *
 * Every value is a byte string; counters are stored as plain decimal text
 * and parsed strictly on each use, exactly as Redis does, so a value that
 * was SET as "10" can be INCRed and one set as " 10" cannot.
 *
 * Memory rule: a new value is always built in a fresh entry from ks_alloc
 * and published with ks_insert, so when the allocator fails the command
 * replies ERR_NOMEM and the old value is untouched. Only updates that keep
 * the length (INCR with a same-width result, SETRANGE inside the value)
 * write in place. A reply is written only after the last step that can
 * fail, so a failing command never leaves half a reply behind.
 *
 * Lookups: read commands use ks_get (counts keyspace hits/misses), write
 * commands ks_peek, matching Redis's lookupKeyRead/lookupKeyWrite.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "keyspace/keyspace.h"
#include "proto/internal.h"

/* Option bits shared by SET and GETEX (Redis parses both with one loop). */
enum {
    OPT_NX = 1u << 0,
    OPT_XX = 1u << 1,
    OPT_GET = 1u << 2,
    OPT_KEEPTTL = 1u << 3,
    OPT_PERSIST = 1u << 4,
    OPT_EX = 1u << 5,
    OPT_PX = 1u << 6,
    OPT_EXAT = 1u << 7,
    OPT_PXAT = 1u << 8,
};
#define OPT_ANY_EXPIRE (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

/* How set_generic answers: SET-style (+OK / null) or SETNX-style (:1 / :0). */
enum set_style { SET_STYLE_OK, SET_STYLE_INT };

/* entry_val's writable pointer when the length is already known. */
static char *val_ptr(struct entry *e)
{
    size_t n;
    return entry_val(e, &n);
}

static void reply_value(struct session *s, struct entry *e)
{
    size_t n;
    const char *v = entry_val(e, &n);
    reply_bulk(&s->reply, v, n);
}

static void reply_value_or_null(struct session *s, struct entry *e)
{
    if (e == NULL)
        reply_null(&s->reply);
    else
        reply_value(s, e);
}

static void reply_expire_error(struct session *s, const char *cmd)
{
    reply_errorf(&s->reply, "ERR invalid expire time in '%s' command", cmd);
}

/*
 * Parses SET's (for_set) or GETEX's options from argv[first..]. The
 * accepted combinations are Redis 7.0's: an option may repeat (the last
 * expire wins), NX with XX, KEEPTTL or PERSIST with any expire, and an
 * expire without its argument are syntax errors; GET is allowed with NX.
 */
static bool parse_string_opts(struct session *s, int argc, struct slice *argv, int first,
                              bool for_set, unsigned *flags, struct slice **expire)
{
    for (int j = first; j < argc; j++) {
        struct slice *opt = &argv[j];
        bool has_next = j + 1 < argc;
        unsigned f = *flags;

        if (for_set && slice_eq(opt, "nx") && !(f & OPT_XX)) {
            *flags |= OPT_NX;
        } else if (for_set && slice_eq(opt, "xx") && !(f & OPT_NX)) {
            *flags |= OPT_XX;
        } else if (for_set && slice_eq(opt, "get")) {
            *flags |= OPT_GET;
        } else if (for_set && slice_eq(opt, "keepttl") && !(f & (OPT_PERSIST | OPT_ANY_EXPIRE))) {
            *flags |= OPT_KEEPTTL;
        } else if (!for_set && slice_eq(opt, "persist") && !(f & (OPT_KEEPTTL | OPT_ANY_EXPIRE))) {
            *flags |= OPT_PERSIST;
        } else if (slice_eq(opt, "ex") && has_next &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_PX | OPT_EXAT | OPT_PXAT))) {
            *flags |= OPT_EX;
            *expire = &argv[++j];
        } else if (slice_eq(opt, "px") && has_next &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_EXAT | OPT_PXAT))) {
            *flags |= OPT_PX;
            *expire = &argv[++j];
        } else if (slice_eq(opt, "exat") && has_next &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_PX | OPT_PXAT))) {
            *flags |= OPT_EXAT;
            *expire = &argv[++j];
        } else if (slice_eq(opt, "pxat") && has_next &&
                   !(f & (OPT_KEEPTTL | OPT_PERSIST | OPT_EX | OPT_PX | OPT_EXAT))) {
            *flags |= OPT_PXAT;
            *expire = &argv[++j];
        } else {
            reply_error(&s->reply, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/*
 * Turns an EX/PX/EXAT/PXAT argument into absolute Unix ms. Zero, negative
 * and overflowing times are "invalid expire time" (Redis checks the unit
 * conversion and the addition of "now" separately; so do we, without
 * relying on signed wrap-around).
 */
static bool expire_arg_to_ms(struct session *s, const struct slice *arg, unsigned flags,
                             const char *cmd, int64_t *out)
{
    long long v;

    if (!slice_to_ll(arg, &v)) {
        reply_error(&s->reply, ERR_NOT_INT);
        return false;
    }
    bool seconds = (flags & (OPT_EX | OPT_EXAT)) != 0;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        reply_expire_error(s, cmd);
        return false;
    }
    if (seconds)
        v *= 1000;
    if (flags & (OPT_EX | OPT_PX)) {
        long long now = ks_now_ms();
        if (v > LLONG_MAX - now) {
            reply_expire_error(s, cmd);
            return false;
        }
        v += now;
    }
    *out = v;
    return true;
}

/*
 * The common core of SET, SETNX, SETEX, PSETEX and GETSET. `when` is the
 * absolute expiry or KS_NO_EXPIRE; OPT_KEEPTTL keeps the old one.
 */
static void set_generic(struct session *s, const struct slice *key, const struct slice *val,
                        unsigned flags, int64_t when, enum set_style style)
{
    bool get = (flags & OPT_GET) != 0;
    struct entry *old = get ? ks_get(key->p, key->len) : ks_peek(key->p, key->len);

    if (((flags & OPT_NX) && old != NULL) || ((flags & OPT_XX) && old == NULL)) {
        if (get)
            reply_value_or_null(s, old);
        else if (style == SET_STYLE_INT)
            reply_int(&s->reply, 0);
        else
            reply_null(&s->reply);
        return;
    }
    if ((flags & OPT_KEEPTTL) && old != NULL)
        when = entry_expire(old);

    /* An absolute time already in the past: the key would be expired on
     * its next lookup, so it is simply gone now. */
    if (when != KS_NO_EXPIRE && when <= ks_now_ms()) {
        if (get)
            reply_value_or_null(s, old);
        ks_del(key->p, key->len);
        if (!get)
            reply_ok(&s->reply);
        return;
    }

    struct entry *e = ks_alloc(key->p, key->len, val->len, when);
    if (e == NULL) {
        reply_error(&s->reply, ERR_NOMEM);
        return;
    }
    if (val->len > 0)
        memcpy(val_ptr(e), val->p, val->len);
    if (get)
        reply_value_or_null(s, old);   /* old is still intact until ks_insert */
    ks_insert(e);
    if (!get) {
        if (style == SET_STYLE_INT)
            reply_int(&s->reply, 1);
        else
            reply_ok(&s->reply);
    }
}

void cmd_get(struct session *s, int argc, struct slice *argv)
{
    reply_value_or_null(s, ks_get(argv[1].p, argv[1].len));
}

void cmd_set(struct session *s, int argc, struct slice *argv)
{
    unsigned flags = 0;
    struct slice *expire = NULL;
    int64_t when = KS_NO_EXPIRE;

    if (!parse_string_opts(s, argc, argv, 3, true, &flags, &expire))
        return;
    if (expire != NULL && !expire_arg_to_ms(s, expire, flags, "set", &when))
        return;
    set_generic(s, &argv[1], &argv[2], flags, when, SET_STYLE_OK);
}

void cmd_setnx(struct session *s, int argc, struct slice *argv)
{
    set_generic(s, &argv[1], &argv[2], OPT_NX, KS_NO_EXPIRE, SET_STYLE_INT);
}

void cmd_setex(struct session *s, int argc, struct slice *argv)
{
    int64_t when;

    if (!expire_arg_to_ms(s, &argv[2], OPT_EX, "setex", &when))
        return;
    set_generic(s, &argv[1], &argv[3], 0, when, SET_STYLE_OK);
}

void cmd_psetex(struct session *s, int argc, struct slice *argv)
{
    int64_t when;

    if (!expire_arg_to_ms(s, &argv[2], OPT_PX, "psetex", &when))
        return;
    set_generic(s, &argv[1], &argv[3], 0, when, SET_STYLE_OK);
}

void cmd_getset(struct session *s, int argc, struct slice *argv)
{
    set_generic(s, &argv[1], &argv[2], OPT_GET, KS_NO_EXPIRE, SET_STYLE_OK);
}

void cmd_getdel(struct session *s, int argc, struct slice *argv)
{
    struct entry *e = ks_get(argv[1].p, argv[1].len);

    if (e == NULL) {
        reply_null(&s->reply);
        return;
    }
    reply_value(s, e);          /* copied out before the entry is freed */
    ks_del(argv[1].p, argv[1].len);
}

/* GETEX: the key is looked up before the expire argument is validated, so
 * a missing key answers null even for "EX 0" (as Redis 7.0 does). */
void cmd_getex(struct session *s, int argc, struct slice *argv)
{
    unsigned flags = 0;
    struct slice *expire = NULL;
    int64_t when = KS_NO_EXPIRE;

    if (!parse_string_opts(s, argc, argv, 2, false, &flags, &expire))
        return;
    struct entry *e = ks_get(argv[1].p, argv[1].len);
    if (e == NULL) {
        reply_null(&s->reply);
        return;
    }
    if (expire != NULL && !expire_arg_to_ms(s, expire, flags, "getex", &when))
        return;

    if (expire != NULL && when <= ks_now_ms()) {
        reply_value(s, e);
        ks_del(argv[1].p, argv[1].len);
        return;
    }
    if (expire != NULL || ((flags & OPT_PERSIST) && entry_expire(e) != KS_NO_EXPIRE)) {
        bool deleted = false;
        struct entry *ne = ks_set_expire(e, expire != NULL ? when : KS_NO_EXPIRE, &deleted);
        if (ne == NULL) {
            /* when > now, so this is the allocator failing; e is intact */
            reply_error(&s->reply, ERR_NOMEM);
            return;
        }
        e = ne;
    }
    reply_value(s, e);
}

void cmd_mget(struct session *s, int argc, struct slice *argv)
{
    reply_array(&s->reply, (size_t)(argc - 1));
    for (int j = 1; j < argc; j++)
        reply_value_or_null(s, ks_get(argv[j].p, argv[j].len));
}

/* Sets argv[1..] pairs in order (a repeated key keeps its last value).
 * Without a multi-entry transaction in keyspace, an allocation failure
 * part-way leaves the earlier pairs set; the reply says OOM. */
static bool mset_pairs(struct session *s, int argc, struct slice *argv)
{
    for (int j = 1; j < argc; j += 2) {
        if (ks_set(argv[j].p, argv[j].len, argv[j + 1].p, argv[j + 1].len, KS_NO_EXPIRE) != KS_OK) {
            reply_error(&s->reply, ERR_NOMEM);
            return false;
        }
    }
    return true;
}

void cmd_mset(struct session *s, int argc, struct slice *argv)
{
    if (argc % 2 == 0) {
        reply_error(&s->reply, "ERR wrong number of arguments for 'mset' command");
        return;
    }
    if (mset_pairs(s, argc, argv))
        reply_ok(&s->reply);
}

void cmd_msetnx(struct session *s, int argc, struct slice *argv)
{
    if (argc % 2 == 0) {
        reply_error(&s->reply, "ERR wrong number of arguments for 'msetnx' command");
        return;
    }
    for (int j = 1; j < argc; j += 2) {
        if (ks_peek(argv[j].p, argv[j].len) != NULL) {
            reply_int(&s->reply, 0);
            return;
        }
    }
    if (mset_pairs(s, argc, argv))
        reply_int(&s->reply, 1);
}

void cmd_append(struct session *s, int argc, struct slice *argv)
{
    const struct slice *key = &argv[1], *add = &argv[2];
    struct entry *old = ks_peek(key->p, key->len);

    if (old == NULL) {
        if (ks_set(key->p, key->len, add->p, add->len, KS_NO_EXPIRE) != KS_OK) {
            reply_error(&s->reply, ERR_NOMEM);
            return;
        }
        reply_int(&s->reply, (long long)add->len);
        return;
    }
    size_t olen = entry_vlen(old);
    if (!proto_check_value_len(s, (uint64_t)olen + add->len))
        return;
    if (add->len == 0) {
        reply_int(&s->reply, (long long)olen);
        return;
    }
    struct entry *e = ks_alloc(key->p, key->len, olen + add->len, entry_expire(old));
    if (e == NULL) {
        reply_error(&s->reply, ERR_NOMEM);
        return;
    }
    char *v = val_ptr(e);
    memcpy(v, val_ptr(old), olen);
    memcpy(v + olen, add->p, add->len);
    ks_insert(e);
    reply_int(&s->reply, (long long)(olen + add->len));
}

void cmd_strlen(struct session *s, int argc, struct slice *argv)
{
    struct entry *e = ks_get(argv[1].p, argv[1].len);
    reply_int(&s->reply, e == NULL ? 0 : (long long)entry_vlen(e));
}

void cmd_getrange(struct session *s, int argc, struct slice *argv)
{
    long long start, end;

    if (!slice_to_ll(&argv[2], &start) || !slice_to_ll(&argv[3], &end)) {
        reply_error(&s->reply, ERR_NOT_INT);
        return;
    }
    struct entry *e = ks_get(argv[1].p, argv[1].len);
    if (e == NULL) {
        reply_bulk(&s->reply, "", 0);
        return;
    }
    size_t n;
    const char *v = entry_val(e, &n);
    long long len = (long long)n;

    /* Both negative and crossed: empty, before clamping could uncross them. */
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(&s->reply, "", 0);
        return;
    }
    if (start < 0)
        start += len;
    if (end < 0)
        end += len;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= len)
        end = len - 1;
    if (len == 0 || start > end)
        reply_bulk(&s->reply, "", 0);
    else
        reply_bulk(&s->reply, v + start, (size_t)(end - start + 1));
}

void cmd_setrange(struct session *s, int argc, struct slice *argv)
{
    const struct slice *key = &argv[1], *val = &argv[3];
    long long offset;

    if (!slice_to_ll(&argv[2], &offset)) {
        reply_error(&s->reply, ERR_NOT_INT);
        return;
    }
    if (offset < 0) {
        reply_error(&s->reply, "ERR offset is out of range");
        return;
    }
    struct entry *old = ks_peek(key->p, key->len);
    size_t olen = old == NULL ? 0 : entry_vlen(old);

    if (val->len == 0) {        /* nothing to write: no key is created */
        reply_int(&s->reply, (long long)olen);
        return;
    }
    /* offset < 2^63 and val->len < 2^63, so the sum cannot wrap a uint64 */
    uint64_t need = (uint64_t)offset + val->len;
    if (!proto_check_value_len(s, need))
        return;

    if (old != NULL && need <= olen) {
        memcpy(val_ptr(old) + offset, val->p, val->len);
        ks_modified(old);   /* in-place edits notify WATCH */
        reply_int(&s->reply, (long long)olen);
        return;
    }
    struct entry *e = ks_alloc(key->p, key->len, (size_t)need,
                               old == NULL ? KS_NO_EXPIRE : entry_expire(old));
    if (e == NULL) {
        reply_error(&s->reply, ERR_NOMEM);
        return;
    }
    char *v = val_ptr(e);
    if (olen > 0)
        memcpy(v, val_ptr(old), olen);
    if ((uint64_t)offset > olen)
        memset(v + olen, 0, (size_t)offset - olen);
    memcpy(v + offset, val->p, val->len);
    ks_insert(e);
    reply_int(&s->reply, (long long)need);
}

/*
 * Stores n under key keeping any expiry: in place when the decimal text
 * has the same width (the common case for counters), else in a new entry.
 */
static bool store_counter(struct session *s, const struct slice *key, struct entry *old,
                          const char *text, size_t n)
{
    if (old != NULL && entry_vlen(old) == n) {
        memcpy(val_ptr(old), text, n);
        ks_modified(old);   /* in-place edits notify WATCH */
        return true;
    }
    if (ks_set(key->p, key->len, text, n,
               old == NULL ? KS_NO_EXPIRE : entry_expire(old)) != KS_OK) {
        reply_error(&s->reply, ERR_NOMEM);
        return false;
    }
    return true;
}

static void incr_generic(struct session *s, const struct slice *key, long long incr)
{
    struct entry *old = ks_peek(key->p, key->len);
    long long v = 0;

    if (old != NULL) {
        struct slice cur;
        cur.p = entry_val(old, &cur.len);
        if (!slice_to_ll(&cur, &v)) {
            reply_error(&s->reply, ERR_NOT_INT);
            return;
        }
    }
    if ((incr < 0 && v < 0 && incr < LLONG_MIN - v) ||
        (incr > 0 && v > 0 && incr > LLONG_MAX - v)) {
        reply_error(&s->reply, ERR_OVERFLOW);
        return;
    }
    v += incr;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    if (store_counter(s, key, old, buf, (size_t)n))
        reply_int(&s->reply, v);
}

void cmd_incr(struct session *s, int argc, struct slice *argv)
{
    incr_generic(s, &argv[1], 1);
}

void cmd_decr(struct session *s, int argc, struct slice *argv)
{
    incr_generic(s, &argv[1], -1);
}

void cmd_incrby(struct session *s, int argc, struct slice *argv)
{
    long long incr;

    if (!slice_to_ll(&argv[2], &incr)) {
        reply_error(&s->reply, ERR_NOT_INT);
        return;
    }
    incr_generic(s, &argv[1], incr);
}

void cmd_decrby(struct session *s, int argc, struct slice *argv)
{
    long long decr;

    if (!slice_to_ll(&argv[2], &decr)) {
        reply_error(&s->reply, ERR_NOT_INT);
        return;
    }
    if (decr == LLONG_MIN) {    /* cannot be negated */
        reply_error(&s->reply, "ERR decrement would overflow");
        return;
    }
    incr_generic(s, &argv[1], -decr);
}

void cmd_incrbyfloat(struct session *s, int argc, struct slice *argv)
{
    const struct slice *key = &argv[1];
    struct entry *old = ks_peek(key->p, key->len);
    long double v = 0, incr;

    if (old != NULL) {
        struct slice cur;
        cur.p = entry_val(old, &cur.len);
        if (!slice_to_ld(&cur, &v)) {
            reply_error(&s->reply, ERR_NOT_FLOAT);
            return;
        }
    }
    if (!slice_to_ld(&argv[2], &incr)) {
        reply_error(&s->reply, ERR_NOT_FLOAT);
        return;
    }
    v += incr;
    if (isnan(v) || isinf(v)) {
        reply_error(&s->reply, "ERR increment would produce NaN or Infinity");
        return;
    }
    /* The stored text and the reply must be the same bytes, so both come
     * from this one formatting. */
    char buf[REPLY_LD_BUFSIZE];
    size_t n = reply_format_long_double(buf, v);
    if (store_counter(s, key, old, buf, n))
        reply_bulk(&s->reply, buf, n);
}

/* SET's key flags (COMMAND GETKEYSANDFLAGS): it only overwrites, unless GET
 * makes it read the old value first. */
const char *cmd_set_key_flags(int argc, const struct slice *argv)
{
    for (int j = 3; j < argc; j++)
        if (slice_eq(&argv[j], "get"))
            return "RW access update";
    return "OW update";
}
