/*
 * alloc: where entry memory comes from.
 *
 * The keyspace stores every entry (header, key and value) as one contiguous
 * block obtained here. This is the only interface through which it gets
 * entry memory, so that the allocator underneath can be swapped (plain
 * malloc first, then pooled size-class arenas) without touching callers.
 *
 * The implementation (the .c files of alloc/) is a pooled size-class arena
 * allocator: every small block lives in an arena (one aligned mmap, one size
 * class, one lifetime band); blocks above a threshold get a mapping of their
 * own. See
 * alloc/internal.h for the glossary, the arena layout and the list of
 * files, class.c for the size classes, arena.c for the placement policy and
 * compact.c for how the online compactor uses the introspection API below.
 *
 * alloc knows nothing about keys, the network or the protocol. It is not
 * thread-safe: the daemon calls it from its single event-loop thread.
 */
#pragma once

#include <limits.h>
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

/*
 * alloc's options, declared once. The daemon's option table includes these
 * rows (file, command line, CONFIG GET/SET, --help, conf/compactd.conf);
 * alloc expands them into struct alloc_options (one field per row) and
 * alloc_options_default().
 *
 *   X(field, "name", TYPE, default, min, max, flags, words, "description")
 *
 * TYPE is SIZE (a size_t field, in bytes), INT (an unsigned field) or BOOL
 * (a bool, bounds 0 and 1).
 * default, min and max are numbers in the stored unit: a CFG_MILLI row is
 * stored in thousandths, so compact-frag-threshold 1200 is a ratio of 1.2.
 * flags names the daemon's CFG_* flags and words its enum words: alloc
 * never expands those two columns, so it does not depend on the daemon.
 * alloc_setup and alloc_options_apply refuse values outside [min, max], and
 * an arena size that is not a power of two (the CFG_POW2 row).
 */
#define ALLOC_OPTIONS(X)                                                                        \
    X(arena_size, "arena-size", SIZE, (size_t)1 << 20, ALLOC_ARENA_MIN, ALLOC_ARENA_MAX,        \
      CFG_POW2, NULL, "Bytes per allocator arena (a power of two)")                             \
    X(arena_retain, "arena-retain", INT, 4, 0, 1000000, 0, NULL,                                \
      "Empty arenas kept mapped for reuse instead of returned to the OS")                       \
    X(compact_frag_threshold, "compact-frag-threshold", INT, 1200, 1000, 1000000,               \
      CFG_MUTABLE | CFG_MILLI, NULL,                                                            \
      "Automatic compaction needs mapped arena bytes / live bytes above this ratio")            \
    X(compact_min_reclaim, "compact-min-reclaim", SIZE, (size_t)4 << 20, 0, LLONG_MAX,          \
      CFG_MUTABLE, NULL,                                                                        \
      "Automatic compaction needs at least this many bytes of whole arenas to reclaim")         \
    X(release_thread, "release-thread", BOOL, true, 0, 1, 0, NULL,                              \
      "Compaction returns memory to the OS (madvise, munmap) from a helper thread, so that "    \
      "no such call, slow at times on a VM, holds up requests; no makes the calls in the "      \
      "compaction steps themselves")

typedef size_t alloc_opt_SIZE_t;
typedef unsigned alloc_opt_INT_t;
typedef bool alloc_opt_BOOL_t;

#define ALLOC_OPT_FIELD_(field, name, type, def, min, max, flags, words, desc) \
    alloc_opt_##type##_t field;
struct alloc_options {
    ALLOC_OPTIONS(ALLOC_OPT_FIELD_)
};
#undef ALLOC_OPT_FIELD_

/* Sets every field to its row's default. */
void alloc_options_default(struct alloc_options *opt);

/*
 * Idempotent; returns 0 or an errno (EINVAL for bad options: see
 * ALLOC_OPTIONS). A second call while set up returns 0 and keeps the first
 * options; call alloc_teardown() first to change them. alloc_block() sets
 * up with the defaults if nobody did. NULL means the defaults.
 */
int alloc_setup(const struct alloc_options *opt);

/*
 * Applies the fields of the run-time changeable (CFG_MUTABLE) rows of o,
 * the compaction thresholds, to the running allocator; the other fields
 * take effect only through alloc_setup and are ignored here. Returns 0, or
 * EINVAL (and changes nothing) when a field of o is outside its row's
 * bounds. alloc_setup and alloc_teardown replace what was applied.
 */
int alloc_options_apply(const struct alloc_options *o);
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

