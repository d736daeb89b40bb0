/*
 * keyspace: entries, the hash index, SCAN, expiry (see keyspace.h for the
 * contract). Everything lives in one static `ks` state: there is one db.
 *
 * ENTRY LAYOUT
 *
 * An entry is exactly one block from alloc_block() and the entry pointer is
 * the block pointer (ks_entry_of_block is a cast), so the compactor can move
 * an entry by copying its bytes and calling ks_repoint. Layout:
 *
 *   byte 0     flags: EF_TTL (an expiry follows), EF_LONGKEY (32-bit klen)
 *   byte 1     key length if the key is shorter than 256 bytes, else 0
 *   bytes 2-3  16-bit access clock (for LRU/LFU-style eviction later)
 *   bytes 4-7  value length (values are capped at 512 MiB, so 32 bits do)
 *   [4 bytes]  key length, only with EF_LONGKEY
 *   [8 bytes]  absolute expiry in Unix ms, only with EF_TTL
 *   key bytes, then value bytes (no NUL terminator)
 *
 * So the common case (short key, no TTL) costs 8 header bytes. Optional
 * fields may be unaligned (offset 12 with a long key), hence memcpy access.
 * Because the TTL field exists only when there is an expiry, adding or
 * removing an expiry moves the entry to a new block (ks_set_expire).
 * Each block gets a lifetime band for alloc/: 0 without TTL, otherwise
 * 1 + roughly log4 of the remaining seconds, capped at ALLOC_BANDS-1, so
 * entries likely to die together are placed together.
 *
 * INDEX
 *
 * Open addressing with linear probing over an array of uint64_t slots.
 * A slot is 0 (empty), SLOT_TOMB (see migration below), or
 *
 *   bit 63      the entry has a TTL (lets the expiry sweep skip entries
 *               without dereferencing them)
 *   bits 48-62  15-bit tag: hash bits 49-63, compared before the key, so a
 *               probe dereferences a non-matching entry only 1 in 32768 times
 *   bits 0-47   the entry pointer (user-space pointers fit in 48 bits on
 *               x86-64 and arm64; ks_alloc aborts if one does not)
 *
 * The home bucket of a key is hash & mask; the low hash bits pick the bucket
 * and the high ones the tag, so the two are independent for any table size.
 * Invariant of the active table: every slot from an entry's home bucket up
 * to the entry itself is non-empty, so a probe may stop at the first empty.
 * Deletion keeps it by backward shift (no tombstones in the active table):
 * walk forward from the hole, and move back every entry whose home bucket is
 * not cyclically inside (hole, position]; stop at an empty slot. The load
 * stays at most 0.8 (grow x2 when an insert would pass it) and a table
 * shrinks when the load drops below 0.1, to the smallest power of two that
 * keeps the load at or below 0.5, never below the initial size; the gap
 * between 0.1 and 0.4-0.5 keeps a key count near a threshold from
 * resizing back and forth.
 *
 * INCREMENTAL RESIZE
 *
 * A resize allocates the new table with calloc (large sizes are fresh mmap
 * pages that the kernel zeroes lazily, so even 2^25 slots cost no pause) and
 * makes it the active table `cur`; the previous one becomes `old`. Then:
 *
 *  - New keys go to cur only. A lookup probes cur, then old. An insert of a
 *    key that still lives in old removes it from old, so a key is in at most
 *    one table.
 *  - Migration walks old from slot 0 upward with the cursor `mig`: each
 *    entry found is placed into cur at its home bucket there, and its old
 *    slot becomes SLOT_TOMB. Every lookup/insert/delete migrates
 *    `rehash_steps` old slots; ks_cron and ks_expire_cycle migrate as much
 *    as their time budget allows (in batches, checking the clock).
 *  - Old is never shifted: a deletion there also writes SLOT_TOMB. Empty
 *    slots of old stay empty and occupied ones become tombstones, so every
 *    probe run in old is exactly as long as before migration started and a
 *    probe for any key still in old reaches it. Tombstones never appear in
 *    cur.
 *  - When old holds no more entries (old.used == 0, at the latest when the
 *    cursor reaches its end) it is freed.
 *  - Room: ks_alloc reserves room for the insert that follows it. Right
 *    after a shrink the new table has little headroom, so a burst of inserts
 *    could fill it before migration ends; each reservation therefore
 *    migrates at least (old slots left) / (inserts left before cur reaches
 *    0.8) slots, which finishes migration in time without a pause (a few
 *    slots per insert after a normal shrink). If growing fails for lack of
 *    memory, inserts go on up to a hard load cap (15/16 and always one
 *    empty slot) and then fail with KS_ENOMEM, so a probe always ends.
 *
 * SCAN
 *
 * The cursor enumerates home buckets, not slots, in reverse-binary order:
 * the cursor's bits are incremented from the top of the mask downward, so
 * the buckets already visited at one table size are exactly the expansions
 * of those visited at any other size; growing or shrinking between calls
 * therefore neither skips a bucket nor (when growing) revisits one. To visit
 * a bucket b, walk its probe run from slot b to the first empty slot and
 * report the entries whose home is b: by the invariant above they all lie
 * there, wherever backward-shift deletion moved them (tombstones in old
 * count as non-empty, which keeps this true in old as well). While resizing,
 * visit the bucket v & m0 of the smaller table, then the buckets of the
 * larger one that expand it, stepping the extra high bits with the same
 * reverse-binary increment and starting from the cursor's own high bits:
 * a cursor returned by a call on the larger table has high bits meaning
 * "the expansions before these are done", and those are before in
 * reverse-binary order, not in plain binary order (walking them in plain
 * order from there skipped buckets; test_scan_across_shrinks). When the
 * high bits wrap, the carry moves the cursor to the small table's next
 * bucket. Migration moves an entry between tables only between calls, from
 * one of those buckets to another that is visited in the same call or has
 * the same visited/unvisited status, so it is reported at least once.
 * Cost: one key hash per slot walked.
 *
 * HASH
 *
 * 64-bit multiply-fold hash (128-bit product, xor of both halves) over 16
 * bytes per round, with the tail read as overlapping words so short keys
 * take one or two multiplies; keyed with a per-process random seed so that
 * clients cannot precompute colliding keys (flooding a linear-probing table
 * would make runs quadratic).
 *
 * EXPIRY
 *
 * The clock is cached (ks_clock_update once per command), so the hot path
 * makes no time syscall. ks_get/ks_peek/ks_del delete expired entries they
 * find (lazy expiry). ks_expire_cycle sweeps the active table with a cursor
 * that persists across calls, checking only slots whose TTL bit is set,
 * deleting those past their expiry and reading the monotonic clock every
 * 256 slots to honour its budget; at about 1 ns per slot skipped this is
 * tens of millions of slots per ms. While resizing it first migrates (and
 * there reaps expired entries instead of moving them).
 *
 * Because every TTL'd entry the sweep checks costs a cache miss, a keyspace
 * full of long TTLs would burn the whole budget on every call for nothing.
 * So the sweep keeps `exp_floor`, a lower bound of every expiry in the
 * index, and ks_expire_cycle returns at once while now < exp_floor. A pass
 * is one sweep of cur from slot 0 round to slot 0; `exp_pass_min` collects
 * the expiry of every entry that the pass saw survive, plus every expiry
 * that could escape it: set since the pass began (insert, ks_set_expire),
 * or moved by a backward shift (which can carry an unvisited entry behind
 * the cursor; the shift hashes that entry anyway, so this costs nothing).
 * Entries placed by migration are noted too, defensively: the sweep waits
 * for migration to end and the pass restarts at slot 0 on every resize. When a pass completes, exp_floor = exp_pass_min. New
 * expiries lower exp_floor at once; deletions leave it (still a bound). A
 * resize restarts the pass at slot 0 of the new, empty, table.
 *
 * ARENA SWEEP (the default, KS_SWEEP_ARENAS)
 *
 * The index sweep pays a cache miss for every TTL entry it checks, since
 * entries are scattered in memory relative to their slots. The arena sweep
 * instead walks the live blocks of the arenas themselves
 * (alloc_arena_foreach_live), in address order, so it reads the headers
 * sequentially and the hardware prefetches them. It works per (size class,
 * lifetime band) pair, the unit alloc/ places blocks by, and keeps for each
 * pair a floor (`pfloor`: no entry of the pair expires before it) and, for
 * the pair being walked, the minimum of the walk (`pmin`). A pair is walked
 * only when its floor has passed; pairs without TTL entries keep an
 * infinite floor and cost nothing. With lifetime segregation that skips
 * all of band 0 (entries without TTL: a band-0 arena is never touched, which
 * is the point of segregating) and every long-TTL band until its earliest
 * expiry; without it, TTL entries share band-0 arenas with persistent ones
 * and those are walked whole. The entry records its band in its flags
 * (EF_BAND) and its class follows from its size, so note_expiry knows the
 * pair without asking alloc/.
 *
 * Cursor: (class, band, arena base, block address). Within a pair, each
 * step picks the arena with the lowest base at or after the cursor (a walk
 * of the class's arena list, headers only), walks it from the resume
 * address, and stops at the deadline (checked every 64 blocks, or every 4
 * deletions, which cost cache misses in the index) with the
 * cursor at the next unvisited block. The cursor holds no pointer into an
 * arena, so arenas may come and go between calls: an arena released and
 * mapped again at the same base holds only entries inserted since, which
 * the walk minimum already accounts for. A walk resets pmin when it starts
 * and copies it to pfloor when it ends; pmin takes every survivor's expiry
 * and every expiry set or moved into the pair meanwhile (note_expiry from
 * insert, set_expire and ks_repoint / the compactor, since a new block may
 * land in an arena behind the cursor). `aw_floor` is a lower bound of all
 * pair floors (recomputed once round) for the early return. Expired blocks
 * are deleted through the index (hash the key, find the slot holding
 * exactly this pointer). Entries outside arenas (large blocks, EF_LOOSE)
 * are left to the index sweep, whose floor then covers only those, so it
 * costs nothing without them. Measured against the index sweep in
 * tests/unit/keyspace/test_expire_sweep.c.
 *
 * CHANGE NOTIFICATION
 *
 * The modify hook (for WATCH) fires with the key once per change: from
 * ks_insert, from remove_at for every removal of a visible entry (DEL,
 * lazy and active expiry, set_expire into the past), from ks_set_expire and
 * ks_modified; never from migration, repoint or touch. It runs before the
 * entry is freed and must not call back into the keyspace.
 */
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

