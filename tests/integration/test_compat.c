/*
 * test_compat: the same command scripts run against compactd and against
 * the reference redis-server 7.0 (Debian's /usr/bin/redis-server, started
 * by the harness the same way), and every reply is compared byte for byte.
 *
 * The scripts cover the bit operations, LCS, COPY, SUBSTR, OBJECT,
 * MULTI/EXEC/DISCARD/WATCH/UNWATCH, and the introspection commands' errors,
 * HELP texts and CLIENT REPLY, plus a sample of the basic string commands,
 * with their error cases. A line is one request, split on spaces;
 * "..." quotes an argument, in which \xHH, \r, \n, \" and \\ are escapes.
 * "@2 " sends the line on a second connection (to modify keys another
 * client WATCHes); "@sleep N" waits N ms (for expiry). Each script starts
 * with FLUSHALL on both servers. Three more prefixes: "@inline " sends the
 * rest of the line as an inline command (as typed, plus CRLF); "@noreply "
 * expects neither server to answer (CLIENT REPLY OFF/SKIP); "@shape "
 * compares only the shape of an array of status lines (same type, same
 * first and last line), for HELP texts that list fewer subcommands than
 * Redis has.
 *
 * Further tests compare what cannot be compared byte for byte: COMMAND
 * INFO's flags of every shared command, INFO's field names and value types,
 * OBJECT IDLETIME after commands that must not touch, the idle query
 * buffer, COMMAND LIST FILTERBY PATTERN's matches; COMMAND GETKEYS and
 * GETKEYSANDFLAGS are compared byte for byte as a generated script.
 *
 * Left out on purpose, because the replies legitimately differ:
 *  - HELLO, INFO values, TIME, COMMAND INFO's ACL categories, CLIENT LIST:
 *    versions, ids, timings, and categories compactd derives;
 *  - SLOWLOG entries, LATENCY samples and MONITOR lines (times, addresses);
 *  - OBJECT REFCOUNT of small integers (Redis shares 0..9999 and reports
 *    INT_MAX; compactd never shares values and reports 1) and OBJECT
 *    IDLETIME of existing keys (timing; Redis also reports the age of the
 *    shared integer object);
 *  - OBJECT ENCODING of values built by APPEND/SETRANGE/SETBIT (Redis's
 *    answer depends on how the value was built, compactd's on its bytes);
 *  - other data types (WRONGTYPE cases), and COPY ... DB n for n > 0
 *    (compactd has one database).
 *
 * The commandstats check compares calls/rejected_calls/failed_calls (not
 * usec) per command after the same sequence, and errorstats when the
 * daemon renders INFO errorstats.
 *
 * If /usr/bin/redis-server is missing, every test is skipped with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tests/support/escape.h"

#define REDIS_BIN "/usr/bin/redis-server"
#define REPLY_TIMEOUT_MS 5000

static struct server cd, rd;
static bool have_redis;

static int group_setup(void **state)
{
    (void)state;
    have_redis = access(REDIS_BIN, X_OK) == 0;
    if (!have_redis)
        return 0;
    server_start(&cd, NULL);
    harness_use_bin(REDIS_BIN);
    server_start(&rd, NULL);
    harness_use_bin(NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (!have_redis)
        return 0;
    server_stop(&cd);
    harness_use_bin(REDIS_BIN);
    server_stop(&rd);
    harness_use_bin(NULL);
    return 0;
}

static bool need_redis(void)
{
    if (!have_redis)
        print_message("skipped: %s is not installed\n", REDIS_BIN);
    return have_redis;
}

/* ---- request building ---- */

struct req {
    char buf[8192];
    size_t len;
};

static void req_add(struct req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->len, sizeof r->buf - r->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof r->buf - r->len);
    r->len += (size_t)n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Splits line into arguments (see the file comment) and encodes them as a
 * RESP multibulk request. */
static void build_request(const char *line, struct req *out)
{
    char args[64][512];
    size_t lens[64];
    int argc = 0;
    const char *p = line;

    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        assert_true(argc < 64);
        size_t n = 0;
        if (*p == '"') {
            for (p++; *p != '"'; p++) {
                assert_true(*p != '\0' && n < sizeof args[0]);
                char c = *p;
                if (c == '\\') {
                    p++;
                    if (*p == 'x' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
                        c = (char)(hexval(p[1]) * 16 + hexval(p[2]));
                        p += 2;
                    } else if (*p == 'r') {
                        c = '\r';
                    } else if (*p == 'n') {
                        c = '\n';
                    } else {
                        c = *p;
                    }
                }
                args[argc][n++] = c;
            }
            p++;
        } else {
            while (*p != ' ' && *p != '\0') {
                assert_true(n < sizeof args[0]);
                args[argc][n++] = *p++;
            }
        }
        lens[argc++] = n;
    }
    out->len = 0;
    req_add(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        req_add(out, "$%zu\r\n", lens[i]);
        assert_true(lens[i] + 2 <= sizeof out->buf - out->len);
        memcpy(out->buf + out->len, args[i], lens[i]);
        out->len += lens[i];
        req_add(out, "\r\n");
    }
}

/* Sends req on r and returns the reply (malloc'd); fails on timeout. */
static char *roundtrip(struct raw *r, const struct req *req, size_t *n, const char *who,
                       const char *line)
{
    raw_send(r, req->buf, req->len, false);
    char *rep = raw_reply(r, n, REPLY_TIMEOUT_MS);
    if (rep == NULL)
        fail_msg("%s: no reply to \"%s\"", who, line);
    return rep;
}

/* The lines of a flat array reply of status strings ("*N", "+a", "+b", ...):
 * stores the first and last element lines; false if r is not such an array. */
