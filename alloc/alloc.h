/*
 * alloc: where entry memory comes from.
 *
 * The keyspace stores every entry (header, key and value) as one contiguous
 * block obtained here. This is the only interface through which it gets
 * entry memory, so that the allocator underneath can be swapped (plain
 * malloc first, then pooled size-class arenas) without touching callers.
 *
 * The implementation (alloc.c) is a pooled size-class arena allocator: every
 * small block lives in an arena (one aligned mmap, one size class, one
 * lifetime band); blocks above a threshold get a mapping of their own. See
 * the top of alloc.c for the size classes, the placement policy and how an
 * online compactor is meant to use the introspection API below.
 *
 * alloc knows nothing about keys, the network or the protocol. It is not
 * thread-safe: the daemon calls it from its single event-loop thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lifetime hint for a block. Blocks with the same band are placed together
 * so that they tend to die together: band 0 is "no expiry", higher bands are
 * shorter or longer remaining lifetimes as chosen by the caller. A band
 * >= ALLOC_BANDS is treated as ALLOC_BANDS - 1. */
#define ALLOC_BANDS 8

/* Limits of alloc_options.arena_size (both powers of two). */
#define ALLOC_ARENA_MIN ((size_t)1 << 16)
#define ALLOC_ARENA_MAX ((size_t)1 << 30)

struct alloc_options {
    size_t arena_size;       /* bytes per arena; power of two in [ALLOC_ARENA_MIN, ALLOC_ARENA_MAX] */
    unsigned arena_retain;   /* empty arenas kept mapped (purged) for reuse */
};

void alloc_options_default(struct alloc_options *opt);

/*
 * Idempotent; returns 0 or an errno (EINVAL for bad options). A second call
 * while set up returns 0 and keeps the first options; call alloc_teardown()
 * first to change them. alloc_block() sets up with the defaults if nobody
 * did.
 */
int alloc_setup(const struct alloc_options *opt);
/* Unmaps everything; every block handed out becomes invalid. */
void alloc_teardown(void);

/*
 * Returns a block of at least size bytes, aligned to 8, or NULL with errno
 * set (ENOMEM) when memory cannot be obtained. Never aborts. Blocks whose
 * usable size is a multiple of 16 are aligned to 16; large blocks to 64.
 * size 0 is served as size 1.
 */
void *alloc_block(size_t size, unsigned band);

/* Releases a block obtained from alloc_block. NULL is ignored. A pointer that
 * is not a live block (double free, interior pointer) aborts the process. */
void alloc_free(void *p);

/* Usable size of a live block (>= the size it was requested with): the slot
 * size of its class, or the usable bytes of a large block's mapping. */
size_t alloc_usable(const void *p);

struct alloc_stats {
    size_t live_blocks;    /* blocks handed out and not freed */
    size_t live_bytes;     /* sum of requested sizes of live blocks */
    size_t slot_bytes;     /* sum of usable sizes of live blocks */
    size_t mapped_bytes;   /* bytes the allocator holds from the OS (arenas in use,
                              retained arenas and large blocks) */
    uint64_t alloc_failures;
    /* appended with the arena allocator */
    size_t arena_size;
    size_t arenas;           /* arenas holding at least one live block */
    size_t retained_arenas;  /* empty arenas kept for reuse (purged) */
    size_t large_blocks;     /* blocks with a mapping of their own */
    size_t large_bytes;      /* bytes mapped for them */
    size_t large_threshold;  /* requests above this many bytes are large */
    uint64_t os_maps;        /* successful mmap calls */
    uint64_t os_unmaps;      /* munmap calls (of whole arenas / large blocks) */
    uint64_t os_purges;      /* madvise(MADV_DONTNEED) calls */
};

/* O(number of classes): cheap enough for every INFO. */
void alloc_stats(struct alloc_stats *st);

/* ---- per size class statistics (MEMORY STATS) ---- */

struct alloc_class_stats {
    unsigned cls;          /* class index */
    size_t slot_size;      /* bytes per slot */
    size_t arenas;         /* arenas of this class holding live blocks (empty
                              retained ones count in alloc_stats.retained_arenas) */
    size_t slots;          /* slots in those arenas */
    size_t live;           /* live blocks */
    size_t live_bytes;     /* requested bytes of the live blocks */
    size_t rounding;       /* live * slot_size - live_bytes */
    size_t free_bytes;     /* (slots - live) * slot_size */
    size_t overhead;       /* arena bytes that are not slots (header, bitmap, tail) */
    size_t waste;          /* arenas * arena_size - live_bytes (sum of the three above) */
};

