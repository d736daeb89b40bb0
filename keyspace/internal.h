/*
 * keyspace/internal.h: what the keyspace's files share and nothing outside
 * keyspace/ sees: the entry layout and the index slot encoding (the
 * inline helpers the hot paths use), the one `ks` state (there is one
 * db), and the functions one file of the keyspace calls in another.
 * keyspace.h is the public contract; see each file's top comment for
 * its part of the design.
 */
#pragma once

#include "keyspace/keyspace.h"

#include "alloc/alloc.h"
#include "alloc/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Cheap internal checks (CD_ASSERT_LEVEL >= 1: Debug and sanitizer builds). */
#if defined(CD_ASSERT_LEVEL) && CD_ASSERT_LEVEL >= 1
#define KS_ASSERT(cond)                                                              \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "keyspace: %s:%d: assertion failed: %s\n", __FILE__,      \
                    __LINE__, #cond);                                                \
            abort();                                                                 \
        }                                                                            \
    } while (0)
#else
#define KS_ASSERT(cond) ((void)0)
#endif

/* The expensive tier (CD_ASSERT_LEVEL 2: Debug and sanitizer builds): the
 * whole of ks_verify, aborting if an invariant is broken, at the boundaries
 * where every invariant holds and whose rate is bounded: set-up, FLUSHALL,
 * the end of a compaction run and of an index resize. Never per command
 * (it walks every entry), as alloc's A_VERIFY. */
#if defined(CD_ASSERT_LEVEL) && CD_ASSERT_LEVEL >= 2
#define KS_VERIFY(where)                                                             \
    do {                                                                             \
        if (!ks_verify()) {                                                          \
            fprintf(stderr, "keyspace: ks_verify failed %s\n", where);               \
            abort();                                                                 \
        }                                                                            \
    } while (0)
#else
#define KS_VERIFY(where) ((void)0)
#endif

/* ---- entry ---- */

struct entry {
    uint8_t flags;
    uint8_t klen8;
    uint16_t clock;
    uint32_t vlen;
};

#define EF_TTL 0x01u
#define EF_LONGKEY 0x02u
#define EF_LOOSE 0x04u   /* the block is not in an arena (large, or from the test hook) */
#define EF_BAND_SHIFT 3  /* bits 3-5: the lifetime band the block was placed in */
#define EF_BAND (7u << EF_BAND_SHIFT)
#define EF_ALL (EF_TTL | EF_LONGKEY | EF_LOOSE | EF_BAND)
_Static_assert(ALLOC_BANDS <= 8, "band fits in 3 flag bits");

/* Size classes the arena sweep keeps floors for; entries of larger classes
 * (only with huge arenas) are treated as loose. */
#define KS_SWEEP_CLASSES 192

static inline size_t hdr_size(unsigned flags)
{
    return sizeof(struct entry) + ((flags & EF_LONGKEY) ? 4 : 0) + ((flags & EF_TTL) ? 8 : 0);
}

static inline size_t ent_klen(const struct entry *e)
{
    if (e->flags & EF_LONGKEY) {
        uint32_t k;
        memcpy(&k, (const char *)e + sizeof(struct entry), 4);
        return k;
    }
    return e->klen8;
}

static inline char *ent_key(const struct entry *e)
{
    return (char *)e + hdr_size(e->flags);
}

static inline int64_t ent_expire(const struct entry *e)
{
    if (!(e->flags & EF_TTL))
        return KS_NO_EXPIRE;
    int64_t t;
    memcpy(&t, (const char *)e + sizeof(struct entry) + ((e->flags & EF_LONGKEY) ? 4 : 0), 8);
    return t;
}

/* Eviction candidates kept between evictions (see ks_evict in keyspace.h). */
#define EVICT_POOL 16

/* ---- index slots (see INDEX in index.c) ---- */

typedef uint32_t slot_t;
#define SLOT_TOMB ((slot_t)1)
#define SLOT_LOOSE ((slot_t)1 << ALLOC_HANDLE_BITS)  /* else an alloc handle */
#define NOPOS ((size_t)-1)
_Static_assert(ALLOC_HANDLE_MIN > SLOT_TOMB, "the markers are below every handle");

struct table {
    slot_t *slots;    /* NULL for a missing table */
    size_t size;      /* slots (any number: see HOME in index.c) */
    size_t used;      /* entries (not tombstones) */
};