static bool status_array_ends(const char *r, size_t n, const char **first, size_t *flen,
                              const char **last, size_t *llen)
{
    if (n == 0 || r[0] != '*')
        return false;
    const char *p = memchr(r, '\n', n);
    *first = *last = NULL;
    while (p != NULL && (size_t)(p + 1 - r) < n) {
        const char *l = p + 1;
        if (*l != '+')
            return false;
        p = memchr(l, '\n', n - (size_t)(l - r));
        if (p == NULL)
            return false;
        if (*first == NULL) {
            *first = l;
            *flen = (size_t)(p - l);
        }
        *last = l;
        *llen = (size_t)(p - l);
    }
    return *first != NULL;
}

static bool same_shape(const char *a, size_t na, const char *b, size_t nb)
{
    const char *fa, *la, *fb, *lb;
    size_t nfa, nla, nfb, nlb;
    if (!status_array_ends(a, na, &fa, &nfa, &la, &nla) ||
        !status_array_ends(b, nb, &fb, &nfb, &lb, &nlb))
        return false;
    return nfa == nfb && memcmp(fa, fb, nfa) == 0 && nla == nlb && memcmp(la, lb, nla) == 0;
}

/* Runs one script on both servers; returns the number of differing replies
 * (each is printed). */
static int run_script(const char *name, const char *const *script)
{
    struct raw c1, c2, r1, r2;
    raw_open(&c1, cd.port);
    raw_open(&c2, cd.port);
    raw_open(&r1, rd.port);
    raw_open(&r2, rd.port);
    int bad = 0;
    struct req req;

    build_request("flushall", &req);
    size_t n;
    free(roundtrip(&c1, &req, &n, "compactd", "flushall"));
    free(roundtrip(&r1, &req, &n, "redis", "flushall"));

    for (size_t i = 0; script[i] != NULL; i++) {
        const char *line = script[i];
        if (strncmp(line, "@sleep ", 7) == 0) {
            harness_sleep_ms(atoi(line + 7));
            continue;
        }
        struct raw *a = &c1, *b = &r1;
        if (strncmp(line, "@2 ", 3) == 0) {
            a = &c2;
            b = &r2;
            line += 3;
        }
        bool shape = strncmp(line, "@shape ", 7) == 0;
        if (shape)
            line += 7;
        if (strncmp(line, "@inline ", 8) == 0) {
            line += 8;
            req.len = 0;
            req_add(&req, "%s\r\n", line);
        } else if (strncmp(line, "@noreply ", 9) == 0) {
            line += 9;
            build_request(line, &req);
            raw_send(a, req.buf, req.len, false);
            raw_send(b, req.buf, req.len, false);
            size_t na, nb;
            char *ra = raw_reply(a, &na, 200);
            char *rb = raw_reply(b, &nb, 200);
            if (ra != NULL || rb != NULL) {
                print_error("%s[%zu] %s: expected no reply\n  compactd: %s\n  redis:    %s\n",
                            name, i, line, ra ? ra : "(none)", rb ? rb : "(none)");
                bad++;
            }
            free(ra);
            free(rb);
            continue;
        } else {
            build_request(line, &req);
        }
        size_t na, nb;
        char *ra = roundtrip(a, &req, &na, "compactd", line);
        char *rb = roundtrip(b, &req, &nb, "redis", line);
        if (shape ? !same_shape(ra, na, rb, nb) : (na != nb || memcmp(ra, rb, na) != 0)) {
            char ea[1024], eb[1024];
            test_escape(ea, sizeof ea, ra, na);
            test_escape(eb, sizeof eb, rb, nb);
            print_error("%s[%zu] %s\n  compactd: %s\n  redis:    %s\n", name, i, line, ea, eb);
            bad++;
        }
        free(ra);
        free(rb);
    }
    raw_close(&c1);
    raw_close(&c2);
    raw_close(&r1);
    raw_close(&r2);
    return bad;
}

static const char *const script_basic[] = {
    "set s hello",
    "get s",
    "get nokey",
    "set s v nx",
    "set s v xx",
    "set s v ex 0",
    "set s v ex x",
    "set s v px 100 ex 100",
    "set s v foo",
    "getset s w",
    "append s 123",
    "strlen s",
    "getrange s 0 -2",
    "getrange s -100 100",
    "setrange s 10 x",
    "get s",
    "setrange s -1 x",
    "setrange s x y",
    "incr s",
    "set n 10",
    "incr n",
    "incrby n 5",
    "decrby n 3",
    "decr n",
    "incrby n x",
    "incrby n 9223372036854775807",
    "incrbyfloat n 1.5",
    "incrbyfloat n x",
    "mset a 1 b 2",
    "mset a 1 b",
    "mget a b nokey",
    "msetnx a 1 c 3",
    "msetnx c 3 d 4",
    "getdel a",
    "getdel a",
    "getex b",
    "getex b persist ex 10",
    "setnx b x",
    "setnx newk x",
    "get",
    "set",
    NULL,
};

