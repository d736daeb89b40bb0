/*
 * alloc/arena.c: placement, alloc/free and the life of an arena.
 *
 * An arena is born (arena_new: a spare of its pair, the oldest spare of any
 * pair, or a fresh mapping), moves between the occupancy buckets of its
 * (class, band) as its live count crosses bucket boundaries, and when it
 * empties is retained as a spare or unmapped. Large blocks, which get a
 * mapping of their own, and pinning (an arena taken off the bucket lists
 * for a walk or the mover) are here too, since they change the same lists,
 * and the arena numbers that block handles are made of, since they follow
 * an arena's mapping.
 * The hot path is alloc_block -> arena_take and alloc_free; both stay in
 * this file with their inline helpers (internal.h) so that nothing on it is
 * a call.
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
 */
#include "alloc/internal.h"

#include <errno.h>
#include <string.h>

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

/*
 * Arena numbers, for alloc_handle (see "block handles" in alloc.h). A
 * number is given when an arena is mapped and kept while it is retained or
 * reused by another pair, so a handle costs nothing on the hot path; it is
 * taken back when the arena is unmapped, or queued to be, which is safe
 * because an arena leaves only empty: no handle names it any more.
 */
static bool arena_number_get(struct alloc_arena *a)
{
    uint32_t n = alloc_g.number_free;
    if (n) {
        alloc_g.number_free = (uint32_t)(alloc_hmap.base[n] >> 1);
    } else if (alloc_g.numbers_end < alloc_g.numbers_cap) {
        n = alloc_g.numbers_end++;
    } else {
        return false;
    }
    alloc_hmap.base[n] = base_of(a);
    a->number = n;
    return true;
}

void arena_number_put(struct alloc_arena *a)
{
    uint32_t n = a->number;
    A_ASSERT(n > 0 && n < alloc_g.numbers_end && alloc_hmap.base[n] == base_of(a));
    alloc_hmap.base[n] = (uintptr_t)alloc_g.number_free << 1 | 1;
    alloc_g.number_free = n;
    a->number = 0;
}

void arena_unmap(struct alloc_arena *a)
{
    arena_number_put(a);
    os_unmap((void *)base_of(a), alloc_g.opt.arena_size);
}

bool alloc_handle_mapped(uint32_t h)
{
    uint32_t n = h >> alloc_hmap.shift;
    return n > 0 && n < alloc_g.numbers_end && !(alloc_hmap.base[n] & 1);
}

uint32_t alloc_handle(const void *p)
{
    struct alloc_arena *a = header_of_base(base_of(p));
    uintptr_t off = (uintptr_t)p - base_of(p);
    if (unlikely(a->magic != ARENA_MAGIC || (off & 7) != 0))
        alloc_panic("alloc_handle: not a block of an arena", p);
    return a->number << alloc_hmap.shift | (uint32_t)(off >> 3);
}

static void retained_unlink(struct alloc_arena *a)
{
    blist_unlink(&alloc_g.bl[a->cls][a->band].spare, NULL, a);
    elist_unlink(&alloc_g.lru_head, &alloc_g.lru_tail, a);
    alloc_g.nretained--;
}

size_t arena_purge(struct alloc_arena *a)
{
    uintptr_t from = touched_end(a, 0);
    uintptr_t to = touched_end(a, a->bumped);
    if (to > from)
        os_purge((void *)from, to - from);
    a->bumped = 0;
    a->free_head = NULL;
    return to - from;
}

/* a is empty and on no list. */
static void arena_retire(struct alloc_arena *a)
{
    if (alloc_g.opt.arena_retain == 0) {
        arena_unmap(a);
        return;
    }
    a->bucket = RETAINED;
    blist_push(&alloc_g.bl[a->cls][a->band].spare, NULL, a);
    elist_push(&alloc_g.lru_head, &alloc_g.lru_tail, a);
    alloc_g.nretained++;
    struct alloc_arena *x = a;
    for (int i = 0; i < DIRTY_MAX && x; i++)
        x = x->enext;
    if (x && x->bumped)
        arena_purge(x);
    if (alloc_g.nretained > alloc_g.opt.arena_retain) {
        struct alloc_arena *old = alloc_g.lru_tail;
        retained_unlink(old);
        arena_unmap(old);
    }
}

void retained_release_all(void)
{
    while (alloc_g.lru_head) {
        struct alloc_arena *a = alloc_g.lru_head;
        retained_unlink(a);
        arena_unmap(a);
    }
}

void alloc_release_retained(void)
{
    retained_release_all();
    A_VERIFY("after releasing the retained arenas");
}

/* Called when a's live count dropped to zero: unlink it and retire it, or
 * queue it for release_some when release is set (the mover's evacuated
 * arenas). */
