/*
 * keyspace/verify.c: statistics and ks_verify, the invariants the tests
 * check after every step.
 */
#include "keyspace/internal.h"

/* ---- stats and verification ---- */

size_t ks_used_memory(void)
{
    return alloc_live_bytes() + index_bytes();
}

void ks_stats(struct ks_stats *st)
{
    memset(st, 0, sizeof *st);
    st->keyspace_hits = ks.hits;
    st->keyspace_misses = ks.misses;
    st->expired_keys = ks.expired;
    st->evicted_keys = ks.evicted;
    st->keys = ks_count();
    st->expires = ks.expires;
    st->index_slots = index_slots();
    st->index_bytes = index_bytes();
    st->rehashing = ks.old.slots != NULL;
}

void ks_stats_reset(void)
{
    ks.hits = ks.misses = ks.expired = ks.evicted = 0;
}

/* A failed check of ks_verify: says which on stderr (a fuzzer or test that
 * sees ks_verify fail then knows what broke), evaluates to false. */
#define VFAIL(...) (fprintf(stderr, "ks_verify: " __VA_ARGS__), fputc('\n', stderr), false)

/* The arena sweep's bounds hold for in-arena TTL entry e (in slot i): the
 * flags name its arena's band and class, its expiry is at or above the
 * global floor and its pair's floor, and at or above the pair's walk
 * minimum if the walk is past e. */
static bool verify_arena_expiry(const struct entry *e, int64_t exp, size_t i)
{
    const struct alloc_arena *a = alloc_arena_of(e);
    if (!a)
        return VFAIL("slot %zu: entry %p flagged in an arena but large", i, (const void *)e);
    struct alloc_arena_info in;
    alloc_arena_info(a, &in);
    unsigned c = ent_class(e), b = ent_band(e);
    if (in.band != b || in.cls != c)
        return VFAIL("slot %zu: entry %p flagged class %u band %u, in an arena of class %u band %u",
                     i, (const void *)e, c, b, in.cls, in.band);
    if (exp < ks.aw_floor)
        return VFAIL("slot %zu: entry %p expires at %lld, below the arena floor %lld (now %lld)",
                     i, (const void *)e, (long long)exp, (long long)ks.aw_floor, (long long)ks.now_ms);
    if (exp < ks.pfloor[c][b])
        return VFAIL("slot %zu: entry %p expires at %lld, below the floor %lld of pair (%u, %u) "
                     "(now %lld)", i, (const void *)e, (long long)exp, (long long)ks.pfloor[c][b],
                     c, b, (long long)ks.now_ms);
    uintptr_t base = (uintptr_t)in.base;
    bool passed = ks.aw_walking && c == ks.aw_cls && b == ks.aw_band &&
                  (base < ks.aw_base || (base == ks.aw_base && (uintptr_t)e < ks.aw_resume));
    if (passed && exp < ks.pmin[c][b])
        return VFAIL("slot %zu: entry %p expires at %lld, behind the arena sweep of pair (%u, %u) "
                     "but below its walk minimum %lld (now %lld)", i, (const void *)e,
                     (long long)exp, c, b, (long long)ks.pmin[c][b], (long long)ks.now_ms);
    return true;
}