static const char *const script_bits[] = {
    "set k foobar",
    "bitcount k",
    "bitcount k 0 0",
    "bitcount k 1 1",
    "bitcount k 1 1 byte",
    "bitcount k 5 30 bit",
    "bitcount k -3 -1 bit",
    "bitcount k 0 -1 BIT",
    "bitcount k -1 -2 foo",
    "bitcount k 0 -1 bar",
    "bitcount k 1",
    "bitcount k a b",
    "bitcount k 0 1 bit x",
    "bitcount nokey a b",
    "bitcount nokey",
    "bitcount k 100 200",
    "bitcount k -100 -1",
    "bitcount k 0 100 bit",
    "set e \"\"",
    "bitcount e",
    "bitpos e 0",
    "bitpos e 1",
    "bitpos e 0 0",
    "set mykey \"\\xff\\xf0\\x00\"",
    "bitpos mykey 0",
    "bitpos mykey 1",
    "bitpos mykey 1 2",
    "bitpos mykey 0 0",
    "bitpos mykey 0 0 0",
    "bitpos mykey 0 0 -1",
    "bitpos mykey 1 2 -1 byte",
    "bitpos mykey 1 7 15 bit",
    "bitpos mykey 0 7 15 bit",
    "bitpos mykey 0 8 11 bit",
    "bitpos mykey 1 16 23 bit",
    "bitpos mykey 1 17 17 bit",
    "bitpos mykey 0 0 -1 bit",
    "bitpos mykey 0 -3 -1 bit",
    "bitpos mykey 2",
    "bitpos mykey x",
    "bitpos mykey 1 x",
    "bitpos mykey 1 0 x",
    "bitpos mykey 1 0 1 foo",
    "bitpos mykey 1 0 1 bit extra",
    "bitpos nokey 0",
    "bitpos nokey 1",
    "bitpos nokey 1 a b c d",
    "set ones \"\\xff\\xff\"",
    "bitpos ones 0",
    "bitpos ones 0 0",
    "bitpos ones 0 0 -1",
    "bitpos ones 0 1",
    "bitpos ones 0 0 5 bit",
    "bitpos ones 1 5 3 bit",
    "setbit sb 7 1",
    "get sb",
    "setbit sb 7 0",
    "setbit sb 7 1",
    "setbit sb 100 1",
    "strlen sb",
    "getbit sb 100",
    "getbit sb 101",
    "getbit sb 99999",
    "getbit nokey 0",
    "setbit sb -1 1",
    "setbit sb 4294967296 1",
    "setbit sb x 1",
    "setbit sb 0 2",
    "setbit sb 0 -1",
    "setbit sb 0 x",
    "getbit sb -1",
    "getbit sb 4294967296",
    "getbit sb x",
    "setbit sb 1",
    "getbit sb",
    "set a1 \"\\x0f\\xf0\"",
    "set a2 \"\\xf0\"",
    "bitop and d a1 a2",
    "get d",
    "bitop or d a1 a2",
    "get d",
    "bitop xor d a1 a2",
    "get d",
    "bitop not d a1",
    "get d",
    "bitop and d a1 nokey",
    "get d",
    "bitop or d nokey nokey2",
    "exists d",
    "bitop foo d a1",
    "bitop not d a1 a2",
    "bitop AND d a1",
    "bitop and d",
    "set d x ex 100",
    "bitop or d a1",
    "ttl d",
    "bitfield bf set i8 0 100",
    "bitfield bf get i8 0",
    "bitfield bf incrby i8 0 100",
    "bitfield bf overflow sat incrby i8 0 100",
    "bitfield bf overflow sat incrby i8 0 -300",
    "bitfield bf overflow fail incrby i8 0 -1",
    "bitfield bf overflow fail incrby i8 0 -300",
    "bitfield bf overflow wrap incrby u2 100 1 overflow sat incrby u2 102 1 overflow fail incrby u2 104 1",
    "bitfield bf overflow wrap incrby u2 100 1 overflow sat incrby u2 102 1 overflow fail incrby u2 104 1",
    "bitfield bf overflow wrap incrby u2 100 1 overflow sat incrby u2 102 1 overflow fail incrby u2 104 1",
    "bitfield bf overflow wrap incrby u2 100 1 overflow sat incrby u2 102 1 overflow fail incrby u2 104 1",
    "bitfield bf set u8 #3 -1 get u8 #3 set u8 #3 300 get u8 #3",
    "bitfield bf overflow sat set u8 #3 -1 get u8 #3 set u8 #3 300 get u8 #3",
    "bitfield bf overflow fail set u8 #3 -1 get u8 #3 set u8 #3 300 get u8 #3",
    "bitfield bf set i64 0 -1 get i64 0 get u63 0 get i64 1 get u1 0 get i1 0",
    "bitfield bf set i64 0 9223372036854775807 incrby i64 0 1 overflow sat incrby i64 0 9223372036854775807 overflow fail incrby i64 0 1",
    "bitfield bf overflow sat set i64 64 -9223372036854775808 incrby i64 64 -1 overflow wrap incrby i64 64 -1",
    "bitfield bf set i5 13 -16 get i5 13 incrby i5 13 -1 get u5 13",
    "bitfield bf overflow sat incrby u63 200 -5 incrby u63 200 9223372036854775807 incrby u63 200 1",
    "bitfield bf get i8 10000 get u7 7",
    "get bf",
    "bitfield bf",
    "bitfield nokey get i8 0",
    "exists nokey",
    "bitfield nokey2 overflow fail incrby i8 0 200",
    "exists nokey2",
    "get nokey2",
    "bitfield k get I8 0",
    "bitfield k get u64 0",
    "bitfield k get i65 0",
    "bitfield k get i0 0",
    "bitfield k get i 0",
    "bitfield k get x8 0",
    "bitfield k get i8 #-1",
    "bitfield k get i8 -1",
    "bitfield k get i8 #-0",
    "bitfield k get i8 #x",
    "bitfield k get i8 #536870912",
    "bitfield k get i8 #536870911",
    "bitfield k get i64 #67108864",
    "bitfield k get i64 #67108863",
    "bitfield k get i8 4294967296",
    "bitfield k get i8 4294967295",
    "bitfield k overflow foo",
    "bitfield k overflow",
    "bitfield k incrby i8 0 x",
    "bitfield k set i8 0",
    "bitfield k foo",
    "bitfield k get i8",
    "bitfield k get i8 0 set",
    "bitfield k get i8 0 overflow bad set i8 0 1",
    "bitfield_ro k set i8 0 1",
    "bitfield_ro k incrby i8 0 1",
    "bitfield_ro k overflow wrap",
    "bitfield_ro k get i8 0 set",
    "bitfield_ro k get i8 0 get u4 4",
    "bitfield_ro nokey get i8 0",
    "bitfield_ro k",
    "bitfield",
    "bitfield_ro",
    "bitfield k set i8 0 1 get i8 0",
    "bitfield k overflow FAIL set i8 0 1000",
    "get k",
    "get mykey",
    NULL,
};

