/*
 * command: the command table and dispatch.
 *
 * Commands are rows (name, arity, flags, key positions, handler). proto/
 * registers the data commands it implements on top of keyspace/; the daemon
 * registers the server commands that need connection or server state
 * (HELLO, AUTH, CLIENT, CONFIG, INFO, ...) and the admin port's commands.
 * All share one table and one dispatcher, so arity checks, authentication
 * and error wording are uniform.
 *
 * Ports: a row flagged CMD_ADMIN_PORT belongs to the admin port, every
 * other row to the data port, and a session runs only the rows of its own
 * port (session.port): the other port's commands are unknown to it. A name
 * is unique within a port, so both ports may have a PING or a CONFIG. The
 * table's walks and lookups that take no port (COMMAND, INFO commandstats,
 * command_lookup) see the data port only, which is what clients see.
 *
 * A handler writes exactly one reply (or a protocol-legal sequence of them)
 * into s->reply.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/reply.h"
#include "proto/resp.h"

/*
 * Command flags, in the order COMMAND INFO lists them (Redis 7.0's), by
 * their names there. Most only describe; these also act:
 *  - CMD_NOMULTI: refused inside MULTI ("Command not allowed inside a
 *    transaction"), which makes the EXEC fail with EXECABORT;
 *  - CMD_SKIP_SLOWLOG: the slow log shows what it ran, not itself (EXEC);
 *  - CMD_ALLOW_BUSY: Redis runs it while a script is busy; compactd has no
 *    scripts, so it is shown and nothing more.
 */
#define COMMAND_FLAGS(X)                         \
    X(CMD_WRITE,    1u << 0, "write")              \
    X(CMD_READONLY, 1u << 1, "readonly")           \
    X(CMD_DENYOOM,  1u << 2, "denyoom")            \
    X(CMD_ADMIN,    1u << 3, "admin")              \
    X(CMD_PUBSUB,   1u << 4, "pubsub")             \
    X(CMD_NOSCRIPT, 1u << 5, "noscript")           \
    X(CMD_LOADING,  1u << 6, "loading")            \
    X(CMD_STALE,    1u << 7, "stale")              \
    X(CMD_SKIP_SLOWLOG, 1u << 11, "skip_slowlog")  \
    X(CMD_FAST,     1u << 8, "fast")               \
    X(CMD_NOAUTH,   1u << 9, "no_auth")            \
    X(CMD_MAYREPLICATE, 1u << 10, "may_replicate") \
    X(CMD_NOMULTI,  1u << 12, "no_multi")          \
    X(CMD_ALLOW_BUSY, 1u << 13, "allow_busy")

/*
 * Flags of compactd's own, which COMMAND INFO never shows (Redis either
 * has no such flag or does not report it for these commands):
 *  - CMD_TX_NOQUEUE: runs at once inside MULTI instead of being queued
 *    (MULTI, EXEC, DISCARD, WATCH, QUIT, RESET);
 *  - CMD_TX_EXEC: runs the transaction's queue (EXEC), so it is judged by
 *    the flags of the queued commands (maxmemory, CLIENT PAUSE, MONITOR),
 *    and refusing it ends the transaction with EXECABORT (the slow log
 *    shows the commands it ran rather than itself: CMD_SKIP_SLOWLOG);
 *  - CMD_ADMIN_PORT: a row of the admin port (see Ports above).
 */
#define COMMAND_INTERNAL_FLAGS(X)      \
    X(CMD_TX_NOQUEUE, 1u << 24)          \
    X(CMD_TX_EXEC,    1u << 25)          \
    X(CMD_ADMIN_PORT, 1u << 26)

#define X(name, bit, str) name = bit,
#define Y(name, bit) name = bit,
enum command_flag { COMMAND_FLAGS(X) COMMAND_INTERNAL_FLAGS(Y) };
#undef Y
#undef X

/* The port whose rows a session runs. */
enum command_port {
    CMD_PORT_DATA = 0,   /* clients' Redis commands */
    CMD_PORT_ADMIN,      /* operators' admin commands (rows with CMD_ADMIN_PORT) */
};

/* The flag sets Redis 7.0 gives two families of server commands:
 * administration (CONFIG GET, CLIENT KILL, SLOWLOG GET, MONITOR, ...) and
 * connection handling (HELLO, AUTH, CLIENT ID, ...). */
#define CMD_FLAGS_ADMIN (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define CMD_FLAGS_CONN  (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST)

/* The Redis version whose commands and replies compactd follows, and which
 * it reports where clients look for one (HELLO, INFO redis_version). */
#define REDIS_COMPAT_VERSION "7.0.0"

struct tx_queued;   /* a command queued by MULTI (proto/multi.c) */
struct tx_watch;    /* a key watched by WATCH (proto/multi.c) */

