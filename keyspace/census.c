/*
 * keyspace/census.c: the live census of the keyspace by key prefix (the
 * contract is in keyspace.h, "census").
 *
 * EXACTLY ONCE
 *
 * The walk does not follow slots but the key hash, as SCAN does: a
 * position P (64 bits) says "every key whose hash is below P was counted".
 * A step takes the bucket of the larger index table of the moment that
 * holds P and counts the keys of both tables whose hash lies between P and
 * the bucket's end (tbl_range: homes follow hash order at every table
 * size); then P moves to that end. An entry is in one table at a time and
 * nothing changes during a step, and P only grows, so a key present for
 * the whole walk is counted when P passes its hash and never again,
 * however the tables grew, shrank or migrated between steps. Compaction
 * moves change an entry's address, not its hash, and the census keeps no
 * address between steps.
 *
 * GROUPS
 *
 * An open-addressing table of at most KS_CENSUS_GROUPS(top) groups with
 * backward-shift deletion; when it is full, the smallest of a few sampled
 * groups is folded into "other" to make room. The end of the walk sorts
 * the groups by bytes, keeps the top ones and folds the rest into "other".
 * Pinned arenas: an entry pins when its arena is under half full and its
 * size class had something a compaction could return when the walk began
 * (a class's only, partly filled arena keeps nothing from the OS that
 * moving entries could give back); a
 * bounded set of (arena, group) pairs counts each arena once per group
 * (when the set is full, further pairs are counted without the check: an
 * overcount, never an undercount).
 */
#include "keyspace/internal.h"

_Static_assert(KS_CENSUS_BANDS == ALLOC_BANDS, "census bands are alloc's bands");

#define PAIRS_CAP 16384   /* (arena, group) pairs remembered for pinned_arenas */
#define EVICT_SAMPLE 8

struct census_result {
    bool valid;
    struct ks_census_opts opts;
    int64_t started_ms, finished_ms;
    uint64_t keys, bytes;
    size_t ngroups;
    struct ks_census_group *groups;
    size_t nvanished;
    struct ks_census_group *vanished;
    size_t nclasses;
    struct ks_census_total *classes;
    struct ks_census_total bands[ALLOC_BANDS];
};

static struct {
    bool running;
    struct ks_census_opts opts;
    uint64_t pos;                /* reversed-hash position: below it, counted */
    int64_t started_ms;
    uint64_t keys, bytes;
    struct ks_census_group *g;   /* gcap groups, then one "other" at [gcap] */
    size_t gcap, gn;
    bool folded;                 /* a group went to "other" during the walk */
    uint32_t *gidx;              /* group index + 1 per slot, 0 empty; gmask + 1 slots */
    size_t gmask;
    uint64_t *pairs;             /* hash of (arena, group), 0 empty */
    size_t npairs;
    size_t nclasses;
    struct ks_census_total *classes;
    bool *reclaimable;           /* per class, at the start of the walk */
    struct ks_census_total bands[ALLOC_BANDS];
    struct census_result last, prev;
} cs;

void ks_census_opts_default(struct ks_census_opts *o)
{
    o->delim = ':';
    o->depth = 1;
    o->top = 50;
}

static void result_free(struct census_result *r)
{
    free(r->groups);
    free(r->vanished);
    free(r->classes);
    memset(r, 0, sizeof(*r));
}

static void walk_free(void)
{
    free(cs.g);
    free(cs.gidx);
    free(cs.pairs);
    free(cs.classes);
    free(cs.reclaimable);
    cs.reclaimable = NULL;
    cs.g = NULL;
    cs.gidx = NULL;
    cs.pairs = NULL;
    cs.classes = NULL;
    cs.running = false;
}

void ks_census_reset(void)
{
    walk_free();
    result_free(&cs.last);
    result_free(&cs.prev);
}

bool ks_census_running(void)
{
    return cs.running;
}

void ks_census_abort(void)
{
    walk_free();
}

