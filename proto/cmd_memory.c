/*
 * cmd_memory: MEMORY USAGE | STATS | PURGE | DOCTOR | MALLOC-STATS | HELP.
 *
 * Everything here is computed from alloc_stats(), the per-size-class stats
 * of alloc/ and ks_stats(); proto does not see the daemon's buffers, so the
 * figures cover what the keyspace owns (entries and index), which is also
 * what INFO's used_memory counts:
 *
 *   total.allocated   = requested bytes of live entry blocks + index bytes
 *   allocator.*       = the arena allocator's view: slot bytes handed out
 *                       (allocated), arenas and large mappings in use
 *                       (active), and everything mapped (resident; retained
 *                       arenas are purged, so this is an upper bound)
 *   fragmentation     = process RSS / total.allocated, as Redis defines it
 *
 * MEMORY USAGE reports an entry's honest footprint: its slot (or mapping)
 * size plus its index slot (entry_footprint), not an estimate.
 *
 * The peak is the largest total.allocated seen when a MEMORY command ran or
 * when the daemon called proto_memory_sample(); it is a sampled peak, not
 * an exact one, because the hot path does not pay for tracking it.
 *
 * MEMORY DOCTOR only diagnoses: compaction is not done here. It says how
 * many whole arenas the free slots of each class add up to, i.e. what a
 * compactor could hand back to the OS.
 */
#include <stdio.h>
#include <string.h>

#include "alloc/alloc.h"
#include "keyspace/keyspace.h"
#include "proto/human.h"
#include "proto/internal.h"
#include "proto/text.h"

static size_t peak_allocated;
static size_t startup_allocated;

void proto_memory_sample(void)
{
    size_t u = ks_used_memory();
    if (u > peak_allocated)
        peak_allocated = u;
}

void proto_memory_reset(void)
{
    startup_allocated = ks_used_memory();
    peak_allocated = startup_allocated;
}

/* ---------------------------------------------------------------- USAGE */

void cmd_memory_usage(struct session *s, int argc, struct slice *argv)
{
    /* Options are checked before the key is looked up, as in Redis. SAMPLES
     * has no effect on a string value; it is accepted for compatibility. */
    for (int j = 3; j < argc; j++) {
        if (slice_eq(&argv[j], "samples") && j + 1 < argc) {
            long long n;
            if (!slice_to_ll(&argv[j + 1], &n)) {
                reply_error(&s->reply, ERR_NOT_INT);
                return;
            }
            if (n < 0) {
                reply_error(&s->reply, ERR_SYNTAX);
                return;
            }
            j++;
        } else {
            reply_error(&s->reply, ERR_SYNTAX);
            return;
        }
    }
    proto_memory_sample();
    struct entry *e = ks_peek(argv[2].p, argv[2].len);
    if (e == NULL) {
        reply_null(&s->reply);
        return;
    }
    reply_int(&s->reply, (long long)entry_footprint(e));
}

/* ---------------------------------------------------------------- STATS */

/* The classes that have arenas, in class order: start with *cls = 0; fills
 * st and advances *cls, false when there are no more. Reads alloc's stats
 * one class at a time, so there is no fixed limit on the class count. */
static bool next_used_class(unsigned *cls, struct alloc_class_stats *st)
{
    unsigned n = alloc_class_count();
    while (*cls < n) {
        bool ok = alloc_class_stats((*cls)++, st);
        if (ok && st->arenas > 0)
            return true;
    }
    return false;
}

/* A map whose header is filled in after its pairs are written, so the
 * count can never disagree with the body. Maps nested inside one must be
 * closed (reply_defer_map) before the outer one. */
struct map_writer {
    struct reply *r;
    size_t hdr;
    size_t pairs;
};

static void map_key(struct map_writer *m, const char *k)
{
    m->pairs++;
    reply_cstr(m->r, k);
}

static void kv_int(struct map_writer *m, const char *k, long long v)
{
    map_key(m, k);
    reply_int(m->r, v);
}