struct ks_state {
    bool ready;
    struct table cur;     /* active table: all inserts go here */
    struct table old;     /* being migrated away, or slots == NULL */
    size_t mig;           /* next old slot to migrate */
    size_t expires;       /* entries with a TTL, both tables */
    unsigned initial_power;
    unsigned rehash_steps;
    size_t exp_cursor;    /* persistent position of the expiry sweep in cur */
    int64_t exp_floor;    /* no entry the index sweep covers expires before this */
    int64_t exp_pass_min; /* min expiry the current pass must account for */
    /* arena sweep (see EXPIRY): cursor = (class, arena base, block address) */
    enum ks_sweep sweep;
    unsigned aw_cls, aw_band;  /* the (class, band) pair at the cursor */
    bool aw_walking;      /* its walk has begun (pmin reset) */
    uintptr_t aw_base;    /* next arena: the lowest base >= this one */
    uintptr_t aw_resume;  /* within the arena at aw_base: first block not yet visited */
    int64_t aw_floor;     /* no in-arena entry expires before this (<= every pfloor) */
    int64_t pfloor[KS_SWEEP_CLASSES][ALLOC_BANDS];  /* per pair: no entry expires before */
    int64_t pmin[KS_SWEEP_CLASSES][ALLOC_BANDS];    /* per pair: the walk's minimum */
    bool ttl_bands;       /* lifetime segregation on */
    unsigned effort;      /* 1..10 */
    unsigned cycle_us;    /* configured budget (KS_EXPIRE_BUDGET_AUTO) */
    uint64_t aw_arenas, aw_blocks;  /* work counters, for the experiments */
    int64_t now_ms;
    bool clock_pinned;
    uint16_t lru_now;
    uint8_t lfu_now;      /* LFU period clock: ms >> 16 (~65 s), wrapping */
    bool lfu;             /* the access field holds LFU data (an LFU policy is set) */
    enum ks_evict_policy pool_policy;
    unsigned pool_n;      /* candidates in pool, sorted by ascending score */
    struct evict_cand {
        struct entry *e;
        uint64_t h;       /* e's key hash: validates e when it is used */
        uint64_t score;   /* higher is evicted first */
    } pool[EVICT_POOL];
    unsigned evict_samples;
    uint64_t evicted;
    struct ks_compact_stats kc;
    uint64_t seed[3];
    uint64_t rng;
    uint64_t hits, misses, expired;
    /* the loose entries' pointers (see INDEX in index.c): a free one is
     * linked as (next << 1 | 1); free is 1 + the first free index, or 0 */
    struct {
        struct entry **ent;
        uint32_t cap, free;
    } loose;
    ks_block_alloc_fn hook_block;
    ks_index_alloc_ok_fn hook_index;
    ks_modify_fn on_modify;
    void *on_modify_ctx;
    ks_flush_fn on_flush;
    void *on_flush_ctx;
};
extern struct ks_state ks;

/* The entry a slot (neither empty nor a tombstone) names. */
static inline struct entry *slot_entry(slot_t s)
{
    if (__builtin_expect(s & SLOT_LOOSE, 0))
        return ks.loose.ent[s & ~SLOT_LOOSE];
    return alloc_deref(s);
}

/*
 * ---- access field: LRU clock or LFU counter ----
 *
 * The header's 16-bit field is an LRU clock (lru_now, ~1 s ticks, wrapping
 * every ~18 h) unless an LFU policy is set; then it is split: low byte a
 * logarithmic access counter (new keys start at LFU_INIT so that they are
 * not the first evicted; the n-th increment above it succeeds with
 * probability 1 / (n * LFU_LOG_FACTOR + 1), so 255 takes about a million
 * accesses), high byte the LFU period (~65 s, ms >> 16, wrapping every
 * ~4.6 h) of the last access; the counter decays by one per period elapsed,
 * counted modulo 256 (a key idle for longer than the wrap looks less idle
 * than it is: an accepted approximation, like the LRU clock's wrap). The
 * header has no room for more without growing every entry by 8 bytes.
 */

#define LFU_INIT 5
#define LFU_LOG_FACTOR 10

/* ---- functions shared between the keyspace's files ---- */

/* entry.c */
size_t index_slots(void);
size_t index_bytes(void);
/* Each entry's share of the index's bytes, the part of entry_footprint
 * beyond the entry's own block. */
size_t index_share(void);
void arena_sweep_reset(void);
void expiry_pass_restart(void);
void lfu_touch(struct entry *e);

/* index.c */
bool ensure_room(void);
bool loose_reserve(void);
slot_t slot_for(struct entry *e);
void slot_drop(slot_t s);
void loose_clear(void);
size_t migrate(size_t max_slots, bool reap);
size_t tbl_find_ptr(const struct table *t, uint64_t h, const struct entry *e);
/* Calls fn for each live entry of t whose hash h has from <= h
 * and, unless to is 0 (the end of hash space), h < to; returns the slots
 * looked at. Hash order is the same at every table size, so a walk that
 * takes consecutive ranges visits each key once across resizes (SCAN, the
 * census). */
size_t tbl_range(const struct table *t, uint64_t from, uint64_t to, ks_visit_fn fn, void *ctx);
/* The first hash whose home in t is bucket b; 0 (the end) for b >= size. */
uint64_t tbl_bucket_start(const struct table *t, size_t b);
slot_t *tbl_alloc(size_t size);
void maybe_shrink(void);
void remove_at(struct table *t, size_t i, bool replaced);