int ks_census_start(const struct ks_census_opts *o)
{
    if (cs.running)
        return EBUSY;
    if (o->depth < 1 || o->depth > KS_CENSUS_DEPTH_MAX || o->top < 1 || o->top > KS_CENSUS_TOP_MAX)
        return EINVAL;
    cs.opts = *o;
    cs.gcap = KS_CENSUS_GROUPS(o->top);
    size_t slots = 1;
    while (slots < cs.gcap * 2)
        slots <<= 1;
    cs.gmask = slots - 1;
    cs.nclasses = alloc_class_count() + 1;
    cs.g = calloc(cs.gcap + 1, sizeof(*cs.g));
    cs.gidx = calloc(slots, sizeof(*cs.gidx));
    cs.pairs = calloc(PAIRS_CAP, sizeof(*cs.pairs));
    cs.classes = calloc(cs.nclasses, sizeof(*cs.classes));
    cs.reclaimable = calloc(cs.nclasses, sizeof(*cs.reclaimable));
    if (!cs.g || !cs.gidx || !cs.pairs || !cs.classes || !cs.reclaimable) {
        walk_free();
        return ENOMEM;
    }
    for (size_t c = 0; c + 1 < cs.nclasses; c++)
        cs.reclaimable[c] = alloc_compact_reclaimable((int)c) > 0;
    cs.g[cs.gcap].other = true;
    memcpy(cs.g[cs.gcap].prefix, "other", 6);
    cs.g[cs.gcap].plen = 5;
    cs.gn = 0;
    cs.folded = false;
    cs.npairs = 0;
    cs.pos = 0;
    cs.keys = cs.bytes = 0;
    memset(cs.bands, 0, sizeof(cs.bands));
    cs.started_ms = ks.now_ms;
    cs.running = true;
    return 0;
}

/* ---- groups ---- */

static size_t prefix_len(const char *k, size_t klen)
{
    size_t last = 0, seen = 0;
    const char *p = k, *end = k + klen;
    while (p < end) {
        const char *d = memchr(p, cs.opts.delim, (size_t)(end - p));
        if (!d)
            break;
        last = (size_t)(d - k);
        if (++seen == cs.opts.depth)
            break;
        p = d + 1;
    }
    return last < KS_CENSUS_PREFIX_MAX ? last : KS_CENSUS_PREFIX_MAX;
}

static uint64_t prefix_hash(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

/* Removes the index slot at i (backward shift: probe runs stay unbroken). */
static void gidx_remove(size_t i)
{
    size_t j = i;
    for (;;) {
        cs.gidx[i] = 0;
        for (;;) {
            j = (j + 1) & cs.gmask;
            if (cs.gidx[j] == 0)
                return;
            const struct ks_census_group *g = &cs.g[cs.gidx[j] - 1];
            size_t home = prefix_hash(g->prefix, g->plen) & cs.gmask;
            /* j's entry may fill i if its home is not in (i, j] cyclically */
            bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!between)
                break;
        }
        cs.gidx[i] = cs.gidx[j];
        i = j;
    }
}

static size_t gidx_find(const char *p, size_t n, uint64_t h)
{
    for (size_t i = h & cs.gmask;; i = (i + 1) & cs.gmask) {
        uint32_t v = cs.gidx[i];
        if (v == 0)
            return i;
        const struct ks_census_group *g = &cs.g[v - 1];
        if (g->plen == n && memcmp(g->prefix, p, n) == 0)
            return i;
    }
}

static void group_add(struct ks_census_group *to, const struct ks_census_group *from)
{
    to->keys += from->keys;
    to->bytes += from->bytes;
    to->entry_bytes += from->entry_bytes;
    for (int i = 0; i < KS_CENSUS_TTLS; i++)
        to->ttl[i] += from->ttl[i];
    for (int i = 0; i < KS_CENSUS_SIZES; i++)
        to->sizes[i] += from->sizes[i];
    for (int i = 0; i < KS_CENSUS_AGES; i++)
        to->age[i] += from->age[i];
    to->pinned_keys += from->pinned_keys;
    to->pinned_arenas += from->pinned_arenas;
}

/* Makes room by folding the smallest of a few sampled groups into "other";
 * returns the freed array position. */
static size_t group_evict(void)
{
    size_t victim = (size_t)(rng_next() % cs.gn);
    for (int s = 1; s < EVICT_SAMPLE; s++) {
        size_t c = (size_t)(rng_next() % cs.gn);
        if (cs.g[c].bytes < cs.g[victim].bytes)
            victim = c;
    }
    struct ks_census_group *v = &cs.g[victim];
    group_add(&cs.g[cs.gcap], v);
    cs.folded = true;
    gidx_remove(gidx_find(v->prefix, v->plen, prefix_hash(v->prefix, v->plen)));
    return victim;
}

static struct ks_census_group *group_of(const char *k, size_t klen, size_t *gi)
{
    size_t n = prefix_len(k, klen);
    uint64_t h = prefix_hash(k, n);
    size_t i = gidx_find(k, n, h);
    if (cs.gidx[i] == 0) {
        size_t at;
        if (cs.gn < cs.gcap) {
            at = cs.gn++;
        } else {
            at = group_evict();
            i = gidx_find(k, n, h);   /* the shift may have moved the free slot */
        }
        struct ks_census_group *g = &cs.g[at];
        memset(g, 0, sizeof(*g));
        memcpy(g->prefix, k, n);
        g->plen = n;
        cs.gidx[i] = (uint32_t)at + 1;
    }
    *gi = cs.gidx[i] - 1;
    return &cs.g[*gi];
}

/* ---- one entry ---- */

