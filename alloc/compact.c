/*
 * alloc/compact.c: online compaction: alloc_move and the mover, a resumable
 * state machine that empties the sparsest arenas of every (class, band)
 * whose free slots add up to whole arenas, and returns them to the OS.
 *
 * alloc decides what to move and when; the owner of the blocks (keyspace)
 * decides what a block means, through the evacuate callback (alloc.h). In
 * short (the essay above the mover's state below has the details):
 *   A run visits every (class, band) and, where the free slots add up to k
 *   whole arenas, slates the k sparsest (fewest live per slot; at most
 *   PLAN_SCAN per plan, the pair planned again as they empty),
 *   which pins them: off the bucket lists, so neither the copies nor other
 *   allocations land there. It walks them with a slot cursor, sparsest
 *   first, handing each live block to the owner's evacuate callback, which
 *   drops it or alloc_move()s it; the copies go where alloc_block would put
 *   them, the fullest unslated arena of the pair, so the pair ends with
 *   ceil(live / slots) arenas. It never maps an arena to make room: when
 *   concurrent allocations eat the destinations it gives slated arenas back
 *   (densest first) and stops the pair. Emptied arenas are returned to the
 *   OS at once (not retained), one system call per batch (unmapped, or for
 *   arenas above 1 MiB purged a slice at a time first), so that a step's
 *   work stays bounded whatever the arena size. Work is
 *   cut in batches (16 blocks or 64 KiB of slots, or one plan of at most
 *   PLAN_SCAN arenas)
 *   with a clock read after each; a step runs batches until its budget is
 *   spent. Per (class, band) live counts (size_class.blive) make the
 *   trigger and "reclaimable" O(classes * bands) without walking arenas.
 */
#include "alloc/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/clock.h"

/*
 * The mover. A run visits the (class, band) pairs in order. On reaching a
 * pair it computes k = floor(free slots / slots per arena): the number of
 * whole arenas the pair's free space adds up to, which is exactly how many
 * arenas can be emptied with every live block fitting in the others. It
 * slates the k sparsest arenas (fewest live blocks to move; a plan looks at
 * no more than PLAN_SCAN of them, and a pair with more is planned again
 * when those are done), which pins
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
 * whole arena it stops. A pair's plans slate no more arenas in all than
 * its first one counted, and it is planned again only after its last plan
 * emptied an arena, so a run converges,
 * and a run started right after a finished one finds k = 0 everywhere
 * (unless blocks were freed meanwhile).
 *
 * Release: an evacuated arena is returned to the OS, never retained as a
 * spare, whatever arena_retain says (the retained pool is for churn around
 * an arena boundary; an arena the mover empties is surplus by construction,
 * and retaining it would keep mapped_bytes where it was). The retained pool
 * is left as it is. The arena leaves every list at once and goes on a
 * release queue; a batch unmaps it (an arena above RELEASE_SLICE is purged
 * that much per batch first; mapped_bytes counts it until it is unmapped),
 * and a run ends only when the queue is empty, so arenas_released ==
 * arenas_evacuated at the end. With release_thread the batch only hands
 * the call to the reclaimer thread (os.c), so that no step waits for the
 * OS; the mover then waits (BATCH_WAIT: the step ends, or spends what is
 * left of its budget waiting) where it needs a call done: room in the
 * reclaimer's queue, a packed arena's purge before the arena is unpinned,
 * and the last release before the run ends.
 *
 * Slated arenas are linked through bprev/bnext, which a pinned arena does
 * not use for buckets, so the plan needs no memory of its own (the sort
 * that picks the k sparsest uses PLAN_SCAN pointers on the stack).
 */
static struct {
    bool running;
    bool awaits_calls;          /* past the last pair, only the reclaimer's calls are left */
    bool planned;               /* the pair under the cursor has been slated */
    bool again;                 /* the next plan is the pair's next, not its first */
    size_t pair_left;           /* arenas the pair's first plan counted and no plan slated yet */
    uint64_t evacuated_at_plan; /* run.arenas_evacuated when the pair's last plan was made */
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
    /* packing (see "Packing" below) */
    bool pack;                  /* this run packs each pair after evacuating it */
    bool pack_tried;            /* the pair under the cursor has had its pack chance */
    bool packing;               /* cur is being packed, not evacuated */
    size_t lo;                  /* no free slot of cur below this one */
    uintptr_t pg_from, pg_to;   /* pages of cur still to purge once packed */
} mv = {.touched_cls = ~0u};

