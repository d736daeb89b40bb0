/*
 * keyspace/expire.c: expiry without reads, the background work the daemon's
 * cron runs (ks_cron, ks_expire_cycle).
 *
 * EXPIRY
 *
 * The clock is cached (ks_clock_update once per command), so the hot path
 * makes no time syscall. ks_get/ks_peek/ks_del delete expired entries they
 * find (lazy expiry). ks_expire_cycle sweeps the active table with a cursor
 * that persists across calls, reading the flags of the entries it covers
 * (every entry in index mode; in arena mode only loose ones, whose slots
 * say so, so that the others cost about 1 ns per slot skipped), deleting
 * those past their expiry and reading the monotonic clock every 256 slots
 * to honour its budget. While resizing it first migrates (and there reaps
 * expired entries instead of moving them).
 *
 * Because every entry the sweep checks costs a cache miss, a keyspace
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
 */
#include "keyspace/internal.h"

/* Lexicographic order of sweep positions (class, band, arena base). */
static inline bool sweep_after(unsigned c, unsigned b, uintptr_t base, unsigned c0, unsigned b0, uintptr_t base0)
{
    if (c != c0)
        return c > c0;
    if (b != b0)
        return b > b0;
    return base > base0;
}

static inline void prefetch_run(uint64_t h)
{
    const struct table *t = &ks.cur;
    size_t i = tbl_home(t, h);
    for (int n = 0; n < 3; n++, i = tbl_next(t, i)) {
        slot_t s = t->slots[i];
        if (s == 0)
            break;
        if (s > SLOT_TOMB)
            __builtin_prefetch(slot_entry(s));
    }
}

/* Prefetches the index line of hash h and the entries in the slots from
 * there on (a backward shift hashes them). */
static inline void prefetch_slot(uint64_t h)
{
    const struct table *t = &ks.cur;
    __builtin_prefetch(&t->slots[tbl_home(t, h)]);
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
    size_t swept = 0, size = t->size;
    size_t i = ks.exp_cursor < size ? ks.exp_cursor : 0;
    /* in arena mode only loose entries are ours, and their slots say so */
    slot_t want = ks.sweep == KS_SWEEP_INDEX ? ~SLOT_TOMB : SLOT_LOOSE;
    while (swept < size && ks.expires > 0) {
        for (unsigned n = 0; n < BATCH && swept < size; n++) {
            size_t a = i + 8;   /* wraps by % since a table can be smaller than 8 */
            slot_t ahead = t->slots[a < size ? a : a % size];
            if (ahead & want)
                __builtin_prefetch(slot_entry(ahead));  /* its header, 8 slots on */
            slot_t s = t->slots[i];
            struct entry *e;
            if ((s & want) && ((e = slot_entry(s))->flags & EF_TTL)) {
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
            i = tbl_next(t, i);
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

bool ks_cron(uint64_t budget_us)
{
    if (!ks.ready)
        return false;
    maybe_shrink();
    if (!ks.old.slots)
        return false;
    uint64_t deadline = clock_mono_us() + budget_us;
    do {
        migrate(4 * BATCH, true);
    } while (ks.old.slots && clock_mono_us() < deadline);
    if (!ks.old.slots)
        KS_VERIFY("when the cron finished a resize");
    return ks.old.slots != NULL;
}
