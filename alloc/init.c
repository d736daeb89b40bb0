/*
 * alloc/init.c: alloc's lifecycle: options, alloc_setup, alloc_teardown, and
 * the one global state (alloc_g) every other file works on.
 *
 * The options are the rows of ALLOC_OPTIONS (alloc.h): the defaults and the
 * bounds checks are generated from them, so a row is the only place a
 * default or a bound is written. alloc_g.opt holds the options in force;
 * alloc_options_apply changes the run-time changeable ones (the compaction
 * thresholds, read by alloc_compact_wanted).
 *
 * alloc_setup derives everything from the arena size: the alignment mask,
 * the header colours, the large-block threshold and the class table
 * (class.c). It is idempotent; alloc_block and the queries set up with the
 * defaults when nobody did (ensure_ready). alloc_teardown unmaps every
 * arena, spare, releasing arena and large block, and resets the state
 * (keeping the failure injection, which a test sets before setting up).
 */
#include "alloc/internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

struct alloc_state alloc_g = {.fail_after = -1};

void alloc_options_default(struct alloc_options *opt)
{
#define X(field, name, type, def, min, max, flags, words, desc) opt->field = (def);
    ALLOC_OPTIONS(X)
#undef X
}

static bool in_bounds(unsigned long long v, long long min, long long max)
{
    return (min <= 0 || v >= (unsigned long long)min) && max >= 0 &&
           v <= (unsigned long long)max;
}

/* 0, or EINVAL when a field is outside its row's bounds or the arena size
 * is not a power of two. */
static int options_check(const struct alloc_options *o)
{
#define X(field, name, type, def, min, max, flags, words, desc)                        \
    if (!in_bounds((unsigned long long)o->field, (long long)(min), (long long)(max))) \
        return EINVAL;
    ALLOC_OPTIONS(X)
#undef X
    if ((o->arena_size & (o->arena_size - 1)) != 0)
        return EINVAL;
    return 0;
}

int alloc_setup(const struct alloc_options *opt)
{
    if (alloc_g.ready)
        return 0;
    struct alloc_options def;
    alloc_options_default(&def);
    if (opt == NULL)
        opt = &def;
    if (options_check(opt) != 0)
        return EINVAL;
    size_t a = opt->arena_size;
    long page = sysconf(_SC_PAGESIZE);
    alloc_g.page = page > 0 ? (size_t)page : 4096;
    if (a < alloc_g.page)
        return EINVAL;
    alloc_g.opt = *opt;
    alloc_g.mask = ~(uintptr_t)(a - 1);
    alloc_g.shift = (unsigned)__builtin_ctzll((unsigned long long)a);
    /* 32 colours (2 KiB) for 1 MiB arenas, fewer for small ones */
    size_t colors = a >> 15;
    colors = colors < 1 ? 1 : colors > 32 ? 32 : colors;
    alloc_g.color_mask = colors - 1;
    alloc_g.color_max = (colors - 1) * 64;
    alloc_g.large_max = a / 8;
    alloc_g.nclasses = class_of_slow(alloc_g.large_max) + 1;
    for (unsigned i = 0; i < alloc_g.nclasses; i++)
        class_init(i);
    for (size_t i = 0; i <= LUT_MAX / 8; i++)
        alloc_g.lut[i] = (uint8_t)class_of_slow(i * 8);
    memset(alloc_g.bl, 0, sizeof(alloc_g.bl));
    alloc_g.lru_head = alloc_g.lru_tail = NULL;
    alloc_g.nretained = alloc_g.narenas = 0;
    alloc_g.large = NULL;
    alloc_g.nlarge = alloc_g.large_mapped = alloc_g.large_usable = 0;
    alloc_g.live_bytes = 0;
    alloc_g.ready = true;
    A_VERIFY("after setup");
    return 0;
}

void alloc_teardown(void)
{
    if (!alloc_g.ready)
        return;
    for (unsigned i = 0; i < alloc_g.nclasses; i++) {
        struct alloc_arena *a = alloc_g.cls[i].all;
        while (a) {
            struct alloc_arena *next = a->cnext;
            os_unmap((void *)base_of(a), alloc_g.opt.arena_size);
            a = next;
        }
    }
    retained_release_all();
    release_all();
    struct large *l = alloc_g.large;
    while (l) {
        struct large *next = l->next;
        os_unmap((void *)base_of(l), l->map_size);
        l = next;
    }
    long fail_after = alloc_g.fail_after;
    memset(&alloc_g, 0, sizeof(alloc_g));
    mover_reset();
    alloc_g.fail_after = fail_after;
}

int alloc_options_apply(const struct alloc_options *o)
{
    if (options_check(o) != 0)
        return EINVAL;
    alloc_g.opt.compact_frag_threshold = o->compact_frag_threshold;
    alloc_g.opt.compact_min_reclaim = o->compact_min_reclaim;
    return 0;
}

void ensure_ready(void)
{
    if (!alloc_g.ready)
        (void)alloc_setup(NULL);
}