void mover_reset(void)
{
    uint64_t (*clock_fn)(void) = mv.clock;
    memset(&mv, 0, sizeof(mv));
    mv.touched_cls = ~0u;
    mv.clock = clock_fn;
}

/* The mover's clock: clock_mono_us, or a test's (alloc_compact_test_clock). */
static uint64_t mover_now(void)
{
    return mv.clock ? mv.clock() : clock_mono_us();
}

/*
 * Pages go back to the OS at most RELEASE_SLICE bytes per call (madvise or
 * munmap). On the 2-core VM this was measured on, one call cost about 50 us
 * whatever its size from 64 KiB to 1 MiB (the fixed cost of a call and its
 * TLB flush, not the pages), with tails of 1-2 ms under load; so slices
 * smaller than this only multiply the calls (four 256 KiB purges and an
 * munmap took 3.5 times what one munmap of the resident arena did), and
 * larger arenas are cut so that a batch's call stays bounded.
 */
#define RELEASE_SLICE ((size_t)1 << 20)

/* A step with at least this much of its budget left when the mover must
 * wait for the reclaimer sleeps until it catches up (see alloc_compact_step). */
#define OS_RELEASE_WAIT_MIN_US 2000

/* Returns up to RELEASE_SLICE bytes of the oldest releasing arena's pages
 * to the OS (os_release: the caller made sure of room): unmaps it at once
 * when what it has resident fits in a slice, else purges a slice. Returns
 * the bytes of work done. */
static size_t release_some(void)
{
    struct alloc_arena *a = alloc_g.rel_head;
    uintptr_t from = touched_end(a, 0) + alloc_g.rel_off;
    uintptr_t end = touched_end(a, a->bumped);
    if (from < end && end - from > RELEASE_SLICE) {
        os_release((void *)from, RELEASE_SLICE, false);
        alloc_g.rel_off += RELEASE_SLICE;
        return RELEASE_SLICE;
    }
    alloc_g.rel_head = a->enext;
    if (alloc_g.rel_head == NULL)
        alloc_g.rel_tail = NULL;
    alloc_g.nreleasing--;
    alloc_g.rel_off = 0;
    arena_number_put(a);
    os_release((void *)base_of(a), alloc_g.opt.arena_size, true);
    return from < end ? end - from : alloc_g.page;
}

/* Unmaps every releasing arena at once (abort, teardown). */
size_t release_all(void)
{
    size_t n = 0;
    while (alloc_g.rel_head) {
        struct alloc_arena *a = alloc_g.rel_head;
        alloc_g.rel_head = a->enext;
        arena_unmap(a);
        n++;
    }
    alloc_g.rel_tail = NULL;
    alloc_g.nreleasing = 0;
    alloc_g.rel_off = 0;
    return n;
}

/* Whole arenas the free slots of (ci, b) add up to. */
static size_t pair_reclaimable(unsigned ci, unsigned b)
{
    const struct band_lists *bl = &alloc_g.bl[ci][b];
    if (bl->narenas < 2)
        return 0;
    size_t slots = (size_t)bl->narenas * alloc_g.cls[ci].nslots;
    return (slots - alloc_g.cls[ci].blive[b]) / alloc_g.cls[ci].nslots;
}

/* The same summed over the bands of class ci. */
static size_t class_reclaimable(unsigned ci)
{
    if (alloc_g.cls[ci].arenas < 2)
        return 0;
    size_t n = 0;
    for (unsigned b = 0; b < ALLOC_BANDS; b++)
        n += pair_reclaimable(ci, b);
    return n;
}

/* fn summed over the (class, band) pairs of the classes cls selects. */
static size_t sum_pairs(int cls, size_t (*fn)(unsigned ci, unsigned b))
{
    if (!alloc_g.ready)
        return 0;
    unsigned from, to;
    class_range(cls, &from, &to);
    size_t n = 0;
    for (unsigned ci = from; ci < to; ci++)
        for (unsigned b = 0; b < ALLOC_BANDS; b++)
            n += fn(ci, b);
    return n;
}

size_t alloc_compact_reclaimable(int cls)
{
    return sum_pairs(cls, pair_reclaimable) * alloc_g.opt.arena_size;
}

void alloc_compact_opts_default(struct alloc_compact_opts *o)
{
    o->cls = -1;
    o->pack = false;
}

