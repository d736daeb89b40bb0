/*
 * Unit tests for MEMORY (proto/cmd_memory.c): requests go through
 * command_dispatch on a real keyspace and allocator. Argument handling and
 * error replies are compared byte for byte with Redis 7.0; figures are
 * checked against alloc_stats / ks_stats / the per-class stats, computed
 * here independently of the handler, and STATS is parsed back from its
 * RESP2 and RESP3 encodings so the whole structure is verified.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"
#include "proto/internal.h"
#include "tests/unit/proto/support.h"

static int setup(void **state)
{
    (void)state;
    struct alloc_options ao;
    alloc_options_default(&ao);
    ao.arena_size = (size_t)1 << 16;   /* small arenas: many of them, quickly */
    ao.arena_retain = 4;
    ptest_setup(&ao, NULL);
    return 0;
}

static int teardown(void **state)
{
    return ptest_fixture_teardown(state);
}

/* Runs a request on S with the reply buffer emptied first, so out() is
 * this request's reply alone. */
#define RUN(...)                                                          \
    do {                                                                  \
        const char *a_[] = { __VA_ARGS__ };                               \
        reply_clear(&S.reply);                                            \
        ptest_run_strs(&S, (int)(sizeof a_ / sizeof a_[0]), a_);          \
    } while (0)

/* The reply as a NUL-terminated string (replies here contain no NULs). */
static const char *out(void)
{
    static char buf[1 << 16];
    assert_true(S.reply.len < sizeof buf);
    memcpy(buf, S.reply.buf, S.reply.len);
    buf[S.reply.len] = '\0';
    return buf;
}

#define EXPECT(exp, ...)                                                  \
    do {                                                                  \
        RUN(__VA_ARGS__);                                                 \
        assert_string_equal(out(), exp);                                  \
    } while (0)

static void set_key(const char *k, size_t vlen)
{
    char *v = malloc(vlen ? vlen : 1);
    assert_non_null(v);
    memset(v, 'v', vlen);
    assert_int_equal(ks_set(k, strlen(k), v, vlen, KS_NO_EXPIRE), KS_OK);
    free(v);
}

/* ---------------------------------------------------------------- USAGE */

static size_t expected_footprint(const char *key)
{
    struct entry *e = ks_peek(key, strlen(key));
    assert_non_null(e);
    struct ks_stats ks;
    ks_stats(&ks);
    return alloc_usable(e) + ks.index_bytes / ks.keys;
}

static void test_usage(void **state)
{
    (void)state;
    set_key("foo", 3);
    set_key("big", 300000);   /* a large block with a mapping of its own */
    char exp[64];

    snprintf(exp, sizeof exp, ":%zu\r\n", expected_footprint("foo"));
    EXPECT(exp, "MEMORY", "USAGE", "foo");
    EXPECT(exp, "memory", "usage", "foo", "SAMPLES", "0");
    EXPECT(exp, "MEMORY", "USAGE", "foo", "samples", "5", "SAMPLES", "100");
    /* header + key + value rounded up to a slot, plus the index share */
    struct ks_stats ks;
    ks_stats(&ks);
    size_t small = expected_footprint("foo");
    assert_true(small >= 6 + ks.index_bytes / ks.keys);
    assert_true(small <= 64 + ks.index_bytes / ks.keys);

    size_t big = expected_footprint("big");
    assert_true(big >= 300000);
    snprintf(exp, sizeof exp, ":%zu\r\n", big);
    EXPECT(exp, "MEMORY", "USAGE", "big");

    EXPECT("$-1\r\n", "MEMORY", "USAGE", "nokey");
    S.reply.resp = 3;
    EXPECT("_\r\n", "MEMORY", "USAGE", "nokey");
    S.reply.resp = 2;

    /* options are checked before the key, as in Redis */
    EXPECT("-ERR syntax error\r\n", "MEMORY", "USAGE", "foo", "SAMPLES", "-1");
    EXPECT("-ERR syntax error\r\n", "MEMORY", "USAGE", "nokey", "SAMPLES", "-1");
    EXPECT("-ERR value is not an integer or out of range\r\n",
           "MEMORY", "USAGE", "foo", "SAMPLES", "x");
    EXPECT("-ERR value is not an integer or out of range\r\n",
           "MEMORY", "USAGE", "foo", "SAMPLES", "99999999999999999999");
    EXPECT("-ERR syntax error\r\n", "MEMORY", "USAGE", "foo", "SAMPLES");
    EXPECT("-ERR syntax error\r\n", "MEMORY", "USAGE", "foo", "bar");

    /* an expired key is gone */
    ks_set("ttl", 3, "x", 1, T0 + 1000);
    RUN("MEMORY", "USAGE", "ttl");
    assert_true(out()[0] == ':');
    ks_clock_set(T0 + 1000);
    EXPECT("$-1\r\n", "MEMORY", "USAGE", "ttl");
    ks_clock_set(T0);

    /* MEMORY USAGE is not a lookup: no hits or misses */
    ks_stats_reset();
    RUN("MEMORY", "USAGE", "foo");
    RUN("MEMORY", "USAGE", "nokey");
    ks_stats(&ks);
    assert_int_equal(ks.keyspace_hits, 0);
    assert_int_equal(ks.keyspace_misses, 0);
}

