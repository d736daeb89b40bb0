/*
 * config: the daemon's options, declared once.
 *
 * CONFIG_OPTIONS below is the only place an option is described: the
 * daemon's rows, and the allocator's and the keyspace's, which those modules
 * declare next to the structs they fill (ALLOC_OPTIONS, KS_OPTIONS) and this
 * table includes. The rows generate the fields of struct config (a module
 * row's field keeps its module's name, so settings.c copies each by name),
 * and one table-driven engine derives
 * from them the defaults, redis.conf-style file parsing, command-line
 * overrides, CONFIG GET / CONFIG SET, `--help` and the sample file in conf/.
 *
 * Every value (defaults included) goes through the same parser and checks,
 * so a row's default can never violate its own bounds. Values live in the
 * global `cfg`, which the rest of the daemon reads directly; only this
 * module writes it. CONFIG SET is all-or-nothing: every pair is parsed and
 * checked before any value changes.
 *
 * This file knows nothing of the network; from proto/ it takes only the line
 * splitter (proto/split.h), which inline requests share. So it is unit
 * tested on its own (tests/unit/daemon).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "alloc/alloc.h"         /* ALLOC_OPTIONS: the rows below that alloc reads */
#include "keyspace/keyspace.h"   /* KS_OPTIONS; KS_MAX_VAL_LEN bounds proto-max-bulk-len */

/* Value types. INT and SIZE are stored as long long; SIZE accepts k/kb/m/mb/
 * g/gb suffixes (k = 1000, kb = 1024, as Redis does) and reads back in bytes.
 * ENUM is stored as the index into the row's word list. LIST is a
 * space-separated string (bind addresses, save points). */
enum cfg_type { CFG_BOOL, CFG_INT, CFG_SIZE, CFG_STRING, CFG_ENUM, CFG_LIST };

/* Row flags. */
#define CFG_MUTABLE 0x1u  /* CONFIG SET may change it at run time */
#define CFG_FIXED   0x2u  /* compatibility row: only the default is accepted */
#define CFG_POW2    0x4u  /* must be a power of two */
#define CFG_OCTAL   0x8u  /* INT written in octal (permissions) */
#define CFG_MILLI   0x10u /* INT written as a decimal with up to 3 fraction digits and
                             stored times 1000 ("1.2" is 1200; min/max are scaled too) */
#define CFG_OBL     0x20u /* LIST in client-output-buffer-limit syntax (checked on parse) */
#define CFG_ADMIN   0x40u /* guards the admin port: the data port neither shows nor sets it */
#define CFG_SECRET  0x80u /* a password: its value is never logged */

typedef long long cfg_BOOL_t;
typedef long long cfg_INT_t;
typedef long long cfg_SIZE_t;
typedef long long cfg_ENUM_t;
typedef char *cfg_STRING_t;
typedef char *cfg_LIST_t;

#define CFG_LL_MAX 9223372036854775807LL

/*
 * X(field, "name", TYPE, "default", min, max, flags, "enum words", "description")
 * min/max bound INT and SIZE values (and ENUM/BOOL ignore them).
 *
 * M rows are the storage modules' own (ALLOC_OPTIONS, KS_OPTIONS): the same
 * columns, but the default is a number in the stored unit (bytes,
 * thousandths for CFG_MILLI, a word's index for ENUM), which the engine
 * writes out in the file's syntax ("1mb", "1.2", "yes", "arenas") once at
 * load, so that every default goes through the one parser. Expansions pass
 * the same macro for both unless they need the default.
 */
