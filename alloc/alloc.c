/*
 * alloc.c: compactd's pooled size-class arena allocator.
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
 * Size classes
 *   0..15   8, 16, 24, ..., 128: 8-byte steps. Entries are small and their
 *           sizes dense here; a finer step than 8 would break 8-byte
 *           alignment, a coarser one would waste up to 15 bytes of a 24-byte
 *           entry.
 *   16..    geometric: each power-of-two interval (2^e, 2^(e+1)] is cut in 8
 *           equal steps of 2^(e-3) bytes: 144, 160, ..., 256, 288, 320, ...
 *           A request that lands just above a class boundary c wastes less
 *           than one step, i.e. less than c/8 of a slot of at least
 *           c + c/8 bytes: rounding waste stays below 1/9 of the slot
 *           (12.5 % of the request) everywhere above 128 bytes, and below
 *           8 bytes below it. Every geometric class is a multiple of 16, so
 *           those blocks are 16-byte aligned.
 *   The last class is arena_size / 8 (a power of two); larger requests are
 *   large blocks, since fewer than 8 slots per arena would waste too much of
 *   the arena tail. For the default 1 MiB arena there are 96 classes. The
 *   table is generated at alloc_setup() from that rule (class_size()); the
 *   lookup for requests up to 1024 bytes is a byte table indexed by
 *   (size + 7) / 8, above it a count-leading-zeros computation. Generated
 *   for arena_size = 1 MiB (slot size / slots per arena):
 *       8/116272     16/61556     24/41856     32/31710     40/25523     48/21356
 *       56/18358     64/16099     72/14335     80/12919     88/11757     96/10788
 *       104/9966     112/9260     120/8648     128/8112     144/7216     160/6499
 *       176/5912     192/5422     208/5006     224/4650     240/4342     256/4071
 *       288/3608     320/3249     352/2955     384/2710     416/2503     448/2325
 *       480/2171     512/2035     576/1810     640/1629     704/1482     768/1358
 *       832/1254     896/1165     960/1087    1024/1019     1152/906     1280/816
 *       1408/742     1536/680     1664/628     1792/583     1920/544     2048/510
 *       2304/453     2560/408     2816/371     3072/340     3328/314     3584/291
 *       3840/272     4096/255     4608/226     5120/204     5632/185     6144/170
 *       6656/157     7168/145     7680/136     8192/127     9216/113    10240/102
 *       11264/92     12288/85     13312/78     14336/72     15360/68     16384/63
 *       18432/56     20480/51     22528/46     24576/42     26624/39     28672/36
 *       30720/34     32768/31     36864/28     40960/25     45056/23     49152/21
 *       53248/19     57344/18     61440/17     65536/15     73728/14     81920/12
 *       90112/11     98304/10     106496/9     114688/9     122880/8     131072/7
 *   (tests/unit/alloc checks these numbers against alloc_class_stats).
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
 * Invariants (checked by alloc_verify)
 *   live == popcount(bitmap); bitmap bits at or beyond bumped are 0;
 *   free-list length == bumped - live, every link on a slot boundary below
 *   bumped with its bitmap bit clear; live >= 1 for every active arena
 *   (an arena that empties is retired at once, unless a live-slot walk has
 *   it pinned); bucket == floor(live * 8 / slots) or full, and the arena is
 *   on that bucket's list unless pinned; retained arenas are empty, and
 *   only the DIRTY_MAX most recent have touched pages; the
 *   per-class (and per-band) counters equal the sums over the arenas and
 *   the slack arrays. Mover: an arena is slated (FLAG_MOVER, always with
 *   FLAG_BUSY) iff it is on the plan list or is the one being evacuated, all
 *   of the (class, band) under the run's cursor; a running mover's cursor
 *   is past its last pair only while its emptied arenas are still being
 *   released (nothing slated then); nothing is slated and no arena is
 *   waiting to be released between runs; arenas done <= planned.
 *
 * Placement policy
 *   alloc takes a slot from an arena of the fullest non-empty bucket of its
 *   (class, band) (a bitmask of non-empty buckets and one
 *   count-trailing-zeros make that O(1)); the slot is the free-list head or,
 *   failing that, the next never-used slot. Allocation therefore keeps
 *   filling nearly full arenas while sparse ones only lose blocks, drain and
 *   return to the OS. An arena moves between bucket lists only when its live
 *   count crosses a bucket boundary, which alloc and free detect with one
 *   compare against a per-class threshold table.
 *
 * Returning memory
 *   An arena whose last block is freed leaves its lists at once and is
 *   retained as a spare of its (class, band); at most arena_retain arenas
 *   are retained (the least recently emptied beyond that is munmapped), and
 *   all but the DIRTY_MAX most recent have their touched pages purged with
 *   madvise(MADV_DONTNEED). A pair that needs room takes back its own spare
 *   untouched, else the oldest spare of any pair, else maps a new arena.
 *   So a class that oscillates across an arena boundary costs no system
 *   call, and freeing everything leaves at most arena_retain arenas mapped
 *   and DIRTY_MAX of them resident (see arena_retire()).
 *
 * Online compaction (alloc_compact_*, alloc_move; details above the mover)
 *   A run visits every (class, band) and, where the free slots add up to k
 *   whole arenas, slates the k sparsest (exact order: fewest live per slot),
 *   which pins them: off the bucket lists, so neither the copies nor other
 *   allocations land there. It walks them with a slot cursor, sparsest
 *   first, handing each live block to the owner's evacuate callback, which
 *   drops it or alloc_move()s it; the copies go where alloc_block would put
 *   them, the fullest unslated arena of the pair, so the pair ends with
 *   ceil(live / slots) arenas. It never maps an arena to make room: when
 *   concurrent allocations eat the destinations it gives slated arenas back
 *   (densest first) and stops the pair. Emptied arenas are returned to the
 *   OS at once (not retained), purged a slice per batch and then unmapped,
 *   so that a step's work stays bounded whatever the arena size. Work is
 *   cut in batches (16 blocks or 64 KiB of slots, or one pair planned)
 *   with a clock read after each; a step runs batches until its budget is
 *   spent. Per (class, band) live counts (size_class.blive) make the
 *   trigger and "reclaimable" O(classes * bands) without walking arenas.
 *
 * Not thread-safe: one event-loop thread calls everything.
 */
#include "alloc/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

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
#define MAX_CLASSES (LINEAR_CLASSES + 8 * (30 - 10))

#define FLAG_BUSY 1u                  /* pinned: off the bucket lists, never retired */
#define FLAG_MOVER 2u                 /* pinned by the compaction mover (with FLAG_BUSY) */

static void mover_reset(void);
static size_t release_all(void);

__attribute__((noreturn, cold)) static void alloc_panic(const char *what, const void *p)
{
    fprintf(stderr, "alloc: %s (%p)\n", what, p);
    abort();
}

#if CD_ASSERT_LEVEL >= 1
#define A_ASSERT(x) ((x) ? (void)0 : alloc_panic("assertion failed: " #x, NULL))
#else
#define A_ASSERT(x) ((void)0)
#endif

/* The first cache line holds everything alloc and free read, copied from
 * the class where needed, so that free's chain of dependent loads is just
 * header -> bitmap word. The metadata groups start right after the header
 * (ARENA_HDR_SIZE), group_bytes apart. */
struct alloc_arena {
    uint32_t magic;
    uint8_t cls;
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
    struct alloc_arena *all;
};

struct band_lists {
    uint32_t nonempty;         /* bit b: head[b] != NULL, for b < NB */
    uint32_t narenas;
    struct alloc_arena *head[NB + 1];
    struct alloc_arena *spare;  /* retained empty arenas of this pair */
};

static struct {
    bool ready;
    size_t arena_size;
    uintptr_t mask;
    unsigned shift;            /* log2(arena_size) */
    uintptr_t color_mask;      /* colours - 1 */
    size_t color_max;          /* largest header offset */
    size_t large_max;
    size_t page;
    unsigned nclasses;
    unsigned retain;
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
    uint64_t failures, maps, unmaps, purges;
    long fail_after;
} g = {.fail_after = -1};

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
    return (uintptr_t)p & g.mask;
}

static inline void *header_of_base(uintptr_t base)
{
    uintptr_t h = (uintptr_t)((((uint64_t)(base >> g.shift)) * 0x9e3779b97f4a7c15ull) >> 40);
    return (void *)(base + (h & g.color_mask) * 64);
}

static inline struct alloc_arena *arena_of_ptr(const void *p)
{
    return header_of_base(base_of(p));
}

/* ---------------------------------------------------------------- OS layer */

/* Maps size bytes aligned to arena_size. Returns NULL with errno ENOMEM. */
static void *os_map_aligned(size_t size)
{
    if (g.fail_after == 0) {
        errno = ENOMEM;
        return NULL;
    }
    size_t align = g.arena_size;
    if (size > SIZE_MAX - align) {
        errno = ENOMEM;
        return NULL;
    }
    size_t over = size + align - g.page;
    char *p = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - (uintptr_t)p;
    size_t tail = over - head - size;
    if (head)
        munmap(p, head);
    if (tail)
        munmap((char *)start + size, tail);
    if (g.fail_after > 0)
        g.fail_after--;
    g.maps++;
    return (void *)start;
}

