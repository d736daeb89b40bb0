/*
 * command: the shared command table, request dispatch and per-command
 * counters.
 *
 * Every request goes through command_dispatch, so lookup is a case-folding
 * open-addressing hash over the registered names (no allocation, no copy of
 * the name). Rows are registered by proto/ (data commands) and by the daemon
 * (server commands); the table keeps pointers to those static rows plus an
 * entry per command and per subcommand holding its counters and full name.
 *
 * Both ports' rows share the table: an entry records its port, lookups
 * probe for a name and a port together, and every walk that takes no port
 * stays on the data port (see command.h).
 *
 * Invariants:
 *  - the hash holds exactly the top-level entries of both ports, at load
 *    factor <= 1/2, so probing always reaches an empty slot;
 *  - entries never move once created (they are allocated one by one), so a
 *    pointer to an entry stays valid until command_table_clear;
 *  - checks run in Redis 7's order: existence (command, then subcommand),
 *    arity, authentication; the error wordings are Redis's.
 */
#include "proto/command.h"
#include "proto/multi.h"

#include "alloc/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Redis truncates names and arguments quoted in errors to this many bytes. */
#define ERR_QUOTE_MAX 128

struct cmd_entry {
    const struct command *cmd;
    enum command_port port;         /* from the row's CMD_ADMIN_PORT; a subcommand's is its parent's */
    struct cmd_entry *parent;       /* NULL for a top-level command */
    struct cmd_entry *subs;         /* array of nsubs entries */
    size_t nsubs;
    size_t namelen;
    char *fullname;                 /* "config|get"; top level: cmd->name */
    struct command_stats st;
};

static struct cmd_entry **order;    /* top-level entries, registration order */
static size_t norder, order_cap;
static size_t ndata;                /* of which the data port's */
static struct cmd_entry **slots;    /* hash: power-of-two size */
static size_t nslots;
static size_t max_namelen;

static inline unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static inline uint64_t name_hash(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ull;     /* FNV-1a over folded bytes */
    for (size_t i = 0; i < len; i++) {
        h ^= fold((unsigned char)p[i]);
        h *= 1099511628211ull;
    }
    return h;
}

