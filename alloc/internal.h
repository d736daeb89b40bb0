/*
 * alloc/internal.h: the private half of alloc/, shared by its source files
 * and by nothing else (alloc.h is the whole public API).
 *
 * It holds the types every file works on (the arena header, the large-block
 * header, a size class, the lists of a (class, band) pair and the one global
 * state), the inline helpers that the hot alloc/free path and the mover
 * share (so that splitting the files cost no call on that path), the
 * assertion tiers, and the internal functions grouped by the file that
 * defines them.
 *
 * Files (each opens with what it holds and why)
 *   os.c       the OS layer: aligned mmap, purge, munmap; failure injection;
 *              RSS; alloc_panic
 *   class.c    the size classes: the class rule, the layout of an arena of
 *              each class, the request -> class lookup; and what they are
 *              derived from: options, alloc_setup, the global state
 *   teardown.c alloc_teardown (above every other file: it undoes them all)
 *   arena.c    placement and alloc/free: occupancy buckets, spares and the
 *              retained pool, large blocks, pinning; arena numbers and
 *              alloc_handle
 *   stats.c    alloc_stats, per-class statistics, arena introspection and
 *              listings
 *   compact.c  the mover: alloc_move and the compaction state machine
 *   verify.c   alloc_verify
 *
 * Glossary
 *   arena   one mmap'd region of arena_size bytes (a power of two), aligned
 *           to its own size, holding a header followed by equal slots of one
 *           size class. Alignment means the header of any block's arena is
 *           found by masking the block pointer (plus a colour offset that is
 *           a hash of the masked address, see header_of_base()): no lookup
 *           table, no per-block header.
 *   class   a slot size. Requests are rounded up to the nearest class.
 *   band    the caller's lifetime hint (ALLOC_BANDS of them). Every arena
 *           belongs to exactly one (class, band) pair, so blocks that are
 *           expected to die together share arenas and whole arenas empty out.
 *   bucket  occupancy bucket of an arena within its (class, band):
 *           bucket b holds arenas with floor(live * 8 / slots) == b, and a
 *           separate "full" list holds arenas with no free slot.
 *   large   a request above the large threshold (arena_size / 8): it gets an
 *           aligned mapping of its own with a 64-byte header at the same
 *           coloured offset, so the same computation finds that header too
 *           and its magic number tells the two apart; munmapped on free.
 *
 * Arena layout
 *   [colour gap][struct alloc_arena][metadata groups]
 *   [pad to 64, room for the largest colour][slots]
 *   A metadata group covers 64 slots: one 64-bit word of the live bitmap,
 *   then 64 slack fields, padded to whole cache lines. A slack field holds
 *   slot size minus requested size, in the narrowest width that holds a
 *   class step (4 bits up to 16-byte steps, then 8, 16 or 32 bits): that is
 *   what makes "requested live bytes" exact without a per-block header.
 *   free touches both a slot's bitmap bit and its slack field; in one line
 *   (always for classes up to 128 bytes, for 7 slots in 8 up to 2 KiB)
 *   they cost one cache miss instead of two when the working set is large,
 *   which measured as a fifth of the time per operation. The padding costs
 *   3 to 7 bits per slot. A free slot holds the free-list link in its
 *   first 8 bytes. Slots [0, bumped) have been handed out at least once;
 *   [bumped, slots) have never been touched, so a fresh arena needs no
 *   initialisation pass and its untouched pages are never faulted in.
 *
 * Invariants (checked by alloc_verify, verify.c)
 *   live == popcount(bitmap); bitmap bits at or beyond bumped are 0;
 *   free-list length == bumped - live, every link on a slot boundary below
 *   bumped with its bitmap bit clear; live >= 1 for every active arena
 *   (an arena that empties is retired at once, unless a live-slot walk has
 *   it pinned); bucket == floor(live * 8 / slots) or full, and the arena is
 *   on that bucket's list unless pinned; retained arenas are empty, and
 *   only the DIRTY_MAX most recent have touched pages; the
 *   per-class (and per-band) counters equal the sums over the arenas and
 *   the slack arrays. Pages (asked of the OS with mincore): no page wholly
 *   above an arena's bump pointer is resident, except those a pack has
 *   still to purge, and the page where each live block starts is; so no
 *   purge took a live block's page. An arena being packed (FLAG_PACK) has
 *   a stale free list and is the mover's current arena. Mover: an arena is
 *   slated (FLAG_MOVER, always with FLAG_BUSY) iff it is on the plan list
 *   or is the one being evacuated or packed, all of the (class, band) under
 *   the run's cursor; a running mover's cursor
 *   is past its last pair only while its emptied arenas are still being
 *   released (nothing slated then); nothing is slated and no arena is
 *   waiting to be released between runs; arenas done <= planned. Every
 *   mapped arena (active, retained, releasing) holds the number whose
 *   alloc_hmap entry is its base; every other number below numbers_end
 *   is on the free list.
 *
 * Not thread-safe: one event-loop thread calls everything.
 */
