/*
 * alloc/class.c: the size classes.
 *
 * A class is a slot size; every small request is rounded up to one. This
 * file holds the rule that generates the classes, the layout of an arena of
 * each class (how many slots fit after the header and the metadata, and
 * the bucket thresholds), the slow request -> class computation the lookup
 * table is filled from, and the public queries about classes. The hot
 * lookup itself (the byte table and class_of_geometric) is inline in
 * internal.h.
 *
 * It also holds what the classes are derived from: the options, the one
 * global state (alloc_g) every other file works on, and alloc_setup.
 * alloc_setup derives everything from the arena size: the alignment mask,
 * the header colours, the large-block threshold and the class table. It is
 * idempotent; alloc_block and the queries set up with the defaults when
 * nobody did (ensure_ready), which is why set-up sits here, below every
 * file that may call it; alloc_teardown (teardown.c) sits above them all.
 * The options are the rows of ALLOC_OPTIONS (alloc.h): the defaults and
 * the bounds checks are generated from them, so a row is the only place a
 * default or a bound is written. alloc_g.opt holds the options in force;
 * alloc_options_apply changes the run-time changeable ones (the compaction
 * thresholds, read by alloc_compact_wanted).
 *
 * Size classes
 *   0..15   8, 16, 24, ..., 128: 8-byte steps. Entries are small and their
 *           sizes dense here; a finer step than 8 would break 8-byte
 *           alignment, a coarser one would waste up to 15 bytes of a 24-byte
 *           entry.
 *   16..    geometric: each power-of-two interval (2^e, 2^(e+1)] is cut in
 *           16 equal steps of 2^(e-4) bytes: 136, 144, ..., 256, 272, 288,
 *           ... A request that lands just above a class boundary c wastes
 *           less than one step, i.e. less than c/16 of a slot of at least
 *           c + c/16 bytes: rounding waste stays below 1/17 of the slot
 *           (6.25 % of the request) everywhere above 128 bytes, and below
 *           8 bytes below it. Eight steps per doubling wasted 5.2 % of the
 *           slot bytes of issue 12's founding experiment (values of 16 to
 *           1584 bytes), sixteen halve that; the price is more classes,
 *           each with a partly filled last arena, which packing (compact.c)
 *           brings down to a few pages. Classes from 256 bytes up are
 *           multiples of 16, so those blocks are 16-byte aligned.
 *   The last class is arena_size / 8 (a power of two); larger requests are
 *   large blocks, since fewer than 8 slots per arena would waste too much of
 *   the arena tail. For the default 1 MiB arena there are 176 classes (336
 *   for the largest arena size, so an arena's class is 16 bits). The
 *   table is generated at alloc_setup() from that rule (class_size()); the
 *   lookup for requests up to 1024 bytes is a byte table indexed by
 *   (size + 7) / 8, above it a count-leading-zeros computation. Generated
 *   for arena_size = 1 MiB (slot size / slots per arena):
 *          8/116272     16/61556     24/41856     32/31710     40/25523     48/21356
 *          56/18358     64/16099     72/14335     80/12919     88/11757     96/10788
 *          104/9966     112/9260     120/8648     128/8112     136/7638     144/7216
 *          152/6839     160/6499     168/6192     176/5912     184/5656     192/5422
 *          200/5206     208/5006     216/4822     224/4650     232/4491     240/4342
 *          248/4202     256/4071     272/3833     288/3620     304/3430     320/3260
 *          336/3105     352/2964     368/2835     384/2718     400/2609     416/2509
 *          432/2416     448/2330     464/2250     480/2175     496/2105     512/2039
 *          544/1916     576/1810     608/1715     640/1629     672/1552     704/1482
 *          736/1417     768/1358     800/1304     832/1254     864/1208     896/1165
 *          928/1125     960/1087     992/1052    1024/1019     1088/960     1152/906
 *          1216/859     1280/816     1344/777     1408/742     1472/709     1536/680
 *          1600/653     1664/628     1728/604     1792/583     1856/563     1920/544
 *          1984/526     2048/510     2176/480     2304/453     2432/429     2560/408
 *          2688/388     2816/371     2944/355     3072/340     3200/326     3328/314
 *          3456/302     3584/291     3712/281     3840/272     3968/263     4096/255
 *          4352/240     4608/226     4864/215     5120/204     5376/194     5632/185
 *          5888/177     6144/170     6400/163     6656/157     6912/151     7168/145
 *          7424/140     7680/136     7936/131     8192/127     8704/120     9216/113
 *          9728/107    10240/102     10752/97     11264/92     11776/88     12288/85
 *          12800/81     13312/78     13824/75     14336/72     14848/70     15360/68
 *          15872/65     16384/63     17408/60     18432/56     19456/53     20480/51
 *          21504/48     22528/46     23552/44     24576/42     25600/40     26624/39
 *          27648/37     28672/36     29696/35     30720/34     31744/32     32768/31
 *          34816/30     36864/28     38912/26     40960/25     43008/24     45056/23
 *          47104/22     49152/21     51200/20     53248/19     55296/18     57344/18
 *          59392/17     61440/17     63488/16     65536/15     69632/15     73728/14
 *          77824/13     81920/12     86016/12     90112/11     94208/11     98304/10
 *         102400/10     106496/9     110592/9     114688/9     118784/8     122880/8
 *          126976/8     131072/7
 *   (tests/unit/alloc checks these numbers against alloc_class_stats).
 */