static inline bool name_eq(const char *row, size_t rowlen, const char *p, size_t len)
{
    if (rowlen != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (fold((unsigned char)row[i]) != fold((unsigned char)p[i]))
            return false;
    return true;
}

static inline enum command_port row_port(const struct command *c)
{
    return (c->flags & CMD_ADMIN_PORT) ? CMD_PORT_ADMIN : CMD_PORT_DATA;
}

static struct cmd_entry *lookup_entry(enum command_port port, const char *name, size_t len)
{
    if (nslots == 0 || len > max_namelen)
        return NULL;
    size_t mask = nslots - 1;
    for (size_t i = (size_t)name_hash(name, len) & mask;; i = (i + 1) & mask) {
        struct cmd_entry *e = slots[i];
        if (e == NULL)
            return NULL;
        if (e->port == port && name_eq(e->cmd->name, e->namelen, name, len))
            return e;
    }
}

static struct cmd_entry *lookup_sub_entry(const struct cmd_entry *parent,
                                          const char *name, size_t len)
{
    /* containers have a handful of subcommands: a scan beats a hash */
    for (size_t i = 0; i < parent->nsubs; i++) {
        struct cmd_entry *e = &parent->subs[i];
        if (name_eq(e->cmd->name, e->namelen, name, len))
            return e;
    }
    return NULL;
}

static void hash_put(struct cmd_entry **tab, size_t n, struct cmd_entry *e)
{
    size_t mask = n - 1;
    size_t i = (size_t)name_hash(e->cmd->name, e->namelen) & mask;
    while (tab[i] != NULL)
        i = (i + 1) & mask;
    tab[i] = e;
}

static int hash_reserve(size_t nentries)
{
    size_t want = 16;
    while (want < nentries * 2)
        want *= 2;
    if (want <= nslots)
        return 0;
    struct cmd_entry **tab = calloc(want, sizeof(*tab));
    if (tab == NULL)
        return ENOMEM;
    for (size_t i = 0; i < norder; i++)
        hash_put(tab, want, order[i]);
    free(slots);
    slots = tab;
    nslots = want;
    return 0;
}

static void entry_free(struct cmd_entry *e)
{
    for (size_t i = 0; i < e->nsubs; i++)
        free(e->subs[i].fullname);
    free(e->subs);
    free(e);
}

static struct cmd_entry *entry_new(const struct command *row)
{
    struct cmd_entry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->cmd = row;
    e->port = row_port(row);
    e->namelen = strlen(row->name);
    e->fullname = (char *)row->name;
    if (row->subcommands == NULL)
        return e;
    size_t n = 0;
    while (row->subcommands[n].name != NULL)
        n++;
    e->subs = calloc(n ? n : 1, sizeof(*e->subs));
    if (e->subs == NULL) {
        free(e);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        struct cmd_entry *s = &e->subs[i];
        s->cmd = &row->subcommands[i];
        s->port = e->port;
        s->parent = e;
        s->namelen = strlen(s->cmd->name);
        s->fullname = malloc(e->namelen + 1 + s->namelen + 1);
        if (s->fullname == NULL) {
            e->nsubs = i;
            entry_free(e);
            return NULL;
        }
        memcpy(s->fullname, row->name, e->namelen);
        s->fullname[e->namelen] = '|';
        memcpy(s->fullname + e->namelen + 1, s->cmd->name, s->namelen + 1);
    }
    e->nsubs = n;
    return e;
}

int command_register(const struct command *rows, size_t n)
{
    /* validate everything first so a failure adds nothing */
    for (size_t i = 0; i < n; i++) {
        if (rows[i].name == NULL || rows[i].name[0] == '\0')
            return EINVAL;
        size_t len = strlen(rows[i].name);
        if (lookup_entry(row_port(&rows[i]), rows[i].name, len) != NULL)
            return EEXIST;
        for (size_t j = 0; j < i; j++)
            if (row_port(&rows[j]) == row_port(&rows[i]) &&
                name_eq(rows[j].name, strlen(rows[j].name), rows[i].name, len))
                return EEXIST;
    }
    if (norder + n > order_cap) {
        size_t ncap = order_cap ? order_cap : 32;
        while (ncap < norder + n)
            ncap *= 2;
        struct cmd_entry **no = realloc(order, ncap * sizeof(*no));
        if (no == NULL)
            return ENOMEM;
        order = no;
        order_cap = ncap;
    }
    if (hash_reserve(norder + n) != 0)
        return ENOMEM;
    struct cmd_entry **fresh = calloc(n ? n : 1, sizeof(*fresh));
    if (fresh == NULL)
        return ENOMEM;
    for (size_t i = 0; i < n; i++) {
        fresh[i] = entry_new(&rows[i]);
        if (fresh[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                entry_free(fresh[j]);
            free(fresh);
            return ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        order[norder++] = fresh[i];
        if (fresh[i]->port == CMD_PORT_DATA)
            ndata++;
        hash_put(slots, nslots, fresh[i]);
        if (fresh[i]->namelen > max_namelen)
            max_namelen = fresh[i]->namelen;
    }
    free(fresh);
    return 0;
}

void command_table_clear(void)
{
    for (size_t i = 0; i < norder; i++)
        entry_free(order[i]);
    free(order);
    free(slots);
    order = NULL;
    slots = NULL;
    norder = order_cap = nslots = ndata = 0;
    max_namelen = 0;
}

const struct command *command_lookup_port(enum command_port port, const char *name,
                                          size_t len)
{
    struct cmd_entry *e = lookup_entry(port, name, len);
    return e ? e->cmd : NULL;
}

const struct command *command_lookup(const char *name, size_t len)
{
    return command_lookup_port(CMD_PORT_DATA, name, len);
}

const struct command *command_lookup_sub(const struct command *parent,
                                         const char *name, size_t len)
{
    if (parent == NULL || parent->subcommands == NULL)
        return NULL;
    for (const struct command *c = parent->subcommands; c->name != NULL; c++)
        if (name_eq(c->name, strlen(c->name), name, len))
            return c;
    return NULL;
}

size_t command_count(void)
{
    return ndata;
}

void command_foreach(void (*fn)(const struct command *c, void *ctx), void *ctx)
{
    for (size_t i = 0; i < norder; i++)
        if (order[i]->port == CMD_PORT_DATA)
            fn(order[i]->cmd, ctx);
}

/* The entry of a row from the table (top level or subcommand), or NULL.
 * A top-level row is found through the hash; subcommand rows by a scan,
 * which only INFO and CLIENT LIST-style callers pay for. */
static struct cmd_entry *entry_of(const struct command *c)
{
    if (c->name != NULL) {
        struct cmd_entry *e = lookup_entry(row_port(c), c->name, strlen(c->name));
        if (e != NULL && e->cmd == c)
            return e;
    }
    for (size_t i = 0; i < norder; i++) {
        struct cmd_entry *e = order[i];
        if (e->cmd == c)
            return e;
        for (size_t j = 0; j < e->nsubs; j++)
            if (e->subs[j].cmd == c)
                return &e->subs[j];
    }
    return NULL;
}

const char *command_fullname(const struct command *c)
{
    struct cmd_entry *e = entry_of(c);
    return e ? e->fullname : c->name;
}

const struct command_stats *command_stats_get(const struct command *c)
{
    struct cmd_entry *e = entry_of(c);
    return e ? &e->st : NULL;
}

void command_stats_foreach(command_stats_fn fn, void *ctx)
{
    for (size_t i = 0; i < norder; i++) {
        struct cmd_entry *e = order[i];
        if (e->port != CMD_PORT_DATA)
            continue;
        fn(e->fullname, e->cmd, &e->st, ctx);
        for (size_t j = 0; j < e->nsubs; j++)
            fn(e->subs[j].fullname, e->subs[j].cmd, &e->subs[j].st, ctx);
    }
}

void command_stats_reset(void)
{
    for (size_t i = 0; i < norder; i++) {
        struct cmd_entry *e = order[i];
        memset(&e->st, 0, sizeof(e->st));
        for (size_t j = 0; j < e->nsubs; j++)
            memset(&e->subs[j].st, 0, sizeof(e->subs[j].st));
    }
}

/* Length of an argument as C's "%s" would see it (Redis formats these
 * strings with %s, which stops at a NUL byte), capped at max. */
static size_t quoted_len(const struct slice *a, size_t max)
{
    size_t n = a->len < max ? a->len : max;
    const char *nul = n ? memchr(a->p, '\0', n) : NULL;
    return nul ? (size_t)(nul - a->p) : n;
}

static void reject_unknown_command(struct session *s, int argc, struct slice *argv)
{
    /* the args part stops growing once it reaches 128 bytes, and each
     * argument is cut to what is left of those 128 */
    char args[ERR_QUOTE_MAX + 8 + 1];
    size_t alen = 0;
    for (int i = 1; i < argc && alen < ERR_QUOTE_MAX; i++) {
        size_t n = quoted_len(&argv[i], ERR_QUOTE_MAX - alen);
        args[alen++] = '\'';
        memcpy(args + alen, argv[i].p, n);
        alen += n;
        args[alen++] = '\'';
        args[alen++] = ' ';
    }
    args[alen] = '\0';
    int nlen = (int)quoted_len(&argv[0], ERR_QUOTE_MAX);
    reply_errorf(&s->reply, "ERR unknown command '%.*s', with args beginning with: %s",
                 nlen, argv[0].p, args);
}

static void reject_unknown_sub(struct session *s, struct slice *argv)
{
    char parent[ERR_QUOTE_MAX + 1];
    size_t plen = quoted_len(&argv[0], ERR_QUOTE_MAX);
    for (size_t i = 0; i < plen; i++) {
        unsigned char c = (unsigned char)argv[0].p[i];
        parent[i] = (char)((c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c);
    }
    parent[plen] = '\0';
    int slen = (int)quoted_len(&argv[1], ERR_QUOTE_MAX);
    reply_errorf(&s->reply, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                 slen, argv[1].p, parent);
}


static command_observer observer;

void command_set_observer(command_observer fn)
{
    observer = fn;
}

/* Runs a command's handler and counts the call (also for EXEC's queue). */
void command_call(struct session *s, struct cmd_entry *e, int argc, struct slice *argv)
{
    command_proc proc = e->cmd->proc;
    if (proc == NULL && e->parent != NULL)
        proc = e->parent->cmd->proc;
    uint64_t errs = s->reply.nerrors;
    uint64_t nested = s->tx.nested_errors;
    uint64_t t0 = s->now_us;
    proc(s, argc, argv);
    uint64_t t1 = clock_mono_us();
    s->now_us = t1;   /* EXEC's commands chain: each starts where the last ended */
    uint64_t usec = t1 > t0 ? t1 - t0 : 0;
    e->st.usec += usec;
    e->st.calls++;
    /* errors of commands that EXEC ran count against those commands */
    uint64_t mine = s->reply.nerrors - errs;
    uint64_t inner = s->tx.nested_errors - nested;
    if (mine > inner)
        e->st.failed_calls++;
    if (s->tx.executing)
        s->tx.nested_errors += mine - inner;
    if (observer != NULL)
        observer(s, e->cmd, argc, argv, usec);
}

/*
 * Refuses a known command before its handler runs. As in Redis, refusing
 * EXEC itself (arity, NOAUTH, maxmemory) ends the transaction, in or out
 * of MULTI, and says why: "EXECABORT Transaction discarded because of:"
 * and the error without its "ERR " code.
 */
static void reject_known(struct session *s, struct cmd_entry *e, const char *err)
{
    e->st.rejected_calls++;
    if (e->cmd->flags & CMD_TX_EXEC) {
        tx_discard(s);
        if (strncmp(err, "ERR ", 4) == 0)
            err += 4;
        reply_errorf(&s->reply, "EXECABORT Transaction discarded because of: %s", err);
        return;
    }
    reply_error(&s->reply, err);
}

/* reject_known for a request that fails its checks: inside MULTI it also
 * dooms the transaction, so the EXEC that follows answers EXECABORT. */
static void reject_checked(struct session *s, struct cmd_entry *e, const char *err)
{
    if (s->tx.active)
        s->tx.aborted = true;
    reject_known(s, e, err);
}

void command_reject(struct session *s, const struct command *c, const char *err)
{
    struct cmd_entry *e = c != NULL ? entry_of(c) : NULL;
    if (s->tx.active)
        s->tx.aborted = true;
    if (e != NULL)
        reject_known(s, e, err);
    else
        reply_error(&s->reply, err);
}

const struct command *command_dispatch(struct session *s, int argc, struct slice *argv)
{
    return command_dispatch_at(s, argc, argv, clock_mono_us());
}

const struct command *command_dispatch_at(struct session *s, int argc, struct slice *argv,
                                          uint64_t now_us)
{
    s->now_us = now_us;
    if (argc <= 0)
        return NULL;
    struct cmd_entry *e = lookup_entry(s->port, argv[0].p, argv[0].len);
    if (e == NULL) {
        reject_unknown_command(s, argc, argv);
        goto rejected;
    }
    if (e->cmd->subcommands != NULL && argc >= 2) {
        struct cmd_entry *sub = lookup_sub_entry(e, argv[1].p, argv[1].len);
        if (sub == NULL) {
            reject_unknown_sub(s, argv);
            goto rejected;
        }
        e = sub;
    }
    const struct command *c = e->cmd;
    if ((c->arity > 0 && argc != c->arity) || (c->arity < 0 && argc < -c->arity) ||
        (c->max_args > 0 && argc > c->max_args)) {
        char msg[ERR_QUOTE_MAX * 2];
        snprintf(msg, sizeof msg, "ERR wrong number of arguments for '%s' command", e->fullname);
        reject_checked(s, e, msg);
        return NULL;
    }
    if (s->need_auth && !(c->flags & CMD_NOAUTH)) {
        reject_checked(s, e, ERR_NOAUTH);
        return NULL;
    }
    if (c->proc == NULL && (e->parent == NULL || e->parent->cmd->proc == NULL)) {
        char msg[ERR_QUOTE_MAX * 2];
        snprintf(msg, sizeof msg, "ERR command '%s' is not implemented", e->fullname);
        reject_checked(s, e, msg);
        return NULL;
    }
    if (s->tx.active && (c->flags & CMD_NOMULTI)) {
        reject_checked(s, e, "ERR Command not allowed inside a transaction");
        return NULL;
    }
    if (s->tx.active && !(c->flags & CMD_TX_NOQUEUE)) {
        if (!tx_queue(s, e, argc, argv)) {
            reply_error(&s->reply, ERR_NOMEM);
            goto rejected;
        }
        s->tx.flags |= c->flags;
        reply_status(&s->reply, "QUEUED");
        return c;
    }
    command_call(s, e, argc, argv);
    return c;

rejected:
    if (s->tx.active)
        s->tx.aborted = true;
    return NULL;
}