bool alloc_compact_wanted(const struct alloc_compact_opts *o)
{
    struct alloc_compact_opts def;
    if (o == NULL) {
        alloc_compact_opts_default(&def);
        o = &def;
    }
    if (!alloc_g.ready)
        return false;
    if (o->pack) {
        size_t floor = alloc_g.live_bytes / ALLOC_PACK_MIN_SHARE;
        return alloc_compact_packable(o->cls) >=
               (floor > ALLOC_PACK_MIN_BYTES ? floor : ALLOC_PACK_MIN_BYTES);
    }
    /* the options in force; the ratio is stored in thousandths (CFG_MILLI) */
    double frag_threshold = (double)alloc_g.opt.compact_frag_threshold / 1000.0;
    size_t min_reclaim = alloc_g.opt.compact_min_reclaim;
    if ((double)mapped_now() > frag_threshold * (double)alloc_g.live_bytes) {
        size_t r = alloc_compact_reclaimable(o->cls);
        if (r > 0 && r >= min_reclaim)
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
        const struct size_class *c = &alloc_g.cls[ci];
        if ((double)c->arenas * (double)alloc_g.opt.arena_size >
            frag_threshold * (double)c->live_bytes)
            arenas += class_reclaimable(ci);
    }
    return arenas > 0 && arenas * alloc_g.opt.arena_size >= min_reclaim;
}

static void count(uint64_t *run_field, uint64_t *total_field, uint64_t n)
{
    *run_field += n;
    *total_field += n;
}

#define COUNT(field, n) count(&mv.run.field, &mv.total.field, (n))

/* Ends the mover's hold on slated arena a (already off the plan list):
 * unmapped if it emptied, else back on the allocation lists, abandoned
 * unless it was packed (a packed arena keeps its live blocks by design). */
static void mover_drop_arena(struct alloc_arena *a, bool packed)
{
    a->flags &= (uint8_t)~FLAG_MOVER;
    if (a->live == 0) {
        arena_unlink_empty(&alloc_g.cls[a->cls], a, true);   /* queued: release_some unmaps it */
        COUNT(arenas_evacuated, 1);
    } else {
        alloc_arena_unpin(a);
        if (!packed)
            COUNT(arenas_abandoned, 1);
    }
    mv.done++;
}

static void mover_drop(struct alloc_arena *a)
{
    mover_drop_arena(a, false);
}

static void plan_unlink(struct alloc_arena *a)
{
    blist_unlink(&mv.plan, &mv.plan_tail, a);
    a->bprev = a->bnext = NULL;
    mv.nplan--;
}

static void plan_append(struct alloc_arena *a)
{
    blist_append(&mv.plan, &mv.plan_tail, a);
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
    bucket_remove(&alloc_g.bl[a->cls][a->band], a);
    a->flags |= FLAG_BUSY | FLAG_MOVER;
    plan_append(a);
}

/* A plan reads the headers of at most this many arenas (the lowest
 * buckets first) and slates at most as many. A header read is a cache and
 * TLB miss, and on the VM this was measured on a cold one cost 3-12 us: one
 * plan over a pair's 40 arenas carried a step past 1 ms, and a pair's
 * arenas grow with the data. When a plan cut short runs dry, the pair is
 * planned again (plan_again), up to the k its first plan counted, so a
 * pair costs a run no more work than one plan of all k did. */
#define PLAN_SCAN 16

/* Slates the k sparsest arenas of the pair under the cursor; when its
 * lowest buckets hold more than PLAN_SCAN, the sparsest of the first
 * PLAN_SCAN. Returns the work done, in arenas looked at. */
static size_t plan_pair(void)
{
    unsigned ci = mv.cls, b = mv.band;
    struct band_lists *bl = &alloc_g.bl[ci][b];
    size_t k = pair_reclaimable(ci, b);
    if (!mv.again)
        mv.pair_left = k;
    else if (k > mv.pair_left)
        k = mv.pair_left;
    mv.again = false;
    mv.planned_total -= mv.est[ci][b];
    mv.est[ci][b] = 0;
    mv.planned = true;
    mv.evacuated_at_plan = mv.run.arenas_evacuated;
    if (k == 0)
        return 1;
    /* candidates: the lowest buckets until they hold k arenas, at most
     * PLAN_SCAN of them (pinned arenas are on no list and so never
     * candidates); buckets order them to within an eighth of an arena, the
     * sort exactly */
    struct alloc_arena *v[PLAN_SCAN];
    size_t m = 0;
    for (unsigned q = 0; q < NB && m < k && m < PLAN_SCAN; q++)
        for (struct alloc_arena *a = bl->head[q]; a && m < PLAN_SCAN; a = a->bnext)
            v[m++] = a;
    if (m == 0)
        return 1;
    qsort(v, m, sizeof *v, arena_ptr_cmp);
    size_t n = m < k ? m : k;
    for (size_t i = 0; i < n; i++)
        slate(v[i]);
    mv.pair_left -= n;
    mv.planned_total += n;
    if (mv.touched_cls != ci) {
        mv.touched_cls = ci;
        COUNT(classes_touched, 1);
    }
    return m;
}