#define CONFIG_OPTIONS(X, M)                                                                   \
    X(bind, "bind", LIST, "127.0.0.1", 0, 0, 0, NULL,                                          \
      "Addresses to listen on, separated by spaces (IPv4 or IPv6; '*' is every IPv4 "         \
      "address, '::*' every IPv6 one; a leading '-' means skip it if unavailable)")            \
    X(port, "port", INT, "6379", 0, 65535, 0, NULL,                                             \
      "TCP port to listen on; 0 disables TCP")                                                 \
    X(unixsocket, "unixsocket", STRING, "", 0, 0, 0, NULL,                                     \
      "Path of a Unix socket to listen on as well; empty means none")                          \
    X(unixsocketperm, "unixsocketperm", INT, "0", 0, 0777, CFG_OCTAL, NULL,                    \
      "Octal permissions of the Unix socket; 0 keeps the umask's")                             \
    X(tcp_backlog, "tcp-backlog", INT, "511", 1, 65535, 0, NULL,                               \
      "listen() backlog of the TCP and Unix listeners")                                        \
    X(maxclients, "maxclients", INT, "10000", 1, 1000000, CFG_MUTABLE, NULL,                   \
      "Most clients connected at once; more are told so and disconnected")                     \
    X(timeout, "timeout", INT, "0", 0, 2147483647, CFG_MUTABLE, NULL,                          \
      "Close a client after this many idle seconds; 0 never does")                             \
    X(tcp_keepalive, "tcp-keepalive", INT, "300", 0, 2147483647, CFG_MUTABLE, NULL,            \
      "TCP keepalive period in seconds for new clients; 0 disables it")                        \
    X(hz, "hz", INT, "10", 1, 500, CFG_MUTABLE, NULL,                                          \
      "Background task frequency (expiry, index rehashing, idle clients) per second")          \
    X(loglevel, "loglevel", ENUM, "notice", 0, 0, CFG_MUTABLE, "debug verbose notice warning", \
      "Least severe messages logged")                                                          \
    X(logfile, "logfile", STRING, "", 0, 0, 0, NULL,                                           \
      "File the log is appended to; empty means standard error")                               \
    X(slowlog_log_slower_than, "slowlog-log-slower-than", INT, "10000", -1, CFG_LL_MAX,        \
      CFG_MUTABLE, NULL,                                                                       \
      "Commands taking at least this many microseconds go to the SLOWLOG; -1 disables it, "   \
      "0 logs every command")                                                                  \
    X(slowlog_max_len, "slowlog-max-len", INT, "128", 0, CFG_LL_MAX, CFG_MUTABLE, NULL,        \
      "Most entries the SLOWLOG keeps (the oldest go first)")                                  \
    X(latency_monitor_threshold, "latency-monitor-threshold", INT, "0", 0, CFG_LL_MAX,         \
      CFG_MUTABLE, NULL,                                                                       \
      "LATENCY records events (commands, expiry cycles, compaction) lasting at least this "    \
      "many milliseconds; 0 disables it")                                                      \
    X(requirepass, "requirepass", STRING, "", 0, 0, CFG_MUTABLE | CFG_SECRET, NULL,             \
      "Password clients must give with AUTH or HELLO; empty means none")                       \
    X(proto_max_bulk_len, "proto-max-bulk-len", SIZE, "512mb", 1048576, KS_MAX_VAL_LEN,        \
      CFG_MUTABLE, NULL,                                                                       \
      "Largest bulk string (key or value) a request may carry; at most 512mb, the largest "    \
      "key or value the keyspace stores")                                                      \
    X(client_query_buffer_limit, "client-query-buffer-limit", SIZE, "1gb", 1048576,           \
      CFG_LL_MAX, CFG_MUTABLE, NULL,                                                           \
      "Largest unprocessed input kept per client; a client exceeding it is disconnected")      \
    X(maxmemory, "maxmemory", SIZE, "0", 0, CFG_LL_MAX, CFG_MUTABLE, NULL,                    \
      "Memory limit for data (entries plus index); above it keys are evicted by "             \
      "maxmemory-policy, and commands that add data fail with an OOM error when nothing "     \
      "can be evicted. 0 means no limit")                                                      \
    X(maxmemory_policy, "maxmemory-policy", ENUM, "noeviction", 0, 0, CFG_MUTABLE,             \
      "noeviction allkeys-lru allkeys-lfu allkeys-random volatile-lru volatile-lfu "          \
      "volatile-random volatile-ttl",                                                          \
      "Which keys to evict at maxmemory (sampled LRU/LFU/random/TTL, as Redis does); "        \
      "noeviction refuses writes instead")                                                     \
    X(databases, "databases", INT, "1", 1, 1, 0, NULL,                                         \
      "Number of databases; compactd has exactly one (db 0)")                                  \
    X(save, "save", LIST, "", 0, 0, CFG_FIXED, NULL,                                           \
      "Snapshot points; always empty because compactd persists nothing")                      \
    X(appendonly, "appendonly", BOOL, "no", 0, 0, CFG_FIXED, NULL,                             \
      "Append-only file; always no because compactd persists nothing")                         \
    /* the allocator's and the keyspace's own rows */                                         \
    ALLOC_OPTIONS(M)                                                                           \
    KS_OPTIONS(M)                                                                              \
    X(protected_mode, "protected-mode", BOOL, "yes", 0, 0, CFG_MUTABLE, NULL,                  \
      "While requirepass is empty, refuse clients that connect from non-loopback addresses")   \
    X(client_output_buffer_limit, "client-output-buffer-limit", LIST, "normal 256mb 0 0", 0, 0, \
      CFG_MUTABLE | CFG_OBL, NULL,                                                             \
      "<class> <hard> <soft> <soft-seconds>: a normal client whose unsent replies exceed "     \
      "hard, or stay above soft for soft-seconds, is disconnected; 0 disables a limit. "       \
      "Only the normal class applies (replica and pubsub are accepted and ignored). A "        \
      "client pipelining faster than it reads stops being served at twice soft (8mb "        \
      "without soft, never above hard) until it reads, so with a soft or small hard limit a " \
      "client that never reads is disconnected. The default bounds one client's pending "      \
      "output at 256mb (a huge reply) and pauses a slow reader at 8mb")                        \
    X(admin_bind, "admin-bind", STRING, "127.0.0.1", 0, 0, CFG_ADMIN, NULL,                    \
      "Address of the admin port (RESP admin commands and HTTP /metrics)")                      \
    X(admin_port, "admin-port", INT, "-1", -1, 65535, CFG_ADMIN, NULL,                          \
      "TCP port of the admin listener; 0 disables it. -1 (the default) derives it from the "   \
      "data port: port + 10000 (16379 for 6379), or port - 10000 above 55535, so instances "   \
      "on one host never collide; CONFIG GET and the start-up log show the port chosen")       \
    X(admin_password, "admin-password", STRING, "", 0, 0, CFG_MUTABLE | CFG_ADMIN | CFG_SECRET, \
      NULL,                                                                                    \
      "Password of the admin port (AUTH, or HTTP Bearer/Basic); required when admin-bind "     \
      "is not a loopback address. Set in the file (then SIGHUP) or by CONFIG SET on the "      \
      "admin port; the data port neither shows nor changes it")                                \
    X(admin_maxclients, "admin-maxclients", INT, "64", 1, 100000, CFG_MUTABLE | CFG_ADMIN,     \
      NULL,                                                                                    \
      "Most admin-port connections at once, counted apart from maxclients; more are told "    \
      "so and disconnected")                                                                   \
    X(admin_auth_timeout, "admin-auth-timeout", INT, "10", 1, 3600, CFG_MUTABLE | CFG_ADMIN,   \
      NULL,                                                                                    \
      "Seconds an admin-port connection may stay idle before it authenticates (or, without "  \
      "admin-password, before it sends anything); then it is closed")                         \
    X(compact_auto, "compact-auto", BOOL, "yes", 0, 0, CFG_MUTABLE, NULL,                      \
      "Start a compaction run by itself when fragmentation passes compact-frag-threshold "     \
      "and at least compact-min-reclaim bytes can be returned")                                \
    X(compact_interval, "compact-interval", INT, "0", 0, 2147483647, CFG_MUTABLE, NULL,        \
      "Seconds between scheduled compaction runs (regardless of the trigger); 0 means none")   \
    X(compact_slice_us, "compact-slice-us", INT, "250", 50, 1000000, CFG_MUTABLE, NULL,         \
      "Microseconds of work per compaction step; a request that arrives during a step waits "  \
      "for it, so keep this well below the tail latency clients expect")                       \
    X(compact_cpu_pct, "compact-cpu-pct", INT, "25", 1, 100, CFG_MUTABLE, NULL,                 \
      "Steps are spaced so that a running compaction uses at most this share of one core")      \
    X(census_slice_us, "census-slice-us", INT, "100", 20, 1000, CFG_MUTABLE, NULL,              \
      "Microseconds of work per step of a heap census (CENSUS START on the admin port); a "    \
      "request that arrives during a step waits for it")                                       \
    X(census_cpu_pct, "census-cpu-pct", INT, "25", 1, 100, CFG_MUTABLE, NULL,                   \
      "Steps are spaced so that a running census uses at most this share of one core")