static void test_errors(void **state)
{
    (void)state;
    EXPECT("-ERR wrong number of arguments for 'memory' command\r\n", "MEMORY");
    EXPECT("-ERR wrong number of arguments for 'memory|stats' command\r\n",
           "MEMORY", "STATS", "x");
    EXPECT("-ERR wrong number of arguments for 'memory|usage' command\r\n",
           "MEMORY", "USAGE");
    EXPECT("-ERR wrong number of arguments for 'memory|purge' command\r\n",
           "memory", "purge", "now");
    EXPECT("-ERR unknown subcommand 'foo'. Try MEMORY HELP.\r\n", "memory", "foo");
    const struct command *m = command_lookup("memory", 6);
    assert_non_null(m);
    const struct command *u = command_lookup_sub(m, "USAGE", 5);
    assert_non_null(u);
    assert_string_equal(command_fullname(u), "memory|usage");
    assert_int_equal(u->first_key, 2);
    assert_int_equal(u->last_key, 2);
    assert_true(u->flags & CMD_READONLY);
}

/* ------------------------------------- fields, via support.h's RESP reader */

static long long ifield(const struct ptest_node *m, const char *key)
{
    const struct ptest_node *v = ptest_map_get(m, key);
    if (v == NULL)
        fail_msg("no field %s", key);
    assert_int_equal(v->type, ':');
    return v->num;
}

/* A double field: RESP3 ',' or a RESP2 bulk holding the number. */
static double dfield(const struct ptest_node *m, const char *key)
{
    const struct ptest_node *v = ptest_map_get(m, key);
    if (v == NULL)
        fail_msg("no field %s", key);
    assert_true(v->type == ',' || v->type == '$');
    char num[64];
    assert_true(v->len < sizeof num);
    memcpy(num, v->str, v->len);
    num[v->len] = '\0';
    char *end;
    double d = strtod(num, &end);
    assert_true(*end == '\0' && end != num);
    return d;
}

/* ---------------------------------------------------------------- STATS */

static const char *const redis_order[] = {
    "peak.allocated", "total.allocated", "startup.allocated", "replication.backlog",
    "clients.slaves", "cluster.links", "aof.buffer", "lua.caches", "functions.caches",
};

