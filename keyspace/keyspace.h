/*
 * keyspace: the string keyspace of one database (db 0).
 *
 * An entry is one contiguous block from alloc/ holding a small header, the
 * key and the value (no terminating NUL). The index is an open-addressing
 * hash table of entry pointers that grows and shrinks incrementally: a resize
 * allocates the new table and then migrates a bounded number of slots per
 * operation and per cron tick, so no single call pauses for the whole table.
 *
 * Expiry times are absolute Unix milliseconds. Expired entries are removed
 * lazily when looked up and actively by ks_expire_cycle().
 *
 * Every function here uses the keyspace clock (ks_now_ms), which the caller
 * refreshes with ks_clock_update() once per command, so that a command sees
 * one consistent "now".
 *
 * Not thread-safe: called from the daemon's single event-loop thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct entry;  /* opaque: use the accessors below */

#define KS_NO_EXPIRE (-1)

/* Largest key and value ks_alloc accepts; larger requests fail like an out
 * of memory (callers should enforce their own protocol limits first). */
#define KS_MAX_KEY_LEN ((size_t)512 << 20)
#define KS_MAX_VAL_LEN ((size_t)512 << 20)

typedef enum ks_rstatus {
    KS_OK = 0,
    KS_ENOMEM = -1,  /* the allocator could not provide memory */
} ks_rstatus_e;

/* How active expiry finds expired entries (see ks_expire_cycle). */
enum ks_sweep {
    KS_SWEEP_ARENAS = 0,  /* walk the arenas that can hold TTL entries (default) */
    KS_SWEEP_INDEX = 1,   /* walk the hash index (the first design; for comparison) */
};

/*
 * The keyspace's options, declared once, in the form of alloc's rows (see
 * ALLOC_OPTIONS in alloc/alloc.h, whose columns these are): the daemon's
 * option table includes them, and they generate struct ks_options and
 * ks_options_default(). TYPE is INT (an unsigned field), BOOL (a bool) or
 * ENUM (an unsigned: the index of its word). flags and words are the
 * daemon's; the keyspace never expands them. expire_cycle_us is a CFG_MILLI
 * row: the file says milliseconds, the field holds thousandths of one.
 * ks_setup clamps what is out of range rather than refusing it.
 */
#define KS_OPTIONS(X)                                                                           \
    X(initial_power, "keyspace-initial-power", INT, 10, 2, 32, 0, NULL,                        \
      "log2 of the initial (and smallest) hash index size, in slots")                          \
    X(rehash_steps, "keyspace-rehash-steps", INT, 16, 1, 1000000, 0, NULL,                     \
      "Old index slots migrated per operation while the index is resized")                     \
    X(expire_sweep, "active-expire-sweep", ENUM, KS_SWEEP_ARENAS, 0, 0, 0, "arenas index",     \
      "How active expiry finds expired keys: walk the arenas that hold keys with a TTL, "       \
      "or walk the hash index")                                                                 \
    X(expire_cycle_us, "expire-cycle-ms", INT, 1000, 100, 100000, CFG_MUTABLE | CFG_MILLI,     \
      NULL,                                                                                     \
      "Milliseconds one active expiry cycle may run (before the effort factor); "              \
      "fractions down to 0.1 are allowed")                                                      \
    X(expire_effort, "expire-effort", INT, 1, 1, 10, CFG_MUTABLE, NULL,                        \
      "Active expiry effort, 1..10: scales each cycle's budget from 1x to 4x "                 \
      "(alias: active-expire-effort)")                                                          \
    X(ttl_bands, "lifetime-segregation", BOOL, true, 0, 0, CFG_MUTABLE, NULL,                  \
      "Place entries in arenas by remaining TTL, so that keys expiring together free whole "   \
      "arenas")                                                                                 \
    X(evict_samples, "maxmemory-samples", INT, 5, 1, 64, CFG_MUTABLE, NULL,                    \
      "Keys sampled per eviction; more is closer to true LRU/LFU and slower")

typedef unsigned ks_opt_INT_t;
typedef bool ks_opt_BOOL_t;
typedef unsigned ks_opt_ENUM_t;   /* enum ks_sweep for expire_sweep */

#define KS_OPT_FIELD_(field, name, type, def, min, max, flags, words, desc) ks_opt_##type##_t field;
struct ks_options {
    KS_OPTIONS(KS_OPT_FIELD_)
};
#undef KS_OPT_FIELD_