#define X(field, name, type, def, min, max, flags, words, desc) cfg_##type##_t field;
struct config {
    CONFIG_OPTIONS(X, X)
};
#undef X

#define X(field, name, type, def, min, max, flags, words, desc) CFG_OPT_##field,
enum cfg_opt { CONFIG_OPTIONS(X, X) CFG_OPT_COUNT };
#undef X

struct cfg_option {
    const char *name;
    enum cfg_type type;
    const char *def;
    long long min;
    long long max;
    unsigned flags;
    const char *words;     /* ENUM: space-separated names, index = value */
    const char *desc;
    size_t offset;         /* of the field in struct config */
};

extern struct config cfg;
extern const struct cfg_option config_options[CFG_OPT_COUNT];

typedef enum config_rstatus {
    CONFIG_OK = 0,
    CONFIG_EUNKNOWN,     /* no such option */
    CONFIG_EARGS,        /* wrong number of arguments */
    CONFIG_EVALUE,       /* the value does not parse or is out of bounds */
    CONFIG_EIMMUTABLE,   /* CONFIG SET of an option that cannot change at run time */
    CONFIG_EDUP,         /* CONFIG SET names one option twice */
    CONFIG_EIO,          /* the file cannot be read */
    CONFIG_ENOMEM,
} config_rstatus_e;