#pragma once

#include "alloc/alloc.h"
#include "alloc/list.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef CD_ASSERT_LEVEL
#define CD_ASSERT_LEVEL 0
#endif

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ARENA_MAGIC 0xa7e4a5c1u
#define LARGE_MAGIC 0x1a76eb1cu
#define NB ALLOC_OCC_BUCKETS          /* occupancy buckets; index NB is "full" */
#define FULL NB
#define LINEAR_MAX 128                /* 8-byte steps up to here */
#define LINEAR_CLASSES (LINEAR_MAX / 8)
#define LUT_MAX 1024                  /* byte-table lookup up to here */
#define SLOT_ALIGN 64                 /* slot area start: a cache line */
#define LARGE_HDR 64
#define GEO_STEPS 16                  /* geometric classes per doubling */
#define GEO_SHIFT 4                   /* log2(GEO_STEPS) */
/* the largest arena (2^30) has classes up to 2^27: doublings 2^7 .. 2^27 */
#define MAX_CLASSES (LINEAR_CLASSES + GEO_STEPS * (30 - 10))

#define FLAG_BUSY 1u                  /* pinned: off the bucket lists, never retired */
#define FLAG_MOVER 2u                 /* pinned by the compaction mover (with FLAG_BUSY) */
#define FLAG_PACK 4u                  /* being packed by the mover (with FLAG_MOVER): its free
                                         list is stale until the pack rebuilds it (compact.c) */

/* os.c: prints what and p, then aborts. */
__attribute__((noreturn, cold)) void alloc_panic(const char *what, const void *p);

/*
 * Assertion tiers, chosen at build time by CMake's COMPACTD_ASSERT_LEVEL
 * (CD_ASSERT_LEVEL: 0 for Release, 2 for Debug and sanitizer builds):
 *   always     alloc_panic: misuse that alloc detects cheaply (a double
 *              free, a pointer that is not a block) aborts in every build.
 *   level 1    A_ASSERT(x): cheap internal checks, the hot path included.
 *   level 2    A_VERIFY(where): the whole of alloc_verify, aborting if an
 *              invariant is broken, at the boundaries where every invariant
 *              must hold and whose rate is bounded: each compaction step,
 *              the start and end of a run, setup and MEMORY PURGE. Never
 *              per alloc/free, nor per live-slot walk (the keyspace's expiry
 *              sweep walks an arena or more every cycle): it walks every
 *              arena, and the Debug/ASan suites must stay fast (measured:
 *              a verify per walk made the keyspace suites three times
 *              slower).
 */
#if CD_ASSERT_LEVEL >= 1
#define A_ASSERT(x) ((x) ? (void)0 : alloc_panic("assertion failed: " #x, NULL))
#else
#define A_ASSERT(x) ((void)0)
#endif

#if CD_ASSERT_LEVEL >= 2
#define A_VERIFY(where) \
    (alloc_verify() ? (void)0 : alloc_panic("alloc_verify failed " where, NULL))
#else
#define A_VERIFY(where) ((void)0)
#endif

/* The first cache line holds everything alloc and free read, copied from
 * the class where needed, so that free's chain of dependent loads is just
 * header -> bitmap word. The metadata groups start right after the header
 * (ARENA_HDR_SIZE), group_bytes apart. */
