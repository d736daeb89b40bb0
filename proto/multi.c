/*
 * multi: transactions (MULTI, EXEC, DISCARD) and optimistic locking (WATCH,
 * UNWATCH) with Redis 7.0's semantics and error texts.
 *
 * Queue: a queued request's arguments live in the connection's query
 * buffer only until the next request is parsed, so each queued command is
 * copied into one block (its slice array followed by the argument bytes).
 *
 * Watches: every watched key is a record in a process-wide hash table
 * (key -> records, one per watching session) and in its session's list.
 * keyspace/ calls watch_on_modify for every change to a key (insert,
 * replace, delete, expiry, expiry change, in-place edit reported with
 * ks_modified), which marks each session watching that key dirty; EXEC of
 * a dirty session answers a null array. ks_repoint (compaction moving an
 * entry) does not notify, so compaction never aborts a transaction.
 *
 * Expiry: Redis aborts EXEC when a key that was live at WATCH has expired
 * since, even if nothing has reaped it yet. WATCH looks the key up with
 * ks_peek (reaping it if it is already expired, so a key expired before
 * WATCH is simply missing), and EXEC looks every watched key up again:
 * any that expired in between is reaped then, which notifies, which marks
 * the session dirty.
 *
 * Flush: FLUSHALL/FLUSHDB dirty the sessions watching a key that exists
 * at that moment (Redis's rule); the flush hook runs before ks_flush frees
 * anything and checks each watched key with ks_peek.
 */
#include <stdlib.h>
#include <string.h>

#include "keyspace/keyspace.h"
#include "proto/internal.h"
#include "proto/multi.h"

struct tx_queued {
    struct cmd_entry *entry;
    int argc;
    struct slice *argv;     /* one malloc block: argv[argc] then the bytes */
};

struct tx_watch {
    struct tx_watch *hnext;     /* next record in the same hash bucket */
    struct tx_watch *snext;     /* next key watched by the same session */
    struct session *sess;
    uint64_t hash;
    size_t klen;
    char key[];
};

static struct tx_watch **wtab;  /* power-of-two buckets, NULL when empty */
static size_t wbuckets, wcount;

static uint64_t key_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;     /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

/* ---- the queue ---- */

bool tx_queue(struct session *s, struct cmd_entry *e, int argc, struct slice *argv)
{
    if (s->tx.nqueued == s->tx.cap) {
        size_t ncap = s->tx.cap ? s->tx.cap * 2 : 8;
        struct tx_queued *nq = realloc(s->tx.queue, ncap * sizeof *nq);
        if (nq == NULL)
            return false;
        s->tx.queue = nq;
        s->tx.cap = ncap;
    }
    size_t bytes = (size_t)argc * sizeof(struct slice);
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len;
    struct slice *copy = malloc(bytes ? bytes : 1);
    if (copy == NULL)
        return false;
    char *p = (char *)(copy + argc);
    for (int i = 0; i < argc; i++) {
        if (argv[i].len > 0)
            memcpy(p, argv[i].p, argv[i].len);
        copy[i].p = p;
        copy[i].len = argv[i].len;
        p += argv[i].len;
    }
    struct tx_queued *q = &s->tx.queue[s->tx.nqueued++];
    q->entry = e;
    q->argc = argc;
    q->argv = copy;
    return true;
}

static void queue_free(struct session *s)
{
    for (size_t i = 0; i < s->tx.nqueued; i++)
        free(s->tx.queue[i].argv);
    free(s->tx.queue);
    s->tx.queue = NULL;
    s->tx.nqueued = s->tx.cap = 0;
}

/* ---- watched keys ---- */

static void watch_on_modify(const char *key, size_t klen, void *ctx)
{
    (void)ctx;
    if (wcount == 0)
        return;
    uint64_t h = key_hash(key, klen);
    for (struct tx_watch *w = wtab[h & (wbuckets - 1)]; w != NULL; w = w->hnext)
        if (w->hash == h && w->klen == klen && memcmp(w->key, key, klen) == 0)
            w->sess->tx.dirty = true;
}

static void watch_on_flush(void *ctx)
{
    (void)ctx;
    for (size_t b = 0; b < wbuckets && wcount > 0; b++)
        for (struct tx_watch *w = wtab[b]; w != NULL; w = w->hnext)
            if (ks_peek(w->key, w->klen) != NULL)
                w->sess->tx.dirty = true;
}

static bool watch_grow(void)
{
    size_t n = wbuckets ? wbuckets * 2 : 16;
    struct tx_watch **t = calloc(n, sizeof *t);
    if (t == NULL)
        return false;
    for (size_t b = 0; b < wbuckets; b++) {
        struct tx_watch *w = wtab[b];
        while (w != NULL) {
            struct tx_watch *next = w->hnext;
            w->hnext = t[w->hash & (n - 1)];
            t[w->hash & (n - 1)] = w;
            w = next;
        }
    }
    free(wtab);
    wtab = t;
    wbuckets = n;
    return true;
}

