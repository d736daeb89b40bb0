/*
 * cmd_object: LCS, COPY and OBJECT (SUBSTR is GETRANGE under its old name
 * and runs cmd_getrange).
 *
 * OBJECT reports honest values for compactd's layout, which stores every
 * value as plain bytes in one entry block:
 *  - ENCODING names the encoding Redis would pick for the same bytes when
 *    SET ("int" for a canonical integer of at most 20 characters, "embstr"
 *    for at most 44 bytes, "raw" otherwise), so tools that branch on it
 *    behave as with Redis;
 *  - REFCOUNT is always 1: values are never shared between keys;
 *  - IDLETIME comes from the entry's 16-bit access clock (about one tick
 *    per second, wrapping every ~18 hours, like Redis's 24-bit LRU clock
 *    wraps), looked up without touching the entry;
 *  - FREQ needs an LFU policy, which compactd never has (noeviction only),
 *    so it answers Redis's "not tracked" error for an existing key.
 */
#include <stdlib.h>
#include <string.h>

#include "keyspace/keyspace.h"
#include "proto/internal.h"

/* ---- LCS ---- */

/*
 * LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the classic
 * dynamic-programming table of LCS lengths of every prefix pair, then a
 * walk back from the end that collects the string and the matched ranges
 * (reported from the end of the strings towards their start, as Redis
 * does). The table is (|a|+1)*(|b|+1) 32-bit cells; like Redis we refuse
 * tables larger than proto-max-bulk-len.
 */
