/*
 * keyspace/evict.c: maxmemory eviction by policy (sampled LRU, LFU, random,
 * TTL), with a pool of candidates kept across calls; see the comment
 * below.
 */
#include "keyspace/internal.h"

static inline bool policy_lfu(enum ks_evict_policy p)
{
    return p == KS_EVICT_ALLKEYS_LFU || p == KS_EVICT_VOLATILE_LFU;
}

static inline bool policy_volatile(enum ks_evict_policy p)
{
    return p >= KS_EVICT_VOLATILE_LRU;
}

/*
 * ---- eviction ----
 *
 * Sampled, as in Redis: each eviction samples evict_samples keys (runs of
 * index slots from random starts; volatile policies keep only entries
 * with a TTL) and merges them into a pool of the EVICT_POOL best
 * candidates kept across calls; the best candidate still valid (its pointer
 * still in the index with the same key hash: it may have been deleted or
 * moved by the compactor since) is evicted. Pool entries are pointers, so
 * the pool is emptied on flush and whenever the policy changes.
 */

static const char *const policy_names[] = {
    [KS_EVICT_NOEVICTION] = "noeviction",
    [KS_EVICT_ALLKEYS_LRU] = "allkeys-lru",
    [KS_EVICT_ALLKEYS_LFU] = "allkeys-lfu",
    [KS_EVICT_ALLKEYS_RANDOM] = "allkeys-random",
    [KS_EVICT_VOLATILE_LRU] = "volatile-lru",
    [KS_EVICT_VOLATILE_LFU] = "volatile-lfu",
    [KS_EVICT_VOLATILE_RANDOM] = "volatile-random",
    [KS_EVICT_VOLATILE_TTL] = "volatile-ttl",
};

const char *ks_evict_policy_name(enum ks_evict_policy p)
{
    return (unsigned)p < sizeof policy_names / sizeof policy_names[0] ? policy_names[p] : "?";
}

bool ks_evict_policy_parse(const char *name, enum ks_evict_policy *out)
{
    for (unsigned i = 0; i < sizeof policy_names / sizeof policy_names[0]; i++) {
        if (strcasecmp(name, policy_names[i]) == 0) {
            *out = (enum ks_evict_policy)i;
            return true;
        }
    }
    return false;
}

void ks_set_evict_policy(enum ks_evict_policy p)
{
    bool lfu = policy_lfu(p);
    if (lfu != ks.lfu) {
        ks.lfu = lfu;
        ks.pool_n = 0;
    }
}

void ks_set_evict_samples(unsigned n)
{
    ks.evict_samples = n < 1 ? 1 : n > 64 ? 64 : n;
}

/* Higher is evicted first. */
static uint64_t evict_score(const struct entry *e, enum ks_evict_policy p)
{
    switch (p) {
    case KS_EVICT_ALLKEYS_LRU:
    case KS_EVICT_VOLATILE_LRU:
        return (uint16_t)(ks.lru_now - e->clock);  /* idle ticks (~1 s) */
    case KS_EVICT_ALLKEYS_LFU:
    case KS_EVICT_VOLATILE_LFU:
        return 255 - lfu_decayed(e->clock);
    case KS_EVICT_VOLATILE_TTL:
        return (uint64_t)INT64_MAX - (uint64_t)ent_expire(e);  /* soonest first */
    default:
        return rng_next();
    }
}

static void pool_insert(struct entry *e, uint64_t h, uint64_t score)
{
    unsigned n = ks.pool_n, i;
    for (i = 0; i < n; i++) {
        if (ks.pool[i].e == e)
            return;  /* already a candidate */
    }
    if (n == EVICT_POOL) {
        if (score <= ks.pool[0].score)
            return;  /* worse than every candidate */
        memmove(&ks.pool[0], &ks.pool[1], (n - 1) * sizeof ks.pool[0]);
        n--;
    }
    for (i = n; i > 0 && ks.pool[i - 1].score > score; i--)
        ks.pool[i] = ks.pool[i - 1];
    ks.pool[i] = (struct evict_cand){e, h, score};
    ks.pool_n = n + 1;
}

/* Index slot of e if e is still the entry whose key hashes to h. */
static size_t cand_slot(struct entry *e, uint64_t h, struct table **t)
{
    size_t i = find_entry(e, h, t);
    if (i == NOPOS || entry_hash(e) != h)
        return NOPOS;  /* gone, moved by the compactor, or another key's block now */
    return i;
}

/* Frees the entry in slot i of t; returns the bytes that gives back. */
static size_t evict_at(struct table *t, size_t i, bool expired)
{
    struct entry *e = slot_entry(t->slots[i]);
    size_t bytes = alloc_usable(e) + sizeof(slot_t);
    remove_at(t, i, false);
    if (expired)
        ks.expired++;
    else
        ks.evicted++;
    return bytes;
}