/* Sets every field to its row's default. */
void ks_options_default(struct ks_options *opt);

/* Runtime changes (CONFIG SET): the cycle budget and effort (clamped to
 * 1..10), and lifetime segregation (applies to entries allocated from now
 * on: with it off, TTL entries go to band 0 with the persistent ones, and
 * the arena sweep must then walk those arenas whole). */
void ks_set_expire_tuning(unsigned cycle_us, unsigned effort);
void ks_set_lifetime_segregation(bool on);

/* Idempotent; returns 0 or an errno. alloc_setup() must have been called. */
int ks_setup(const struct ks_options *opt);
/* Frees every entry and the index. */
void ks_teardown(void);

/* ---- clock ---- */
void ks_clock_update(void);        /* reads the wall clock */
/* Like ks_clock_update with the caller's own reading of the wall clock
 * (ms), for a caller that already has one (the daemon's loop): it does not
 * pin the clock, and a clock a test pinned with ks_clock_set stays put. */
void ks_clock_update_to(int64_t now_ms);
/* For tests: pins the clock at now_ms (ks_clock_update then leaves it
 * alone); a negative now_ms unpins it and reads the wall clock again. */
void ks_clock_set(int64_t now_ms);
int64_t ks_now_ms(void);

/* ---- entries ---- */
const char *entry_key(const struct entry *e, size_t *klen);
/* The value bytes are writable in place (for INCR, SETRANGE within length). */
char *entry_val(struct entry *e, size_t *vlen);
size_t entry_vlen(const struct entry *e);
/* Absolute expiry in ms, or KS_NO_EXPIRE. */
int64_t entry_expire(const struct entry *e);
/* Bytes the entry occupies: its block's usable size plus its index slot. */
size_t entry_footprint(const struct entry *e);
/* 16-bit access clock (about one tick per second, wrapping): set when the
 * entry is created, returned by ks_get or touched. For eviction policies. */
uint16_t entry_access_clock(const struct entry *e);
/* The current value of that clock. */
uint16_t ks_access_clock(void);
/*
 * Under an LFU policy (ks_set_evict_policy) the same 16 bits hold instead
 * an 8-bit logarithmic access counter (low byte) and the 8-bit LFU period
 * (~65 s, wrapping) in which it was last touched (high byte); the counter
 * decays by one per period. entry_lfu_freq is that decayed counter (0 when
 * no LFU policy is set: OBJECT FREQ should then fail as Redis does), and
 * entry_access_clock is meaningless then (OBJECT IDLETIME should fail).
 */
unsigned entry_lfu_freq(const struct entry *e);
bool ks_lfu_mode(void);

/* ---- lookups and updates ---- */

/* Returns the live entry for key, or NULL. An expired entry is deleted and
 * reported as missing. Counts a keyspace hit or miss. */
struct entry *ks_get(const char *key, size_t klen);
/* Like ks_get but leaves the access clock alone (OBJECT IDLETIME and
 * LRU/LFU), for the commands Redis lets look without touching: EXISTS,
 * TYPE, TTL and its kin. */
struct entry *ks_get_notouch(const char *key, size_t klen);
/* Like ks_get but counts no hit/miss and touches nothing (internal use). */
struct entry *ks_peek(const char *key, size_t klen);

/*
 * Allocates an entry that is not yet in the index, with room for a value of
 * vlen bytes (left uninitialised for the caller to fill through entry_val).
 * Returns NULL on out of memory. The entry becomes visible with ks_insert()
 * or is released with ks_discard(); no other keyspace call may run between
 * ks_alloc and one of those two, except lookups.
 */
struct entry *ks_alloc(const char *key, size_t klen, size_t vlen, int64_t expire_ms);
/* Publishes e, replacing (and freeing) any entry with the same key. */
void ks_insert(struct entry *e);
void ks_discard(struct entry *e);

/* Convenience: ks_alloc + copy + ks_insert. Returns KS_OK or KS_ENOMEM. */
ks_rstatus_e ks_set(const char *key, size_t klen, const char *val, size_t vlen,
                    int64_t expire_ms);

/* Deletes key; returns true if a live entry was removed. */
bool ks_del(const char *key, size_t klen);

