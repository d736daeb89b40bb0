/*
 * Placeholder allocator: malloc with byte accounting. It exists so that the
 * keyspace is written against alloc.h from day one; the pooled arena
 * allocator replaces this file without changing the interface.
 */
#include "alloc/alloc.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

static struct alloc_stats stats;

void alloc_options_default(struct alloc_options *opt)
{
    opt->arena_size = 1u << 20;
    opt->arena_retain = 4;
}

int alloc_setup(const struct alloc_options *opt)
{
    (void)opt;
    return 0;
}

void alloc_teardown(void) {}

/* The requested size is kept in front of the block so that live_bytes can be
 * maintained on free. */
void *alloc_block(size_t size, unsigned band)
{
    (void)band;
    size_t *p = malloc(size + sizeof(size_t));
    if (p == NULL) {
        stats.alloc_failures++;
        errno = ENOMEM;
        return NULL;
    }
    p[0] = size;
    stats.live_blocks++;
    stats.live_bytes += size;
    stats.slot_bytes += malloc_usable_size(p) - sizeof(size_t);
    stats.mapped_bytes = stats.slot_bytes;
    return p + 1;
}

void alloc_free(void *q)
{
    if (q == NULL)
        return;
    size_t *p = (size_t *)q - 1;
    stats.live_blocks--;
    stats.live_bytes -= p[0];
    stats.slot_bytes -= malloc_usable_size(p) - sizeof(size_t);
    stats.mapped_bytes = stats.slot_bytes;
    free(p);
}

size_t alloc_usable(const void *q)
{
    return malloc_usable_size((size_t *)q - 1) - sizeof(size_t);
}

void alloc_stats(struct alloc_stats *st)
{
    *st = stats;
}

bool alloc_verify(void)
{
    return stats.live_bytes <= stats.slot_bytes;
}