/* Per-connection protocol state. The daemon embeds this in its connection
 * and keeps it alive for the connection's lifetime. It starts zeroed
 * (except reply, which reply_init sets up) and must be released with
 * session_deinit. */
struct session {
    struct reply reply;
    uint64_t id;
    enum command_port port;  /* whose rows it runs; CMD_PORT_DATA when zeroed */
    /*
     * The dispatcher's clock: a CLOCK_MONOTONIC reading in microseconds.
     * Each dispatch sets it to the caller's reading (the time the command
     * starts at, which its handler may read); the handler's time is
     * measured from it, and the reading taken when a handler returns is
     * stored back (the commands EXEC runs chain this way), so it ends as
     * the time the request ended, ready to start the caller's next one.
     */
    uint64_t now_us;
    bool need_auth;          /* requirepass is set and AUTH has not succeeded */
    bool close_after_reply;  /* QUIT, protocol errors */
    void *owner;             /* the daemon's connection object */

    /* MULTI/EXEC/WATCH state: private to proto/multi.c and command.c. */
    struct {
        bool active;              /* between MULTI and EXEC/DISCARD */
        bool aborted;             /* a command was refused while queuing */
        bool dirty;               /* a watched key changed since WATCH */
        bool executing;           /* EXEC is running the queue */
        struct tx_queued *queue;
        size_t nqueued, cap;
        uint32_t flags;           /* OR of the queued commands' flags */
        struct tx_watch *watched; /* this session's watched keys */
        uint64_t nested_errors;   /* errors replied by commands EXEC ran */
    } tx;
};

/* Frees the session's transaction queue and watched keys (call before
 * reply_deinit when the connection ends). Leaves the session outside any
 * transaction and watching nothing, so RESET may call it too. */
void session_deinit(struct session *s);

struct command;
typedef void (*command_proc)(struct session *s, int argc, struct slice *argv);

struct command {
    const char *name;        /* lowercase */
    int arity;               /* >0 exact argc, <0 at least -arity */
    uint32_t flags;
    int first_key;           /* 0 if the command takes no keys */
    int last_key;            /* -1 means the last argument */
    int key_step;
    command_proc proc;
    const char *summary;     /* one line, for COMMAND DOCS */
    const char *group;       /* "string", "generic", "server", "connection" */
    const char *since;       /* Redis version that introduced it, for COMMAND DOCS */
    const struct command *subcommands;  /* NULL-name-terminated, or NULL */
    const char *complexity;  /* for COMMAND DOCS, e.g. "O(1)"; may be NULL */
    int max_args;            /* most arguments, counting the name (with a negative
                              * arity: a range); 0 means no limit but arity's */
    /* What the command does with its keys, in Redis 7.0's key-spec flags
     * ("RW access update"), for COMMAND INFO and COMMAND GETKEYSANDFLAGS.
     * With key_flags2 the keys have two roles: key_flags is the first key
     * alone, key_flags2 the keys after it (COPY, RENAME, BITOP). */
    const char *key_flags;
    const char *key_flags2;
    /* Rows flagged variable_flags: the flags the arguments choose (SET with
     * or without GET, BITFIELD with only GETs); NULL: key_flags. */
    const char *(*key_flags_for)(int argc, const struct slice *argv);
};

/*
 * Adds rows to the table (names must be unique, case-insensitively).
 * Returns 0, EEXIST for a duplicate name (nothing is added then), EINVAL for
 * a row without name, or ENOMEM. The table keeps pointers to the rows and
 * their subcommand arrays, so they must stay valid (static) until
 * command_table_clear.
 *
 * Subcommand rows (in .subcommands) carry only the subcommand's own name
 * ("get", not "config|get"); their arity counts the parent's name too, as in
 * Redis (CONFIG GET is -3). A subcommand row with a NULL proc runs its
 * parent's proc. Authentication is waived only for rows flagged CMD_NOAUTH.
 * Names are unique per port: a row flagged CMD_ADMIN_PORT may share its
 * name with a data row.
 */
int command_register(const struct command *rows, size_t n);
/* Forgets every registered row and all counters (for proto_teardown). */
void command_table_clear(void);
/* Registers proto's own data commands. Idempotent. Returns 0, or the errno
 * of the failed command_register (nothing of proto's is registered then,
 * and the daemon must not run without its commands). */
int proto_setup(void);
void proto_teardown(void);

/* Case-insensitive lookup among the data port's rows; NULL if unknown. */
const struct command *command_lookup(const char *name, size_t len);
/* The same among port's rows. */
const struct command *command_lookup_port(enum command_port port, const char *name,
                                          size_t len);
/* The data port's commands (COMMAND COUNT). */
size_t command_count(void);
/* Visits every data-port command in registration order. */
void command_foreach(void (*fn)(const struct command *c, void *ctx), void *ctx);