/*
 * Changes the expiry of a live entry (KS_NO_EXPIRE to persist). Because the
 * header stores an expiry only when there is one, this may move the entry to
 * a new block; the returned pointer replaces e (NULL on out of memory, in
 * which case e is unchanged). An expiry in the past deletes the key and
 * returns NULL with *deleted set.
 */
struct entry *ks_set_expire(struct entry *e, int64_t expire_ms, bool *deleted);

/* Marks an entry as accessed now (for TOUCH and eviction clocks). */
void ks_touch(struct entry *e);

size_t ks_count(void);          /* entries in the index, including not-yet-reaped expired */
size_t ks_count_expires(void);  /* of which have an expiry */

/* Redis's used_memory for this keyspace: requested bytes of live entry
 * blocks plus the index tables. O(1), so maxmemory can check it per command. */
size_t ks_used_memory(void);

/* Deletes everything. */
void ks_flush(void);

/*
 * Incremental iteration with Redis SCAN guarantees: every entry present for
 * the whole scan is visited at least once, even across index resizes; some
 * may be visited more than once. Start with cursor 0; returns the next
 * cursor, 0 when done. Visits at least `count` index buckets' worth of
 * entries (approximately). fn may not modify the keyspace; expired entries
 * are skipped.
 */
typedef void (*ks_visit_fn)(struct entry *e, void *ctx);
uint64_t ks_scan(uint64_t cursor, size_t count, ks_visit_fn fn, void *ctx);

/* A uniformly-ish random live entry, or NULL if the keyspace is empty. */
struct entry *ks_random(void);

/*
 * Active expiry: deletes expired entries for at most budget_us microseconds
 * times the effort factor ((effort + 2) / 3), with the clock checked every
 * 64 blocks (or 4 deletions), so it overruns by a few tens of us at most.
 * KS_EXPIRE_BUDGET_AUTO means the configured expire_cycle_us; 0 does the
 * least work a call can (tests). In the default arena mode it walks the
 * live blocks of the arenas of every (size class, band) pair whose lower
 * bound of expiries has passed: pairs without TTL entries (with lifetime
 * segregation, all of band 0) and long-TTL bands not yet due are not
 * touched. TTL entries outside arenas (large values) are left to an index
 * sweep. One call goes at most once round; it returns early when that is
 * done, and at once when no expiry can be due yet. Returns the number
 * deleted. Lazy expiry (lookups) is unchanged.
 */
#define KS_EXPIRE_BUDGET_AUTO UINT64_MAX
size_t ks_expire_cycle(uint64_t budget_us);

/* Work counters of the sweep, for experiments and INFO. */
struct ks_expire_stats {
    uint64_t arenas_walked;   /* arena visits by the arena sweep (cumulative) */
    uint64_t blocks_walked;   /* live blocks it looked at (cumulative) */
    int64_t arena_floor;      /* no in-arena entry expires before this (INT64_MAX: none) */
    int64_t index_floor;      /* same for the entries the index sweep covers */
};
void ks_expire_stats(struct ks_expire_stats *st);

/* ---- eviction (maxmemory) ---- */

enum ks_evict_policy {
    KS_EVICT_NOEVICTION = 0,
    KS_EVICT_ALLKEYS_LRU,
    KS_EVICT_ALLKEYS_LFU,
    KS_EVICT_ALLKEYS_RANDOM,
    KS_EVICT_VOLATILE_LRU,
    KS_EVICT_VOLATILE_LFU,
    KS_EVICT_VOLATILE_RANDOM,
    KS_EVICT_VOLATILE_TTL,
};

/* The Redis spelling ("allkeys-lru", ...); parse is case-insensitive. */
const char *ks_evict_policy_name(enum ks_evict_policy p);
bool ks_evict_policy_parse(const char *name, enum ks_evict_policy *out);

/* Tells the keyspace the configured policy, so that accesses maintain the
 * LFU counter (LFU policies) or the LRU clock (all others). Call at start-up
 * and on CONFIG SET maxmemory-policy; ks_evict also switches if needed.
 * Switching reinterprets the existing access fields (as Redis does). */
void ks_set_evict_policy(enum ks_evict_policy p);
/* Keys sampled per eviction (maxmemory-samples), clamped to 1..64. */
void ks_set_evict_samples(unsigned n);

