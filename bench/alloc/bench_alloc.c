/*
 * bench_alloc: replays one deterministic alloc/free trace against an
 * allocator and reports time per operation and resident memory.
 *
 * The same source is built once per allocator (BENCH_BACKEND): compactd's
 * alloc/, glibc malloc, jemalloc and mimalloc. Separate executables,
 * because Debian's jemalloc and mimalloc both replace malloc in any program
 * that links them, and because each measurement must start from a fresh
 * process for its RSS to mean anything. The compactd build is also the
 * driver: unless given --only, it runs its siblings (found next to itself)
 * and prints every result as a ratio to its own.
 *
 * The trace (identical for every backend: a fixed-seed generator, nothing
 * stored, so it costs no memory) models a cache: value sizes 16..4096 bytes
 * (half 16..128, a third 129..1024, the rest 1025..4096), a working set that
 * grows to a peak, churns, shrinks to a tenth by random deletions (the case
 * that strands memory in half-empty pages), churns there, grows again and
 * shrinks again. Every block gets its first and last 8 bytes written (so
 * every page it spans is touched, as storing a value would) and checked on
 * free. The bookkeeping table is mmap'd directly, outside every allocator.
 *
 * Reported: ns/op over the whole trace (alloc or free, including the two
 * 8-byte writes and the generator; with ~200 MiB live this is dominated by
 * cache and TLB misses on the blocks themselves), peak RSS (getrusage), RSS
 * at the end of the trace (working set at a tenth of the peak, scattered)
 * and RSS after freeing everything. Then a "hot" figure: 4096 live blocks of
 * 16..1024 bytes, each step frees a random one and allocates a replacement,
 * so everything stays in cache and the allocator's own path is what is
 * timed (ns per alloc or free). The driver runs every executable --reps
 * times, interleaved, in fresh processes, and keeps the fastest run (the
 * machine is shared; RSS figures hardly vary between runs).
 *
 * compactd only, outside the timed trace: the online compactor (alloc's
 * mover) run in 1 ms steps, as the daemon would, once on the heap the
 * trace leaves and once on a heap fragmented on purpose (the peak working
 * set, then a random 60 % deleted). The owner side is an open-addressing
 * table pointer -> trace slot, so each move pays a lookup as the keyspace
 * would. Reported: blocks and MiB moved, MB/s over the run's wall time,
 * the longest step, mapped bytes before and after against the least the
 * live blocks can occupy (ceil(live / slots) arenas per class), and RSS.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_OURS 0
#define BENCH_GLIBC 1
#define BENCH_JEMALLOC 2
#define BENCH_MIMALLOC 3

#ifndef BENCH_BACKEND
#define BENCH_BACKEND BENCH_OURS
#endif

#if BENCH_BACKEND == BENCH_OURS
#include "alloc/alloc.h"
#define BENCH_NAME "compactd"
static void *b_alloc(size_t n) { return alloc_block(n, 0); }
static void b_free(void *p) { alloc_free(p); }
#elif BENCH_BACKEND == BENCH_MIMALLOC
#include <mimalloc.h>
#define BENCH_NAME "mimalloc"
static void *b_alloc(size_t n) { return mi_malloc(n); }
static void b_free(void *p) { mi_free(p); }
#elif BENCH_BACKEND == BENCH_JEMALLOC
#include <jemalloc/jemalloc.h>
#define BENCH_NAME "jemalloc"
static void *b_alloc(size_t n) { return malloc(n); }
static void b_free(void *p) { free(p); }
#else
#define BENCH_NAME "glibc"
static void *b_alloc(size_t n) { return malloc(n); }
static void b_free(void *p) { free(p); }
#endif

struct result {
    char name[32];
    double ns_per_op, hot_ns;
    double base_mib, peak_mib, final_mib, empty_mib;
    uint64_t ops;
};

/* compactd only: the mover run on the fragmented heap the trace leaves */
struct compact_result {
    double mapped_before_mib, mapped_after_mib, rss_before_mib, rss_after_mib, ideal_mib;
    double moved_mib, ms, max_step_us, mb_per_s;
    uint64_t blocks, steps;
};
#if BENCH_BACKEND == BENCH_OURS
static struct compact_result compacted, compacted_frag;
#endif

