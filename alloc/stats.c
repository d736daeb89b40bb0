/*
 * alloc/stats.c: what alloc tells about itself: alloc_stats, the per-class
 * statistics behind MEMORY STATS, and arena introspection (the arena of a
 * block, walks over an arena's live slots, listings by class and by
 * sparseness) for an expiry sweep, a compactor and the admin listings.
 *
 * Everything here reads running counters or walks the lists; nothing
 * changes placement except the walks, which pin the arena they walk
 * (arena.c) for the duration.
 */
#include "alloc/internal.h"

#include <string.h>

/* ------------------------------------------------------------------ stats */

/* alloc_stats().mapped_bytes, for the mover's trigger and figures too */
size_t alloc_live_bytes(void)
{
    return alloc_g.live_bytes;
}

void alloc_stats(struct alloc_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (unsigned i = 0; i < alloc_g.nclasses; i++) {
        const struct size_class *c = &alloc_g.cls[i];
        size_t live = class_live(c);
        st->live_blocks += live;
        st->slot_bytes += live * c->size;
    }
    st->live_blocks += alloc_g.nlarge;
    st->live_bytes = alloc_g.live_bytes;
    st->slot_bytes += alloc_g.large_usable;
    st->mapped_bytes = mapped_now();
    st->alloc_failures = alloc_g.failures;
    st->arena_size = alloc_g.opt.arena_size;
    st->arenas = alloc_g.narenas;
    st->retained_arenas = alloc_g.nretained;
    st->large_blocks = alloc_g.nlarge;
    st->large_bytes = alloc_g.large_mapped;
    st->large_threshold = alloc_g.large_max;
    st->os_maps = alloc_g.maps;
    st->os_unmaps = alloc_g.unmaps;
    st->os_purges = alloc_g.purges;
    st->frees = alloc_g.frees;
    st->releasing_arenas = alloc_g.nreleasing;
}

bool alloc_class_stats(unsigned cls, struct alloc_class_stats *st)
{
    ensure_ready();
    if (cls >= alloc_g.nclasses)
        return false;
    const struct size_class *c = &alloc_g.cls[cls];
    st->cls = cls;
    st->slot_size = c->size;
    st->arenas = c->arenas;
    st->slots = c->arenas * c->nslots;
    st->live = class_live(c);
    st->live_bytes = c->live_bytes;
    st->rounding = st->live * c->size - c->live_bytes;
    st->free_bytes = (st->slots - st->live) * c->size;
    st->overhead = c->arenas * (alloc_g.opt.arena_size - (size_t)c->nslots * c->size);
    st->waste = c->arenas * alloc_g.opt.arena_size - c->live_bytes;
    st->reclaimable = alloc_compact_reclaimable((int)cls);
    st->resident = st->purged = 0;
    for (const struct alloc_arena *a = c->all; a; a = a->cnext) {
        st->resident += resident_pages(a) * alloc_g.page;
        st->purged += purged_pages(a) * alloc_g.page;
    }
    return true;
}

void alloc_class_stats_foreach(bool all_classes, alloc_class_stats_fn fn, void *ctx)
{
    ensure_ready();
    struct alloc_class_stats st;
    for (unsigned i = 0; i < alloc_g.nclasses; i++) {
        if (!all_classes && alloc_g.cls[i].arenas == 0)
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
    out->resident_pages = resident_pages(a);
    out->purged_pages = purged_pages(a);
}

struct alloc_arena *alloc_arena_first(unsigned cls)
{
    return alloc_g.ready && cls < alloc_g.nclasses ? alloc_g.cls[cls].all : NULL;
}

struct alloc_arena *alloc_arena_next(struct alloc_arena *a)
{
    return a->cnext;
}

struct alloc_arena *alloc_arena_sparsest(unsigned cls, unsigned band)
{
    if (!alloc_g.ready || cls >= alloc_g.nclasses || band >= ALLOC_BANDS)
        return NULL;
    const struct band_lists *bl = &alloc_g.bl[cls][band];
    return bl->nonempty ? bl->head[__builtin_ctz(bl->nonempty)] : NULL;
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

/* ------------------------------------------------------ arena listings */

size_t alloc_arena_list(int cls, struct alloc_arena_ref *out, size_t cap)
{
    if (!alloc_g.ready)
        return 0;
    unsigned from, to;
    class_range(cls, &from, &to);
    size_t n = 0;
    for (unsigned ci = from; ci < to; ci++)
        for (unsigned b = 0; b < ALLOC_BANDS; b++)
            for (struct alloc_arena *a = alloc_g.cls[ci].all; a; a = a->cnext) {
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
    if (!alloc_g.ready || n == 0)
        return 0;
    size_t cnt = 0;
    for (unsigned ci = 0; ci < alloc_g.nclasses; ci++)
        for (struct alloc_arena *a = alloc_g.cls[ci].all; a; a = a->cnext) {
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