struct ks_evict_result {
    size_t bytes;   /* bytes given back: the freed blocks' usable sizes plus an index slot each */
    size_t keys;    /* keys evicted (counted in evicted_keys; expired keys
                       met on the way are deleted too, count as expired and
                       their bytes are included in `bytes`) */
};

/*
 * Evicts keys under policy p until at least bytes_to_free bytes were given
 * back or no eligible key can be found (noeviction, an empty keyspace, or a
 * volatile policy with no key with a TTL): the caller compares .bytes with
 * what it needed and replies OOM if short. An approximation, as in Redis:
 * each eviction samples evict_samples (default 5) keys from random runs of
 * index slots and adds them to a pool of the best 16 candidates kept across
 * calls (LRU: longest idle by the 16-bit access clock; LFU: lowest decayed
 * counter; TTL: soonest expiry); the best still-valid candidate is evicted.
 * The random policies evict a random sampled key. Every eviction goes
 * through the modify hook (WATCH). Called by the daemon before write
 * commands while used memory exceeds maxmemory.
 */
struct ks_evict_result ks_evict(size_t bytes_to_free, enum ks_evict_policy p);

/* Background index maintenance (resize migration) for about budget_us;
 * true while a resize is left to migrate. */
bool ks_cron(uint64_t budget_us);

struct ks_stats {
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    uint64_t expired_keys;     /* deleted because their TTL passed */
    uint64_t evicted_keys;     /* deleted by ks_evict */
    size_t keys;
    size_t expires;
    size_t index_slots;        /* slots in the index tables (both while resizing) */
    size_t index_bytes;        /* bytes of the index: its tables, the loose entries' pointers */
    bool rehashing;
};

void ks_stats(struct ks_stats *st);
void ks_stats_reset(void);     /* resets the counters (hits, misses, expired) */

/* Checks index invariants (every entry reachable, counts match, the expiry
 * sweeps' floors bound every expiry). For tests. On failure it prints what
 * is wrong to stderr. */
bool ks_verify(void);

/* ---- change notification (for WATCH) ---- */

/*
 * The modify hook is called with the key of every change to the keyspace:
 * an insert or replacement (ks_insert, ks_set), a deletion (ks_del, lazy
 * or active expiry, ks_set_expire into the past), an expiry change
 * (ks_set_expire) and an in-place value change that the caller reports
 * with ks_modified. It is not called for lookups, touches or ks_repoint (a
 * move is not a modification). The hook must not call into the keyspace.
 *
 * The flush hook is called once at the start of ks_flush, before anything
 * is freed; it may look keys up (ks_peek) to see which of them exist.
 * Either fn may be NULL (no notification). One hook of each kind.
 */
typedef void (*ks_modify_fn)(const char *key, size_t klen, void *ctx);
typedef void (*ks_flush_fn)(void *ctx);
void ks_set_modify_hook(ks_modify_fn fn, void *ctx);
void ks_set_flush_hook(ks_flush_fn fn, void *ctx);
/* Reports that e's value bytes were changed in place (through entry_val). */
void ks_modified(struct entry *e);

/* ---- for the compacting allocator ---- */

/*
 * An entry is its block: the entry pointer is the pointer alloc_block
 * returned, so this is a cast. It exists so that callers holding a block
 * do not depend on that fact.
 */
struct entry *ks_entry_of_block(void *block);

/*
 * After the allocator copied all of old's bytes to a new block `moved`,
 * points the index slot that holds `old` at `moved` (old is not
 * dereferenced, so it may already be released). Returns false if no slot
 * holds old, or (changing nothing) if moved is a large block and there is
 * no memory to index it (see INDEX, keyspace/index.c). Must not run between ks_alloc and ks_insert/ks_discard for
 * the pending entry (it is not in the index).
 */
bool ks_repoint(struct entry *old, struct entry *moved);

/* ---- compaction (the mover and its contract: alloc/alloc.h, alloc/compact.c) ---- */

/*
 * Wrappers of alloc's compactor for the daemon (daemon -> keyspace ->
 * alloc), with the keyspace's evacuation callback: an expired entry is
 * deleted (counts as expired, fires the modify hook like any expiry), any
 * other is moved (alloc_move), its index slot repointed and the original
 * freed; a move fires no hook and leaves the access clock alone. The opts
 * and status structs are alloc's (alloc/alloc.h). ks_compact_start starts a
 * run (no-op while one runs); ks_compact_step does about budget_us of work
 * and returns true while the run is unfinished. Never call a step between
 * ks_alloc and ks_insert/ks_discard.
 */