static uint64_t rng_state;

static inline uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static inline size_t trace_size(void)
{
    uint64_t r = rng();
    unsigned pick = (unsigned)(r % 100);
    uint64_t u = r >> 8;
    if (pick < 50)
        return 16 + u % 113;
    if (pick < 83)
        return 129 + u % 896;
    return 1025 + u % 3072;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double rss_mib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f == NULL)
        return -1;
    if (fscanf(f, "%lu %lu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

struct slot {
    uint64_t *p;
    uint32_t size;
};

static struct slot *table;
static size_t live;
static uint64_t checksum;

static void do_alloc(void)
{
    size_t n = trace_size();
    uint64_t *p = b_alloc(n);
    if (p == NULL) {
        fprintf(stderr, "%s: out of memory\n", BENCH_NAME);
        exit(1);
    }
    uint64_t tag = (uint64_t)n * 0x9e3779b97f4a7c15ull;
    p[0] = tag;
    memcpy((char *)p + n - 8, &tag, 8);
    table[live].p = p;
    table[live].size = (uint32_t)n;
    live++;
}

static void do_free(size_t i)
{
    uint64_t *p = table[i].p;
    size_t n = table[i].size;
    uint64_t tail;
    memcpy(&tail, (char *)p + n - 8, 8);
    checksum += p[0] ^ tail;
    if (p[0] != (uint64_t)n * 0x9e3779b97f4a7c15ull || tail != p[0]) {
        fprintf(stderr, "%s: block corrupted\n", BENCH_NAME);
        exit(1);
    }
    b_free(p);
    table[i] = table[--live];
}

/* One segment: run ops operations, allocating with probability 70 % while
 * below target and 30 % above it. */
static void segment(size_t target, size_t ops)
{
    for (size_t k = 0; k < ops; k++) {
        bool grow = live == 0 || (rng() % 100) < (live < target ? 70u : 30u);
        if (grow)
            do_alloc();
        else
            do_free(rng() % live);
    }
}

/* Cache-resident churn: the allocator's own cost per alloc or free. */
static double hot_phase(uint64_t seed)
{
    enum { N = 4096, STEPS = 4000000 };
    static void *blk[N];
    rng_state = seed ^ 0xabcdefull;
    for (size_t i = 0; i < N; i++)
        blk[i] = b_alloc(16 + rng() % 1009);
    double t0 = now_ns();
    for (size_t k = 0; k < STEPS; k++) {
        uint64_t r = rng();
        size_t i = r % N;
        b_free(blk[i]);
        blk[i] = b_alloc(16 + (r >> 20) % 1009);
        if (blk[i] == NULL)
            exit(1);
        *(volatile char *)blk[i] = 1;
    }
    double t1 = now_ns();
    for (size_t i = 0; i < N; i++)
        b_free(blk[i]);
    return (t1 - t0) / (2.0 * STEPS);
}

#if BENCH_BACKEND == BENCH_OURS
/*
 * The owner side of compaction, as the keyspace would do it: find who
 * points at the block (here an open-addressing table pointer -> trace
 * index, mmap'd outside the allocator), alloc_move, repoint, free. Its
 * lookups are part of the measured time, as the keyspace's would be.
 */
static uintptr_t *owner_keys;   /* 0 empty, 1 deleted, else a block pointer */
static uint32_t *owner_vals;
static size_t owner_mask;

static size_t owner_hash(uintptr_t p)
{
    return (size_t)(((uint64_t)p * 0x9e3779b97f4a7c15ull) >> 20) & owner_mask;
}

static void owner_put(uintptr_t p, uint32_t v)
{
    size_t i = owner_hash(p);
    while (owner_keys[i] > 1)
        i = (i + 1) & owner_mask;
    owner_keys[i] = p;
    owner_vals[i] = v;
}

static size_t owner_find(uintptr_t p)
{
    size_t i = owner_hash(p);
    while (owner_keys[i] != p) {
        if (owner_keys[i] == 0) {
            fprintf(stderr, "compaction visited a block nobody owns\n");
            exit(1);
        }
        i = (i + 1) & owner_mask;
    }
    return i;
}

static bool owner_evacuate(void *block, void *ctx)
{
    (void)ctx;
    size_t h = owner_find((uintptr_t)block);
    uint32_t idx = owner_vals[h];
    void *q = alloc_move(block);
    if (q == NULL)
        return false;
    owner_keys[h] = 1;
    owner_put((uintptr_t)q, idx);
    table[idx].p = q;
    alloc_free(block);
    return true;
}

/* Compacts the live table in steps of 1 ms, as the daemon would, with a
 * packing run (what its manual and quiet runs are). */
static void compact_phase(struct compact_result *c)
{
    size_t cap = 1;
    while (cap < live * 4)
        cap <<= 1;
    owner_keys = mmap(NULL, cap * (sizeof(uintptr_t) + sizeof(uint32_t)),
                      PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (owner_keys == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    owner_vals = (uint32_t *)(void *)(owner_keys + cap);
    owner_mask = cap - 1;
    for (size_t i = 0; i < live; i++)
        owner_put((uintptr_t)table[i].p, (uint32_t)i);
    struct alloc_stats st;
    alloc_stats(&st);
    c->mapped_before_mib = (double)st.mapped_bytes / (1024.0 * 1024.0);
    c->rss_before_mib = rss_mib();
    struct alloc_compact_opts o;
    alloc_compact_opts_default(&o);
    o.pack = true;
    alloc_compact_start(&o);
    double worst = 0, t0 = now_ns();
    for (;;) {
        double a = now_ns();
        bool more = alloc_compact_step(1000, owner_evacuate, NULL);
        double b = now_ns();
        if (b - a > worst)
            worst = b - a;
        if (!more)
            break;
    }
    double t1 = now_ns();
    struct alloc_compact_status cs;
    alloc_compact_status(&cs);
    alloc_stats(&st);
    c->mapped_after_mib = (double)st.mapped_bytes / (1024.0 * 1024.0);
    c->rss_after_mib = rss_mib();
    /* the least the live blocks can occupy: ceil(live / slots) arenas per
     * class (one band here), plus the large blocks and retained arenas */
    size_t ideal = st.large_bytes + st.retained_arenas * st.arena_size;
    for (unsigned k = 0; k < alloc_class_count(); k++) {
        struct alloc_class_stats cst;
        alloc_class_stats(k, &cst);
        if (cst.arenas == 0)
            continue;
        size_t per = cst.slots / cst.arenas;
        ideal += (cst.live + per - 1) / per * st.arena_size;
    }
    c->ideal_mib = (double)ideal / (1024.0 * 1024.0);
    c->moved_mib = (double)cs.bytes_moved / (1024.0 * 1024.0);
    c->ms = (t1 - t0) / 1e6;
    c->mb_per_s = c->ms > 0 ? (double)cs.bytes_moved / 1e6 / (c->ms / 1e3) : 0;
    c->max_step_us = worst / 1e3;
    c->blocks = cs.blocks_moved;
    c->steps = cs.steps;
    munmap(owner_keys, cap * (sizeof(uintptr_t) + sizeof(uint32_t)));
}
#endif

static void run(struct result *r, size_t peak, uint64_t seed)
{
    size_t cap = peak * 2;
    table = mmap(NULL, cap * sizeof(*table), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (table == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
#if BENCH_BACKEND == BENCH_OURS
    struct alloc_options o;
    alloc_options_default(&o);
    alloc_setup(&o);
#endif
    /* warm the allocator's own metadata a little, then measure from here */
    b_free(b_alloc(64));
    rng_state = seed;
    r->base_mib = rss_mib();
    double t0 = now_ns();
    uint64_t ops = 0;
    /* grow to the peak, churn, shrink to a tenth, churn, regrow to 3/4,
     * shrink to a tenth */
    const struct {
        size_t target;
        size_t ops;
    } plan[] = {
        {peak, peak * 5 / 2},     {peak, peak * 4},
        {peak / 10, peak * 5 / 2}, {peak / 10, peak * 2},
        {peak * 3 / 4, peak * 2}, {peak * 3 / 4, peak * 2},
        {peak / 10, peak * 2},     {peak / 10, peak},
    };
    for (size_t i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
        segment(plan[i].target, plan[i].ops);
        ops += plan[i].ops;
    }
    r->final_mib = rss_mib();
    double t_trace = now_ns();
#if BENCH_BACKEND == BENCH_OURS
    compact_phase(&compacted);   /* not part of ns/op */
#endif
    double t1 = now_ns();
    ops += live;
    while (live > 0)
        do_free(live - 1);
    double t2 = now_ns();
    r->empty_mib = rss_mib();
    r->peak_mib = peak_rss_mib();
#if BENCH_BACKEND == BENCH_OURS
    /* A heap fragmented on purpose, for the mover's throughput: the peak
     * working set, then a random 60 % deleted. */
    for (size_t i = 0; i < peak; i++)
        do_alloc();
    for (size_t i = 0; i < peak * 6 / 10; i++)
        do_free(rng() % live);
    compact_phase(&compacted_frag);
    while (live > 0)
        do_free(live - 1);
#endif
    r->ns_per_op = ((t_trace - t0) + (t2 - t1)) / (double)ops;
    r->ops = ops;
    r->hot_ns = hot_phase(seed);
    snprintf(r->name, sizeof(r->name), "%s", BENCH_NAME);
    munmap(table, cap * sizeof(*table));
}

static void print_machine(const struct result *r)
{
    printf("RESULT %s %.3f %.3f %.2f %.2f %.2f %.2f %" PRIu64 "\n", r->name, r->ns_per_op,
           r->hot_ns, r->base_mib, r->peak_mib, r->final_mib, r->empty_mib, r->ops);
}

#if BENCH_BACKEND == BENCH_OURS
static bool have_compact[2];

static bool run_sibling(const char *self_dir, const char *exe, size_t peak, uint64_t seed,
                        struct result *out)
{
    char path[PATH_MAX + 64], cmd[PATH_MAX + 256];
    snprintf(path, sizeof(path), "%.*s/%s", PATH_MAX - 1, self_dir, exe);
    if (access(path, X_OK) != 0)
        return false;
    snprintf(cmd, sizeof(cmd), "'%s' --only --peak %zu --seed %" PRIu64, path, peak, seed);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return false;
    char line[512];
    bool ok = false;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "RESULT %31s %lf %lf %lf %lf %lf %lf %" SCNu64, out->name,
                   &out->ns_per_op, &out->hot_ns, &out->base_mib, &out->peak_mib,
                   &out->final_mib, &out->empty_mib, &out->ops) == 8)
            ok = true;
        struct compact_result c;
        int k;
        if (sscanf(line, "COMPACT%d %lf %lf %lf %lf %lf %lf %lf %lf %lf %" SCNu64 " %" SCNu64,
                   &k, &c.mapped_before_mib, &c.mapped_after_mib, &c.ideal_mib,
                   &c.rss_before_mib, &c.rss_after_mib, &c.moved_mib, &c.ms, &c.max_step_us,
                   &c.mb_per_s, &c.blocks, &c.steps) == 12 &&
            (k == 0 || k == 1)) {
            struct compact_result *best = k ? &compacted_frag : &compacted;
            if (!have_compact[k] || c.mb_per_s > best->mb_per_s)
                *best = c;
            have_compact[k] = true;
        }
    }
    return pclose(f) == 0 && ok;
}

static double ratio(double x, double y)
{
    return y > 0 ? x / y : 0;
}
#endif

int main(int argc, char **argv)
{
    size_t peak = 250000;
    uint64_t seed = 0x5eed5eed12345ull;
    unsigned reps = 3;
    bool only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--only") == 0)
            only = true;
        else if (strcmp(argv[i], "--peak") == 0 && i + 1 < argc)
            peak = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = (unsigned)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--peak LIVE_BLOCKS] [--seed N] [--reps N] [--only]\n",
                    argv[0]);
            return 2;
        }
    }
    if (peak < 100)
        peak = 100;
    if (reps < 1)
        reps = 1;