void cmd_lcs(struct session *s, int argc, struct slice *argv)
{
    struct entry *ea = ks_get(argv[1].p, argv[1].len);
    struct entry *eb = ks_get(argv[2].p, argv[2].len);
    size_t alen = 0, blen = 0;
    const char *a = ea ? entry_val(ea, &alen) : "";
    const char *b = eb ? entry_val(eb, &blen) : "";
    bool getlen = false, getidx = false, withlen = false;
    long long minlen = 0;

    for (int j = 3; j < argc; j++) {
        if (slice_eq(&argv[j], "idx")) {
            getidx = true;
        } else if (slice_eq(&argv[j], "len")) {
            getlen = true;
        } else if (slice_eq(&argv[j], "withmatchlen")) {
            withlen = true;
        } else if (slice_eq(&argv[j], "minmatchlen") && j + 1 < argc) {
            if (!slice_to_ll(&argv[++j], &minlen)) {
                reply_error(&s->reply, ERR_NOT_INT);
                return;
            }
            if (minlen < 0)
                minlen = 0;
        } else {
            reply_error(&s->reply, ERR_SYNTAX);
            return;
        }
    }
    if (getidx && getlen) {
        reply_error(&s->reply, "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1) {
        reply_error(&s->reply, "ERR String too long for LCS");
        return;
    }
    unsigned __int128 cells = (unsigned __int128)(alen + 1) * (blen + 1);
    if (cells * sizeof(uint32_t) > proto_max_value_len()) {
        reply_error(&s->reply,
                    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return;
    }
    size_t w = blen + 1;
    uint32_t *dp = malloc((size_t)cells * sizeof(uint32_t));
    if (dp == NULL) {
        reply_error(&s->reply, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
#define DP(i, j) dp[(size_t)(i) * w + (j)]
    for (size_t j = 0; j <= blen; j++)
        DP(0, j) = 0;
    for (size_t i = 1; i <= alen; i++) {
        DP(i, 0) = 0;
        for (size_t j = 1; j <= blen; j++) {
            if (a[i - 1] == b[j - 1])
                DP(i, j) = DP(i - 1, j - 1) + 1;
            else
                DP(i, j) = DP(i - 1, j) > DP(i, j - 1) ? DP(i - 1, j) : DP(i, j - 1);
        }
    }
    uint32_t total = DP(alen, blen);
    if (getlen) {
        free(dp);
        reply_int(&s->reply, total);
        return;
    }

    char *res = malloc(total ? total : 1);
    if (res == NULL) {
        free(dp);
        reply_error(&s->reply, ERR_NOMEM);
        return;
    }
    size_t handle = 0, nranges = 0;
    if (getidx) {
        reply_map(&s->reply, 2);
        reply_cstr(&s->reply, "matches");
        handle = reply_defer(&s->reply);
    }
    /* Walk back; a range is a run of matches on the diagonal, closed by a
     * step off the diagonal or by reaching the start of either string. */
    size_t i = alen, j = blen, k = total;
    bool open = false;
    size_t as = 0, ae = 0, bs = 0, be = 0;
    while (i > 0 && j > 0) {
        bool close;
        if (a[i - 1] == b[j - 1]) {
            res[--k] = a[i - 1];
            if (!open) {
                open = true;
                ae = i - 1;
                be = j - 1;
            }
            as = i - 1;
            bs = j - 1;
            close = as == 0 || bs == 0;
            i--;
            j--;
        } else {
            if (DP(i - 1, j) > DP(i, j - 1))
                i--;
            else
                j--;
            close = open;
        }
        if (close) {
            size_t mlen = ae - as + 1;
            if (getidx && (minlen == 0 || mlen >= (unsigned long long)minlen)) {
                reply_array(&s->reply, withlen ? 3 : 2);
                reply_array(&s->reply, 2);
                reply_int(&s->reply, (long long)as);
                reply_int(&s->reply, (long long)ae);
                reply_array(&s->reply, 2);
                reply_int(&s->reply, (long long)bs);
                reply_int(&s->reply, (long long)be);
                if (withlen)
                    reply_int(&s->reply, (long long)mlen);
                nranges++;
            }
            open = false;
        }
    }
#undef DP
    if (getidx) {
        reply_defer_array(&s->reply, handle, nranges);
        reply_cstr(&s->reply, "len");
        reply_int(&s->reply, total);
    } else {
        reply_bulk(&s->reply, res, total);
    }
    free(res);
    free(dp);
}

/* ---- COPY ---- */

/* COPY src dst [DB n] [REPLACE]: compactd has only db 0, so DB accepts 0
 * and answers Redis's out-of-range error for anything else. The copy keeps
 * the source's expiry. */
void cmd_copy(struct session *s, int argc, struct slice *argv)
{
    bool replace = false;

    for (int j = 3; j < argc; j++) {
        if (slice_eq(&argv[j], "replace")) {
            replace = true;
        } else if (slice_eq(&argv[j], "db") && j + 1 < argc) {
            long long db;
            if (!slice_to_ll(&argv[++j], &db)) {
                reply_error(&s->reply, ERR_NOT_INT);
                return;
            }
            if (db != 0) {
                reply_error(&s->reply, "ERR DB index is out of range");
                return;
            }
        } else {
            reply_error(&s->reply, ERR_SYNTAX);
            return;
        }
    }
    const struct slice *src = &argv[1], *dst = &argv[2];
    if (src->len == dst->len && memcmp(src->p, dst->p, src->len) == 0) {
        reply_error(&s->reply, "ERR source and destination objects are the same");
        return;
    }
    struct entry *e = ks_get(src->p, src->len);
    if (e == NULL || (!replace && ks_peek(dst->p, dst->len) != NULL)) {
        reply_int(&s->reply, 0);
        return;
    }
    size_t n;
    const char *v = entry_val(e, &n);
    if (ks_set(dst->p, dst->len, v, n, entry_expire(e)) != KS_OK) {
        reply_error(&s->reply, ERR_NOMEM);
        return;
    }
    reply_int(&s->reply, 1);
}

/* ---- OBJECT ---- */

const char *proto_value_encoding(const char *v, size_t n)
{
    long long ignored;
    struct slice sl = { v, n };

    if (n <= 20 && slice_to_ll(&sl, &ignored))
        return "int";
    return n <= 44 ? "embstr" : "raw";
}

static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
};

void cmd_object(struct session *s, int argc, struct slice *argv)
{
    if (slice_eq(&argv[1], "help")) {
        size_t n = sizeof object_help / sizeof object_help[0];
        reply_array(&s->reply, n);
        for (size_t i = 0; i < n; i++)
            reply_status(&s->reply, object_help[i]);
        return;
    }
    /* the key is looked up without touching it, so IDLETIME can be read
     * without resetting it */
    struct entry *e = ks_peek(argv[2].p, argv[2].len);
    if (e == NULL) {
        reply_null(&s->reply);
        return;
    }
    if (slice_eq(&argv[1], "encoding")) {
        size_t n;
        const char *v = entry_val(e, &n);
        reply_cstr(&s->reply, proto_value_encoding(v, n));
    } else if (slice_eq(&argv[1], "refcount")) {
        reply_int(&s->reply, 1);
    } else if (slice_eq(&argv[1], "idletime")) {
        /* the clock ticks every 1024 ms */
        uint16_t ticks = (uint16_t)(ks_access_clock() - entry_access_clock(e));
        reply_int(&s->reply, (long long)ticks * 1024 / 1000);
    } else {   /* freq */
        reply_error(&s->reply,
                    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                    "Please note that when switching between policies at runtime LRU and LFU "
                    "data will take some time to adjust.");
    }
}
