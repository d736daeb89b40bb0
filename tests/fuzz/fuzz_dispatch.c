/*
 * fuzz_dispatch: libFuzzer target for the command layer: the parser, the
 * command table and every data-command handler, over a live keyspace and
 * the arena allocator.
 *
 * Input layout: byte 0 holds flags (bit 0: the session speaks RESP3;
 * bit 7 with bit 6: the session must authenticate first, so only the NOAUTH
 * path runs), the rest is a stream of requests parsed with resp_parse as a
 * client connection would send them. After a malformed request (which would
 * close a real connection) parsing resumes after the next newline, as if the
 * client had reconnected, so one bad byte does not end the exploration.
 *
 * Every input starts from nothing (allocator, keyspace and clock set up
 * afresh), so a crash reproduces from its input alone. The clock is pinned;
 * pseudo-commands (handled here, never dispatched) drive time: "_clock <ms>"
 * moves it forward, "_cron" runs active expiry and index maintenance. "_compact" starts an online compaction run (all classes);
 * while one runs, every later command is followed by one compaction batch,
 * so commands see entries moved under them, and the run is finished at the
 * end of the input. Limits are small (64 KiB values and bulks, 64 KiB arenas, a
 * 4-slot initial index) so that limits, arena turnover and index resizes
 * happen within a few commands.
 *
 * Checks (a violation aborts, which libFuzzer reports as a crash):
 *  - ASan/UBSan reports and the modules' own asserts, as always;
 *  - each dispatched command leaves a reply that is one or more complete,
 *    well-formed RESP values (unless the reply buffer is marked oom);
 *  - ks_verify() and alloc_verify() hold every VERIFY_EVERY commands and at
 *    the end of the input;
 *  - compaction never meets a block the index does not know (strays == 0);
 *  - after the keyspace is flushed, the allocator holds no live block.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "keyspace/keyspace.h"
#include "proto/command.h"
#include "proto/internal.h"
#include "proto/resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 1700000000000LL
#define SMALL_LIMIT (64 * 1024)
#define VERIFY_EVERY 16
#define MAX_COMMANDS 2000   /* keeps one execution short */

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz_dispatch: invariant failed at %s:%d: %s\n", __FILE__,  \
                    __LINE__, #cond);                                                    \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* ---- reply validation ---- */

/* Reads a decimal line at p (up to CRLF); returns the position after CRLF or
 * NULL if malformed. */
static const char *read_line_ll(const char *p, const char *end, long long *out)
{
    const char *cr = memchr(p, '\r', (size_t)(end - p));
    if (cr == NULL || cr + 1 >= end || cr[1] != '\n' || cr == p)
        return NULL;
    char tmp[32];
    size_t n = (size_t)(cr - p);
    if (n >= sizeof(tmp))
        return NULL;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *e;
    long long v = strtoll(tmp, &e, 10);
    if (*e != '\0')
        return NULL;
    *out = v;
    return cr + 2;
}

/* Validates one RESP2/RESP3 value at p; returns the position after it or
 * NULL if it is malformed or incomplete. */
static const char *resp_value(const char *p, const char *end, int depth)
{
    if (p >= end || depth > 64)
        return NULL;
    char t = *p++;
    long long n;
    const char *cr;
    switch (t) {
    case '+': case '-': case ',': case '#': case '(':
    case '_':
        cr = memchr(p, '\r', (size_t)(end - p));
        if (cr == NULL || cr + 1 >= end || cr[1] != '\n')
            return NULL;
        if (memchr(p, '\n', (size_t)(cr - p)) != NULL)
            return NULL;   /* simple strings cannot hold newlines */
        if (t == '_' && cr != p)
            return NULL;
        if (t == '#' && !(cr == p + 1 && (*p == 't' || *p == 'f')))
            return NULL;
        return cr + 2;
    case ':':
        return read_line_ll(p, end, &n);
    case '$': case '=': case '!':
        p = read_line_ll(p, end, &n);
        if (p == NULL)
            return NULL;
        if (n == -1 && t == '$')
            return p;
        if (n < 0 || end - p < n + 2 || p[n] != '\r' || p[n + 1] != '\n')
            return NULL;
        return p + n + 2;
    case '*': case '~': case '>': case '%': case '|':
        p = read_line_ll(p, end, &n);
        if (p == NULL)
            return NULL;
        if (n == -1 && t == '*')
            return p;
        if (n < 0)
            return NULL;
        if (t == '%' || t == '|')
            n *= 2;
        for (long long i = 0; i < n; i++) {
            p = resp_value(p, end, depth + 1);
            if (p == NULL)
                return NULL;
        }
        return p;
    default:
        return NULL;
    }
}