/* The plan ran dry (or gave its arenas back): plan the pair again if its
 * first plan counted more arenas than the plans so far slated and the last
 * one emptied an arena, so that a pair is never planned twice without
 * progress in between. */
static bool plan_again(void)
{
    if (mv.pair_left == 0 || mv.run.arenas_evacuated == mv.evacuated_at_plan)
        return false;
    mv.planned = false;
    mv.again = true;
    return true;
}

/* Free slots of the pair's arenas that are not slated. */
static size_t free_unslated(void)
{
    const struct band_lists *bl = &alloc_g.bl[mv.cls][mv.band];
    size_t per = alloc_g.cls[mv.cls].nslots;
    size_t fr = (size_t)bl->narenas * per - alloc_g.cls[mv.cls].blive[mv.band];
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
    size_t fr = free_unslated(), need = 0, per = alloc_g.cls[mv.cls].nslots;
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
    mv.awaits_calls = false;
    mv.mapped_after = mapped_now();
    mv.duration_us = mover_now() - mv.start_us;
    mv.last_duration_us = mv.duration_us;
    mv.last_mapped_before = mv.mapped_before;
    mv.last_mapped_after = mv.mapped_after;
    mv.runs_finished++;
}

/* Gives back the arena being evacuated and every arena still planned in
 * the current pair (a pair that ends and an aborted run both do this). */
static void pack_finish_now(void);

/* Past the last pair with no arena left to release, the run ends, once
 * the reclaimer has made every call it was given (os_release_idle); until
 * then it only awaits them. True if the run ended. */
static bool finish_if_released(void)
{
    if (mv.cls < mv.cls_end || alloc_g.rel_head != NULL)
        return false;
    if (!os_release_idle()) {
        mv.awaits_calls = true;
        return false;
    }
    finish_run();
    return true;
}

static void pair_drop_work(void)
{
    if (mv.packing)
        pack_finish_now();
    if (mv.cur) {
        struct alloc_arena *a = mv.cur;
        mv.cur = NULL;
        mover_drop(a);
    }
    while (mv.plan)
        unplan_tail();
    mv.planned = false;
    mv.again = false;
}

/* Gives back everything slated in the pair and moves the cursor on;
 * finishes the run after the last pair. */
static void pair_done(void)
{
    pair_drop_work();
    mv.pack_tried = false;
    if (++mv.band == ALLOC_BANDS) {
        mv.band = 0;
        mv.cls++;
    }
    (void)finish_if_released();   /* else a later batch ends it */
}

/* What a batch leaves: go on; stop this step; the run is over; or wait,
 * because the next work needs the reclaimer (os_release) to catch up, so
 * the step ends and a later one goes on. */
enum batch { BATCH_GO, BATCH_STOP, BATCH_DONE, BATCH_WAIT };

/*
 * Packing. Evacuating whole arenas leaves a (class, band) with
 * ceil(live / slots) arenas, but the holes inside them stay resident: in
 * the arenas that took the copies, and in the sparsest one, whose slots
 * below its bump pointer are live and free in turn. A packing run (o->pack)
 * then packs each pair once it is evacuated. It pins the pair's sparsest
 * arena T and moves T's live blocks, highest slot first, into the holes of
 * the pair's other arenas (the fullest first, through alloc_move as an
 * evacuation does) and, once those are full, into T's own lowest free
 * slots, until no free slot of T lies below its highest live one. T's live
 * blocks then fill its lowest slots: its bump pointer is lowered to just
 * above the last of them, its free list rebuilt from the bitmap (lowest
 * slot at the head, so that later allocations keep filling from the
 * bottom), and the pages above are returned to the OS with madvise, a slice
 * per batch, while T is still pinned (a block placed above the new bump
 * pointer before the purge would lose its bytes). So a pair keeps less than
 * a page of free slots resident, plus the pages its arenas' headers and
 * metadata span, however its live blocks were scattered.
 *
 * While T is packed its free list is stale (FLAG_PACK): its own free slots
 * are found in the bitmap (the lowest above mv.lo), not popped, and frees
 * meanwhile push onto a list nobody reads. T is pinned, so nothing pops it,
 * and pack_settle rebuilds it before T is unpinned, whatever ends the pack
 * (done, a failed move, an abort).
 *
 * A packing run also purges, when it starts, the retained arenas that kept
 * their touched pages (the DIRTY_MAX most recent, for churn across an arena
 * boundary): such a run is asked for when the owner has gone quiet, or by
 * an operator, and either way there is no churn to serve.
 */