/*
 * Run-time effects of changed options, per row: the module that owns a
 * CFG_MUTABLE option registers, at its setup, the function that applies it
 * (config_on_change; one per option, several options may share one). The
 * two ways options change at run time (CONFIG SET, and SIGHUP's reload) call
 * config_changed with what they changed (indexed by enum cfg_opt); it calls
 * the function of every changed option, each function once, in the order
 * the options are declared. An option nobody registered only changes cfg.
 * config_deinit forgets the registrations.
 */
typedef void (*config_apply_fn)(void);
void config_on_change(enum cfg_opt opt, config_apply_fn fn);
void config_changed(const bool *changed);

/*
 * What the system must allow before CONFIG SET changes a number (a larger
 * maxclients needs descriptors): config_set_many calls the daemon's check
 * for every parsed INT or SIZE value, before anything changes, and refuses
 * the whole CONFIG SET with the message the check wrote to err. The file
 * and the command line are not checked: at start the daemon fits what it
 * can instead.
 */
typedef bool (*config_check_fn)(enum cfg_opt opt, long long value, char *err, size_t errlen);
void config_set_check_hook(config_check_fn fn);

/* Sets every option to its default. Call once before anything reads cfg. */
config_rstatus_e config_init(void);
/* Frees the strings cfg holds. */
void config_deinit(void);

const struct cfg_option *config_find(const char *name);

