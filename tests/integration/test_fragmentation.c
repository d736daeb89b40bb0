/*
 * test_fragmentation: online compaction against a badly fragmented keyspace
 * (issues 3 and 4), end to end with the real daemon.
 *
 * One daemon with an admin port. Values of 99 sizes (16·i bytes, i in
 * 1..99) are written size by size and then every other key of every size
 * is deleted (the harsh "phased" order: the holes of one size are not
 * refilled by the next), so about half of every arena is free. Every value
 * is derived from its key (a hash of the key seeds a byte stream), so any
 * reader can verify any key without knowing what was written.
 *
 *  1. automatic compaction (compact-auto switched on once the keyspace is
 *     fragmented, default thresholds) must bring
 *     mapped arena bytes close to the live slot bytes (within 1.3x plus one
 *     arena per size class in use) and RSS down with it, while a second
 *     client, on its own thread, reads random surviving keys the whole time
 *     and sees no error and no wrong value; then, the keyspace being quiet,
 *     exactly one more automatic run packs the arenas (issue 12) and RSS
 *     comes down to the live slots, the index and a few pages per class;
 *     then every survivor is checked;
 *  2. the same with compact-auto off and a COMPACT SYNC on the admin port
 *     (the reader keeps going while the event loop is busy compacting);
 *  3. deleting everything, with compaction off, brings RSS back to within
 *     8 MiB of the empty server's (measured at start): emptied arenas go
 *     back to the OS without a compaction run.
 *
 * Size: values per fill 96 MiB (64 under ASan, where the daemon is several
 * times slower), overridable with FRAG_TEST_MB. Not much less: after a run
 * each of the ~35 classes in use keeps up to one partly filled arena, and
 * with too little data those tails, not the holes, decide the figures. Under ASan the daemon gets a
 * tiny malloc quarantine (ASAN_OPTIONS), or RSS would measure ASan's
 * allocator rather than the arenas. compactd only:
 * redis-server has neither an admin port nor compaction.
 *
 * The reader thread never calls cmocka (its failures are not thread-safe):
 * it counts reads, errors and mismatches, and the main thread asserts them.
 */
#include "harness.h"
#include "tests/support/shadow.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_MB 64
#define SETTLE_MS 30000
#else
#define DEFAULT_MB 96
#define SETTLE_MS 15000
#endif

#define NSIZES 99
#define MAXVAL (16 * NSIZES)
#define MIB (1024.0 * 1024.0)

static struct server srv;
static int aport;
static char aport_s[16];
static int per_size;            /* keys written per size */
static long rss_empty;          /* bytes, right after start */

/* ---- keys and values ------------------------------------------------- */

static int key_of(char *buf, size_t len, char set, int size, int j)
{
    return snprintf(buf, len, "%c:%02d:%07d", set, size, j);
}

/* FNV-1a of the key seeds an xorshift stream: the value is a pure
 * function of the key, so a wrong or stale byte anywhere shows. */
static void value_of(const char *key, size_t klen, size_t vlen, unsigned char *out)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    uint64_t x = h | 1;
    for (size_t i = 0; i < vlen; i++) {
        if (i % 8 == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        out[i] = (unsigned char)(x >> (8 * (i % 8)));
    }
}

static bool value_ok(const char *key, size_t klen, const redisReply *r, int size)
{
    unsigned char want[MAXVAL];
    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != (size_t)(16 * size))
        return false;
    value_of(key, klen, (size_t)(16 * size), want);
    return memcmp(r->str, want, r->len) == 0;
}

/* ---- measurements ----------------------------------------------------- */

static long rss_bytes(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)srv.pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long size = 0, res = 0;
    assert_int_equal(fscanf(f, "%ld %ld", &size, &res), 2);
    fclose(f);
    long shadow = test_shadow_rss_bytes((int)srv.pid);  /* see shadow.h */
    assert_true(shadow >= 0);
    return res * sysconf(_SC_PAGESIZE) - shadow;
}

/* Distinct size classes that have at least one arena (ARENAS rows are
 * maps or flat arrays with a "class" field). */