/* keyspace.c */
size_t find_entry(const struct entry *e, uint64_t h, struct table **t);
bool repoint_at(struct table *t, size_t i, struct entry *moved);

static inline void notify(const struct entry *e)
{
    if (ks.on_modify)
        ks.on_modify(ent_key(e), ent_klen(e), ks.on_modify_ctx);
}

/* ---- hash ---- */

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t ks_hash(const void *key, size_t len)
{
    const uint8_t *p = key;
    size_t n = len;
    uint64_t h = ks.seed[0] ^ ((uint64_t)len * 0x9fb21c651e98df25ull);
    uint64_t a, b;

    if (n > 16) {
        do {
            h = fold_mul(rd64(p) ^ ks.seed[1], rd64(p + 8) ^ h);
            p += 16;
            n -= 16;
        } while (n > 16);
        /* last 16 bytes, overlapping the previous round: len > 16 */
        a = rd64(p + n - 16);
        b = rd64(p + n - 8);
    } else if (n >= 8) {
        a = rd64(p);
        b = rd64(p + n - 8);
    } else if (n >= 4) {
        a = rd32(p);
        b = rd32(p + n - 4);
    } else if (n > 0) {
        a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
        b = 0;
    } else {
        a = b = 0;
    }
    h = fold_mul(a ^ ks.seed[1], b ^ h ^ ks.seed[2]);
    return fold_mul(h ^ ks.seed[2], 0xc2b2ae3d27d4eb4full ^ ks.seed[0]);
}

static inline uint64_t entry_hash(const struct entry *e)
{
    return ks_hash(ent_key(e), ent_klen(e));
}

/* The size class and band of a (non-loose) entry's block. */
static inline unsigned ent_class(const struct entry *e)
{
    return alloc_size_class(hdr_size(e->flags) + ent_klen(e) + e->vlen);
}

static inline unsigned ent_band(const struct entry *e)
{
    return (e->flags & EF_BAND) >> EF_BAND_SHIFT;
}

/* Whether the index sweep accounts for entry e: all TTL entries in index
 * mode, only those outside arenas in arena mode (the arena sweep has the
 * others). */
static inline bool index_covers(const struct entry *e)
{
    return ks.sweep == KS_SWEEP_INDEX || (e->flags & EF_LOOSE);
}

static inline bool ent_expired(const struct entry *e)
{
    return (e->flags & EF_TTL) && ent_expire(e) <= ks.now_ms;
}

static inline uint64_t rng_next(void);

/* The LFU counter of access field f, decayed by one per period since the
 * period stamped in f (periods counted modulo 256). */
static inline unsigned lfu_decayed(uint16_t f)
{
    unsigned cnt = f & 0xff;
    unsigned periods = (uint8_t)(ks.lfu_now - (uint8_t)(f >> 8));
    return periods >= cnt ? 0 : cnt - periods;
}

/* x scaled from [0, 2^64) to [0, n): h * n / 2^64, one multiply. */
static inline size_t scale64(uint64_t x, size_t n)
{
    return (size_t)(((unsigned __int128)x * n) >> 64);
}

/* The home bucket of hash h: its place in hash order scaled to the table
 * (see HOME in index.c). */
static inline size_t tbl_home(const struct table *t, uint64_t h)
{
    return scale64(h, t->size);
}

/* The slot after i, cyclically. */
static inline size_t tbl_next(const struct table *t, size_t i)
{
    return i + 1 < t->size ? i + 1 : 0;
}

static inline bool key_eq(const struct entry *e, const char *key, size_t klen)
{
    return ent_klen(e) == klen && memcmp(ent_key(e), key, klen) == 0;
}

static inline size_t tbl_find(const struct table *t, uint64_t h, const char *key, size_t klen)
{
    size_t i = tbl_home(t, h);
    for (;;) {
        slot_t s = t->slots[i];
        if (s == 0)
            return NOPOS;
        if (s != SLOT_TOMB && key_eq(slot_entry(s), key, klen))
            return i;
        i = tbl_next(t, i);
    }
}

/* Places a slot value for a key known to be absent; there is an empty slot. */
static inline void tbl_place(struct table *t, uint64_t h, slot_t s)
{
    KS_ASSERT(t->used + 1 < t->size);  /* an empty slot stays: probes end */
    KS_ASSERT(s > SLOT_TOMB);
    size_t i = tbl_home(t, h);
    while (t->slots[i] != 0)
        i = tbl_next(t, i);
    t->slots[i] = s;
    t->used++;
}

static inline size_t hard_cap(size_t size)
{
    size_t cap = size - size / 16;
    return cap < size - 1 ? cap : size - 1;
}

static inline uint64_t rng_next(void)
{
    uint64_t x = ks.rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ks.rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

