/*
 * keyspace: set-up, lookups and updates of entries (see keyspace.h for
 * the contract). The parts of the design live with their code:
 *   entry.c    the entry layout, the clocks, the access field (LRU/LFU)
 *   index.c    the hash index: probing, deletion, incremental resize
 *   scan.c     SCAN and RANDOMKEY
 *   expire.c   lazy and active expiry (the arena and index sweeps)
 *   evict.c    maxmemory eviction
 *   compact.c  the compaction callback, and who pins arenas
 *   verify.c   statistics and ks_verify
 * internal.h holds what they share. Everything lives in one `ks` state:
 * there is one db.
 *
 * CHANGE NOTIFICATION
 *
 * The modify hook (for WATCH) fires with the key once per change: from
 * ks_insert, from remove_at for every removal of a visible entry (DEL,
 * lazy and active expiry, set_expire into the past), from ks_set_expire and
 * ks_modified; never from migration, repoint or touch. It runs before the
 * entry is freed and must not call back into the keyspace.
 */
#include "keyspace/internal.h"

/* Finds key in cur then old; sets *t. Does not check expiry. */
static inline size_t find(uint64_t h, const char *key, size_t klen, struct table **t)
{
    size_t i = tbl_find(&ks.cur, h, key, klen);
    if (i != NOPOS) {
        *t = &ks.cur;
        return i;
    }
    if (ks.old.slots) {
        i = tbl_find(&ks.old, h, key, klen);
        *t = &ks.old;
    }
    return i;
}

static inline void rehash_step(void)
{
    if (__builtin_expect(ks.old.slots != NULL, 0))
        migrate(ks.rehash_steps, false);
}

static inline void ent_touch(struct entry *e)
{
    if (__builtin_expect(ks.lfu, 0))
        lfu_touch(e);
    else if (e->clock != ks.lru_now)
        e->clock = ks.lru_now;
}

static inline uint16_t access_init(void)
{
    return ks.lfu ? (uint16_t)((unsigned)ks.lfu_now << 8 | LFU_INIT) : ks.lru_now;
}

/* A new or changed expiry t of entry e (in its block now): lowers the
 * floors and counts in both passes (an arena pass may be past e's arena). */
static inline void note_expiry(const struct entry *e, int64_t t)
{
    if (index_covers(e)) {
        if (t < ks.exp_floor)
            ks.exp_floor = t;
        if (t < ks.exp_pass_min)
            ks.exp_pass_min = t;
    }
    if (!(e->flags & EF_LOOSE)) {
        unsigned c = ent_class(e), b = ent_band(e);
        if (t < ks.aw_floor)
            ks.aw_floor = t;
        if (t < ks.pfloor[c][b])
            ks.pfloor[c][b] = t;
        if (t < ks.pmin[c][b])
            ks.pmin[c][b] = t;
    }
}

static inline void ent_set_expire_field(struct entry *e, int64_t t)
{
    memcpy((char *)e + sizeof(struct entry) + ((e->flags & EF_LONGKEY) ? 4 : 0), &t, 8);
}

/* ---- setup ---- */

void ks_options_default(struct ks_options *opt)
{
#define X(field, name, type, def, min, max, flags, words, desc) opt->field = (def);
    KS_OPTIONS(X)
#undef X
}

static unsigned clamp_effort(unsigned e)
{
    return e < 1 ? 1 : e > 10 ? 10 : e;
}

void ks_set_expire_tuning(unsigned cycle_us, unsigned effort)
{
    ks.cycle_us = cycle_us;
    ks.effort = clamp_effort(effort);
}

void ks_set_lifetime_segregation(bool on)
{
    ks.ttl_bands = on;
}

static void seed_init(void)
{
    uint64_t s[4];
    if (getrandom(s, sizeof s, 0) != (ssize_t)sizeof s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
        s[1] = fold_mul(s[0] ^ 0xa0761d6478bd642full, (uint64_t)ts.tv_sec ^ 0xe7037ed1a0b428dbull);
        s[2] = fold_mul(s[1] ^ 0x8ebc6af09c88c6e3ull, (uint64_t)(uintptr_t)&ks);
        s[3] = s[0] ^ s[2];
    }
    ks.seed[0] = s[0];
    ks.seed[1] = s[1] | 1;
    ks.seed[2] = s[2];
    ks.rng = s[3] | 1;
}