static void check_stats(int resp)
{
    S.reply.resp = resp;
    RUN("MEMORY", "STATS");
    struct ptest_node root;
    ptest_parse_reply(&S.reply, &root);     /* exactly one reply */
    assert_int_equal(root.type, resp == 3 ? '%' : '*');
    if (resp == 2)
        assert_int_equal(root.num % 2, 0);
    for (size_t j = 0; j < sizeof redis_order / sizeof redis_order[0]; j++) {
        assert_int_equal(root.kids[2 * j].type, '$');
        assert_true(ptest_str_is(&root.kids[2 * j], redis_order[j]));
    }

    struct alloc_stats as;
    struct ks_stats ks;
    alloc_stats(&as);
    ks_stats(&ks);
    size_t total = as.live_bytes + ks.index_bytes;
    assert_int_equal(ifield(&root, "total.allocated"), total);
    assert_true(ifield(&root, "peak.allocated") >= (long long)total);
    assert_int_equal(ifield(&root, "keys.count"), ks.keys);
    assert_int_equal(ifield(&root, "overhead.total"), ks.index_bytes);
    assert_int_equal(ifield(&root, "dataset.bytes"), as.live_bytes);
    assert_int_equal(ifield(&root, "allocator.allocated"), as.slot_bytes);
    assert_int_equal(ifield(&root, "allocator.active"),
                     as.arenas * as.arena_size + as.large_bytes);
    assert_int_equal(ifield(&root, "allocator.resident"), as.mapped_bytes);
    assert_int_equal(ifield(&root, "arena.size"), as.arena_size);
    assert_int_equal(ifield(&root, "arena.mapped"), as.mapped_bytes);
    assert_int_equal(ifield(&root, "arena.count"), as.arenas);
    assert_int_equal(ifield(&root, "arena.retained"), as.retained_arenas);
    assert_int_equal(ifield(&root, "large.blocks"), as.large_blocks);
    assert_int_equal(ifield(&root, "large.bytes"), as.large_bytes);
    long long startup = ifield(&root, "startup.allocated");
    if (ks.keys > 0) {
        long long net = (long long)total - startup;
        assert_int_equal(ifield(&root, "keys.bytes-per-key"), net / (long long)ks.keys);
        double pct = dfield(&root, "dataset.percentage");
        assert_true(pct > 0.0 && pct <= 100.0);
        assert_true(pct > (double)as.live_bytes * 100.0 / (double)net - 0.001);
        assert_true(pct < (double)as.live_bytes * 100.0 / (double)net + 0.001);
        const struct ptest_node *db = ptest_map_get(&root, "db.0");
        assert_non_null(db);
        assert_int_equal(ifield(db, "overhead.hashtable.main"), ks.index_bytes);
        assert_int_equal(ifield(db, "overhead.hashtable.expires"), 0);
    } else {
        assert_null(ptest_map_get(&root, "db.0"));
        assert_int_equal(ifield(&root, "keys.bytes-per-key"), 0);
    }
    double pp = dfield(&root, "peak.percentage");
    assert_true(pp > 0.0 && pp <= 100.0);
    assert_true(dfield(&root, "fragmentation") > 0.0);
    assert_true(dfield(&root, "allocator-fragmentation.ratio") >= (as.slot_bytes ? 1.0 : 0.0));

    /* the per-class table: exactly the classes with arenas, in order, each
     * matching alloc's per-class stats */
    const struct ptest_node *cls = ptest_map_get(&root, "size-classes");
    assert_non_null(cls);
    assert_int_equal(cls->type, '*');
    size_t want = 0, live_small = 0, waste = 0, reclaim = 0;
    for (unsigned c = 0; c < alloc_class_count(); c++) {
        struct alloc_class_stats st;
        assert_true(alloc_class_stats(c, &st));
        if (st.arenas == 0)
            continue;
        assert_true(want < cls->nkids);
        const struct ptest_node *row = &cls->kids[want++];
        assert_int_equal(row->type, resp == 3 ? '%' : '*');
        assert_int_equal(ifield(row, "class"), c);
        assert_int_equal(ifield(row, "slot-size"), alloc_class_size(c));
        assert_int_equal(ifield(row, "arenas"), st.arenas);
        assert_int_equal(ifield(row, "slots"), st.slots);
        assert_int_equal(ifield(row, "live"), st.live);
        assert_int_equal(ifield(row, "live-bytes"), st.live_bytes);
        assert_int_equal(ifield(row, "waste"), st.arenas * as.arena_size - st.live_bytes);
        live_small += st.live;
        waste += st.waste;
        reclaim += (st.slots - st.live) / (st.slots / st.arenas);
    }
    assert_int_equal(cls->nkids, want);
    assert_int_equal(live_small + as.large_blocks, as.live_blocks);
    assert_int_equal(ifield(&root, "arena.waste"), waste);
    assert_int_equal(ifield(&root, "arena.reclaimable"), reclaim * as.arena_size);
    ptest_node_free(&root);
    S.reply.resp = 2;
}

static void test_stats(void **state)
{
    (void)state;
    check_stats(2);
    check_stats(3);
    char k[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "key:%d", i);
        set_key(k, (size_t)(i % 200));
    }
    set_key("large", 200000);
    check_stats(2);
    check_stats(3);
    RUN("MEMORY", "STATS");
    struct ptest_node root;
    ptest_parse_reply(&S.reply, &root);
    long long peak = ifield(&root, "peak.allocated");
    ptest_node_free(&root);
    ks_flush();
    check_stats(2);
    RUN("MEMORY", "STATS");
    ptest_parse_reply(&S.reply, &root);
    /* the peak survives the flush; usage dropped below it */
    assert_int_equal(ifield(&root, "peak.allocated"), peak);
    assert_true(ifield(&root, "total.allocated") < peak);
    ptest_node_free(&root);
}

/* ---------------------------------------------------------------- PURGE */