static unsigned ttl_bucket(int64_t exp)
{
    if (exp == KS_NO_EXPIRE)
        return 0;
    int64_t left = exp - ks.now_ms;
    return left < 60000 ? 1 : left < 3600000 ? 2 : left < 86400000 ? 3 : 4;
}

static unsigned size_bucket(size_t vlen)
{
    unsigned b = 0;
    for (size_t lim = 16; b < KS_CENSUS_SIZES - 1 && vlen > lim; lim <<= 2)
        b++;
    return b;
}

static unsigned age_bucket(const struct entry *e)
{
    if (ks.lfu)
        return 3;
    unsigned ticks = (uint16_t)(ks.lru_now - e->clock);   /* ticks of 1.024 s */
    return ticks < 59 ? 0 : ticks < 3516 ? 1 : 2;
}

/* Counts (arena, group) once; true the first time (or when the set is full). */
static bool pair_new(const void *arena, size_t gi)
{
    uint64_t h = prefix_hash((const char *)&arena, sizeof(arena)) ^ (gi * 0x9e3779b97f4a7c15ull);
    h |= 1;
    for (size_t i = h & (PAIRS_CAP - 1);; i = (i + 1) & (PAIRS_CAP - 1)) {
        if (cs.pairs[i] == h)
            return false;
        if (cs.pairs[i] == 0) {
            if (cs.npairs >= PAIRS_CAP * 3 / 4)
                return true;
            cs.pairs[i] = h;
            cs.npairs++;
            return true;
        }
    }
}

static void count_entry(struct entry *e, void *ctx)
{
    (void)ctx;
    size_t klen = ent_klen(e), gi;
    const char *k = ent_key(e);
    struct ks_census_group *g = group_of(k, klen, &gi);
    size_t own = alloc_usable(e), bytes = own + index_share();   /* entry_footprint's sum */
    g->keys++;
    g->bytes += bytes;
    g->entry_bytes += own;
    g->ttl[ttl_bucket(ent_expire(e))]++;
    g->sizes[size_bucket(e->vlen)]++;
    g->age[age_bucket(e)]++;
    cs.keys++;
    cs.bytes += bytes;
    unsigned cls = cs.nclasses - 1;
    if (!(e->flags & EF_LOOSE)) {
        const struct alloc_arena *a = alloc_arena_of(e);
        if (a) {
            struct alloc_arena_info ai;
            alloc_arena_info(a, &ai);
            cls = ai.cls < cs.nclasses - 1 ? ai.cls : cs.nclasses - 1;
            if (ai.live * 2 < ai.slots && cs.reclaimable[cls]) {
                g->pinned_keys++;
                if (pair_new(ai.base, gi))
                    g->pinned_arenas++;
            }
        }
    }
    cs.classes[cls].keys++;
    cs.classes[cls].bytes += bytes;
    cs.bands[ent_band(e)].keys++;
    cs.bands[ent_band(e)].bytes += bytes;
}

/* ---- the walk ---- */

/* One bucket's worth (of the larger table while resizing), adding the
 * slots looked at to *seen (a run can be long, so that is what a step's
 * clock checks count, not buckets); returns false when the walk is
 * complete. */
static bool walk_bucket(size_t *seen)
{
    const struct table *fine = ks.old.size > ks.cur.size ? &ks.old : &ks.cur;
    uint64_t next = tbl_bucket_start(fine, tbl_home(fine, cs.pos) + 1);
    *seen += tbl_range(&ks.cur, cs.pos, next, count_entry, NULL);
    *seen += tbl_range(&ks.old, cs.pos, next, count_entry, NULL);
    if (next == 0)
        return false;
    cs.pos = next;
    return true;
}

