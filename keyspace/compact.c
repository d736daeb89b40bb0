/*
 * keyspace/compact.c: the keyspace's side of online compaction (what a
 * block the mover visits means, and repointing the index at its copy) and
 * the pinners report (which keys keep sparse arenas mapped).
 */
#include "keyspace/internal.h"

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
    if (!n)
        return false;  /* out of memory: the arena stays partly evacuated (alloc counts it) */
    if (!repoint_at(t, i, n)) {
        alloc_free(n);
        return false;  /* a large copy and no room to index it (cannot happen: alloc_move
                          copies an arena block into its own class) */
    }
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
#if defined(CD_ASSERT_LEVEL) && CD_ASSERT_LEVEL >= 2
    struct alloc_compact_status before;   /* a step with no run ends none */
    alloc_compact_status(&before);
#endif
    bool more = alloc_compact_step(budget_us, evacuate, NULL);
    maybe_shrink();
#if defined(CD_ASSERT_LEVEL) && CD_ASSERT_LEVEL >= 2
    if (before.running && !more)
        KS_VERIFY("at the end of a compaction run");
#endif
    return more;
}

void ks_compact_status(struct alloc_compact_status *st)
{
    alloc_compact_status(st);
}

bool ks_compact_running(void)
{
    return alloc_compact_running();
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