struct alloc_arena {
    uint32_t magic;
    uint16_t cls;              /* up to MAX_CLASSES (336) */
    uint8_t band;
    uint8_t bucket;            /* 0..NB-1, FULL, or RETAINED */
    uint8_t flags;
    uint32_t live;
    uint32_t bumped;           /* slots [0, bumped) have been handed out once */
    uint32_t slot_size;
    uint32_t nslots;
    uint32_t group_bytes;      /* one bitmap word + 64 slack fields, padded to cache lines */
    uint32_t slack_log;        /* log2 of the slack field width */
    void *free_head;
    char *slots;
    uint64_t recip;            /* ceil(2^64 / slot_size) */
    /* second line: list links, touched only when lists change */
    struct alloc_arena *bprev, *bnext;  /* bucket list of (cls, band), or its spare list */
    struct alloc_arena *cprev, *cnext;  /* every non-empty arena of cls */
    struct alloc_arena *eprev, *enext;  /* LRU list of retained arenas */
    uint32_t number;           /* its number in alloc_hmap (alloc_handle), for as long as
                                  it is mapped */
    uint32_t purged_top;       /* bumped before the last pack lowered it: the pages
                                  between the two were returned (introspection) */
};

#define ARENA_HDR_SIZE 128
_Static_assert(sizeof(struct alloc_arena) <= ARENA_HDR_SIZE, "arena header");
_Static_assert(offsetof(struct alloc_arena, bprev) <= 64, "hot fields in one line");

struct large {
    uint32_t magic;
    uint32_t pad;
    size_t size;               /* requested */
    size_t map_size;
    size_t usable;
    struct large *prev, *next;
};

struct size_class {
    uint32_t size;
    uint32_t nslots;
    uint32_t slack_bits;       /* 4, 8, 16 or 32 */
    uint32_t slack_log;        /* log2(slack_bits) */
    uint32_t thr[NB + 1];      /* live >= thr[b+1]: leave bucket b upwards; live < thr[b]: downwards */
    uint64_t recip;            /* ceil(2^64 / size): offset -> index by multiplication */
    size_t group_bytes, slots_off;
    size_t arenas, live_bytes;
    size_t blive[ALLOC_BANDS];  /* live blocks per band (the class's live count is
                                   their sum): free and alloc update the one of
                                   their arena's band, so the mover has per-pair
                                   counts at no extra cost on those paths */
    size_t bbumped[ALLOC_BANDS];  /* the bump pointers of a band's arenas summed:
                                     bbumped - blive is the pair's free slots
                                     below them, what packing returns, kept as
                                     they move so that no status walks arenas */
    struct alloc_arena *all;
};

struct band_lists {
    uint32_t nonempty;         /* bit b: head[b] != NULL, for b < NB */
    uint32_t narenas;
    struct alloc_arena *head[NB + 1];
    struct alloc_arena *spare;  /* retained empty arenas of this pair */
};

/* Everything alloc knows, in one instance (alloc_g): set by alloc_setup,
 * zeroed by alloc_teardown. The mover's own state is private to compact.c. */
struct alloc_state {
    bool ready;
    struct alloc_options opt;  /* in force: alloc_setup's, and alloc_options_apply's
                                  for the run-time changeable rows */
    uintptr_t mask;
    unsigned shift;            /* log2(arena_size) */
    uintptr_t color_mask;      /* colours - 1 */
    size_t color_max;          /* largest header offset */
    size_t large_max;
    size_t page;
    unsigned nclasses;
    uint8_t lut[LUT_MAX / 8 + 1];
    struct size_class cls[MAX_CLASSES];
    struct band_lists bl[MAX_CLASSES][ALLOC_BANDS];
    struct alloc_arena *lru_head, *lru_tail;
    size_t nretained;
    /* arenas the mover emptied, being returned to the OS a slice at a time
     * (purge, then munmap), linked through enext; rel_off is how far the
     * head has been purged */
    struct alloc_arena *rel_head, *rel_tail;
    size_t nreleasing, rel_off;
    size_t narenas;
    struct large *large;
    size_t nlarge, large_mapped, large_usable;
    /* requested bytes of every live block, small and large: kept as it goes
     * so that used-memory checks (maxmemory, on every command) are O(1) */
    size_t live_bytes;
    uint64_t frees;            /* alloc_free calls: the owner's activity, for a quiet trigger */
    uint64_t failures, maps, unmaps, purges;
    /* arena numbers (alloc_handle): 1 .. numbers_end - 1 have been given;
     * the free ones are linked through their alloc_hmap.base entries (odd
     * values: next << 1 | 1), number_free the first or 0 */
    uint32_t numbers_cap, numbers_end, number_free;
    long fail_after;
};

extern struct alloc_state alloc_g;   /* defined in class.c */