/* Looks up a subcommand row of parent (case-insensitive); NULL if none. */
const struct command *command_lookup_sub(const struct command *parent,
                                         const char *name, size_t len);
/* "get" or "config|get": the name Redis uses in errors and statistics. */
const char *command_fullname(const struct command *c);

/*
 * Runs one request among the rows of s's port: looks the command (and
 * subcommand) up, checks arity, then authentication, and calls its
 * handler. The checks run in Redis's order, so an unauthenticated client
 * still gets "unknown command" and arity errors. Inside MULTI a command
 * not flagged CMD_TX_NOQUEUE is queued instead (its arguments copied) and
 * answered +QUEUED; a rejected one makes EXEC fail with EXECABORT.
 * Returns the command run or queued, or NULL if it was rejected.
 */
const struct command *command_dispatch(struct session *s, int argc, struct slice *argv);

/*
 * command_dispatch at a time the caller read, so that one clock read per
 * command serves both the caller (its keyspace clock) and the handler
 * timing: now_us is a CLOCK_MONOTONIC reading in microseconds taken just
 * before the call, handed to the command in s->now_us (which holds the
 * time the request ended afterwards: see struct session). command_dispatch
 * reads the clock itself.
 */
const struct command *command_dispatch_at(struct session *s, int argc, struct slice *argv,
                                          uint64_t now_us);

/*
 * For checks the daemon makes before dispatch (e.g. maxmemory): replies
 * err, counts a rejected call of c (if not NULL) and, inside MULTI, makes
 * the transaction fail with EXECABORT, as Redis does for every command it
 * refuses while queuing. Refusing EXEC itself ends the transaction at once
 * and replies "EXECABORT Transaction discarded because of: <err without
 * its ERR code>", as Redis does.
 */
void command_reject(struct session *s, const struct command *c, const char *err);

/*
 * The OR of the flags of the commands queued since MULTI (0 outside
 * MULTI). Redis refuses EXEC when over maxmemory if the transaction holds a
 * CMD_DENYOOM command; the daemon can do the same with command_reject.
 */
uint32_t session_tx_flags(const struct session *s);

/*
 * Per-command counters for INFO commandstats, counted as Redis 7 does. A
 * call is counted when its handler ran (for a queued command: when EXEC
 * ran it); rejected_calls counts rejections of a known command before its
 * handler (arity, NOAUTH, command_reject), also while queuing in MULTI;
 * failed_calls counts calls whose handler replied with an error of its own
 * (EXEC does not fail because a command it ran did: that command does).
 */
struct command_stats {
    uint64_t calls;
    uint64_t usec;           /* wall time spent in the handler */
    uint64_t rejected_calls;
    uint64_t failed_calls;
};
typedef void (*command_stats_fn)(const char *fullname, const struct command *c,
                                 const struct command_stats *st, void *ctx);
/* Visits every data-port command and subcommand, in registration order,
 * including those never called (the caller filters as INFO does). */
void command_stats_foreach(command_stats_fn fn, void *ctx);
/* The counters of one command row from the table; NULL if not registered. */
const struct command_stats *command_stats_get(const struct command *c);
/* Zeroes all counters (CONFIG RESETSTAT). */
void command_stats_reset(void);

/*
 * An observer called after every handler run, including the commands EXEC
 * runs (EXEC's own call comes after theirs), with the handler's wall time
 * as commandstats counts it, for sessions of both ports (s->port tells).
 * Rejected commands are not observed. The daemon feeds SLOWLOG, LATENCY and
 * MONITOR from it, with the data port's commands only. NULL removes it.
 */
typedef void (*command_observer)(struct session *s, const struct command *c, int argc,
                                 struct slice *argv, uint64_t usec);
void command_set_observer(command_observer fn);

/*
 * The largest string value a command may create (APPEND, SETRANGE), Redis's
 * proto-max-bulk-len. Defaults to RESP_DEFAULT_MAX_BULK (512 MiB). The
 * daemon calls proto_set_max_value_len() when it loads or changes
 * proto-max-bulk-len, so that values and requests obey the same limit.
 */
void proto_set_max_value_len(uint64_t n);
uint64_t proto_max_value_len(void);

/* Redis's standard error texts, shared by every handler. */
#define ERR_SYNTAX      "ERR syntax error"
#define ERR_NOT_INT     "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT   "ERR value is not a valid float"
#define ERR_OVERFLOW    "ERR increment or decrement would overflow"
#define ERR_NO_KEY      "ERR no such key"
#define ERR_OOM         "OOM command not allowed when used memory > 'maxmemory'."
#define ERR_NOMEM       "OOM cannot allocate memory for this value"
#define ERR_NOAUTH      "NOAUTH Authentication required."
#define ERR_WRONGTYPE   "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_EXECABORT   "EXECABORT Transaction discarded because of previous errors."