static void os_unmap(void *p, size_t size)
{
    if (munmap(p, size) != 0)
        alloc_panic("munmap failed", p);
    g.unmaps++;
}

static void os_purge(void *p, size_t size)
{
    if (size == 0)
        return;
    /* Failure only leaves the pages resident; nothing to undo. */
    (void)madvise(p, size, MADV_DONTNEED);
    g.purges++;
}

/* ------------------------------------------------------------ size classes */

static size_t class_size(unsigned i)
{
    if (i < LINEAR_CLASSES)
        return (size_t)(i + 1) * 8;
    unsigned k = i - LINEAR_CLASSES;
    unsigned e = 7 + k / 8;
    return (size_t)(9 + k % 8) << (e - 3);
}

/* For LINEAR_MAX < size: the smallest class >= size. */
static inline unsigned class_of_geometric(size_t size)
{
    size_t n = size - 1;
    unsigned e = 63u - (unsigned)__builtin_clzll((unsigned long long)n);
    return LINEAR_CLASSES + (e - 7) * 8 + (unsigned)((n >> (e - 3)) & 7);
}

static unsigned class_of_slow(size_t size)
{
    if (size <= LINEAR_MAX)
        return size == 0 ? 0 : (unsigned)((size + 7) / 8 - 1);
    return class_of_geometric(size);
}

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

/* The metadata follows the (coloured) header; the slot area starts after
 * the metadata of the largest colour. */
static size_t layout_end(const struct size_class *c, size_t n, size_t *slots_off)
{
    size_t meta = (n + 63) / 64 * c->group_bytes;
    size_t slots = round_up(g.color_max + ARENA_HDR_SIZE + meta, SLOT_ALIGN);
    if (slots_off)
        *slots_off = slots;
    return slots + n * c->size;
}

static void class_init(unsigned i)
{
    struct size_class *c = &g.cls[i];
    memset(c, 0, sizeof(*c));
    c->size = (uint32_t)class_size(i);
    size_t step = i == 0 ? 8 : c->size - class_size(i - 1);
    c->slack_bits = step <= 16 ? 4 : step <= 256 ? 8 : step <= 65536 ? 16 : 32;
    c->slack_log = (uint32_t)__builtin_ctz(c->slack_bits);
    c->group_bytes = round_up(8 + 8 * (size_t)c->slack_bits, 64);
    size_t a = g.arena_size;
    /* Bits per slot: 8 * size + 1 (bitmap) + slack; start from that estimate
     * and correct for the roundings. */
    size_t n = (a - 256 - g.color_max) * 8 / (8 * (size_t)c->size + 1 + c->slack_bits);
    while (n > 1 && layout_end(c, n, NULL) > a)
        n--;
    while (layout_end(c, n + 1, NULL) <= a)
        n++;
    c->nslots = (uint32_t)n;
    layout_end(c, n, &c->slots_off);
    c->thr[0] = 1;
    for (unsigned b = 1; b < NB; b++)
        c->thr[b] = (uint32_t)((b * n + NB - 1) / NB);
    c->thr[NB] = (uint32_t)n;
    c->recip = c->size == 1 ? 0 : (uint64_t)(~(uint64_t)0 / c->size) + 1;
}

/* --------------------------------------------------------------- lifecycle */

void alloc_options_default(struct alloc_options *opt)
{
    opt->arena_size = (size_t)1 << 20;
    opt->arena_retain = 4;
}

int alloc_setup(const struct alloc_options *opt)
{
    if (g.ready)
        return 0;
    struct alloc_options def;
    alloc_options_default(&def);
    if (opt == NULL)
        opt = &def;
    size_t a = opt->arena_size;
    if (a < ALLOC_ARENA_MIN || a > ALLOC_ARENA_MAX || (a & (a - 1)) != 0)
        return EINVAL;
    long page = sysconf(_SC_PAGESIZE);
    g.page = page > 0 ? (size_t)page : 4096;
    if (a < g.page)
        return EINVAL;
    g.arena_size = a;
    g.mask = ~(uintptr_t)(a - 1);
    g.shift = (unsigned)__builtin_ctzll((unsigned long long)a);
    /* 32 colours (2 KiB) for 1 MiB arenas, fewer for small ones */
    size_t colors = a >> 15;
    colors = colors < 1 ? 1 : colors > 32 ? 32 : colors;
    g.color_mask = colors - 1;
    g.color_max = (colors - 1) * 64;
    g.large_max = a / 8;
    g.retain = opt->arena_retain;
    g.nclasses = class_of_slow(g.large_max) + 1;
    for (unsigned i = 0; i < g.nclasses; i++)
        class_init(i);
    for (size_t i = 0; i <= LUT_MAX / 8; i++)
        g.lut[i] = (uint8_t)class_of_slow(i * 8);
    memset(g.bl, 0, sizeof(g.bl));
    g.lru_head = g.lru_tail = NULL;
    g.nretained = g.narenas = 0;
    g.large = NULL;
    g.nlarge = g.large_mapped = g.large_usable = 0;
    g.live_bytes = 0;
    g.ready = true;
    return 0;
}

void alloc_teardown(void)
{
    if (!g.ready)
        return;
    for (unsigned i = 0; i < g.nclasses; i++) {
        struct alloc_arena *a = g.cls[i].all;
        while (a) {
            struct alloc_arena *next = a->cnext;
            os_unmap((void *)base_of(a), g.arena_size);
            a = next;
        }
    }
    alloc_release_retained();
    release_all();
    struct large *l = g.large;
    while (l) {
        struct large *next = l->next;
        os_unmap((void *)base_of(l), l->map_size);
        l = next;
    }
    long fail_after = g.fail_after;
    memset(&g, 0, sizeof(g));
    mover_reset();
    g.fail_after = fail_after;
}

void alloc_fail_after(long n)
{
    g.fail_after = n < 0 ? -1 : n;
}

/* ------------------------------------------------------------ list helpers */

/* An arena is on at most one list threaded through bprev/bnext: a bucket
 * list, its pair's spare list or the mover's plan. These two serve all. */
static inline void blist_push(struct alloc_arena **head, struct alloc_arena *a)
{
    a->bprev = NULL;
    a->bnext = *head;
    if (a->bnext)
        a->bnext->bprev = a;
    *head = a;
}

/* tail is NULL for the lists that keep none */
static inline void blist_unlink(struct alloc_arena **head, struct alloc_arena **tail,
                                struct alloc_arena *a)
{
    if (a->bprev)
        a->bprev->bnext = a->bnext;
    else
        *head = a->bnext;
    if (a->bnext)
        a->bnext->bprev = a->bprev;
    else if (tail)
        *tail = a->bprev;
}