/* ------------------------------------------------------- internal functions */

/* os.c: the OS layer. */
void *os_map_aligned(size_t size);          /* aligned to arena_size; NULL + ENOMEM */
void os_unmap(void *p, size_t size);        /* panics if munmap fails */
void os_purge(void *p, size_t size);        /* MADV_DONTNEED; failure only leaves pages */
/* The mover's calls, through the reclaimer thread when release_thread is
 * set (else made in place): os_release queues one (unmap, or purge), to be
 * called only when os_release_room says the queue has room; start: the
 * thread begins on what is queued (a step's end; wait and drain start it
 * too); idle: every queued call is done; wait: a step with budget left
 * waits for the thread rather than spin; drain waits until idle; pending
 * bytes: of queued unmaps, still mapped; setup starts the thread (at
 * alloc_setup); stop drains and ends it (teardown). */
void os_release(void *p, size_t size, bool unmap);
void os_release_setup(void);
bool os_release_room(void);
void os_release_start(void);
bool os_release_idle(void);
void os_release_wait(uint64_t us);          /* until one more call is done, or us pass */
void os_release_drain(void);
size_t os_release_pending_bytes(void);
void os_release_stop(void);
/* mincore: bit 0 of vec[i] says whether page i of [p, p + size) is
 * resident (p page-aligned); false if the OS would not say. For alloc_verify. */
bool os_residency(const void *p, size_t size, unsigned char *vec);

/* class.c: size classes and arena layout per class. */
size_t class_size(unsigned i);              /* slot size of class i, by the class rule */
unsigned class_of_slow(size_t size);        /* smallest class >= size, any small size */
size_t layout_end(const struct size_class *c, size_t n, size_t *slots_off);
void class_init(unsigned i);                /* fills alloc_g.cls[i] for the arena size */
size_t class_live(const struct size_class *c);                 /* sum of blive */
void class_range(int cls, unsigned *from, unsigned *to);       /* classes a filter selects */

void ensure_ready(void);                    /* alloc_setup(NULL) unless set up */

/* arena.c: placement, alloc/free, retention, large blocks. */
void rebucket(struct size_class *c, struct alloc_arena *a);   /* live crossed a boundary */
void retained_release_all(void);            /* unmaps the retained arenas, no check */
size_t arena_purge(struct alloc_arena *a);  /* purges a's touched slot pages (returns the
                                               bytes): bumped 0, free list empty */
void arena_unlink_empty(struct size_class *c, struct alloc_arena *a, bool release);
struct alloc_arena *arena_new(unsigned ci, unsigned band);    /* spare or new; NULL */
void arena_unmap(struct alloc_arena *a);    /* takes its number back, munmaps it */
void arena_number_put(struct alloc_arena *a);  /* takes its number back (it is going) */
void *large_alloc(size_t size);             /* counts a failure and sets errno itself */

/* compact.c: the mover. */
void mover_reset(void);                     /* forgets every run (teardown) */
size_t release_all(void);                   /* unmaps the release queue; returns arenas */
/* The end of the pages a's pack has still to purge (above its lowered bump
 * pointer, resident until then), or 0: for verify_pages. */
uintptr_t mover_purge_end(const struct alloc_arena *a);
bool verify_mover(size_t slated);           /* alloc_verify's check of the mover's state */

/* verify.c: alloc_verify. CHECK is its (and verify_mover's) one check: it
 * reports the broken condition on stderr and makes the caller return false. */
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "alloc_verify: %s: ", #cond);                    \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            return false;                                                    \
        }                                                                    \
    } while (0)

/* ------------------------------------------------------------- colouring */

/*
 * Arena bases are all aligned to arena_size, so headers placed at the base
 * would all fall into the same cache sets and evict each other (measured:
 * with 40 arenas in use an alloc/free pair took 1.8 times as long). The
 * header of the mapping at base
 * therefore sits at base + colour, where the colour is a hash of the base
 * address, not stored anywhere: one multiply finds it.
 */
static inline uintptr_t base_of(const void *p)
{
    return (uintptr_t)p & alloc_g.mask;
}

static inline void *header_of_base(uintptr_t base)
{
    uintptr_t h =
        (uintptr_t)((((uint64_t)(base >> alloc_g.shift)) * 0x9e3779b97f4a7c15ull) >> 40);
    return (void *)(base + (h & alloc_g.color_mask) * 64);
}