/* Number of small size classes for the current arena size (sets up with the
 * defaults if nobody did). */
unsigned alloc_class_count(void);
/* Slot size of class cls (0 if out of range). */
size_t alloc_class_size(unsigned cls);
/* Class a request of size bytes is served from, or alloc_class_count() when
 * it is a large block. */
unsigned alloc_size_class(size_t size);
/* Fills st for class cls; false if cls is out of range. */
bool alloc_class_stats(unsigned cls, struct alloc_class_stats *st);
/* Calls fn for every class that has at least one arena (all classes when
 * all_classes is set). */
typedef void (*alloc_class_stats_fn)(const struct alloc_class_stats *st, void *ctx);
void alloc_class_stats_foreach(bool all_classes, alloc_class_stats_fn fn, void *ctx);

/* ---- arena introspection, for an expiry sweep or a compactor ---- */

struct alloc_arena;  /* opaque */

struct alloc_arena_info {
    unsigned cls;
    unsigned band;
    size_t slot_size;
    size_t slots;
    size_t live;
    unsigned bucket;     /* occupancy bucket: 0 sparsest .. ALLOC_OCC_BUCKETS-1, ALLOC_OCC_BUCKETS = full */
    const void *base;    /* start of the arena mapping */
};

#define ALLOC_OCC_BUCKETS 8

/* The arena holding live block p, or NULL for a large block. */
const struct alloc_arena *alloc_arena_of(const void *p);
void alloc_arena_info(const struct alloc_arena *a, struct alloc_arena_info *out);

/* Arenas of class cls in no particular order: first, then next until NULL.
 * The list must not be changed (no alloc/free) while walking it with these
 * two calls, except through alloc_arena_foreach_live below on the current
 * arena; fetch next before freeing anything. */
struct alloc_arena *alloc_arena_first(unsigned cls);
struct alloc_arena *alloc_arena_next(struct alloc_arena *a);

/* An arena of (cls, band) from the sparsest non-empty occupancy bucket, or
 * NULL when the pair has no arena that is not full. O(1). */
struct alloc_arena *alloc_arena_sparsest(unsigned cls, unsigned band);

/*
 * Calls fn(block, ctx) for every live slot of a, in address order; stops
 * early when fn returns false. For the walk the arena is pinned: it is taken
 * off the allocation lists, so blocks that fn allocates (a compactor's
 * copies) land in other arenas, and it stays mapped even if it becomes
 * empty; it is put back, or retired if empty, when the walk ends. fn may
 * free any block and allocate. Returns the number of calls made.
 */
typedef bool (*alloc_live_fn)(void *block, void *ctx);
size_t alloc_arena_foreach_live(struct alloc_arena *a, alloc_live_fn fn, void *ctx);

/*
 * The resumable form, for work spread over cron ticks: visits live slots
 * from slot index *cursor (start with 0) and leaves in *cursor where to go
 * on (the slot count when the walk is complete). Between calls the arena is
 * not pinned, so it may be retired once empty: a caller that keeps an arena
 * across ticks pins it first.
 */
size_t alloc_arena_walk(struct alloc_arena *a, size_t *cursor, alloc_live_fn fn, void *ctx);

/*
 * Pinning takes an arena off the allocation lists (it receives no new
 * blocks) and keeps it mapped even when it becomes empty; unpinning puts it
 * back, or retires it if it is empty. pin returns false if a was already
 * pinned (pins do not nest). Every alloc/free stays valid meanwhile.
 */
bool alloc_arena_pin(struct alloc_arena *a);
void alloc_arena_unpin(struct alloc_arena *a);

/* Drops every retained empty arena (munmap). For MEMORY PURGE and tests. */
void alloc_release_retained(void);

/*
 * Walks every internal structure and checks its invariants; returns true if
 * all hold. Cheap enough for tests to call after each batch of operations.
 * On failure it prints what is wrong to stderr.
 */
bool alloc_verify(void);

/*
 * FOR TESTS ONLY (compiled into every build so that tests run against the
 * shipped code): after n more successful OS mappings, every mapping fails as
 * if the kernel had refused it (ENOMEM), until called again. n < 0 turns the
 * injection off.
 */
void alloc_fail_after(long n);