#if BENCH_BACKEND != BENCH_OURS
    (void)only;
    struct result mine;
    run(&mine, peak, seed);
    print_machine(&mine);
    return 0;
#else
    if (only) {
        struct result mine;
        run(&mine, peak, seed);
        struct alloc_stats st;
        alloc_stats(&st);
        print_machine(&mine);
        printf("MAPPED %.2f %zu\n", (double)st.mapped_bytes / (1024.0 * 1024.0),
               st.retained_arenas);
        for (int k = 0; k < 2; k++) {
        const struct compact_result *c = k ? &compacted_frag : &compacted;
        printf("COMPACT%d %.2f %.2f %.2f %.2f %.2f %.2f %.3f %.1f %.1f %" PRIu64 " %" PRIu64 "\n",
               k, c->mapped_before_mib, c->mapped_after_mib, c->ideal_mib, c->rss_before_mib,
               c->rss_after_mib,
               c->moved_mib, c->ms, c->max_step_us, c->mb_per_s, c->blocks, c->steps);
        }
        return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        perror("readlink");
        return 1;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    const char *exe[] = {"bench_alloc", "bench_alloc_glibc", "bench_alloc_jemalloc",
                         "bench_alloc_mimalloc"};
    enum { NEXE = 4 };
    struct result best[NEXE];
    bool have[NEXE] = {false};
    for (unsigned rep = 0; rep < reps; rep++) {
        for (size_t i = 0; i < NEXE; i++) {
            struct result r;
            if (!run_sibling(self, exe[i], peak, seed, &r))
                continue;
            if (!have[i]) {
                best[i] = r;
                have[i] = true;
                continue;
            }
            if (r.ns_per_op < best[i].ns_per_op)
                best[i].ns_per_op = r.ns_per_op;
            if (r.hot_ns < best[i].hot_ns)
                best[i].hot_ns = r.hot_ns;
        }
    }
    if (!have[0]) {
        fprintf(stderr, "could not run %s/%s --only\n", self, exe[0]);
        return 1;
    }
    const struct result *o = &best[0];
    printf("trace: peak %zu live blocks, %" PRIu64 " ops, sizes 16..4096, seed %" PRIu64
           ", best of %u runs\n\n",
           peak, o->ops, seed, reps);
    printf("%-9s %7s %6s | %6s %6s | %8s %6s | %8s %6s | %8s %6s | %7s\n", "allocator",
           "ns/op", "x ours", "hot ns", "x ours", "peakMiB", "x ours", "finalMiB", "x ours",
           "emptyMiB", "x ours", "baseMiB");
    for (size_t i = 0; i < NEXE; i++) {
        if (!have[i]) {
            printf("%-9s (%s not built)\n", exe[i] + 12, exe[i]);
            continue;
        }
        const struct result *r = &best[i];
        printf("%-9s %7.1f %6.2f | %6.1f %6.2f | %8.1f %6.2f | %8.1f %6.2f | %8.1f %6.2f | %7.1f\n",
               r->name, r->ns_per_op, ratio(r->ns_per_op, o->ns_per_op), r->hot_ns,
               ratio(r->hot_ns, o->hot_ns), r->peak_mib, ratio(r->peak_mib, o->peak_mib),
               r->final_mib, ratio(r->final_mib, o->final_mib), r->empty_mib,
               ratio(r->empty_mib, o->empty_mib), r->base_mib);
    }
    for (int k = 0; k < 2; k++) {
        if (!have_compact[k])
            continue;
        const struct compact_result *c = k ? &compacted_frag : &compacted;
        printf("\ncompaction of compactd's heap %s (steps of 1 ms, best of %u):\n"
               "  moved %" PRIu64 " blocks, %.1f MiB in %.1f ms = %.0f MB/s "
               "(owner lookups included); %" PRIu64 " steps, longest %.0f us\n"
               "  mapped %.1f -> %.1f MiB (least possible %.1f), RSS %.1f -> %.1f MiB\n",
               k ? "after a random 60 % of a peak-sized heap is deleted"
                 : "at the end of the trace",
               reps, c->blocks, c->moved_mib, c->ms, c->mb_per_s, c->steps, c->max_step_us,
               c->mapped_before_mib, c->mapped_after_mib, c->ideal_mib, c->rss_before_mib,
               c->rss_after_mib);
    }
    printf("\nns/op: whole trace; hot: cache-resident churn (allocator path only).\n"
           "final: RSS with the working set at 1/10 of the peak after random deletions;\n"
           "empty: RSS after freeing everything; base: RSS before the trace.\n");
    return 0;
#endif
}