/* Free slots below the bump pointers of the pair's arenas that the mover
 * has not pinned: what packing the pair returns, to within a page. From
 * the pair's running sums, less the few arenas the mover holds (its plan
 * and the one it works on, all in the pair under its cursor): no header
 * of an arena it does not hold is read. */
static size_t pair_packable(unsigned ci, unsigned b)
{
    const struct size_class *c = &alloc_g.cls[ci];
    size_t slots = c->bbumped[b] - c->blive[b];
    if (mv.running && ci == mv.cls && b == mv.band) {
        for (const struct alloc_arena *a = mv.plan; a; a = a->bnext)
            slots -= a->bumped - a->live;
        if (mv.cur)
            slots -= mv.cur->bumped - mv.cur->live;
    }
    return slots * c->size;
}

/* pair_packable in whole pages: less than a page of holes is what packing
 * leaves anyway. */
static size_t pair_packable_pages(unsigned ci, unsigned b)
{
    return pair_packable(ci, b) / alloc_g.page * alloc_g.page;
}

size_t alloc_compact_packable(int cls)
{
    size_t bytes = sum_pairs(cls, pair_packable_pages);
    if (cls < 0 && alloc_g.ready)
        for (const struct alloc_arena *a = alloc_g.lru_head; a; a = a->enext)
            bytes += touched_end(a, a->bumped) - touched_end(a, 0);
    return bytes;
}

/* Pins the sparsest arena of the pair under the cursor for packing, if the
 * pair has a page or more of holes. */
static bool pack_begin(void)
{
    unsigned ci = mv.cls, b = mv.band;
    struct band_lists *bl = &alloc_g.bl[ci][b];
    if (bl->nonempty == 0 || pair_packable(ci, b) < alloc_g.page)
        return false;
    struct alloc_arena *t = NULL;
    for (struct alloc_arena *a = bl->head[__builtin_ctz(bl->nonempty)]; a; a = a->bnext)
        if (t == NULL || sparser(a, t))
            t = a;
    bucket_remove(bl, t);
    t->flags |= FLAG_BUSY | FLAG_MOVER | FLAG_PACK;
    mv.cur = t;
    mv.packing = true;
    mv.cursor = t->bumped;
    mv.lo = 0;
    mv.pg_from = mv.pg_to = 0;
    mv.planned_total++;
    if (mv.touched_cls != ci) {
        mv.touched_cls = ci;
        COUNT(classes_touched, 1);
    }
    return true;
}

/* The moves of a pack are over: lowers t's bump pointer to just above its
 * highest live slot, rebuilds its free list from the bitmap (lowest slot at
 * the head) and notes the pages above for purging. Returns the bitmap words
 * read. */
static size_t pack_settle(struct alloc_arena *t)
{
    size_t words = 0;
    size_t top = prev_live(t, t->bumped, &words);
    uint32_t nb = top == SIZE_MAX ? 0 : (uint32_t)top + 1;
    mv.pg_from = touched_end(t, nb);
    mv.pg_to = touched_end(t, t->bumped);
    if (t->bumped > t->purged_top)
        t->purged_top = t->bumped;
    alloc_g.cls[t->cls].bbumped[t->band] -= t->bumped - nb;
    t->bumped = nb;
    t->free_head = NULL;
    for (size_t i = nb; i > 0; words++) {
        uint32_t w = (uint32_t)((i - 1) >> 6);
        uint64_t holes = ~*bm_word(t, w);
        if (i & 63)
            holes &= ~(uint64_t)0 >> (64 - (i & 63));
        while (holes) {
            unsigned hi = 63u - (unsigned)__builtin_clzll(holes);
            void **slot = (void **)(void *)(t->slots + ((size_t)w * 64 + hi) * t->slot_size);
            *slot = t->free_head;
            t->free_head = slot;
            holes &= ~(1ull << hi);
        }
        i = (size_t)w * 64;
    }
    t->flags &= (uint8_t)~FLAG_PACK;
    return words;
}

