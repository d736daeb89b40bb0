/*
 * fuzz_resp: libFuzzer target for the request parser (proto/resp.c).
 *
 * Input layout: byte 0 seeds the split points, byte 1 picks the bulk-length
 * limit, the rest is what a client sent. The rest is parsed as a stream of
 * requests the way the daemon does it (parse, consume, reset), but every
 * request is fed in growing prefixes whose lengths come from a PRNG seeded
 * by byte 0, each prefix in a fresh allocation of exactly its length, so
 *  - a read past the bytes given, or a stale pointer into a previous buffer
 *    (the parser must keep offsets, not pointers), is an ASan report;
 *  - the split points a network would produce are all explored.
 *
 * Invariants checked (a violation aborts, which libFuzzer reports as a crash):
 *  - PARSE_UNFIN consumes nothing, and its `need` hint, if any, lies past
 *    the bytes given;
 *  - PARSE_OK and PARSE_EMPTY consume at least one byte and at most len;
 *    OK has at least one argument; errors carry a reply text;
 *  - the split points do not matter: the incremental result equals the
 *    result of parsing the whole remaining input in one call (same status,
 *    same consumed count, same arguments, same error text);
 *  - re-parsing exactly the consumed prefix with a fresh request gives OK
 *    with the same consumed count and the same arguments;
 *  - slice_to_ll accepts only canonical integers: what it accepts prints
 *    back ("%lld") as the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz_resp: invariant failed at %s:%d: %s\n", __FILE__,   \
                    __LINE__, #cond);                                                 \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* The parsed result of one request, copied out of the parser so it outlives
 * the buffer it points into. */
struct result {
    parse_rstatus_e st;
    size_t consumed;
    int argc;
    size_t *lens;
    char **args;
    const char *err;
};

static void result_free(struct result *r)
{
    for (int i = 0; i < r->argc; i++)
        free(r->args[i]);
    free(r->args);
    free(r->lens);
    memset(r, 0, sizeof(*r));
}

static void result_take(struct result *r, parse_rstatus_e st, size_t consumed,
                        const struct request *req, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->st = st;
    r->consumed = consumed;
    switch (st) {
    case PARSE_UNFIN:
        CHECK(consumed == 0);
        CHECK(req->need == 0 || req->need > len);
        break;
    case PARSE_OK:
        CHECK(consumed >= 1 && consumed <= len);
        CHECK(req->argc >= 1);
        r->argc = req->argc;
        r->lens = calloc((size_t)req->argc, sizeof(size_t));
        r->args = calloc((size_t)req->argc, sizeof(char *));
        CHECK(r->lens != NULL && r->args != NULL);
        for (int i = 0; i < req->argc; i++) {
            const struct slice *a = &req->argv[i];
            CHECK(a->len == 0 || a->p != NULL);
            r->lens[i] = a->len;
            r->args[i] = malloc(a->len + 1);
            CHECK(r->args[i] != NULL);
            if (a->len)
                memcpy(r->args[i], a->p, a->len);
        }
        break;
    case PARSE_EMPTY:
        CHECK(consumed >= 1 && consumed <= len);
        break;
    case PARSE_EINVALID:
    case PARSE_EOVERSIZE:
        CHECK(req->err != NULL && req->err[0] != '\0');
        r->err = req->err;
        break;
    default:
        CHECK(!"unknown parse status");
    }
}

static void result_equal(const struct result *a, const struct result *b)
{
    CHECK(a->st == b->st);
    CHECK(a->consumed == b->consumed);
    CHECK(a->argc == b->argc);
    for (int i = 0; i < a->argc; i++) {
        CHECK(a->lens[i] == b->lens[i]);
        CHECK(memcmp(a->args[i], b->args[i], a->lens[i]) == 0);
    }
    if (a->err || b->err)
        CHECK(a->err && b->err && strcmp(a->err, b->err) == 0);
}

/* Parses p[0..len) in one call from a copy of exactly len bytes. */
static void parse_once(struct request *req, const uint8_t *p, size_t len,
                       const struct resp_limits *lim, struct result *out)
{
    char *buf = malloc(len ? len : 1);
    CHECK(buf != NULL);
    if (len)
        memcpy(buf, p, len);
    size_t consumed = 12345;
    parse_rstatus_e st = resp_parse(req, buf, len, lim, &consumed);
    result_take(out, st, consumed, req, len);
    free(buf);
}

static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x ? x : 0x9e3779b9u;
}

static void check_integers(const struct result *r)
{
    for (int i = 0; i < r->argc; i++) {
        struct slice s = {r->args[i], r->lens[i]};
        long long v;
        if (slice_to_ll(&s, &v)) {
            char tmp[32];
            int n = snprintf(tmp, sizeof(tmp), "%lld", v);
            CHECK((size_t)n == s.len && memcmp(tmp, s.p, s.len) == 0);
        }
        long double d;
        (void)slice_to_ld(&s, &d);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t seed = data[0] * 0x01000193u + 1;
    /* 0: one byte at a time; otherwise random steps of 1..(data[0] & 63) + 1 */
    unsigned maxstep = data[0] == 0 ? 1 : (unsigned)(data[0] & 63) + 1;
    struct resp_limits lim = {
        .max_bulk = data[1] == 0 ? RESP_DEFAULT_MAX_BULK : (uint64_t)data[1] * 16,
    };
    const uint8_t *in = data + 2;
    size_t n = size - 2;

    struct request inc, ref, again;
    request_init(&inc);
    request_init(&ref);
    request_init(&again);

    size_t off = 0;
    while (off < n) {
        size_t rem = n - off;

        struct result whole;
        parse_once(&ref, in + off, rem, &lim, &whole);

        /* The same request fed in growing prefixes, each in a new buffer. */
        struct result part;
        size_t len = 0;
        for (;;) {
            size_t step = 1 + rng_next(&seed) % maxstep;
            len = len + step > rem ? rem : len + step;
            parse_once(&inc, in + off, len, &lim, &part);
            if (part.st != PARSE_UNFIN || len == rem)
                break;
            result_free(&part);
        }
        result_equal(&part, &whole);

        if (part.st == PARSE_OK) {
            struct result exact;
            parse_once(&again, in + off, part.consumed, &lim, &exact);
            result_equal(&exact, &part);
            result_free(&exact);
            request_reset(&again);
            check_integers(&part);
        }

        parse_rstatus_e st = part.st;
        size_t used = part.consumed;
        result_free(&part);
        result_free(&whole);
        request_reset(&inc);
        request_reset(&ref);
        if (st != PARSE_OK && st != PARSE_EMPTY)
            break;   /* the daemon closes the connection on an error */
        off += used;
    }

    request_deinit(&inc);
    request_deinit(&ref);
    request_deinit(&again);
    return 0;
}