int ks_setup(const struct ks_options *opt)
{
    if (ks.ready)
        return 0;
    struct ks_options o;
    ks_options_default(&o);
    if (opt)
        o = *opt;
    if (o.initial_power < 2)
        o.initial_power = 2;
    if (o.initial_power > 40)
        return EINVAL;
    if (o.rehash_steps == 0)
        o.rehash_steps = 1;
    /* hooks may be registered before setup */
    ks_modify_fn on_modify = ks.on_modify;
    void *on_modify_ctx = ks.on_modify_ctx;
    ks_flush_fn on_flush = ks.on_flush;
    void *on_flush_ctx = ks.on_flush_ctx;
    memset(&ks, 0, sizeof ks);
    ks.on_modify = on_modify;
    ks.on_modify_ctx = on_modify_ctx;
    ks.on_flush = on_flush;
    ks.on_flush_ctx = on_flush_ctx;
    ks.initial_power = o.initial_power;
    ks.rehash_steps = o.rehash_steps;
    ks.sweep = o.expire_sweep == KS_SWEEP_INDEX ? KS_SWEEP_INDEX : KS_SWEEP_ARENAS;
    ks.cycle_us = o.expire_cycle_us;
    ks.effort = clamp_effort(o.expire_effort);
    ks.ttl_bands = o.ttl_bands;
    ks.evict_samples = o.evict_samples ? o.evict_samples : 5;
    size_t size = (size_t)1 << o.initial_power;
    ks.cur.slots = calloc(size, sizeof(slot_t));
    if (!ks.cur.slots)
        return ENOMEM;
    ks.cur.size = size;
    seed_init();
    ks_clock_update();
    ks.exp_floor = INT64_MAX;
    expiry_pass_restart();
    arena_sweep_reset();
    ks.ready = true;
    KS_VERIFY("after ks_setup");
    return 0;
}

/* Frees the entries of both tables and forgets the loose ones. */
static void free_entries(void)
{
    const struct table *tabs[2] = {&ks.cur, &ks.old};
    for (int k = 0; k < 2; k++) {
        const struct table *t = tabs[k];
        if (!t->slots)
            continue;
        for (size_t i = 0; i < t->size; i++) {
            if (t->slots[i] > SLOT_TOMB)
                alloc_free(slot_entry(t->slots[i]));
        }
    }
    loose_clear();
}

void ks_teardown(void)
{
    if (!ks.ready)
        return;
    free_entries();
    free(ks.cur.slots);
    free(ks.old.slots);
    memset(&ks, 0, sizeof ks);
}

void ks_flush(void)
{
    if (ks.on_flush)
        ks.on_flush(ks.on_flush_ctx);
    free_entries();
    free(ks.old.slots);
    ks.old.slots = NULL;
    ks.old.size = ks.old.used = 0;
    ks.mig = 0;
    size_t init = (size_t)1 << ks.initial_power;
    slot_t *fresh = ks.cur.size == init ? NULL : tbl_alloc(init);
    if (fresh) {
        free(ks.cur.slots);
        ks.cur.slots = fresh;
        ks.cur.size = init;
    } else {
        memset(ks.cur.slots, 0, ks.cur.size * sizeof(slot_t));
    }
    ks.cur.used = 0;
    ks.expires = 0;
    ks.exp_floor = INT64_MAX;
    expiry_pass_restart();
    arena_sweep_reset();
    ks.pool_n = 0;
    KS_VERIFY("after ks_flush");
}

void ks_test_fault_hooks(ks_block_alloc_fn block_alloc, ks_index_alloc_ok_fn index_alloc_ok)
{
    ks.hook_block = block_alloc;
    ks.hook_index = index_alloc_ok;
}

/* ---- lookups ---- */

static struct entry *lookup_live(const char *key, size_t klen)
{
    rehash_step();
    struct table *t;
    size_t i = find(ks_hash(key, klen), key, klen, &t);
    if (i == NOPOS)
        return NULL;
    struct entry *e = slot_entry(t->slots[i]);
    if (ent_expired(e)) {
        remove_at(t, i, false);
        ks.expired++;
        return NULL;
    }
    return e;
}

struct entry *ks_get(const char *key, size_t klen)
{
    struct entry *e = lookup_live(key, klen);
    if (e) {
        ks.hits++;
        ent_touch(e);
    } else {
        ks.misses++;
    }
    return e;
}

struct entry *ks_get_notouch(const char *key, size_t klen)
{
    struct entry *e = lookup_live(key, klen);
    if (e)
        ks.hits++;
    else
        ks.misses++;
    return e;
}

struct entry *ks_peek(const char *key, size_t klen)
{
    return lookup_live(key, klen);
}

/* ---- updates ---- */