static bool verify_table(const struct table *t, bool is_old, size_t *ttl, size_t *loose)
{
    const char *tn = is_old ? "old" : "cur";
    size_t used = 0, empty = 0;
    for (size_t i = 0; i < t->size; i++) {
        slot_t s = t->slots[i];
        if (s == 0) {
            empty++;
            continue;
        }
        if (s == SLOT_TOMB) {
            if (!is_old)
                return VFAIL("%s slot %zu: tombstone in the active table", tn, i);
            continue;
        }
        if (is_old && i < ks.mig)
            return VFAIL("old slot %zu: entry behind the migration cursor %zu", i, ks.mig);
        if ((s & SLOT_LOOSE) ? (s & ~SLOT_LOOSE) >= ks.loose.cap : !alloc_handle_mapped(s))
            return VFAIL("%s slot %zu: %#x names no entry", tn, i, (unsigned)s);
        struct entry *e = slot_entry(s);
        if (((uintptr_t)e & 7) || e->flags & ~EF_ALL)
            return VFAIL("%s slot %zu: bad entry %p (flags %#x)", tn, i, (const void *)e,
                         (unsigned)((uintptr_t)e & 7 ? 0 : e->flags));
        if ((e->flags & EF_LONGKEY) ? ent_klen(e) <= UINT8_MAX : e->klen8 != ent_klen(e))
            return VFAIL("%s slot %zu: entry %p key length encoding", tn, i, (const void *)e);
        if (e->vlen > KS_MAX_VAL_LEN)
            return VFAIL("%s slot %zu: entry %p value length %u", tn, i, (const void *)e,
                         (unsigned)e->vlen);
        uint64_t h = entry_hash(e);
        /* a loose entry's slot is loose and its pointer is its own; any
         * other's is its block's handle */
        if (!(e->flags & EF_LOOSE) != !(s & SLOT_LOOSE) ||
            (!(s & SLOT_LOOSE) && alloc_handle(e) != s))
            return VFAIL("%s slot %zu: slot %#x does not name entry %p (flags %#x)", tn, i,
                         (unsigned)s, (const void *)e, (unsigned)e->flags);
        *loose += (s & SLOT_LOOSE) != 0;
        /* reachable: the lookup from its home lands exactly here */
        size_t klen;
        const char *key = entry_key(e, &klen);
        if (tbl_find(t, h, key, klen) != i)
            return VFAIL("%s slot %zu: entry %p not reachable from its home %zu", tn, i,
                         (const void *)e, tbl_home(t, h));
        /* in at most one table */
        if (is_old && tbl_find(&ks.cur, h, key, klen) != NOPOS)
            return VFAIL("old slot %zu: key also in the active table", i);
        used++;
        if (e->flags & EF_TTL) {
            (*ttl)++;
            /* the expiry floor bounds every expiry; entries behind the
             * sweep cursor are accounted in the current pass */
            int64_t exp = ent_expire(e);
            if (index_covers(e)) {
                if (exp < ks.exp_floor)
                    return VFAIL("%s slot %zu: entry %p expires at %lld, below the index floor "
                                 "%lld (now %lld)", tn, i, (const void *)e, (long long)exp,
                                 (long long)ks.exp_floor, (long long)ks.now_ms);
                if (!is_old && i < ks.exp_cursor && exp < ks.exp_pass_min)
                    return VFAIL("cur slot %zu: entry %p expires at %lld, behind the index sweep "
                                 "cursor %zu but below the pass minimum %lld (now %lld)", i,
                                 (const void *)e, (long long)exp, ks.exp_cursor,
                                 (long long)ks.exp_pass_min, (long long)ks.now_ms);
            }
            if (ks.sweep == KS_SWEEP_ARENAS && !(e->flags & EF_LOOSE) &&
                !verify_arena_expiry(e, exp, i))
                return false;
        }
    }
    if (used != t->used)
        return VFAIL("%s: %zu entries found, %zu counted", tn, used, t->used);
    if (empty == 0)
        return VFAIL("%s: no empty slot", tn);
    if (!is_old && used > hard_cap(t->size))
        return VFAIL("cur: %zu entries, over the hard cap of %zu slots", used, t->size);
    return true;
}

/* The loose table holds exactly the loose slots' entries (each slot was
 * checked to name its own, and a pointer is never a free link), and its
 * other indexes are on the free list. */
static bool verify_loose(size_t slots)
{
    size_t nfree = 0;
    for (uint32_t f = ks.loose.free; f; f = (uint32_t)((uintptr_t)ks.loose.ent[f - 1] >> 1)) {
        if (f > ks.loose.cap || !((uintptr_t)ks.loose.ent[f - 1] & 1) || nfree >= ks.loose.cap)
            return VFAIL("loose free list: index %u", f - 1);
        nfree++;
    }
    if (nfree + slots != ks.loose.cap)
        return VFAIL("loose table: %zu free, %zu loose slots, %u indexes", nfree, slots,
                     ks.loose.cap);
    return true;
}

bool ks_verify(void)
{
    if (!ks.ready)
        return VFAIL("not set up");
    size_t ttl = 0, loose = 0;
    if (!verify_table(&ks.cur, false, &ttl, &loose))
        return false;
    if (ks.old.slots) {
        if (ks.old.used == 0)
            return VFAIL("old table kept with no entries");
        if (!verify_table(&ks.old, true, &ttl, &loose))
            return false;
    } else if (ks.old.used != 0) {
        return VFAIL("no old table but %zu entries counted in it", ks.old.used);
    }
    if (ttl != ks.expires)
        return VFAIL("%zu TTL slots found, %zu counted", ttl, ks.expires);
    return verify_loose(loose);
}