static void kv_double(struct map_writer *m, const char *k, double v)
{
    map_key(m, k);
    reply_double(m->r, v);
}

/* The memory figures shared by STATS and DOCTOR. */
struct mem_view {
    struct alloc_stats as;
    struct ks_stats ks;
    size_t total, startup, peak, rss;
    size_t arena_bytes;        /* arenas in use * arena size */
    size_t arena_live_bytes;   /* requested bytes of blocks in arenas */
    size_t arena_waste;        /* sum of class waste */
    size_t reclaim_arenas;     /* whole arenas the free slots add up to */
    size_t classes_used;       /* size classes with at least one arena */
};

static void mem_view_fill(struct mem_view *v)
{
    memset(v, 0, sizeof *v);
    alloc_stats(&v->as);
    ks_stats(&v->ks);
    v->total = v->as.live_bytes + v->ks.index_bytes;
    if (v->total > peak_allocated)
        peak_allocated = v->total;
    v->peak = peak_allocated;
    v->startup = startup_allocated;
    v->rss = alloc_rss_bytes();
    v->arena_bytes = v->as.arenas * v->as.arena_size;
    unsigned cls = 0;
    struct alloc_class_stats st;
    while (next_used_class(&cls, &st)) {
        v->classes_used++;
        v->arena_live_bytes += st.live_bytes;
        v->arena_waste += st.waste;
        size_t per_arena = st.slots / st.arenas;
        if (per_arena > 0)
            v->reclaim_arenas += (st.slots - st.live) / per_arena;
    }
}

