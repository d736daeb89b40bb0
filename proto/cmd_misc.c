/*
 * cmd_misc: connection and server basics that need no per-connection state
 * beyond the reply buffer: PING, ECHO, SELECT, DBSIZE, FLUSHALL/FLUSHDB and
 * TIME.
 *
 * compactd has exactly one database, so SELECT accepts only 0 but still
 * validates its argument the way Redis does (integer first, then range),
 * because clients such as connection pools send "SELECT 0" blindly.
 */
#include <limits.h>
#include "alloc/clock.h"
#include "keyspace/keyspace.h"
#include "proto/internal.h"

void cmd_ping(struct session *s, int argc, struct slice *argv)
{
    /* The table says "at least one"; Redis rejects more than two itself. */
    if (argc > 2) {
        reply_error(&s->reply, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (argc == 1)
        reply_status(&s->reply, "PONG");
    else
        reply_bulk(&s->reply, argv[1].p, argv[1].len);
}

void cmd_echo(struct session *s, int argc, struct slice *argv)
{
    reply_bulk(&s->reply, argv[1].p, argv[1].len);
}

void cmd_select(struct session *s, int argc, struct slice *argv)
{
    long long id;

    if (!slice_to_ll(&argv[1], &id)) {
        reply_error(&s->reply, ERR_NOT_INT);
        return;
    }
    /* Redis parses the index as an int and says so when it does not fit. */
    if (id < INT_MIN || id > INT_MAX) {
        reply_error(&s->reply,
                    "ERR value is out of range, value must between -2147483648 and 2147483647");
        return;
    }
    if (id != 0) {
        reply_error(&s->reply, "ERR DB index is out of range");
        return;
    }
    reply_ok(&s->reply);
}

void cmd_dbsize(struct session *s, int argc, struct slice *argv)
{
    reply_int(&s->reply, (long long)ks_count());
}

/* FLUSHALL and FLUSHDB are the same with one database. ASYNC is accepted
 * and done synchronously: freeing entries is cheap next to the network. */
void cmd_flushall(struct session *s, int argc, struct slice *argv)
{
    if (argc > 2 || (argc == 2 && !slice_eq(&argv[1], "async") && !slice_eq(&argv[1], "sync"))) {
        reply_error(&s->reply, ERR_SYNTAX);
        return;
    }
    ks_flush();
    reply_ok(&s->reply);
}

/* The real wall clock with microseconds, not the per-command keyspace
 * clock: TIME is what clients use to read the server's time. */
void cmd_time(struct session *s, int argc, struct slice *argv)
{
    int64_t us = clock_wall_us();
    reply_array(&s->reply, 2);
    reply_bulk_ll(&s->reply, (long long)(us / 1000000));
    reply_bulk_ll(&s->reply, (long long)(us % 1000000));
}