struct alloc_compact_opts;
struct alloc_compact_status;
void ks_compact_start(const struct alloc_compact_opts *o);
bool ks_compact_step(uint64_t budget_us);
void ks_compact_status(struct alloc_compact_status *st);   /* O(classes * bands) */
bool ks_compact_running(void);                             /* O(1) */
/* The automatic trigger (alloc_compact_wanted) and COMPACT ABORT. */
bool ks_compact_wanted(const struct alloc_compact_opts *o);
void ks_compact_abort(void);

/*
 * What only the keyspace knows of compaction, cumulative since set-up, as
 * metric rows X(field, KIND, "help") like alloc's (KIND COUNTER or GAUGE,
 * never expanded here). Moves, their bytes (requested bytes, the one
 * definition) and failed moves are alloc's counters: ks_compact_status's
 * ALLOC_COMPACT_METRICS.
 */
#define KS_COMPACT_METRICS(X)                                                                   \
    X(dropped, COUNTER,                                                                         \
      "Expired entries the mover deleted instead of moving (also in expired_keys).")            \
    X(strays, COUNTER,                                                                          \
      "Blocks the mover visited that no index slot holds, left in place (should stay 0).")

#define KS_METRIC_U64_(field, kind, help) uint64_t field;
struct ks_compact_stats {
    KS_COMPACT_METRICS(KS_METRIC_U64_)
};
void ks_compact_stats(struct ks_compact_stats *st);

/*
 * The live keys that keep arenas from being released: those in the
 * sparsest arenas (lowest occupancy first, full arenas never), up to n of
 * them (from the 1024 sparsest arenas at most), for the admin port's
 * PINNERS command. fn gets each with its arena's figures; it must not
 * change the keyspace. Expired keys are skipped. Returns the number
 * reported. Cost: alloc_arena_sparsest_n (a pass over the arena headers)
 * and a walk of the reported arenas.
 */
struct ks_pinner {
    struct entry *e;
    unsigned cls, band;      /* the arena's size class and lifetime band */
    size_t slot_size;
    size_t arena_live;       /* live blocks in the arena */
    size_t arena_slots;      /* slots in the arena */
    const void *arena;       /* the arena's base address: identifies it */
};
typedef void (*ks_pinner_fn)(const struct ks_pinner *p, void *ctx);
size_t ks_pinners(size_t n, ks_pinner_fn fn, void *ctx);

/* ---- fault injection, for unit tests only ---- */

/*
 * When block_alloc is non-NULL, entry blocks come from it instead of
 * alloc_block (it may return NULL to simulate out of memory); when
 * index_alloc_ok is non-NULL, an index table of `bytes` is allocated only if
 * it returns true. Pass NULLs to restore normal behaviour.
 */
typedef void *(*ks_block_alloc_fn)(size_t size, unsigned band);
typedef bool (*ks_index_alloc_ok_fn)(size_t bytes);
void ks_test_fault_hooks(ks_block_alloc_fn block_alloc, ks_index_alloc_ok_fn index_alloc_ok);

/* ---- census: who holds the memory (keyspace/census.c) ---- */

/*
 * An incremental census of the keyspace by key prefix. ks_census_start
 * begins one; ks_census_step does about budget_us of it (the daemon's cron
 * calls it in slices of at most 1 ms; 0 walks one index bucket, for tests)
 * and returns true while unfinished.
 * Every key present for the whole walk is counted exactly once, across
 * index resizes, compaction moves, expiry and writes: the walk goes through
 * the reversed-hash space in order, whatever the table sizes of the moment
 * (see census.c). Keys written or deleted during the walk are counted once
 * or not at all. The census holds no entry pointer between steps.
 *
 * A key's group is its prefix up to (not including) its depth-th delimiter;
 * a key with fewer delimiters is grouped by the prefix up to its last one,
 * a key without one in the empty group "". Prefixes longer than
 * KS_CENSUS_PREFIX_MAX bytes are cut there. The walk keeps at most
 * KS_CENSUS_GROUPS(top) groups: when a new prefix finds the table full, the
 * smallest (by bytes) of a few sampled groups is folded into "other", so a
 * group's figures are exact when there are no more distinct prefixes than
 * that, and otherwise count its keys since it last entered the table
 * (totals stay exact). Memory is bounded by top, not by the key count.
 *
 * At most two completed censuses are kept (the latest and the one before),
 * so the latest reports each group's change in keys and bytes since then.
 */
