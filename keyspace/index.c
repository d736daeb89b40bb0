/*
 * keyspace/index.c: the hash index, its probing, deletion and incremental
 * resize.
 *
 * INDEX
 *
 * Open addressing with linear probing over an array of 32-bit slots. A
 * slot is 0 (empty), SLOT_TOMB (see migration below), or names an entry:
 *
 *   an alloc handle (alloc.h) for an entry in an arena, nearly all of them:
 *               4 bytes where a pointer takes 8, turned into the entry by
 *               one table load (alloc_deref), no call;
 *   SLOT_LOOSE | i  for a loose entry (EF_LOOSE: a large block, which has
 *               no handle, or one from the test hook): ks.loose.ent[i]
 *               holds its pointer. The loose table has a free index
 *               reserved before such an entry is made (loose_reserve), so
 *               an insert never fails for it.
 *
 * The slot holds no hash tag and no TTL bit: at 10 M keys the index was
 * 13.4 of an entry's 22.6 bytes of overhead with 8-byte slots, 6.7 with
 * these. So a probe compares the key of every occupied slot it passes
 * (see HOME for how many), and what needs the TTL reads the entry's flags (the
 * expiry sweep with KS_SWEEP_ARENAS, the default, looks at loose slots
 * only, whose SLOT_LOOSE bit it can see).
 *
 * HOME
 *
 * The home bucket of a key is its hash scaled to the table, h * size / 2^64
 * (tbl_home: one multiply), so a table can have any number of slots and
 * homes follow hash order. Any size lets the index grow by a quarter
 * instead of doubling: the load stays between 0.6 and 0.75, so the index
 * costs 5.3 to 6.7 bytes per entry at every key count, where power-of-two
 * tables growing at 0.8 swung between 5 and 10 (per entry overhead 14.3 B
 * at 6.5 M keys and 18.8 B at 7 M with 16 B keys and 32 B values; 14.7 to
 * 15.9 B from 1 M to 10 M keys now). The price, in slots a linear probe
 * looks at over the cycle of loads (Knuth's expected counts): a hit 2.05
 * on average where doubling gave 1.8, a miss 5.4 where it gave 4.2, though
 * the worst, just before a resize, falls from 13 to 8.5 with the lower
 * cap; and growing to N keys rehashes about 4 N entries where doubling
 * rehashed N (a bulk load of 10 M keys took 16 % longer, paired loads of
 * 3 M keys 19 %).
 * Hash order is also what SCAN's cursor and the census walk need: a
 * position in hash space means the same at every table size (tbl_range).
 *
 * Invariant of the active table: every slot from an entry's home bucket up
 * to the entry itself is non-empty, so a probe may stop at the first empty.
 * Deletion keeps it by backward shift (no tombstones in the active table):
 * walk forward from the hole, and move back every entry whose home bucket is
 * not cyclically inside (hole, position]; stop at an empty slot. The load
 * stays at most 0.75 (grow by a quarter when an insert would pass it) and a
 * table shrinks when the load drops below 0.1, to twice its entries (a load
 * of 0.5), never below the initial size; the gap between 0.1 and 0.5 keeps
 * a key count near a threshold from resizing back and forth.
 *
 * INCREMENTAL RESIZE
 *
 * A resize allocates the new table with calloc (large sizes are fresh mmap
 * pages that the kernel zeroes lazily, so even 2^25 slots cost no pause) and
 * makes it the active table `cur`; the previous one becomes `old`. Then:
 *
 *  - New keys go to cur only. A lookup probes cur, then old. An insert of a
 *    key that still lives in old removes it from old, so a key is in at most
 *    one table.
 *  - Migration walks old from slot 0 upward with the cursor `mig`: each
 *    entry found is placed into cur at its home bucket there, and its old
 *    slot becomes SLOT_TOMB. Every lookup/insert/delete migrates
 *    `rehash_steps` old slots; ks_cron and ks_expire_cycle migrate as much
 *    as their time budget allows (in batches, checking the clock).
 *  - Old is never shifted: a deletion there also writes SLOT_TOMB. Empty
 *    slots of old stay empty and occupied ones become tombstones, so every
 *    probe run in old is exactly as long as before migration started and a
 *    probe for any key still in old reaches it. Tombstones never appear in
 *    cur.
 *  - When old holds no more entries (old.used == 0, at the latest when the
 *    cursor reaches its end) it is freed.
 *  - Room: ks_alloc reserves room for the insert that follows it. Right
 *    after a shrink the new table has little headroom, so a burst of inserts
 *    could fill it before migration ends; each reservation therefore
 *    migrates at least (old slots left) / (inserts left before cur reaches
 *    0.75) slots, which finishes migration in time without a pause (a few
 *    slots per insert after a normal shrink). If growing fails for lack of
 *    memory, inserts go on up to a hard load cap (15/16 and always one
 *    empty slot) and then fail with KS_ENOMEM, so a probe always ends.
 *
 * HASH
 *
 * 64-bit multiply-fold hash (128-bit product, xor of both halves) over 16
 * bytes per round, with the tail read as overlapping words so short keys
 * take one or two multiplies; keyed with a per-process random seed so that
 * clients cannot precompute colliding keys (flooding a linear-probing table
 * would make runs quadratic).
 */