static const char *const script_misc[] = {
    /* key positions of the new rows */
    "command getkeys bitop and d a b",
    "command getkeys copy a b",
    "command getkeys lcs a b",
    "command getkeys watch a b c",
    "command getkeys setbit k 1 1",
    "command getkeys object encoding k",
    "command getkeys multi",
    "command getkeys multi x",
    "set a ohmytext",
    "set b mynewtext",
    "lcs a b",
    "lcs a b len",
    "LCS a b IDX",
    "lcs a b idx minmatchlen 4 withmatchlen",
    "lcs a b idx withmatchlen",
    "lcs a b idx minmatchlen 2",
    "lcs a b len idx",
    "lcs a b idx len",
    "lcs a b foo",
    "lcs a b minmatchlen",
    "lcs a b minmatchlen x",
    "lcs a nokey",
    "lcs a nokey idx",
    "lcs nokey nokey2 len",
    "lcs a b idx minmatchlen -5",
    "lcs a",
    "set x1 \"abcabcabcabc\"",
    "set x2 \"cbacbacbacba\"",
    "lcs x1 x2",
    "lcs x1 x2 idx withmatchlen",
    "lcs x2 x1 idx withmatchlen",
    "set x3 \"aaaa\"",
    "set x4 \"aa\"",
    "lcs x3 x4 idx withmatchlen",
    "lcs x4 x3 idx",
    "lcs x3 x3 idx",
    "copy a a",
    "copy a c db 0",
    "get c",
    "copy a c",
    "copy a c replace",
    "copy a c db x",
    "copy a c db 16",
    "copy a c db -1",
    "copy a c db",
    "copy a c foo",
    "copy nokey c",
    "copy nokey c replace",
    "copy a",
    "set t v ex 100",
    "copy t t2",
    "ttl t2",
    "copy a c replace db 0 replace",
    "substr a 0 2",
    "substr a -3 -1",
    "substr a",
    "substr nokey 0 1",
    "substr a x 1",
    "object help",
    "object HELP",
    "object help x",
    "object foo",
    "object",
    "object encoding",
    "object encoding nokey",
    "set i 123",
    "object encoding i",
    "set e abc",
    "object encoding e",
    "set big 12345678901234567890",
    "object encoding big",
    "set b2 123456789012345678901",
    "object encoding b2",
    "set neg -5",
    "object encoding neg",
    "set z 0123",
    "object encoding z",
    "set m -0",
    "object encoding m",
    "set mx 9223372036854775807",
    "object encoding mx",
    "set mn -9223372036854775808",
    "object encoding mn",
    "set s44 12345678901234567890123456789012345678901234",
    "object encoding s44",
    "set s45 123456789012345678901234567890123456789012345",
    "object encoding s45",
    "set emp \"\"",
    "object encoding emp",
    "object freq i",
    "object freq nokey",
    "object idletime nokey",
    "object refcount nokey",
    "object refcount neg",
    "object encoding i x",
    "object freq",
    NULL,
};

static const char *const script_tx[] = {
    "multi",
    "multi",
    "watch a",
    "foo",
    "get",
    "set a 1",
    "exec",
    "exec",
    "discard",
    "multi",
    "set a 1",
    "incr a",
    "set b x",
    "incr b",
    "exec",
    "multi",
    "exec",
    "multi",
    "set a 2",
    "discard",
    "get a",
    "unwatch",
    "multi",
    "unwatch",
    "exec",
    /* watch: modified by other client */
    "watch a",
    "@2 set a 5",
    "multi",
    "get a",
    "exec",
    /* watch: unmodified */
    "watch a",
    "multi",
    "get a",
    "exec",
    /* watch nonexistent created */
    "watch nx1",
    "@2 set nx1 v",
    "multi",
    "ping",
    "exec",
    /* delete */
    "watch a",
    "@2 del a",
    "multi",
    "ping",
    "exec",
    /* delete of a missing key does not modify */
    "watch gone",
    "@2 del gone",
    "multi",
    "ping",
    "exec",
    /* incr in place */
    "set cnt 10",
    "watch cnt",
    "@2 incr cnt",
    "multi",
    "ping",
    "exec",
    /* setrange in place */
    "set sr hello",
    "watch sr",
    "@2 setrange sr 0 J",
    "multi",
    "ping",
    "exec",
    /* append */
    "watch sr",
    "@2 append sr x",
    "multi",
    "ping",
    "exec",
    /* expire change */
    "watch sr",
    "@2 expire sr 100",
    "multi",
    "ping",
    "exec",
    /* persist */
    "watch sr",
    "@2 persist sr",
    "multi",
    "ping",
    "exec",
    /* persist no-op (no ttl) */
    "watch sr",
    "@2 persist sr",
    "multi",
    "ping",
    "exec",
    /* setbit same value (no change) */
    "set bb \"\\x80\"",
    "watch bb",
    "@2 setbit bb 0 1",
    "multi",
    "ping",
    "exec",
    "watch bb",
    "@2 setbit bb 0 0",
    "multi",
    "ping",
    "exec",
    /* bitfield fail overflow still touches */
    "watch bb",
    "@2 bitfield bb overflow fail incrby u2 0 100",
    "multi",
    "ping",
    "exec",
    /* read does not modify */
    "watch sr",
    "@2 get sr",
    "@2 exists sr",
    "@2 ttl sr",
    "multi",
    "ping",
    "exec",
    /* flushall with watched existing key */
    "set fk v",
    "watch fk",
    "@2 flushall",
    "multi",
    "ping",
    "exec",
    /* flushall with watched missing key */
    "watch fk2",
    "@2 flushall",
    "multi",
    "ping",
    "exec",
    /* expiry of watched key between watch and exec */
    "set ek v px 100",
    "watch ek",
    "@sleep 300",
    "multi",
    "ping",
    "exec",
    /* already expired at watch */
    "set ek2 v px 50",
    "@sleep 200",
    "watch ek2",
    "multi",
    "ping",
    "exec",
    /* unwatch clears */
    "watch a",
    "@2 set a 9",
    "unwatch",
    "multi",
    "ping",
    "exec",
    /* discard clears watch */
    "watch a",
    "@2 set a 10",
    "multi",
    "discard",
    "multi",
    "ping",
    "exec",
    /* watch inside multi does not flag */
    "multi",
    "watch a",
    "set a 11",
    "exec",
    /* own modification within transaction */
    "watch a",
    "set a 12",
    "multi",
    "ping",
    "exec",
    /* multiple keys */
    "watch k1 k2 k3",
    "@2 set k3 x",
    "multi",
    "ping",
    "exec",
    /* rename */
    "set r1 v",
    "watch r2",
    "@2 rename r1 r2",
    "multi",
    "ping",
    "exec",
    /* copy */
    "watch c2",
    "@2 copy r2 c2",
    "multi",
    "ping",
    "exec",
    /* getex no-op */
    "set ge v",
    "watch ge",
    "@2 getex ge",
    "multi",
    "ping",
    "exec",
    "watch ge",
    "@2 getex ge ex 100",
    "multi",
    "ping",
    "exec",
    /* arity error in multi and queued unknown with args */
    "multi",
    "set x",
    "foo bar baz",
    "exec",
    /* exec runtime error order */
    "multi",
    "set q 1",
    "incr q",
    "bitcount q 1",
    "exec",
    /* commands EXEC runs see the session as changed by earlier ones
     * (HELLO is left out: its reply carries the server version and id) */
    "multi",
    "select 0",
    "get q",
    "exec",
    "multi",
    "discard",
    "discard",
    "exec",
    NULL,
};
/* refusals while queuing (a refused EXEC ends the transaction at once),
 * and which commands modify a watched key */