/*
 * ---- block handles ----
 *
 * A handle names a live block of an arena in ALLOC_HANDLE_BITS bits, for an
 * owner whose references to blocks are a large part of its memory (the
 * keyspace's index holds one per entry: 4 bytes where a pointer takes 8).
 * It is the arena's number, given when the arena is mapped and taken back
 * when it is unmapped, then the block's offset in the arena in 8-byte
 * units; so alloc_deref is one table load and an add, and touches neither
 * the block nor its arena. A handle is valid while its block is live
 * (alloc_move's copy has another). No handle is below ALLOC_HANDLE_MIN
 * (arena number 0 is never given), so an owner may use smaller values as
 * markers, and every handle leaves the top bit of a uint32_t clear.
 *
 * The price: 2^31 / (arena_size / 8) arena numbers, so at most 16 GiB of
 * arenas (16384 of 1 MiB) at once; an arena past that fails as a refused
 * mapping does (ENOMEM, counted in alloc_failures). Large blocks have no
 * handle (alloc_arena_of(p) == NULL).
 */
#define ALLOC_HANDLE_BITS 31
#define ALLOC_HANDLE_MIN ((uint32_t)1 << 13)

/* The handle of p, a live block in an arena; anything else aborts. */
uint32_t alloc_handle(const void *p);

/* For an owner's verification: whether h could be a handle now, that is,
 * names an arena that is mapped (alloc_deref(h) is then safe to read; the
 * block there may be free). */
bool alloc_handle_mapped(uint32_t h);

/* What alloc_deref reads: alloc's, set up by alloc_setup, never written by
 * anyone else. base[n] is the mapping of arena number n. */
struct alloc_handle_map {
    uintptr_t *base;
    unsigned shift;      /* offset bits of a handle: log2(arena_size / 8) */
    uint32_t off_mask;   /* (1 << shift) - 1 */
};
extern struct alloc_handle_map alloc_hmap;

/* The block a handle names. */
static inline void *alloc_deref(uint32_t h)
{
    return (void *)(alloc_hmap.base[h >> alloc_hmap.shift] + ((uintptr_t)(h & alloc_hmap.off_mask) << 3));
}

/*
 * alloc's metrics, declared once: X(field, KIND, "help"). KIND is COUNTER
 * (only grows) or GAUGE (a current value); alloc never expands it. Each
 * list generates the fields of its struct, under the names below; the
 * daemon's metric table includes the same rows and decides the names it
 * prints (INFO, STATS, /metrics, the dashboard).
 */
#define ALLOC_METRIC_U64_(field, kind, help) uint64_t field;
#define ALLOC_METRIC_SIZE_(field, kind, help) size_t field;

/* struct alloc_stats */
#define ALLOC_STATS_METRICS(X)                                                                  \
    X(live_blocks, GAUGE, "Blocks handed out and not freed.")                                   \
    X(live_bytes, GAUGE, "Sum of the requested sizes of live blocks.")                          \
    X(slot_bytes, GAUGE, "Sum of the usable sizes of live blocks.")                             \
    X(mapped_bytes, GAUGE,                                                                      \
      "Bytes the allocator holds from the OS (arenas in use, retained and releasing arenas, "   \
      "large blocks).")                                                                         \
    X(alloc_failures, COUNTER, "Requests refused for lack of memory (ENOMEM).")                 \
    X(arenas, GAUGE, "Arenas holding at least one live block.")                                 \
    X(retained_arenas, GAUGE, "Empty arenas kept mapped (purged) for reuse.")                   \
    X(large_blocks, GAUGE, "Blocks with a mapping of their own.")                               \
    X(large_bytes, GAUGE, "Bytes mapped for large blocks.")                                     \
    X(os_maps, COUNTER, "Successful mmap calls.")                                               \
    X(os_unmaps, COUNTER, "munmap calls (of whole arenas or large blocks).")                    \
    X(os_purges, COUNTER, "madvise(MADV_DONTNEED) calls.")                                      \
    X(frees, COUNTER, "alloc_free calls (the owner's activity: a quiet owner frees nothing).")  \
    X(releasing_arenas, GAUGE,                                                                  \
      "Arenas the mover emptied that are being returned to the OS (in mapped_bytes).")

struct alloc_stats {
    ALLOC_STATS_METRICS(ALLOC_METRIC_U64_)
    /* configuration, not metrics */
    size_t arena_size;
    size_t large_threshold;  /* requests above this many bytes are large */
};

/* O(number of classes): cheap enough for every INFO. */
void alloc_stats(struct alloc_stats *st);

