/*
 * alloc/verify.c: alloc_verify, the walk that checks every invariant listed
 * at the top of internal.h: per arena (bitmap, slack fields, free list,
 * bucket), per class and (class, band) (counters against sums, list links),
 * the retained pool, the release queue, large blocks and the global live
 * byte count; the mover's own state is checked by verify_mover (compact.c),
 * which owns it.
 *
 * It reports the first broken invariant on stderr and returns false; tests
 * call it after every step, and it is exact: a check either holds for every
 * reachable state or is a bug.
 */
#include "alloc/internal.h"

#include <stdlib.h>

/*
 * Page state, asked of the OS (mincore): no page wholly above the bump
 * pointer is resident (a purge returned it, or nothing ever touched it; a
 * packed arena's pages are purged a slice per batch, and those still to go
 * are allowed), so no purged page can hold a live block, which all lie
 * below it; and the page where each live block starts is resident (a
 * block the owner wrote was not purged under it). Slot pages below the
 * bump pointer that hold no live block may be either.
 */
static bool verify_pages(const struct alloc_arena *a)
{
    size_t page = alloc_g.page;
    uintptr_t end = base_of(a) + alloc_g.opt.arena_size;
    uintptr_t top = touched_end(a, a->bumped);
    if (mover_purge_end(a) > top)
        top = mover_purge_end(a);   /* packed, its purge under way */
    uintptr_t low = (uintptr_t)a->slots / page * page;
    size_t npages = (end - low) / page;
    /* one vector for the whole arena from the slots' first page */
    unsigned char *vec = malloc(npages);
    if (vec == NULL || !os_residency((const void *)low, end - low, vec)) {
        free(vec);
        return true;   /* cannot look: not a broken invariant */
    }
    size_t above = (top - low) / page;
    while (above < npages && !(vec[above] & 1))
        above++;
    size_t n = 0, i = 0;
    while ((i = next_live(a, i, &n)) < a->bumped &&
           (vec[((uintptr_t)a->slots + i * a->slot_size - low) / page] & 1))
        i++;
    free(vec);
    CHECK(above == npages, "arena %p: page %zu resident above its bump pointer %u",
          (const void *)a, above, a->bumped);
    CHECK(i >= a->bumped, "arena %p: live slot %zu on a page that is not resident",
          (const void *)a, i);
    return true;
}

/* a holds a number that names it (alloc_handle). */
static bool number_ok(const struct alloc_arena *a)
{
    return a->number > 0 && a->number < alloc_g.numbers_end &&
           alloc_hmap.base[a->number] == base_of(a);
}

/* Every number given is held by one of the arenas counted (each holds its
 * own, checked with it: a base, so never a free link) or on the free list. */
static bool verify_numbers(size_t arenas)
{
    CHECK(alloc_g.numbers_end <= alloc_g.numbers_cap, "numbers end %u", alloc_g.numbers_end);
    size_t nfree = 0;
    for (uint32_t n = alloc_g.number_free; n; n = (uint32_t)(alloc_hmap.base[n] >> 1)) {
        CHECK(n < alloc_g.numbers_end && (alloc_hmap.base[n] & 1) &&
                  nfree < alloc_g.numbers_end,
              "free number %u", n);
        nfree++;
    }
    CHECK(nfree + arenas + 1 == alloc_g.numbers_end, "%zu free numbers, %zu held, end %u",
          nfree, arenas, alloc_g.numbers_end);
    return true;
}