static const char *const script_tx_more[] = {
    /* commands Redis 7.0 flags no_multi are refused in MULTI, and the EXEC
     * fails (SHUTDOWN would otherwise stop the server at EXEC) */
    "multi",
    "set a 1",
    "shutdown",
    "exec",
    "get a",
    "multi",
    "shutdown nosave",
    "shutdown abort",
    "discard",
    "multi",
    "object foo",
    "exec",
    "multi",
    "object encoding",
    "exec",
    "multi",
    "watch",
    "exec",
    "multi",
    "exec x",
    "exec",
    "multi",
    "discard x",
    "discard",
    "multi",
    "multi x",
    "exec",
    "watch a a a",
    "@2 set a 1",
    "unwatch",
    "watch a",
    "multi",
    "get a",
    "exec",
    "multi",
    "set a 1",
    "select 0",
    "exec",
    "multi",
    "get a",
    "dbsize",
    "flushall",
    "dbsize",
    "exec",
    "set x 1",
    "watch x",
    "multi",
    "ping",
    "@2 set x 2",
    "exec",
    "watch x",
    "multi",
    "@2 get x",
    "exec",
    "setex w 100 v",
    "watch w",
    "@2 set w v keepttl",
    "multi",
    "exec",
    "set w 1",
    "watch w",
    "@2 incrbyfloat w 0",
    "multi",
    "exec",
    "watch w",
    "@2 mset w 1",
    "multi",
    "exec",
    "watch w",
    "@2 msetnx w 1",
    "multi",
    "exec",
    "watch w",
    "@2 setnx w 1",
    "multi",
    "exec",
    "watch w",
    "@2 getdel nokey",
    "multi",
    "exec",
    "watch w",
    "@2 expire w -1",
    "multi",
    "exec",
    "watch w",
    "@2 touch w",
    "multi",
    "exec",
    "multi",
    "copy",
    "command",
    "exec",
    "exec x",
    "watch a",
    "exec x",
    "@2 set a 2",
    "multi",
    "exec",
    NULL,
};

/* SLOWLOG, LATENCY, MONITOR and CLIENT: errors, HELP, CLIENT REPLY and
 * inline commands. Nothing here may take 10 ms, or a server
 * would log it in its slow log. */
static const char *const script_introspect[] = {
    "slowlog reset",
    "slowlog len",
    "slowlog get 0",
    "slowlog get -2",
    "slowlog get x",
    "slowlog get 1 2",
    "slowlog len x",
    "slowlog reset 1",
    "slowlog foo",
    "slowlog",
    "slowlog help",
    "SLOWLOG HELP",
    "slowlog help x",
    "latency latest",
    "latency history command",
    "latency history",
    "latency reset nosuch",
    "latency reset",
    "latency foo",
    "latency",
    "latency latest x",
    "@shape latency help",
    "config get slowlog-log-slower-than",
    "config get slowlog-max-len",
    "config get latency-monitor-threshold",
    "config set slowlog-log-slower-than -2",
    "config set slowlog-max-len -1",
    "config set latency-monitor-threshold -1",
    "config set latency-monitor-threshold x",
    "monitor x",
    "multi",
    "monitor",
    "exec",
    "@shape client help",
    "client",
    "client foo",
    "client pause",
    "client pause x",
    "client pause -1",
    "client pause 10 foo",
    "client pause 10 write x",
    "client pause 0 write",
    "client unpause x",
    "client unpause",
    "client tracking off",
    "client tracking OFF",
    "client tracking foo",
    "client tracking",
    "client getredir",
    "client getredir x",
    "client trackinginfo",
    "client caching yes",
    "client caching",
    "client unblock x",
    "client unblock 5",
    "client unblock 5 foo",
    "client unblock 5 error x",
    "client unblock",
    "client no-evict foo",
    "client no-evict on",
    "client no-evict off",
    "client reply foo",
    "client reply",
    "client reply on",
    "client kill",
    "client kill 1.2.3.4:5",
    "client kill id x",
    "client kill id 0",
    "client kill id 99999",
    "client kill addr 1:1 foo",
    "client kill foo bar",
    "client kill user nobody",
    "client kill skipme maybe",
    "client kill type foo",
    "client kill type pubsub",
    "client kill maxage 1",
    "client kill laddr 1.1.1.1:1",
    "client setname \"a b\"",
    "client setname cname",
    "client getname",
    "client setname \"\"",
    "client getname",
    "@noreply client reply off",
    "@noreply set r 1",
    "@noreply get r",
    "@noreply foo",
    "client reply on",
    "get r",
    "@noreply client reply skip",
    "@noreply set r 2",
    "get r",
    "@noreply client reply skip",
    "@noreply client reply skip",   /* skipped itself, and skips the next */
    "@noreply get r",
    "get r",
    "@inline set il \"a b\"",
    "@inline get il",
    "@inline GET il",
    "@inline get",
    "@inline nosuch x y",
    "@inline client reply foo",
    "@inline slowlog get x",
    "@inline set q \"unbalanced",
    NULL,
};

