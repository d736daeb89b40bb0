/*
 * keyspace/scan.c: SCAN's cursor over a resizing index, and random keys
 * (RANDOMKEY, eviction sampling).
 *
 * SCAN
 *
 * The cursor is a position in hash space: "every key whose hash is below
 * the cursor has been returned". A key's home follows its hash at every
 * table size (HOME in index.c), so a call returns the keys of both tables
 * (while resizing) whose hash lies in [cursor, end), end being the start of
 * the bucket count buckets on in the active table, and returns end (0 once
 * it passes the last bucket). Between calls the index may grow, shrink or
 * migrate: a key's hash does not change, and it is in exactly one table
 * when a call looks, so a key present for the whole scan is returned
 * exactly once (Redis promises at least once). Cost: one key hash per slot
 * walked.
 */
#include "keyspace/internal.h"

/* ---- scan ---- */

uint64_t ks_scan(uint64_t cursor, size_t count, ks_visit_fn fn, void *ctx)
{
    if (count == 0)
        count = 1;
    const struct table *t = &ks.cur;
    size_t b = tbl_home(t, cursor);
    uint64_t end = tbl_bucket_start(t, count < t->size - b ? b + count : t->size);
    tbl_range(&ks.cur, cursor, end, fn, ctx);
    tbl_range(&ks.old, cursor, end, fn, ctx);
    return end;
}

/* ---- random ---- */

static struct entry *first_live(const struct table *t, size_t start)
{
    if (!t->slots)
        return NULL;
    for (size_t n = 0, i = start % t->size; n < t->size; n++, i = tbl_next(t, i)) {
        slot_t s = t->slots[i];
        if (s > SLOT_TOMB && !ent_expired(slot_entry(s)))
            return slot_entry(s);
    }
    return NULL;
}

/* A random index slot: a table chosen in proportion to its entries (there
 * are total > 0 of them), then a slot of it, in old one the migration has
 * not reached (below it are only tombstones). A draw that finds no entry
 * is retried, so every key is as likely. */
static size_t random_slot(size_t total, const struct table **t)
{
    uint64_t r = rng_next();
    if (ks.old.slots && (r >> 32) % total < ks.old.used) {
        *t = &ks.old;
        return ks.mig + scale64(rng_next(), ks.old.size - ks.mig);
    }
    *t = &ks.cur;
    return tbl_home(*t, rng_next());
}

struct entry *ks_random(void)
{
    size_t total = ks_count();
    if (total == 0)
        return NULL;
    for (int tries = 0; tries < 64; tries++) {
        const struct table *t;
        size_t i = random_slot(total, &t);
        slot_t s = t->slots[i];
        if (s > SLOT_TOMB && !ent_expired(slot_entry(s)))
            return slot_entry(s);
    }
    size_t start = (size_t)rng_next();
    struct entry *e = first_live(&ks.cur, start);
    return e ? e : first_live(&ks.old, start);
}