/*
 * Applies one directive with its arguments (as from a file line or the
 * command line). On failure writes a message (without a location) to err.
 */
config_rstatus_e config_apply(const char *name, int argc, char **argv, char *err, size_t errlen);

/*
 * Reads a redis.conf-style file: one `directive value...` per line, '#'
 * starts a comment line, values may be "double quoted" (with \n \r \t \\ \"
 * \xHH escapes) or 'single quoted'. Stops at the first bad line and writes
 * "file:line: message" to err.
 */
config_rstatus_e config_load_file(const char *path, char *err, size_t errlen);
/* The same for a buffer (the file's contents); `origin` names it in errors. */
config_rstatus_e config_load_string(const char *text, const char *origin, char *err, size_t errlen);

/*
 * Splits one line into arguments (quotes as above; proto/split.h with its
 * configuration-file rules: a quote opens only at the start of a word, and
 * every blank ends one). Returns the count, or -1 for unbalanced quotes. *argv is malloc'd (an array of malloc'd strings,
 * free with config_free_args).
 */
int config_split_line(const char *line, char ***argv);
void config_free_args(int argc, char **argv);

/*
 * Formats an option's current value as CONFIG GET shows it (sizes in bytes,
 * booleans yes/no, enums by name). Returns a malloc'd string or NULL.
 */
char *config_format(const struct cfg_option *o);

/*
 * Sets one option (mutable or not) from a value as config_format writes it
 * and CONFIG SET takes it: a LIST's words separated by spaces, any other
 * type one argument. On failure writes a message to err.
 */
config_rstatus_e config_set_string(const struct cfg_option *o, const char *value, char *err,
                                   size_t errlen);

/*
 * CONFIG SET semantics: n pairs of (name, value); all are validated before
 * any is applied. On failure *bad is the index of the offending pair and err
 * holds Redis's message tail (e.g. "can't set immutable config").
 * On success, changed[] (if not NULL, CFG_OPT_COUNT entries) marks the
 * options that were assigned.
 */
config_rstatus_e config_set_many(size_t n, const char *const *names, const char *const *values,
                                 size_t *bad, bool *changed, char *err, size_t errlen);

/* Shell-style glob match (*, ?, [...] with ranges and ^/! negation, \ escape),
 * case-insensitive when nocase; CONFIG GET's matcher on both ports. It is not
 * proto's glob_match (KEYS, SCAN): their sets differ ('!' negates here, a
 * leading ']' is a member, "a-]" is no range, an unclosed '[' is literal)
 * and here "*" matches "", so one cannot replace the other without changing
 * which options a pattern selects. */
bool config_glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase);

/*
 * Writes a documented sample file: every option with its description and
 * its default value, in table order (conf/compactd.conf is this output).
 */
#include <stdio.h>
void config_write_sample(FILE *out);

/* client-output-buffer-limit's normal class, parsed from cfg's string. */
struct cfg_obl {
    long long hard, soft, soft_seconds;   /* bytes, bytes, seconds; 0 = no limit */
};
/* Parses "<class> <hard> <soft> <secs>..." (classes normal, replica, pubsub;
 * the last normal group wins; the normal fields stay zero if none). */
bool config_parse_obl(const char *s, struct cfg_obl *out);

/* Whether got (glen bytes) equals the password option's value want, in time
 * that depends only on the two lengths (requirepass, admin-password). */
bool config_secret_eq(const char *want, const char *got, size_t glen);

/* admin-port -1's rule: the admin port that goes with data port port (0
 * for port 0, no TCP). */
long long config_admin_port_for(long long port);
/* Replaces values that stand for a rule (admin-port -1) by what the rule
 * gives; call after every source (file, command line) was applied, at
 * start-up and on reload, so CONFIG GET and the log show the real value. */
void config_derive(void);

/* The enum value as its word ("notice"), for logs; NULL if out of range. */
const char *config_enum_name(const struct cfg_option *o, long long v);