/* ---- commandstats and errorstats ---- */

/* A sequence whose counters differ in every way Redis 7 counts them:
 * rejected (arity, unknown subcommand, while queuing), failed (handler
 * errors, EXEC without MULTI, EXECABORT) and errors inside EXEC, which
 * count against the command that failed, not EXEC. */
static const char *const stats_script[] = {
    "set a",
    "get a b",
    "foo",
    "multi",
    "set x",
    "incr",
    "exec",
    "multi",
    "set q v",
    "incr q",
    "exec",
    "exec",
    "discard",
    "bitcount q x y",
    "object encoding nokey",
    "object foo",
    "object freq q",
    "watch q",
    "multi",
    "watch q",
    "multi",
    "discard",
    "setbit q -1 1",
    "bitfield q get u64 0",
    "lcs q q idx len",
    "copy q q",
    NULL,
};

/* The "name:calls=..,rejected_calls=..,failed_calls=.." part of every
 * cmdstat line except INFO's and CONFIG RESETSTAT's own, sorted, one per
 * line, into out. */
static void stats_lines(redisContext *c, char *out, size_t cap)
{
    redisReply *r = run(c, "INFO commandstats");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    char *lines[256];
    size_t n = 0;
    char *save = NULL;
    for (char *l = strtok_r(r->str, "\r\n", &save); l != NULL; l = strtok_r(NULL, "\r\n", &save)) {
        if (strncmp(l, "cmdstat_", 8) != 0 || strncmp(l, "cmdstat_info:", 13) == 0 ||
            strncmp(l, "cmdstat_config|resetstat:", 25) == 0)
            continue;
        char name[128];
        unsigned long long calls, usec, rej, failed;
        double per;
        assert_int_equal(sscanf(l, "cmdstat_%127[^:]:calls=%llu,usec=%llu,usec_per_call=%lf,"
                                   "rejected_calls=%llu,failed_calls=%llu",
                                name, &calls, &usec, &per, &rej, &failed), 6);
        assert_true(n < 256);
        lines[n] = malloc(256);
        snprintf(lines[n], 256, "%s:calls=%llu,rejected_calls=%llu,failed_calls=%llu\n", name,
                 calls, rej, failed);
        n++;
    }
    freeReplyObject(r);
    /* insertion sort: Redis lists commands in its own dict order */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
            char *t = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = t;
        }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, lines[i], cap - strlen(out) - 1);
        free(lines[i]);
    }
}

static void test_stats(void **state)
{
    (void)state;
    if (!need_redis())
        return;
    redisContext *hc = server_connect(&cd), *hr = server_connect(&rd);
    assert_reply_status(run(hc, "CONFIG RESETSTAT"), "OK");
    assert_reply_status(run(hr, "CONFIG RESETSTAT"), "OK");
    char *cd_err0 = info_field(hc, "errorstats", "errorstat_ERR");
    char *rd_err0 = info_field(hr, "errorstats", "errorstat_ERR");

    assert_int_equal(run_script("stats", stats_script), 0);

    static char a[16384], b[16384];
    stats_lines(hc, a, sizeof a);
    stats_lines(hr, b, sizeof b);
    if (strcmp(a, b) != 0)
        fail_msg("commandstats differ\ncompactd:\n%sredis:\n%s", a, b);

    /* errorstats: compactd counts them in proto (reply_errorstats_*); the
     * comparison runs once the daemon renders INFO errorstats */
    char *cd_err = info_field(hc, "errorstats", "errorstat_ERR");
    char *rd_err = info_field(hr, "errorstats", "errorstat_ERR");
    assert_non_null(rd_err);
    if (cd_err == NULL) {
        print_message("note: compactd's INFO has no errorstats section yet; not compared\n");
    } else {
        /* deltas, since CONFIG RESETSTAT need not reset errorstats */
        long long dc = atoll(cd_err + 6) - (cd_err0 ? atoll(cd_err0 + 6) : 0);
        long long dr = atoll(rd_err + 6) - (rd_err0 ? atoll(rd_err0 + 6) : 0);
        assert_int_equal(dc, dr);
        char *ce = info_field(hc, "errorstats", "errorstat_EXECABORT");
        char *re = info_field(hr, "errorstats", "errorstat_EXECABORT");
        assert_non_null(ce);
        assert_non_null(re);
        free(ce);
        free(re);
    }
    free(cd_err0);
    free(rd_err0);
    free(cd_err);
    free(rd_err);
    redisFree(hc);
    redisFree(hr);
}

/* "a b c" from a COMMAND INFO entry's flag array (element 2) */
static void flag_words(const redisReply *info, char *out, size_t cap)
{
    out[0] = '\0';
    assert_true(info->type == REDIS_REPLY_ARRAY && info->elements >= 3);
    const redisReply *fl = info->element[2];
    for (size_t i = 0; i < fl->elements; i++) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", i ? " " : "", fl->element[i]->str);
    }
}

/* Every command and subcommand compactd has shows Redis 7.0's flags in
 * COMMAND INFO (they decide what MULTI refuses, among others); commands
 * Redis 7.0 lacks are skipped. */