/* alloc_stats().live_bytes in O(1), for checks made on every command. */
size_t alloc_live_bytes(void);

/* ---- per size class statistics (MEMORY STATS) ---- */

/* struct alloc_class_stats: one size class (the rows are per class) */
#define ALLOC_CLASS_METRICS(X)                                                                  \
    X(arenas, GAUGE,                                                                            \
      "Arenas of the class holding live blocks (empty retained ones count in "                 \
      "alloc_stats.retained_arenas).")                                                          \
    X(slots, GAUGE, "Slots in those arenas.")                                                   \
    X(live, GAUGE, "Live blocks of the class.")                                                 \
    X(live_bytes, GAUGE, "Requested bytes of the live blocks.")                                 \
    X(rounding, GAUGE, "Bytes lost to rounding requests up to the slot size.")                  \
    X(free_bytes, GAUGE, "Bytes of the free slots.")                                            \
    X(overhead, GAUGE, "Arena bytes that are not slots (header, bitmap, tail).")                \
    X(waste, GAUGE, "Arena bytes that hold no requested byte (rounding + free + overhead).")    \
    X(reclaimable, GAUGE,                                                                       \
      "Bytes a compaction could return to the OS now: per band, the whole arenas the free "     \
      "slots add up to (alloc_compact_reclaimable(cls)).")                                      \
    X(resident, GAUGE,                                                                          \
      "Bytes of the arenas' resident pages (alloc_arena_info.resident_pages; O(arenas)).")      \
    X(purged, GAUGE, "Bytes of pages inside the arenas that packing returned to the OS.")