static void test_purge(void **state)
{
    (void)state;
    char k[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "p:%d", i);
        set_key(k, 100);
    }
    struct alloc_stats before;
    alloc_stats(&before);
    assert_true(before.arenas >= 4);
    ks_flush();
    struct alloc_stats mid;
    alloc_stats(&mid);
    assert_true(mid.retained_arenas > 0);
    EXPECT("+OK\r\n", "MEMORY", "PURGE");
    struct alloc_stats after;
    alloc_stats(&after);
    assert_int_equal(after.retained_arenas, 0);
    assert_true(after.mapped_bytes < mid.mapped_bytes);
    assert_int_equal(after.os_unmaps, mid.os_unmaps + mid.retained_arenas);
    assert_true(alloc_verify());
    EXPECT("+OK\r\n", "MEMORY", "PURGE");   /* nothing left: still OK */
}

/* --------------------------------------------------------------- DOCTOR */

static void test_doctor(void **state)
{
    (void)state;
    /* empty: says so, as a verbatim string in RESP3 and a bulk in RESP2 */
    RUN("MEMORY", "DOCTOR");
    assert_true(out()[0] == '$');
    assert_non_null(strstr(out(), "empty"));
    S.reply.resp = 3;
    RUN("MEMORY", "DOCTOR");
    assert_true(strncmp(out(), "=", 1) == 0);
    assert_non_null(strstr(out(), "\r\ntxt:"));
    S.reply.resp = 2;

    /* fill one class densely, then delete 90%, scattered: most arenas keep
     * a few live slots, so nothing is unmapped, but the free slots add up
     * to many whole arenas */
    char k[32];
    int n = 20000;
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "d:%06d", i);
        set_key(k, 40);
    }
    for (int i = 0; i < n; i++) {
        if (i % 10 == 0)
            continue;
        snprintf(k, sizeof k, "d:%06d", i);
        assert_true(ks_del(k, strlen(k)));
    }
    size_t reclaim = 0, worst_waste = 0;
    unsigned worst = 0;
    for (unsigned c = 0; c < alloc_class_count(); c++) {
        struct alloc_class_stats st;
        alloc_class_stats(c, &st);
        if (st.arenas == 0)
            continue;
        reclaim += (st.slots - st.live) / (st.slots / st.arenas);
        if (st.waste > worst_waste) {
            worst_waste = st.waste;
            worst = c;
        }
    }
    assert_true(reclaim >= 2);
    RUN("MEMORY", "DOCTOR");
    const char *txt = out();
    char want[160];
    snprintf(want, sizeof want, "add up to %zu whole arenas", reclaim);
    if (strstr(txt, want) == NULL)
        fail_msg("doctor lacks \"%s\":\n%s", want, txt);
    snprintf(want, sizeof want, "  * class %u (%zu-byte slots)", worst, alloc_class_size(worst));
    const char *w = strstr(txt, "Size classes wasting the most:\n");
    assert_non_null(w);
    /* the worst class is the first one listed */
    if (strncmp(strchr(w, '\n') + 1, want, strlen(want)) != 0)
        fail_msg("first listed class is not %u:\n%s", worst, txt);
    assert_non_null(strstr(txt, "Problems were found"));
    assert_non_null(strstr(txt, "Advice:\n"));
    /* the bulk length matches the text */
    long blen = strtol(txt + 1, NULL, 10);
    const char *body = strstr(txt, "\r\n") + 2;
    assert_int_equal((size_t)blen + (size_t)(body - txt) + 2, S.reply.len);
}

/* --------------------------------------------------- HELP, MALLOC-STATS */

static void test_help(void **state)
{
    (void)state;
    RUN("MEMORY", "HELP");
    const char *o = out();
    assert_true(strncmp(o, "*15\r\n+MEMORY <subcommand> [<arg> [value] [opt] ...]. "
                           "Subcommands are:\r\n", 71) == 0);
    const char *subs[] = { "+DOCTOR\r\n", "+MALLOC-STATS\r\n", "+PURGE\r\n", "+STATS\r\n",
                           "+USAGE <key> [SAMPLES <count>]\r\n", "+HELP\r\n" };
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        assert_non_null(strstr(o, subs[i]));
    size_t lines = 0;
    for (const char *p = o; (p = strstr(p, "\r\n+")) != NULL; p += 3)
        lines++;
    assert_int_equal(lines, 15);
    const char *tail = "+    Prints this help.\r\n";
    assert_string_equal(o + S.reply.len - strlen(tail), tail);

    set_key("x", 10);
    RUN("MEMORY", "MALLOC-STATS");
    o = out();
    assert_true(o[0] == '$');
    assert_non_null(strstr(o, "class slot_size arenas slots live"));
    struct alloc_stats as;
    alloc_stats(&as);
    char want[64];
    snprintf(want, sizeof want, "live_blocks:%zu ", as.live_blocks);
    assert_non_null(strstr(o, want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doctor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