static void test_command_flags(void **state)
{
    (void)state;
    if (!need_redis())
        return;
    redisContext *hc = server_connect(&cd), *hr = server_connect(&rd);
    redisReply *names = run(hc, "COMMAND LIST");
    assert_int_equal(names->type, REDIS_REPLY_ARRAY);
    int compared = 0, bad = 0;
    for (size_t i = 0; i < names->elements; i++) {
        const char *name = names->element[i]->str;
        redisReply *a = run(hc, "COMMAND INFO %s", name);
        redisReply *b = run(hr, "COMMAND INFO %s", name);
        assert_int_equal(a->type, REDIS_REPLY_ARRAY);
        if (b->elements == 1 && b->element[0]->type == REDIS_REPLY_ARRAY) {
            char fa[512], fb[512];
            flag_words(a->element[0], fa, sizeof fa);
            flag_words(b->element[0], fb, sizeof fb);
            if (strcmp(fa, fb) != 0) {
                print_message("  %s: compactd [%s], redis [%s]\n", name, fa, fb);
                bad++;
            }
            compared++;
        }
        freeReplyObject(a);
        freeReplyObject(b);
    }
    print_message("  flags of %d commands compared\n", compared);
    assert_true(compared > 50);
    assert_int_equal(bad, 0);
    freeReplyObject(names);
    redisFree(hc);
    redisFree(hr);
}

/* A field value's type as a monitoring tool parses it. */
static char value_type(const char *v, size_t n)
{
    size_t i = (n > 0 && v[0] == '-') ? 1 : 0;
    bool digits = i < n, dot = false;
    for (size_t j = i; j < n && digits; j++) {
        if (v[j] == '.' && !dot && j > i)
            dot = true;
        else if (v[j] < '0' || v[j] > '9')
            digits = false;
    }
    if (digits)
        return dot ? 'f' : 'i';
    if (n > 1 && v[n - 1] == '%')
        return '%';
    return 's';
}

/* INFO's sections with fixed fields: every field Redis 7.0 prints is in
 * compactd's, with a value of the same type (integer, decimal, percentage;
 * a string field may hold anything). compactd's own extra fields are
 * allowed. Commandstats, errorstats, latencystats and keyspace list what
 * ran or exists, and are compared elsewhere (test_stats). */
static void test_info_fields(void **state)
{
    (void)state;
    if (!need_redis())
        return;
    static const char *const sections[] = {"server", "clients", "memory", "persistence",
                                           "stats", "replication", "cpu", "modules", "cluster"};
    redisContext *hc = server_connect(&cd), *hr = server_connect(&rd);
    int bad = 0, fields = 0;
    for (size_t k = 0; k < sizeof sections / sizeof sections[0]; k++) {
        char *ct = text_cmd(hc, "INFO %s", sections[k]);
        char *rt = text_cmd(hr, "INFO %s", sections[k]);
        for (char *line = rt; line && *line; ) {
            char *eol = strstr(line, "\r\n");
            size_t len = eol ? (size_t)(eol - line) : strlen(line);
            const char *colon = memchr(line, ':', len);
            if (line[0] != '#' && colon != NULL) {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)(colon - line), line);
                size_t cl;
                const char *cv = text_find(ct, name, &cl);
                char rtype = value_type(colon + 1, len - (size_t)(colon + 1 - line));
                fields++;
                if (cv == NULL) {
                    print_message("  INFO %s: compactd lacks %s\n", sections[k], name);
                    bad++;
                } else if (rtype != 's' && value_type(cv, cl) != rtype) {
                    print_message("  INFO %s: %s is '%.*s', Redis's '%.*s'\n", sections[k], name,
                                  (int)cl, cv, (int)(len - (size_t)(colon + 1 - line)), colon + 1);
                    bad++;
                }
            }
            line = eol ? eol + 2 : NULL;
        }
        free(ct);
        free(rt);
    }
    print_message("  %d Redis INFO fields checked\n", fields);
    assert_true(fields > 150);
    assert_int_equal(bad, 0);
    redisFree(hc);
    redisFree(hr);
}

/* OBJECT IDLETIME after commands that only look (TTL, PTTL, TYPE, EXISTS,
 * OBJECT, EXPIRETIME): the idle time keeps growing; a GET resets it. The
 * same on both servers (idle times are whole seconds, hence the bounds). */
static void test_idletime(void **state)
{
    (void)state;
    if (!need_redis())
        return;
    redisContext *hc[2] = {server_connect(&cd), server_connect(&rd)};
    for (int i = 0; i < 2; i++) {
        freeReplyObject(run(hc[i], "FLUSHALL"));
        assert_reply_status(run(hc[i], "SET idle v EX 1000"), "OK");
    }
    harness_sleep_ms(2200);
    static const char *const looks[] = {"TTL idle", "PTTL idle", "TYPE idle", "EXISTS idle",
                                        "OBJECT ENCODING idle", "OBJECT FREQ idle",
                                        "EXPIRETIME idle", "OBJECT IDLETIME idle"};
    for (int i = 0; i < 2; i++) {
        for (size_t k = 0; k < sizeof looks / sizeof looks[0]; k++) {
            redisReply *r = run(hc[i], looks[k]);
            freeReplyObject(r);
        }
        redisReply *r = run(hc[i], "OBJECT IDLETIME idle");
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        print_message("  %s: idle %lld s after the looks\n", i ? "redis" : "compactd", r->integer);
        assert_true(r->integer >= 1 && r->integer <= 4);
        freeReplyObject(r);
        freeReplyObject(run(hc[i], "GET idle"));
        assert_reply_int(run(hc[i], "OBJECT IDLETIME idle"), 0);
        redisFree(hc[i]);
    }
}

/* A client's query buffer after a large request shrinks once the client
 * is idle (Redis: after 2 s, in clientsCron), so idle clients do not pin
 * what their largest request needed. CLIENT INFO's qbuf-free is measured
 * while CLIENT INFO itself is being read, 3 s after the request. */
