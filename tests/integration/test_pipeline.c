/*
 * test_pipeline: requests that do not line up with reads.
 *
 * A client may write thousands of requests before reading any reply, and
 * TCP may deliver one request in many pieces. Both must give exactly the
 * replies a one-request-at-a-time client would get, in order. The whole
 * reply stream is compared byte for byte with the expected one, so a
 * reordered, duplicated or lost reply fails the test.
 */
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof tmp);
    buf_add(b, tmp, (size_t)n);
}

/* Appends a multibulk request. */
static void req(struct buf *b, int argc, const char **argv, const size_t *lens)
{
    buf_printf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        buf_printf(b, "$%zu\r\n", lens[i]);
        buf_add(b, argv[i], lens[i]);
        buf_add(b, "\r\n", 2);
    }
}

static void bulk(struct buf *b, const char *p, size_t n)
{
    buf_printf(b, "$%zu\r\n", n);
    buf_add(b, p, n);
    buf_add(b, "\r\n", 2);
}

/* Writes all of out while reading replies, so neither side can stall on a
 * full socket buffer; returns once want bytes have arrived. */
static void exchange(int fd, const struct buf *out, struct buf *in, size_t want)
{
    size_t sent = 0;
    int64_t deadline = harness_now_ms() + 60000;
    if (in->cap < want + 1) {
        in->cap = want + 1;
        in->p = realloc(in->p, in->cap);
        assert_non_null(in->p);
    }
    while (in->len < want) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (sent < out->len)
            pfd.events |= POLLOUT;
        int pr = poll(&pfd, 1, 1000);
        assert_true(pr >= 0 || errno == EINTR);
        if (harness_now_ms() > deadline)
            fail_msg("pipeline stalled: sent %zu/%zu, received %zu/%zu", sent, out->len,
                     in->len, want);
        if (pr <= 0)
            continue;
        if ((pfd.revents & POLLOUT) && sent < out->len) {
            ssize_t w = send(fd, out->p + sent, out->len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                fail_msg("send: %s", strerror(errno));
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, in->p + in->len, in->cap - in->len, MSG_DONTWAIT);
            if (r == 0)
                fail_msg("server closed the connection after %zu of %zu reply bytes",
                         in->len, want);
            if (r > 0)
                in->len += (size_t)r;
        }
    }
}

static void compare_streams(const struct buf *got, const struct buf *exp)
{
    if (got->len == exp->len && memcmp(got->p, exp->p, exp->len) == 0)
        return;
    size_t i = 0;
    while (i < got->len && i < exp->len && got->p[i] == exp->p[i])
        i++;
    size_t from = i > 40 ? i - 40 : 0;
    fail_msg("reply stream differs at byte %zu (got %zu bytes, expected %zu):\n"
             "  got      ...%.*s\n  expected ...%.*s", i, got->len, exp->len,
             (int)((got->len - from) > 80 ? 80 : got->len - from), got->p + from,
             (int)((exp->len - from) > 80 ? 80 : exp->len - from), exp->p + from);
}

#define NCMD 10000

static void test_10000_pipelined(void **state)
{
    (void)state;
    struct buf out = { 0 }, exp = { 0 }, in = { 0 };
    long long ctr = 0;
    for (int i = 0; i < NCMD; i++) {
        char key[32], val[64];
        size_t kl = (size_t)snprintf(key, sizeof key, "pipe:%d", i / 4);
        /* Values carry CRLF and NUL so a framing slip shows up at once. */
        size_t vl = (size_t)snprintf(val, sizeof val, "v%d\r\n$5\r\nxx", i / 4);
        val[vl++] = '\0';
        switch (i % 4) {
        case 0: {
            const char *argv[] = { "SET", key, val };
            size_t lens[] = { 3, kl, vl };
            req(&out, 3, argv, lens);
            buf_add(&exp, "+OK\r\n", 5);
            break;
        }
        case 1: {
            const char *argv[] = { "GET", key };
            size_t lens[] = { 3, kl };
            req(&out, 2, argv, lens);
            bulk(&exp, val, vl);
            break;
        }
        case 2: {
            /* Inline form mixed into the same stream. */
            buf_printf(&out, "INCR pipe:ctr\r\n");
            buf_printf(&exp, ":%lld\r\n", ++ctr);
            break;
        }
        default: {
            const char *argv[] = { "GET", "pipe:none" };
            size_t lens[] = { 3, 9 };
            req(&out, 2, argv, lens);
            buf_add(&exp, "$-1\r\n", 5);
            break;
        }
        }
    }
    struct raw r;
    raw_open(&r, harness_srv.port);
    exchange(r.fd, &out, &in, exp.len);
    /* Nothing extra may follow. */
    struct pollfd pfd = { .fd = r.fd, .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 100), 0);
    compare_streams(&in, &exp);
    raw_close(&r);

    /* The same through hiredis: append everything, then read. */
    redisContext *c = server_connect(&harness_srv);
    for (int i = 0; i < NCMD; i++)
        redisAppendCommand(c, "INCR pipe:ctr2");
    for (int i = 0; i < NCMD; i++)
        assert_reply_int(get_reply(c), i + 1);
    assert_reply_str(run(c, "GET pipe:ctr"), "2500");
    redisFree(c);
    free(out.p);
    free(exp.p);
    free(in.p);
}

/* Sends s one byte per write; checks nothing comes back before the end. */
static void send_bytewise(struct raw *r, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        raw_send(r, s + i, 1, false);
        if (i + 1 < n && (i % 7 == 0 || i + 2 == n)) {
            /* Give the server time to see the partial request. */
            struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
            if (poll(&pfd, 1, i + 2 == n ? 50 : 2) != 0)
                fail_msg("reply arrived after only %zu of %zu request bytes", i + 1, n);
        }
    }
}

static void test_bytewise_requests(void **state)
{
    (void)state;
    struct raw r;
    raw_open(&r, harness_srv.port);
    static const char set[] = "*3\r\n$3\r\nSET\r\n$7\r\nsplit:k\r\n$13\r\nab\r\n\r\n$3\r\n\0xy\r\n";
    send_bytewise(&r, set, sizeof set - 1);
    raw_expect(&r, "+OK\r\n");
    static const char get[] = "*2\r\n$3\r\nGET\r\n$7\r\nsplit:k\r\n";
    send_bytewise(&r, get, sizeof get - 1);
    static const char want[] = "$13\r\nab\r\n\r\n$3\r\n\0xy\r\n";
    size_t n;
    char *got = raw_reply(&r, &n, HARNESS_IO_TIMEOUT_MS);
    assert_non_null(got);
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(got, want, n);
    free(got);
    /* Inline requests split the same way, including across the CRLF. */
    static const char inl1[] = "APPEND split:i hello\r\n";
    send_bytewise(&r, inl1, sizeof inl1 - 1);
    raw_expect(&r, ":5\r\n");
    static const char inl2[] = "GET split:i\r\n";
    send_bytewise(&r, inl2, sizeof inl2 - 1);
    raw_expect(&r, "$5\r\nhello\r\n");
    /* A request split across writes at every position of a length line. */
    static const char two[] = "*2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\n";
    for (size_t cut = 1; cut < sizeof two - 1; cut++) {
        raw_send(&r, two, cut, false);
        harness_sleep_ms(1);
        raw_send(&r, two + cut, sizeof two - 1 - cut, false);
        raw_expect(&r, "$10\r\n0123456789\r\n");
    }
    raw_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_10000_pipelined),
        cmocka_unit_test(test_bytewise_requests),
    };
    return cmocka_run_group_tests(tests, harness_group_setup, harness_group_teardown);
}