static double ratio(size_t a, size_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

void cmd_memory_stats(struct session *s, int argc, struct slice *argv)
{
    (void)argc;
    (void)argv;
    struct mem_view v;
    mem_view_fill(&v);
    struct reply *r = &s->reply;

    /* The index is the only overhead proto can see; the startup amount is
     * the initial index, so it is part of that and not added again. */
    size_t overhead = v.ks.index_bytes;
    size_t dataset = v.total > overhead ? v.total - overhead : 0;
    size_t net = v.total > v.startup ? v.total - v.startup : 1;
    size_t active = v.arena_bytes + v.as.large_bytes;
    bool has_db = v.ks.keys > 0;

    struct map_writer m = { r, reply_defer(r), 0 };
    kv_int(&m, "peak.allocated", (long long)v.peak);
    kv_int(&m, "total.allocated", (long long)v.total);
    kv_int(&m, "startup.allocated", (long long)v.startup);
    /* No replication, cluster, AOF or scripting: these really are zero. */
    kv_int(&m, "replication.backlog", 0);
    kv_int(&m, "clients.slaves", 0);
    kv_int(&m, "cluster.links", 0);
    kv_int(&m, "aof.buffer", 0);
    kv_int(&m, "lua.caches", 0);
    kv_int(&m, "functions.caches", 0);
    if (has_db) {
        map_key(&m, "db.0");
        struct map_writer db = { r, reply_defer(r), 0 };
        kv_int(&db, "overhead.hashtable.main", (long long)v.ks.index_bytes);
        /* expiry times live in the entries, not in a second table */
        kv_int(&db, "overhead.hashtable.expires", 0);
        kv_int(&db, "overhead.hashtable.slot-to-keys", 0);
        reply_defer_map(r, db.hdr, db.pairs);
    }
    kv_int(&m, "overhead.total", (long long)overhead);
    kv_int(&m, "keys.count", (long long)v.ks.keys);
    kv_int(&m, "keys.bytes-per-key", v.ks.keys ? (long long)(net / v.ks.keys) : 0);
    kv_int(&m, "dataset.bytes", (long long)dataset);
    kv_double(&m, "dataset.percentage", (double)dataset * 100.0 / (double)net);
    kv_double(&m, "peak.percentage", v.peak ? (double)v.total * 100.0 / (double)v.peak : 0.0);
    kv_int(&m, "allocator.allocated", (long long)v.as.slot_bytes);
    kv_int(&m, "allocator.active", (long long)active);
    kv_int(&m, "allocator.resident", (long long)v.as.mapped_bytes);
    kv_double(&m, "allocator-fragmentation.ratio", ratio(active, v.as.slot_bytes));
    kv_int(&m, "allocator-fragmentation.bytes", (long long)active - (long long)v.as.slot_bytes);
    kv_double(&m, "fragmentation", ratio(v.rss, v.total));
    kv_int(&m, "fragmentation.bytes", (long long)v.rss - (long long)v.total);

    /* compactd's own fields: the arena allocator in detail. */
    kv_int(&m, "arena.size", (long long)v.as.arena_size);
    kv_int(&m, "arena.mapped", (long long)v.as.mapped_bytes);
    kv_int(&m, "arena.count", (long long)v.as.arenas);
    kv_int(&m, "arena.retained", (long long)v.as.retained_arenas);
    kv_int(&m, "arena.waste", (long long)v.arena_waste);
    kv_int(&m, "arena.reclaimable", (long long)(v.reclaim_arenas * v.as.arena_size));
    kv_int(&m, "large.blocks", (long long)v.as.large_blocks);
    kv_int(&m, "large.bytes", (long long)v.as.large_bytes);
    kv_int(&m, "allocator.failures", (long long)v.as.alloc_failures);

    /* One map per size class that has arenas, smallest slot first. */
    map_key(&m, "size-classes");
    reply_array(r, v.classes_used);
    unsigned cls = 0;
    struct alloc_class_stats cst;
    for (size_t i = 0; i < v.classes_used && next_used_class(&cls, &cst); i++) {
        const struct alloc_class_stats *c = &cst;
        struct map_writer row = { r, reply_defer(r), 0 };
        kv_int(&row, "class", c->cls);
        kv_int(&row, "slot-size", (long long)c->slot_size);
        kv_int(&row, "arenas", (long long)c->arenas);
        kv_int(&row, "slots", (long long)c->slots);
        kv_int(&row, "live", (long long)c->live);
        kv_int(&row, "live-bytes", (long long)c->live_bytes);
        kv_int(&row, "waste", (long long)c->waste);
        kv_int(&row, "resident", (long long)c->resident);
        kv_int(&row, "purged", (long long)c->purged);
        reply_defer_map(r, row.hdr, row.pairs);
    }
    reply_defer_map(r, m.hdr, m.pairs);
}

/* ---------------------------------------------------------------- PURGE */

void cmd_memory_purge(struct session *s, int argc, struct slice *argv)
{
    (void)argc;
    (void)argv;
    proto_memory_sample();
    alloc_release_retained();
    reply_ok(&s->reply);
}

/* --------------------------------------------------------------- DOCTOR */

#define DOCTOR_WORST 3

/* Keeps the DOCTOR_WORST items of largest score seen so far, largest
 * first: items (of size bytes each) and scores hold *n of them. */
static void worst_insert(void *items, size_t size, uint64_t *scores, size_t *n,
                         const void *item, uint64_t score)
{
    size_t pos = *n;
    while (pos > 0 && scores[pos - 1] < score)
        pos--;
    if (pos >= DOCTOR_WORST)
        return;
    size_t moving = (*n < DOCTOR_WORST ? *n : DOCTOR_WORST - 1) - pos;
    memmove((char *)items + (pos + 1) * size, (char *)items + pos * size, moving * size);
    memmove(scores + pos + 1, scores + pos, moving * sizeof(*scores));
    memcpy((char *)items + pos * size, item, size);
    scores[pos] = score;
    if (*n < DOCTOR_WORST)
        (*n)++;
}

/*
 * Who pins the sparse arenas, from the latest census (the admin port's
 * CENSUS START): the DOCTOR_WORST key prefixes keeping the most of them.
 * The census is a snapshot, so the report says how old it is.
 */
static void doctor_census(struct text *t, size_t reclaim_arenas)
{
    struct ks_census_report r;
    ks_census_report(&r);
    if (!r.complete) {
        if (reclaim_arenas > 0)
            text_printf(t, "Which keys pin those arenas: run CENSUS START on the admin port, "
                       "then MEMORY DOCTOR names the key prefixes that keep the most sparse "
                       "arenas.\n");
        return;
    }
    const struct ks_census_group *worst[DOCTOR_WORST];
    uint64_t scores[DOCTOR_WORST];
    size_t nworst = 0;
    for (size_t i = 0; i < r.ngroups; i++) {
        const struct ks_census_group *g = &r.groups[i];
        if (g->pinned_arenas > 0)
            worst_insert(worst, sizeof(*worst), scores, &nworst, &g, g->pinned_arenas);
    }
    long long age_s = (ks_now_ms() - r.finished_ms) / 1000;
    if (nworst == 0) {
        text_printf(t, "The latest census (%lld s ago) found no key prefix keeping sparse "
                   "arenas.\n", age_s);
        return;
    }
    text_printf(t, "Key prefixes keeping the most sparse arenas (census of %lld s ago, "
               "delimiter '%c', depth %u):\n", age_s, r.opts.delim, r.opts.depth);
    for (size_t k = 0; k < nworst; k++) {
        const struct ks_census_group *g = worst[k];
        char name[KS_CENSUS_PREFIX_MAX + 1];   /* printable: it goes to a terminal */
        for (size_t i = 0; i < g->plen; i++)
            name[i] = g->prefix[i] >= 0x20 && g->prefix[i] < 0x7f ? g->prefix[i] : '?';
        name[g->plen] = '\0';
        char h[32];
        human_bytes(h, sizeof h, (double)g->bytes, HUMAN_PROSE);
        text_printf(t, "  * %s%s%s: %llu sparse arenas, %llu of its %llu keys in them (%s in "
                   "all)\n", g->other ? "" : "'", g->other ? "all other prefixes" : name,
                g->other ? "" : "'", (unsigned long long)g->pinned_arenas,
                (unsigned long long)g->pinned_keys, (unsigned long long)g->keys, h);
    }
}

void cmd_memory_doctor(struct session *s, int argc, struct slice *argv)
{
    (void)argc;
    (void)argv;
    struct mem_view v;
    mem_view_fill(&v);
    struct text t = {0};
    char h1[32], h2[32], h3[32];

    if (v.as.live_blocks == 0) {
        text_printf(&t, "The keyspace is empty, so there is no memory problem to diagnose yet. "
                    "Run MEMORY DOCTOR again once the server holds data.\n");
        if (v.as.retained_arenas > 0) {
            human_bytes(h1, sizeof h1, (double)(v.as.retained_arenas * v.as.arena_size),
                        HUMAN_PROSE);
            text_printf(&t, "%zu empty arenas (%s of address space) are still retained; "
                        "MEMORY PURGE unmaps them.\n", v.as.retained_arenas, h1);
        }
        text_reply(&s->reply, &t);
        return;
    }

    unsigned problems = 0;
    text_printf(&t, "compactd memory report\n\n");
    human_bytes(h1, sizeof h1, (double)v.total, HUMAN_PROSE);
    human_bytes(h2, sizeof h2, (double)v.as.mapped_bytes, HUMAN_PROSE);
    human_bytes(h3, sizeof h3, (double)v.ks.index_bytes, HUMAN_PROSE);
    text_printf(&t, "Data and index: %s (%zu keys, index %s). Mapped from the OS by the "
                "allocator: %s.\n", h1, v.ks.keys, h3, h2);

    /* Overall fragmentation of the arenas: how much of their bytes do not
     * hold requested data. */
    if (v.arena_bytes > 0) {
        double frag = ratio(v.arena_bytes, v.arena_live_bytes);
        human_bytes(h1, sizeof h1, (double)v.arena_bytes, HUMAN_PROSE);
        human_bytes(h2, sizeof h2, (double)v.arena_waste, HUMAN_PROSE);
        double pct = (double)v.arena_waste * 100.0 / (double)v.arena_bytes;
        text_printf(&t, "Arenas: %zu of %zu bytes each (%s); %s of that (%.1f%%) holds no data, "
                    "a fragmentation ratio of %.2f.\n",
                v.as.arenas, v.as.arena_size, h1, h2, pct, frag);
        if (pct > 50.0)
            problems++;
    }
    if (v.as.large_blocks > 0) {
        human_bytes(h1, sizeof h1, (double)v.as.large_bytes, HUMAN_PROSE);
        text_printf(&t, "Large values: %zu blocks with mappings of their own, %s.\n",
                v.as.large_blocks, h1);
    }

    /* The size classes that waste the most, worst first. */
    struct alloc_class_stats worst[DOCTOR_WORST], st;
    uint64_t scores[DOCTOR_WORST];
    size_t nworst = 0;
    unsigned cls = 0;
    while (next_used_class(&cls, &st))
        if (st.waste > 0)
            worst_insert(worst, sizeof(*worst), scores, &nworst, &st, st.waste);
    if (nworst > 0) {
        text_printf(&t, "\nSize classes wasting the most:\n");
        for (size_t k = 0; k < nworst; k++) {
            const struct alloc_class_stats *c = &worst[k];
            human_bytes(h1, sizeof h1, (double)c->waste, HUMAN_PROSE);
            text_printf(&t, "  * class %u (%zu-byte slots): %s wasted; %zu arenas, "
                        "%zu of %zu slots live (%.1f%% full)\n",
                    c->cls, c->slot_size, h1, c->arenas, c->live, c->slots,
                    c->slots ? (double)c->live * 100.0 / (double)c->slots : 0.0);
        }
    }

    /* What compaction could return: free slots that add up to whole
     * arenas, per class. */
    text_printf(&t, "\n");
    if (v.reclaim_arenas > 0) {
        human_bytes(h1, sizeof h1, (double)(v.reclaim_arenas * v.as.arena_size),
                    HUMAN_PROSE);
        text_printf(&t, "Reclaimable by compaction: the free slots of sparse arenas add up to "
                    "%zu whole arenas (%s). Moving live entries out of the sparsest arenas "
                    "could return that much to the OS.\n",
                v.reclaim_arenas, h1);
        if (v.reclaim_arenas * 4 >= v.as.arenas)
            problems++;
    } else {
        text_printf(&t, "Reclaimable by compaction: nothing; no size class has a whole arena's "
                    "worth of free slots.\n");
    }
    /* What packing could return: pages inside the arenas kept. */
    struct alloc_compact_status cs;
    ks_compact_status(&cs);
    human_bytes(h2, sizeof h2, (double)cs.total.bytes_purged, HUMAN_PROSE);
    if (cs.packable > 0) {
        human_bytes(h1, sizeof h1, (double)cs.packable, HUMAN_PROSE);
        text_printf(&t, "Packable: %s of resident pages inside arenas hold only free slots "
                    "below the arenas' fill marks. Packing (COMPACT, or the automatic run "
                    "once writes stop for a second) moves entries down and returns those "
                    "pages; %s returned that way so far.\n", h1, h2);
    } else {
        text_printf(&t, "Packable: nothing; the live entries fill the pages the arenas keep "
                    "(%s of pages returned by packing so far).\n", h2);
    }
    doctor_census(&t, v.reclaim_arenas);
    if (v.as.retained_arenas > 0) {
        human_bytes(h1, sizeof h1, (double)(v.as.retained_arenas * v.as.arena_size),
                    HUMAN_PROSE);
        text_printf(&t, "Retained: %zu empty arenas (%s of address space, already purged of "
                    "pages) are kept for reuse; MEMORY PURGE unmaps them.\n",
                v.as.retained_arenas, h1);
    }

    /* Configuration advice. */
    text_printf(&t, "\nAdvice:\n");
    unsigned advice = 0;
    if (v.as.arena_size > ALLOC_ARENA_MIN && v.classes_used > 0 &&
        v.arena_bytes > 2 * v.arena_live_bytes && v.as.arenas <= 2 * v.classes_used) {
        /* Most classes hold a single, mostly empty arena: the arena size,
         * not the data, sets the footprint. */
        text_printf(&t, "  * Most size classes use one mostly empty arena; a smaller arena-size "
                    "(now %zu) would cut the fixed cost per class.\n", v.as.arena_size);
        advice++;
    }
    if (v.reclaim_arenas > 0 && v.reclaim_arenas * 4 >= v.as.arenas) {
        text_printf(&t, "  * At least a quarter of the arenas could be freed by compaction; "
                    "deleting or expiring keys in bursts leaves arenas sparse. Giving keys "
                    "with similar lifetimes similar TTLs keeps them in the same arenas.\n");
        advice++;
    }
    if (v.as.retained_arenas > 0 && v.as.retained_arenas * 2 > v.as.arenas + 1) {
        text_printf(&t, "  * Many empty arenas are retained; a lower arena-retain returns them "
                    "to the OS sooner.\n");
        advice++;
    }
    if (v.as.alloc_failures > 0) {
        text_printf(&t, "  * The allocator failed %llu times to get memory from the OS; check "
                    "maxmemory and the system's memory limits.\n",
                (unsigned long long)v.as.alloc_failures);
        advice++;
        problems++;
    }
    if (advice == 0)
        text_printf(&t, "  * None: the configuration suits this data.\n");
    text_printf(&t, "\n%s\n", problems ? "Problems were found (see above)."
                                   : "No memory problems found.");
    text_reply(&s->reply, &t);
}

/* --------------------------------------------------------- MALLOC-STATS */

void cmd_memory_malloc_stats(struct session *s, int argc, struct slice *argv)
{
    (void)argc;
    (void)argv;
    struct mem_view v;
    mem_view_fill(&v);
    struct text t = {0};
    text_printf(&t, "compactd arena allocator\n"
                "arena_size:%zu arenas:%zu retained:%zu mapped:%zu\n"
                "live_blocks:%zu live_bytes:%zu slot_bytes:%zu\n"
                "large_blocks:%zu large_bytes:%zu large_threshold:%zu\n"
                "os_maps:%llu os_unmaps:%llu os_purges:%llu failures:%llu\n"
                "class slot_size arenas slots live live_bytes rounding free_bytes overhead waste "
                "resident purged\n",
            v.as.arena_size, v.as.arenas, v.as.retained_arenas, v.as.mapped_bytes,
            v.as.live_blocks, v.as.live_bytes, v.as.slot_bytes, v.as.large_blocks,
            v.as.large_bytes, v.as.large_threshold, (unsigned long long)v.as.os_maps,
            (unsigned long long)v.as.os_unmaps, (unsigned long long)v.as.os_purges,
            (unsigned long long)v.as.alloc_failures);
    unsigned cls = 0;
    struct alloc_class_stats st;
    while (next_used_class(&cls, &st)) {
        const struct alloc_class_stats *c = &st;
        text_printf(&t, "%u %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu\n", c->cls, c->slot_size,
                c->arenas, c->slots, c->live, c->live_bytes, c->rounding, c->free_bytes,
                c->overhead, c->waste, c->resident, c->purged);
    }
    text_reply_bulk(&s->reply, &t);
}

/* ----------------------------------------------------------------- HELP */

void cmd_memory_help(struct session *s, int argc, struct slice *argv)
{
    (void)argc;
    (void)argv;
    static const char *const lines[] = {
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Report fragmentation, the most wasteful size classes and what compaction",
        "    could return to the OS.",
        "MALLOC-STATS",
        "    Return the arena allocator's statistics as text, one line per size class.",
        "PURGE",
        "    Unmap the empty arenas kept for reuse.",
        "STATS",
        "    Return memory usage figures, including a table of size classes.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return the bytes <key> occupies: its block plus its index slot. SAMPLES",
        "    is accepted for compatibility and has no effect on strings.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    reply_array(&s->reply, n);
    for (size_t i = 0; i < n; i++)
        reply_status(&s->reply, lines[i]);
}