static void test_qbuf_shrinks(void **state)
{
    (void)state;
    if (!need_redis())
        return;
    static const size_t sizes[] = {40 * 1024, 200 * 1024};
    char *big = malloc(200 * 1024);
    assert_non_null(big);
    memset(big, 'q', 200 * 1024);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        redisContext *hc[2] = {server_connect(&cd), server_connect(&rd)};
        for (int i = 0; i < 2; i++)
            assert_reply_status(run(hc[i], "SET qbuf %b", big, sizes[k]), "OK");
        harness_sleep_ms(3000);
        for (int i = 0; i < 2; i++) {
            redisReply *r = run(hc[i], "CLIENT INFO");
            assert_int_equal(r->type, REDIS_REPLY_STRING);
            const char *f = strstr(r->str, " qbuf-free=");
            assert_non_null(f);
            long long qfree = atoll(f + 11);
            print_message("  %s: after a %zu KiB request and 3 s idle, qbuf-free=%lld\n",
                          i ? "redis" : "compactd", sizes[k] / 1024, qfree);
            assert_true(qfree < 32 * 1024);
            freeReplyObject(r);
            redisFree(hc[i]);
        }
    }
    free(big);
}

/* COMMAND GETKEYS and GETKEYSANDFLAGS for every command and subcommand both
 * servers have, with 0 to 5 arguments (keyless commands, wrong counts and
 * every key position included): compared byte for byte as a generated
 * script. */
static void test_getkeys(void **state)
{
    (void)state;
    if (!need_redis())
        return;
    redisContext *hc = server_connect(&cd), *hr = server_connect(&rd);
    redisReply *names = run(hc, "COMMAND LIST");
    assert_int_equal(names->type, REDIS_REPLY_ARRAY);
    size_t cap = names->elements * 12 + 16, n = 0;
    char **lines = calloc(cap, sizeof *lines);
    assert_non_null(lines);
    static const char *const args[] = {"", " k1", " k1 k2", " k1 k2 k3", " k1 k2 k3 k4",
                                       " k1 get k3 k4 k5"};
    for (size_t i = 0; i < names->elements; i++) {
        const char *name = names->element[i]->str;
        redisReply *b = run(hr, "COMMAND INFO %s", name);
        bool redis_has = b->elements == 1 && b->element[0]->type == REDIS_REPLY_ARRAY;
        freeReplyObject(b);
        if (!redis_has)
            continue;
        char spaced[128];
        snprintf(spaced, sizeof spaced, "%s", name);
        char *bar = strchr(spaced, '|');
        if (bar != NULL)
            *bar = ' ';
        for (size_t a = 0; a < sizeof args / sizeof args[0]; a++) {
            for (int f = 0; f < 2; f++) {
                char line[256];
                snprintf(line, sizeof line, "command %s %s%s", f ? "getkeysandflags" : "getkeys",
                         spaced, args[a]);
                lines[n] = strdup(line);
                assert_non_null(lines[n++]);
            }
        }
    }
    assert_true(n < cap);
    lines[n] = NULL;
    int bad = run_script("getkeys", (const char *const *)lines);
    print_message("  %zu requests compared\n", n);
    for (size_t k = 0; k < n; k++)
        free(lines[k]);
    free(lines);
    freeReplyObject(names);
    redisFree(hc);
    redisFree(hr);
    assert_int_equal(bad, 0);
}

/* True if the array reply r holds the string name. */
static bool reply_has(const redisReply *r, const char *name)
{
    for (size_t i = 0; i < r->elements; i++)
        if (strcmp(r->element[i]->str, name) == 0)
            return true;
    return false;
}

/* COMMAND LIST FILTERBY PATTERN matches with Redis's glob, in any case:
 * every command both servers have is in both answers or in neither (the
 * order is the table's, which differs, and Redis has commands compactd
 * does not, such as CLUSTER). */
static void test_list_filterby(void **state)
{
    (void)state;
    if (!need_redis())
        return;
    redisContext *hc = server_connect(&cd), *hr = server_connect(&rd);
    redisReply *all_c = run(hc, "COMMAND LIST"), *all_r = run(hr, "COMMAND LIST");
    static const char *const patterns[] = {"c*", "*|*", "[gs]et", "[^a-s]*", "OBJECT|?????",
                                           "*\\|*", "m[!e]*", "get[a-z]", "*e?", "nomatch",
                                           "[a-c]*|[h-j]*"};
    int bad = 0, shared = 0;
    for (size_t k = 0; k < sizeof patterns / sizeof patterns[0]; k++) {
        redisReply *a = run(hc, "COMMAND LIST FILTERBY PATTERN %s", patterns[k]);
        redisReply *b = run(hr, "COMMAND LIST FILTERBY PATTERN %s", patterns[k]);
        for (size_t i = 0; i < all_c->elements; i++) {
            const char *name = all_c->element[i]->str;
            if (!reply_has(all_r, name))
                continue;
            shared++;
            if (reply_has(a, name) != reply_has(b, name)) {
                print_message("  pattern %s: %s matches on %s only\n", patterns[k], name,
                              reply_has(a, name) ? "compactd" : "redis");
                bad++;
            }
        }
        freeReplyObject(a);
        freeReplyObject(b);
    }
    assert_true(shared > 100);
    assert_int_equal(bad, 0);
    freeReplyObject(all_c);
    freeReplyObject(all_r);
    redisFree(hc);
    redisFree(hr);
}

#define SCRIPT_TEST(name)                                          \
    static void test_##name(void **state)                          \
    {                                                              \
        (void)state;                                               \
        if (!need_redis())                                         \
            return;                                                \
        int bad = run_script(#name, script_##name);                \
        if (bad != 0)                                              \
            fail_msg("%d replies differ from Redis in script " #name, bad); \
    }

SCRIPT_TEST(basic)
SCRIPT_TEST(bits)
SCRIPT_TEST(misc)
SCRIPT_TEST(tx)
SCRIPT_TEST(tx_more)
SCRIPT_TEST(introspect)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats),   /* first: on fresh counters */
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_bits),
        cmocka_unit_test(test_misc),
        cmocka_unit_test(test_tx),
        cmocka_unit_test(test_tx_more),
        cmocka_unit_test(test_introspect),
        cmocka_unit_test(test_command_flags),
        cmocka_unit_test(test_info_fields),
        cmocka_unit_test(test_idletime),
        cmocka_unit_test(test_qbuf_shrinks),
        cmocka_unit_test(test_getkeys),
        cmocka_unit_test(test_list_filterby),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