/* Where a run of samples starts: the home of a random hash, in the table
 * that holds that part of hash space. While resizing, old holds the hashes
 * above the migration cursor's and cur those below (and the keys inserted
 * since, which a sample then misses), so the run starts where entries are
 * dense: from a slot of the other table it would cross a stretch of
 * tombstones or empty slots and take the same few entries at its end every
 * time (a run is a random set of keys only where the table is full). */
static size_t sample_start(const struct table **t)
{
    uint64_t h = rng_next();
    if (ks.old.slots) {
        size_t i = tbl_home(&ks.old, h);
        if (i >= ks.mig) {
            *t = &ks.old;
            return i;
        }
    }
    *t = &ks.cur;
    return tbl_home(&ks.cur, h);
}

/*
 * Samples up to ks.evict_samples entries eligible for policy p: runs of
 * consecutive index slots from random starts (slots are in hash order, so a
 * run is a random set of keys; volatile policies skip entries without a
 * TTL). Expired entries found are deleted at once
 * (their bytes are added to *freed); the others go to the pool, or for the
 * random policies straight to *pick. Returns the number of live entries
 * sampled.
 */
static unsigned evict_sample(enum ks_evict_policy p, size_t *freed, struct evict_cand *pick)
{
    bool vol = policy_volatile(p);
    struct entry *found[64];
    uint64_t hs[64];
    unsigned want = ks.evict_samples < 64 ? ks.evict_samples : 64, got = 0;
    size_t total = ks_count();
    for (int start = 0; start < 16 && got < want && total > 0; start++) {
        const struct table *t;
        size_t i = sample_start(&t);
        for (unsigned walked = 0; walked < 1024 && walked < t->size && got < want; walked++) {
            slot_t s = t->slots[i];
            i = tbl_next(t, i);
            if (s <= SLOT_TOMB)
                continue;
            struct entry *e = slot_entry(s);
            if (vol && !(e->flags & EF_TTL))
                continue;
            bool dup = false;  /* runs from two starts may overlap */
            for (unsigned k = 0; k < got && !dup; k++)
                dup = found[k] == e;
            if (!dup)
                found[got++] = e;
        }
    }
    unsigned live = 0;
    for (unsigned k = 0; k < got; k++) {
        struct entry *e = found[k];
        hs[k] = entry_hash(e);
        struct table *t;
        if (ent_expired(e)) {
            size_t i = cand_slot(e, hs[k], &t);
            if (i != NOPOS)
                *freed += evict_at(t, i, true);
            /* a later sample may have been this entry's neighbour and
             * moved by the shift: it is found again through its hash */
            continue;
        }
        live++;
        uint64_t score = evict_score(e, p);
        if (pick) {
            if (!pick->e || score > pick->score)
                *pick = (struct evict_cand){e, hs[k], score};
        } else {
            pool_insert(e, hs[k], score);
        }
    }
    return live;
}

struct ks_evict_result ks_evict(size_t bytes_to_free, enum ks_evict_policy p)
{
    struct ks_evict_result res = {0, 0};
    if (!ks.ready || p == KS_EVICT_NOEVICTION || (unsigned)p > KS_EVICT_VOLATILE_TTL)
        return res;
    ks_set_evict_policy(p);
    if (ks.pool_policy != p) {
        ks.pool_policy = p;
        ks.pool_n = 0;
    }
    bool random = p == KS_EVICT_ALLKEYS_RANDOM || p == KS_EVICT_VOLATILE_RANDOM;
    int idle_rounds = 0;
    while (res.bytes < bytes_to_free && idle_rounds < 8) {
        if (ks_count() == 0 || (policy_volatile(p) && ks.expires == 0))
            break;
        size_t freed = 0;
        struct evict_cand pick = {NULL, 0, 0};
        unsigned live = evict_sample(p, &freed, random ? &pick : NULL);
        res.bytes += freed;
        struct table *t;
        size_t i = NOPOS;
        if (random) {
            if (pick.e)
                i = cand_slot(pick.e, pick.h, &t);
        } else {
            /* the best candidate still valid; invalid ones are dropped */
            while (ks.pool_n > 0 && i == NOPOS) {
                struct evict_cand c = ks.pool[--ks.pool_n];
                i = cand_slot(c.e, c.h, &t);
                if (i != NOPOS && policy_volatile(p) && !(c.e->flags & EF_TTL))
                    i = NOPOS;  /* persisted since it was sampled */
                if (i != NOPOS && ent_expired(c.e)) {
                    res.bytes += evict_at(t, i, true);
                    i = NOPOS;
                    freed = 1;
                }
            }
        }
        if (i != NOPOS) {
            res.bytes += evict_at(t, i, false);
            res.keys++;
            idle_rounds = 0;
        } else if (freed == 0 && live == 0) {
            idle_rounds++;  /* nothing eligible found: the caller gets OOM */
        }
    }
    maybe_shrink();
    return res;
}