static inline void bucket_push(struct band_lists *bl, unsigned b, struct alloc_arena *a)
{
    blist_push(&bl->head[b], a);
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

static unsigned bucket_of(const struct size_class *c, uint32_t live)
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

/*
 * Retained arenas. An arena that empties is not given back at once: it
 * becomes a spare of its (class, band), on that pair's spare list (linked
 * through bprev/bnext, which an empty arena does not need for buckets) and
 * on the global LRU list of retained arenas (eprev/enext, most recently
 * emptied first). A pair that runs out of room takes its own spare back
 * as-is, with its free list and bump pointer intact; failing that, it takes
 * the least recently emptied spare of any pair and re-initialises it; only
 * then does it map a new arena. At most arena_retain arenas are retained
 * (the oldest is unmapped), and only the DIRTY_MAX most recent keep their
 * touched pages: the one that drops past that position is purged
 * (madvise(MADV_DONTNEED) over the slots it ever handed out, after which
 * it counts as fresh: bumped = 0, empty free list). So a class that keeps
 * crossing an arena boundary costs no system call, and freeing everything
 * leaves at most DIRTY_MAX arenas' worth of pages resident.
 */
#define DIRTY_MAX 2
#define RETAINED (FULL + 1)   /* bucket value of a retained arena */

static void retained_unlink(struct alloc_arena *a)
{
    blist_unlink(&g.bl[a->cls][a->band].spare, NULL, a);
    if (a->eprev)
        a->eprev->enext = a->enext;
    else
        g.lru_head = a->enext;
    if (a->enext)
        a->enext->eprev = a->eprev;
    else
        g.lru_tail = a->eprev;
    g.nretained--;
}

static void arena_purge(struct alloc_arena *a)
{
    uintptr_t from = round_up((uintptr_t)a->slots, g.page);
    uintptr_t to = round_up((uintptr_t)a->slots + (size_t)a->bumped * a->slot_size, g.page);
    if (to > from)
        os_purge((void *)from, to - from);
    a->bumped = 0;
    a->free_head = NULL;
}

/* a is empty and on no list. */
static void arena_retire(struct alloc_arena *a)
{
    if (g.retain == 0) {
        os_unmap((void *)base_of(a), g.arena_size);
        return;
    }
    a->bucket = RETAINED;
    blist_push(&g.bl[a->cls][a->band].spare, a);
    a->eprev = NULL;
    a->enext = g.lru_head;
    if (g.lru_head)
        g.lru_head->eprev = a;
    else
        g.lru_tail = a;
    g.lru_head = a;
    g.nretained++;
    struct alloc_arena *x = a;
    for (int i = 0; i < DIRTY_MAX && x; i++)
        x = x->enext;
    if (x && x->bumped)
        arena_purge(x);
    if (g.nretained > g.retain) {
        struct alloc_arena *old = g.lru_tail;
        retained_unlink(old);
        os_unmap((void *)base_of(old), g.arena_size);
    }
}

/* Called when a's live count dropped to zero: unlink it and retire it, or
 * queue it for release_some when release is set (the mover's evacuated
 * arenas). */
static void arena_unlink_empty(struct size_class *c, struct alloc_arena *a, bool release)
{
    struct band_lists *bl = &g.bl[a->cls][a->band];
    if (!(a->flags & FLAG_BUSY))
        bucket_remove(bl, a);
    a->flags = 0;
    bl->narenas--;
    if (a->cprev)
        a->cprev->cnext = a->cnext;
    else
        c->all = a->cnext;
    if (a->cnext)
        a->cnext->cprev = a->cprev;
    c->arenas--;
    g.narenas--;
    if (release) {
        a->enext = NULL;
        if (g.rel_tail)
            g.rel_tail->enext = a;
        else
            g.rel_head = a;
        g.rel_tail = a;
        g.nreleasing++;
    } else {
        arena_retire(a);
    }
}

static void arena_empty(struct size_class *c, struct alloc_arena *a)
{
    arena_unlink_empty(c, a, false);
}

static struct alloc_arena *arena_new(unsigned ci, unsigned band)
{
    struct size_class *c = &g.cls[ci];
    struct band_lists *bl = &g.bl[ci][band];
    struct alloc_arena *a = bl->spare;
    if (a) {
        /* our own spare: live 0, bitmap clear, free list valid */
        retained_unlink(a);
    } else {
        a = g.lru_tail;
        bool reused = a != NULL;
        if (a) {
            retained_unlink(a);
        } else {
            void *base = os_map_aligned(g.arena_size);
            if (base == NULL)
                return NULL;
            a = header_of_base((uintptr_t)base);
        }
        a->magic = ARENA_MAGIC;
        a->cls = (uint8_t)ci;
        a->band = (uint8_t)band;
        a->nslots = c->nslots;
        a->live = 0;
        a->bumped = 0;
        a->slot_size = c->size;
        a->free_head = NULL;
        a->slots = (char *)base_of(a) + c->slots_off;
        a->group_bytes = (uint32_t)c->group_bytes;
        a->slack_log = c->slack_log;
        a->recip = c->recip;
        /* A fresh mapping reads as zeros. A reused one may have held another
         * class whose slots overlap this bitmap, so clear it. */
        if (reused)
            for (uint32_t w = 0; w < (c->nslots + 63) / 64; w++)
                *bm_word(a, w) = 0;
    }
    a->flags = 0;
    a->cprev = NULL;
    a->cnext = c->all;
    if (c->all)
        c->all->cprev = a;
    c->all = a;
    c->arenas++;
    g.narenas++;
    bl->narenas++;
    bucket_push(bl, 0, a);
    return a;
}

static void rebucket(struct size_class *c, struct alloc_arena *a)
{
    if (a->flags & FLAG_BUSY) {
        /* pinned by a walk: off the lists, only track the bucket */
        a->bucket = (uint8_t)bucket_of(c, a->live);
        return;
    }
    if (a->live == 0) {
        arena_empty(c, a);
        return;
    }
    struct band_lists *bl = &g.bl[a->cls][a->band];
    bucket_remove(bl, a);
    bucket_push(bl, bucket_of(c, a->live), a);
}

static inline void *arena_take(struct size_class *c, struct alloc_arena *a, size_t size)
{
    char *p;
    uint32_t idx;
    if (a->free_head) {
        p = a->free_head;
        a->free_head = *(void **)(void *)p;
        idx = slot_index(a, (size_t)(p - a->slots));
    } else {
        idx = a->bumped++;
        p = a->slots + (size_t)idx * c->size;
    }
    uint64_t *bw = bm_word(a, idx >> 6);
    A_ASSERT(!(*bw & (1ull << (idx & 63))));
    *bw |= 1ull << (idx & 63);
    slack_set(a, idx, a->slot_size - (uint32_t)size);
    a->live++;
    c->blive[a->band]++;
    c->live_bytes += size;
    g.live_bytes += size;
    if (unlikely(a->live >= c->thr[a->bucket + 1]))
        rebucket(c, a);
    return p;
}

/* ------------------------------------------------------------ large blocks */

static void *large_alloc(size_t size)
{
    if (size > SIZE_MAX / 2) {
        g.failures++;
        errno = ENOMEM;
        return NULL;
    }
    size_t map = round_up(size + LARGE_HDR + g.color_max, g.page);
    void *base = os_map_aligned(map);
    if (base == NULL) {
        g.failures++;
        errno = ENOMEM;
        return NULL;
    }
    struct large *l = header_of_base((uintptr_t)base);
    l->magic = LARGE_MAGIC;
    l->size = size;
    l->map_size = map;
    l->usable = map - ((uintptr_t)l - (uintptr_t)base) - LARGE_HDR;
    l->prev = NULL;
    l->next = g.large;
    if (g.large)
        g.large->prev = l;
    g.large = l;
    g.nlarge++;
    g.large_mapped += map;
    g.live_bytes += size;
    g.large_usable += l->usable;
    return (char *)l + LARGE_HDR;
}

static void large_free(struct large *l, void *p)
{
    if (l->magic != LARGE_MAGIC || (char *)p != (char *)l + LARGE_HDR)
        alloc_panic("free of a pointer that is not a live block", p);
    if (l->prev)
        l->prev->next = l->next;
    else
        g.large = l->next;
    if (l->next)
        l->next->prev = l->prev;
    g.nlarge--;
    g.large_mapped -= l->map_size;
    g.live_bytes -= l->size;
    g.large_usable -= l->usable;
    l->magic = 0;
    os_unmap((void *)base_of(l), l->map_size);
}

/* ----------------------------------------------------------- alloc / free */

static void *alloc_slow(size_t size, unsigned band)
{
    if (!g.ready) {
        int rc = alloc_setup(NULL);
        if (rc != 0) {
            g.failures++;
            errno = rc;
            return NULL;
        }
    }
    if (size > g.large_max)
        return large_alloc(size);
    unsigned ci = size <= LUT_MAX ? g.lut[(size + 7) >> 3] : class_of_geometric(size);
    struct band_lists *bl = &g.bl[ci][band];
    struct alloc_arena *a;
    if (bl->nonempty)
        a = bl->head[31 - __builtin_clz(bl->nonempty)];
    else if ((a = arena_new(ci, band)) == NULL) {
        g.failures++;
        errno = ENOMEM;
        return NULL;
    }
    return arena_take(&g.cls[ci], a, size);   /* alloc_block made size 0 into 1 */
}

void *alloc_block(size_t size, unsigned band)
{
    unsigned ci;
    if (unlikely(band >= ALLOC_BANDS))
        band = ALLOC_BANDS - 1;
    if (likely(size <= LUT_MAX)) {
        if (unlikely(size == 0))
            size = 1;
        ci = g.lut[(size + 7) >> 3];
    } else if (size <= g.large_max) {
        ci = class_of_geometric(size);
    } else {
        return alloc_slow(size, band);
    }
    struct band_lists *bl = &g.bl[ci][band];
    if (unlikely(bl->nonempty == 0))
        return alloc_slow(size, band);
    struct alloc_arena *a = bl->head[31 - __builtin_clz(bl->nonempty)];
    return arena_take(&g.cls[ci], a, size);
}

void alloc_free(void *p)
{
    if (p == NULL)
        return;
    struct alloc_arena *a = arena_of_ptr(p);
    if (unlikely(a->magic != ARENA_MAGIC)) {
        large_free((struct large *)(void *)a, p);
        return;
    }
    size_t off = (size_t)((char *)p - a->slots);
    uint32_t idx = slot_index(a, off);
    /* off is huge when p lies in the header, so one compare covers both ends. */
    if (unlikely(off >= (size_t)a->bumped * a->slot_size || (size_t)idx * a->slot_size != off))
        alloc_panic("free of a pointer that is not a block", p);
    uint64_t bit = 1ull << (idx & 63);
    uint64_t *w = bm_word(a, idx >> 6);
    if (unlikely(!(*w & bit)))
        alloc_panic("free of a block that is not live (double free?)", p);
    *w &= ~bit;
    struct size_class *c = &g.cls[a->cls];
    c->blive[a->band]--;
    size_t req = a->slot_size - slack_get(a, idx);
    c->live_bytes -= req;
    g.live_bytes -= req;
    *(void **)p = a->free_head;
    a->free_head = p;
    a->live--;
    if (unlikely(a->live < c->thr[a->bucket]))
        rebucket(c, a);
}

size_t alloc_usable(const void *p)
{
    const struct alloc_arena *a = arena_of_ptr(p);
    if (a->magic == ARENA_MAGIC)
        return a->slot_size;
    const struct large *l = (const void *)a;
    return l->usable;
}

/* ------------------------------------------------------------------ stats */

static size_t class_live(const struct size_class *c)
{
    size_t n = 0;
    for (unsigned b = 0; b < ALLOC_BANDS; b++)
        n += c->blive[b];
    return n;
}

/* The classes [*from, *to) a class filter selects: every class when cls < 0,
 * else cls alone (none when it is out of range). */
static void class_range(int cls, unsigned *from, unsigned *to)
{
    *from = cls < 0 ? 0 : (unsigned)cls;
    *to = cls < 0 ? g.nclasses : *from + 1;
    if (*to > g.nclasses)
        *to = g.nclasses;
}

/* alloc_stats().mapped_bytes, for the mover's trigger and figures too */
static size_t mapped_now(void)
{
    return (g.narenas + g.nretained + g.nreleasing) * g.arena_size + g.large_mapped;
}

size_t alloc_live_bytes(void)
{
    return g.live_bytes;
}

void alloc_stats(struct alloc_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (unsigned i = 0; i < g.nclasses; i++) {
        const struct size_class *c = &g.cls[i];
        size_t live = class_live(c);
        st->live_blocks += live;
        st->slot_bytes += live * c->size;
    }
    st->live_blocks += g.nlarge;
    st->live_bytes = g.live_bytes;
    st->slot_bytes += g.large_usable;
    st->mapped_bytes = mapped_now();
    st->alloc_failures = g.failures;
    st->arena_size = g.arena_size;
    st->arenas = g.narenas;
    st->retained_arenas = g.nretained;
    st->large_blocks = g.nlarge;
    st->large_bytes = g.large_mapped;
    st->large_threshold = g.large_max;
    st->os_maps = g.maps;
    st->os_unmaps = g.unmaps;
    st->os_purges = g.purges;
    st->releasing_arenas = g.nreleasing;
}

static void ensure_ready(void)
{
    if (!g.ready)
        (void)alloc_setup(NULL);
}

unsigned alloc_class_count(void)
{
    ensure_ready();
    return g.nclasses;
}

size_t alloc_class_size(unsigned cls)
{
    ensure_ready();
    return cls < g.nclasses ? g.cls[cls].size : 0;
}

unsigned alloc_size_class(size_t size)
{
    ensure_ready();
    return size > g.large_max ? g.nclasses : class_of_slow(size);
}

bool alloc_class_stats(unsigned cls, struct alloc_class_stats *st)
{
    ensure_ready();
    if (cls >= g.nclasses)
        return false;
    const struct size_class *c = &g.cls[cls];
    st->cls = cls;
    st->slot_size = c->size;
    st->arenas = c->arenas;
    st->slots = c->arenas * c->nslots;
    st->live = class_live(c);
    st->live_bytes = c->live_bytes;
    st->rounding = st->live * c->size - c->live_bytes;
    st->free_bytes = (st->slots - st->live) * c->size;
    st->overhead = c->arenas * (g.arena_size - (size_t)c->nslots * c->size);
    st->waste = c->arenas * g.arena_size - c->live_bytes;
    st->reclaimable = alloc_compact_reclaimable((int)cls);
    return true;
}

void alloc_class_stats_foreach(bool all_classes, alloc_class_stats_fn fn, void *ctx)
{
    ensure_ready();
    struct alloc_class_stats st;
    for (unsigned i = 0; i < g.nclasses; i++) {
        if (!all_classes && g.cls[i].arenas == 0)
            continue;
        alloc_class_stats(i, &st);
        fn(&st, ctx);
    }
}

/* ---------------------------------------------------------- introspection */

const struct alloc_arena *alloc_arena_of(const void *p)
{
    const struct alloc_arena *a = arena_of_ptr(p);
    return a->magic == ARENA_MAGIC ? a : NULL;
}

void alloc_arena_info(const struct alloc_arena *a, struct alloc_arena_info *out)
{
    out->cls = a->cls;
    out->band = a->band;
    out->slot_size = a->slot_size;
    out->slots = a->nslots;
    out->live = a->live;
    out->bucket = a->bucket;
    out->base = (const void *)base_of(a);
    out->pinned = (a->flags & FLAG_BUSY) != 0;
    out->evacuating = (a->flags & FLAG_MOVER) != 0;
}

struct alloc_arena *alloc_arena_first(unsigned cls)
{
    return g.ready && cls < g.nclasses ? g.cls[cls].all : NULL;
}

struct alloc_arena *alloc_arena_next(struct alloc_arena *a)
{
    return a->cnext;
}

struct alloc_arena *alloc_arena_sparsest(unsigned cls, unsigned band)
{
    if (!g.ready || cls >= g.nclasses || band >= ALLOC_BANDS)
        return NULL;
    const struct band_lists *bl = &g.bl[cls][band];
    return bl->nonempty ? bl->head[__builtin_ctz(bl->nonempty)] : NULL;
}

bool alloc_arena_pin(struct alloc_arena *a)
{
    if (a->flags & FLAG_BUSY)
        return false;
    /* Off the bucket lists, so that no block is placed here (a mover's
     * copies land elsewhere), and not retired while pinned. */
    bucket_remove(&g.bl[a->cls][a->band], a);
    a->flags |= FLAG_BUSY;
    return true;
}

void alloc_arena_unpin(struct alloc_arena *a)
{
    /* the mover's pins are the mover's to drop */
    if (!(a->flags & FLAG_BUSY) || (a->flags & FLAG_MOVER))
        return;
    struct size_class *c = &g.cls[a->cls];
    if (a->live == 0) {
        arena_empty(c, a);
    } else {
        a->flags &= (uint8_t)~FLAG_BUSY;
        bucket_push(&g.bl[a->cls][a->band], bucket_of(c, a->live), a);
    }
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

size_t alloc_arena_walk(struct alloc_arena *a, size_t *cursor, alloc_live_fn fn, void *ctx)
{
    size_t calls = 0, skipped = 0;
    bool pinned_here = alloc_arena_pin(a);
    size_t i = *cursor;
    /* fn may free or allocate anywhere: the next slot is looked up afresh */
    while ((i = next_live(a, i, &skipped)) < a->bumped) {
        calls++;
        bool go = fn(a->slots + i * a->slot_size, ctx);
        i++;
        if (!go)
            break;
    }
    *cursor = i < a->bumped ? i : a->nslots;
    if (pinned_here)
        alloc_arena_unpin(a);
    return calls;
}

size_t alloc_arena_foreach_live(struct alloc_arena *a, alloc_live_fn fn, void *ctx)
{
    size_t cursor = 0;
    return alloc_arena_walk(a, &cursor, fn, ctx);
}

void alloc_release_retained(void)
{
    while (g.lru_head) {
        struct alloc_arena *a = g.lru_head;
        retained_unlink(a);
        os_unmap((void *)base_of(a), g.arena_size);
    }
}

size_t alloc_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (n != 2)
        return 0;
    long page = sysconf(_SC_PAGESIZE);
    return (size_t)resident * (size_t)(page > 0 ? page : 4096);
}

/* ------------------------------------------------------ arena listings */

size_t alloc_arena_list(int cls, struct alloc_arena_ref *out, size_t cap)
{
    if (!g.ready)
        return 0;
    unsigned from, to;
    class_range(cls, &from, &to);
    size_t n = 0;
    for (unsigned ci = from; ci < to; ci++)
        for (unsigned b = 0; b < ALLOC_BANDS; b++)
            for (struct alloc_arena *a = g.cls[ci].all; a; a = a->cnext) {
                if (a->band != b)
                    continue;
                if (n < cap) {
                    out[n].arena = a;
                    alloc_arena_info(a, &out[n].info);
                }
                n++;
            }
    return n;
}

/* Sparser first: lower live / slots, then fewer live, then lower address
 * (a total order, so listings are reproducible). */
static bool sparser(const struct alloc_arena *x, const struct alloc_arena *y)
{
    uint64_t l = (uint64_t)x->live * y->nslots, r = (uint64_t)y->live * x->nslots;
    if (l != r)
        return l < r;
    if (x->live != y->live)
        return x->live < y->live;
    return (uintptr_t)x < (uintptr_t)y;
}

/* out[0..n) as a max-heap under sparser(): the least sparse kept on top. */
static void heap_sift_down(struct alloc_arena_ref *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && sparser(h[m].arena, h[l].arena))
            m = l;
        if (r < n && sparser(h[m].arena, h[r].arena))
            m = r;
        if (m == i)
            return;
        struct alloc_arena_ref t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

size_t alloc_arena_sparsest_n(size_t n, struct alloc_arena_ref *out)
{
    if (!g.ready || n == 0)
        return 0;
    size_t cnt = 0;
    for (unsigned ci = 0; ci < g.nclasses; ci++)
        for (struct alloc_arena *a = g.cls[ci].all; a; a = a->cnext) {
            if (a->live >= a->nslots)
                continue;
            if (cnt < n) {
                size_t i = cnt++;
                out[i].arena = a;
                while (i > 0 && sparser(out[(i - 1) / 2].arena, out[i].arena)) {
                    struct alloc_arena_ref t = out[i];
                    out[i] = out[(i - 1) / 2];
                    out[(i - 1) / 2] = t;
                    i = (i - 1) / 2;
                }
            } else if (sparser(a, out[0].arena)) {
                out[0].arena = a;
                heap_sift_down(out, cnt, 0);
            }
        }
    /* heap sort: the largest goes to the end, sparsest first remains */
    for (size_t k = cnt; k > 1; k--) {
        struct alloc_arena_ref t = out[0];
        out[0] = out[k - 1];
        out[k - 1] = t;
        heap_sift_down(out, k - 1, 0);
    }
    for (size_t i = 0; i < cnt; i++)
        alloc_arena_info(out[i].arena, &out[i].info);
    return cnt;
}

/* ------------------------------------------------------ online compaction */

/*
 * The mover. A run visits the (class, band) pairs in order. On reaching a
 * pair it computes k = floor(free slots / slots per arena): the number of
 * whole arenas the pair's free space adds up to, which is exactly how many
 * arenas can be emptied with every live block fitting in the others. It
 * slates the k sparsest arenas (fewest live blocks to move), which pins
 * them: off the bucket lists, so neither the copies nor anybody else's
 * allocations land there, and kept mapped when they empty. Then it walks
 * them sparsest first, calling the owner for every live block; the copies
 * go where alloc_block would put them, i.e. into the fullest unslated arena
 * of the pair, so the pair ends dense.
 *
 * Concurrent allocations can eat the room the plan counted on. Before each
 * arena the mover re-checks that the live blocks of the slated arenas fit in
 * the free slots of the others and, if not, gives back the densest slated
 * arenas (they become destinations); before each block it checks that some
 * unslated arena has a free slot, else gives back the densest slated arena
 * not yet started, or failing that the current one, and leaves the pair.
 * So the mover never maps an arena to make room (that would only shift
 * fragmentation), and once the pair's free space no longer adds up to a
 * whole arena it stops. A pair is planned once per run, a run converges,
 * and a run started right after a finished one finds k = 0 everywhere
 * (unless blocks were freed meanwhile).
 *
 * Release: an evacuated arena is returned to the OS, never retained as a
 * spare, whatever arena_retain says (the retained pool is for churn around
 * an arena boundary; an arena the mover empties is surplus by construction,
 * and retaining it would keep mapped_bytes where it was). The retained pool
 * is left as it is. The arena leaves every list at once and goes on a
 * release queue; the batches purge its pages 256 KiB at a time and then
 * unmap it (mapped_bytes counts it until then), and a run ends only when
 * the queue is empty, so arenas_released == arenas_evacuated at the end.
 *
 * Slated arenas are linked through bprev/bnext, which a pinned arena does
 * not use for buckets, so the plan needs no memory of its own (only the
 * sort that picks the k sparsest borrows a scratch array, with a fallback
 * to bucket order if malloc fails).
 */
static struct {
    bool running;
    bool planned;               /* the pair under the cursor has been slated */
    bool in_callback;
    int filter;
    unsigned cls, band, cls_end;
    unsigned touched_cls;       /* last class counted in classes_touched */
    struct alloc_arena *plan, *plan_tail;   /* slated, not started, sparsest first */
    size_t nplan;
    struct alloc_arena *cur;    /* being evacuated (slated too) */
    size_t cursor;              /* next slot of cur to look at */
    size_t cb_bytes;            /* bytes alloc_move copied for the current batch */
    size_t planned_total, done;
    uint64_t start_us;
    size_t mapped_before, mapped_after;
    uint64_t duration_us;
    struct alloc_compact_counts run, total;
    uint64_t runs, runs_finished;
    uint64_t last_duration_us;
    size_t last_mapped_before, last_mapped_after;
    uint64_t (*clock)(void);
    uint32_t est[MAX_CLASSES][ALLOC_BANDS];  /* k per pair at start, for pairs not reached */
} mv = {.touched_cls = ~0u};

static void mover_reset(void)
{
    uint64_t (*clock_fn)(void) = mv.clock;
    memset(&mv, 0, sizeof(mv));
    mv.touched_cls = ~0u;
    mv.clock = clock_fn;
}

static uint64_t mover_now(void)
{
    if (mv.clock)
        return mv.clock();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Returns up to `budget` bytes of the oldest releasing arena's pages to the
 * OS, and unmaps it once they are all gone (then cheap: no resident pages
 * left but the header's). Returns the bytes of work done. Purging first
 * bounds the step: munmap of a resident arena costs about 0.1 ms per MiB,
 * and arenas may be up to 1 GiB. */
static size_t release_some(size_t budget)
{
    struct alloc_arena *a = g.rel_head;
    uintptr_t from = round_up((uintptr_t)a->slots, g.page) + g.rel_off;
    uintptr_t end = round_up((uintptr_t)a->slots + (size_t)a->bumped * a->slot_size, g.page);
    if (from < end) {
        size_t n = end - from < budget ? end - from : budget;
        os_purge((void *)from, n);
        g.rel_off += n;
        return n;
    }
    g.rel_head = a->enext;
    if (g.rel_head == NULL)
        g.rel_tail = NULL;
    g.nreleasing--;
    g.rel_off = 0;
    os_unmap((void *)base_of(a), g.arena_size);
    return g.page;
}

/* Unmaps every releasing arena at once (abort, teardown). */
static size_t release_all(void)
{
    size_t n = 0;
    while (g.rel_head) {
        struct alloc_arena *a = g.rel_head;
        g.rel_head = a->enext;
        os_unmap((void *)base_of(a), g.arena_size);
        n++;
    }
    g.rel_tail = NULL;
    g.nreleasing = 0;
    g.rel_off = 0;
    return n;
}

/* Whole arenas the free slots of (ci, b) add up to. */
static size_t pair_reclaimable(unsigned ci, unsigned b)
{
    const struct band_lists *bl = &g.bl[ci][b];
    if (bl->narenas < 2)
        return 0;
    size_t slots = (size_t)bl->narenas * g.cls[ci].nslots;
    return (slots - g.cls[ci].blive[b]) / g.cls[ci].nslots;
}

/* The same summed over the bands of class ci. */
static size_t class_reclaimable(unsigned ci)
{
    if (g.cls[ci].arenas < 2)
        return 0;
    size_t n = 0;
    for (unsigned b = 0; b < ALLOC_BANDS; b++)
        n += pair_reclaimable(ci, b);
    return n;
}

size_t alloc_compact_reclaimable(int cls)
{
    if (!g.ready)
        return 0;
    unsigned from, to;
    class_range(cls, &from, &to);
    size_t arenas = 0;
    for (unsigned ci = from; ci < to; ci++)
        arenas += class_reclaimable(ci);
    return arenas * g.arena_size;
}

void alloc_compact_opts_default(struct alloc_compact_opts *o)
{
    o->frag_threshold = 1.2;
    o->min_reclaim = (size_t)4 << 20;
    o->cls = -1;
}

bool alloc_compact_wanted(const struct alloc_compact_opts *o)
{
    struct alloc_compact_opts def;
    if (o == NULL) {
        alloc_compact_opts_default(&def);
        o = &def;
    }
    if (!g.ready)
        return false;
    if ((double)mapped_now() > o->frag_threshold * (double)g.live_bytes) {
        size_t r = alloc_compact_reclaimable(o->cls);
        if (r > 0 && r >= o->min_reclaim)
            return true;
    }
    /* Per class as well: the overall ratio includes every class's slot
     * rounding and densely packed classes, which can hide a few classes
     * full of holes (values written and half deleted size by size leave
     * holes only in each class's last sizes). Only the whole arenas of the
     * classes over the threshold count towards min_reclaim, so a run still
     * has at least that much to give back. */
    unsigned from, to;
    class_range(o->cls, &from, &to);
    size_t arenas = 0;
    for (unsigned ci = from; ci < to; ci++) {
        const struct size_class *c = &g.cls[ci];
        if ((double)c->arenas * (double)g.arena_size > o->frag_threshold * (double)c->live_bytes)
            arenas += class_reclaimable(ci);
    }
    return arenas > 0 && arenas * g.arena_size >= o->min_reclaim;
}

static void count(uint64_t *run_field, uint64_t *total_field, uint64_t n)
{
    *run_field += n;
    *total_field += n;
}

#define COUNT(field, n) count(&mv.run.field, &mv.total.field, (n))

/* Ends the mover's hold on slated arena a (already off the plan list):
 * unmapped if it emptied, else back on the allocation lists. */
static void mover_drop(struct alloc_arena *a)
{
    a->flags &= (uint8_t)~FLAG_MOVER;
    if (a->live == 0) {
        arena_unlink_empty(&g.cls[a->cls], a, true);   /* queued: release_some unmaps it */
        COUNT(arenas_evacuated, 1);
    } else {
        alloc_arena_unpin(a);
        COUNT(arenas_abandoned, 1);
    }
    mv.done++;
}

static void plan_unlink(struct alloc_arena *a)
{
    blist_unlink(&mv.plan, &mv.plan_tail, a);
    a->bprev = a->bnext = NULL;
    mv.nplan--;
}

static void plan_append(struct alloc_arena *a)
{
    a->bnext = NULL;
    a->bprev = mv.plan_tail;
    if (mv.plan_tail)
        mv.plan_tail->bnext = a;
    else
        mv.plan = a;
    mv.plan_tail = a;
    mv.nplan++;
}

/* Gives back the densest slated arena not yet started. */
static void unplan_tail(void)
{
    struct alloc_arena *a = mv.plan_tail;
    plan_unlink(a);
    mover_drop(a);
}

static int arena_ptr_cmp(const void *x, const void *y)
{
    const struct alloc_arena *a = *(const struct alloc_arena *const *)x;
    const struct alloc_arena *b = *(const struct alloc_arena *const *)y;
    return sparser(a, b) ? -1 : sparser(b, a) ? 1 : 0;
}

static void slate(struct alloc_arena *a)
{
    bucket_remove(&g.bl[a->cls][a->band], a);
    a->flags |= FLAG_BUSY | FLAG_MOVER;
    plan_append(a);
}

/* Slates the k sparsest arenas of the pair under the cursor. Returns the
 * work done, in arenas looked at. */
static size_t plan_pair(void)
{
    unsigned ci = mv.cls, b = mv.band;
    struct band_lists *bl = &g.bl[ci][b];
    size_t k = pair_reclaimable(ci, b);
    mv.planned_total -= mv.est[ci][b];
    mv.est[ci][b] = 0;
    mv.planned = true;
    if (k == 0)
        return 1;
    /* candidates: the lowest buckets until they hold k arenas (pinned
     * arenas are on no list and so never candidates) */
    size_t m = 0;
    unsigned last = 0;
    for (unsigned q = 0; q < NB && m < k; q++) {
        for (struct alloc_arena *a = bl->head[q]; a; a = a->bnext)
            m++;
        last = q;
    }
    if (m == 0)
        return 1;
    struct alloc_arena **v = malloc(m * sizeof *v);
    size_t n = 0;
    if (v) {
        for (unsigned q = 0; q <= last; q++)
            for (struct alloc_arena *a = bl->head[q]; a; a = a->bnext)
                v[n++] = a;
        qsort(v, n, sizeof *v, arena_ptr_cmp);
        if (n > k)
            n = k;
        for (size_t i = 0; i < n; i++)
            slate(v[i]);
        free(v);
    } else {
        /* no scratch: bucket order is sparsest to within an eighth */
        for (unsigned q = 0; q <= last && n < k; q++)
            while (bl->head[q] && n < k) {
                slate(bl->head[q]);
                n++;
            }
    }
    mv.planned_total += n;
    if (n > 0 && mv.touched_cls != ci) {
        mv.touched_cls = ci;
        COUNT(classes_touched, 1);
    }
    return m;
}

/* Free slots of the pair's arenas that are not slated. */
static size_t free_unslated(void)
{
    const struct band_lists *bl = &g.bl[mv.cls][mv.band];
    size_t per = g.cls[mv.cls].nslots;
    size_t fr = (size_t)bl->narenas * per - g.cls[mv.cls].blive[mv.band];
    for (const struct alloc_arena *a = mv.plan; a; a = a->bnext)
        fr -= per - a->live;
    if (mv.cur)
        fr -= per - mv.cur->live;
    return fr;
}

/* Takes the next slated arena of the pair, after checking that the live
 * blocks of all slated arenas still fit in the others. false: pair done. */
static bool next_arena(void)
{
    size_t fr = free_unslated(), need = 0, per = g.cls[mv.cls].nslots;
    for (const struct alloc_arena *a = mv.plan; a; a = a->bnext)
        need += a->live;
    while (mv.plan && need > fr) {
        struct alloc_arena *t = mv.plan_tail;
        /* given back, it becomes a destination, unless it is empty: then
         * it is released and gives no room */
        if (t->live > 0) {
            need -= t->live;
            fr += per - t->live;
        }
        unplan_tail();
    }
    if (!mv.plan)
        return false;
    mv.cur = mv.plan;
    plan_unlink(mv.cur);
    mv.cursor = 0;
    return true;
}

static void finish_run(void)
{
    mv.running = false;
    mv.mapped_after = mapped_now();
    mv.duration_us = mover_now() - mv.start_us;
    mv.last_duration_us = mv.duration_us;
    mv.last_mapped_before = mv.mapped_before;
    mv.last_mapped_after = mv.mapped_after;
    mv.runs_finished++;
}

/* Gives back the arena being evacuated and every arena still planned in
 * the current pair (a pair that ends and an aborted run both do this). */
static void pair_drop_work(void)
{
    if (mv.cur) {
        struct alloc_arena *a = mv.cur;
        mv.cur = NULL;
        mover_drop(a);
    }
    while (mv.plan)
        unplan_tail();
    mv.planned = false;
}

/* Gives back everything slated in the pair and moves the cursor on;
 * finishes the run after the last pair. */
static void pair_done(void)
{
    pair_drop_work();
    if (++mv.band == ALLOC_BANDS) {
        mv.band = 0;
        mv.cls++;
    }
    /* past the last pair the run ends once the releases are done: now if
     * none are queued, so a running mover's cursor is past the end only
     * while arenas are still being released (verify_mover relies on it) */
    if (mv.cls >= mv.cls_end && g.rel_head == NULL)
        finish_run();
}

void alloc_compact_start(const struct alloc_compact_opts *o)
{
    if (mv.running)
        return;
    if (!g.ready && alloc_setup(NULL) != 0)
        return;
    struct alloc_compact_opts def;
    if (o == NULL) {
        alloc_compact_opts_default(&def);
        o = &def;
    }
    memset(&mv.run, 0, sizeof(mv.run));
    memset(mv.est, 0, sizeof(mv.est));
    mv.filter = o->cls < 0 ? -1 : o->cls;
    class_range(o->cls, &mv.cls, &mv.cls_end);
    mv.band = 0;
    mv.planned = false;
    mv.touched_cls = ~0u;
    mv.planned_total = mv.done = 0;
    for (unsigned ci = mv.cls; ci < mv.cls_end; ci++)
        for (unsigned b = 0; b < ALLOC_BANDS; b++) {
            mv.est[ci][b] = (uint32_t)pair_reclaimable(ci, b);
            mv.planned_total += mv.est[ci][b];
        }
    mv.mapped_before = mapped_now();
    mv.mapped_after = mv.mapped_before;
    mv.start_us = mover_now();
    mv.duration_us = 0;
    mv.runs++;
    mv.running = true;
    if (mv.cls >= mv.cls_end)
        finish_run();
}

void alloc_compact_abort(void)
{
    if (!mv.running)
        return;
    pair_drop_work();
    COUNT(arenas_released, release_all());
    finish_run();
}

enum batch { BATCH_GO, BATCH_STOP, BATCH_DONE };

/*
 * One batch of work: at most ALLOC_COMPACT_BATCH_BLOCKS blocks visited (in
 * units of 64: looking at a pair or arena costs a fraction of a block) or
 * ALLOC_COMPACT_BATCH_BYTES bytes of slots handled, or one pair planned.
 */
static enum batch mover_batch(alloc_evacuate_fn fn, void *ctx)
{
    size_t units = 0, bytes = 0;
    const size_t max_units = (size_t)ALLOC_COMPACT_BATCH_BLOCKS * 64;
    while (units < max_units && bytes < ALLOC_COMPACT_BATCH_BYTES) {
        if (!mv.running)
            return BATCH_DONE;
        if (g.rel_head) {
            size_t nrel = g.nreleasing;
            bytes += release_some(4 * ALLOC_COMPACT_BATCH_BYTES) / 4;
            if (g.nreleasing < nrel)
                COUNT(arenas_released, 1);
            if (g.rel_head == NULL && mv.cls >= mv.cls_end)
                finish_run();   /* that was the last release of the run */
            continue;
        }
        if (mv.cls >= mv.cls_end) {
            finish_run();
            return BATCH_DONE;
        }
        if (!mv.planned) {
            size_t looked = plan_pair();
            units += 1 + looked * 4;
            if (mv.nplan == 0) {
                pair_done();
                continue;
            }
            return BATCH_GO;   /* a plan may have sorted many arenas */
        }
        if (!mv.cur) {
            units += 16;
            if (!next_arena())
                pair_done();
            continue;
        }
        struct alloc_arena *a = mv.cur;
        struct band_lists *bl = &g.bl[a->cls][a->band];
        /* next live slot at or after the cursor (an empty bitmap word
         * costs a unit); the arena is slated, so no slot becomes live
         * behind our back */
        size_t i = next_live(a, mv.cursor, &units);
        if (i >= a->bumped) {
            mv.cur = NULL;
            mover_drop(a);
            units += 16;
            continue;
        }
        if (bl->nonempty == 0) {
            /* no unslated arena with a free slot: a copy would need a new arena */
            if (mv.plan)
                unplan_tail();
            else
                pair_done();
            units += 16;
            continue;
        }
        void *block = a->slots + i * a->slot_size;
        uint64_t moved = mv.run.blocks_moved;
        mv.in_callback = true;
        mv.cb_bytes = 0;
        bool ok = fn(block, ctx);
        mv.in_callback = false;
        if (!mv.running || mv.cur != a)
            return BATCH_DONE;   /* the callback aborted the run */
        units += 64;
        bytes += a->slot_size + mv.cb_bytes;
        mv.cursor = i + 1;
        if (!ok) {
            COUNT(move_failures, 1);
            pair_done();
            return mv.running ? BATCH_STOP : BATCH_DONE;
        }
        if (mv.run.blocks_moved == moved && !(*bm_word(a, (uint32_t)(i >> 6)) & (1ull << (i & 63))))
            COUNT(blocks_dropped, 1);
    }
    return mv.running ? BATCH_GO : BATCH_DONE;
}

bool alloc_compact_step(uint64_t budget_us, alloc_evacuate_fn fn, void *ctx)
{
    if (!mv.running)
        return false;
    uint64_t t0 = mover_now();
    uint64_t deadline = budget_us > UINT64_MAX - t0 ? UINT64_MAX : t0 + budget_us;
    uint64_t t = t0;
    for (;;) {
        enum batch r = mover_batch(fn, ctx);
        t = mover_now();
        if (r != BATCH_GO || t >= deadline)
            break;
    }
    COUNT(steps, 1);
    COUNT(time_us, t - t0);
    if (mv.running)
        mv.duration_us = t - mv.start_us;
    return mv.running;
}

void alloc_compact_status(struct alloc_compact_status *st)
{
    memset(st, 0, sizeof(*st));
    st->running = mv.running;
    st->cls = mv.filter;
    st->runs = mv.runs;
    st->runs_finished = mv.runs_finished;
    st->arenas_planned = mv.planned_total;
    st->arenas_done = mv.done;
    st->cur_cls = mv.cls;
    st->cur_band = mv.band;
    st->classes_touched = mv.run.classes_touched;
    st->arenas_evacuated = mv.run.arenas_evacuated;
    st->arenas_released = mv.run.arenas_released;
    st->arenas_abandoned = mv.run.arenas_abandoned;
    st->blocks_moved = mv.run.blocks_moved;
    st->bytes_moved = mv.run.bytes_moved;
    st->blocks_dropped = mv.run.blocks_dropped;
    st->move_failures = mv.run.move_failures;
    st->steps = mv.run.steps;
    st->time_us = mv.run.time_us;
    st->duration_us = mv.running ? mover_now() - mv.start_us : mv.duration_us;
    st->mapped_before = mv.mapped_before;
    st->mapped_after = mv.running ? mapped_now() : mv.mapped_after;
    st->total = mv.total;
    st->last_duration_us = mv.last_duration_us;
    st->last_mapped_before = mv.last_mapped_before;
    st->last_mapped_after = mv.last_mapped_after;
    st->reclaimable = alloc_compact_reclaimable(-1);
}

void alloc_compact_test_clock(uint64_t (*now_us)(void))
{
    mv.clock = now_us;
}

void *alloc_move(const void *from)
{
    struct alloc_arena *a = arena_of_ptr(from);
    size_t size;
    void *p;
    if (a->magic != ARENA_MAGIC) {
        const struct large *l = (const void *)a;
        if (l->magic != LARGE_MAGIC || (const char *)from != (const char *)l + LARGE_HDR)
            alloc_panic("move of a pointer that is not a live block", from);
        size = l->size;
        p = large_alloc(size);   /* counts a failure and sets errno itself */
    } else {
        size_t off = (size_t)((const char *)from - a->slots);
        uint32_t idx = slot_index(a, off);
        if (off >= (size_t)a->bumped * a->slot_size || (size_t)idx * a->slot_size != off ||
            !(*bm_word(a, idx >> 6) & (1ull << (idx & 63))))
            alloc_panic("move of a pointer that is not a live block", from);
        size = a->slot_size - slack_get(a, idx);
        struct band_lists *bl = &g.bl[a->cls][a->band];
        /* keep the copy out of from's own arena: pin it for the allocation
         * unless it already is (the mover's source is); it keeps from, so
         * the unpin puts it back on its list */
        bool pinned_here = alloc_arena_pin(a);
        struct alloc_arena *d = bl->nonempty ? bl->head[31 - __builtin_clz(bl->nonempty)]
                                             : arena_new(a->cls, a->band);
        p = d ? arena_take(&g.cls[a->cls], d, size) : NULL;
        if (pinned_here)
            alloc_arena_unpin(a);
        if (p == NULL) {
            g.failures++;
            errno = ENOMEM;
        }
    }
    if (p == NULL)
        return NULL;
    memcpy(p, from, size);
    if (mv.in_callback) {
        COUNT(blocks_moved, 1);
        COUNT(bytes_moved, size);
        mv.cb_bytes += size;
    }
    return p;
}

/* ------------------------------------------------------------------ verify */

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "alloc_verify: %s: ", #cond);                    \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            return false;                                                    \
        }                                                                    \
    } while (0)

static bool verify_arena(unsigned ci, const struct alloc_arena *a, bool retained, size_t *req)
{
    const struct size_class *c = &g.cls[ci];
    CHECK(header_of_base(base_of(a)) == a, "arena %p misplaced", (const void *)a);
    CHECK(a->magic == ARENA_MAGIC, "arena %p", (const void *)a);
    CHECK(a->cls == ci, "arena %p class %u in list of %u", (const void *)a, a->cls, ci);
    CHECK(a->band < ALLOC_BANDS, "arena %p", (const void *)a);
    CHECK(a->nslots == c->nslots && a->slot_size == c->size, "arena %p", (const void *)a);
    CHECK(a->slots == (const char *)base_of(a) + c->slots_off, "arena %p", (const void *)a);
    CHECK(a->group_bytes == c->group_bytes && a->slack_log == c->slack_log &&
              a->recip == c->recip,
          "arena %p copies of class fields", (const void *)a);
    CHECK(a->bumped <= a->nslots && a->live <= a->bumped, "arena %p live %u bumped %u",
          (const void *)a, a->live, a->bumped);
    if (retained) {
        CHECK(a->live == 0 && a->bucket == RETAINED && a->flags == 0, "retained arena %p",
              (const void *)a);
    } else {
        CHECK(a->live >= 1 || (a->flags & FLAG_BUSY), "empty arena %p still listed",
              (const void *)a);
        CHECK(a->bucket == bucket_of(c, a->live), "arena %p bucket %u live %u of %u",
              (const void *)a, a->bucket, a->live, a->nslots);
    }
    /* bitmap: popcount, nothing at or past bumped; slack sums */
    size_t pop = 0;
    uint32_t words = (a->nslots + 63) / 64;
    for (uint32_t w = 0; w < words; w++) {
        uint64_t bits = *bm_word(a, w);
        pop += (size_t)__builtin_popcountll(bits);
        while (bits) {
            uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            CHECK(i < a->bumped, "arena %p live bit %u beyond bumped %u", (const void *)a, i,
                  a->bumped);
            uint32_t sl = slack_get(a, i);
            CHECK(sl < c->size, "arena %p slot %u slack %u", (const void *)a, i, sl);
            *req += c->size - sl;
        }
    }
    CHECK(pop == a->live, "arena %p popcount %zu live %u", (const void *)a, pop, a->live);
    /* free list: bounded walk; terminating within bumped - live steps at NULL
     * proves there is no cycle and no duplicate. */
    size_t want = a->bumped - a->live, n = 0;
    for (const char *p = a->free_head; p; p = *(const char *const *)(const void *)p) {
        CHECK(n < want, "arena %p free list longer than %zu (cycle?)", (const void *)a, want);
        size_t off = (size_t)(p - a->slots);
        CHECK(p >= a->slots && off < (size_t)a->bumped * c->size,
              "arena %p free link %p outside", (const void *)a, (const void *)p);
        CHECK(off % c->size == 0, "arena %p free link %p off boundary", (const void *)a,
              (const void *)p);
        uint32_t i = (uint32_t)(off / c->size);
        CHECK(slot_index(a, off) == i, "arena %p reciprocal", (const void *)a);
        CHECK(!(*bm_word(a, i >> 6) & (1ull << (i & 63))), "arena %p free slot %u is live",
              (const void *)a, i);
        n++;
    }
    CHECK(n == want, "arena %p free list %zu, expected %zu", (const void *)a, n, want);
    CHECK(a->live + n + (a->nslots - a->bumped) == a->nslots, "arena %p", (const void *)a);
    return true;
}

/* The mover's state: the slated arenas are exactly the plan list and the
 * current arena, all of the pair under the cursor, pinned by the mover;
 * nothing is slated between runs; progress adds up. */
static bool verify_mover(size_t slated)
{
    CHECK(mv.done <= mv.planned_total, "mover done %zu > planned %zu", mv.done,
          mv.planned_total);
    if (!mv.running) {
        CHECK(slated == 0 && mv.plan == NULL && mv.cur == NULL && mv.nplan == 0,
              "no run, but %zu arenas slated", slated);
        return true;
    }
    /* past the last pair, the run only waits for its releases: nothing
     * slated, nothing planned, and at least one arena still releasing */
    bool past_end = mv.cls == mv.cls_end && mv.band == 0 && g.rel_head != NULL &&
                    !mv.planned && slated == 0;
    CHECK((mv.cls < mv.cls_end || past_end) && mv.cls_end <= g.nclasses &&
              mv.band < ALLOC_BANDS,
          "mover cursor %u/%u of %u", mv.cls, mv.band, mv.cls_end);
    CHECK(mv.planned || (mv.plan == NULL && mv.cur == NULL), "arenas slated before planning");
    size_t n = 0;
    const struct alloc_arena *prev = NULL;
    for (const struct alloc_arena *a = mv.plan; a; a = a->bnext) {
        CHECK(n < slated, "plan list longer than the slated arenas");
        CHECK(a->bprev == prev, "plan list links");
        CHECK(a->magic == ARENA_MAGIC && (a->flags & FLAG_MOVER) && a->cls == mv.cls &&
                  a->band == mv.band,
              "plan arena %p not slated in pair %u/%u", (const void *)a, mv.cls, mv.band);
        n++;
        prev = a;
    }
    CHECK(mv.plan_tail == prev && n == mv.nplan, "plan list tail/count");
    if (mv.cur) {
        CHECK((mv.cur->flags & FLAG_MOVER) && mv.cur->cls == mv.cls && mv.cur->band == mv.band,
              "current arena %p not slated", (const void *)mv.cur);
        CHECK(mv.cursor <= mv.cur->nslots, "cursor %zu", mv.cursor);
        n++;
    }
    CHECK(n == slated, "%zu arenas slated, %zu in the plan", slated, n);
    CHECK(mv.done + n <= mv.planned_total, "progress: done %zu + slated %zu > planned %zu",
          mv.done, n, mv.planned_total);
    return true;
}

bool alloc_verify(void)
{
    if (!g.ready) {
        CHECK(g.narenas == 0 && g.nlarge == 0 && g.lru_head == NULL, "not set up");
        return true;
    }
    size_t total_arenas = 0, slated = 0;
    for (unsigned ci = 0; ci < g.nclasses; ci++) {
        const struct size_class *c = &g.cls[ci];
        CHECK(c->size == class_size(ci), "class %u", ci);
        CHECK(ci == 0 || c->size > g.cls[ci - 1].size, "class %u", ci);
        CHECK(layout_end(c, c->nslots, NULL) <= g.arena_size, "class %u", ci);
        size_t narenas = 0, live = 0, req = 0;
        size_t per_band[ALLOC_BANDS] = {0}, pinned[ALLOC_BANDS] = {0};
        size_t band_live[ALLOC_BANDS] = {0};
        const struct alloc_arena *prev = NULL;
        for (const struct alloc_arena *a = c->all; a; a = a->cnext) {
            CHECK(a->cprev == prev, "class %u list links", ci);
            CHECK(narenas < g.narenas + 1, "class %u list cycle", ci);
            if (!verify_arena(ci, a, false, &req))
                return false;
            narenas++;
            live += a->live;
            per_band[a->band]++;
            band_live[a->band] += a->live;
            pinned[a->band] += (a->flags & FLAG_BUSY) != 0;
            if (a->flags & FLAG_MOVER) {
                CHECK(a->flags & FLAG_BUSY, "slated arena %p not pinned", (const void *)a);
                slated++;
            }
            prev = a;
        }
        CHECK(narenas == c->arenas, "class %u arenas %zu counted %zu", ci, c->arenas, narenas);
        CHECK(live == class_live(c), "class %u live %zu counted %zu", ci, class_live(c), live);
        CHECK(req == c->live_bytes, "class %u live_bytes %zu counted %zu", ci, c->live_bytes,
              req);
        for (unsigned b = 0; b < ALLOC_BANDS; b++) {
            const struct band_lists *bl = &g.bl[ci][b];
            size_t listed = 0;
            for (unsigned k = 0; k <= NB; k++) {
                CHECK(k == NB || ((bl->nonempty >> k) & 1) == (bl->head[k] != NULL),
                      "class %u band %u bucket %u mask", ci, b, k);
                const struct alloc_arena *bp = NULL;
                for (const struct alloc_arena *a = bl->head[k]; a; a = a->bnext) {
                    CHECK(listed < per_band[b], "class %u band %u bucket lists too long", ci, b);
                    CHECK(a->bprev == bp, "class %u band %u bucket %u links", ci, b, k);
                    CHECK(a->cls == ci && a->band == b && a->bucket == k,
                          "arena %p in wrong bucket list", (const void *)a);
                    listed++;
                    bp = a;
                }
            }
            CHECK(bl->nonempty >> NB == 0, "class %u band %u mask", ci, b);
            CHECK(c->blive[b] == band_live[b], "class %u band %u live %zu counted %zu", ci, b,
                  c->blive[b], band_live[b]);
            CHECK(listed + pinned[b] == per_band[b] && bl->narenas == per_band[b],
                  "class %u band %u: %zu listed, %zu pinned, %u counted, %zu in class list", ci,
                  b, listed, pinned[b], bl->narenas, per_band[b]);
        }
        total_arenas += narenas;
    }
    for (unsigned ci = g.nclasses; ci < MAX_CLASSES; ci++)
        for (unsigned b = 0; b < ALLOC_BANDS; b++)
            CHECK(g.bl[ci][b].nonempty == 0 && g.bl[ci][b].narenas == 0, "class %u", ci);
    CHECK(total_arenas == g.narenas, "arenas %zu counted %zu", g.narenas, total_arenas);
    if (!verify_mover(slated))
        return false;

    size_t nret = 0;
    const struct alloc_arena *rp = NULL;
    for (const struct alloc_arena *a = g.lru_head; a; a = a->enext) {
        CHECK(nret < g.nretained, "retained list too long");
        CHECK(a->eprev == rp, "retained links");
        CHECK(a->magic == ARENA_MAGIC && a->cls < g.nclasses && a->band < ALLOC_BANDS,
              "retained %p", (const void *)a);
        size_t req = 0;
        if (!verify_arena(a->cls, a, true, &req))
            return false;
        CHECK(nret < DIRTY_MAX || a->bumped == 0, "retained %p at %zu still dirty",
              (const void *)a, nret);
        nret++;
        rp = a;
    }
    CHECK(g.lru_tail == rp, "retained tail");
    CHECK(nret == g.nretained, "retained %zu counted %zu", g.nretained, nret);
    CHECK(nret <= g.retain, "retained %zu > retain %u", nret, g.retain);
    size_t nspare = 0;
    for (unsigned ci = 0; ci < g.nclasses; ci++)
        for (unsigned b = 0; b < ALLOC_BANDS; b++) {
            const struct alloc_arena *sp = NULL;
            for (const struct alloc_arena *a = g.bl[ci][b].spare; a; a = a->bnext) {
                CHECK(nspare < nret, "spare lists longer than the retained list");
                CHECK(a->bprev == sp && a->cls == ci && a->band == b && a->bucket == RETAINED,
                      "spare %p of class %u band %u", (const void *)a, ci, b);
                nspare++;
                sp = a;
            }
        }
    CHECK(nspare == nret, "spares %zu, retained %zu", nspare, nret);
    size_t nrel = 0;
    for (const struct alloc_arena *a = g.rel_head; a; a = a->enext) {
        CHECK(nrel < g.nreleasing, "releasing list too long");
        CHECK(a->magic == ARENA_MAGIC && a->live == 0 && a->flags == 0,
              "releasing arena %p", (const void *)a);
        CHECK(a->enext != NULL || g.rel_tail == a, "releasing tail");
        nrel++;
    }
    CHECK(nrel == g.nreleasing && (nrel > 0 || (g.rel_tail == NULL && g.rel_off == 0)),
          "releasing %zu counted %zu", g.nreleasing, nrel);
    CHECK(mv.running || nrel == 0, "arenas still releasing after the run");

    size_t nl = 0, lmap = 0, lreq = 0, luse = 0;
    const struct large *lp = NULL;
    for (const struct large *l = g.large; l; l = l->next) {
        CHECK(nl < g.nlarge, "large list too long");
        CHECK(l->magic == LARGE_MAGIC && l->prev == lp, "large %p", (const void *)l);
        CHECK(header_of_base(base_of(l)) == l, "large %p misplaced", (const void *)l);
        CHECK(l->size > g.large_max && l->usable >= l->size &&
                  (uintptr_t)l - base_of(l) + LARGE_HDR + l->usable == l->map_size &&
                  l->map_size % g.page == 0,
              "large %p sizes", (const void *)l);
        nl++;
        lmap += l->map_size;
        lreq += l->size;
        luse += l->usable;
        lp = l;
    }
    CHECK(nl == g.nlarge && lmap == g.large_mapped && luse == g.large_usable, "large totals");
    size_t live = lreq;
    for (unsigned i = 0; i < g.nclasses; i++)
        live += g.cls[i].live_bytes;
    CHECK(live == g.live_bytes, "live bytes %zu, classes and large blocks hold %zu", g.live_bytes,
          live);
    return true;
}