static int cmp_bytes_desc(const void *a, const void *b)
{
    const struct ks_census_group *x = a, *y = b;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

static const struct ks_census_group *prev_group(const struct ks_census_group *g)
{
    for (size_t i = 0; i < cs.last.ngroups; i++) {
        const struct ks_census_group *p = &cs.last.groups[i];
        if (p->other == g->other && p->plen == g->plen && memcmp(p->prefix, g->prefix, g->plen) == 0)
            return p;
    }
    return NULL;
}

/*
 * The previous census's groups that have no key now: those whose prefix
 * the walk never met. Known only when no group was folded into "other"
 * during the walk (a folded prefix may have come back later).
 */
static bool find_vanished(struct census_result *r)
{
    if (cs.folded)
        return true;
    size_t n = 0;
    for (size_t i = 0; i < cs.last.ngroups; i++) {
        const struct ks_census_group *p = &cs.last.groups[i];
        if (p->other || cs.gidx[gidx_find(p->prefix, p->plen, prefix_hash(p->prefix, p->plen))])
            continue;
        if (r->vanished == NULL) {
            r->vanished = calloc(cs.last.ngroups, sizeof(*r->vanished));
            if (r->vanished == NULL)
                return false;
        }
        struct ks_census_group *v = &r->vanished[n++];
        memcpy(v->prefix, p->prefix, sizeof(v->prefix));
        v->plen = p->plen;
        v->keys_delta = -(int64_t)p->keys;
        v->bytes_delta = -(int64_t)p->entry_bytes;
    }
    r->nvanished = n;
    return true;
}

static void finish(void)
{
    /* deltas against the census now becoming the previous one, if comparable */
    bool comparable = cs.last.valid && cs.last.opts.delim == cs.opts.delim &&
                      cs.last.opts.depth == cs.opts.depth;
    struct census_result r = {0};
    if (comparable && !find_vanished(&r)) {   /* before the sort: gidx still indexes cs.g */
        walk_free();
        return;
    }
    qsort(cs.g, cs.gn, sizeof(*cs.g), cmp_bytes_desc);
    struct ks_census_group other = cs.g[cs.gcap];
    size_t top = cs.gn < cs.opts.top ? cs.gn : cs.opts.top;
    for (size_t i = top; i < cs.gn; i++)
        group_add(&other, &cs.g[i]);
    size_t n = top + (other.keys ? 1 : 0);
    r.groups = calloc(n ? n : 1, sizeof(*r.groups));
    if (!r.groups) {
        result_free(&r);
        walk_free();
        return;
    }
    memcpy(r.groups, cs.g, top * sizeof(*r.groups));
    if (other.keys)
        r.groups[top] = other;
    r.ngroups = n;
    for (size_t i = 0; comparable && i < n; i++) {
        const struct ks_census_group *p = prev_group(&r.groups[i]);
        r.groups[i].keys_delta = (int64_t)r.groups[i].keys - (p ? (int64_t)p->keys : 0);
        r.groups[i].bytes_delta =
            (int64_t)r.groups[i].entry_bytes - (p ? (int64_t)p->entry_bytes : 0);
    }
    r.valid = true;
    r.opts = cs.opts;
    r.started_ms = cs.started_ms;
    r.finished_ms = ks.now_ms;
    r.keys = cs.keys;
    r.bytes = cs.bytes;
    r.nclasses = cs.nclasses;
    r.classes = cs.classes;
    cs.classes = NULL;
    memcpy(r.bands, cs.bands, sizeof(r.bands));
    result_free(&cs.prev);
    cs.prev = cs.last;
    cs.last = r;
    walk_free();
}

bool ks_census_step(uint64_t budget_us)
{
    if (!cs.running)
        return false;
    uint64_t t0 = clock_mono_us();
    size_t seen = 0, checked = 0;
    for (;;) {
        if (!walk_bucket(&seen)) {
            finish();
            return false;
        }
        if (budget_us == 0)
            return true;
        /* a slot costs a cache miss and a key hash: the clock every 32 */
        if (seen - checked >= 32) {
            checked = seen;
            if (clock_mono_us() - t0 >= budget_us)
                return true;
        }
    }
}

void ks_census_report(struct ks_census_report *r)
{
    memset(r, 0, sizeof(*r));
    r->running = cs.running;
    r->progress = cs.running ? (double)cs.pos / 18446744073709551616.0 : 0;
    size_t mem = sizeof(cs);
    if (cs.running)
        mem += (cs.gcap + 1) * sizeof(*cs.g) + (cs.gmask + 1) * sizeof(*cs.gidx) +
               PAIRS_CAP * sizeof(*cs.pairs) +
               cs.nclasses * (sizeof(*cs.classes) + sizeof(*cs.reclaimable));
    const struct census_result *rs[2] = {&cs.last, &cs.prev};
    for (int i = 0; i < 2; i++)
        mem += (rs[i]->ngroups + rs[i]->nvanished) * sizeof(*rs[i]->groups) +
               rs[i]->nclasses * sizeof(*rs[i]->classes);
    r->memory = mem;
    r->opts = cs.running ? cs.opts : cs.last.opts;
    r->started_ms = cs.running ? cs.started_ms : cs.last.started_ms;
    if (!cs.last.valid)
        return;
    r->complete = true;
    r->has_prev = cs.prev.valid && cs.prev.opts.delim == cs.last.opts.delim &&
                  cs.prev.opts.depth == cs.last.opts.depth;
    r->finished_ms = cs.last.finished_ms;
    r->keys = cs.last.keys;
    r->bytes = cs.last.bytes;
    r->ngroups = cs.last.ngroups;
    r->groups = cs.last.groups;
    r->nvanished = cs.last.nvanished;
    r->vanished = cs.last.vanished;
    r->nclasses = cs.last.nclasses;
    r->classes = cs.last.classes;
    memcpy(r->bands, cs.last.bands, sizeof(r->bands));
}