static int classes_in_use(redisContext *a)
{
    redisReply *r = run(a, "ARENAS");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    bool seen[4096] = {false};
    int n = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *row = r->element[i];
        for (size_t k = 0; k + 1 < row->elements; k += 2) {
            const redisReply *f = row->element[k];
            if (f->type == REDIS_REPLY_STRING && strcmp(f->str, "class") == 0) {
                long long cls = row->element[k + 1]->integer;
                if (cls >= 0 && cls < 4096 && !seen[cls]) {
                    seen[cls] = true;
                    n++;
                }
            }
        }
    }
    freeReplyObject(r);
    assert_true(n > 0);
    return n;
}

struct snapshot {
    long long mapped, slot, live;
    long rss;
};

static void snap(redisContext *a, struct snapshot *s, const char *what)
{
    char *t = text_cmd(a, "STATS");
    s->mapped = text_field(t, "mapped_bytes");
    s->slot = text_field(t, "slot_bytes");
    s->live = text_field(t, "live_bytes");
    free(t);
    s->rss = rss_bytes();
    print_message("  %-22s mapped %7.1f MiB  slots %7.1f MiB  live %7.1f MiB  rss %7.1f MiB\n",
                  what, s->mapped / MIB, s->slot / MIB, s->live / MIB, s->rss / MIB);
}

/* ---- fill / delete / verify ------------------------------------------ */

/* Writes per_size keys of every size, then deletes the odd ones. */
static void fill_and_fragment(redisContext *c, char set)
{
    char key[32];
    unsigned char val[MAXVAL];
    for (int i = 1; i <= NSIZES; i++) {
        for (int j = 0; j < per_size; j++) {
            int kl = key_of(key, sizeof key, set, i, j);
            value_of(key, (size_t)kl, (size_t)(16 * i), val);
            redisAppendCommand(c, "SET %b %b", key, (size_t)kl, val, (size_t)(16 * i));
        }
        for (int j = 0; j < per_size; j++)
            assert_reply_status(get_reply(c), "OK");
    }
    for (int i = 1; i <= NSIZES; i++) {
        for (int j = 1; j < per_size; j += 2) {
            int kl = key_of(key, sizeof key, set, i, j);
            redisAppendCommand(c, "DEL %b", key, (size_t)kl);
        }
        for (int j = 1; j < per_size; j += 2)
            assert_reply_int(get_reply(c), 1);
    }
}

/* Every even key of the set must read back intact; a sample of odd ones
 * must be gone. */
static void check_all(redisContext *c, char set)
{
    char key[32];
    long bad = 0;
    for (int i = 1; i <= NSIZES; i++) {
        for (int j = 0; j < per_size; j += 2) {
            int kl = key_of(key, sizeof key, set, i, j);
            redisAppendCommand(c, "GET %b", key, (size_t)kl);
        }
        for (int j = 0; j < per_size; j += 2) {
            redisReply *r = get_reply(c);
            int kl = key_of(key, sizeof key, set, i, j);
            if (!value_ok(key, (size_t)kl, r, i)) {
                if (bad++ < 5)
                    print_error("bad value for %s\n", key);
            }
            freeReplyObject(r);
        }
        int kl = key_of(key, sizeof key, set, i, 1);
        assert_reply_nil(run(c, "GET %b", key, (size_t)kl));
    }
    assert_int_equal(bad, 0);
}

static void delete_all(redisContext *c, char set)
{
    char key[32];
    for (int i = 1; i <= NSIZES; i++) {
        for (int j = 0; j < per_size; j += 2) {
            int kl = key_of(key, sizeof key, set, i, j);
            redisAppendCommand(c, "DEL %b", key, (size_t)kl);
        }
        for (int j = 0; j < per_size; j += 2)
            assert_reply_int(get_reply(c), 1);
    }
}

/* ---- the concurrent reader ---------------------------------------------- */