#include "alloc/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t class_size(unsigned i)
{
    if (i < LINEAR_CLASSES)
        return (size_t)(i + 1) * 8;
    unsigned k = i - LINEAR_CLASSES;
    unsigned e = 7 + k / GEO_STEPS;
    return (size_t)(GEO_STEPS + 1 + k % GEO_STEPS) << (e - GEO_SHIFT);
}

unsigned class_of_slow(size_t size)
{
    if (size <= LINEAR_MAX)
        return size == 0 ? 0 : (unsigned)((size + 7) / 8 - 1);
    return class_of_geometric(size);
}

/* The metadata follows the (coloured) header; the slot area starts after
 * the metadata of the largest colour. */
size_t layout_end(const struct size_class *c, size_t n, size_t *slots_off)
{
    size_t meta = (n + 63) / 64 * c->group_bytes;
    size_t slots = round_up(alloc_g.color_max + ARENA_HDR_SIZE + meta, SLOT_ALIGN);
    if (slots_off)
        *slots_off = slots;
    return slots + n * c->size;
}

void class_init(unsigned i)
{
    struct size_class *c = &alloc_g.cls[i];
    memset(c, 0, sizeof(*c));
    c->size = (uint32_t)class_size(i);
    size_t step = i == 0 ? 8 : c->size - class_size(i - 1);
    c->slack_bits = step <= 16 ? 4 : step <= 256 ? 8 : step <= 65536 ? 16 : 32;
    c->slack_log = (uint32_t)__builtin_ctz(c->slack_bits);
    c->group_bytes = round_up(8 + 8 * (size_t)c->slack_bits, 64);
    size_t a = alloc_g.opt.arena_size;
    /* Bits per slot: 8 * size + 1 (bitmap) + slack; start from that estimate
     * and correct for the roundings. */
    size_t n = (a - 256 - alloc_g.color_max) * 8 / (8 * (size_t)c->size + 1 + c->slack_bits);
    while (n > 1 && layout_end(c, n, NULL) > a)
        n--;
    while (layout_end(c, n + 1, NULL) <= a)
        n++;
    c->nslots = (uint32_t)n;
    layout_end(c, n, &c->slots_off);
    c->thr[0] = 1;
    for (unsigned b = 1; b < NB; b++)
        c->thr[b] = (uint32_t)((b * n + NB - 1) / NB);
    c->thr[NB] = (uint32_t)n;
    c->recip = c->size == 1 ? 0 : (uint64_t)(~(uint64_t)0 / c->size) + 1;
}

size_t class_live(const struct size_class *c)
{
    size_t n = 0;
    for (unsigned b = 0; b < ALLOC_BANDS; b++)
        n += c->blive[b];
    return n;
}

/* The classes [*from, *to) a class filter selects: every class when cls < 0,
 * else cls alone (none when it is out of range). */
void class_range(int cls, unsigned *from, unsigned *to)
{
    *from = cls < 0 ? 0 : (unsigned)cls;
    *to = cls < 0 ? alloc_g.nclasses : *from + 1;
    if (*to > alloc_g.nclasses)
        *to = alloc_g.nclasses;
}

unsigned alloc_class_count(void)
{
    ensure_ready();
    return alloc_g.nclasses;
}

size_t alloc_class_size(unsigned cls)
{
    ensure_ready();
    return cls < alloc_g.nclasses ? alloc_g.cls[cls].size : 0;
}

unsigned alloc_size_class(size_t size)
{
    ensure_ready();
    return size > alloc_g.large_max ? alloc_g.nclasses : class_of_slow(size);
}

/* ------------------------------------------------- options and set-up */

struct alloc_state alloc_g = {.fail_after = -1};
struct alloc_handle_map alloc_hmap;

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
    /* arena numbers: what is left of a handle's bits after the offset */
    alloc_hmap.shift = alloc_g.shift - 3;
    alloc_hmap.off_mask = ((uint32_t)1 << alloc_hmap.shift) - 1;
    alloc_g.numbers_cap = (uint32_t)1 << (ALLOC_HANDLE_BITS - alloc_hmap.shift);
    alloc_hmap.base = calloc(alloc_g.numbers_cap, sizeof(uintptr_t));
    if (alloc_hmap.base == NULL)
        return ENOMEM;
    alloc_g.numbers_end = 1;
    alloc_g.number_free = 0;
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
    os_release_setup();
    A_VERIFY("after setup");
    return 0;
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
