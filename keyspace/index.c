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
 * (about 1.75 entries for a hit and 2.6 for a miss at the load of 0.6 the
 * table averages), and what needs the TTL reads the entry's flags (the
 * expiry sweep with KS_SWEEP_ARENAS, the default, looks at loose slots
 * only, whose SLOT_LOOSE bit it can see).
 *
 * The home bucket of a key is hash & mask.
 * Invariant of the active table: every slot from an entry's home bucket up
 * to the entry itself is non-empty, so a probe may stop at the first empty.
 * Deletion keeps it by backward shift (no tombstones in the active table):
 * walk forward from the hole, and move back every entry whose home bucket is
 * not cyclically inside (hole, position]; stop at an empty slot. The load
 * stays at most 0.8 (grow x2 when an insert would pass it) and a table
 * shrinks when the load drops below 0.1, to the smallest power of two that
 * keeps the load at or below 0.5, never below the initial size; the gap
 * between 0.1 and 0.4-0.5 keeps a key count near a threshold from
 * resizing back and forth.
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
 *    0.8) slots, which finishes migration in time without a pause (a few
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
    size_t i = h & t->mask;
    for (size_t n = 0; n <= t->mask; n++) {
        slot_t s = t->slots[i];
        if (s == 0)
            return NOPOS;
        if (s != SLOT_TOMB && slot_entry(s) == e)
            return i;
        i = (i + 1) & t->mask;
    }
    return NOPOS;
}

/* Backward-shift removal of slot i from the active table (see file top). */
static void tbl_remove_shift(struct table *t, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        slot_t s = t->slots[j];
        if (s == 0)
            break;
        struct entry *e = slot_entry(s);
        size_t k = entry_hash(e) & t->mask;
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
        ks.old.mask = 0;
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

/*
 * Migrates at most max_slots old slots. With reap, expired entries are freed
 * instead of moved (only from the cron paths: a command may hold entries).
 * Returns the number reaped.
 */
size_t migrate(size_t max_slots, bool reap)
{
    struct table *o = &ks.old;
    size_t reaped = 0;
    for (size_t n = 0; n < max_slots && o->used > 0 && ks.mig <= o->mask; n++, ks.mig++) {
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

/* Starts a resize to 2^power slots; false if the table cannot be had. */
static bool start_resize(unsigned power)
{
    if (ks.old.slots || power >= 8 * sizeof(size_t) - 4)
        return false;
    size_t size = (size_t)1 << power;
    slot_t *slots = tbl_alloc(size);
    if (!slots)
        return false;
    ks.old = ks.cur;
    ks.cur.slots = slots;
    ks.cur.mask = size - 1;
    ks.cur.used = 0;
    ks.mig = 0;
    expiry_pass_restart();
    finish_old_if_empty();
    return true;
}

static unsigned table_power(const struct table *t)
{
    return (unsigned)__builtin_ctzll((unsigned long long)tbl_size(t));
}

void maybe_shrink(void)
{
    if (ks.old.slots)
        return;
    size_t size = tbl_size(&ks.cur);
    size_t n = ks.cur.used;
    if (size <= ((size_t)1 << ks.initial_power) || n * 10 >= size)
        return;
    unsigned p = ks.initial_power;
    while (((size_t)1 << p) < 2 * n)
        p++;
    if (p < table_power(&ks.cur))
        start_resize(p);
}

/* Guarantees that one more insert fits in cur (see "Room" at file top). */
bool ensure_room(void)
{
    size_t total = ks.cur.used + ks.old.used + 1;
    if (ks.old.slots) {
        size_t cap = tbl_size(&ks.cur) * 4 / 5;  /* the 0.8 load limit */
        if (total <= cap) {
            /* pace migration so it ends before cur reaches its load limit:
             * at least (old slots left) / (inserts left) slots per insert */
            size_t need = (tbl_size(&ks.old) - ks.mig) / (cap - total + 1) + 1;
            if (need > ks.rehash_steps)
                migrate(need, false);
            return true;
        }
        migrate_all();  /* only if the pacing was defeated (cannot happen) */
    }
    size_t size = tbl_size(&ks.cur);
    if (total * 5 <= size * 4)
        return true;
    if (start_resize(table_power(&ks.cur) + 1))
        return true;
    return total <= hard_cap(size);
}