#include "keyspace/internal.h"

/* An existing expiry that the current index pass may not see where it is
 * now (its slot moved). */
static inline void note_expiry_moved(const struct entry *e)
{
    if (!index_covers(e))
        return;
    int64_t t = ent_expire(e);
    if (t < ks.exp_pass_min)
        ks.exp_pass_min = t;
}

/* ---- loose entries ---- */

/* Puts index i of the loose table on its free list. */
static void loose_push(uint32_t i)
{
    ks.loose.ent[i] = (struct entry *)(uintptr_t)((uintptr_t)ks.loose.free << 1 | 1);
    ks.loose.free = i + 1;
}

/* A free index in the loose table, growing it if need be; false (ENOMEM)
 * if it cannot grow. */
bool loose_reserve(void)
{
    if (ks.loose.free)
        return true;
    uint32_t cap = ks.loose.cap ? ks.loose.cap * 2 : 16;
    if (cap > SLOT_LOOSE || cap <= ks.loose.cap)
        return false;
    struct entry **ent = realloc(ks.loose.ent, cap * sizeof(*ent));
    if (!ent)
        return false;
    ks.loose.ent = ent;
    for (uint32_t i = cap; i-- > ks.loose.cap;)
        loose_push(i);
    ks.loose.cap = cap;
    return true;
}

/* The slot naming e, which is about to enter the index: a loose entry
 * takes the index loose_reserve kept for it. */
slot_t slot_for(struct entry *e)
{
    if (!(e->flags & EF_LOOSE))
        return alloc_handle(e);
    KS_ASSERT(ks.loose.free != 0);
    uint32_t i = ks.loose.free - 1;
    ks.loose.free = (uint32_t)((uintptr_t)ks.loose.ent[i] >> 1);
    ks.loose.ent[i] = e;
    return SLOT_LOOSE | i;
}

/* Slot s leaves the index: a loose index goes back to the free list. */
void slot_drop(slot_t s)
{
    if (s & SLOT_LOOSE)
        loose_push(s & ~SLOT_LOOSE);
}

/* Forgets every loose entry (their blocks are freed by the caller). */
void loose_clear(void)
{
    free(ks.loose.ent);
    memset(&ks.loose, 0, sizeof ks.loose);
}

/* ---- table primitives ---- */

/* Finds the slot naming exactly entry pointer e (e is not dereferenced). */
size_t tbl_find_ptr(const struct table *t, uint64_t h, const struct entry *e)
{
    size_t i = tbl_home(t, h);
    for (size_t n = 0; n < t->size; n++) {
        slot_t s = t->slots[i];
        if (s == 0)
            return NOPOS;
        if (s != SLOT_TOMB && slot_entry(s) == e)
            return i;
        i = tbl_next(t, i);
    }
    return NOPOS;
}

size_t tbl_range(const struct table *t, uint64_t from, uint64_t to, ks_visit_fn fn, void *ctx)
{
    if (!t->slots)
        return 0;
    /* the homes of hashes in [from, to) are [b, b + homes); their entries
     * lie in the runs from there on, so the walk ends at the first empty
     * slot past the last home */
    size_t b = tbl_home(t, from);
    size_t homes = (to ? tbl_home(t, to - 1) + 1 : t->size) - b;
    size_t i = b, n = 0;
    while (n < t->size) {
        slot_t s = t->slots[i];
        n++;
        i = tbl_next(t, i);
        if (s == 0) {
            if (n > homes)
                break;
            continue;
        }
        if (s == SLOT_TOMB)
            continue;
        struct entry *e = slot_entry(s);
        uint64_t h = entry_hash(e);
        if (h >= from && (to == 0 || h < to) && !ent_expired(e))
            fn(e, ctx);
    }
    return n;
}

uint64_t tbl_bucket_start(const struct table *t, size_t b)
{
    if (b >= t->size)
        return 0;
    return (uint64_t)((((unsigned __int128)b << 64) + t->size - 1) / t->size);
}

/* Backward-shift removal of slot i from the active table (see file top). */
static void tbl_remove_shift(struct table *t, size_t i)
{
    size_t j = i;
    for (;;) {
        j = tbl_next(t, j);
        slot_t s = t->slots[j];
        if (s == 0)
            break;
        struct entry *e = slot_entry(s);
        size_t k = tbl_home(t, entry_hash(e));
        /* the entry at j may fill hole i unless its home k lies cyclically in (i, j] */
        bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        if (e->flags & EF_TTL)
            note_expiry_moved(e);
        t->slots[i] = s;
        i = j;
    }
    t->slots[i] = 0;
    t->used--;
}

slot_t *tbl_alloc(size_t size)
{
    if (ks.hook_index && !ks.hook_index(size * sizeof(slot_t)))
        return NULL;
    return calloc(size, sizeof(slot_t));
}