struct reader {
    pthread_t tid;
    char set;
    atomic_bool stop;
    long reads, errors, wrong;
    char first_error[160];
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", srv.port, tv);
    if (c == NULL || c->err) {
        snprintf(rd->first_error, sizeof rd->first_error, "connect: %s",
                 c ? c->errstr : "no memory");
        rd->errors++;
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);   /* a COMPACT SYNC holds the loop for a while */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char key[32];
    while (!atomic_load(&rd->stop)) {
        /* a small pipelined batch, so each round trip checks several keys */
        int sizes[8];
        int js[8];
        for (int b = 0; b < 8; b++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            sizes[b] = 1 + (int)(x % NSIZES);
            js[b] = (int)((x >> 20) % (uint64_t)((per_size + 1) / 2)) * 2;
            int kl = key_of(key, sizeof key, rd->set, sizes[b], js[b]);
            redisAppendCommand(c, "GET %b", key, (size_t)kl);
        }
        for (int b = 0; b < 8; b++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                snprintf(rd->first_error, sizeof rd->first_error, "I/O: %s", c->errstr);
                rd->errors++;
                redisFree(c);
                return NULL;
            }
            int kl = key_of(key, sizeof key, rd->set, sizes[b], js[b]);
            if (r->type == REDIS_REPLY_ERROR) {
                if (rd->errors++ == 0)
                    snprintf(rd->first_error, sizeof rd->first_error, "%s: %s", key, r->str);
            } else if (!value_ok(key, (size_t)kl, r, sizes[b])) {
                if (rd->wrong++ == 0 && rd->first_error[0] == '\0')
                    snprintf(rd->first_error, sizeof rd->first_error, "wrong value for %s", key);
            }
            rd->reads++;
            freeReplyObject(r);
        }
    }
    redisFree(c);
    return NULL;
}

static void reader_start(struct reader *rd, char set)
{
    memset(rd, 0, sizeof *rd);
    rd->set = set;
    atomic_init(&rd->stop, false);
    assert_int_equal(pthread_create(&rd->tid, NULL, reader_main, rd), 0);
}

static void reader_stop(struct reader *rd)
{
    atomic_store(&rd->stop, true);
    assert_int_equal(pthread_join(rd->tid, NULL), 0);
    print_message("  reader: %ld reads, %ld errors, %ld wrong %s\n", rd->reads, rd->errors,
                  rd->wrong, rd->first_error);
    assert_int_equal(rd->errors, 0);
    assert_int_equal(rd->wrong, 0);
    assert_true(rd->reads > 0);
}

/* mapped must be near what the live slots need: 1.3x plus a partly
 * filled last arena per class, and the part above base (what the server
 * held before this fill) well below its fragmented figure. */
static void assert_compacted(redisContext *a, const struct snapshot *base,
                             const struct snapshot *before, const struct snapshot *after)
{
    long long arena = text_cmd_field(a, "STATS", "arena_size");
    int ncls = classes_in_use(a);
    double bound = 1.3 * (double)after->slot + (double)ncls * (double)arena;
    print_message("  bound 1.3 x slots + %d arenas = %.1f MiB\n", ncls, bound / MIB);
    assert_true((double)after->mapped <= bound);
    assert_true(after->mapped - base->mapped <= (before->mapped - base->mapped) * 7 / 10);
    /* RSS follows: at least half of the unmapped bytes left the RSS */
    assert_true(after->rss <= before->rss - (before->mapped - after->mapped) / 2);
}

/* What packed arenas keep beyond their live slots: the header's, the
 * metadata's and the last slots' pages, about 4 per class in use. */
static double ncls_pages(redisContext *a)
{
    return (double)classes_in_use(a) * 4 * 4096;
}

/* ---- tests ---------------------------------------------------------------- */

static int group_setup(void **state)
{
    *state = &srv;          /* for server_group_teardown */
    if (harness_is_redis() || harness_external())
        return 0;
    const char *mb = getenv("FRAG_TEST_MB");
    double total = (mb && atof(mb) > 0 ? atof(mb) : DEFAULT_MB) * MIB;
    per_size = (int)(total / (16.0 * NSIZES * (NSIZES + 1) / 2));
#if defined(__SANITIZE_ADDRESS__)
    /* ASan's allocator keeps freed malloc memory in a quarantine (256 MiB
     * by default) and returns it late, which would swamp the daemon's RSS;
     * a tiny quarantine and a fast release keep RSS about the arenas. */
    static char asan[512];
    const char *old = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "%s%squarantine_size_mb=1:thread_local_quarantine_size_kb=64:"
             "allocator_release_to_os_interval_ms=100", old ? old : "", old && *old ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
#endif
    aport = harness_free_port();
    snprintf(aport_s, sizeof aport_s, "%d", aport);
    const char *args[] = {"--admin-port", aport_s, "--compact-auto", "no", NULL};
    server_start(&srv, args);
    harness_sleep_ms(100);
    rss_empty = rss_bytes();
    return 0;
}

