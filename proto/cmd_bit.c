/*
 * cmd_bit: bit operations on string values (SETBIT, GETBIT, BITCOUNT,
 * BITPOS, BITOP, BITFIELD, BITFIELD_RO), with Redis 7.0's replies and
 * error texts.
 *
 * Bit numbering is Redis's: bit 0 is the most significant bit of byte 0, so
 * a value reads as one big-endian bit string, and a value is an infinite
 * string of zero bits past its end (reads there see 0, writes grow it).
 *
 * Memory rule (as in cmd_string.c): growing a value builds a fresh entry
 * (ks_alloc + copy + zero fill) that replaces the old one with ks_insert, so
 * an allocation failure leaves the old value intact and replies ERR_NOMEM
 * before any other reply byte. Changes that fit in the current value are
 * made in place and reported with ks_modified (so WATCH sees them).
 *
 * Offsets are limited as Redis limits them: the byte holding the bit must
 * lie below proto-max-bulk-len (proto_max_value_len), 512 MiB by default.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "keyspace/keyspace.h"
#include "proto/internal.h"

#define ERR_BIT_OFFSET "ERR bit offset is not an integer or out of range"
#define ERR_BIT_VALUE  "ERR bit is not an integer or out of range"
#define ERR_BF_TYPE    "ERR Invalid bitfield type. Use something like i16 u8. " \
                       "Note that u64 is not supported but i64 is."

/*
 * Parses a bit offset. With `bits` > 0 (BITFIELD), "#N" means N * bits.
 * Negative offsets, overflow and offsets whose byte is at or beyond the
 * value-size limit are all the same error.
 */