static void check_reply(const struct reply *r)
{
    if (r->oom)
        return;
    CHECK(r->len > 0);
    const char *p = r->buf, *end = r->buf + r->len;
    while (p < end) {
        p = resp_value(p, end, 0);
        if (p == NULL) {
            fprintf(stderr, "fuzz_dispatch: malformed reply (%zu bytes): %.*s\n", r->len,
                    (int)(r->len > 300 ? 300 : r->len), r->buf);
            abort();
        }
    }
}

/* ---- the target ---- */

static void verify_all(void)
{
    CHECK(ks_verify());
    CHECK(alloc_verify());
}

static void compact_finish(void)
{
    while (ks_compact_step(UINT64_MAX))
        ;
    struct ks_compact_stats cs;
    ks_compact_stats(&cs);
    CHECK(cs.strays == 0);
#ifdef FUZZ_DEBUG   /* to see what a seed exercises: -DFUZZ_DEBUG */
    struct alloc_compact_status as;
    ks_compact_status(&as);
    fprintf(stderr, "compaction: moved %llu, dropped %llu, move failures %llu\n",
            (unsigned long long)as.total.blocks_moved, (unsigned long long)cs.dropped,
            (unsigned long long)as.total.move_failures);
#endif
}

static bool parse_ms(const struct slice *s, long long *ms)
{
    return slice_to_ll(s, ms) && *ms >= 0 && *ms <= 10LL * 365 * 24 * 3600 * 1000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        CHECK(proto_setup() == 0);
        proto_set_max_value_len(SMALL_LIMIT);
        once = true;
    }
    if (size < 1)
        return 0;

    struct alloc_options ao;
    alloc_options_default(&ao);
    ao.arena_size = ALLOC_ARENA_MIN;
    ao.arena_retain = 1;
    CHECK(alloc_setup(&ao) == 0);
    struct ks_options ko;
    ks_options_default(&ko);
    ko.initial_power = 2;
    ko.rehash_steps = 1;
    CHECK(ks_setup(&ko) == 0);
    int64_t now = T0;
    ks_clock_set(now);

    struct session s;
    memset(&s, 0, sizeof(s));
    reply_init(&s.reply);
    s.reply.resp = (data[0] & 1) ? 3 : 2;
    s.need_auth = (data[0] & 0xc0) == 0xc0;
    s.id = 1;

    struct resp_limits lim = {.max_bulk = SMALL_LIMIT};
    struct request req;
    request_init(&req);

    const char *in = (const char *)data + 1;
    size_t n = size - 1, off = 0;
    unsigned commands = 0;
    bool compacting = false;
    while (off < n && commands < MAX_COMMANDS) {
        size_t consumed = 0;
        parse_rstatus_e st = resp_parse(&req, in + off, n - off, &lim, &consumed);
        if (st == PARSE_UNFIN)
            break;
        if (st == PARSE_EINVALID || st == PARSE_EOVERSIZE) {
            const char *nl = memchr(in + off, '\n', n - off);
            if (nl == NULL)
                break;
            off = (size_t)(nl - in) + 1;
            request_reset(&req);
            continue;
        }
        CHECK(consumed >= 1 && consumed <= n - off);
        if (st == PARSE_OK) {
            long long ms;
            if (req.argc == 2 && slice_eq(&req.argv[0], "_clock") && parse_ms(&req.argv[1], &ms)) {
                now += ms;
                ks_clock_set(now);
            } else if (req.argc == 1 && slice_eq(&req.argv[0], "_cron")) {
                (void)ks_expire_cycle(1000);
                ks_cron(1000);
            } else if (req.argc == 1 && slice_eq(&req.argv[0], "_compact")) {
                struct alloc_compact_opts co;
                alloc_compact_opts_default(&co);
                co.cls = -1;
                ks_compact_start(&co);
                compacting = true;
            } else {
                (void)command_dispatch(&s, req.argc, req.argv);
                check_reply(&s.reply);
                reply_clear(&s.reply);
                if (s.close_after_reply) {
                    /* QUIT: the daemon would close the connection; go on
                     * as a new one (same reply buffer). */
                    session_deinit(&s);
                    s.close_after_reply = false;
                }
            }
            if (compacting)
                compacting = ks_compact_step(0);   /* one batch */
            commands++;
            if (commands % VERIFY_EVERY == 0)
                verify_all();
        }
        off += consumed;
        request_reset(&req);
    }
    verify_all();
    compact_finish();
    verify_all();

    ks_flush();
    struct alloc_stats as;
    alloc_stats(&as);
    CHECK(as.live_blocks == 0);

    request_deinit(&req);
    session_deinit(&s);   /* WATCH entries point at s: drop them before s goes */
    reply_deinit(&s.reply);
    ks_teardown();
    alloc_teardown();
    return 0;
}