static unsigned lifetime_band(int64_t expire_ms)
{
    if (expire_ms == KS_NO_EXPIRE)
        return 0;
    int64_t left = expire_ms - ks.now_ms;
    uint64_t secs = left > 0 ? (uint64_t)left >> 10 : 0;  /* ~seconds, no division */
    unsigned bits = secs ? 64u - (unsigned)__builtin_clzll(secs) : 0;
    unsigned band = 1 + (bits + 1) / 2;
    return band < ALLOC_BANDS ? band : ALLOC_BANDS - 1;
}

/*
 * A block for an entry of size bytes expiring at expire_ms, in the band of
 * its remaining lifetime (band 0 for everything when segregation is off).
 * *place gets the entry's placement flags: EF_LOOSE when the block will not
 * be in an arena (a large block or one from the test hook), which the arena
 * sweep would not see, else the band in the EF_BAND bits.
 */
static struct entry *block_alloc(size_t size, int64_t expire_ms, unsigned *place)
{
    unsigned band = ks.ttl_bands ? lifetime_band(expire_ms) : 0;
    void *p = ks.hook_block ? ks.hook_block(size, band) : alloc_block(size, band);
    if (!p)
        return NULL;
    unsigned cls = alloc_size_class(size);
    *place = (ks.hook_block || cls >= alloc_class_count() || cls >= KS_SWEEP_CLASSES)
                 ? EF_LOOSE
                 : band << EF_BAND_SHIFT;
    if ((*place & EF_LOOSE) && !loose_reserve()) {
        alloc_free(p);  /* the test hook's blocks are alloc's too */
        return NULL;
    }
    return p;
}

struct entry *ks_alloc(const char *key, size_t klen, size_t vlen, int64_t expire_ms)
{
    if (klen > KS_MAX_KEY_LEN || vlen > KS_MAX_VAL_LEN)
        return NULL;
    /* a replacement needs no new slot, which matters only at the hard cap;
     * a lookup that deletes the key before ks_insert frees a slot for it */
    if (!ensure_room()) {
        struct table *t;
        if (find(ks_hash(key, klen), key, klen, &t) == NOPOS)
            return NULL;
    }
    unsigned flags = (klen > UINT8_MAX ? EF_LONGKEY : 0) | (expire_ms != KS_NO_EXPIRE ? EF_TTL : 0);
    size_t hs = hdr_size(flags);
    unsigned place;
    struct entry *e = block_alloc(hs + klen + vlen, expire_ms, &place);
    if (!e)
        return NULL;
    flags |= place;
    e->flags = (uint8_t)flags;
    e->klen8 = (flags & EF_LONGKEY) ? 0 : (uint8_t)klen;
    e->clock = access_init();
    e->vlen = (uint32_t)vlen;
    if (flags & EF_LONGKEY) {
        uint32_t k = (uint32_t)klen;
        memcpy((char *)e + sizeof(struct entry), &k, 4);
    }
    if (flags & EF_TTL)
        ent_set_expire_field(e, expire_ms);
    if (klen)
        memcpy((char *)e + hs, key, klen);
    return e;
}

void ks_discard(struct entry *e)
{
    alloc_free(e);
}

void ks_insert(struct entry *e)
{
    rehash_step();
    size_t klen = ent_klen(e);
    const char *key = ent_key(e);
    uint64_t h = ks_hash(key, klen);
    slot_t s = slot_for(e);
    if (e->flags & EF_TTL) {
        ks.expires++;
        note_expiry(e, ent_expire(e));
    }

    size_t i = tbl_find(&ks.cur, h, key, klen);
    if (i != NOPOS) {
        slot_t prev = ks.cur.slots[i];
        struct entry *pe = slot_entry(prev);
        if (pe->flags & EF_TTL)
            ks.expires--;
        ks.cur.slots[i] = s;
        notify(e);
        slot_drop(prev);
        alloc_free(pe);
        return;
    }
    if (ks.old.slots) {
        i = tbl_find(&ks.old, h, key, klen);
        if (i != NOPOS)
            remove_at(&ks.old, i, true);
    }
    tbl_place(&ks.cur, h, s);
    notify(e);
}

ks_rstatus_e ks_set(const char *key, size_t klen, const char *val, size_t vlen, int64_t expire_ms)
{
    struct entry *e = ks_alloc(key, klen, vlen, expire_ms);
    if (!e)
        return KS_ENOMEM;
    if (vlen)
        memcpy(entry_val(e, NULL), val, vlen);
    ks_insert(e);
    return KS_OK;
}