void arena_unlink_empty(struct size_class *c, struct alloc_arena *a, bool release)
{
    struct band_lists *bl = &alloc_g.bl[a->cls][a->band];
    if (!(a->flags & FLAG_BUSY))
        bucket_remove(bl, a);
    a->flags = 0;
    bl->narenas--;
    c->bbumped[a->band] -= a->bumped;
    clist_unlink(&c->all, NULL, a);
    c->arenas--;
    alloc_g.narenas--;
    if (release) {
        a->enext = NULL;
        if (alloc_g.rel_tail)
            alloc_g.rel_tail->enext = a;
        else
            alloc_g.rel_head = a;
        alloc_g.rel_tail = a;
        alloc_g.nreleasing++;
    } else {
        arena_retire(a);
    }
}

static void arena_empty(struct size_class *c, struct alloc_arena *a)
{
    arena_unlink_empty(c, a, false);
}

struct alloc_arena *arena_new(unsigned ci, unsigned band)
{
    struct size_class *c = &alloc_g.cls[ci];
    struct band_lists *bl = &alloc_g.bl[ci][band];
    struct alloc_arena *a = bl->spare;
    if (a) {
        /* our own spare: live 0, bitmap clear, free list valid */
        retained_unlink(a);
    } else {
        a = alloc_g.lru_tail;
        bool reused = a != NULL;
        uintptr_t keep = 0;   /* a reused arena's first page past its header */
        if (a) {
            retained_unlink(a);
            /* Another pair's layout: its metadata and touched slots may lie
             * in this class's slot area, above the bump pointer, where
             * nothing accounts for them. They all lie below the old layout's
             * touched end (nothing above it is resident): purging from the
             * header's page up to there, often nothing, also zeroes the
             * bitmap there. */
            keep = round_up((uintptr_t)a + ARENA_HDR_SIZE, alloc_g.page);
            uintptr_t end = touched_end(a, a->bumped);
            if (end > keep)
                os_purge((void *)keep, end - keep);
        } else {
            void *base = os_map_aligned(alloc_g.opt.arena_size);
            if (base == NULL)
                return NULL;
            a = header_of_base((uintptr_t)base);
            if (!arena_number_get(a)) {
                os_unmap(base, alloc_g.opt.arena_size);
                errno = ENOMEM;
                return NULL;
            }
        }
        a->magic = ARENA_MAGIC;
        a->cls = (uint16_t)ci;
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
        /* A fresh mapping reads as zeros, and so does a reused one past its
         * header's page (purged above): clear the bitmap words in that page. */
        if (reused) {
            for (uint32_t w = 0; w < (c->nslots + 63) / 64; w++) {
                if ((uintptr_t)bm_word(a, w) >= keep)
                    break;
                *bm_word(a, w) = 0;
            }
        }
    }
    a->flags = 0;
    if (a->live == 0 && a->bumped == 0)
        a->purged_top = 0;   /* fresh or re-laid-out: nothing of its own returned */
    clist_push(&c->all, NULL, a);
    c->arenas++;
    alloc_g.narenas++;
    bl->narenas++;
    c->bbumped[band] += a->bumped;   /* a dirty spare of its own keeps its bump pointer */
    bucket_push(bl, 0, a);
    return a;
}

void rebucket(struct size_class *c, struct alloc_arena *a)
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
    struct band_lists *bl = &alloc_g.bl[a->cls][a->band];
    bucket_remove(bl, a);
    bucket_push(bl, bucket_of(c, a->live), a);
}

/* Defined here, with the hot path that calls it (the compiler inlines it
 * into alloc_block and alloc_for); alloc_move calls it from compact.c. */
void *arena_take(struct size_class *c, struct alloc_arena *a, size_t size)
{
    uint32_t idx;
    if (a->free_head) {
        char *p = a->free_head;
        a->free_head = *(void **)(void *)p;
        idx = slot_index(a, (size_t)(p - a->slots));
    } else {
        idx = a->bumped++;
        c->bbumped[a->band]++;
    }
    return arena_take_slot(c, a, idx, size);
}

void *arena_take_slot(struct size_class *c, struct alloc_arena *a, uint32_t idx, size_t size)
{
    char *p = a->slots + (size_t)idx * c->size;
    uint64_t *bw = bm_word(a, idx >> 6);
    A_ASSERT(!(*bw & (1ull << (idx & 63))));
    *bw |= 1ull << (idx & 63);
    slack_set(a, idx, a->slot_size - (uint32_t)size);
    a->live++;
    c->blive[a->band]++;
    c->live_bytes += size;
    alloc_g.live_bytes += size;
    if (unlikely(a->live >= c->thr[a->bucket + 1]))
        rebucket(c, a);
    return p;
}

