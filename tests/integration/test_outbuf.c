/*
 * test_outbuf: client-output-buffer-limit for normal clients.
 *
 * A reader pipelines GETs of a 1 MB value (2000 of them: 2 GB of replies)
 * and never reads. With `client-output-buffer-limit "normal 8mb 4mb 2"` the
 * server must disconnect it once its pending output passes the hard limit,
 * rather than buffering without bound. Meanwhile its RSS (INFO memory
 * used_memory_rss) must stay within 64 MB of what it was before, and another
 * client's data and connection must be unaffected.
 *
 * Merely pausing the reader (no longer reading its requests while its output
 * is large) bounds memory too, but leaves a client that never reads
 * connected forever; that fails here with a message saying so.
 * Passes against redis-server 7.0.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BIG (1024 * 1024)
#define NGETS 2000
#define SEND_WINDOW_MS 15000   /* at most, to send the requests */
#define HOLD_MS 3000            /* not reading, after sending them all */

static struct server srv;

static long long rss(redisContext *c)
{
    return info_int(c, "memory", "used_memory_rss");
}

static void test_output_buffer_limit(void **state)
{
    (void)state;
    if (harness_external())
        skip();
    const char *args[] = {"--client-output-buffer-limit", "normal 8mb 4mb 2", NULL};
    server_start(&srv, args);

    redisContext *mon = server_connect(&srv);
    char *big = malloc(BIG);
    assert_non_null(big);
    for (int i = 0; i < BIG; i++)
        big[i] = (char)('A' + i % 53);
    assert_reply_status(run(mon, "SET big %b", big, (size_t)BIG), "OK");
    assert_reply_status(run(mon, "SET keeper intact"), "OK");
    long long rss0 = rss(mon);

    /* The reader: non-blocking, sends as much as the server takes. */
    struct raw rd;
    raw_open(&rd, srv.port);
    int fl = fcntl(rd.fd, F_GETFL);
    assert_true(fl >= 0 && fcntl(rd.fd, F_SETFL, fl | O_NONBLOCK) == 0);
    const char get[] = "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
    size_t total = (sizeof(get) - 1) * NGETS, sent = 0;
    char *reqs = malloc(total);
    assert_non_null(reqs);
    for (int i = 0; i < NGETS; i++)
        memcpy(reqs + i * (sizeof(get) - 1), get, sizeof(get) - 1);

    long long rss_max = rss0;
    bool peer_closed = false;
    int64_t t0 = harness_now_ms();
    /* Send what the server takes, then keep not reading for a while longer:
     * the server has gigabytes of replies to produce for this client. */
    while (harness_now_ms() - t0 < SEND_WINDOW_MS) {
        struct pollfd p = {.fd = rd.fd, .events = sent < total ? POLLOUT : 0};
        if (poll(&p, 1, 100) > 0) {
            if (p.revents & (POLLERR | POLLHUP)) {
                peer_closed = true;
                break;
            }
            ssize_t w = send(rd.fd, reqs + sent, total - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                peer_closed = true;   /* EPIPE / ECONNRESET: disconnected */
                break;
            }
        }
        long long r = rss(mon);
        if (r > rss_max)
            rss_max = r;
        if (r - rss0 > 64LL * 1024 * 1024)
            fail_msg("RSS grew by %lld MB while a client did not read its replies",
                     (r - rss0) >> 20);
        if (sent == total && harness_now_ms() - t0 > HOLD_MS)
            break;
    }

    /* Now read (discarding): the stream must end long before 2000 replies. */
    size_t got = 0;
    bool eof = peer_closed;
    static char sink[1 << 16];
    int64_t t1 = harness_now_ms();
    while (!eof && harness_now_ms() - t1 < 10000 && got < (size_t)NGETS * BIG) {
        struct pollfd p = {.fd = rd.fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(rd.fd, sink, sizeof(sink), 0);
        if (n > 0)
            got += (size_t)n;
        else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            eof = true;
    }
    if (!eof)
        fail_msg("the reader was not disconnected: it sent %zu of %zu request bytes, did not "
                 "read for %d s, then read %zu MB of replies in 10 s and its connection is "
                 "still open", sent, total, HOLD_MS / 1000, got >> 20);
    if (got >= (size_t)NGETS * BIG)
        fail_msg("the reader got all %d replies (%zu bytes): no limit applied", NGETS, got);
    raw_close(&rd);

    /* The rest of the server is fine, and its memory came back down. */
    assert_reply_bulk(run(mon, "GET big"), big, BIG);
    assert_reply_str(run(mon, "GET keeper"), "intact");
    assert_int_equal(info_int(mon, "clients", "connected_clients"), 1);
    long long rss1 = rss(mon);
    if (rss1 - rss0 > 64LL * 1024 * 1024)
        fail_msg("RSS is %lld MB above where it started after the reader was closed",
                 (rss1 - rss0) >> 20);
    print_message("rss: before %lld MB, peak seen %lld MB, after %lld MB; reader got %zu bytes\n",
                  rss0 >> 20, rss_max >> 20, rss1 >> 20, got);
    free(reqs);
    free(big);
    redisFree(mon);
    server_stop(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_buffer_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