/* Frees old once it holds no entry (the invariant ks_verify checks: an old
 * table exists only while it has entries to migrate). */
static void finish_old_if_empty(void)
{
    if (ks.old.slots && ks.old.used == 0) {
        free(ks.old.slots);
        ks.old.slots = NULL;
        ks.old.size = 0;
        ks.mig = 0;
    }
}

/* Removes the entry in slot i of t (cur or old) and frees it; tells the
 * modify hook unless the key is being replaced (ks_insert notifies then).
 * Frees old when that was its last entry: every caller needs that, and a
 * caller that forgot it (lazy expiry in lookup_live did) left an empty old
 * table behind until the next rehash step. */
void remove_at(struct table *t, size_t i, bool replaced)
{
    slot_t s = t->slots[i];
    KS_ASSERT(s > SLOT_TOMB && t->used > 0);
    struct entry *e = slot_entry(s);
    KS_ASSERT((e->flags & EF_TTL) == 0 || ks.expires > 0);
    if (!replaced)
        notify(e);
    if (e->flags & EF_TTL)
        ks.expires--;
    if (t == &ks.old) {
        t->slots[i] = SLOT_TOMB;
        t->used--;
        finish_old_if_empty();
    } else {
        tbl_remove_shift(t, i);
    }
    slot_drop(s);
    alloc_free(e);
}

/* ---- resize ---- */

#define MIGRATE_AHEAD 8

/*
 * Migrates at most max_slots old slots. With reap, expired entries are freed
 * instead of moved (only from the cron paths: a command may hold entries).
 * Returns the number reaped.
 */
size_t migrate(size_t max_slots, bool reap)
{
    struct table *o = &ks.old;
    size_t reaped = 0;
    for (size_t n = 0; n < max_slots && o->used > 0 && ks.mig < o->size; n++, ks.mig++) {
        /* the entry a few slots on is hashed soon: its key on its way in
         * hides most of the cache miss that dominates a migration */
        if (ks.mig + MIGRATE_AHEAD < o->size && o->slots[ks.mig + MIGRATE_AHEAD] > SLOT_TOMB)
            __builtin_prefetch(slot_entry(o->slots[ks.mig + MIGRATE_AHEAD]));
        slot_t s = o->slots[ks.mig];
        if (s <= SLOT_TOMB)
            continue;
        struct entry *e = slot_entry(s);
        o->slots[ks.mig] = SLOT_TOMB;
        o->used--;
        if (reap && ent_expired(e)) {
            notify(e);
            ks.expires--;
            ks.expired++;
            reaped++;
            slot_drop(s);
            alloc_free(e);
            continue;
        }
        if (e->flags & EF_TTL)
            note_expiry_moved(e);
        tbl_place(&ks.cur, entry_hash(e), s);
    }
    finish_old_if_empty();
    return reaped;
}

static void migrate_all(void)
{
    while (ks.old.slots)
        migrate((size_t)-1, false);
}

/* Starts a resize to size slots; false if the table cannot be had. */
static bool start_resize(size_t size)
{
    if (ks.old.slots || size > SIZE_MAX / 8 / sizeof(slot_t))
        return false;
    slot_t *slots = tbl_alloc(size);
    if (!slots)
        return false;
    ks.old = ks.cur;
    ks.cur.slots = slots;
    ks.cur.size = size;
    ks.cur.used = 0;
    ks.mig = 0;
    expiry_pass_restart();
    finish_old_if_empty();
    return true;
}

/* The entries a table of size slots holds before it grows (see HOME). */
static size_t load_cap(size_t size)
{
    return size / 4 * 3 + size % 4 * 3 / 4;
}

/* The size a full table grows to: a quarter more (see HOME), and at least
 * 4 slots more so that small tables do not resize at every insert. */
static size_t grown_size(size_t size)
{
    size_t q = size / 4;
    return size + (q > 4 ? q : 4);
}

void maybe_shrink(void)
{
    if (ks.old.slots)
        return;
    size_t size = ks.cur.size;
    size_t n = ks.cur.used;
    size_t init = (size_t)1 << ks.initial_power;
    if (size <= init || n * 10 >= size)
        return;
    start_resize(2 * n > init ? 2 * n : init);
}

/* Guarantees that one more insert fits in cur (see "Room" at file top). */
bool ensure_room(void)
{
    size_t total = ks.cur.used + ks.old.used + 1;
    if (ks.old.slots) {
        size_t cap = load_cap(ks.cur.size);
        if (total <= cap) {
            /* pace migration so it ends before cur reaches its load limit:
             * at least (old slots left) / (inserts left) slots per insert */
            size_t need = (ks.old.size - ks.mig) / (cap - total + 1) + 1;
            if (need > ks.rehash_steps)
                migrate(need, false);
            return true;
        }
        migrate_all();  /* only if the pacing was defeated (cannot happen) */
    }
    size_t size = ks.cur.size;
    if (total <= load_cap(size))
        return true;
    if (start_resize(grown_size(size)))
        return true;
    return total <= hard_cap(size);
}