/* ------------------------------------------------------------ large blocks */

void *large_alloc(size_t size)
{
    if (size > SIZE_MAX / 2) {
        alloc_g.failures++;
        errno = ENOMEM;
        return NULL;
    }
    size_t map = round_up(size + LARGE_HDR + alloc_g.color_max, alloc_g.page);
    void *base = os_map_aligned(map);
    if (base == NULL) {
        alloc_g.failures++;
        errno = ENOMEM;
        return NULL;
    }
    struct large *l = header_of_base((uintptr_t)base);
    l->magic = LARGE_MAGIC;
    l->size = size;
    l->map_size = map;
    l->usable = map - ((uintptr_t)l - (uintptr_t)base) - LARGE_HDR;
    large_list_push(&alloc_g.large, NULL, l);
    alloc_g.nlarge++;
    alloc_g.large_mapped += map;
    alloc_g.live_bytes += size;
    alloc_g.large_usable += l->usable;
    return (char *)l + LARGE_HDR;
}

static void large_free(struct large *l, void *p)
{
    if (l->magic != LARGE_MAGIC || (char *)p != (char *)l + LARGE_HDR)
        alloc_panic("free of a pointer that is not a live block", p);
    large_list_unlink(&alloc_g.large, NULL, l);
    alloc_g.nlarge--;
    alloc_g.large_mapped -= l->map_size;
    alloc_g.live_bytes -= l->size;
    alloc_g.large_usable -= l->usable;
    l->magic = 0;
    os_unmap((void *)base_of(l), l->map_size);
}

/* ----------------------------------------------------------- alloc / free */

static void *alloc_slow(size_t size, unsigned band)
{
    if (!alloc_g.ready) {
        int rc = alloc_setup(NULL);
        if (rc != 0) {
            alloc_g.failures++;
            errno = rc;
            return NULL;
        }
    }
    if (size > alloc_g.large_max)
        return large_alloc(size);
    unsigned ci = size <= LUT_MAX ? alloc_g.lut[(size + 7) >> 3] : class_of_geometric(size);
    struct band_lists *bl = &alloc_g.bl[ci][band];
    struct alloc_arena *a;
    if (bl->nonempty)
        a = bl->head[31 - __builtin_clz(bl->nonempty)];
    else if ((a = arena_new(ci, band)) == NULL) {
        alloc_g.failures++;
        errno = ENOMEM;
        return NULL;
    }
    return arena_take(&alloc_g.cls[ci], a, size);   /* alloc_block made size 0 into 1 */
}

void *alloc_block(size_t size, unsigned band)
{
    unsigned ci;
    if (unlikely(band >= ALLOC_BANDS))
        band = ALLOC_BANDS - 1;
    if (likely(size <= LUT_MAX)) {
        if (unlikely(size == 0))
            size = 1;
        ci = alloc_g.lut[(size + 7) >> 3];
    } else if (size <= alloc_g.large_max) {
        ci = class_of_geometric(size);
    } else {
        return alloc_slow(size, band);
    }
    struct band_lists *bl = &alloc_g.bl[ci][band];
    if (unlikely(bl->nonempty == 0))
        return alloc_slow(size, band);
    struct alloc_arena *a = bl->head[31 - __builtin_clz(bl->nonempty)];
    return arena_take(&alloc_g.cls[ci], a, size);
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
    alloc_g.frees++;
    struct size_class *c = &alloc_g.cls[a->cls];
    c->blive[a->band]--;
    size_t req = a->slot_size - slack_get(a, idx);
    c->live_bytes -= req;
    alloc_g.live_bytes -= req;
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

/* ------------------------------------------------------------------ pinning */

bool alloc_arena_pin(struct alloc_arena *a)
{
    if (a->flags & FLAG_BUSY)
        return false;
    /* Off the bucket lists, so that no block is placed here (a mover's
     * copies land elsewhere), and not retired while pinned. */
    bucket_remove(&alloc_g.bl[a->cls][a->band], a);
    a->flags |= FLAG_BUSY;
    return true;
}

void alloc_arena_unpin(struct alloc_arena *a)
{
    /* the mover's pins are the mover's to drop */
    if (!(a->flags & FLAG_BUSY) || (a->flags & FLAG_MOVER))
        return;
    struct size_class *c = &alloc_g.cls[a->cls];
    if (a->live == 0) {
        arena_empty(c, a);
    } else {
        a->flags &= (uint8_t)~FLAG_BUSY;
        bucket_push(&alloc_g.bl[a->cls][a->band], bucket_of(c, a->live), a);
    }
}