static inline struct alloc_arena *arena_of_ptr(const void *p)
{
    return header_of_base(base_of(p));
}

/* ------------------------------------------------------------ size classes */

/* For LINEAR_MAX < size: the smallest class >= size. */
static inline unsigned class_of_geometric(size_t size)
{
    size_t n = size - 1;
    unsigned e = 63u - (unsigned)__builtin_clzll((unsigned long long)n);
    return LINEAR_CLASSES + (e - 7) * GEO_STEPS + (unsigned)((n >> (e - GEO_SHIFT)) & (GEO_STEPS - 1));
}

static inline size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

/* ------------------------------------------------------------------- lists */

/* An arena is on at most one list threaded through bprev/bnext: a bucket
 * list, its pair's spare list or the mover's plan. */
LIST_DEFINE(blist, struct alloc_arena, bprev, bnext)
/* every non-empty arena of a class (size_class.all), no tail */
LIST_DEFINE(clist, struct alloc_arena, cprev, cnext)
/* the retained arenas, most recently emptied first (lru_head, lru_tail) */
LIST_DEFINE(elist, struct alloc_arena, eprev, enext)
/* the large blocks (alloc_state.large), no tail */
LIST_DEFINE(large_list, struct large, prev, next)

static inline void bucket_push(struct band_lists *bl, unsigned b, struct alloc_arena *a)
{
    blist_push(&bl->head[b], NULL, a);
    a->bucket = (uint8_t)b;
    if (b < NB)
        bl->nonempty |= 1u << b;
}

static inline void bucket_remove(struct band_lists *bl, struct alloc_arena *a)
{
    unsigned b = a->bucket;
    blist_unlink(&bl->head[b], NULL, a);
    if (b < NB && bl->head[b] == NULL)
        bl->nonempty &= ~(1u << b);
}

static inline unsigned bucket_of(const struct size_class *c, uint32_t live)
{
    if (live >= c->nslots)
        return FULL;
    return (unsigned)((uint64_t)live * NB / c->nslots);
}

/* ------------------------------------------------------------ slot helpers */

static inline uint32_t slot_index(const struct alloc_arena *a, size_t off)
{
    return (uint32_t)(((unsigned __int128)off * a->recip) >> 64);
}

/*
 * Metadata is interleaved in groups of 64 slots: [live bitmap word][64 slack
 * fields], so that the bitmap word and the slack field of a slot usually
 * share a cache line (free touches both; with them apart, a large working
 * set pays a second cache miss per operation).
 */
static inline uint64_t *bm_word(const struct alloc_arena *a, uint32_t w)
{
    return (uint64_t *)(void *)((char *)a + ARENA_HDR_SIZE + (size_t)w * a->group_bytes);
}

/* Slack fields are 4, 8, 16 or 32 bits and never straddle a 64-bit word, so
 * one branch-free word access serves every width (a switch on the width
 * mispredicts when classes interleave). */
static inline uint64_t *slack_word(const struct alloc_arena *a, uint32_t i, unsigned *sh)
{
    uint64_t bit = (uint64_t)(i & 63) << a->slack_log;
    *sh = (unsigned)(bit & 63);
    return bm_word(a, i >> 6) + 1 + (bit >> 6);
}

static inline void slack_set(struct alloc_arena *a, uint32_t i, uint32_t v)
{
    unsigned sh;
    uint64_t *w = slack_word(a, i, &sh);
    uint64_t mask = ~(uint64_t)0 >> (64 - (1u << a->slack_log));
    *w = (*w & ~(mask << sh)) | ((uint64_t)v << sh);
}

static inline uint32_t slack_get(const struct alloc_arena *a, uint32_t i)
{
    unsigned sh;
    const uint64_t *w = slack_word(a, i, &sh);
    uint64_t mask = ~(uint64_t)0 >> (64 - (1u << a->slack_log));
    return (uint32_t)((*w >> sh) & mask);
}

/* ------------------------------------------------------------------ arenas */

/* Retained arenas (see arena.c): at most DIRTY_MAX of them keep their
 * touched pages; RETAINED is the bucket value of a retained arena. */
#define DIRTY_MAX 2
#define RETAINED (FULL + 1)   /* bucket value of a retained arena */

/* Takes a slot of arena a (which has one free) for a block of size bytes:
 * most of alloc_block, and alloc_move's destination (arena.c). */
