/*
 * keyspace/scan.c: SCAN's cursor over a resizing index, and random keys
 * (RANDOMKEY, eviction sampling).
 *
 * SCAN
 *
 * The cursor enumerates home buckets, not slots, in reverse-binary order:
 * the cursor's bits are incremented from the top of the mask downward, so
 * the buckets already visited at one table size are exactly the expansions
 * of those visited at any other size; growing or shrinking between calls
 * therefore neither skips a bucket nor (when growing) revisits one. To visit
 * a bucket b, walk its probe run from slot b to the first empty slot and
 * report the entries whose home is b: by the invariant above they all lie
 * there, wherever backward-shift deletion moved them (tombstones in old
 * count as non-empty, which keeps this true in old as well). While resizing,
 * visit the bucket v & m0 of the smaller table, then the buckets of the
 * larger one that expand it, stepping the extra high bits with the same
 * reverse-binary increment and starting from the cursor's own high bits:
 * a cursor returned by a call on the larger table has high bits meaning
 * "the expansions before these are done", and those are before in
 * reverse-binary order, not in plain binary order (walking them in plain
 * order from there skipped buckets; test_scan_across_shrinks). When the
 * high bits wrap, the carry moves the cursor to the small table's next
 * bucket. Migration moves an entry between tables only between calls, from
 * one of those buckets to another that is visited in the same call or has
 * the same visited/unvisited status, so it is reported at least once.
 * Cost: one key hash per slot walked.
 */
#include "keyspace/internal.h"

/* Advances a reverse-binary cursor over the buckets of mask m. */
static inline uint64_t cursor_next(uint64_t v, uint64_t m)
{
    v |= ~m;
    v = rev64(v);
    v++;
    return rev64(v);
}

/* ---- scan ---- */

uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    return __builtin_bswap64(v);
}

/* Reports the live entries of t whose home bucket is b (see SCAN above). */
static void scan_bucket(const struct table *t, size_t b, ks_visit_fn fn, void *ctx)
{
    size_t i = b;
    do {
        slot_t s = t->slots[i];
        if (s == 0)
            break;
        if (s != SLOT_TOMB) {
            struct entry *e = slot_entry(s);
            if ((entry_hash(e) & t->mask) == b && !ent_expired(e))
                fn(e, ctx);
        }
        i = (i + 1) & t->mask;
    } while (i != b);
}

uint64_t ks_scan(uint64_t cursor, size_t count, ks_visit_fn fn, void *ctx)
{
    uint64_t v = cursor;
    size_t done = 0;
    if (count == 0)
        count = 1;
    do {
        if (!ks.old.slots) {
            uint64_t m = ks.cur.mask;
            scan_bucket(&ks.cur, v & m, fn, ctx);
            v = cursor_next(v, m);
            done++;
        } else {
            const struct table *small = &ks.cur, *big = &ks.old;
            if (small->mask > big->mask) {
                small = &ks.old;
                big = &ks.cur;
            }
            uint64_t m0 = small->mask, m1 = big->mask;
            scan_bucket(small, v & m0, fn, ctx);
            done++;
            /*
             * The buckets of big whose low bits are v & m0, from v's high
             * bits onward in reverse-binary order: a cursor that a call on
             * the big table returned has high bits meaning "the expansions
             * before these are done", so the order must match. When the
             * high bits wrap, the carry advances v to the next bucket of
             * the small table.
             */
            do {
                scan_bucket(big, v & m1, fn, ctx);
                v = cursor_next(v, m1);
                done++;
            } while (v & (m0 ^ m1));
        }
    } while (v != 0 && done < count);
    return v;
}

/* ---- random ---- */

static struct entry *first_live(const struct table *t, size_t start)
{
    if (!t->slots)
        return NULL;
    for (size_t n = 0, i = start & t->mask; n <= t->mask; n++, i = (i + 1) & t->mask) {
        slot_t s = t->slots[i];
        if (s > SLOT_TOMB && !ent_expired(slot_entry(s)))
            return slot_entry(s);
    }
    return NULL;
}

/* A random index slot: a table chosen in proportion to its entries (there
 * are total > 0 of them), then a slot of it. */
size_t random_slot(size_t total, const struct table **t)
{
    uint64_t r = rng_next();
    *t = ks.old.slots && (r >> 32) % total < ks.old.used ? &ks.old : &ks.cur;
    return (size_t)rng_next() & (*t)->mask;
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