static bool verify_arena(unsigned ci, const struct alloc_arena *a, bool retained, size_t *req)
{
    const struct size_class *c = &alloc_g.cls[ci];
    CHECK(header_of_base(base_of(a)) == a, "arena %p misplaced", (const void *)a);
    CHECK(a->magic == ARENA_MAGIC, "arena %p", (const void *)a);
    CHECK(number_ok(a), "arena %p number %u", (const void *)a, a->number);
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
    if (!verify_pages(a))
        return false;
    if (a->flags & FLAG_PACK) {
        /* its free list is stale until the pack settles (compact.c) */
        CHECK((a->flags & FLAG_MOVER) && !retained, "arena %p packed, not slated",
              (const void *)a);
        return true;
    }
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

bool alloc_verify(void)
{
    if (!alloc_g.ready) {
        CHECK(alloc_g.narenas == 0 && alloc_g.nlarge == 0 && alloc_g.lru_head == NULL,
              "not set up");
        return true;
    }
    size_t total_arenas = 0, slated = 0;
    for (unsigned ci = 0; ci < alloc_g.nclasses; ci++) {
        const struct size_class *c = &alloc_g.cls[ci];
        CHECK(c->size == class_size(ci), "class %u", ci);
        CHECK(ci == 0 || c->size > alloc_g.cls[ci - 1].size, "class %u", ci);
        CHECK(layout_end(c, c->nslots, NULL) <= alloc_g.opt.arena_size, "class %u", ci);
        size_t narenas = 0, live = 0, req = 0;
        size_t per_band[ALLOC_BANDS] = {0}, pinned[ALLOC_BANDS] = {0};
        size_t band_live[ALLOC_BANDS] = {0}, band_bumped[ALLOC_BANDS] = {0};
        const struct alloc_arena *prev = NULL;
        for (const struct alloc_arena *a = c->all; a; a = a->cnext) {
            CHECK(a->cprev == prev, "class %u list links", ci);
            CHECK(narenas < alloc_g.narenas + 1, "class %u list cycle", ci);
            if (!verify_arena(ci, a, false, &req))
                return false;
            narenas++;
            live += a->live;
            per_band[a->band]++;
            band_live[a->band] += a->live;
            band_bumped[a->band] += a->bumped;
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
            const struct band_lists *bl = &alloc_g.bl[ci][b];
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
            CHECK(c->bbumped[b] == band_bumped[b], "class %u band %u bumped %zu counted %zu", ci,
                  b, c->bbumped[b], band_bumped[b]);
            CHECK(listed + pinned[b] == per_band[b] && bl->narenas == per_band[b],
                  "class %u band %u: %zu listed, %zu pinned, %u counted, %zu in class list", ci,
                  b, listed, pinned[b], bl->narenas, per_band[b]);
        }
        total_arenas += narenas;
    }
    for (unsigned ci = alloc_g.nclasses; ci < MAX_CLASSES; ci++)
        for (unsigned b = 0; b < ALLOC_BANDS; b++)
            CHECK(alloc_g.bl[ci][b].nonempty == 0 && alloc_g.bl[ci][b].narenas == 0, "class %u",
                  ci);
    CHECK(total_arenas == alloc_g.narenas, "arenas %zu counted %zu", alloc_g.narenas, total_arenas);
    if (!verify_mover(slated))
        return false;

    size_t nret = 0;
    const struct alloc_arena *rp = NULL;
    for (const struct alloc_arena *a = alloc_g.lru_head; a; a = a->enext) {
        CHECK(nret < alloc_g.nretained, "retained list too long");
        CHECK(a->eprev == rp, "retained links");
        CHECK(a->magic == ARENA_MAGIC && a->cls < alloc_g.nclasses && a->band < ALLOC_BANDS,
              "retained %p", (const void *)a);
        size_t req = 0;
        if (!verify_arena(a->cls, a, true, &req))
            return false;
        CHECK(nret < DIRTY_MAX || a->bumped == 0, "retained %p at %zu still dirty",
              (const void *)a, nret);
        nret++;
        rp = a;
    }
    CHECK(alloc_g.lru_tail == rp, "retained tail");
    CHECK(nret == alloc_g.nretained, "retained %zu counted %zu", alloc_g.nretained, nret);
    CHECK(nret <= alloc_g.opt.arena_retain, "retained %zu > retain %u", nret,
          alloc_g.opt.arena_retain);
    size_t nspare = 0;
    for (unsigned ci = 0; ci < alloc_g.nclasses; ci++)
        for (unsigned b = 0; b < ALLOC_BANDS; b++) {
            const struct alloc_arena *sp = NULL;
            for (const struct alloc_arena *a = alloc_g.bl[ci][b].spare; a; a = a->bnext) {
                CHECK(nspare < nret, "spare lists longer than the retained list");
                CHECK(a->bprev == sp && a->cls == ci && a->band == b && a->bucket == RETAINED,
                      "spare %p of class %u band %u", (const void *)a, ci, b);
                nspare++;
                sp = a;
            }
        }
    CHECK(nspare == nret, "spares %zu, retained %zu", nspare, nret);
    size_t nrel = 0;
    for (const struct alloc_arena *a = alloc_g.rel_head; a; a = a->enext) {
        CHECK(nrel < alloc_g.nreleasing, "releasing list too long");
        CHECK(a->magic == ARENA_MAGIC && a->live == 0 && a->flags == 0,
              "releasing arena %p", (const void *)a);
        CHECK(a->enext != NULL || alloc_g.rel_tail == a, "releasing tail");
        CHECK(number_ok(a), "releasing arena %p number %u", (const void *)a, a->number);
        nrel++;
    }
    CHECK(nrel == alloc_g.nreleasing &&
              (nrel > 0 || (alloc_g.rel_tail == NULL && alloc_g.rel_off == 0)),
          "releasing %zu counted %zu", alloc_g.nreleasing, nrel);
    CHECK(alloc_compact_running() || nrel == 0, "arenas still releasing after the run");
    if (!verify_numbers(total_arenas + nret + nrel))
        return false;

    size_t nl = 0, lmap = 0, lreq = 0, luse = 0;
    const struct large *lp = NULL;
    for (const struct large *l = alloc_g.large; l; l = l->next) {
        CHECK(nl < alloc_g.nlarge, "large list too long");
        CHECK(l->magic == LARGE_MAGIC && l->prev == lp, "large %p", (const void *)l);
        CHECK(header_of_base(base_of(l)) == l, "large %p misplaced", (const void *)l);
        CHECK(l->size > alloc_g.large_max && l->usable >= l->size &&
                  (uintptr_t)l - base_of(l) + LARGE_HDR + l->usable == l->map_size &&
                  l->map_size % alloc_g.page == 0,
              "large %p sizes", (const void *)l);
        nl++;
        lmap += l->map_size;
        lreq += l->size;
        luse += l->usable;
        lp = l;
    }
    CHECK(nl == alloc_g.nlarge && lmap == alloc_g.large_mapped && luse == alloc_g.large_usable,
          "large totals");
    size_t live = lreq;
    for (unsigned i = 0; i < alloc_g.nclasses; i++)
        live += alloc_g.cls[i].live_bytes;
    CHECK(live == alloc_g.live_bytes, "live bytes %zu, classes and large blocks hold %zu",
          alloc_g.live_bytes, live);
    return true;
}