void *arena_take(struct size_class *c, struct alloc_arena *a, size_t size);
/* Marks free slot idx (< bumped, off the free list or the list stale) live
 * for a block of size bytes: the second half of arena_take, and the mover's
 * packing destination (compact.c). */
void *arena_take_slot(struct size_class *c, struct alloc_arena *a, uint32_t idx, size_t size);

/* Pages of a's slot area that hold or held a slot below bumped: the pages
 * from round_up(slots + bumped * slot_size) to the arena's end are never
 * resident (alloc_verify checks it with mincore). */
static inline uintptr_t touched_end(const struct alloc_arena *a, size_t bumped)
{
    return round_up((uintptr_t)a->slots + bumped * a->slot_size, alloc_g.page);
}

/* Pages of a from its base through its last slot below the bump pointer:
 * what it keeps resident (alloc_verify checks that nothing above is). */
static inline size_t resident_pages(const struct alloc_arena *a)
{
    return (touched_end(a, a->bumped) - (uintptr_t)base_of(a)) / alloc_g.page;
}

/* Pages a pack returned that the arena has not touched again since. */
static inline size_t purged_pages(const struct alloc_arena *a)
{
    uintptr_t top = touched_end(a, a->purged_top), now = touched_end(a, a->bumped);
    return top > now ? (top - now) / alloc_g.page : 0;
}

/* alloc_stats().mapped_bytes: inline, as the mover reads it at every run's
 * start and end and the statistics on every call. */
static inline size_t mapped_now(void)
{
    return (alloc_g.narenas + alloc_g.nretained + alloc_g.nreleasing) * alloc_g.opt.arena_size +
           alloc_g.large_mapped + os_release_pending_bytes();
}

/* Sparser first: lower live / slots, then fewer live, then lower address
 * (a total order, so the listings and the mover's plan are reproducible). */
static inline bool sparser(const struct alloc_arena *x, const struct alloc_arena *y)
{
    uint64_t l = (uint64_t)x->live * y->nslots, r = (uint64_t)y->live * x->nslots;
    if (l != r)
        return l < r;
    if (x->live != y->live)
        return x->live < y->live;
    return (uintptr_t)x < (uintptr_t)y;
}

/* The first live slot of a at or after slot i, or a->bumped when there is
 * none; *empty_words counts the bitmap words found empty on the way. It
 * reads the bitmap afresh, so a walk whose callback frees blocks calls it
 * again for every slot. */
static inline size_t next_live(const struct alloc_arena *a, size_t i, size_t *empty_words)
{
    while (i < a->bumped) {
        uint32_t w = (uint32_t)(i >> 6);
        uint64_t bits = *bm_word(a, w) & (~(uint64_t)0 << (i & 63));
        if (bits)
            return (size_t)w * 64 + (unsigned)__builtin_ctzll(bits);
        i = ((size_t)w + 1) * 64;
        ++*empty_words;
    }
    return a->bumped;
}

/* The highest live slot of a below slot i, or SIZE_MAX when there is none;
 * *words counts the bitmap words read. */
static inline size_t prev_live(const struct alloc_arena *a, size_t i, size_t *words)
{
    while (i > 0) {
        uint32_t w = (uint32_t)((i - 1) >> 6);
        unsigned top = (unsigned)((i - 1) & 63);
        uint64_t bits = *bm_word(a, w) & (~(uint64_t)0 >> (63 - top));
        ++*words;
        if (bits)
            return (size_t)w * 64 + 63 - (unsigned)__builtin_clzll(bits);
        i = (size_t)w * 64;
    }
    return SIZE_MAX;
}

/* The lowest free slot of a at or after slot i and below slot end, or
 * SIZE_MAX when there is none; *words counts the bitmap words read. */
static inline size_t next_free(const struct alloc_arena *a, size_t i, size_t end, size_t *words)
{
    while (i < end) {
        uint32_t w = (uint32_t)(i >> 6);
        uint64_t bits = ~*bm_word(a, w) & (~(uint64_t)0 << (i & 63));
        ++*words;
        if (bits) {
            size_t j = (size_t)w * 64 + (unsigned)__builtin_ctzll(bits);
            return j < end ? j : SIZE_MAX;
        }
        i = ((size_t)w + 1) * 64;
    }
    return SIZE_MAX;
}