/* Returns up to budget bytes of the packed arena's pages above its bump
 * pointer to the OS; the bytes purged. */
static size_t pack_purge(size_t budget)
{
    size_t n = mv.pg_to - mv.pg_from < budget ? mv.pg_to - mv.pg_from : budget;
    os_release((void *)mv.pg_from, n, false);
    mv.pg_from += n;
    COUNT(bytes_purged, n);
    return n;
}

/* The pack is over and purged: t goes back to the allocation lists, or is
 * released if concurrent frees emptied it. */
static void pack_end(void)
{
    struct alloc_arena *t = mv.cur;
    mv.cur = NULL;
    mv.packing = false;
    mover_drop_arena(t, true);
}

/* Ends the pack under way at once (a run that ends early). */
static void pack_finish_now(void)
{
    if (mv.cur->flags & FLAG_PACK)
        (void)pack_settle(mv.cur);
    if (mv.pg_from < mv.pg_to)
        (void)pack_purge(mv.pg_to - mv.pg_from);
    os_release_drain();   /* t's pages must be gone before it takes blocks again */
    pack_end();
}

/* alloc_move's destination when it moves a block of the packed arena t
 * and no other arena of the pair has room: t's lowest free slot below the
 * block's (idx); NULL if there is none. */
static void *pack_take(struct alloc_arena *t, uint32_t idx, size_t size)
{
    size_t words = 0;
    size_t j = next_free(t, mv.lo, idx, &words);
    if (j == SIZE_MAX)
        return NULL;
    mv.lo = j + 1;
    return arena_take_slot(&alloc_g.cls[t->cls], t, (uint32_t)j, size);
}

/* The pair's evacuation is over (nothing more to gain, or no room left):
 * everything slated goes back, and a packing run packs the pair. */
static void pair_evacuated(void)
{
    pair_drop_work();
    if (mv.pack && !mv.pack_tried) {
        mv.pack_tried = true;
        mv.planned = true;
        if (pack_begin())
            return;
    }
    pair_done();
}

enum visit { VISIT_OK, VISIT_FAILED, VISIT_ENDED };

/* Hands live slot i of the mover's current arena a to the owner's
 * callback and counts what it did (a drop, or a failure); VISIT_ENDED when
 * the callback ended the run. Adds the work to *units and *bytes. */
static enum visit visit(struct alloc_arena *a, size_t i, alloc_evacuate_fn fn, void *ctx,
                        size_t *units, size_t *bytes)
{
    uint64_t moved = mv.run.blocks_moved;
    mv.in_callback = true;
    mv.cb_bytes = 0;
    bool ok = fn(a->slots + i * a->slot_size, ctx);
    mv.in_callback = false;
    if (!mv.running || mv.cur != a)
        return VISIT_ENDED;
    *units += 64;
    *bytes += a->slot_size + mv.cb_bytes;
    if (!ok) {
        COUNT(move_failures, 1);
        return VISIT_FAILED;
    }
    if (mv.run.blocks_moved == moved && !(*bm_word(a, (uint32_t)(i >> 6)) & (1ull << (i & 63))))
        COUNT(blocks_dropped, 1);
    return VISIT_OK;
}

/* One batch's worth of the pack under way (mover_batch's helper): a move,
 * the settling, a slice of the purge, or the end. Adds to *units and
 * *bytes; BATCH_DONE when the callback ended the run. */
static enum batch pack_batch(alloc_evacuate_fn fn, void *ctx, size_t *units, size_t *bytes)
{
    struct alloc_arena *t = mv.cur;
    if (!(t->flags & FLAG_PACK)) {
        if (mv.pg_from < mv.pg_to) {
            if (!os_release_room())
                return BATCH_WAIT;
            *bytes += pack_purge(RELEASE_SLICE);
            return BATCH_GO;
        }
        if (!os_release_idle())
            return BATCH_WAIT;   /* t's purge is still under way: t stays pinned */
        pack_end();
        pair_done();
        *units += 16;
        return BATCH_GO;
    }
    size_t i = prev_live(t, mv.cursor, units);
    bool done = i == SIZE_MAX;
    if (!done && alloc_g.bl[t->cls][t->band].nonempty == 0) {
        /* the other arenas are full: t's own holes, if one lies below */
        size_t j = next_free(t, mv.lo, i, units);
        done = j == SIZE_MAX;
        if (!done)
            mv.lo = j;
    }
    if (done) {
        *units += pack_settle(t);
        return BATCH_GO;
    }
    enum visit v = visit(t, i, fn, ctx, units, bytes);
    if (v == VISIT_ENDED)
        return BATCH_DONE;   /* the callback aborted the run */
    mv.cursor = i;
    if (v == VISIT_FAILED) {
        *units += pack_settle(t);   /* the purge and the end follow */
        return BATCH_STOP;
    }
    return BATCH_GO;
}