static void test_auto_compaction(void **state)
{
    (void)state;
    NEED_COMPACTD();
    redisContext *c = server_connect(&srv);
    redisContext *a = server_connect_port(&srv, aport);
    print_message("  %d keys per size, %d sizes; empty rss %.1f MiB\n", per_size, NSIZES,
                  rss_empty / MIB);
    /* The server starts with compact-auto off: a run fired halfway
     * through the fill would make the "before" figure depend on timing
     * (and a CI machine's load). Switching it on with the keyspace already
     * fragmented is what a user who turns it on later sees. */
    fill_and_fragment(c, 'a');
    struct snapshot before, after;
    snap(a, &before, "fragmented (auto)");
    assert_int_equal(text_cmd_field(a, "COMPACT STATUS", "runs"), 0);
    struct reader rd;
    reader_start(&rd, 'a');
    assert_reply_status(run(c, "CONFIG SET compact-auto yes"), "OK");

    /* Wait for the automatic run(s) to finish and mapped to stop moving. */
    int64_t t0 = harness_now_ms();
    long long runs = 0, running = 1, last_mapped = -1;
    int stable = 0;
    while (harness_now_ms() - t0 < SETTLE_MS) {
        harness_sleep_ms(250);
        running = text_cmd_field(a, "COMPACT STATUS", "running");
        runs = text_cmd_field(a, "COMPACT STATUS", "runs_finished");
        long long m = text_cmd_field(a, "STATS", "mapped_bytes");
        stable = (!running && runs > 0 && m == last_mapped) ? stable + 1 : 0;
        last_mapped = m;
        if (stable >= 4)
            break;
    }
    print_message("  settled after %.1f s, %lld runs finished\n",
                  (harness_now_ms() - t0) / 1000.0, runs);
    reader_stop(&rd);
    assert_int_equal(running, 0);
    assert_true(runs >= 1);
    assert_true(text_cmd_field(a, "COMPACT STATUS", "runs_auto") >= 1);
    assert_true(text_cmd_field(a, "COMPACT STATUS", "total_blocks_moved") > 0);
    snap(a, &after, "after auto compaction");
    struct snapshot none = {0, 0, 0, 0};
    assert_compacted(a, &none, &before, &after);

    /* The keyspace has gone quiet (the reader only reads): the quiet
     * trigger packs what the evacuation left, once, and RSS comes down to
     * the live slots, the index and a few pages per class. */
    reader_start(&rd, 'a');
    t0 = harness_now_ms();
    long long autos = 0;
    while (harness_now_ms() - t0 < SETTLE_MS) {
        harness_sleep_ms(250);
        autos = text_cmd_field(a, "COMPACT STATUS", "runs_auto");
        if (autos >= 2 && !text_cmd_field(a, "COMPACT STATUS", "running"))
            break;
    }
    print_message("  quiet run after %.1f s\n", (harness_now_ms() - t0) / 1000.0);
    reader_stop(&rd);
    assert_int_equal(autos, 2);
    assert_true(text_cmd_field(a, "COMPACT STATUS", "total_bytes_purged") > 0);
    struct snapshot packed;
    snap(a, &packed, "after the quiet run");
    long long live = packed.live;
    long long floor = live / 256 > 64 * 1024 ? live / 256 : 64 * 1024;
    assert_true(text_cmd_field(a, "STATS", "compaction_packable_bytes") < floor);
    long long index = text_cmd_field(a, "STATS", "index_bytes");
    double above = (double)(packed.rss - rss_empty);
    double bound = (double)packed.slot + (double)index + ncls_pages(a) + 4 * MIB;
    print_message("  rss above empty %.1f MiB, bound slots + index + 4 pages a class + 4 MiB = "
                  "%.1f MiB\n", above / MIB, bound / MIB);
    assert_true(above <= bound);
    /* MEMORY MALLOC-STATS shows the pages returned, per class (the last
     * column); they add up to what the runs purged of arenas still mapped */
    redisReply *ms = run(c, "MEMORY MALLOC-STATS");
    assert_int_equal(ms->type, REDIS_REPLY_STRING);
    long long purged = 0;
    const char *line = strstr(ms->str, "resident purged\n");
    assert_non_null(line);
    for (line = strchr(line, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        const char *end = strchr(line, '\n');
        const char *sp = end;
        while (sp > line && sp[-1] != ' ')
            sp--;
        purged += atoll(sp);
    }
    freeReplyObject(ms);
    print_message("  purged pages per class add up to %.1f MiB\n", purged / MIB);
    assert_true(purged > 0);
    assert_true(purged <= text_cmd_field(a, "COMPACT STATUS", "total_bytes_purged"));
    /* and it does not fire again on the same state */
    harness_sleep_ms(2500);
    assert_int_equal(text_cmd_field(a, "COMPACT STATUS", "runs_auto"), 2);
    check_all(c, 'a');
    redisFree(a);
    redisFree(c);
}

static void test_sync_compaction(void **state)
{
    (void)state;
    NEED_COMPACTD();
    redisContext *c = server_connect(&srv);
    redisContext *a = server_connect_port(&srv, aport);
    assert_reply_status(run(c, "CONFIG SET compact-auto no"), "OK");
    struct snapshot base, before, after;
    snap(a, &base, "set a only");
    fill_and_fragment(c, 'b');
    snap(a, &before, "fragmented (sync)");
    long long runs0 = text_cmd_field(a, "COMPACT STATUS", "runs_manual");

    struct reader rd;
    reader_start(&rd, 'b');
    harness_sleep_ms(200);          /* the reader is under way before, during, after */
    char *res = text_cmd(a, "COMPACT SYNC");
    assert_true(text_field(res, "blocks_moved") > 0);
    assert_true(text_field(res, "arenas_released") > 0);
    free(res);
    harness_sleep_ms(300);
    reader_stop(&rd);
    assert_int_equal(text_cmd_field(a, "COMPACT STATUS", "runs_manual"), runs0 + 1);

    snap(a, &after, "after COMPACT SYNC");
    assert_compacted(a, &base, &before, &after);
    check_all(c, 'b');
    check_all(c, 'a');              /* the first set is untouched by this run */
    redisFree(a);
    redisFree(c);
}

static void test_delete_all(void **state)
{
    (void)state;
    NEED_COMPACTD();
    redisContext *c = server_connect(&srv);
    redisContext *a = server_connect_port(&srv, aport);
    assert_reply_status(run(c, "CONFIG SET compact-auto no"), "OK");
    long long runs0 = text_cmd_field(a, "COMPACT STATUS", "runs");
    delete_all(c, 'a');
    delete_all(c, 'b');
    assert_int_equal(dbsize(c), 0);
    /* Emptied arenas go back without a run; allow the retained ones a
     * moment to be released by the cron. */
    long rss = 0;
    int64_t t0 = harness_now_ms();
    do {
        harness_sleep_ms(200);
        rss = rss_bytes();
    } while (rss > rss_empty + 8 * 1024 * 1024 && harness_now_ms() - t0 < 5000);
    print_message("  all deleted: rss %.1f MiB (empty %.1f MiB, +%.1f MiB), mapped %.1f MiB\n",
                  rss / MIB, rss_empty / MIB, (rss - rss_empty) / MIB,
                  text_cmd_field(a, "STATS", "mapped_bytes") / MIB);
    assert_int_equal(text_cmd_field(a, "COMPACT STATUS", "runs"), runs0);
    assert_true(rss <= rss_empty + 8 * 1024 * 1024);
    redisFree(a);
    redisFree(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_compaction),
        cmocka_unit_test(test_sync_compaction),
        cmocka_unit_test(test_delete_all),
    };
    return cmocka_run_group_tests(tests, group_setup, server_group_teardown);
}