static bool parse_bit_offset(struct session *s, const struct slice *a, int bits,
                             uint64_t *out)
{
    struct slice num = *a;
    bool hash = bits > 0 && num.len > 0 && num.p[0] == '#';
    long long v;

    if (hash) {
        num.p++;
        num.len--;
    }
    if (!slice_to_ll(&num, &v) || v < 0 || (hash && v > LLONG_MAX / bits)) {
        reply_error(&s->reply, ERR_BIT_OFFSET);
        return false;
    }
    if (hash)
        v *= bits;
    if ((uint64_t)(v >> 3) >= proto_max_value_len()) {
        reply_error(&s->reply, ERR_BIT_OFFSET);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

static inline unsigned get_bit(const unsigned char *p, uint64_t bit)
{
    return (p[bit >> 3] >> (7 - (bit & 7))) & 1u;
}

static inline void put_bit(unsigned char *p, uint64_t bit, unsigned on)
{
    unsigned char m = (unsigned char)(1u << (7 - (bit & 7)));
    if (on)
        p[bit >> 3] |= m;
    else
        p[bit >> 3] &= (unsigned char)~m;
}

/*
 * Returns a writable entry for key whose value is at least `need` bytes: the
 * existing one when it is long enough, else a new one (old bytes copied,
 * the rest zeroed, expiry kept) that is NOT yet inserted: *fresh says so,
 * and the caller must ks_insert it. NULL (with ERR_NOMEM replied) on
 * allocation failure.
 */
static struct entry *bit_target(struct session *s, const struct slice *key, size_t need,
                                bool *fresh)
{
    struct entry *old = ks_peek(key->p, key->len);
    size_t olen = old ? entry_vlen(old) : 0;

    *fresh = false;
    if (old != NULL && olen >= need)
        return old;
    struct entry *e = ks_alloc(key->p, key->len, need, old ? entry_expire(old) : KS_NO_EXPIRE);
    if (e == NULL) {
        reply_error(&s->reply, ERR_NOMEM);
        return NULL;
    }
    char *v = entry_val(e, NULL);
    if (olen > 0)
        memcpy(v, entry_val(old, NULL), olen);
    memset(v + olen, 0, need - olen);
    *fresh = true;
    return e;
}

void cmd_setbit(struct session *s, int argc, struct slice *argv)
{
    uint64_t off;
    long long on;

    if (!parse_bit_offset(s, &argv[2], 0, &off))
        return;
    if (!slice_to_ll(&argv[3], &on) || (on != 0 && on != 1)) {
        reply_error(&s->reply, ERR_BIT_VALUE);
        return;
    }
    bool fresh;
    struct entry *e = bit_target(s, &argv[1], (size_t)(off >> 3) + 1, &fresh);
    if (e == NULL)
        return;
    unsigned char *v = (unsigned char *)entry_val(e, NULL);
    unsigned was = get_bit(v, off);
    put_bit(v, off, (unsigned)on);
    if (fresh)
        ks_insert(e);
    else if (was != (unsigned)on)   /* Redis signals only a real change */
        ks_modified(e);
    reply_int(&s->reply, was);
}

void cmd_getbit(struct session *s, int argc, struct slice *argv)
{
    uint64_t off;

    if (!parse_bit_offset(s, &argv[2], 0, &off))
        return;
    struct entry *e = ks_get(argv[1].p, argv[1].len);
    size_t n = 0;
    const unsigned char *v = e ? (const unsigned char *)entry_val(e, &n) : NULL;
    reply_int(&s->reply, (off >> 3) < n ? get_bit(v, off) : 0);
}

/*
 * The bit range [*sb, *eb] of BITCOUNT/BITPOS from start/end given in
 * bytes or bits over a value of n bytes, with Redis's negative-index
 * conversion and clamping. Returns false for an empty range.
 */
static bool bit_range(long long start, long long end, bool isbit, size_t n,
                      uint64_t *sb, uint64_t *eb)
{
    long long tot = isbit ? (long long)n * 8 : (long long)n;

    if (start < 0)
        start += tot;
    if (end < 0)
        end += tot;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= tot)
        end = tot - 1;
    if (start > end)
        return false;
    *sb = isbit ? (uint64_t)start : (uint64_t)start * 8;
    *eb = isbit ? (uint64_t)end : (uint64_t)end * 8 + 7;
    return true;
}

static bool parse_unit(struct session *s, const struct slice *a, bool *isbit)
{
    if (slice_eq(a, "bit")) {
        *isbit = true;
    } else if (slice_eq(a, "byte")) {
        *isbit = false;
    } else {
        reply_error(&s->reply, ERR_SYNTAX);
        return false;
    }
    return true;
}

/* Set bits in the bit range [sb, eb] of p. */
static uint64_t count_bits(const unsigned char *p, uint64_t sb, uint64_t eb)
{
    uint64_t n = 0;

    while (sb <= eb && (sb & 7) != 0)
        n += get_bit(p, sb++);
    while (sb + 63 <= eb) {
        uint64_t w;
        memcpy(&w, p + (sb >> 3), 8);
        n += (uint64_t)__builtin_popcountll(w);
        sb += 64;
    }
    while (sb + 7 <= eb) {
        n += (uint64_t)__builtin_popcount(p[sb >> 3]);
        sb += 8;
    }
    while (sb <= eb)
        n += get_bit(p, sb++);
    return n;
}

/* First bit equal to `bit` in [sb, eb], or -1. */
static long long find_bit(const unsigned char *p, uint64_t sb, uint64_t eb, unsigned bit)
{
    unsigned char skip = bit ? 0x00 : 0xff;   /* a byte that cannot hold the bit */

    while (sb <= eb && (sb & 7) != 0) {
        if (get_bit(p, sb) == bit)
            return (long long)sb;
        sb++;
    }
    while (sb + 7 <= eb && p[sb >> 3] == skip)
        sb += 8;
    for (; sb <= eb; sb++)
        if (get_bit(p, sb) == bit)
            return (long long)sb;
    return -1;
}

/* BITCOUNT key [start end [BYTE|BIT]]: the key is looked up first, so a
 * missing key counts 0 whatever the other arguments are (Redis 7.0). */
void cmd_bitcount(struct session *s, int argc, struct slice *argv)
{
    struct entry *e = ks_get(argv[1].p, argv[1].len);
    long long start = 0, end = -1;
    bool isbit = false;

    if (e == NULL) {
        reply_int(&s->reply, 0);
        return;
    }
    if (argc == 4 || argc == 5) {
        if (!slice_to_ll(&argv[2], &start) || !slice_to_ll(&argv[3], &end)) {
            reply_error(&s->reply, ERR_NOT_INT);
            return;
        }
        /* both negative and crossed: 0 before the unit is even parsed */
        if (start < 0 && end < 0 && start > end) {
            reply_int(&s->reply, 0);
            return;
        }
        if (argc == 5 && !parse_unit(s, &argv[4], &isbit))
            return;
    } else if (argc != 2) {
        reply_error(&s->reply, ERR_SYNTAX);
        return;
    }
    size_t n;
    const unsigned char *v = (const unsigned char *)entry_val(e, &n);
    uint64_t sb, eb;
    if (!bit_range(start, end, isbit, n, &sb, &eb)) {
        reply_int(&s->reply, 0);
        return;
    }
    reply_int(&s->reply, (long long)count_bits(v, sb, eb));
}

/*
 * BITPOS key bit [start [end [BYTE|BIT]]]. A missing key is all zeros. When
 * no end is given, a search for 0 through an all-ones range answers the
 * first bit past the range (the value is zero-padded to the right); with an
 * explicit end it answers -1.
 */
void cmd_bitpos(struct session *s, int argc, struct slice *argv)
{
    long long bit, start = 0, end = -1;
    bool isbit = false, end_given = false;

    if (!slice_to_ll(&argv[2], &bit)) {
        reply_error(&s->reply, ERR_NOT_INT);
        return;
    }
    if (bit != 0 && bit != 1) {
        reply_error(&s->reply, "ERR The bit argument must be 1 or 0.");
        return;
    }
    struct entry *e = ks_get(argv[1].p, argv[1].len);
    if (e == NULL) {
        reply_int(&s->reply, bit ? -1 : 0);
        return;
    }
    if (argc >= 4 && argc <= 6) {
        if (!slice_to_ll(&argv[3], &start)) {
            reply_error(&s->reply, ERR_NOT_INT);
            return;
        }
        if (argc == 6 && !parse_unit(s, &argv[5], &isbit))
            return;
        if (argc >= 5) {
            if (!slice_to_ll(&argv[4], &end)) {
                reply_error(&s->reply, ERR_NOT_INT);
                return;
            }
            end_given = true;
        }
    } else if (argc != 3) {
        reply_error(&s->reply, ERR_SYNTAX);
        return;
    }
    size_t n;
    const unsigned char *v = (const unsigned char *)entry_val(e, &n);
    uint64_t sb, eb;
    if (!bit_range(start, end, isbit, n, &sb, &eb)) {
        reply_int(&s->reply, -1);
        return;
    }
    long long pos = find_bit(v, sb, eb, (unsigned)bit);
    if (pos < 0 && bit == 0 && !end_given)
        pos = (long long)eb + 1;
    reply_int(&s->reply, pos);
}

enum bitop_kind { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

/*
 * BITOP op dest src...: the result is as long as the longest source
 * (shorter and missing sources read as zeros) and replaces dest without
 * any expiry; an empty result deletes dest. Replies the result length.
 */
void cmd_bitop(struct session *s, int argc, struct slice *argv)
{
    enum bitop_kind op;

    if (slice_eq(&argv[1], "and"))
        op = BITOP_AND;
    else if (slice_eq(&argv[1], "or"))
        op = BITOP_OR;
    else if (slice_eq(&argv[1], "xor"))
        op = BITOP_XOR;
    else if (slice_eq(&argv[1], "not"))
        op = BITOP_NOT;
    else {
        reply_error(&s->reply, ERR_SYNTAX);
        return;
    }
    if (op == BITOP_NOT && argc != 4) {
        reply_error(&s->reply, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    size_t maxlen = 0;
    for (int j = 3; j < argc; j++) {
        struct entry *e = ks_get(argv[j].p, argv[j].len);
        if (e != NULL && entry_vlen(e) > maxlen)
            maxlen = entry_vlen(e);
    }
    const struct slice *dst = &argv[2];
    if (maxlen == 0) {
        ks_del(dst->p, dst->len);
        reply_int(&s->reply, 0);
        return;
    }
    struct entry *out = ks_alloc(dst->p, dst->len, maxlen, KS_NO_EXPIRE);
    if (out == NULL) {
        reply_error(&s->reply, ERR_NOMEM);
        return;
    }
    unsigned char *r = (unsigned char *)entry_val(out, NULL);
    /* Sources are read with ks_peek here: they were counted above, and no
     * keyspace change happens between the two passes (ks_alloc only
     * reserves), so the same entries are found. */
    for (int j = 3; j < argc; j++) {
        struct entry *e = ks_peek(argv[j].p, argv[j].len);
        size_t n = 0;
        const unsigned char *v = e ? (const unsigned char *)entry_val(e, &n) : NULL;
        for (size_t i = 0; i < maxlen; i++) {
            unsigned char b = i < n ? v[i] : 0;
            if (j == 3)
                r[i] = op == BITOP_NOT ? (unsigned char)~b : b;
            else if (op == BITOP_AND)
                r[i] &= b;
            else if (op == BITOP_OR)
                r[i] |= b;
            else
                r[i] ^= b;
        }
    }
    ks_insert(out);
    reply_int(&s->reply, (long long)maxlen);
}

/* ---- BITFIELD ---- */

enum bf_op { BF_GET, BF_SET, BF_INCRBY };
enum bf_overflow { BF_WRAP, BF_SAT, BF_FAIL };

struct bf_step {
    enum bf_op op;
    enum bf_overflow ow;
    bool sign;
    int bits;
    uint64_t off;
    long long arg;
};

static bool parse_bf_type(struct session *s, const struct slice *a, bool *sign, int *bits)
{
    long long n;
    struct slice num = { a->p + 1, a->len ? a->len - 1 : 0 };

    if (a->len < 2 || (a->p[0] != 'i' && a->p[0] != 'u') || !slice_to_ll(&num, &n) ||
        n < 1 || n > (a->p[0] == 'i' ? 64 : 63)) {
        reply_error(&s->reply, ERR_BF_TYPE);
        return false;
    }
    *sign = a->p[0] == 'i';
    *bits = (int)n;
    return true;
}

/* Reads a bits-wide field at bit off of p (p must cover it). */
static uint64_t bf_read(const unsigned char *p, uint64_t off, int bits)
{
    uint64_t v = 0;
    for (int i = 0; i < bits; i++)
        v = (v << 1) | get_bit(p, off + (uint64_t)i);
    return v;
}

static void bf_write(unsigned char *p, uint64_t off, int bits, uint64_t v)
{
    for (int i = 0; i < bits; i++)
        put_bit(p, off + (uint64_t)i, (unsigned)(v >> (bits - 1 - i)) & 1u);
}

/* A field's raw bits as the integer its type says. */
static long long bf_value(uint64_t raw, bool sign, int bits)
{
    if (!sign)
        return (long long)raw;
    if (bits < 64 && (raw >> (bits - 1)) & 1u)
        raw |= ~(uint64_t)0 << bits;     /* sign-extend */
    return (long long)raw;
}

/*
 * Fits the exact value v into the field type. Returns false if it
 * overflowed; *out is then the wrapped or saturated value (unused with
 * FAIL). Wrapping keeps the low bits, i.e. arithmetic modulo 2^bits.
 */
static bool bf_fit(__int128 v, bool sign, int bits, enum bf_overflow ow, uint64_t *out)
{
    __int128 max = sign ? (((__int128)1 << (bits - 1)) - 1) : (((__int128)1 << bits) - 1);
    __int128 min = sign ? -((__int128)1 << (bits - 1)) : 0;
    uint64_t mask = bits == 64 ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1);

    if (v >= min && v <= max) {
        *out = (uint64_t)v & mask;
        return true;
    }
    if (ow == BF_SAT)
        *out = (uint64_t)(v > max ? max : min) & mask;
    else
        *out = (uint64_t)v & mask;
    return false;
}

/*
 * Parses every step before touching the key (as Redis does), so a syntax
 * error anywhere leaves the key alone. Then a read-only run looks the key
 * up for reading; a run with writes makes room up to its highest written
 * bit first, creating the key if needed.
 */
static void bitfield_generic(struct session *s, int argc, struct slice *argv, bool ro)
{
    struct bf_step stack[16];
    struct bf_step *steps = stack;
    size_t nsteps = 0, cap = sizeof stack / sizeof stack[0];
    enum bf_overflow ow = BF_WRAP;
    uint64_t high = 0;        /* highest bit written, + 1 */
    bool writes = false;

    for (int j = 2; j < argc; j++) {
        int rem = argc - j - 1;
        struct bf_step st;

        if (slice_eq(&argv[j], "get") && rem >= 2) {
            st.op = BF_GET;
        } else if (slice_eq(&argv[j], "set") && rem >= 3) {
            st.op = BF_SET;
        } else if (slice_eq(&argv[j], "incrby") && rem >= 3) {
            st.op = BF_INCRBY;
        } else if (slice_eq(&argv[j], "overflow") && rem >= 1) {
            j++;
            if (slice_eq(&argv[j], "wrap")) {
                ow = BF_WRAP;
            } else if (slice_eq(&argv[j], "sat")) {
                ow = BF_SAT;
            } else if (slice_eq(&argv[j], "fail")) {
                ow = BF_FAIL;
            } else {
                reply_error(&s->reply, "ERR Invalid OVERFLOW type specified");
                goto out;
            }
            continue;
        } else {
            reply_error(&s->reply, ERR_SYNTAX);
            goto out;
        }
        st.ow = ow;
        st.arg = 0;
        if (!parse_bf_type(s, &argv[j + 1], &st.sign, &st.bits) ||
            !parse_bit_offset(s, &argv[j + 2], st.bits, &st.off))
            goto out;
        if (st.op != BF_GET) {
            writes = true;
            if (st.off + (uint64_t)st.bits > high)
                high = st.off + (uint64_t)st.bits;
            if (!slice_to_ll(&argv[j + 3], &st.arg)) {
                reply_error(&s->reply, ERR_NOT_INT);
                goto out;
            }
        }
        if (nsteps == cap) {
            size_t ncap = cap * 2;
            struct bf_step *ns = malloc(ncap * sizeof *ns);
            if (ns == NULL) {
                reply_error(&s->reply, ERR_NOMEM);
                goto out;
            }
            memcpy(ns, steps, nsteps * sizeof *ns);
            if (steps != stack)
                free(steps);
            steps = ns;
            cap = ncap;
        }
        steps[nsteps++] = st;
        j += st.op == BF_GET ? 2 : 3;
    }

    struct entry *e;
    bool fresh = false;
    if (!writes) {
        e = ks_get(argv[1].p, argv[1].len);
    } else if (ro) {
        reply_error(&s->reply, "ERR BITFIELD_RO only supports the GET subcommand");
        goto out;
    } else {
        e = bit_target(s, &argv[1], (size_t)((high - 1) >> 3) + 1, &fresh);
        if (e == NULL)
            goto out;
    }

    size_t vlen = 0;
    unsigned char *v = e ? (unsigned char *)entry_val(e, &vlen) : NULL;
    bool changed = false;
    reply_array(&s->reply, nsteps);
    for (size_t i = 0; i < nsteps; i++) {
        const struct bf_step *st = &steps[i];
        if (st->op == BF_GET) {
            /* read through a zero-padded window: the field may run past
             * the end of the value (or there may be no value) */
            unsigned char win[9] = {0};
            uint64_t byte = st->off >> 3;
            for (uint64_t k = 0; k < 9 && byte + k < vlen; k++)
                win[k] = v[byte + k];
            uint64_t raw = bf_read(win, st->off & 7, st->bits);
            reply_int(&s->reply, bf_value(raw, st->sign, st->bits));
            continue;
        }
        long long old = bf_value(bf_read(v, st->off, st->bits), st->sign, st->bits);
        __int128 want;
        if (st->op == BF_INCRBY)
            want = (__int128)old + st->arg;
        else  /* an unsigned SET takes the argument's 64 bits as unsigned */
            want = st->sign ? (__int128)st->arg : (__int128)(uint64_t)st->arg;
        uint64_t raw;
        bool ok = bf_fit(want, st->sign, st->bits, st->ow, &raw);
        if (!ok && st->ow == BF_FAIL) {
            reply_null(&s->reply);
            continue;
        }
        bf_write(v, st->off, st->bits, raw);
        changed = true;
        reply_int(&s->reply, st->op == BF_INCRBY ? bf_value(raw, st->sign, st->bits) : old);
    }
    if (fresh)
        ks_insert(e);
    else if (changed)   /* a SET/INCRBY that FAILed wrote nothing */
        ks_modified(e);
out:
    if (steps != stack)
        free(steps);
}

void cmd_bitfield(struct session *s, int argc, struct slice *argv)
{
    bitfield_generic(s, argc, argv, false);
}

void cmd_bitfield_ro(struct session *s, int argc, struct slice *argv)
{
    bitfield_generic(s, argc, argv, true);
}

/* BITFIELD's key flags (COMMAND GETKEYSANDFLAGS): read-only while every
 * operation is a complete GET <type> <offset> or OVERFLOW <how>; anything
 * else (SET, INCRBY, a stray word) may write, as Redis judges it. */
const char *cmd_bitfield_key_flags(int argc, const struct slice *argv)
{
    for (int j = 2; j < argc; j++) {
        int rest = argc - j - 1;
        if (slice_eq(&argv[j], "get") && rest >= 2)
            j += 2;
        else if (slice_eq(&argv[j], "overflow") && rest >= 1)
            j += 1;
        else
            return "RW access update";
    }
    return "RO access";
}