bool ks_del(const char *key, size_t klen)
{
    rehash_step();
    struct table *t;
    size_t i = find(ks_hash(key, klen), key, klen, &t);
    if (i == NOPOS)
        return false;
    bool live = !ent_expired(slot_entry(t->slots[i]));
    if (!live)
        ks.expired++;
    remove_at(t, i, false);
    maybe_shrink();
    return live;
}

/* Locates the slot that holds entry e (which must be in the index). */
size_t find_entry(const struct entry *e, uint64_t h, struct table **t)
{
    size_t i = tbl_find_ptr(&ks.cur, h, e);
    if (i != NOPOS) {
        *t = &ks.cur;
        return i;
    }
    if (ks.old.slots) {
        *t = &ks.old;
        return tbl_find_ptr(&ks.old, h, e);
    }
    return NOPOS;
}

struct entry *ks_set_expire(struct entry *e, int64_t expire_ms, bool *deleted)
{
    if (deleted)
        *deleted = false;
    uint64_t h = entry_hash(e);
    struct table *t;
    size_t i = find_entry(e, h, &t);
    if (i == NOPOS)
        return NULL;  /* not in the index: a caller bug */

    if (expire_ms != KS_NO_EXPIRE && expire_ms <= ks.now_ms) {
        remove_at(t, i, false);
        if (deleted)
            *deleted = true;
        return NULL;
    }
    bool had = e->flags & EF_TTL;
    bool want = expire_ms != KS_NO_EXPIRE;
    if (had == want) {
        if (want) {
            ent_set_expire_field(e, expire_ms);
            note_expiry(e, expire_ms);
        }
        notify(e);
        return e;
    }

    /* The header changes size: copy into a new block. */
    unsigned flags = (e->flags & EF_LONGKEY) | (want ? EF_TTL : 0);
    size_t klen = ent_klen(e);
    size_t body = klen + e->vlen;
    unsigned place;
    struct entry *n = block_alloc(hdr_size(flags) + body, expire_ms, &place);
    if (!n)
        return NULL;
    flags |= place;
    *n = *e;
    n->flags = (uint8_t)flags;
    if (flags & EF_LONGKEY)
        memcpy((char *)n + sizeof(struct entry), (const char *)e + sizeof(struct entry), 4);
    if (want) {
        ent_set_expire_field(n, expire_ms);
        note_expiry(n, expire_ms);
    }
    memcpy(ent_key(n), ent_key(e), body);

    slot_drop(t->slots[i]);
    t->slots[i] = slot_for(n);
    if (want)
        ks.expires++;
    else
        ks.expires--;
    notify(n);
    alloc_free(e);
    return n;
}

void ks_touch(struct entry *e)
{
    ent_touch(e);
}

void ks_modified(struct entry *e)
{
    notify(e);
}

void ks_set_modify_hook(ks_modify_fn fn, void *ctx)
{
    ks.on_modify = fn;
    ks.on_modify_ctx = ctx;
}

void ks_set_flush_hook(ks_flush_fn fn, void *ctx)
{
    ks.on_flush = fn;
    ks.on_flush_ctx = ctx;
}

/* Points slot i of t, which holds an entry, at `moved`, a copy of it
 * (ks_repoint and the compactor's evacuate); false (nothing changed) when
 * the copy is loose and the loose table cannot grow for it. */
bool repoint_at(struct table *t, size_t i, struct entry *moved)
{
    slot_t s = t->slots[i];
    if (s & SLOT_LOOSE) {
        ks.loose.ent[s & ~SLOT_LOOSE] = moved;  /* EF_LOOSE came with the copy */
    } else {
        /* a mover may have used another band, or a large block: record
         * where the copy is, for the arena sweep */
        const struct alloc_arena *a = alloc_arena_of(moved);
        unsigned place = EF_LOOSE;
        if (a) {
            struct alloc_arena_info in;
            alloc_arena_info(a, &in);
            place = in.band << EF_BAND_SHIFT;
        } else if (!loose_reserve()) {
            return false;
        }
        moved->flags = (uint8_t)((moved->flags & ~EF_BAND) | place);
        t->slots[i] = slot_for(moved);
    }
    /* the copy may sit in an arena the arena sweep has passed */
    if (moved->flags & EF_TTL)
        note_expiry(moved, ent_expire(moved));
    return true;
}

bool ks_repoint(struct entry *old, struct entry *moved)
{
    struct table *t;
    size_t i = find_entry(old, entry_hash(moved), &t);
    return i != NOPOS && repoint_at(t, i, moved);
}

size_t ks_count(void)
{
    return ks.cur.used + ks.old.used;
}

size_t ks_count_expires(void)
{
    return ks.expires;
}
