/*
 * Private to proto/: the handlers that proto's command table (commands.c)
 * points at, grouped by the file that defines them, and the few helpers
 * those files share.
 *
 * Handlers follow Redis 7.0's reply shapes and error wordings exactly;
 * every one reads "now" from the keyspace clock (ks_now_ms), which the
 * daemon refreshes once per command, so one command sees one instant.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/command.h"

/* ---- commands.c: the table, and limits the daemon may tune ---- */

/* Replies "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
 * and returns false when a value of len bytes would be too long. */
bool proto_check_value_len(struct session *s, uint64_t len);

/* ---- cmd_command.c: COMMAND [COUNT|INFO|DOCS|LIST|GETKEYS] ---- */
void cmd_command(struct session *s, int argc, struct slice *argv);
extern const struct command cmd_command_subs[];   /* COUNT, DOCS, GETKEYS, ... */
/* The key flags SET and BITFIELD's arguments choose (rows' key_flags_for). */
const char *cmd_set_key_flags(int argc, const struct slice *argv);
const char *cmd_bitfield_key_flags(int argc, const struct slice *argv);

/* ---- cmd_misc.c: connection and server basics ---- */
void cmd_ping(struct session *s, int argc, struct slice *argv);
void cmd_echo(struct session *s, int argc, struct slice *argv);
void cmd_select(struct session *s, int argc, struct slice *argv);
void cmd_dbsize(struct session *s, int argc, struct slice *argv);
void cmd_flushall(struct session *s, int argc, struct slice *argv);  /* also FLUSHDB */
void cmd_time(struct session *s, int argc, struct slice *argv);

/* ---- cmd_memory.c: MEMORY and its subcommands ---- */
void cmd_memory_usage(struct session *s, int argc, struct slice *argv);
void cmd_memory_stats(struct session *s, int argc, struct slice *argv);
void cmd_memory_purge(struct session *s, int argc, struct slice *argv);
void cmd_memory_doctor(struct session *s, int argc, struct slice *argv);
void cmd_memory_malloc_stats(struct session *s, int argc, struct slice *argv);
void cmd_memory_help(struct session *s, int argc, struct slice *argv);

/*
 * MEMORY STATS reports a sampled peak: the largest used memory (entry bytes
 * plus index) seen when proto_memory_sample() ran. MEMORY commands sample
 * by themselves; the daemon may call this from its cron for a finer peak.
 * proto_memory_reset() takes the current usage as the startup amount and
 * the peak (proto_setup calls it).
 */
void proto_memory_sample(void);
void proto_memory_reset(void);

/* ---- cmd_string.c: string values ---- */
void cmd_get(struct session *s, int argc, struct slice *argv);
void cmd_set(struct session *s, int argc, struct slice *argv);
void cmd_setnx(struct session *s, int argc, struct slice *argv);
void cmd_setex(struct session *s, int argc, struct slice *argv);
void cmd_psetex(struct session *s, int argc, struct slice *argv);
void cmd_getset(struct session *s, int argc, struct slice *argv);
void cmd_getdel(struct session *s, int argc, struct slice *argv);
void cmd_getex(struct session *s, int argc, struct slice *argv);
void cmd_mget(struct session *s, int argc, struct slice *argv);
void cmd_mset(struct session *s, int argc, struct slice *argv);
void cmd_msetnx(struct session *s, int argc, struct slice *argv);
void cmd_append(struct session *s, int argc, struct slice *argv);
void cmd_strlen(struct session *s, int argc, struct slice *argv);
void cmd_getrange(struct session *s, int argc, struct slice *argv);
void cmd_setrange(struct session *s, int argc, struct slice *argv);
void cmd_incr(struct session *s, int argc, struct slice *argv);
void cmd_decr(struct session *s, int argc, struct slice *argv);
void cmd_incrby(struct session *s, int argc, struct slice *argv);
void cmd_decrby(struct session *s, int argc, struct slice *argv);
void cmd_incrbyfloat(struct session *s, int argc, struct slice *argv);

/* ---- cmd_keys.c: the generic keyspace commands ---- */
void cmd_del(struct session *s, int argc, struct slice *argv);       /* also UNLINK */
void cmd_exists(struct session *s, int argc, struct slice *argv);
void cmd_touch(struct session *s, int argc, struct slice *argv);
void cmd_type(struct session *s, int argc, struct slice *argv);
void cmd_rename(struct session *s, int argc, struct slice *argv);
void cmd_renamenx(struct session *s, int argc, struct slice *argv);
void cmd_keys(struct session *s, int argc, struct slice *argv);
void cmd_scan(struct session *s, int argc, struct slice *argv);
void cmd_randomkey(struct session *s, int argc, struct slice *argv);
void cmd_expire(struct session *s, int argc, struct slice *argv);
void cmd_pexpire(struct session *s, int argc, struct slice *argv);
void cmd_expireat(struct session *s, int argc, struct slice *argv);
void cmd_pexpireat(struct session *s, int argc, struct slice *argv);
void cmd_ttl(struct session *s, int argc, struct slice *argv);
void cmd_pttl(struct session *s, int argc, struct slice *argv);
void cmd_expiretime(struct session *s, int argc, struct slice *argv);
void cmd_pexpiretime(struct session *s, int argc, struct slice *argv);
void cmd_persist(struct session *s, int argc, struct slice *argv);

/* ---- cmd_bit.c: bit operations on strings ---- */
void cmd_setbit(struct session *s, int argc, struct slice *argv);
void cmd_getbit(struct session *s, int argc, struct slice *argv);
void cmd_bitcount(struct session *s, int argc, struct slice *argv);
void cmd_bitpos(struct session *s, int argc, struct slice *argv);
void cmd_bitop(struct session *s, int argc, struct slice *argv);
void cmd_bitfield(struct session *s, int argc, struct slice *argv);
void cmd_bitfield_ro(struct session *s, int argc, struct slice *argv);

/* ---- cmd_object.c: LCS, COPY, OBJECT ---- */
void cmd_lcs(struct session *s, int argc, struct slice *argv);
void cmd_copy(struct session *s, int argc, struct slice *argv);
void cmd_object(struct session *s, int argc, struct slice *argv);
/* The encoding OBJECT ENCODING reports for a string value (Redis's rule
 * for a SET value): "int", "embstr" or "raw". */
const char *proto_value_encoding(const char *v, size_t n);

/* ---- multi.c: transactions ---- */
void cmd_multi(struct session *s, int argc, struct slice *argv);
void cmd_exec(struct session *s, int argc, struct slice *argv);
void cmd_discard(struct session *s, int argc, struct slice *argv);
void cmd_watch(struct session *s, int argc, struct slice *argv);
void cmd_unwatch(struct session *s, int argc, struct slice *argv);

/*
 * Glob matching with Redis's pattern language, for KEYS and SCAN MATCH
 * (nocase: ASCII case folded, which no caller asks for yet; the daemon's
 * CONFIG GET has its own matcher, see config_glob_match): '*' any run, '?' any one byte, '[abc]' a set,
 * '[^abc]' its complement, '[a-z]' a range (either order), '\x' a literal x
 * (also inside sets). An unterminated set ends at the end of the pattern.
 * As in Redis, an empty string matches only an empty pattern (not even "*").
 * Works on bytes, so keys and patterns may contain NULs. Runs in
 * O(plen * slen) time and constant space (no recursion), so hostile
 * patterns like "a*a*a*a*b" cannot blow up.
 */
bool glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase);