void alloc_compact_start(const struct alloc_compact_opts *o)
{
    if (mv.running)
        return;
    if (!alloc_g.ready && alloc_setup(NULL) != 0)
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
    mv.again = false;
    mv.pack = o->pack;
    mv.pack_tried = false;
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
    if (mv.pack && o->cls < 0)
        for (struct alloc_arena *a = alloc_g.lru_head; a; a = a->enext)
            COUNT(bytes_purged, arena_purge(a));
    if (mv.cls >= mv.cls_end)
        finish_run();
    A_VERIFY("at the start of a compaction run");
}

void alloc_compact_abort(void)
{
    if (!mv.running)
        return;
    pair_drop_work();
    COUNT(arenas_released, release_all());
    os_release_drain();   /* so that mapped_after is what the OS holds */
    finish_run();
    A_VERIFY("after a compaction abort");
}

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
        if (alloc_g.rel_head) {
            if (!os_release_room())
                return BATCH_WAIT;
            size_t nrel = alloc_g.nreleasing;
            bytes += release_some();
            if (alloc_g.nreleasing < nrel)
                COUNT(arenas_released, 1);
            (void)finish_if_released();   /* perhaps that was the run's last */
            continue;
        }
        if (mv.cls >= mv.cls_end)
            return finish_if_released() ? BATCH_DONE : BATCH_WAIT;
        if (mv.packing) {
            enum batch r = pack_batch(fn, ctx, &units, &bytes);
            if (r != BATCH_GO)
                return r == BATCH_STOP && !mv.running ? BATCH_DONE : r;
            continue;
        }
        if (!mv.planned) {
            size_t looked = plan_pair();
            units += 1 + looked * 4;
            if (mv.nplan == 0) {
                pair_evacuated();
                continue;
            }
            return BATCH_GO;   /* a plan may have sorted many arenas */
        }
        if (!mv.cur) {
            units += 16;
            if (!next_arena() && !plan_again())
                pair_evacuated();
            continue;
        }
        struct alloc_arena *a = mv.cur;
        struct band_lists *bl = &alloc_g.bl[a->cls][a->band];
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
                pair_evacuated();
            units += 16;
            continue;
        }
        enum visit v = visit(a, i, fn, ctx, &units, &bytes);
        if (v == VISIT_ENDED)
            return BATCH_DONE;   /* the callback aborted the run */
        mv.cursor = i + 1;
        if (v == VISIT_FAILED) {
            pair_done();
            return mv.running ? BATCH_STOP : BATCH_DONE;
        }
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
        if (r == BATCH_WAIT && t < deadline && deadline - t >= OS_RELEASE_WAIT_MIN_US) {
            /* a long step (COMPACT SYNC, a large compact-slice-us) waits
             * for the reclaimer, at most what is left of its budget,
             * rather than end early or spin; a short one ends, because a
             * thread that sleeps wakes up late on a busy machine */
            os_release_wait(deadline - t);
            t = mover_now();
            r = BATCH_GO;
        }
        if (r != BATCH_GO || t >= deadline)
            break;
    }
    os_release_start();   /* the calls this step queued run after it (alloc/os.c) */
    COUNT(steps, 1);
    COUNT(time_us, t - t0);
    if (mv.running)
        mv.duration_us = t - mv.start_us;
    A_VERIFY("after a compaction step");
    return mv.running;
}

bool alloc_compact_running(void)
{
    return mv.running;
}