struct alloc_class_stats {
    unsigned cls;          /* class index */
    size_t slot_size;      /* bytes per slot */
    ALLOC_CLASS_METRICS(ALLOC_METRIC_SIZE_)
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
    bool pinned;         /* off the allocation lists (a walk or the mover holds it) */
    bool evacuating;     /* slated for evacuation by the running compaction */
    size_t resident_pages;  /* from its base through its last slot below the bump
                               pointer: what it keeps resident */
    size_t purged_pages;    /* returned by the last pack and not touched since */
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

/* An arena and what it holds, for ARENAS and PINNERS listings. */
struct alloc_arena_ref {
    struct alloc_arena *arena;   /* for alloc_arena_foreach_live; valid until the next alloc/free */
    struct alloc_arena_info info;
};

/*
 * Lists the arenas holding live blocks of class cls (all classes when cls
 * < 0), by class, then band: fills at most cap entries of out and returns
 * how many there are (more than cap when out was too short). O(arenas).
 */
size_t alloc_arena_list(int cls, struct alloc_arena_ref *out, size_t cap);

/*
 * The n sparsest arenas that are not full (lowest live / slots first, then
 * fewest live; full arenas pin nothing), over all classes, sparsest first.
 * Returns how many were stored (<= n). O(arenas * log n). PINNERS resolves
 * the live blocks of these to keys.
 */
size_t alloc_arena_sparsest_n(size_t n, struct alloc_arena_ref *out);

/* Drops every retained empty arena (munmap). For MEMORY PURGE and tests. */
void alloc_release_retained(void);

/* Resident set size of the whole process in bytes, from /proc/self/statm
 * (0 if it cannot be read): what the OS actually charges, the figure that
 * returning arenas is meant to bring down. */
size_t alloc_rss_bytes(void);

/* ---- online compaction (explained at the top of alloc/compact.c) ----
 *
 * The mover evacuates the sparsest arenas of every (class, band) whose free
 * slots add up to at least one whole arena, so that the class ends with
 * ceil(live / slots per arena) arenas and the emptied ones are unmapped.
 * A packing run (alloc_compact_opts.pack) also moves each pair's blocks to
 * the lowest free slots and returns the pages above them, so that what a
 * pair keeps resident is its live slots to within a page.
 * alloc decides what to move and when; the owner of the blocks (keyspace)
 * decides what a block means, through the evacuate callback. A run is a
 * resumable state machine: alloc_compact_step does a bounded slice of it.
 */

/*
 * Copies live block `from` into a fresh slot of the same size class and band
 * in an arena other than from's (the fullest one with room, so the class
 * ends dense; never an arena the mover is evacuating). Returns the copy, or
 * NULL (errno ENOMEM) when no memory could be had; `from` is untouched
 * either way: the caller repoints its references and then alloc_free(from).
 * The copy has the same requested size (alloc_stats live_bytes unchanged
 * once from is freed). A large block is copied into a new large block.
 * A pointer that is not a live block aborts, as alloc_free does.
 */
void *alloc_move(const void *from);

/*
 * Called by the mover for every live block of an arena under evacuation.
 * The owner must either free the block (drop), or alloc_move() it, repoint
 * every reference to the copy and free the original. It may allocate and
 * free anything else meanwhile (and call alloc_compact_abort; not
 * alloc_teardown). Returning false means it could not (out of
 * memory): the step ends at once and the mover gives that arena up (it goes
 * back to the allocation lists, partly evacuated, which is safe) together
 * with the rest of its (class, band); the run goes on with the next class
 * at the next step. A block left live without a false return is skipped.
 */
typedef bool (*alloc_evacuate_fn)(void *block, void *ctx);

/* What a run (or the trigger) covers. The trigger's thresholds are options
 * (compact-frag-threshold, compact-min-reclaim: see ALLOC_OPTIONS). */
struct alloc_compact_opts {
    int cls;                 /* -1: every class; else only this class (COMPACT CLASS n) */
    bool pack;               /* pack each (class, band) after evacuating it, and purge the
                                retained arenas' pages (see "Packing", alloc/compact.c);
                                for alloc_compact_wanted: the quiet owner's rule */
};

/* Every class (cls -1), no packing (the evacuation alone). */
void alloc_compact_opts_default(struct alloc_compact_opts *o);

/*
 * Starts a compaction run over o->cls (all classes if -1; NULL means the
 * defaults). No-op if a run is in progress. The thresholds are not applied
 * here: a started run evacuates whatever is reclaimable (a manual COMPACT);
 * the automatic trigger is alloc_compact_wanted.
 */
void alloc_compact_start(const struct alloc_compact_opts *o);

/*
 * Does at most about budget_us microseconds of the run, then returns true
 * while the run is unfinished (false when it finished now or none runs).
 * The clock is read after every batch of work: at most
 * ALLOC_COMPACT_BATCH_BLOCKS blocks visited or ALLOC_COMPACT_BATCH_BYTES
 * bytes copied (whichever comes first; one block of any size at least), or
 * one (class, band) planned, or one system call returning pages to the OS
 * (an emptied arena, a packed arena's free pages; at most 1 MiB of them). A step always does one batch, so budget_us = 0
 * still makes progress; run to completion with a huge budget. The time
 * reported in alloc_compact_status is the wall time spent inside steps,
 * callbacks included.
 */
#define ALLOC_COMPACT_BATCH_BLOCKS 16
#define ALLOC_COMPACT_BATCH_BYTES ((size_t)64 << 10)
bool alloc_compact_step(uint64_t budget_us, alloc_evacuate_fn fn, void *ctx);

/* True while the reclaimer thread (release-thread) is still making the
 * system calls that return pages to the OS which the steps queued; they
 * start when a step returns. An owner that can wait does not step
 * meanwhile: a call on the other core slows the step it overlaps. */
bool alloc_compact_releasing(void);

/* Ends the run now: every arena slated for evacuation goes back to the
 * allocation lists (or is unmapped if it emptied). No-op if none runs. */
void alloc_compact_abort(void);

/*
 * Automatic trigger, with the thresholds of the options in force
 * (compact_frag_threshold as a ratio, compact_min_reclaim in bytes): either
 * mapped_bytes / live_bytes > the ratio and the bytes reclaimable
 * (alloc_compact_reclaimable(o->cls)) >= min_reclaim; or, class by class,
 * the classes whose own mapped / live exceeds the ratio have together >=
 * min_reclaim reclaimable (a few classes full of holes among dense ones).
 * With o->pack it is the quiet owner's rule instead: alloc_compact_packable
 * at least ALLOC_PACK_MIN_BYTES and live_bytes / ALLOC_PACK_MIN_SHARE.
 * o NULL means the defaults. Independent of whether a run is in progress.
 * O(classes * bands) over running counters, no walk: cheap enough for every
 * cron tick.
 */
bool alloc_compact_wanted(const struct alloc_compact_opts *o);

/* Bytes a compaction of class cls (all classes if cls < 0) could return to
 * the OS now: per (class, band), the whole arenas its free slots add up to.
 * O(bands) per class, running counters. */
size_t alloc_compact_reclaimable(int cls);

/* Resident bytes a packing run over class cls (all if < 0) could return to
 * the OS now: per (class, band) with a page or more of them, the free slots
 * below the bump pointers of its arenas, in whole pages; for all classes,
 * also the touched pages of the retained arenas. O(classes * bands +
 * arena-retain), running counters: cheap enough for every INFO. */
size_t alloc_compact_packable(int cls);

/* The quiet owner's trigger (alloc_compact_wanted with o->pack) fires when
 * alloc_compact_packable is at least this many bytes and at least
 * live_bytes / ALLOC_PACK_MIN_SHARE: less is what a run would leave behind
 * in page rounding anyway, or not worth a walk of every pair. */
#define ALLOC_PACK_MIN_BYTES ((size_t)64 << 10)
#define ALLOC_PACK_MIN_SHARE 256

/*
 * struct alloc_compact_counts: the work of compaction runs, counted for the
 * current run and in total. bytes_moved counts REQUESTED bytes, the sizes
 * the moved blocks were allocated with, as live_bytes does (so that moved
 * bytes compare with live bytes); not slot sizes, which include the
 * rounding up to the class.
 */
#define ALLOC_COMPACT_METRICS(X)                                                                \
    X(classes_touched, COUNTER, "Classes in which at least one arena was slated.")              \
    X(arenas_evacuated, COUNTER, "Slated arenas that emptied.")                                 \
    X(arenas_released, COUNTER,                                                                 \
      "Emptied arenas returned to the OS (all of the evacuated ones: see alloc/compact.c).")    \
    X(arenas_abandoned, COUNTER,                                                                \
      "Slated arenas given back partly evacuated (no room left in the class, owner failure, "   \
      "abort).")                                                                                \
    X(blocks_moved, COUNTER, "Blocks the evacuate callbacks moved with alloc_move.")            \
    X(bytes_moved, COUNTER, "Requested bytes of the blocks moved (not their slot sizes).")      \
    X(blocks_dropped, COUNTER, "Visited blocks the owner freed without moving them.")           \
    X(move_failures, COUNTER, "Evacuate callbacks that returned false (out of memory).")       \
    X(bytes_purged, COUNTER,                                                                    \
      "Bytes of pages inside kept arenas returned to the OS: above packed arenas' live slots, " \
      "and retained arenas' touched pages.")                                                    \
    X(steps, COUNTER, "alloc_compact_step calls made while a run was going.")                   \
    X(time_us, COUNTER, "Wall time inside those steps, in microseconds.")

struct alloc_compact_counts {
    ALLOC_COMPACT_METRICS(ALLOC_METRIC_U64_)
};

/* struct alloc_compact_status: the counters of every run */
#define ALLOC_COMPACT_RUN_METRICS(X)                                                            \
    X(runs, COUNTER, "Compaction runs started.")                                                \
    X(runs_finished, COUNTER, "Compaction runs that ended (completed or aborted).")            \
    X(reclaimable, GAUGE,                                                                       \
      "Bytes a compaction could return to the OS now (alloc_compact_reclaimable(-1)).")         \
    X(packable, GAUGE,                                                                          \
      "Resident bytes a packing compaction could return now (alloc_compact_packable(-1)).")

struct alloc_compact_status {
    bool running;
    int cls;                    /* class filter of this (or the last) run, -1 all */
    ALLOC_COMPACT_RUN_METRICS(ALLOC_METRIC_U64_)
    /* progress of this run, or of the last one when none runs */
    size_t arenas_planned;      /* arenas slated so far plus the estimate for the
                                   (class, band) pairs not reached yet */
    size_t arenas_done;         /* slated arenas finished (evacuated or abandoned) */
    unsigned cur_cls, cur_band; /* where the run is */
    /* this run (or the last one): the same counters as the totals */
    ALLOC_COMPACT_METRICS(ALLOC_METRIC_U64_)
    uint64_t duration_us;       /* wall time from start to end (so far, if running) */
    size_t mapped_before;       /* alloc_stats mapped_bytes when the run started */
    size_t mapped_after;        /* ... when it ended (now, if running) */
    struct alloc_compact_counts total;  /* every run, this one included */
    /* the last finished run, for the daemon's one line per run */
    uint64_t last_duration_us;
    size_t last_mapped_before, last_mapped_after;
};

/* O(classes * bands + arena-retain) over running counters: no arena header
 * is read but the retained ones and the few the mover holds. For whether a
 * run is under way, which a caller may ask on every tick,
 * alloc_compact_running is O(1). */
void alloc_compact_status(struct alloc_compact_status *st);
bool alloc_compact_running(void);

/* FOR TESTS ONLY: replaces the mover's microsecond clock (NULL restores
 * clock_mono_us, alloc/clock.h), so that budgets can be tested in units of
 * work. */
void alloc_compact_test_clock(uint64_t (*now_us)(void));

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