#define KS_CENSUS_PREFIX_MAX 64
#define KS_CENSUS_DEPTH_MAX 16
#define KS_CENSUS_TOP_MAX 1000
#define KS_CENSUS_GROUPS(top) ((top) * 4 < 256 ? 256 : (top) * 4)
/* TTL buckets: none, < 1 min, < 1 h, < 1 day, longer. */
#define KS_CENSUS_TTLS 5
/* Value sizes: <= 16, 64, 256, 1 KiB, 4 KiB, 16 KiB, 64 KiB bytes, larger. */
#define KS_CENSUS_SIZES 8
/* Idle time since the last write or read (the entry's 16-bit access clock,
 * ~1 s ticks wrapping at ~18 h): < 1 min, < 1 h, longer, unknown (an LFU
 * policy holds a counter there instead). */
#define KS_CENSUS_AGES 4
/* alloc's ALLOC_BANDS (census.c checks), without including alloc.h here. */
#define KS_CENSUS_BANDS 8

struct ks_census_opts {
    char delim;       /* default ':' */
    unsigned depth;   /* 1..KS_CENSUS_DEPTH_MAX, default 1 */
    unsigned top;     /* 1..KS_CENSUS_TOP_MAX, default 50 */
};

struct ks_census_group {
    char prefix[KS_CENSUS_PREFIX_MAX + 1];  /* NUL-terminated; may hold other NULs: use plen */
    size_t plen;
    bool other;              /* the "other" row: every group not in the top */
    uint64_t keys, bytes;    /* bytes: entry_footprint, as MEMORY USAGE */
    uint64_t entry_bytes;    /* bytes without the index share, which moves with the
                              * table's size for every group alike */
    uint64_t ttl[KS_CENSUS_TTLS];
    uint64_t sizes[KS_CENSUS_SIZES];
    uint64_t age[KS_CENSUS_AGES];
    uint64_t pinned_keys;    /* keys in arenas under half full, of a size class a
                              * compaction could shrink when the walk began */
    uint64_t pinned_arenas;  /* distinct such arenas holding the group's keys */
    /* since the previous census (0 without one); bytes_delta compares
     * entry_bytes, so a group nobody wrote to shows 0 */
    int64_t keys_delta, bytes_delta;
};

/* A total per size class (class alloc_class_count() = large blocks) or band. */
struct ks_census_total {
    uint64_t keys, bytes;
};

struct ks_census_report {
    bool running;            /* a walk is under way */
    bool complete;           /* the fields below describe a finished census */
    bool has_prev;           /* the deltas compare with a previous census */
    struct ks_census_opts opts;
    int64_t started_ms, finished_ms;   /* the walk in progress or the report's */
    double progress;         /* 0..1 of the walk in progress */
    uint64_t keys, bytes;
    size_t ngroups;          /* top groups by bytes, then "other" if it is not empty */
    const struct ks_census_group *groups;
    /* The previous census's groups with no key in this one (keys and bytes
     * 0, negative deltas); listed only when the walk folded no prefix into
     * "other", since a folded one cannot be told from a vanished one. */
    size_t nvanished;
    const struct ks_census_group *vanished;
    size_t nclasses;         /* alloc_class_count() + 1 */
    const struct ks_census_total *classes;
    struct ks_census_total bands[KS_CENSUS_BANDS];  /* per lifetime band */
    size_t memory;           /* bytes the census itself holds */
};

void ks_census_opts_default(struct ks_census_opts *o);
/* Returns 0, EBUSY while a census runs, or EINVAL for options out of range. */
int ks_census_start(const struct ks_census_opts *o);
bool ks_census_step(uint64_t budget_us);
void ks_census_abort(void);
bool ks_census_running(void);
/* The latest completed census (complete false if none), with running and
 * progress of any walk under way. Valid until the next census call. */
void ks_census_report(struct ks_census_report *r);
/* Ends any walk and frees everything the census holds, the kept reports
 * included; whoever runs censuses calls it before ks_teardown (the census
 * depends on the rest of the keyspace, not the other way round). */
void ks_census_reset(void);