bool alloc_compact_releasing(void)
{
    return !os_release_idle();
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
#define X(field, kind, help) st->field = mv.run.field;
    ALLOC_COMPACT_METRICS(X)
#undef X
    st->duration_us = mv.running ? mover_now() - mv.start_us : mv.duration_us;
    st->mapped_before = mv.mapped_before;
    st->mapped_after = mv.running ? mapped_now() : mv.mapped_after;
    st->total = mv.total;
    st->last_duration_us = mv.last_duration_us;
    st->last_mapped_before = mv.last_mapped_before;
    st->last_mapped_after = mv.last_mapped_after;
    st->reclaimable = alloc_compact_reclaimable(-1);
    st->packable = alloc_compact_packable(-1);
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
        struct band_lists *bl = &alloc_g.bl[a->cls][a->band];
        /* keep the copy out of from's own arena: pin it for the allocation
         * unless it already is (the mover's source is); it keeps from, so
         * the unpin puts it back on its list */
        bool pinned_here = alloc_arena_pin(a);
        if (bl->nonempty) {
            p = arena_take(&alloc_g.cls[a->cls], bl->head[31 - __builtin_clz(bl->nonempty)], size);
        } else if (mv.packing && a == mv.cur) {
            p = pack_take(a, idx, size);   /* never a new arena for a pack */
        } else {
            struct alloc_arena *d = arena_new(a->cls, a->band);
            p = d ? arena_take(&alloc_g.cls[a->cls], d, size) : NULL;
        }
        if (pinned_here)
            alloc_arena_unpin(a);
        if (p == NULL) {
            alloc_g.failures++;
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

uintptr_t mover_purge_end(const struct alloc_arena *a)
{
    return mv.packing && a == mv.cur && (mv.pg_from < mv.pg_to || !os_release_idle()) ? mv.pg_to
                                                                                       : 0;
}

/* The mover's state: the slated arenas are exactly the plan list and the
 * current arena, all of the pair under the cursor, pinned by the mover;
 * nothing is slated between runs; progress adds up. */
bool verify_mover(size_t slated)
{
    CHECK(mv.done <= mv.planned_total, "mover done %zu > planned %zu", mv.done,
          mv.planned_total);
    if (!mv.running) {
        CHECK(slated == 0 && mv.plan == NULL && mv.cur == NULL && mv.nplan == 0,
              "no run, but %zu arenas slated", slated);
        return true;
    }
    /* past the last pair, the run only waits for its releases: nothing
     * slated, nothing planned, and at least one arena still releasing or
     * calls given to the reclaimer (which may be done by now: the next
     * batch ends the run) */
    bool past_end = mv.cls == mv.cls_end && mv.band == 0 &&
                    (alloc_g.rel_head != NULL || mv.awaits_calls) && !mv.planned && slated == 0;
    CHECK((mv.cls < mv.cls_end || past_end) && mv.cls_end <= alloc_g.nclasses &&
              mv.band < ALLOC_BANDS,
          "mover cursor %u/%u of %u", mv.cls, mv.band, mv.cls_end);
    CHECK(mv.planned || (mv.plan == NULL && mv.cur == NULL), "arenas slated before planning");
    size_t n = 0;
    const struct alloc_arena *prev = NULL;
    for (const struct alloc_arena *a = mv.plan; a; a = a->bnext) {
        CHECK(n < slated, "plan list longer than the slated arenas");
        CHECK(a->bprev == prev, "plan list links");
        CHECK(a->magic == ARENA_MAGIC && (a->flags & FLAG_MOVER) && !(a->flags & FLAG_PACK) &&
                  a->cls == mv.cls && a->band == mv.band,
              "plan arena %p not slated in pair %u/%u", (const void *)a, mv.cls, mv.band);
        n++;
        prev = a;
    }
    CHECK(mv.plan_tail == prev && n == mv.nplan, "plan list tail/count");
    CHECK(!mv.packing || (mv.cur != NULL && mv.plan == NULL && mv.pack),
          "packing without an arena, or with arenas still planned");
    CHECK(mv.pg_from <= mv.pg_to && (mv.pg_from == mv.pg_to || mv.packing),
          "pages left to purge with no pack under way");
    if (mv.cur) {
        CHECK((mv.cur->flags & FLAG_MOVER) && mv.cur->cls == mv.cls && mv.cur->band == mv.band,
              "current arena %p not slated", (const void *)mv.cur);
        CHECK(mv.packing || !(mv.cur->flags & FLAG_PACK), "arena %p packed by no pack",
              (const void *)mv.cur);
        CHECK(!mv.packing || (mv.cur->flags & FLAG_PACK) ||
                  mv.pg_to <= touched_end(mv.cur, mv.cur->nslots),
              "purge range beyond the packed arena");
        CHECK(mv.cursor <= mv.cur->nslots, "cursor %zu", mv.cursor);
        n++;
    }
    CHECK(n == slated, "%zu arenas slated, %zu in the plan", slated, n);
    CHECK(mv.done + n <= mv.planned_total, "progress: done %zu + slated %zu > planned %zu",
          mv.done, n, mv.planned_total);
    return true;
}