static bool watch_add(struct session *s, const struct slice *key)
{
    uint64_t h = key_hash(key->p, key->len);
    for (struct tx_watch *w = s->tx.watched; w != NULL; w = w->snext)
        if (w->hash == h && w->klen == key->len && memcmp(w->key, key->p, key->len) == 0)
            return true;    /* already watched */
    if (wcount >= wbuckets && !watch_grow())
        return false;
    struct tx_watch *w = malloc(sizeof *w + key->len);
    if (w == NULL)
        return false;
    /* reap the key now if it is already expired: a key that expired before
     * WATCH is just missing, and its reaping must not dirty this session */
    ks_peek(key->p, key->len);
    w->sess = s;
    w->hash = h;
    w->klen = key->len;
    if (key->len > 0)
        memcpy(w->key, key->p, key->len);
    size_t b = h & (wbuckets - 1);
    w->hnext = wtab[b];
    wtab[b] = w;
    w->snext = s->tx.watched;
    s->tx.watched = w;
    wcount++;
    return true;
}

static void unwatch_all(struct session *s)
{
    struct tx_watch *w = s->tx.watched;
    while (w != NULL) {
        struct tx_watch *next = w->snext;
        struct tx_watch **pp = &wtab[w->hash & (wbuckets - 1)];
        while (*pp != w)
            pp = &(*pp)->hnext;
        *pp = w->hnext;
        free(w);
        wcount--;
        w = next;
    }
    s->tx.watched = NULL;
    if (wcount == 0) {     /* nothing watched anywhere: give the table back */
        free(wtab);
        wtab = NULL;
        wbuckets = 0;
    }
}

/* Ends the transaction (if any) and forgets the watched keys, as Redis's
 * EXEC and DISCARD do. */
static void tx_reset(struct session *s)
{
    queue_free(s);
    unwatch_all(s);
    s->tx.active = false;
    s->tx.aborted = false;
    s->tx.dirty = false;
    s->tx.flags = 0;
}

uint32_t session_tx_flags(const struct session *s)
{
    return s->tx.active ? s->tx.flags : 0;
}

void tx_discard(struct session *s)
{
    tx_reset(s);
}

void session_deinit(struct session *s)
{
    tx_reset(s);
}

/* ---- commands ---- */

void cmd_multi(struct session *s, int argc, struct slice *argv)
{
    if (s->tx.active) {
        reply_error(&s->reply, "ERR MULTI calls can not be nested");
        return;
    }
    s->tx.active = true;
    reply_ok(&s->reply);
}

void cmd_discard(struct session *s, int argc, struct slice *argv)
{
    if (!s->tx.active) {
        reply_error(&s->reply, "ERR DISCARD without MULTI");
        return;
    }
    tx_reset(s);
    reply_ok(&s->reply);
}

void cmd_exec(struct session *s, int argc, struct slice *argv)
{
    if (!s->tx.active) {
        reply_error(&s->reply, "ERR EXEC without MULTI");
        return;
    }
    if (s->tx.aborted) {
        tx_reset(s);
        reply_error(&s->reply, ERR_EXECABORT);
        return;
    }
    /* a watched key that expired since WATCH is reaped here, and its
     * notification dirties this session */
    for (struct tx_watch *w = s->tx.watched; w != NULL && !s->tx.dirty; w = w->snext)
        ks_peek(w->key, w->klen);
    if (s->tx.dirty) {
        tx_reset(s);
        reply_null_array(&s->reply);
        return;
    }
    /* take the queue out of the session, so that what the commands do to
     * the session (even a nested MULTI being refused) cannot touch it */
    struct tx_queued *q = s->tx.queue;
    size_t n = s->tx.nqueued;
    s->tx.queue = NULL;
    s->tx.nqueued = s->tx.cap = 0;
    tx_reset(s);

    s->tx.executing = true;
    reply_array(&s->reply, n);
    for (size_t i = 0; i < n; i++)
        command_call(s, q[i].entry, q[i].argc, q[i].argv);
    s->tx.executing = false;
    for (size_t i = 0; i < n; i++)
        free(q[i].argv);
    free(q);
}

void cmd_watch(struct session *s, int argc, struct slice *argv)
{
    if (s->tx.active) {
        reply_error(&s->reply, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    /* (re)installed on every WATCH: cheap, and survives a keyspace
     * teardown and setup between unit tests */
    ks_set_modify_hook(watch_on_modify, NULL);
    ks_set_flush_hook(watch_on_flush, NULL);
    for (int j = 1; j < argc; j++) {
        if (!watch_add(s, &argv[j])) {
            reply_error(&s->reply, ERR_NOMEM);
            return;
        }
    }
    reply_ok(&s->reply);
}

void cmd_unwatch(struct session *s, int argc, struct slice *argv)
{
    unwatch_all(s);
    s->tx.dirty = false;
    reply_ok(&s->reply);
}
