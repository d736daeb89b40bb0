/*
 * alloc: where entry memory comes from.
 *
 * The keyspace stores every entry (header, key and value) as one contiguous
 * block obtained here. This is the only interface through which it gets
 * entry memory, so that the allocator underneath can be swapped (plain
 * malloc first, then pooled size-class arenas) without touching callers.
 *
 * alloc knows nothing about keys, the network or the protocol. It is not
 * thread-safe: the daemon calls it from its single event-loop thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lifetime hint for a block. Blocks with the same band are placed together
 * so that they tend to die together: band 0 is "no expiry", higher bands are
 * shorter or longer remaining lifetimes as chosen by the caller. */
#define ALLOC_BANDS 8

struct alloc_options {
    size_t arena_size;       /* bytes per arena; power of two */
    unsigned arena_retain;   /* empty arenas kept mapped for reuse */
};

void alloc_options_default(struct alloc_options *opt);

/* Idempotent; returns 0 or an errno. */
int alloc_setup(const struct alloc_options *opt);
void alloc_teardown(void);

/*
 * Returns a block of at least size bytes, aligned to 8, or NULL with errno
 * set (ENOMEM) when memory cannot be obtained. Never aborts.
 */
void *alloc_block(size_t size, unsigned band);

/* Releases a block obtained from alloc_block. NULL is ignored. */
void alloc_free(void *p);

/* Usable size of a live block (>= the size it was requested with). */
size_t alloc_usable(const void *p);

struct alloc_stats {
    size_t live_blocks;    /* blocks handed out and not freed */
    size_t live_bytes;     /* sum of requested sizes of live blocks */
    size_t slot_bytes;     /* sum of usable sizes of live blocks */
    size_t mapped_bytes;   /* bytes the allocator holds from the OS */
    uint64_t alloc_failures;
};

void alloc_stats(struct alloc_stats *st);

/* Walks every internal structure and checks its invariants; returns true if
 * all hold. Cheap enough for tests to call after each batch of operations. */
bool alloc_verify(void);