static inline void ent_set_expire_field(struct entry *e, int64_t t)
{
    memcpy((char *)e + sizeof(struct entry) + ((e->flags & EF_LONGKEY) ? 4 : 0), &t, 8);
}

/* Eviction candidates kept between evictions (see ks_evict in keyspace.h). */
#define EVICT_POOL 16

/* ---- index slots ---- */

#define SLOT_TOMB ((uint64_t)1)
#define SLOT_TTL ((uint64_t)1 << 63)
#define SLOT_TAG ((uint64_t)0x7fff << 48)
#define SLOT_PTR (((uint64_t)1 << 48) - 1)
#define NOPOS ((size_t)-1)

static inline struct entry *slot_entry(uint64_t s)
{
    return (struct entry *)(uintptr_t)(s & SLOT_PTR);
}

static inline uint64_t hash_tag(uint64_t h)
{
    return (h >> 1) & SLOT_TAG;
}

static inline uint64_t make_slot(const struct entry *e, uint64_t h)
{
    return ((e->flags & EF_TTL) ? SLOT_TTL : 0) | hash_tag(h) | (uint64_t)(uintptr_t)e;
}

struct table {
    uint64_t *slots;  /* NULL for a missing table */
    size_t mask;      /* slots - 1 */
    size_t used;      /* entries (not tombstones) */
};

static struct {
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
    ks_block_alloc_fn hook_block;
    ks_index_alloc_ok_fn hook_index;
    ks_modify_fn on_modify;
    void *on_modify_ctx;
    ks_flush_fn on_flush;
    void *on_flush_ctx;
} ks;

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

/* ---- clocks ---- */


static void set_now(int64_t ms)
{
    ks.now_ms = ms;
    ks.lru_now = (uint16_t)((uint64_t)ms >> 10);
    ks.lfu_now = (uint8_t)((uint64_t)ms >> 16);
}

void ks_clock_update(void)
{
    if (ks.clock_pinned)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    set_now((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void ks_clock_update_to(int64_t now_ms)
{
    if (!ks.clock_pinned)
        set_now(now_ms);
}

void ks_clock_set(int64_t now_ms)
{
    if (now_ms < 0) {
        ks.clock_pinned = false;
        ks_clock_update();
        return;
    }
    ks.clock_pinned = true;
    set_now(now_ms);
}

int64_t ks_now_ms(void)
{
    return ks.now_ms;
}

uint16_t ks_access_clock(void)
{
    return ks.lru_now;
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

/* A new or changed expiry t of entry e (in its block now): lowers the
 * floors and counts in both passes (an arena pass may be past e's arena). */
static inline void note_expiry(const struct entry *e, int64_t t)
{
    if (index_covers(e)) {
        if (t < ks.exp_floor)
            ks.exp_floor = t;
        if (t < ks.exp_pass_min)
            ks.exp_pass_min = t;
    }
    if (!(e->flags & EF_LOOSE)) {
        unsigned c = ent_class(e), b = ent_band(e);
        if (t < ks.aw_floor)
            ks.aw_floor = t;
        if (t < ks.pfloor[c][b])
            ks.pfloor[c][b] = t;
        if (t < ks.pmin[c][b])
            ks.pmin[c][b] = t;
    }
}

/* An existing expiry that the current index pass may not see where it is
 * now (its slot moved). */
static inline void note_expiry_moved(const struct entry *e)
{
    if (!index_covers(e))
        return;
    int64_t t = ent_expire(e);
    if (t < ks.exp_pass_min)
        ks.exp_pass_min = t;
}

static void expiry_pass_restart(void)
{
    ks.exp_cursor = 0;
    ks.exp_pass_min = INT64_MAX;
}

/* Forgets the arena sweep's position and floor: for setup and flush. */
static void arena_sweep_reset(void)
{
    ks.aw_cls = 0;
    ks.aw_band = 0;
    ks.aw_walking = false;
    ks.aw_base = 0;
    ks.aw_resume = 0;
    ks.aw_floor = INT64_MAX;
    for (unsigned c = 0; c < KS_SWEEP_CLASSES; c++) {
        for (unsigned b = 0; b < ALLOC_BANDS; b++)
            ks.pfloor[c][b] = ks.pmin[c][b] = INT64_MAX;
    }
}

static inline bool ent_expired(const struct entry *e)
{
    return (e->flags & EF_TTL) && ent_expire(e) <= ks.now_ms;
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

static inline uint64_t rng_next(void);

/* The LFU counter of access field f, decayed by one per period since the
 * period stamped in f (periods counted modulo 256). */
static inline unsigned lfu_decayed(uint16_t f)
{
    unsigned cnt = f & 0xff;
    unsigned periods = (uint8_t)(ks.lfu_now - (uint8_t)(f >> 8));
    return periods >= cnt ? 0 : cnt - periods;
}

static inline uint16_t access_init(void)
{
    return ks.lfu ? (uint16_t)((unsigned)ks.lfu_now << 8 | LFU_INIT) : ks.lru_now;
}

static void lfu_touch(struct entry *e)
{
    unsigned cnt = lfu_decayed(e->clock);
    if (cnt < 255) {
        /* logarithmic: the n-th increment above LFU_INIT succeeds with
         * probability 1 / (n * LFU_LOG_FACTOR + 1) */
        unsigned base = cnt > LFU_INIT ? cnt - LFU_INIT : 0;
        uint64_t r = rng_next() >> 11;  /* 53 random bits */
        if ((double)r * (double)(base * LFU_LOG_FACTOR + 1) < 9007199254740992.0)
            cnt++;
    }
    e->clock = (uint16_t)((unsigned)ks.lfu_now << 8 | cnt);
}

static inline void ent_touch(struct entry *e)
{
    if (__builtin_expect(ks.lfu, 0))
        lfu_touch(e);
    else if (e->clock != ks.lru_now)
        e->clock = ks.lru_now;
}

/* ---- entry accessors ---- */

const char *entry_key(const struct entry *e, size_t *klen)
{
    if (klen)
        *klen = ent_klen(e);
    return ent_key(e);
}

char *entry_val(struct entry *e, size_t *vlen)
{
    if (vlen)
        *vlen = e->vlen;
    return ent_key(e) + ent_klen(e);
}

size_t entry_vlen(const struct entry *e)
{
    return e->vlen;
}

int64_t entry_expire(const struct entry *e)
{
    return ent_expire(e);
}

uint16_t entry_access_clock(const struct entry *e)
{
    return e->clock;
}

unsigned entry_lfu_freq(const struct entry *e)
{
    return ks.lfu ? lfu_decayed(e->clock) : 0;
}

bool ks_lfu_mode(void)
{
    return ks.lfu;
}

/* Slots in the index tables (both while resizing). */
static size_t index_slots(void)
{
    return ks.cur.mask + 1 + (ks.old.slots ? ks.old.mask + 1 : 0);
}

size_t entry_footprint(const struct entry *e)
{
    size_t n = ks_count();
    size_t share = n ? index_slots() * sizeof(uint64_t) / n : sizeof(uint64_t);
    return alloc_usable(e) + share;
}

struct entry *ks_entry_of_block(void *block)
{
    return (struct entry *)block;
}

/* ---- table primitives ---- */

static inline size_t tbl_size(const struct table *t)
{
    return t->mask + 1;
}

static inline bool key_eq(const struct entry *e, const char *key, size_t klen)
{
    return ent_klen(e) == klen && memcmp(ent_key(e), key, klen) == 0;
}

static inline size_t tbl_find(const struct table *t, uint64_t h, const char *key, size_t klen)
{
    uint64_t tag = hash_tag(h);
    size_t i = h & t->mask;
    for (;;) {
        uint64_t s = t->slots[i];
        if (s == 0)
            return NOPOS;
        if ((s & SLOT_TAG) == tag && s != SLOT_TOMB && key_eq(slot_entry(s), key, klen))
            return i;
        i = (i + 1) & t->mask;
    }
}

/* Finds the slot holding exactly entry pointer e (not dereferenced). */
static size_t tbl_find_ptr(const struct table *t, uint64_t h, const struct entry *e)
{
    uint64_t want = (uint64_t)(uintptr_t)e;
    size_t i = h & t->mask;
    for (size_t n = 0; n <= t->mask; n++) {
        uint64_t s = t->slots[i];
        if (s == 0)
            return NOPOS;
        if (s != SLOT_TOMB && (s & SLOT_PTR) == want)
            return i;
        i = (i + 1) & t->mask;
    }
    return NOPOS;
}

/* Places a slot value for a key known to be absent; there is an empty slot. */
static inline void tbl_place(struct table *t, uint64_t h, uint64_t s)
{
    KS_ASSERT(t->used < t->mask);  /* an empty slot stays: probes end */
    KS_ASSERT(s > SLOT_TOMB);
    size_t i = h & t->mask;
    while (t->slots[i] != 0)
        i = (i + 1) & t->mask;
    t->slots[i] = s;
    t->used++;
}

/* Backward-shift removal of slot i from the active table (see file top). */
static void tbl_remove_shift(struct table *t, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        uint64_t s = t->slots[j];
        if (s == 0)
            break;
        size_t k = entry_hash(slot_entry(s)) & t->mask;
        /* the entry at j may fill hole i unless its home k lies cyclically in (i, j] */
        bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        if (s & SLOT_TTL)
            note_expiry_moved(slot_entry(s));
        t->slots[i] = s;
        i = j;
    }
    t->slots[i] = 0;
    t->used--;
}

static uint64_t *tbl_alloc(size_t size)
{
    if (ks.hook_index && !ks.hook_index(size * sizeof(uint64_t)))
        return NULL;
    return calloc(size, sizeof(uint64_t));
}

static inline size_t hard_cap(size_t size)
{
    size_t cap = size - size / 16;
    return cap < size - 1 ? cap : size - 1;
}

/* Frees old once it holds no entry (the invariant ks_verify checks: an old
 * table exists only while it has entries to migrate). */
static void finish_old_if_empty(void)
{
    if (ks.old.slots && ks.old.used == 0) {
        free(ks.old.slots);
        ks.old.slots = NULL;
        ks.old.mask = 0;
        ks.mig = 0;
    }
}

/* Removes the entry in slot i of t (cur or old) and frees it; tells the
 * modify hook unless the key is being replaced (ks_insert notifies then).
 * Frees old when that was its last entry: every caller needs that, and a
 * caller that forgot it (lazy expiry in lookup_live did) left an empty old
 * table behind until the next rehash step. */
static void remove_at(struct table *t, size_t i, bool replaced)
{
    uint64_t s = t->slots[i];
    KS_ASSERT(s > SLOT_TOMB && t->used > 0);
    KS_ASSERT((s & SLOT_TTL) == 0 || ks.expires > 0);
    if (!replaced)
        notify(slot_entry(s));
    if (s & SLOT_TTL)
        ks.expires--;
    if (t == &ks.old) {
        t->slots[i] = SLOT_TOMB;
        t->used--;
        finish_old_if_empty();
    } else {
        tbl_remove_shift(t, i);
    }
    alloc_free(slot_entry(s));
}

/* ---- resize ---- */

/*
 * Migrates at most max_slots old slots. With reap, expired entries are freed
 * instead of moved (only from the cron paths: a command may hold entries).
 * Returns the number reaped.
 */
static size_t migrate(size_t max_slots, bool reap)
{
    struct table *o = &ks.old;
    size_t reaped = 0;
    for (size_t n = 0; n < max_slots && o->used > 0 && ks.mig <= o->mask; n++, ks.mig++) {
        uint64_t s = o->slots[ks.mig];
        if (s <= SLOT_TOMB)
            continue;
        struct entry *e = slot_entry(s);
        o->slots[ks.mig] = SLOT_TOMB;
        o->used--;
        if (reap && (s & SLOT_TTL) && ent_expired(e)) {
            notify(e);
            ks.expires--;
            ks.expired++;
            reaped++;
            alloc_free(e);
            continue;
        }
        if (s & SLOT_TTL)
            note_expiry_moved(e);
        tbl_place(&ks.cur, entry_hash(e), s);
    }
    finish_old_if_empty();
    return reaped;
}

static inline void rehash_step(void)
{
    if (__builtin_expect(ks.old.slots != NULL, 0))
        migrate(ks.rehash_steps, false);
}

static void migrate_all(void)
{
    while (ks.old.slots)
        migrate((size_t)-1, false);
}

/* Starts a resize to 2^power slots; false if the table cannot be had. */
static bool start_resize(unsigned power)
{
    if (ks.old.slots || power >= 8 * sizeof(size_t) - 4)
        return false;
    size_t size = (size_t)1 << power;
    uint64_t *slots = tbl_alloc(size);
    if (!slots)
        return false;
    ks.old = ks.cur;
    ks.cur.slots = slots;
    ks.cur.mask = size - 1;
    ks.cur.used = 0;
    ks.mig = 0;
    expiry_pass_restart();
    finish_old_if_empty();
    return true;
}

static unsigned table_power(const struct table *t)
{
    return (unsigned)__builtin_ctzll((unsigned long long)tbl_size(t));
}

static void maybe_shrink(void)
{
    if (ks.old.slots)
        return;
    size_t size = tbl_size(&ks.cur);
    size_t n = ks.cur.used;
    if (size <= ((size_t)1 << ks.initial_power) || n * 10 >= size)
        return;
    unsigned p = ks.initial_power;
    while (((size_t)1 << p) < 2 * n)
        p++;
    if (p < table_power(&ks.cur))
        start_resize(p);
}

/* Guarantees that one more insert fits in cur (see "Room" at file top). */
static bool ensure_room(void)
{
    size_t total = ks.cur.used + ks.old.used + 1;
    if (ks.old.slots) {
        size_t cap = tbl_size(&ks.cur) * 4 / 5;  /* the 0.8 load limit */
        if (total <= cap) {
            /* pace migration so it ends before cur reaches its load limit:
             * at least (old slots left) / (inserts left) slots per insert */
            size_t need = (tbl_size(&ks.old) - ks.mig) / (cap - total + 1) + 1;
            if (need > ks.rehash_steps)
                migrate(need, false);
            return true;
        }
        migrate_all();  /* only if the pacing was defeated (cannot happen) */
    }
    size_t size = tbl_size(&ks.cur);
    if (total * 5 <= size * 4)
        return true;
    if (start_resize(table_power(&ks.cur) + 1))
        return true;
    return total <= hard_cap(size);
}

/* ---- setup ---- */

void ks_options_default(struct ks_options *opt)
{
    opt->initial_power = 10;
    opt->rehash_steps = 16;
    opt->expire_sweep = KS_SWEEP_ARENAS;
    opt->expire_cycle_us = 1000;
    opt->expire_effort = 1;
    opt->ttl_bands = true;
    opt->evict_samples = 5;
}

static unsigned clamp_effort(unsigned e)
{
    return e < 1 ? 1 : e > 10 ? 10 : e;
}

void ks_set_expire_tuning(unsigned cycle_us, unsigned effort)
{
    ks.cycle_us = cycle_us;
    ks.effort = clamp_effort(effort);
}

void ks_set_lifetime_segregation(bool on)
{
    ks.ttl_bands = on;
}

static void seed_init(void)
{
    uint64_t s[4];
    if (getrandom(s, sizeof s, 0) != (ssize_t)sizeof s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
        s[1] = fold_mul(s[0] ^ 0xa0761d6478bd642full, (uint64_t)ts.tv_sec ^ 0xe7037ed1a0b428dbull);
        s[2] = fold_mul(s[1] ^ 0x8ebc6af09c88c6e3ull, (uint64_t)(uintptr_t)&ks);
        s[3] = s[0] ^ s[2];
    }
    ks.seed[0] = s[0];
    ks.seed[1] = s[1] | 1;
    ks.seed[2] = s[2];
    ks.rng = s[3] | 1;
}

int ks_setup(const struct ks_options *opt)
{
    if (ks.ready)
        return 0;
    struct ks_options o;
    ks_options_default(&o);
    if (opt)
        o = *opt;
    if (o.initial_power < 2)
        o.initial_power = 2;
    if (o.initial_power > 40)
        return EINVAL;
    if (o.rehash_steps == 0)
        o.rehash_steps = 1;
    /* hooks may be registered before setup */
    ks_modify_fn on_modify = ks.on_modify;
    void *on_modify_ctx = ks.on_modify_ctx;
    ks_flush_fn on_flush = ks.on_flush;
    void *on_flush_ctx = ks.on_flush_ctx;
    memset(&ks, 0, sizeof ks);
    ks.on_modify = on_modify;
    ks.on_modify_ctx = on_modify_ctx;
    ks.on_flush = on_flush;
    ks.on_flush_ctx = on_flush_ctx;
    ks.initial_power = o.initial_power;
    ks.rehash_steps = o.rehash_steps;
    ks.sweep = o.expire_sweep == KS_SWEEP_INDEX ? KS_SWEEP_INDEX : KS_SWEEP_ARENAS;
    ks.cycle_us = o.expire_cycle_us;
    ks.effort = clamp_effort(o.expire_effort);
    ks.ttl_bands = o.ttl_bands;
    ks.evict_samples = o.evict_samples ? o.evict_samples : 5;
    size_t size = (size_t)1 << o.initial_power;
    ks.cur.slots = calloc(size, sizeof(uint64_t));
    if (!ks.cur.slots)
        return ENOMEM;
    ks.cur.mask = size - 1;
    seed_init();
    ks_clock_update();
    ks.exp_floor = INT64_MAX;
    expiry_pass_restart();
    arena_sweep_reset();
    ks.ready = true;
    return 0;
}

static void free_entries(struct table *t)
{
    if (!t->slots)
        return;
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slots[i] > SLOT_TOMB)
            alloc_free(slot_entry(t->slots[i]));
    }
}

void ks_teardown(void)
{
    if (!ks.ready)
        return;
    free_entries(&ks.cur);
    free_entries(&ks.old);
    free(ks.cur.slots);
    free(ks.old.slots);
    memset(&ks, 0, sizeof ks);
}

void ks_flush(void)
{
    if (ks.on_flush)
        ks.on_flush(ks.on_flush_ctx);
    free_entries(&ks.cur);
    free_entries(&ks.old);
    free(ks.old.slots);
    ks.old.slots = NULL;
    ks.old.mask = ks.old.used = 0;
    ks.mig = 0;
    size_t init = (size_t)1 << ks.initial_power;
    uint64_t *fresh = tbl_size(&ks.cur) == init ? NULL : tbl_alloc(init);
    if (fresh) {
        free(ks.cur.slots);
        ks.cur.slots = fresh;
        ks.cur.mask = init - 1;
    } else {
        memset(ks.cur.slots, 0, tbl_size(&ks.cur) * sizeof(uint64_t));
    }
    ks.cur.used = 0;
    ks.expires = 0;
    ks.exp_floor = INT64_MAX;
    expiry_pass_restart();
    arena_sweep_reset();
    ks.pool_n = 0;
}

void ks_test_fault_hooks(ks_block_alloc_fn block_alloc, ks_index_alloc_ok_fn index_alloc_ok)
{
    ks.hook_block = block_alloc;
    ks.hook_index = index_alloc_ok;
}

/* ---- lookups ---- */

/* Finds key in cur then old; sets *t. Does not check expiry. */
static inline size_t find(uint64_t h, const char *key, size_t klen, struct table **t)
{
    size_t i = tbl_find(&ks.cur, h, key, klen);
    if (i != NOPOS) {
        *t = &ks.cur;
        return i;
    }
    if (ks.old.slots) {
        i = tbl_find(&ks.old, h, key, klen);
        *t = &ks.old;
    }
    return i;
}

static struct entry *lookup_live(const char *key, size_t klen)
{
    rehash_step();
    struct table *t;
    size_t i = find(ks_hash(key, klen), key, klen, &t);
    if (i == NOPOS)
        return NULL;
    uint64_t s = t->slots[i];
    struct entry *e = slot_entry(s);
    if ((s & SLOT_TTL) && ent_expire(e) <= ks.now_ms) {
        remove_at(t, i, false);
        ks.expired++;
        return NULL;
    }
    return e;
}

struct entry *ks_get(const char *key, size_t klen)
{
    struct entry *e = lookup_live(key, klen);
    if (e) {
        ks.hits++;
        ent_touch(e);
    } else {
        ks.misses++;
    }
    return e;
}

struct entry *ks_get_notouch(const char *key, size_t klen)
{
    struct entry *e = lookup_live(key, klen);
    if (e)
        ks.hits++;
    else
        ks.misses++;
    return e;
}

struct entry *ks_peek(const char *key, size_t klen)
{
    return lookup_live(key, klen);
}

/* ---- updates ---- */

static unsigned lifetime_band(int64_t expire_ms)
{
    if (expire_ms == KS_NO_EXPIRE)
        return 0;
    int64_t left = expire_ms - ks.now_ms;
    uint64_t secs = left > 0 ? (uint64_t)left >> 10 : 0;  /* ~seconds, no division */
    unsigned bits = secs ? 64u - (unsigned)__builtin_clzll(secs) : 0;
    unsigned band = 1 + (bits + 1) / 2;
    return band < ALLOC_BANDS ? band : ALLOC_BANDS - 1;
}

/*
 * A block for an entry of size bytes expiring at expire_ms, in the band of
 * its remaining lifetime (band 0 for everything when segregation is off).
 * *place gets the entry's placement flags: EF_LOOSE when the block will not
 * be in an arena (a large block or one from the test hook), which the arena
 * sweep would not see, else the band in the EF_BAND bits.
 */
static struct entry *block_alloc(size_t size, int64_t expire_ms, unsigned *place)
{
    unsigned band = ks.ttl_bands ? lifetime_band(expire_ms) : 0;
    void *p = ks.hook_block ? ks.hook_block(size, band) : alloc_block(size, band);
    if (!p)
        return NULL;
    if ((uintptr_t)p & ~(uintptr_t)SLOT_PTR) {
        fprintf(stderr, "keyspace: block address %p does not fit in 48 bits\n", p);
        abort();
    }
    unsigned cls = alloc_size_class(size);
    *place = (ks.hook_block || cls >= alloc_class_count() || cls >= KS_SWEEP_CLASSES)
                 ? EF_LOOSE
                 : band << EF_BAND_SHIFT;
    return p;
}

struct entry *ks_alloc(const char *key, size_t klen, size_t vlen, int64_t expire_ms)
{
    if (klen > KS_MAX_KEY_LEN || vlen > KS_MAX_VAL_LEN)
        return NULL;
    /* a replacement needs no new slot, which matters only at the hard cap;
     * a lookup that deletes the key before ks_insert frees a slot for it */
    if (!ensure_room()) {
        struct table *t;
        if (find(ks_hash(key, klen), key, klen, &t) == NOPOS)
            return NULL;
    }
    unsigned flags = (klen > UINT8_MAX ? EF_LONGKEY : 0) | (expire_ms != KS_NO_EXPIRE ? EF_TTL : 0);
    size_t hs = hdr_size(flags);
    unsigned place;
    struct entry *e = block_alloc(hs + klen + vlen, expire_ms, &place);
    if (!e)
        return NULL;
    flags |= place;
    e->flags = (uint8_t)flags;
    e->klen8 = (flags & EF_LONGKEY) ? 0 : (uint8_t)klen;
    e->clock = access_init();
    e->vlen = (uint32_t)vlen;
    if (flags & EF_LONGKEY) {
        uint32_t k = (uint32_t)klen;
        memcpy((char *)e + sizeof(struct entry), &k, 4);
    }
    if (flags & EF_TTL)
        ent_set_expire_field(e, expire_ms);
    if (klen)
        memcpy((char *)e + hs, key, klen);
    return e;
}

void ks_discard(struct entry *e)
{
    alloc_free(e);
}

void ks_insert(struct entry *e)
{
    rehash_step();
    size_t klen = ent_klen(e);
    const char *key = ent_key(e);
    uint64_t h = ks_hash(key, klen);
    uint64_t s = make_slot(e, h);
    if (s & SLOT_TTL) {
        ks.expires++;
        note_expiry(e, ent_expire(e));
    }

    size_t i = tbl_find(&ks.cur, h, key, klen);
    if (i != NOPOS) {
        uint64_t prev = ks.cur.slots[i];
        if (prev & SLOT_TTL)
            ks.expires--;
        ks.cur.slots[i] = s;
        notify(e);
        alloc_free(slot_entry(prev));
        return;
    }
    if (ks.old.slots) {
        i = tbl_find(&ks.old, h, key, klen);
        if (i != NOPOS)
            remove_at(&ks.old, i, true);
    }
    tbl_place(&ks.cur, h, s);
    notify(e);
}

ks_rstatus_e ks_set(const char *key, size_t klen, const char *val, size_t vlen, int64_t expire_ms)
{
    struct entry *e = ks_alloc(key, klen, vlen, expire_ms);
    if (!e)
        return KS_ENOMEM;
    if (vlen)
        memcpy(entry_val(e, NULL), val, vlen);
    ks_insert(e);
    return KS_OK;
}

bool ks_del(const char *key, size_t klen)
{
    rehash_step();
    struct table *t;
    size_t i = find(ks_hash(key, klen), key, klen, &t);
    if (i == NOPOS)
        return false;
    bool live = !ent_expired(slot_entry(t->slots[i]));
    if (!live)
        ks.expired++;
    remove_at(t, i, false);
    maybe_shrink();
    return live;
}

/* Locates the slot that holds entry e (which must be in the index). */
static size_t find_entry(const struct entry *e, uint64_t h, struct table **t)
{
    size_t i = tbl_find_ptr(&ks.cur, h, e);
    if (i != NOPOS) {
        *t = &ks.cur;
        return i;
    }
    if (ks.old.slots) {
        *t = &ks.old;
        return tbl_find_ptr(&ks.old, h, e);
    }
    return NOPOS;
}

struct entry *ks_set_expire(struct entry *e, int64_t expire_ms, bool *deleted)
{
    if (deleted)
        *deleted = false;
    uint64_t h = entry_hash(e);
    struct table *t;
    size_t i = find_entry(e, h, &t);
    if (i == NOPOS)
        return NULL;  /* not in the index: a caller bug */

    if (expire_ms != KS_NO_EXPIRE && expire_ms <= ks.now_ms) {
        remove_at(t, i, false);
        if (deleted)
            *deleted = true;
        return NULL;
    }
    bool had = e->flags & EF_TTL;
    bool want = expire_ms != KS_NO_EXPIRE;
    if (had == want) {
        if (want) {
            ent_set_expire_field(e, expire_ms);
            note_expiry(e, expire_ms);
        }
        notify(e);
        return e;
    }

    /* The header changes size: copy into a new block. */
    unsigned flags = (e->flags & EF_LONGKEY) | (want ? EF_TTL : 0);
    size_t klen = ent_klen(e);
    size_t body = klen + e->vlen;
    unsigned place;
    struct entry *n = block_alloc(hdr_size(flags) + body, expire_ms, &place);
    if (!n)
        return NULL;
    flags |= place;
    *n = *e;
    n->flags = (uint8_t)flags;
    if (flags & EF_LONGKEY)
        memcpy((char *)n + sizeof(struct entry), (const char *)e + sizeof(struct entry), 4);
    if (want) {
        ent_set_expire_field(n, expire_ms);
        note_expiry(n, expire_ms);
    }
    memcpy(ent_key(n), ent_key(e), body);

    t->slots[i] = make_slot(n, h);
    if (want)
        ks.expires++;
    else
        ks.expires--;
    notify(n);
    alloc_free(e);
    return n;
}

void ks_touch(struct entry *e)
{
    ent_touch(e);
}

void ks_modified(struct entry *e)
{
    notify(e);
}

void ks_set_modify_hook(ks_modify_fn fn, void *ctx)
{
    ks.on_modify = fn;
    ks.on_modify_ctx = ctx;
}

void ks_set_flush_hook(ks_flush_fn fn, void *ctx)
{
    ks.on_flush = fn;
    ks.on_flush_ctx = ctx;
}

/* Points slot i of t, which holds an entry, at `moved`, a copy of it
 * (ks_repoint and the compactor's evacuate). */
static void repoint_at(struct table *t, size_t i, struct entry *moved)
{
    if ((uintptr_t)moved & ~(uintptr_t)SLOT_PTR)
        abort();
    t->slots[i] = (t->slots[i] & ~SLOT_PTR) | (uint64_t)(uintptr_t)moved;
    if (!(moved->flags & EF_LOOSE)) {
        /* a mover may have used another band (or a large block): record
         * where the copy is, for the arena sweep */
        const struct alloc_arena *a = alloc_arena_of(moved);
        if (a) {
            struct alloc_arena_info in;
            alloc_arena_info(a, &in);
            moved->flags = (uint8_t)((moved->flags & ~EF_BAND) | in.band << EF_BAND_SHIFT);
        } else {
            moved->flags = (uint8_t)((moved->flags & ~EF_BAND) | EF_LOOSE);
        }
    }
    /* the copy may sit in an arena the arena sweep has passed */
    if (moved->flags & EF_TTL)
        note_expiry(moved, ent_expire(moved));
}

bool ks_repoint(struct entry *old, struct entry *moved)
{
    struct table *t;
    size_t i = find_entry(old, entry_hash(moved), &t);
    if (i == NOPOS)
        return false;
    repoint_at(t, i, moved);
    return true;
}

size_t ks_count(void)
{
    return ks.cur.used + ks.old.used;
}

size_t ks_count_expires(void)
{
    return ks.expires;
}

/* ---- scan ---- */

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    return __builtin_bswap64(v);
}

/* Reports the live entries of t whose home bucket is b (see SCAN above). */
static void scan_bucket(const struct table *t, size_t b, ks_visit_fn fn, void *ctx)
{
    size_t i = b;
    do {
        uint64_t s = t->slots[i];
        if (s == 0)
            break;
        if (s != SLOT_TOMB) {
            struct entry *e = slot_entry(s);
            if ((entry_hash(e) & t->mask) == b && !ent_expired(e))
                fn(e, ctx);
        }
        i = (i + 1) & t->mask;
    } while (i != b);
}

/* Advances a reverse-binary cursor over the buckets of mask m. */
static inline uint64_t cursor_next(uint64_t v, uint64_t m)
{
    v |= ~m;
    v = rev64(v);
    v++;
    return rev64(v);
}

uint64_t ks_scan(uint64_t cursor, size_t count, ks_visit_fn fn, void *ctx)
{
    uint64_t v = cursor;
    size_t done = 0;
    if (count == 0)
        count = 1;
    do {
        if (!ks.old.slots) {
            uint64_t m = ks.cur.mask;
            scan_bucket(&ks.cur, v & m, fn, ctx);
            v = cursor_next(v, m);
            done++;
        } else {
            const struct table *small = &ks.cur, *big = &ks.old;
            if (small->mask > big->mask) {
                small = &ks.old;
                big = &ks.cur;
            }
            uint64_t m0 = small->mask, m1 = big->mask;
            scan_bucket(small, v & m0, fn, ctx);
            done++;
            /*
             * The buckets of big whose low bits are v & m0, from v's high
             * bits onward in reverse-binary order: a cursor that a call on
             * the big table returned has high bits meaning "the expansions
             * before these are done", so the order must match. When the
             * high bits wrap, the carry advances v to the next bucket of
             * the small table.
             */
            do {
                scan_bucket(big, v & m1, fn, ctx);
                v = cursor_next(v, m1);
                done++;
            } while (v & (m0 ^ m1));
        }
    } while (v != 0 && done < count);
    return v;
}

/* ---- random ---- */

static inline uint64_t rng_next(void)
{
    uint64_t x = ks.rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ks.rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

static struct entry *first_live(const struct table *t, size_t start)
{
    if (!t->slots)
        return NULL;
    for (size_t n = 0, i = start & t->mask; n <= t->mask; n++, i = (i + 1) & t->mask) {
        uint64_t s = t->slots[i];
        if (s > SLOT_TOMB && !ent_expired(slot_entry(s)))
            return slot_entry(s);
    }
    return NULL;
}

/* A random index slot: a table chosen in proportion to its entries (there
 * are total > 0 of them), then a slot of it. */
static size_t random_slot(size_t total, const struct table **t)
{
    uint64_t r = rng_next();
    *t = ks.old.slots && (r >> 32) % total < ks.old.used ? &ks.old : &ks.cur;
    return (size_t)rng_next() & (*t)->mask;
}

struct entry *ks_random(void)
{
    size_t total = ks_count();
    if (total == 0)
        return NULL;
    for (int tries = 0; tries < 64; tries++) {
        const struct table *t;
        size_t i = random_slot(total, &t);
        uint64_t s = t->slots[i];
        if (s > SLOT_TOMB && !ent_expired(slot_entry(s)))
            return slot_entry(s);
    }
    size_t start = (size_t)rng_next();
    struct entry *e = first_live(&ks.cur, start);
    return e ? e : first_live(&ks.old, start);
}

/*
 * ---- eviction ----
 *
 * Sampled, as in Redis: each eviction samples evict_samples keys (runs of
 * index slots from random starts; volatile policies read only slots with
 * the TTL bit) and merges them into a pool of the EVICT_POOL best
 * candidates kept across calls; the best candidate still valid (its pointer
 * still in the index with the same key hash: it may have been deleted or
 * moved by the compactor since) is evicted. Pool entries are pointers, so
 * the pool is emptied on flush and whenever the policy changes.
 */

static const char *const policy_names[] = {
    [KS_EVICT_NOEVICTION] = "noeviction",
    [KS_EVICT_ALLKEYS_LRU] = "allkeys-lru",
    [KS_EVICT_ALLKEYS_LFU] = "allkeys-lfu",
    [KS_EVICT_ALLKEYS_RANDOM] = "allkeys-random",
    [KS_EVICT_VOLATILE_LRU] = "volatile-lru",
    [KS_EVICT_VOLATILE_LFU] = "volatile-lfu",
    [KS_EVICT_VOLATILE_RANDOM] = "volatile-random",
    [KS_EVICT_VOLATILE_TTL] = "volatile-ttl",
};

const char *ks_evict_policy_name(enum ks_evict_policy p)
{
    return (unsigned)p < sizeof policy_names / sizeof policy_names[0] ? policy_names[p] : "?";
}

bool ks_evict_policy_parse(const char *name, enum ks_evict_policy *out)
{
    for (unsigned i = 0; i < sizeof policy_names / sizeof policy_names[0]; i++) {
        if (strcasecmp(name, policy_names[i]) == 0) {
            *out = (enum ks_evict_policy)i;
            return true;
        }
    }
    return false;
}

static inline bool policy_volatile(enum ks_evict_policy p)
{
    return p >= KS_EVICT_VOLATILE_LRU;
}

static inline bool policy_lfu(enum ks_evict_policy p)
{
    return p == KS_EVICT_ALLKEYS_LFU || p == KS_EVICT_VOLATILE_LFU;
}

void ks_set_evict_policy(enum ks_evict_policy p)
{
    bool lfu = policy_lfu(p);
    if (lfu != ks.lfu) {
        ks.lfu = lfu;
        ks.pool_n = 0;
    }
}

void ks_set_evict_samples(unsigned n)
{
    ks.evict_samples = n < 1 ? 1 : n > 64 ? 64 : n;
}

/* Higher is evicted first. */
static uint64_t evict_score(const struct entry *e, enum ks_evict_policy p)
{
    switch (p) {
    case KS_EVICT_ALLKEYS_LRU:
    case KS_EVICT_VOLATILE_LRU:
        return (uint16_t)(ks.lru_now - e->clock);  /* idle ticks (~1 s) */
    case KS_EVICT_ALLKEYS_LFU:
    case KS_EVICT_VOLATILE_LFU:
        return 255 - lfu_decayed(e->clock);
    case KS_EVICT_VOLATILE_TTL:
        return (uint64_t)INT64_MAX - (uint64_t)ent_expire(e);  /* soonest first */
    default:
        return rng_next();
    }
}

static void pool_insert(struct entry *e, uint64_t h, uint64_t score)
{
    unsigned n = ks.pool_n, i;
    for (i = 0; i < n; i++) {
        if (ks.pool[i].e == e)
            return;  /* already a candidate */
    }
    if (n == EVICT_POOL) {
        if (score <= ks.pool[0].score)
            return;  /* worse than every candidate */
        memmove(&ks.pool[0], &ks.pool[1], (n - 1) * sizeof ks.pool[0]);
        n--;
    }
    for (i = n; i > 0 && ks.pool[i - 1].score > score; i--)
        ks.pool[i] = ks.pool[i - 1];
    ks.pool[i] = (struct evict_cand){e, h, score};
    ks.pool_n = n + 1;
}

/* Index slot of e if e is still the entry whose key hashes to h. */
static size_t cand_slot(struct entry *e, uint64_t h, struct table **t)
{
    size_t i = find_entry(e, h, t);
    if (i == NOPOS || entry_hash(e) != h)
        return NOPOS;  /* gone, moved by the compactor, or another key's block now */
    return i;
}

/* Frees the entry in slot i of t; returns the bytes that gives back. */
static size_t evict_at(struct table *t, size_t i, bool expired)
{
    struct entry *e = slot_entry(t->slots[i]);
    size_t bytes = alloc_usable(e) + sizeof(uint64_t);
    remove_at(t, i, false);
    if (expired)
        ks.expired++;
    else
        ks.evicted++;
    return bytes;
}

/*
 * Samples up to ks.evict_samples entries eligible for policy p: runs of
 * consecutive index slots from random starts (slots are in hash order, so a
 * run is a random set of keys; volatile policies test the slot's TTL bit
 * without touching the entry). Expired entries found are deleted at once
 * (their bytes are added to *freed); the others go to the pool, or for the
 * random policies straight to *pick. Returns the number of live entries
 * sampled.
 */
static unsigned evict_sample(enum ks_evict_policy p, size_t *freed, struct evict_cand *pick)
{
    bool vol = policy_volatile(p);
    struct entry *found[64];
    uint64_t hs[64];
    unsigned want = ks.evict_samples < 64 ? ks.evict_samples : 64, got = 0;
    size_t total = ks_count();
    for (int start = 0; start < 16 && got < want && total > 0; start++) {
        const struct table *t;
        size_t i = random_slot(total, &t);
        for (unsigned walked = 0; walked < 1024 && walked <= t->mask && got < want; walked++) {
            uint64_t s = t->slots[i];
            i = (i + 1) & t->mask;
            if (s <= SLOT_TOMB || (vol && !(s & SLOT_TTL)))
                continue;
            bool dup = false;  /* runs from two starts may overlap */
            for (unsigned k = 0; k < got && !dup; k++)
                dup = found[k] == slot_entry(s);
            if (!dup)
                found[got++] = slot_entry(s);
        }
    }
    unsigned live = 0;
    for (unsigned k = 0; k < got; k++) {
        struct entry *e = found[k];
        hs[k] = entry_hash(e);
        struct table *t;
        if (ent_expired(e)) {
            size_t i = cand_slot(e, hs[k], &t);
            if (i != NOPOS)
                *freed += evict_at(t, i, true);
            /* a later sample may have been this entry's neighbour and
             * moved by the shift: it is found again through its hash */
            continue;
        }
        live++;
        uint64_t score = evict_score(e, p);
        if (pick) {
            if (!pick->e || score > pick->score)
                *pick = (struct evict_cand){e, hs[k], score};
        } else {
            pool_insert(e, hs[k], score);
        }
    }
    return live;
}

struct ks_evict_result ks_evict(size_t bytes_to_free, enum ks_evict_policy p)
{
    struct ks_evict_result res = {0, 0};
    if (!ks.ready || p == KS_EVICT_NOEVICTION || (unsigned)p > KS_EVICT_VOLATILE_TTL)
        return res;
    ks_set_evict_policy(p);
    if (ks.pool_policy != p) {
        ks.pool_policy = p;
        ks.pool_n = 0;
    }
    bool random = p == KS_EVICT_ALLKEYS_RANDOM || p == KS_EVICT_VOLATILE_RANDOM;
    int idle_rounds = 0;
    while (res.bytes < bytes_to_free && idle_rounds < 8) {
        if (ks_count() == 0 || (policy_volatile(p) && ks.expires == 0))
            break;
        size_t freed = 0;
        struct evict_cand pick = {NULL, 0, 0};
        unsigned live = evict_sample(p, &freed, random ? &pick : NULL);
        res.bytes += freed;
        struct table *t;
        size_t i = NOPOS;
        if (random) {
            if (pick.e)
                i = cand_slot(pick.e, pick.h, &t);
        } else {
            /* the best candidate still valid; invalid ones are dropped */
            while (ks.pool_n > 0 && i == NOPOS) {
                struct evict_cand c = ks.pool[--ks.pool_n];
                i = cand_slot(c.e, c.h, &t);
                if (i != NOPOS && policy_volatile(p) && !(t->slots[i] & SLOT_TTL))
                    i = NOPOS;  /* persisted since it was sampled */
                if (i != NOPOS && ent_expired(c.e)) {
                    res.bytes += evict_at(t, i, true);
                    i = NOPOS;
                    freed = 1;
                }
            }
        }
        if (i != NOPOS) {
            res.bytes += evict_at(t, i, false);
            res.keys++;
            idle_rounds = 0;
        } else if (freed == 0 && live == 0) {
            idle_rounds++;  /* nothing eligible found: the caller gets OOM */
        }
    }
    maybe_shrink();
    return res;
}

/*
 * ---- compaction glue (the mover is alloc/compact.c) ----
 *
 * alloc/ decides which arenas to evacuate and walks their live blocks;
 * evacuate() decides what each block means. An expired entry is deleted
 * (counted as expired, and the modify hook fires as for any expiry);
 * anything else is copied by alloc_move into another arena of its class
 * and band, the index slot that holds it (found by pointer from the key's
 * hash) is pointed at the copy as ks_repoint does (repoint_at) and the
 * original freed. A move changes nothing a client can see: no modify hook,
 * the access field is copied with the bytes. The copy may land in an arena
 * behind the arena sweep's cursor, so repoint_at notes its expiry. Steps
 * run from the daemon's timer, never between ks_alloc and ks_insert (a
 * pending entry is not in the index and would be counted as a stray and
 * left in place).
 */
static bool evacuate(void *block, void *ctx)
{
    (void)ctx;
    struct entry *e = block;
    uint64_t h = entry_hash(e);
    struct table *t;
    size_t i = find_entry(e, h, &t);
    if (i == NOPOS) {
        ks.kc.strays++;  /* not an indexed entry: leave it */
        return true;
    }
    if (ent_expired(e)) {
        remove_at(t, i, false);
        ks.expired++;
        ks.kc.dropped++;
        return true;
    }
    struct entry *n = alloc_move(block);
    if (!n) {
        ks.kc.move_failures++;
        return false;  /* out of memory: the arena stays partly evacuated */
    }
    repoint_at(t, i, n);
    ks.kc.moved++;
    ks.kc.bytes_moved += alloc_usable(n);
    alloc_free(block);
    return true;
}

void ks_compact_start(const struct alloc_compact_opts *o)
{
    alloc_compact_start(o);
}

bool ks_compact_step(uint64_t budget_us)
{
    if (!ks.ready)
        return false;
    bool more = alloc_compact_step(budget_us, evacuate, NULL);
    maybe_shrink();
    return more;
}

void ks_compact_status(struct alloc_compact_status *st)
{
    alloc_compact_status(st);
}

bool ks_compact_wanted(const struct alloc_compact_opts *o)
{
    return alloc_compact_wanted(o);
}

void ks_compact_abort(void)
{
    alloc_compact_abort();
}

void ks_compact_stats(struct ks_compact_stats *st)
{
    *st = ks.kc;
}

/* ---- pinners (see keyspace.h) ---- */

struct pin_walk {
    ks_pinner_fn fn;
    void *ctx;
    struct ks_pinner p;
    size_t left;
};

static bool pin_visit(void *block, void *vctx)
{
    struct pin_walk *w = vctx;
    struct entry *e = block;
    if (ent_expired(e))
        return true;
    w->p.e = e;
    w->fn(&w->p, w->ctx);
    return --w->left > 0;
}

size_t ks_pinners(size_t n, ks_pinner_fn fn, void *ctx)
{
    if (!ks.ready || n == 0)
        return 0;
    /* every arena listed holds at least one live block: n arenas suffice */
    size_t want = n < 1024 ? n : 1024;
    struct alloc_arena_ref *v = malloc(want * sizeof *v);
    if (!v)
        return 0;
    size_t cnt = alloc_arena_sparsest_n(want, v);
    struct pin_walk w = {.fn = fn, .ctx = ctx, .left = n};
    for (size_t i = 0; i < cnt && w.left > 0; i++) {
        const struct alloc_arena_info *in = &v[i].info;
        w.p = (struct ks_pinner){
            .cls = in->cls,
            .band = in->band,
            .slot_size = in->slot_size,
            .arena_live = in->live,
            .arena_slots = in->slots,
            .arena = in->base,
        };
        alloc_arena_foreach_live(v[i].arena, pin_visit, &w);
    }
    free(v);
    return n - w.left;
}

/* ---- background work ---- */

#define BATCH 256

/* The index sweep (all of it in index mode; in arena mode only for loose
 * entries, see EXPIRY). Returns the number deleted. */
static size_t index_sweep(uint64_t deadline)
{
    size_t deleted = 0;
    while (ks.old.slots) {
        deleted += migrate(4 * BATCH, true);
        if (clock_mono_us() >= deadline)
            return deleted;
    }

    struct table *t = &ks.cur;
    size_t i = ks.exp_cursor & t->mask;
    size_t swept = 0, size = tbl_size(t);
    while (swept < size && ks.expires > 0) {
        for (unsigned n = 0; n < BATCH && swept < size; n++) {
            uint64_t ahead = t->slots[(i + 8) & t->mask];
            if (ahead & SLOT_TTL)
                __builtin_prefetch(slot_entry(ahead));  /* its header, 8 slots on */
            uint64_t s = t->slots[i];
            if (s & SLOT_TTL) {
                struct entry *e = slot_entry(s);
                int64_t exp = ent_expire(e);
                if (exp <= ks.now_ms) {
                    /* the shift may pull a later entry into i: look at i again */
                    remove_at(t, i, false);
                    ks.expired++;
                    deleted++;
                    n += 31;  /* a deletion costs cache misses: at most 8 per clock check */
                    continue;
                }
                if (exp < ks.exp_pass_min && index_covers(e))
                    ks.exp_pass_min = exp;
            }
            i = (i + 1) & t->mask;
            swept++;
            if (i == 0) {  /* a pass is complete */
                ks.exp_floor = ks.exp_pass_min;
                ks.exp_pass_min = INT64_MAX;
            }
        }
        if (clock_mono_us() >= deadline)
            break;
    }
    ks.exp_cursor = i;
    return deleted;
}

#define SWEEP_BATCH 16

struct sweep_ctx {
    uintptr_t resume;    /* skip blocks below this address (already visited) */
    uintptr_t stopped;   /* where the walk ran out of time, or 0 */
    uint64_t deadline;
    int64_t *pmin;       /* the walked pair's minimum */
    size_t visited;
    size_t deleted;
    unsigned work;       /* since the last clock check: 1 per block, 16 per deletion */
    unsigned nb;         /* expired entries waiting in batch */
    struct entry *batch[SWEEP_BATCH];
    uint64_t bh[SWEEP_BATCH];
};

/* Prefetches the index line of hash h and the entries in the slots from
 * there on (a backward shift hashes them). */
static inline void prefetch_slot(uint64_t h)
{
    const struct table *t = &ks.cur;
    __builtin_prefetch(&t->slots[h & t->mask]);
}

static inline void prefetch_run(uint64_t h)
{
    const struct table *t = &ks.cur;
    size_t i = h & t->mask;
    for (int n = 0; n < 3; n++, i = (i + 1) & t->mask) {
        uint64_t s = t->slots[i];
        if (s == 0)
            break;
        if (s > SLOT_TOMB)
            __builtin_prefetch(slot_entry(s));
    }
}

/* Deletes the batched expired entries: their index lines were prefetched
 * when they were batched, the entries their deletion will shift are
 * prefetched a few deletions ahead. */
static void sweep_flush(struct sweep_ctx *c)
{
    for (unsigned k = 0; k < c->nb; k++) {
        if (k + 4 < c->nb)
            prefetch_run(c->bh[k + 4]);
        struct table *t;
        size_t i = find_entry(c->batch[k], c->bh[k], &t);
        if (i == NOPOS)
            continue;  /* not in the index: cannot happen (nothing else
                        * allocates in arenas while a cycle runs, and a pending
                        * ks_alloc entry cannot coexist with a cycle) */
        remove_at(t, i, false);
        ks.expired++;
        c->deleted++;
    }
    c->nb = 0;
}

static bool sweep_visit(void *block, void *vctx)
{
    struct sweep_ctx *c = vctx;
    if ((uintptr_t)block < c->resume)
        return true;
    c->visited++;
    if (++c->work >= 64) {
        c->work = 0;
        if (clock_mono_us() >= c->deadline) {
            c->stopped = (uintptr_t)block;
            return false;
        }
    }
    struct entry *e = block;
    if (!(e->flags & EF_TTL))
        return true;
    int64_t exp = ent_expire(e);
    if (exp > ks.now_ms) {
        if (exp < *c->pmin)
            *c->pmin = exp;
        return true;
    }
    uint64_t h = entry_hash(e);
    prefetch_slot(h);
    c->batch[c->nb] = e;
    c->bh[c->nb++] = h;
    if (c->nb == SWEEP_BATCH)
        sweep_flush(c);
    c->work += 16;  /* cache misses in the index: check the clock sooner */
    return true;
}

/* The arena of (cls, band) with the lowest base >= from, or NULL. A walk of
 * the class's arena list (headers only): arenas are big, so this is small
 * next to the slots of the arena it picks. */
static struct alloc_arena *sweep_pick(unsigned cls, unsigned band, uintptr_t from, uintptr_t *base)
{
    struct alloc_arena *best = NULL;
    uintptr_t best_base = UINTPTR_MAX;
    for (struct alloc_arena *a = alloc_arena_first(cls); a; a = alloc_arena_next(a)) {
        struct alloc_arena_info in;
        alloc_arena_info(a, &in);
        uintptr_t b = (uintptr_t)in.base;
        if (in.band == band && b >= from && b < best_base) {
            best = a;
            best_base = b;
        }
    }
    *base = best_base;
    return best;
}

static void sweep_next_pair(void)
{
    ks.aw_walking = false;
    ks.aw_base = 0;
    ks.aw_resume = 0;
    if (++ks.aw_band == ALLOC_BANDS) {
        ks.aw_band = 0;
        ks.aw_cls++;
    }
}

/* Lexicographic order of sweep positions (class, band, arena base). */
static inline bool sweep_after(unsigned c, unsigned b, uintptr_t base, unsigned c0, unsigned b0, uintptr_t base0)
{
    if (c != c0)
        return c > c0;
    if (b != b0)
        return b > b0;
    return base > base0;
}

/*
 * The arena sweep (see EXPIRY): visits the (class, band) pairs in order and
 * walks a pair only when its floor says an entry in it may be due: then,
 * by increasing arena address, the live blocks of its arenas, deleting the
 * expired ones; at the end of the walk the pair's floor becomes the
 * minimum the walk collected. Pairs that hold no TTL entry keep an infinite
 * floor and cost nothing: with lifetime segregation that is every band-0
 * pair (entries without TTL), which is most of a typical keyspace, and
 * the long-TTL bands are skipped until their earliest expiry comes. This
 * is what segregation buys the sweep, besides arenas that empty all at
 * once. One call goes at most once round: from its cursor to the end and,
 * if it did not start at the beginning, on from there to where it started
 * (so that a call with ample budget leaves nothing expired behind).
 */
static size_t arena_sweep(uint64_t deadline)
{
    struct sweep_ctx c = {.deadline = deadline};
    unsigned ncls = alloc_class_count();
    if (ncls > KS_SWEEP_CLASSES)
        ncls = KS_SWEEP_CLASSES;
    unsigned start_cls = ks.aw_cls, start_band = ks.aw_band;
    uintptr_t start_base = ks.aw_base;
    bool fresh = start_cls == 0 && start_band == 0 && !ks.aw_walking;
    bool wrapped = false;
    for (;;) {
        if (ks.aw_cls >= ncls) {  /* once round: the floors are all fresh */
            int64_t f = INT64_MAX;
            for (unsigned cl = 0; cl < ncls; cl++) {
                for (unsigned b = 0; b < ALLOC_BANDS; b++)
                    f = ks.pfloor[cl][b] < f ? ks.pfloor[cl][b] : f;
            }
            ks.aw_floor = f;
            ks.aw_cls = ks.aw_band = 0;
            ks.aw_walking = false;
            ks.aw_base = ks.aw_resume = 0;
            if (fresh || wrapped)
                break;
            wrapped = true;
        }
        if (wrapped && sweep_after(ks.aw_cls, ks.aw_band, ks.aw_base, start_cls, start_band, start_base))
            break;
        unsigned cl = ks.aw_cls, b = ks.aw_band;
        if (!ks.aw_walking) {
            if (ks.pfloor[cl][b] > ks.now_ms) {
                sweep_next_pair();  /* nothing can be due in this pair */
                continue;
            }
            ks.aw_walking = true;
            ks.pmin[cl][b] = INT64_MAX;
            ks.aw_base = ks.aw_resume = 0;
        }
        uintptr_t base;
        struct alloc_arena *a = sweep_pick(cl, b, ks.aw_base, &base);
        if (!a) {  /* the pair's walk is complete */
            ks.pfloor[cl][b] = ks.pmin[cl][b];
            sweep_next_pair();
            continue;
        }
        if (base != ks.aw_base) {
            ks.aw_base = base;
            ks.aw_resume = 0;
        }
        c.resume = ks.aw_resume;
        c.stopped = 0;
        c.pmin = &ks.pmin[cl][b];
        ks.aw_arenas++;
        size_t before = c.visited;
        alloc_arena_foreach_live(a, sweep_visit, &c);
        sweep_flush(&c);
        ks.aw_blocks += c.visited - before;
        if (c.stopped) {
            ks.aw_resume = c.stopped;
            break;
        }
        ks.aw_base = base + 1;
        ks.aw_resume = 0;
        if (clock_mono_us() >= deadline)
            break;
    }
    return c.deleted;
}

size_t ks_expire_cycle(uint64_t budget_us)
{
    if (!ks.ready || ks.expires == 0)
        return 0;
    if (budget_us == KS_EXPIRE_BUDGET_AUTO)
        budget_us = ks.cycle_us;
    /* effort 1..10 scales the budget 1x..4x (huge budgets: "no limit",
     * clamped so that the deadline cannot wrap) */
    if (budget_us > ((uint64_t)1 << 40))
        budget_us = (uint64_t)1 << 40;
    budget_us = budget_us * (ks.effort + 2) / 3;
    bool index_due = ks.now_ms >= ks.exp_floor;
    bool arena_due = ks.sweep == KS_SWEEP_ARENAS && ks.now_ms >= ks.aw_floor;
    if (!index_due && !arena_due)
        return 0;
    uint64_t deadline = clock_mono_us() + budget_us;
    size_t deleted = 0;
    if (arena_due)
        deleted += arena_sweep(deadline);
    /* in arena mode the index sweep has only loose entries to look after,
     * and gets what the arenas left of the budget */
    if (index_due && ks.expires > 0 && (ks.sweep == KS_SWEEP_INDEX || clock_mono_us() < deadline))
        deleted += index_sweep(deadline);
    maybe_shrink();
    return deleted;
}

void ks_expire_stats(struct ks_expire_stats *st)
{
    st->arenas_walked = ks.aw_arenas;
    st->blocks_walked = ks.aw_blocks;
    st->arena_floor = ks.aw_floor;
    st->index_floor = ks.exp_floor;
}

void ks_cron(uint64_t budget_us)
{
    if (!ks.ready)
        return;
    maybe_shrink();
    if (!ks.old.slots)
        return;
    uint64_t deadline = clock_mono_us() + budget_us;
    do {
        migrate(4 * BATCH, true);
    } while (ks.old.slots && clock_mono_us() < deadline);
}

/* ---- stats and verification ---- */

size_t ks_used_memory(void)
{
    return alloc_live_bytes() + index_slots() * sizeof(uint64_t);
}

void ks_stats(struct ks_stats *st)
{
    memset(st, 0, sizeof *st);
    st->keyspace_hits = ks.hits;
    st->keyspace_misses = ks.misses;
    st->expired_keys = ks.expired;
    st->evicted_keys = ks.evicted;
    st->keys = ks_count();
    st->expires = ks.expires;
    st->index_slots = index_slots();
    st->index_bytes = st->index_slots * sizeof(uint64_t);
    st->rehashing = ks.old.slots != NULL;
}

void ks_stats_reset(void)
{
    ks.hits = ks.misses = ks.expired = ks.evicted = 0;
}

/* A failed check of ks_verify: says which on stderr (a fuzzer or test that
 * sees ks_verify fail then knows what broke), evaluates to false. */
#define VFAIL(...) (fprintf(stderr, "ks_verify: " __VA_ARGS__), fputc('\n', stderr), false)

/* The arena sweep's bounds hold for in-arena TTL entry e (in slot i): the
 * flags name its arena's band and class, its expiry is at or above the
 * global floor and its pair's floor, and at or above the pair's walk
 * minimum if the walk is past e. */
static bool verify_arena_expiry(const struct entry *e, int64_t exp, size_t i)
{
    const struct alloc_arena *a = alloc_arena_of(e);
    if (!a)
        return VFAIL("slot %zu: entry %p flagged in an arena but large", i, (const void *)e);
    struct alloc_arena_info in;
    alloc_arena_info(a, &in);
    unsigned c = ent_class(e), b = ent_band(e);
    if (in.band != b || in.cls != c)
        return VFAIL("slot %zu: entry %p flagged class %u band %u, in an arena of class %u band %u",
                     i, (const void *)e, c, b, in.cls, in.band);
    if (exp < ks.aw_floor)
        return VFAIL("slot %zu: entry %p expires at %lld, below the arena floor %lld (now %lld)",
                     i, (const void *)e, (long long)exp, (long long)ks.aw_floor, (long long)ks.now_ms);
    if (exp < ks.pfloor[c][b])
        return VFAIL("slot %zu: entry %p expires at %lld, below the floor %lld of pair (%u, %u) "
                     "(now %lld)", i, (const void *)e, (long long)exp, (long long)ks.pfloor[c][b],
                     c, b, (long long)ks.now_ms);
    uintptr_t base = (uintptr_t)in.base;
    bool passed = ks.aw_walking && c == ks.aw_cls && b == ks.aw_band &&
                  (base < ks.aw_base || (base == ks.aw_base && (uintptr_t)e < ks.aw_resume));
    if (passed && exp < ks.pmin[c][b])
        return VFAIL("slot %zu: entry %p expires at %lld, behind the arena sweep of pair (%u, %u) "
                     "but below its walk minimum %lld (now %lld)", i, (const void *)e,
                     (long long)exp, c, b, (long long)ks.pmin[c][b], (long long)ks.now_ms);
    return true;
}

static bool verify_table(const struct table *t, bool is_old, size_t *ttl)
{
    const char *tn = is_old ? "old" : "cur";
    size_t used = 0, empty = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        uint64_t s = t->slots[i];
        if (s == 0) {
            empty++;
            continue;
        }
        if (s == SLOT_TOMB) {
            if (!is_old)
                return VFAIL("%s slot %zu: tombstone in the active table", tn, i);
            continue;
        }
        if (is_old && i < ks.mig)
            return VFAIL("old slot %zu: entry behind the migration cursor %zu", i, ks.mig);
        struct entry *e = slot_entry(s);
        if (((uintptr_t)e & 7) || e->flags & ~EF_ALL)
            return VFAIL("%s slot %zu: bad entry %p (flags %#x)", tn, i, (const void *)e,
                         (unsigned)((uintptr_t)e & 7 ? 0 : e->flags));
        if ((e->flags & EF_LONGKEY) ? ent_klen(e) <= UINT8_MAX : e->klen8 != ent_klen(e))
            return VFAIL("%s slot %zu: entry %p key length encoding", tn, i, (const void *)e);
        if (e->vlen > KS_MAX_VAL_LEN)
            return VFAIL("%s slot %zu: entry %p value length %u", tn, i, (const void *)e,
                         (unsigned)e->vlen);
        uint64_t h = entry_hash(e);
        if (make_slot(e, h) != s)
            return VFAIL("%s slot %zu: tag or TTL bit stale (slot %#llx, entry %p)", tn, i,
                         (unsigned long long)s, (const void *)e);
        /* reachable: the lookup from its home lands exactly here */
        size_t klen;
        const char *key = entry_key(e, &klen);
        if (tbl_find(t, h, key, klen) != i)
            return VFAIL("%s slot %zu: entry %p not reachable from its home %zu", tn, i,
                         (const void *)e, (size_t)(h & t->mask));
        /* in at most one table */
        if (is_old && tbl_find(&ks.cur, h, key, klen) != NOPOS)
            return VFAIL("old slot %zu: key also in the active table", i);
        used++;
        if (s & SLOT_TTL) {
            (*ttl)++;
            /* the expiry floor bounds every expiry; entries behind the
             * sweep cursor are accounted in the current pass */
            int64_t exp = ent_expire(e);
            if (index_covers(e)) {
                if (exp < ks.exp_floor)
                    return VFAIL("%s slot %zu: entry %p expires at %lld, below the index floor "
                                 "%lld (now %lld)", tn, i, (const void *)e, (long long)exp,
                                 (long long)ks.exp_floor, (long long)ks.now_ms);
                if (!is_old && i < ks.exp_cursor && exp < ks.exp_pass_min)
                    return VFAIL("cur slot %zu: entry %p expires at %lld, behind the index sweep "
                                 "cursor %zu but below the pass minimum %lld (now %lld)", i,
                                 (const void *)e, (long long)exp, ks.exp_cursor,
                                 (long long)ks.exp_pass_min, (long long)ks.now_ms);
            }
            if (ks.sweep == KS_SWEEP_ARENAS && !(e->flags & EF_LOOSE) &&
                !verify_arena_expiry(e, exp, i))
                return false;
        }
    }
    if (used != t->used)
        return VFAIL("%s: %zu entries found, %zu counted", tn, used, t->used);
    if (empty == 0)
        return VFAIL("%s: no empty slot", tn);
    if (!is_old && used > hard_cap(t->mask + 1))
        return VFAIL("cur: %zu entries, over the hard cap of %zu slots", used, t->mask + 1);
    return true;
}

bool ks_verify(void)
{
    if (!ks.ready)
        return VFAIL("not set up");
    size_t ttl = 0;
    if (!verify_table(&ks.cur, false, &ttl))
        return false;
    if (ks.old.slots) {
        if (ks.old.used == 0)
            return VFAIL("old table kept with no entries");
        if (!verify_table(&ks.old, true, &ttl))
            return false;
    } else if (ks.old.used != 0) {
        return VFAIL("no old table but %zu entries counted in it", ks.old.used);
    }
    if (ttl != ks.expires)
        return VFAIL("%zu TTL slots found, %zu counted", ttl, ks.expires);
    return true;
}
